// Executing a copy plan (vulkan/memory/copy_plan.h): what the copy paths
// share. The entry points (vulkan/api/copies.cpp) check the buffers, make
// the plan and call run_copy(), which picks one path; each path has its own
// file.
//
// Paths (Device::mutex held throughout):
//  * host <-> host-visible Owned region (try_map_region: waits for queued
//    GPU work on the root): memcpy through the arena's persistent mapping,
//    flushing/invalidating non-coherent memory. Used for uploads into any
//    host-visible memory and for readbacks only from HOST_CACHED memory.
//    (copy_mapped.cpp)
//  * host -> device otherwise (wrapped buffers, device-only memory): pieces
//    of at most Staging::kMaxPiece bytes are packed into the upload ring and
//    copied by one vkCmdCopyBuffer per piece (up to kRegionCapacity regions
//    per command) recorded into the open batch after a barrier, so queued
//    kernels that read the old contents run first. The batch is submitted
//    (not waited for); the ring keeps each piece until its batch completes.
//    (copy_upload.cpp)
//  * device -> host otherwise: the GPU copies pieces into the readback ring;
//    two pieces are in flight so that unpacking one overlaps the GPU's copy
//    of the next. The open batch (with any queued kernels) is submitted first.
//    (copy_download.cpp)
//  * device -> device: regions recorded into the open batch, submitted
//    without waiting; copies within one VkBuffer whose byte ranges overlap
//    bounce through the upload ring when they fit one piece, otherwise
//    through a scratch Owned region that holds the whole packed source.
//    (copy_device.cpp)
//
// Hot path: a warm copy creates no Vulkan object and allocates nothing. The
// paths are plain functions on one CopyJob that lives on the caller's stack
// and holds the plan by reference; walk_plan and the helpers below are
// inline, so each path's inner loop is one function.
#pragma once

#include <cstdint>

#include "HalideRuntime.h"
#include "vulkan/context/device.h"
#include "vulkan/memory/copy_plan.h"
#include "vulkan/memory/region_table.h"
#include "vulkan/memory/staging.h"
#include "vulkan/submit/submitter.h"

namespace hvk {

// One side of a copy: host memory, or a device buffer (resolved again before
// every recording, which stamps its root with the open batch's serial).
struct CopySide {
    const halide_buffer_t *buf = nullptr;
    bool device = false;
    uint8_t *host = nullptr;  // host side: address of the element at the mins
    int64_t origin = 0;       // device side: bytes from device byte 0 to the element at the mins
};

inline CopySide host_side(const halide_buffer_t *b) {
    CopySide s;
    s.buf = b;
    s.host = b->host;
    return s;
}

inline CopySide device_side(const halide_buffer_t *b) {
    CopySide s;
    s.buf = b;
    s.device = true;
    s.origin = -begin_elements(b) * int64_t(b->type.bytes());
    return s;
}

// Collects vkCmdCopyBuffer regions into the staging scratch array, merging
// runs that continue the previous one in both buffers.
class RegionSink {
public:
    RegionSink(Device *d, VkCommandBuffer cb, VkBuffer src, VkBuffer dst, VkBufferCopy *regions)
        : d_(d), cb_(cb), src_(src), dst_(dst), regions_(regions) {}
    ~RegionSink() { flush(); }
    RegionSink(const RegionSink &) = delete;
    RegionSink &operator=(const RegionSink &) = delete;

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

// The state every path of one copy shares: who asked (user context, entry
// point, its error code), the device and its submitter (both null for a
// host-to-host copy), and the plan (by reference: never copied).
struct CopyJob {
    void *uc;
    Device *d;
    Submitter *s;
    int code;
    const char *where;
    const CopyPlan &plan;

    // Failures below this point were reported by the callee (with its own
    // code); the entry point returns its operation's code.
    int fail(int rc) const { return rc == 0 ? 0 : code; }

    template <typename Fn>
    void walk_all(Fn &&fn) const {
        PlanCursor c(plan);
        walk_plan(plan, c, plan.total, fn);
    }

    // Opens (or continues) the batch; what is recorded next is ordered
    // after everything before it.
    int begin_recording(VkCommandBuffer *cb) { return s->record(uc, cb); }

    int resolve(const CopySide &side, DeviceBufferView *view) {
        return resolve_device_buffer(uc, d, side.buf, where, view);
    }

    // Bytes per staged piece: the policy's (or the benchmark override's)
    // piece size, at most the whole copy.
    uint64_t piece_size() const;
    // The staging rings, with `bytes` reserved in direction `dir`.
    int ensure_staging_for(StagingDirection dir, uint64_t bytes, Staging **out);
    // The staging rings, with room reserved for the pieces this copy keeps
    // in flight.
    int get_staging(StagingDirection dir, Staging **out);
    // The staging state's preallocated VkBufferCopy array (for copies that
    // use no staging memory).
    int region_array(VkBufferCopy **out);

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
        PlanCursor c(plan);
        while (c.done < plan.total) {
            uint64_t piece = plan.total - c.done;
            if (piece > piece_size()) {
                piece = piece_size();
            }
            StagingSpan span;
            rc = staging->acquire(uc, StagingDirection::Upload, piece, &span);
            if (rc != 0) {
                return fail(rc);
            }
            rc = record_piece(staging, span, c, piece);
            staging->commit(span, s->recording_serial());
            if (rc == 0 && submit_each) {
                rc = s->flush(uc, false);
            }
            if (rc != 0) {
                return fail(rc);
            }
        }
        if (!submit_each) {
            rc = s->flush(uc, false);
        }
        return fail(rc);
    }
};

// Executes job.plan from `src` to `dst`, picking the path. 0 or job.code
// (the failure already reported).
int run_copy(CopyJob &job, const CopySide &src, const CopySide &dst);

// The paths, one file each (see the top of this file).
int upload_mapped(CopyJob &job, const CopySide &src, const CopySide &dst, const MappedRegion &m);
int download_mapped(CopyJob &job, const CopySide &src, const CopySide &dst, const MappedRegion &m);
int upload_staged(CopyJob &job, const CopySide &src, const CopySide &dst);
int download_staged(CopyJob &job, const CopySide &src, const CopySide &dst);
int copy_device_to_device(CopyJob &job, const CopySide &src, const CopySide &dst);

}  // namespace hvk
