// The staged download path: a device buffer the host does not read through
// a mapping -> host, through the readback ring (vulkan/memory/copy_job.h).
// The open batch (with any queued kernels) is submitted first.
#include <cstring>

#include "vulkan/memory/copy_job.h"

namespace hvk {
namespace {

// Readback of many short runs whose source span is not much larger
// than the data: one region for the whole span, scattered on the host
// (reading extra device bytes is harmless; writing them would not be).
bool span_readback(const CopyPlan &p, uint64_t *lo_out, uint64_t *bytes_out) {
    if (p.dims == 0 || p.run >= 256) {
        return false;
    }
    int64_t lo, hi;
    plan_range(p, true, &lo, &hi);
    const uint64_t span = uint64_t(hi - lo);
    if (span > Staging::kMaxPiece || span > 4 * p.total) {
        return false;
    }
    *lo_out = uint64_t(lo);
    *bytes_out = span;
    return true;
}

int download_span(CopyJob &job, const CopySide &src, const CopySide &dst, uint64_t lo, uint64_t span) {
    Staging *staging = nullptr;
    int rc = job.ensure_staging_for(StagingDirection::Readback, span, &staging);
    StagingSpan st;
    if (rc == 0) {
        rc = staging->acquire(job.uc, StagingDirection::Readback, span, &st);
    }
    if (rc != 0) {
        return job.fail(rc);
    }
    VkCommandBuffer cb = VK_NULL_HANDLE;
    rc = job.begin_recording(&cb);
    DeviceBufferView view{};
    if (rc == 0) {
        rc = job.resolve(src, &view);
    }
    if (rc != 0) {
        staging->commit(st, job.s->recording_serial());
        return job.fail(rc);
    }
    const int64_t first = int64_t(view.offset) + src.origin + int64_t(lo);
    VkBufferCopy region{VkDeviceSize(first), st.offset, span};
    job.d->vk.vkCmdCopyBuffer(cb, view.buffer, st.buffer, 1, &region);
    const uint64_t serial = job.s->recording_serial();
    staging->commit(st, serial);
    rc = job.s->wait_for(job.uc, serial);
    if (rc == 0) {
        rc = staging->invalidate_reads(job.uc, st, 0, span);
    }
    if (rc != 0) {
        return job.fail(rc);
    }
    const uint8_t *base = st.host - int64_t(lo);
    job.walk_all(
        [&](int64_t so, int64_t dof, uint64_t len, uint64_t) { std::memcpy(dst.host + dof, base + so, len); });
    return 0;
}

// One readback span used as two halves, and the pieces in flight in them
// (at most two, oldest at q[first]).
struct ReadbackHalves {
    struct Pending {
        PlanCursor start;
        uint64_t bytes;
        uint64_t offset;  // inside span
        uint64_t serial;
    };
    Staging *staging = nullptr;
    StagingSpan span;
    uint64_t half = 0;
    Pending q[2];
    int first = 0, count = 0;
    uint64_t next_half = 0;

    explicit ReadbackHalves(const CopyPlan &p) : q{Pending{PlanCursor(p), 0, 0, 0}, Pending{PlanCursor(p), 0, 0, 0}} {}
};

// Records the GPU's copy of the next piece (at most piece_max bytes from
// *c) into the next half, and submits it so the GPU starts on it now.
int record_readback_piece(CopyJob &job, const CopySide &src, ReadbackHalves *h, PlanCursor *c,
                          uint64_t piece_max) {
    uint64_t piece = job.plan.total - c->done;
    if (piece > piece_max) {
        piece = piece_max;
    }
    VkCommandBuffer cb = VK_NULL_HANDLE;
    int rc = job.begin_recording(&cb);
    DeviceBufferView view{};
    if (rc == 0) {
        rc = job.resolve(src, &view);
    }
    if (rc != 0) {
        return rc;
    }
    ReadbackHalves::Pending &pd = h->q[(h->first + h->count) % 2];
    pd.start = *c;
    pd.bytes = piece;
    pd.offset = h->next_half * h->half;
    h->next_half ^= 1;
    {
        RegionSink sink(job.d, cb, view.buffer, h->span.buffer, h->staging->regions());
        const int64_t base = int64_t(view.offset) + src.origin;
        const VkDeviceSize to = h->span.offset + pd.offset;
        walk_plan(job.plan, *c, piece, [&](int64_t so, int64_t, uint64_t len, uint64_t packed) {
            sink.add(VkDeviceSize(base + so), to + packed, len);
        });
    }
    pd.serial = job.s->recording_serial();
    h->count++;
    return job.s->flush(job.uc, false);  // start the GPU on it now
}

// Waits for the oldest piece in flight and unpacks it from its half.
int unpack_readback_piece(CopyJob &job, const CopySide &dst, ReadbackHalves *h) {
    ReadbackHalves::Pending &pd = h->q[h->first];
    int rc = job.s->wait_for(job.uc, pd.serial);
    if (rc == 0) {
        rc = h->staging->invalidate_reads(job.uc, h->span, pd.offset, pd.bytes);
    }
    if (rc != 0) {
        return rc;
    }
    const uint8_t *from = h->span.host + pd.offset;
    walk_plan(job.plan, pd.start, pd.bytes, [&](int64_t, int64_t dof, uint64_t len, uint64_t packed) {
        std::memcpy(dst.host + dof, from + packed, len);
    });
    h->first = (h->first + 1) % 2;
    h->count--;
    return 0;
}

}  // namespace

int download_staged(CopyJob &job, const CopySide &src, const CopySide &dst) {
    uint64_t span_lo = 0, span_bytes = 0;
    if (span_readback(job.plan, &span_lo, &span_bytes)) {
        return download_span(job, src, dst, span_lo, span_bytes);
    }
    // One span for the whole copy, used as two halves: piece k lands in
    // half k % 2, and is recorded only after the host has unpacked piece
    // k - 2 from that half. (The ring retires spans when the GPU is done;
    // a readback span is busy until the host has read it, so the halves
    // are managed here and the span is committed once, at the end.)
    ReadbackHalves h(job.plan);
    int rc = job.get_staging(StagingDirection::Readback, &h.staging);
    const uint64_t piece_max = job.piece_size();
    h.half = (piece_max + 63) / 64 * 64;
    if (rc == 0) {
        rc = h.staging->acquire(job.uc, StagingDirection::Readback,
                                job.plan.total > piece_max ? 2 * h.half : piece_max, &h.span);
    }
    if (rc != 0) {
        return job.fail(rc);
    }
    PlanCursor c(job.plan);
    while (rc == 0 && (c.done < job.plan.total || h.count > 0)) {
        if (c.done < job.plan.total && h.count < 2) {
            rc = record_readback_piece(job, src, &h, &c, piece_max);
        } else {
            rc = unpack_readback_piece(job, dst, &h);
        }
    }
    // On success everything was waited for; on failure the open or
    // newest batch may still write into the span.
    h.staging->commit(h.span, rc == 0 ? job.s->completed_serial() : job.s->recording_serial());
    return job.fail(rc);
}

}  // namespace hvk
