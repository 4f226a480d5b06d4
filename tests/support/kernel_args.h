// halide_vulkan_run's argument arrays, built as Halide's generated code
// builds them: a size, a pointer and an is-buffer flag per argument
// (buffers as halide_buffer_t *, scalars by value in a slot of their own),
// terminated by a zero size.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"

namespace hvk_test {

struct KernelArgs {
    std::vector<size_t> sizes;
    std::vector<void *> ptrs;
    std::vector<int8_t> is_buffer;
    std::deque<uint64_t> storage;  // scalar slots; a deque never moves them

    KernelArgs &buffer(halide_buffer_t *b) {
        sizes.push_back(8);
        ptrs.push_back(b);
        is_buffer.push_back(1);
        return *this;
    }
    template <typename T>
    KernelArgs &scalar(T v) {
        static_assert(sizeof(T) <= sizeof(uint64_t), "a scalar argument fits in 8 bytes");
        storage.push_back(0);
        std::memcpy(&storage.back(), &v, sizeof(T));
        sizes.push_back(sizeof(T));
        ptrs.push_back(&storage.back());
        is_buffer.push_back(0);
        return *this;
    }
    // Appends the terminating entry (run() does it itself).
    void terminate() {
        sizes.push_back(0);
        ptrs.push_back(nullptr);
        is_buffer.push_back(0);
    }
    // Terminates the lists and calls halide_vulkan_run with them.
    int run(void *state, const char *entry, int bx, int by, int bz, int tx, int ty, int tz, int shared) {
        terminate();
        return halide_vulkan_run(nullptr, state, entry, bx, by, bz, tx, ty, tz, shared, sizes.data(), ptrs.data(),
                                 is_buffer.data());
    }
};

}  // namespace hvk_test
