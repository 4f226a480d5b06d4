// The staged upload path: host -> a device buffer the host does not map
// (wrapped buffers, device-only memory), piece by piece through the upload
// ring (vulkan/memory/copy_job.h).
#include <cstring>

#include "vulkan/memory/copy_job.h"

namespace hvk {

int upload_staged(CopyJob &job, const CopySide &src, const CopySide &dst) {
    return job.through_upload_ring(true, [&](Staging *staging, const StagingSpan &span, PlanCursor &c,
                                             uint64_t piece) {
        // Pack the piece into the span, then copy its runs out of it.
        PlanCursor start = c;
        walk_plan(job.plan, c, piece, [&](int64_t so, int64_t, uint64_t len, uint64_t packed) {
            std::memcpy(span.host + packed, src.host + so, len);
        });
        int rc = staging->flush_writes(job.uc, span, 0, piece);
        VkCommandBuffer cb = VK_NULL_HANDLE;
        if (rc == 0) {
            rc = job.begin_recording(&cb);
        }
        DeviceBufferView view{};
        if (rc == 0) {
            rc = job.resolve(dst, &view);
        }
        if (rc != 0) {
            return rc;
        }
        RegionSink sink(job.d, cb, span.buffer, view.buffer, staging->regions());
        const int64_t base = int64_t(view.offset) + dst.origin;
        walk_plan(job.plan, start, piece, [&](int64_t, int64_t dof, uint64_t len, uint64_t packed) {
            sink.add(span.offset + packed, VkDeviceSize(base + dof), len);
        });
        return 0;
    });
}

}  // namespace hvk
