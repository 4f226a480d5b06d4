// The mapped path: host <-> a host-visible Owned region, by memcpy through
// the arena's persistent mapping (vulkan/memory/copy_job.h). run_copy has
// mapped the region (try_map_region waited for the root's queued GPU work);
// non-coherent memory is flushed after writing / invalidated before reading,
// over just the bytes the plan touches.
#include <cstring>

#include "vulkan/memory/arena.h"
#include "vulkan/memory/copy_job.h"

namespace hvk {

int upload_mapped(CopyJob &job, const CopySide &src, const CopySide &dst, const MappedRegion &m) {
    uint8_t *base = m.ptr + dst.origin;
    job.walk_all(
        [&](int64_t so, int64_t dof, uint64_t len, uint64_t) { std::memcpy(base + dof, src.host + so, len); });
    int rc = 0;
    if ((m.memory_flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) == 0) {
        int64_t lo, hi;
        plan_range(job.plan, false, &lo, &hi);
        Arena *arena = job.d->arena;
        rc = arena->flush(job.uc, *m.allocation, m.allocation_offset + uint64_t(dst.origin + lo), uint64_t(hi - lo));
    }
    unmap_region(job.d, m);
    return rc != 0 ? job.code : 0;
}

int download_mapped(CopyJob &job, const CopySide &src, const CopySide &dst, const MappedRegion &m) {
    int rc = 0;
    if ((m.memory_flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) == 0) {
        int64_t lo, hi;
        plan_range(job.plan, true, &lo, &hi);
        Arena *arena = job.d->arena;
        rc = arena->invalidate(job.uc, *m.allocation, m.allocation_offset + uint64_t(src.origin + lo),
                               uint64_t(hi - lo));
    }
    if (rc == 0) {
        const uint8_t *base = m.ptr + src.origin;
        job.walk_all(
            [&](int64_t so, int64_t dof, uint64_t len, uint64_t) { std::memcpy(dst.host + dof, base + so, len); });
    }
    unmap_region(job.d, m);
    return rc != 0 ? job.code : 0;
}

}  // namespace hvk
