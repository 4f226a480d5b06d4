// The device-to-device path (vulkan/memory/copy_job.h): regions recorded
// into the open batch, submitted without waiting. A copy within one
// VkBuffer whose source and destination byte ranges overlap cannot be one
// vkCmdCopyBuffer (overlapping regions are undefined behaviour): it bounces
// through the upload ring when it fits one piece, otherwise through a
// scratch Owned region that holds the whole packed source.
#include "vulkan/memory/copy_job.h"

namespace hvk {
namespace {

// Whether the bytes the plan reads (from sbase) and writes (from dbase) in
// one VkBuffer overlap.
bool ranges_overlap(const CopyPlan &p, int64_t sbase, int64_t dbase) {
    int64_t slo, shi, dlo, dhi;
    plan_range(p, true, &slo, &shi);
    plan_range(p, false, &dlo, &dhi);
    return sbase + slo < dbase + dhi && dbase + dlo < sbase + shi;
}

// Overlapping copy larger than one staging piece: the whole packed
// source goes into a scratch Owned region, then out to the destination,
// in one batch. The scratch region is freed at once; like every freed
// region it is reused only after the batch that used it has completed.
int device_bounce_scratch(CopyJob &job, const CopySide &src, const CopySide &dst) {
    uint64_t handle = 0;
    int rc = region_allocate_owned(job.uc, job.d, job.plan.total, job.where, &handle);
    if (rc != 0) {
        return job.fail(rc);
    }
    halide_buffer_t scratch{};  // one byte at the region's start: enough to resolve it
    scratch.device = handle;
    scratch.type = halide_type_t(halide_type_uint, 8, 1);
    VkBufferCopy *regions = nullptr;
    rc = job.region_array(&regions);
    VkCommandBuffer cb = VK_NULL_HANDLE;
    if (rc == 0) {
        rc = job.begin_recording(&cb);
    }
    DeviceBufferView sv{}, dv{}, tv{};
    if (rc == 0) {
        rc = job.resolve(src, &sv);
    }
    if (rc == 0) {
        rc = job.resolve(dst, &dv);
    }
    if (rc == 0) {
        rc = resolve_device_buffer(job.uc, job.d, &scratch, job.where, &tv);
    }
    if (rc == 0) {
        const int64_t sbase = int64_t(sv.offset) + src.origin;
        const int64_t dbase = int64_t(dv.offset) + dst.origin;
        {
            RegionSink sink(job.d, cb, sv.buffer, tv.buffer, regions);
            job.walk_all([&](int64_t so, int64_t, uint64_t len, uint64_t packed) {
                sink.add(VkDeviceSize(sbase + so), tv.offset + packed, len);
            });
        }
        job.s->record_barrier(cb);
        RegionSink sink(job.d, cb, tv.buffer, dv.buffer, regions);
        job.walk_all([&](int64_t, int64_t dof, uint64_t len, uint64_t packed) {
            sink.add(tv.offset + packed, VkDeviceSize(dbase + dof), len);
        });
    }
    const int release_rc = region_release(job.uc, job.d, handle, ReleaseMode::Free, job.where);
    if (rc == 0) {
        rc = release_rc;
    }
    if (rc == 0) {
        rc = job.s->flush(job.uc, false);
    }
    return job.fail(rc);
}

// Source and destination ranges overlap inside one VkBuffer: copy the
// source into upload staging, then out to the destination.
int device_bounce(CopyJob &job, const CopySide &src, const CopySide &dst) {
    if (job.plan.total > job.piece_size()) {
        // Piece by piece, a later piece could read bytes that an earlier
        // one already overwrote: all of the source must be read first.
        return device_bounce_scratch(job, src, dst);
    }
    return job.through_upload_ring(false, [&](Staging *staging, const StagingSpan &span, PlanCursor &c,
                                              uint64_t piece) {
        VkCommandBuffer cb = VK_NULL_HANDLE;
        int rc = job.begin_recording(&cb);
        DeviceBufferView sv{}, dv{};
        if (rc == 0) {
            rc = job.resolve(src, &sv);
        }
        if (rc == 0) {
            rc = job.resolve(dst, &dv);
        }
        if (rc != 0) {
            return rc;
        }
        const int64_t sbase = int64_t(sv.offset) + src.origin;
        const int64_t dbase = int64_t(dv.offset) + dst.origin;
        PlanCursor start = c;
        {
            RegionSink sink(job.d, cb, sv.buffer, span.buffer, staging->regions());
            walk_plan(job.plan, c, piece, [&](int64_t so, int64_t, uint64_t len, uint64_t packed) {
                sink.add(VkDeviceSize(sbase + so), span.offset + packed, len);
            });
        }
        job.s->record_barrier(cb);
        RegionSink sink(job.d, cb, span.buffer, dv.buffer, staging->regions());
        walk_plan(job.plan, start, piece, [&](int64_t, int64_t dof, uint64_t len, uint64_t packed) {
            sink.add(span.offset + packed, VkDeviceSize(dbase + dof), len);
        });
        return 0;
    });
}

}  // namespace

int copy_device_to_device(CopyJob &job, const CopySide &src, const CopySide &dst) {
    VkCommandBuffer cb = VK_NULL_HANDLE;
    int rc = job.begin_recording(&cb);
    DeviceBufferView sv{}, dv{};
    if (rc == 0) {
        rc = job.resolve(src, &sv);
    }
    if (rc == 0) {
        rc = job.resolve(dst, &dv);
    }
    if (rc != 0) {
        return job.fail(rc);
    }
    const int64_t sbase = int64_t(sv.offset) + src.origin;
    const int64_t dbase = int64_t(dv.offset) + dst.origin;
    if (sv.buffer == dv.buffer && ranges_overlap(job.plan, sbase, dbase)) {
        return device_bounce(job, src, dst);
    }
    VkBufferCopy *regions = nullptr;
    rc = job.region_array(&regions);
    if (rc != 0) {
        return job.fail(rc);
    }
    {
        RegionSink sink(job.d, cb, sv.buffer, dv.buffer, regions);
        job.walk_all([&](int64_t so, int64_t dof, uint64_t len, uint64_t) {
            sink.add(VkDeviceSize(sbase + so), VkDeviceSize(dbase + dof), len);
        });
    }
    rc = job.s->flush(job.uc, false);
    return rc != 0 ? job.fail(rc) : 0;
}

}  // namespace hvk
