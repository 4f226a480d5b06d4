// The copy plan: what every copy between two halide_buffer_t boxes does,
// as plain loops of byte offsets. It knows nothing about Vulkan.
//
// A plan covers the intersection of the source's and the destination's
// boxes (each dimension clipped to the true overlap, so partially
// overlapping boxes are safe), as nested loops of byte strides in both
// buffers around a contiguous run. Dimensions of extent 1 and
// destination-stride-0 dimensions are dropped, negative destination strides
// are flipped, the rest are sorted by destination stride and merged where
// contiguous in both buffers.
//
// The same plan drives every path (vulkan/memory/copy_job.h), which is why
// there is only ONE staging layout: staging holds the runs packed back to
// back in plan order, whatever the two buffers' shapes and strides are (no
// source/destination layout mismatch, spec 08 item 3). walk_plan() yields
// each run with its offset in that packed layout.
#pragma once

#include <cstdint>

#include "HalideRuntime.h"

namespace hvk {

constexpr int kMaxCopyDims = 16;

struct CopyPlan {
    int64_t src_offset = 0;  // bytes from the source's origin to the first copied byte
    int64_t dst_offset = 0;  // same for the destination
    uint64_t run = 0;        // contiguous bytes per innermost run
    int dims = 0;            // loops, innermost first
    int64_t extent[kMaxCopyDims] = {};
    int64_t src_stride[kMaxCopyDims] = {};
    int64_t dst_stride[kMaxCopyDims] = {};
    uint64_t total = 0;      // bytes copied
};

// Checks the shape of one buffer (`name` for messages). 0 or a reported
// error with `code`.
int check_copy_shape(void *uc, int code, const char *where, const char *name, const halide_buffer_t *b);

// Element offset of a buffer's lowest byte from its host pointer (<= 0).
int64_t begin_elements(const halide_buffer_t *b);

// Builds the plan for copying the intersection of src's and dst's boxes
// (total 0 when they do not intersect). 0 or a reported error with `code`.
int make_plan(void *uc, int code, const char *where, const halide_buffer_t *src, const halide_buffer_t *dst,
              CopyPlan *p);

// Byte range [lo, hi) a plan touches on one side, relative to that side's origin.
void plan_range(const CopyPlan &p, bool src_side, int64_t *lo, int64_t *hi);

// Position inside a plan: loop counters, running offsets, progress in the
// current run. Plain data, so a piece's start can be saved and replayed.
struct PlanCursor {
    int64_t idx[kMaxCopyDims] = {};
    int64_t src = 0;  // offset of the current run
    int64_t dst = 0;
    uint64_t within = 0;  // bytes of the current run already consumed
    uint64_t done = 0;    // bytes consumed in total

    explicit PlanCursor(const CopyPlan &p) : src(p.src_offset), dst(p.dst_offset) {}
};

// Calls fn(src_offset, dst_offset, length, packed_offset) for the next
// `budget` bytes of the plan (runs split at the budget), advancing `c`.
// Inline: it is every copy's inner loop, and fn is a lambda to inline.
template <typename Fn>
inline void walk_plan(const CopyPlan &p, PlanCursor &c, uint64_t budget, Fn &&fn) {
    uint64_t packed = 0;
    while (budget > 0 && c.done < p.total) {
        uint64_t len = p.run - c.within;
        if (len > budget) {
            len = budget;
        }
        fn(c.src + int64_t(c.within), c.dst + int64_t(c.within), len, packed);
        packed += len;
        budget -= len;
        c.done += len;
        c.within += len;
        if (c.within == p.run) {
            c.within = 0;
            for (int i = 0; i < p.dims; i++) {
                c.src += p.src_stride[i];
                c.dst += p.dst_stride[i];
                if (++c.idx[i] < p.extent[i]) {
                    break;
                }
                c.src -= p.src_stride[i] * p.extent[i];
                c.dst -= p.dst_stride[i] * p.extent[i];
                c.idx[i] = 0;
            }
        }
    }
}

}  // namespace hvk
