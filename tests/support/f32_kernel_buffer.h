// What the tests that run the project's kernels from many threads share: a
// 1-D float buffer (or a crop of one) through the public C ABI, the
// k_scale_f32 launch as generated code makes it, and sizes read from the
// environment (one binary serves the default suite and the stress suite).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"

namespace hvk_test {

// $name as a positive integer, or `fallback` when unset, empty or not > 0.
inline int env_int(const char *name, int fallback) {
    const char *v = std::getenv(name);
    if (v == nullptr || *v == '\0') {
        return fallback;
    }
    int n = std::atoi(v);
    return n > 0 ? n : fallback;
}

// A 1-D float buffer (host storage owned here unless it is a crop). Frees
// its device side on destruction: a crop through release_crop.
struct F32Buf {
    std::vector<float> storage;
    halide_dimension_t dim{};
    halide_buffer_t buf{};

    explicit F32Buf(int n) : storage(size_t(n), 0.0f) {
        dim = {0, n, 1, 0};
        buf.host = reinterpret_cast<uint8_t *>(storage.data());
        buf.dim = &dim;
        buf.dimensions = 1;
        buf.type = halide_type_t(halide_type_float, 32, 1);
    }
    // A crop [offset, offset + n) of `parent` (parent coordinates).
    F32Buf(const halide_buffer_t &parent, int offset, int n) {
        dim = {parent.dim[0].min + offset, n, 1, 0};
        buf.host = parent.host + size_t(offset) * sizeof(float);
        buf.dim = &dim;
        buf.dimensions = 1;
        buf.type = parent.type;
    }
    ~F32Buf() {
        if (buf.device != 0) {
            if (storage.empty()) {
                halide_device_release_crop(nullptr, &buf);
            } else {
                halide_device_free(nullptr, &buf);
            }
        }
    }
    F32Buf(const F32Buf &) = delete;
    F32Buf &operator=(const F32Buf &) = delete;
    float *data() { return reinterpret_cast<float *>(buf.host); }
    int n() const { return dim.extent; }
    int upload() {
        buf.flags |= 1;  // host dirty
        return halide_copy_to_device(nullptr, &buf, halide_vulkan_device_interface());
    }
    int download() {
        buf.flags |= 2;  // device dirty
        return halide_copy_to_host(nullptr, &buf);
    }
};

// k_scale_f32 (hvk_blob_basic) from state slot `slot`: out[x] = in[x] *
// scale + bias for x < n (work-group 64).
inline int run_scale_f32(void *slot, halide_buffer_t *out, halide_buffer_t *in, float scale, float bias, int n) {
    int32_t count = n;
    size_t sizes[] = {8, 8, 4, 4, 4, 0};
    void *args[] = {out, in, &scale, &bias, &count, nullptr};
    int8_t is_buffer[] = {1, 1, 0, 0, 0, 0};
    return halide_vulkan_run(nullptr, slot, "k_scale_f32", (n + 63) / 64, 1, 1, 64, 1, 1, 0, sizes, args,
                             is_buffer);
}

}  // namespace hvk_test
