// Helpers shared by the memory tests: host-side buffers with any shape and
// strides, and short-lived access to the runtime's Device for internal checks.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"

namespace memtest {

inline halide_type_t u8() { return halide_type_t(halide_type_uint, 8, 1); }
inline halide_type_t u16() { return halide_type_t(halide_type_uint, 16, 1); }
inline halide_type_t i32() { return halide_type_t(halide_type_int, 32, 1); }
inline halide_type_t f32() { return halide_type_t(halide_type_float, 32, 1); }
inline halide_type_t u64() { return halide_type_t(halide_type_uint, 64, 1); }

// A halide_buffer_t with its own dims and (optionally) host storage. Strides
// default to dense; a negative stride is allowed, and `host` then points at
// the min-coordinate element inside the storage as Halide requires.
struct Buf {
    std::vector<halide_dimension_t> dims;
    std::vector<uint8_t> storage;
    halide_buffer_t b{};

    Buf(halide_type_t t, std::vector<int> extents, std::vector<int> strides = {}, std::vector<int> mins = {},
        bool with_host = true) {
        const size_t n = extents.size();
        dims.resize(n);
        int64_t dense = 1;
        for (size_t i = 0; i < n; i++) {
            dims[i].min = mins.empty() ? 0 : mins[i];
            dims[i].extent = extents[i];
            dims[i].stride = strides.empty() ? int32_t(dense) : strides[i];
            dims[i].flags = 0;
            dense = int64_t(uint64_t(dense) * uint64_t(int64_t(extents[i])));  // wraps for bad-input shapes (no UB)
        }
        b.type = t;
        b.dimensions = int32_t(n);
        b.dim = n ? dims.data() : nullptr;
        if (with_host) {
            storage.assign(b.size_in_bytes() ? b.size_in_bytes() : 1, 0);
            b.host = storage.data() - b.begin_offset() * t.bytes();
        }
    }
    Buf(const Buf &) = delete;
    Buf &operator=(const Buf &) = delete;

    // A crop of this buffer's shape (same strides, same host storage).
    void crop_from(const Buf &parent, std::vector<int> mins, std::vector<int> extents) {
        b.type = parent.b.type;
        dims = parent.dims;
        int64_t off = 0;
        for (size_t i = 0; i < dims.size(); i++) {
            off += int64_t(mins[i] - parent.dims[i].min) * parent.dims[i].stride;
            dims[i].min = mins[i];
            dims[i].extent = extents[i];
        }
        b.dimensions = int32_t(dims.size());
        b.dim = dims.data();
        b.host = parent.b.host ? parent.b.host + off * parent.b.type.bytes() : nullptr;
        b.device = 0;
        b.device_interface = nullptr;
        b.flags = 0;
    }

    void fill(uint32_t seed) {
        for (size_t i = 0; i < storage.size(); i++) {
            storage[i] = uint8_t((i * 131 + seed * 7 + (i >> 8)) & 0xFF);
        }
    }
};

inline const halide_device_interface_t *vk() { return halide_vulkan_device_interface(); }

}  // namespace memtest
