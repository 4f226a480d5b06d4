// The copy plan (vulkan/memory/copy_plan.h): box intersection, then the
// loops sorted and merged.
#include "vulkan/memory/copy_plan.h"

#include "common/report.h"

namespace hvk {
namespace {

struct LoopDim {
    int64_t extent, src_stride, dst_stride;
};

// Clips every dimension to the boxes' overlap, adding the clipped starts to
// the plan's offsets, and lists the loops left (extent > 1, destination
// stride != 0) in dims[0..*n). False when the intersection is empty.
bool intersect_boxes(const halide_buffer_t *src, const halide_buffer_t *dst, int64_t elem, CopyPlan *p,
                     LoopDim *dims, int *n) {
    *n = 0;
    for (int i = 0; i < src->dimensions; i++) {
        const halide_dimension_t &s = src->dim[i];
        const halide_dimension_t &d = dst->dim[i];
        const int64_t lo = s.min > d.min ? s.min : d.min;
        const int64_t s_hi = int64_t(s.min) + s.extent;
        const int64_t d_hi = int64_t(d.min) + d.extent;
        const int64_t hi = s_hi < d_hi ? s_hi : d_hi;
        if (hi <= lo) {
            return false;  // empty intersection: nothing to copy
        }
        p->src_offset += (lo - s.min) * int64_t(s.stride) * elem;
        p->dst_offset += (lo - d.min) * int64_t(d.stride) * elem;
        const int64_t extent = hi - lo;
        if (extent == 1 || d.stride == 0) {
            continue;  // one position (every destination index is the same byte)
        }
        dims[(*n)++] = LoopDim{extent, int64_t(s.stride) * elem, int64_t(d.stride) * elem};
    }
    return true;
}

// Walk every destination dimension forwards (same pairs of elements).
void flip_negative_strides(CopyPlan *p, LoopDim *dims, int n) {
    for (int i = 0; i < n; i++) {
        if (dims[i].dst_stride < 0) {
            p->src_offset += (dims[i].extent - 1) * dims[i].src_stride;
            p->dst_offset += (dims[i].extent - 1) * dims[i].dst_stride;
            dims[i].src_stride = -dims[i].src_stride;
            dims[i].dst_stride = -dims[i].dst_stride;
        }
    }
}

// Insertion sort by destination stride (stable; n <= 16).
void sort_by_destination_stride(LoopDim *dims, int n) {
    for (int i = 1; i < n; i++) {
        LoopDim x = dims[i];
        int j = i - 1;
        while (j >= 0 && dims[j].dst_stride > x.dst_stride) {
            dims[j + 1] = dims[j];
            j--;
        }
        dims[j + 1] = x;
    }
}

// Merge a dimension into the previous (inner) one where contiguous in both.
// Returns the number of dimensions left.
int merge_contiguous(LoopDim *dims, int n) {
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m > 0) {
            LoopDim &inner = dims[m - 1];
            if (inner.src_stride * inner.extent == dims[i].src_stride &&
                inner.dst_stride * inner.extent == dims[i].dst_stride) {
                inner.extent *= dims[i].extent;
                continue;
            }
        }
        dims[m++] = dims[i];
    }
    return m;
}

// The innermost dimension becomes the run when contiguous in both buffers;
// the others become the plan's loops.
void set_loops(const LoopDim *dims, int m, int64_t elem, CopyPlan *p) {
    int first = 0;
    p->run = uint64_t(elem);
    if (m > 0 && dims[0].src_stride == elem && dims[0].dst_stride == elem) {
        p->run = uint64_t(dims[0].extent * elem);
        first = 1;
    }
    p->dims = m - first;
    uint64_t total = p->run;
    for (int i = 0; i < p->dims; i++) {
        p->extent[i] = dims[first + i].extent;
        p->src_stride[i] = dims[first + i].src_stride;
        p->dst_stride[i] = dims[first + i].dst_stride;
        total *= uint64_t(p->extent[i]);
    }
    p->total = total;
}

}  // namespace

int check_copy_shape(void *uc, int code, const char *where, const char *name, const halide_buffer_t *b) {
    if (b->dimensions < 0 || b->dimensions > kMaxCopyDims) {
        return report_error(uc, code, where, "%s has %d dimensions (supported: 0 to %d)", name, int(b->dimensions),
                            kMaxCopyDims);
    }
    if (b->dimensions > 0 && b->dim == nullptr) {
        return report_error(uc, code, where, "%s has %d dimensions but a null dim array", name, int(b->dimensions));
    }
    for (int i = 0; i < b->dimensions; i++) {
        if (b->dim[i].extent < 0) {
            return report_error(uc, code, where, "%s has a negative extent (%d) in dimension %d", name,
                                int(b->dim[i].extent), i);
        }
    }
    const int bytes = b->type.bytes();
    if (bytes <= 0) {
        return report_error(uc, code, where, "%s has an element type of zero bytes", name);
    }
    return 0;
}

int64_t begin_elements(const halide_buffer_t *b) {
    int64_t off = 0;
    for (int i = 0; i < b->dimensions; i++) {
        const int64_t stride = b->dim[i].stride;
        const int64_t extent = b->dim[i].extent;
        if (stride < 0 && extent > 0) {
            off += stride * (extent - 1);
        }
    }
    return off;
}

int make_plan(void *uc, int code, const char *where, const halide_buffer_t *src, const halide_buffer_t *dst,
              CopyPlan *p) {
    *p = CopyPlan{};
    if (src->dimensions != dst->dimensions) {
        return report_error(uc, code, where, "source and destination have different dimensionality (%d vs %d)",
                            int(src->dimensions), int(dst->dimensions));
    }
    const int64_t elem = src->type.bytes();
    if (elem != int64_t(dst->type.bytes())) {
        return report_error(uc, code, where, "source and destination have different element sizes (%d vs %d bytes)",
                            int(elem), int(dst->type.bytes()));
    }
    LoopDim dims[kMaxCopyDims];
    int n = 0;
    if (!intersect_boxes(src, dst, elem, p, dims, &n)) {
        return 0;  // total stays 0
    }
    flip_negative_strides(p, dims, n);
    sort_by_destination_stride(dims, n);
    set_loops(dims, merge_contiguous(dims, n), elem, p);
    return 0;
}

void plan_range(const CopyPlan &p, bool src_side, int64_t *lo, int64_t *hi) {
    int64_t a = src_side ? p.src_offset : p.dst_offset;
    int64_t b = a;
    for (int i = 0; i < p.dims; i++) {
        const int64_t step = (src_side ? p.src_stride[i] : p.dst_stride[i]) * (p.extent[i] - 1);
        if (step < 0) {
            a += step;
        } else {
            b += step;
        }
    }
    *lo = a;
    *hi = b + int64_t(p.run);
}

}  // namespace hvk
