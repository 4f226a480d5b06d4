// Host-side test buffers of any shape: a halide_buffer_t over storage the
// test owns, with chosen dimension order, stride signs and row padding, and
// a walk over every coordinate of a box. Only HalideRuntime.h is needed.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "HalideRuntime.h"

namespace hvk_test {

// A host buffer with its own storage. `order` lists dimensions innermost
// first in memory; `sign` flips strides; `pad` adds elements after each
// innermost row.
struct StridedBuffer {
    std::vector<uint8_t> storage;
    std::vector<halide_dimension_t> dims;
    halide_buffer_t buf{};

    StridedBuffer(halide_type_t type, std::vector<int> mins, std::vector<int> extents, std::vector<int> order = {},
                  std::vector<int> sign = {}, int pad = 0) {
        const int n = int(extents.size());
        if (order.empty()) {
            for (int i = 0; i < n; i++) {
                order.push_back(i);
            }
        }
        if (sign.empty()) {
            sign.assign(size_t(n), 1);
        }
        dims.resize(size_t(n));
        int64_t stride = 1;
        for (int k = 0; k < n; k++) {
            const size_t d = size_t(order[size_t(k)]);
            dims[d].min = mins[d];
            dims[d].extent = extents[d];
            dims[d].stride = int32_t(stride * sign[d]);
            dims[d].flags = 0;
            stride *= extents[d];
            if (k == 0) {
                stride += pad;
            }
        }
        buf.type = type;
        buf.dimensions = n;
        buf.dim = dims.data();
        storage.assign(buf.size_in_bytes(), 0);
        buf.host = storage.data() - buf.begin_offset() * int64_t(type.bytes());
    }
    StridedBuffer(const StridedBuffer &) = delete;
    StridedBuffer &operator=(const StridedBuffer &) = delete;

    uint8_t *at(const std::vector<int> &pos) { return buf.address_of(pos.data()); }
    void fill(uint32_t seed) {
        std::mt19937 rng(seed);
        for (auto &x : storage) {
            x = uint8_t(rng());
        }
    }
    std::vector<int> mins() const {
        std::vector<int> v;
        for (auto &d : dims) {
            v.push_back(d.min);
        }
        return v;
    }
    std::vector<int> extents() const {
        std::vector<int> v;
        for (auto &d : dims) {
            v.push_back(d.extent);
        }
        return v;
    }
};

// Calls fn for every coordinate of the box (mins, extents), innermost first.
template <typename Fn>
void for_each_coord(const std::vector<int> &mins, const std::vector<int> &extents, Fn fn) {
    for (int e : extents) {
        if (e <= 0) {
            return;
        }
    }
    std::vector<int> pos = mins;
    for (;;) {
        fn(pos);
        size_t d = 0;
        while (d < pos.size()) {
            if (++pos[d] < mins[d] + extents[d]) {
                break;
            }
            pos[d] = mins[d];
            d++;
        }
        if (d == pos.size()) {
            return;
        }
    }
}

}  // namespace hvk_test
