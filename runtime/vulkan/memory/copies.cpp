// halide_vulkan_copy_to_device, halide_vulkan_copy_to_host,
// halide_vulkan_buffer_copy and halide_vulkan_device_sync.
//
// Every copy is described by one plan: the intersection of the source's and
// the destination's boxes (each dimension clipped to the true overlap, so
// partially overlapping boxes are safe), as nested loops of byte strides in
// both buffers around a contiguous run. Dimensions of extent 1 and
// destination-stride-0 dimensions are dropped, negative destination strides
// are flipped, the rest are sorted by destination stride and merged where
// contiguous in both buffers.
//
// The same plan drives every path, which is why there is only ONE staging
// layout: staging holds the runs packed back to back in plan order, whatever
// the two buffers' shapes and strides are (no source/destination layout
// mismatch, spec 08 item 3).
//
// Paths (Device::mutex held throughout):
//  * host <-> host-visible Owned region (try_map_region: waits for queued
//    GPU work on the root): memcpy through the arena's persistent mapping,
//    flushing/invalidating non-coherent memory. Used for uploads into any
//    host-visible memory and for readbacks only from HOST_CACHED memory.
//  * host -> device otherwise (wrapped buffers, device-only memory): pieces
//    of at most Staging::kMaxPiece bytes are packed into the upload ring and
//    copied by one vkCmdCopyBuffer per piece (up to kRegionCapacity regions
//    per command) recorded into the open batch after a barrier, so queued
//    kernels that read the old contents run first. The batch is submitted
//    (not waited for); the ring keeps each piece until its batch completes.
//  * device -> host otherwise: the GPU copies pieces into the readback ring;
//    two pieces are in flight so that unpacking one overlaps the GPU's copy
//    of the next. The open batch (with any queued kernels) is submitted first.
//  * device -> device: regions recorded into the open batch, submitted
//    without waiting; copies within one VkBuffer whose byte ranges overlap
//    bounce through the upload ring when they fit one piece, otherwise
//    through a scratch Owned region that holds the whole packed source.
#include <atomic>
#include <cstring>
#include <mutex>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "vulkan/memory/arena.h"
#include "vulkan/context/context_scope.h"
#include "vulkan/memory/memory_state.h"
#include "vulkan/memory/region_table.h"
#include "common/report.h"
#include "vulkan/memory/staging.h"
#include "vulkan/submit/submitter.h"

namespace hvk {
namespace {

constexpr int kMaxDims = 16;
constexpr int kCopyToHostFailed = -14;
constexpr int kCopyToDeviceFailed = -15;
constexpr int kDeviceSyncFailed = -17;
constexpr int kBadDimensions = -6;
constexpr int kDeviceBufferCopyFailed = -39;
constexpr int kIncompatibleDeviceInterface = -42;

std::atomic<bool> g_force_staging{false};
std::atomic<uint64_t> g_piece_override{0};

// ---------------------------------------------------------------------------
// The copy plan.

struct Plan {
    int64_t src_offset = 0;  // bytes from the source's origin to the first copied byte
    int64_t dst_offset = 0;  // same for the destination
    uint64_t run = 0;        // contiguous bytes per innermost run
    int dims = 0;            // loops, innermost first
    int64_t extent[kMaxDims] = {};
    int64_t src_stride[kMaxDims] = {};
    int64_t dst_stride[kMaxDims] = {};
    uint64_t total = 0;      // bytes copied
};

struct LoopDim {
    int64_t extent, src_stride, dst_stride;
};

// Checks the shape of one buffer. 0 or a reported error.
int check_shape(void *uc, int code, const char *where, const char *name, const halide_buffer_t *b) {
    if (b->dimensions < 0 || b->dimensions > kMaxDims) {
        return report_error(uc, code, where, "%s has %d dimensions (supported: 0 to %d)", name, int(b->dimensions),
                            kMaxDims);
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

// Element offset of a buffer's lowest byte from its host pointer (<= 0).
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

// Builds the plan for copying the intersection of src's and dst's boxes.
int make_plan(void *uc, int code, const char *where, const halide_buffer_t *src, const halide_buffer_t *dst,
              Plan *p) {
    *p = Plan{};
    if (src->dimensions != dst->dimensions) {
        return report_error(uc, code, where, "source and destination have different dimensionality (%d vs %d)",
                            int(src->dimensions), int(dst->dimensions));
    }
    const int64_t elem = src->type.bytes();
    if (elem != int64_t(dst->type.bytes())) {
        return report_error(uc, code, where, "source and destination have different element sizes (%d vs %d bytes)",
                            int(elem), int(dst->type.bytes()));
    }
    LoopDim dims[kMaxDims];
    int n = 0;
    for (int i = 0; i < src->dimensions; i++) {
        const halide_dimension_t &s = src->dim[i];
        const halide_dimension_t &d = dst->dim[i];
        const int64_t lo = s.min > d.min ? s.min : d.min;
        const int64_t s_hi = int64_t(s.min) + s.extent;
        const int64_t d_hi = int64_t(d.min) + d.extent;
        const int64_t hi = s_hi < d_hi ? s_hi : d_hi;
        if (hi <= lo) {
            return 0;  // empty intersection: nothing to copy
        }
        p->src_offset += (lo - s.min) * int64_t(s.stride) * elem;
        p->dst_offset += (lo - d.min) * int64_t(d.stride) * elem;
        const int64_t extent = hi - lo;
        if (extent == 1 || d.stride == 0) {
            continue;  // one position (every destination index is the same byte)
        }
        dims[n++] = LoopDim{extent, int64_t(s.stride) * elem, int64_t(d.stride) * elem};
    }
    // Walk every destination dimension forwards (same pairs of elements).
    for (int i = 0; i < n; i++) {
        if (dims[i].dst_stride < 0) {
            p->src_offset += (dims[i].extent - 1) * dims[i].src_stride;
            p->dst_offset += (dims[i].extent - 1) * dims[i].dst_stride;
            dims[i].src_stride = -dims[i].src_stride;
            dims[i].dst_stride = -dims[i].dst_stride;
        }
    }
    // Insertion sort by destination stride (stable; n <= 16).
    for (int i = 1; i < n; i++) {
        LoopDim x = dims[i];
        int j = i - 1;
        while (j >= 0 && dims[j].dst_stride > x.dst_stride) {
            dims[j + 1] = dims[j];
            j--;
        }
        dims[j + 1] = x;
    }
    // Merge a dimension into the previous (inner) one where contiguous in both.
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
    return 0;
}

// Byte range [lo, hi) a plan touches on one side, relative to that side's origin.
void plan_range(const Plan &p, bool src_side, int64_t *lo, int64_t *hi) {
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

// Position inside a plan: loop counters, running offsets, progress in the
// current run. Plain data, so a piece's start can be saved and replayed.
struct Cursor {
    int64_t idx[kMaxDims] = {};
    int64_t src = 0;  // offset of the current run
    int64_t dst = 0;
    uint64_t within = 0;  // bytes of the current run already consumed
    uint64_t done = 0;    // bytes consumed in total

    explicit Cursor(const Plan &p) : src(p.src_offset), dst(p.dst_offset) {}
};

// Calls fn(src_offset, dst_offset, length, packed_offset) for the next
// `budget` bytes of the plan (runs split at the budget), advancing `c`.
template <typename Fn>
void walk(const Plan &p, Cursor &c, uint64_t budget, Fn &&fn) {
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

// Collects vkCmdCopyBuffer regions into the staging scratch array, merging
// runs that continue the previous one in both buffers.
class RegionSink {
public:
    RegionSink(Device *d, VkCommandBuffer cb, VkBuffer src, VkBuffer dst, VkBufferCopy *regions)
        : d_(d), cb_(cb), src_(src), dst_(dst), regions_(regions) {}
    ~RegionSink() { flush(); }
    void add(VkDeviceSize src_offset, VkDeviceSize dst_offset, VkDeviceSize size) {
        if (n_ > 0) {
            VkBufferCopy &last = regions_[n_ - 1];
            if (last.srcOffset + last.size == src_offset && last.dstOffset + last.size == dst_offset) {
                last.size += size;
                return;
            }
        }
        if (n_ == Staging::kRegionCapacity) {
            flush();
        }
        regions_[n_++] = VkBufferCopy{src_offset, dst_offset, size};
    }
    void flush() {
        if (n_ > 0) {
            d_->vk.vkCmdCopyBuffer(cb_, src_, dst_, n_, regions_);
            n_ = 0;
        }
    }

private:
    Device *d_;
    VkCommandBuffer cb_;
    VkBuffer src_, dst_;
    VkBufferCopy *regions_;
    uint32_t n_ = 0;
};

// ---------------------------------------------------------------------------
// Executing a plan.

// One side of a copy: host memory, or a device buffer (resolved again before
// every recording, which stamps its root with the open batch's serial).
struct Side {
    const halide_buffer_t *buf = nullptr;
    bool device = false;
    uint8_t *host = nullptr;  // host side: address of the element at the mins
    int64_t origin = 0;       // device side: bytes from device byte 0 to the element at the mins
};

Side host_side(const halide_buffer_t *b) {
    Side s;
    s.buf = b;
    s.host = b->host;
    return s;
}

Side device_side(const halide_buffer_t *b) {
    Side s;
    s.buf = b;
    s.device = true;
    s.origin = -begin_elements(b) * int64_t(b->type.bytes());
    return s;
}

class CopyJob {
public:
    CopyJob(void *uc, Device *d, Submitter *s, int code, const char *where, const Plan &plan)
        : uc_(uc), d_(d), s_(s), code_(code), where_(where), p_(plan) {}

    int run(const Side &src, const Side &dst) {
        if (p_.total == 0) {
            return 0;
        }
        if (!src.device && !dst.device) {
            walk_all([&](int64_t so, int64_t dof, uint64_t len, uint64_t) {
                std::memmove(dst.host + dof, src.host + so, len);
            });
            return 0;
        }
        if (!src.device) {
            MappedRegion m{};
            if (!g_force_staging.load(std::memory_order_relaxed) && try_map_region(uc_, d_, dst.buf, &m) == 0) {
                return upload_mapped(src, dst, m);
            }
            return upload_staged(src, dst);
        }
        if (!dst.device) {
            MappedRegion m{};
            // Only cached memory is fast to read through a mapping (uncached
            // reads of BAR memory over PCIe are not); try_map_region waits
            // for the root's queued work, so don't call it needlessly.
            if (!g_force_staging.load(std::memory_order_relaxed) && any_host_cached_type() &&
                try_map_region(uc_, d_, src.buf, &m) == 0) {
                if ((m.memory_flags & VK_MEMORY_PROPERTY_HOST_CACHED_BIT) != 0) {
                    return download_mapped(src, dst, m);
                }
                unmap_region(d_, m);
            }
            return download_staged(src, dst);
        }
        return device_to_device(src, dst);
    }

private:
    template <typename Fn>
    void walk_all(Fn &&fn) {
        Cursor c(p_);
        walk(p_, c, p_.total, fn);
    }

    bool any_host_cached_type() const {
        // Cheap pre-check: with no cached host-visible type, never map for
        // reading (and never wait in try_map_region for nothing).
        const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
        bool any = false;
        for (uint32_t i = 0; i < d_->memory_properties.memoryTypeCount; i++) {
            if ((d_->memory_properties.memoryTypes[i].propertyFlags & want) == want) {
                any = true;
            }
        }
        return any;
    }

    int upload_mapped(const Side &src, const Side &dst, const MappedRegion &m) {
        uint8_t *base = m.ptr + dst.origin;
        walk_all([&](int64_t so, int64_t dof, uint64_t len, uint64_t) { std::memcpy(base + dof, src.host + so, len); });
        int rc = 0;
        if ((m.memory_flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) == 0) {
            int64_t lo, hi;
            plan_range(p_, false, &lo, &hi);
            Arena *arena = d_->arena;
            rc = arena->flush(uc_, *m.allocation, m.allocation_offset + uint64_t(dst.origin + lo), uint64_t(hi - lo));
        }
        unmap_region(d_, m);
        return rc != 0 ? code_ : 0;
    }

    int download_mapped(const Side &src, const Side &dst, const MappedRegion &m) {
        int rc = 0;
        if ((m.memory_flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) == 0) {
            int64_t lo, hi;
            plan_range(p_, true, &lo, &hi);
            Arena *arena = d_->arena;
            rc = arena->invalidate(uc_, *m.allocation, m.allocation_offset + uint64_t(src.origin + lo),
                                   uint64_t(hi - lo));
        }
        if (rc == 0) {
            const uint8_t *base = m.ptr + src.origin;
            walk_all(
                [&](int64_t so, int64_t dof, uint64_t len, uint64_t) { std::memcpy(dst.host + dof, base + so, len); });
        }
        unmap_region(d_, m);
        return rc != 0 ? code_ : 0;
    }

    int ensure_staging_for(StagingDirection dir, uint64_t bytes, Staging **out) {
        Arena *arena = nullptr;
        int rc = ensure_arena(uc_, d_, &arena);
        if (rc != 0) {
            return rc;
        }
        rc = ensure_staging(uc_, d_, s_, arena, out);
        if (rc != 0) {
            return rc;
        }
        return (*out)->reserve(uc_, dir, bytes);
    }

    int get_staging(StagingDirection dir, Staging **out) {
        // Room for the pieces in flight (two, plus slack for the ring's
        // head position), so that a pending piece's span is never moved by
        // a ring reallocation in the middle of this copy.
        const uint64_t piece = piece_size();
        return ensure_staging_for(dir, p_.total > piece ? 3 * piece : piece, out);
    }

    uint64_t piece_size() const {
        uint64_t piece = g_piece_override.load(std::memory_order_relaxed);
        if (piece == 0 || piece > Staging::kMaxCapacity / 4) {
            piece = Staging::kMaxPiece;
        }
        return p_.total < piece ? p_.total : piece;
    }

    // Opens (or continues) the batch; what is recorded next is ordered
    // after everything before it.
    int begin_recording(VkCommandBuffer *cb) { return s_->record(uc_, cb); }

    int resolve(const Side &side, DeviceBufferView *view) {
        return resolve_device_buffer(uc_, d_, side.buf, where_, view);
    }

    // Runs the copy piece by piece through spans of the upload ring:
    // record_piece(staging, span, c, bytes) packs and/or records one piece
    // (advancing c by `bytes`); its span then belongs to the open batch,
    // whether it succeeded or not. With submit_each the batch is submitted
    // after every piece (the GPU starts on it while the host packs the
    // next); otherwise once at the end.
    template <typename RecordPiece>
    int through_upload_ring(bool submit_each, RecordPiece &&record_piece) {
        Staging *staging = nullptr;
        int rc = get_staging(StagingDirection::Upload, &staging);
        if (rc != 0) {
            return fail(rc);
        }
        Cursor c(p_);
        while (c.done < p_.total) {
            uint64_t piece = p_.total - c.done;
            if (piece > piece_size()) {
                piece = piece_size();
            }
            StagingSpan span;
            rc = staging->acquire(uc_, StagingDirection::Upload, piece, &span);
            if (rc != 0) {
                return fail(rc);
            }
            rc = record_piece(staging, span, c, piece);
            staging->commit(span, s_->recording_serial());
            if (rc == 0 && submit_each) {
                rc = s_->flush(uc_, false);
            }
            if (rc != 0) {
                return fail(rc);
            }
        }
        if (!submit_each) {
            rc = s_->flush(uc_, false);
        }
        return fail(rc);
    }

    int upload_staged(const Side &src, const Side &dst) {
        return through_upload_ring(true, [&](Staging *staging, const StagingSpan &span, Cursor &c, uint64_t piece) {
            Cursor start = c;
            walk(p_, c, piece, [&](int64_t so, int64_t, uint64_t len, uint64_t packed) {
                std::memcpy(span.host + packed, src.host + so, len);
            });
            int rc = staging->flush_writes(uc_, span, 0, piece);
            VkCommandBuffer cb = VK_NULL_HANDLE;
            if (rc == 0) {
                rc = begin_recording(&cb);
            }
            DeviceBufferView view{};
            if (rc == 0) {
                rc = resolve(dst, &view);
            }
            if (rc != 0) {
                return rc;
            }
            RegionSink sink(d_, cb, span.buffer, view.buffer, staging->regions());
            const int64_t base = int64_t(view.offset) + dst.origin;
            walk(p_, start, piece, [&](int64_t, int64_t dof, uint64_t len, uint64_t packed) {
                sink.add(span.offset + packed, VkDeviceSize(base + dof), len);
            });
            return 0;
        });
    }

    // Readback of many short runs whose source span is not much larger
    // than the data: one region for the whole span, scattered on the host
    // (reading extra device bytes is harmless; writing them would not be).
    bool span_readback(uint64_t *lo_out, uint64_t *bytes_out) const {
        if (p_.dims == 0 || p_.run >= 256) {
            return false;
        }
        int64_t lo, hi;
        plan_range(p_, true, &lo, &hi);
        const uint64_t span = uint64_t(hi - lo);
        if (span > Staging::kMaxPiece || span > 4 * p_.total) {
            return false;
        }
        *lo_out = uint64_t(lo);
        *bytes_out = span;
        return true;
    }

    int download_span(const Side &src, const Side &dst, uint64_t lo, uint64_t span) {
        Staging *staging = nullptr;
        int rc = ensure_staging_for(StagingDirection::Readback, span, &staging);
        StagingSpan st;
        if (rc == 0) {
            rc = staging->acquire(uc_, StagingDirection::Readback, span, &st);
        }
        if (rc != 0) {
            return fail(rc);
        }
        VkCommandBuffer cb = VK_NULL_HANDLE;
        rc = begin_recording(&cb);
        DeviceBufferView view{};
        if (rc == 0) {
            rc = resolve(src, &view);
        }
        if (rc != 0) {
            staging->commit(st, s_->recording_serial());
            return fail(rc);
        }
        const int64_t first = int64_t(view.offset) + src.origin + int64_t(lo);
        VkBufferCopy region{VkDeviceSize(first), st.offset, span};
        d_->vk.vkCmdCopyBuffer(cb, view.buffer, st.buffer, 1, &region);
        const uint64_t serial = s_->recording_serial();
        staging->commit(st, serial);
        rc = s_->wait_for(uc_, serial);
        if (rc == 0) {
            rc = staging->invalidate_reads(uc_, st, 0, span);
        }
        if (rc != 0) {
            return fail(rc);
        }
        const uint8_t *base = st.host - int64_t(lo);
        walk_all([&](int64_t so, int64_t dof, uint64_t len, uint64_t) { std::memcpy(dst.host + dof, base + so, len); });
        return 0;
    }

    int download_staged(const Side &src, const Side &dst) {
        uint64_t span_lo = 0, span_bytes = 0;
        if (span_readback(&span_lo, &span_bytes)) {
            return download_span(src, dst, span_lo, span_bytes);
        }
        // One span for the whole copy, used as two halves: piece k lands in
        // half k % 2, and is recorded only after the host has unpacked piece
        // k - 2 from that half. (The ring retires spans when the GPU is done;
        // a readback span is busy until the host has read it, so the halves
        // are managed here and the span is committed once, at the end.)
        Staging *staging = nullptr;
        int rc = get_staging(StagingDirection::Readback, &staging);
        const uint64_t piece_max = piece_size();
        const uint64_t half = (piece_max + 63) / 64 * 64;
        StagingSpan span;
        if (rc == 0) {
            rc = staging->acquire(uc_, StagingDirection::Readback, p_.total > piece_max ? 2 * half : piece_max,
                                  &span);
        }
        if (rc != 0) {
            return fail(rc);
        }
        struct Pending {
            Cursor start;
            uint64_t bytes;
            uint64_t offset;  // inside span
            uint64_t serial;
        };
        Pending q[2] = {Pending{Cursor(p_), 0, 0, 0}, Pending{Cursor(p_), 0, 0, 0}};
        int q_first = 0, q_count = 0;
        uint64_t next_half = 0;
        Cursor c(p_);
        while (rc == 0 && (c.done < p_.total || q_count > 0)) {
            if (c.done < p_.total && q_count < 2) {
                uint64_t piece = p_.total - c.done;
                if (piece > piece_max) {
                    piece = piece_max;
                }
                VkCommandBuffer cb = VK_NULL_HANDLE;
                rc = begin_recording(&cb);
                DeviceBufferView view{};
                if (rc == 0) {
                    rc = resolve(src, &view);
                }
                if (rc != 0) {
                    break;
                }
                Pending &pd = q[(q_first + q_count) % 2];
                pd.start = c;
                pd.bytes = piece;
                pd.offset = next_half * half;
                next_half ^= 1;
                {
                    RegionSink sink(d_, cb, view.buffer, span.buffer, staging->regions());
                    const int64_t base = int64_t(view.offset) + src.origin;
                    const VkDeviceSize to = span.offset + pd.offset;
                    walk(p_, c, piece, [&](int64_t so, int64_t, uint64_t len, uint64_t packed) {
                        sink.add(VkDeviceSize(base + so), to + packed, len);
                    });
                }
                pd.serial = s_->recording_serial();
                q_count++;
                rc = s_->flush(uc_, false);  // start the GPU on it now
                continue;
            }
            Pending &pd = q[q_first];
            rc = s_->wait_for(uc_, pd.serial);
            if (rc == 0) {
                rc = staging->invalidate_reads(uc_, span, pd.offset, pd.bytes);
            }
            if (rc != 0) {
                break;
            }
            const uint8_t *from = span.host + pd.offset;
            walk(p_, pd.start, pd.bytes, [&](int64_t, int64_t dof, uint64_t len, uint64_t packed) {
                std::memcpy(dst.host + dof, from + packed, len);
            });
            q_first = (q_first + 1) % 2;
            q_count--;
        }
        // On success everything was waited for; on failure the open or
        // newest batch may still write into the span.
        staging->commit(span, rc == 0 ? s_->completed_serial() : s_->recording_serial());
        return fail(rc);
    }

    // The staging state's preallocated VkBufferCopy array (for copies that
    // use no staging memory).
    int region_array(VkBufferCopy **out) {
        Staging *staging = nullptr;
        Arena *arena = nullptr;
        int rc = ensure_arena(uc_, d_, &arena);
        if (rc == 0) {
            rc = ensure_staging(uc_, d_, s_, arena, &staging);
        }
        *out = rc == 0 ? staging->regions() : nullptr;
        return rc;
    }

    int device_to_device(const Side &src, const Side &dst) {
        VkCommandBuffer cb = VK_NULL_HANDLE;
        int rc = begin_recording(&cb);
        DeviceBufferView sv{}, dv{};
        if (rc == 0) {
            rc = resolve(src, &sv);
        }
        if (rc == 0) {
            rc = resolve(dst, &dv);
        }
        if (rc != 0) {
            return fail(rc);
        }
        const int64_t sbase = int64_t(sv.offset) + src.origin;
        const int64_t dbase = int64_t(dv.offset) + dst.origin;
        if (sv.buffer == dv.buffer) {
            int64_t slo, shi, dlo, dhi;
            plan_range(p_, true, &slo, &shi);
            plan_range(p_, false, &dlo, &dhi);
            if (sbase + slo < dbase + dhi && dbase + dlo < sbase + shi) {
                return device_bounce(src, dst);
            }
        }
        VkBufferCopy *regions = nullptr;
        rc = region_array(&regions);
        if (rc != 0) {
            return fail(rc);
        }
        {
            RegionSink sink(d_, cb, sv.buffer, dv.buffer, regions);
            walk_all([&](int64_t so, int64_t dof, uint64_t len, uint64_t) {
                sink.add(VkDeviceSize(sbase + so), VkDeviceSize(dbase + dof), len);
            });
        }
        rc = s_->flush(uc_, false);
        return rc != 0 ? fail(rc) : 0;
    }

    // Source and destination ranges overlap inside one VkBuffer: copy the
    // source into upload staging, then out to the destination.
    int device_bounce(const Side &src, const Side &dst) {
        if (p_.total > piece_size()) {
            // Piece by piece, a later piece could read bytes that an earlier
            // one already overwrote: all of the source must be read first.
            return device_bounce_scratch(src, dst);
        }
        return through_upload_ring(false, [&](Staging *staging, const StagingSpan &span, Cursor &c, uint64_t piece) {
            VkCommandBuffer cb = VK_NULL_HANDLE;
            int rc = begin_recording(&cb);
            DeviceBufferView sv{}, dv{};
            if (rc == 0) {
                rc = resolve(src, &sv);
            }
            if (rc == 0) {
                rc = resolve(dst, &dv);
            }
            if (rc != 0) {
                return rc;
            }
            const int64_t sbase = int64_t(sv.offset) + src.origin;
            const int64_t dbase = int64_t(dv.offset) + dst.origin;
            Cursor start = c;
            {
                RegionSink sink(d_, cb, sv.buffer, span.buffer, staging->regions());
                walk(p_, c, piece, [&](int64_t so, int64_t, uint64_t len, uint64_t packed) {
                    sink.add(VkDeviceSize(sbase + so), span.offset + packed, len);
                });
            }
            s_->record_barrier(cb);
            RegionSink sink(d_, cb, span.buffer, dv.buffer, staging->regions());
            walk(p_, start, piece, [&](int64_t, int64_t dof, uint64_t len, uint64_t packed) {
                sink.add(span.offset + packed, VkDeviceSize(dbase + dof), len);
            });
            return 0;
        });
    }

    // Overlapping copy larger than one staging piece: the whole packed
    // source goes into a scratch Owned region, then out to the destination,
    // in one batch. The scratch region is freed at once; like every freed
    // region it is reused only after the batch that used it has completed.
    int device_bounce_scratch(const Side &src, const Side &dst) {
        uint64_t handle = 0;
        int rc = region_allocate_owned(uc_, d_, p_.total, where_, &handle);
        if (rc != 0) {
            return fail(rc);
        }
        halide_buffer_t scratch{};  // one byte at the region's start: enough to resolve it
        scratch.device = handle;
        scratch.type = halide_type_t(halide_type_uint, 8, 1);
        VkBufferCopy *regions = nullptr;
        rc = region_array(&regions);
        VkCommandBuffer cb = VK_NULL_HANDLE;
        if (rc == 0) {
            rc = begin_recording(&cb);
        }
        DeviceBufferView sv{}, dv{}, tv{};
        if (rc == 0) {
            rc = resolve(src, &sv);
        }
        if (rc == 0) {
            rc = resolve(dst, &dv);
        }
        if (rc == 0) {
            rc = resolve_device_buffer(uc_, d_, &scratch, where_, &tv);
        }
        if (rc == 0) {
            const int64_t sbase = int64_t(sv.offset) + src.origin;
            const int64_t dbase = int64_t(dv.offset) + dst.origin;
            {
                RegionSink sink(d_, cb, sv.buffer, tv.buffer, regions);
                walk_all([&](int64_t so, int64_t, uint64_t len, uint64_t packed) {
                    sink.add(VkDeviceSize(sbase + so), tv.offset + packed, len);
                });
            }
            s_->record_barrier(cb);
            RegionSink sink(d_, cb, tv.buffer, dv.buffer, regions);
            walk_all([&](int64_t, int64_t dof, uint64_t len, uint64_t packed) {
                sink.add(tv.offset + packed, VkDeviceSize(dbase + dof), len);
            });
        }
        const int release_rc = region_release(uc_, d_, handle, ReleaseMode::Free, where_);
        if (rc == 0) {
            rc = release_rc;
        }
        if (rc == 0) {
            rc = s_->flush(uc_, false);
        }
        return fail(rc);
    }

    // Failures below this point were reported by the callee (with its own
    // code); the entry point returns its operation's code.
    int fail(int rc) const { return rc == 0 ? 0 : code_; }

    void *uc_;
    Device *d_;
    Submitter *s_;
    int code_;
    const char *where_;
    const Plan &p_;
};

// Checks a device handle without stamping it as used (resolve_device_buffer
// stamps; a mapped copy must not wait for a batch it is not part of).
int check_handle(void *uc, Device *d, const halide_buffer_t *buf, int code, const char *where) {
    uint64_t usable = 0;
    RegionKind kind;
    if (region_extent(uc, d, buf->device, code, where, &usable, &kind) != 0) {
        return code;
    }
    uint64_t need = 0;
    if (!buffer_span_bytes(buf, &need, nullptr)) {
        return report_error(uc, code, where, "the buffer's size in bytes overflows 64 bits");
    }
    if (need > usable) {
        return report_error(uc, code, where,
                            "the buffer spans %llu bytes but its device region has only %llu",
                            static_cast<unsigned long long>(need), static_cast<unsigned long long>(usable));
    }
    return 0;
}

// Context, device lock and submitter for one entry point.
struct Session {
    ContextScope scope;
    Device *d = nullptr;
    std::unique_lock<std::recursive_mutex> lock;
    Submitter *s = nullptr;
    int status = 0;

    Session(void *uc, const char *where) : scope(uc, where) {
        if (!scope.ok()) {
            status = scope.status();
            return;
        }
        d = scope.device();
        lock = std::unique_lock<std::recursive_mutex>(d->mutex);
        status = ensure_submitter(uc, d, &s);
    }
};

int copy_host_device(void *uc, halide_buffer_t *buf, bool to_device) {
    const char *where = to_device ? "halide_vulkan_copy_to_device" : "halide_vulkan_copy_to_host";
    const int code = to_device ? kCopyToDeviceFailed : kCopyToHostFailed;
    if (buf == nullptr) {
        return report_error(uc, code, where, "the buffer is null");
    }
    int rc = check_shape(uc, code, where, "the buffer", buf);
    if (rc != 0) {
        return rc;
    }
    if (buf->host == nullptr) {
        return report_error(uc, code, where, "the buffer has no host memory (host is null)");
    }
    if (buf->device == 0) {
        if (!to_device) {
            return report_error(uc, code, where, "the buffer has no device allocation (device is 0)");
        }
        // As Halide: copy_to_device allocates first when needed.
        rc = halide_vulkan_device_malloc(uc, buf);
        if (rc != 0) {
            return rc;
        }
    }
    Session session(uc, where);
    if (session.status != 0) {
        return session.status;
    }
    Plan plan;
    rc = make_plan(uc, code, where, buf, buf, &plan);
    if (rc != 0) {
        return rc;
    }
    // Validate the handle up front (clear error before any work).
    rc = check_handle(uc, session.d, buf, code, where);
    if (rc != 0) {
        return rc;
    }
    CopyJob job(uc, session.d, session.s, code, where, plan);
    return to_device ? job.run(host_side(buf), device_side(buf)) : job.run(device_side(buf), host_side(buf));
}

}  // namespace

void set_copies_force_staging(bool on) {
    g_force_staging.store(on);
}
bool copies_force_staging() {
    return g_force_staging.load();
}

void set_staging_piece_bytes(uint64_t bytes) {
    g_piece_override.store(bytes);
}

}  // namespace hvk

extern "C" {

int halide_vulkan_copy_to_device(void *user_context, halide_buffer_t *buf) {
    return hvk::copy_host_device(user_context, buf, true);
}

int halide_vulkan_copy_to_host(void *user_context, halide_buffer_t *buf) {
    return hvk::copy_host_device(user_context, buf, false);
}

int halide_vulkan_buffer_copy(void *user_context, halide_buffer_t *src, const halide_device_interface_t *dst_iface,
                              halide_buffer_t *dst) {
    using namespace hvk;
    const char *where = "halide_vulkan_buffer_copy";
    const int code = kDeviceBufferCopyFailed;
    if (src == nullptr || dst == nullptr) {
        return report_error(user_context, code, where, "%s buffer is null", src == nullptr ? "the source" : "the destination");
    }
    if (dst->dimensions > kMaxDims) {
        return report_error(user_context, kBadDimensions, where, "the destination has %d dimensions (at most %d)",
                            int(dst->dimensions), kMaxDims);
    }
    const halide_device_interface_t *vk = halide_vulkan_device_interface();
    if (dst_iface != nullptr && dst_iface != vk) {
        return report_error(user_context, code, where, "the destination interface is not Vulkan's");
    }
    const bool src_is_vk = src->device_interface == vk;
    const bool src_host_dirty = (src->flags & halide_buffer_flag_host_dirty) != 0;
    const bool src_device_dirty = (src->flags & halide_buffer_flag_device_dirty) != 0;
    if ((src_device_dirty || src->host == nullptr) && !src_is_vk) {
        // Not ours to read: the generic layer tries another route.
        return kIncompatibleDeviceInterface;
    }
    const bool from_host = !src_is_vk || src->device == 0 || (src_host_dirty && src->host != nullptr);
    const bool to_host = dst_iface == nullptr;
    if (!from_host && src->device == 0) {
        return report_error(user_context, code, where, "the source has no device allocation");
    }
    if (from_host && src->host == nullptr) {
        return report_error(user_context, code, where, "the source has neither valid device data nor host memory");
    }
    if (!to_host && dst->device == 0) {
        return report_error(user_context, code, where, "the destination has no device allocation");
    }
    if (!to_host && dst->device_interface != vk) {
        return report_error(user_context, code, where, "the destination's device allocation is not Vulkan's");
    }
    if (to_host && dst->host == nullptr) {
        return report_error(user_context, code, where, "the destination has no host memory");
    }
    int rc = check_shape(user_context, code, where, "the source", src);
    if (rc == 0) {
        rc = check_shape(user_context, code, where, "the destination", dst);
    }
    if (rc != 0) {
        return rc;
    }
    Plan plan;
    rc = make_plan(user_context, code, where, src, dst, &plan);
    if (rc != 0) {
        return rc;
    }
    const Side from = from_host ? host_side(src) : device_side(src);
    const Side to = to_host ? host_side(dst) : device_side(dst);
    if (from_host && to_host) {
        CopyJob job(user_context, nullptr, nullptr, code, where, plan);
        return job.run(from, to);
    }
    Session session(user_context, where);
    if (session.status != 0) {
        return session.status;
    }
    if (!from_host && (rc = check_handle(user_context, session.d, src, code, where)) != 0) {
        return rc;
    }
    if (!to_host && (rc = check_handle(user_context, session.d, dst, code, where)) != 0) {
        return rc;
    }
    CopyJob job(user_context, session.d, session.s, code, where, plan);
    return job.run(from, to);
}

int halide_vulkan_device_sync(void *user_context, halide_buffer_t *buf) {
    (void)buf;  // every queued batch is waited for, whatever the buffer
    hvk::ContextScope scope(user_context, "halide_vulkan_device_sync");
    if (!scope.ok()) {
        return scope.status();
    }
    hvk::Device *d = scope.device();
    std::lock_guard<std::recursive_mutex> lock(d->mutex);
    if (d->submitter == nullptr) {
        return 0;  // nothing was ever submitted
    }
    return d->submitter->flush(user_context, true) == 0 ? 0 : hvk::kDeviceSyncFailed;
}

}  // extern "C"
