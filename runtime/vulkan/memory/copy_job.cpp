// Picking a copy's path, the helpers the paths share, and the staging test
// and benchmark hooks (vulkan/memory/staging.h).
#include "vulkan/memory/copy_job.h"

#include <atomic>
#include <cstring>

#include "vulkan/memory/memory_state.h"

namespace hvk {
namespace {

std::atomic<bool> g_force_staging{false};
std::atomic<uint64_t> g_piece_override{0};

bool any_host_cached_type(const Device *d) {
    // Cheap pre-check: with no cached host-visible type, never map for
    // reading (and never wait in try_map_region for nothing).
    const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
    bool any = false;
    for (uint32_t i = 0; i < d->memory_properties.memoryTypeCount; i++) {
        if ((d->memory_properties.memoryTypes[i].propertyFlags & want) == want) {
            any = true;
        }
    }
    return any;
}

int upload(CopyJob &job, const CopySide &src, const CopySide &dst) {
    MappedRegion m{};
    if (!g_force_staging.load(std::memory_order_relaxed) && try_map_region(job.uc, job.d, dst.buf, &m) == 0) {
        return upload_mapped(job, src, dst, m);
    }
    return upload_staged(job, src, dst);
}

int download(CopyJob &job, const CopySide &src, const CopySide &dst) {
    MappedRegion m{};
    // Only cached memory is fast to read through a mapping (uncached
    // reads of BAR memory over PCIe are not); try_map_region waits
    // for the root's queued work, so don't call it needlessly.
    if (!g_force_staging.load(std::memory_order_relaxed) && any_host_cached_type(job.d) &&
        try_map_region(job.uc, job.d, src.buf, &m) == 0) {
        if ((m.memory_flags & VK_MEMORY_PROPERTY_HOST_CACHED_BIT) != 0) {
            return download_mapped(job, src, dst, m);
        }
        unmap_region(job.d, m);
    }
    return download_staged(job, src, dst);
}

}  // namespace

int run_copy(CopyJob &job, const CopySide &src, const CopySide &dst) {
    if (job.plan.total == 0) {
        return 0;
    }
    if (!src.device && !dst.device) {
        job.walk_all([&](int64_t so, int64_t dof, uint64_t len, uint64_t) {
            std::memmove(dst.host + dof, src.host + so, len);
        });
        return 0;
    }
    if (!src.device) {
        return upload(job, src, dst);
    }
    if (!dst.device) {
        return download(job, src, dst);
    }
    return copy_device_to_device(job, src, dst);
}

uint64_t CopyJob::piece_size() const {
    uint64_t piece = g_piece_override.load(std::memory_order_relaxed);
    if (piece == 0 || piece > Staging::kMaxCapacity / 4) {
        piece = Staging::kMaxPiece;
    }
    return plan.total < piece ? plan.total : piece;
}

int CopyJob::ensure_staging_for(StagingDirection dir, uint64_t bytes, Staging **out) {
    Arena *arena = nullptr;
    int rc = ensure_arena(uc, d, &arena);
    if (rc != 0) {
        return rc;
    }
    rc = ensure_staging(uc, d, s, arena, out);
    if (rc != 0) {
        return rc;
    }
    return (*out)->reserve(uc, dir, bytes);
}

int CopyJob::get_staging(StagingDirection dir, Staging **out) {
    // Room for the pieces in flight (two, plus slack for the ring's
    // head position), so that a pending piece's span is never moved by
    // a ring reallocation in the middle of this copy.
    const uint64_t piece = piece_size();
    return ensure_staging_for(dir, plan.total > piece ? 3 * piece : piece, out);
}

int CopyJob::region_array(VkBufferCopy **out) {
    Staging *staging = nullptr;
    Arena *arena = nullptr;
    int rc = ensure_arena(uc, d, &arena);
    if (rc == 0) {
        rc = ensure_staging(uc, d, s, arena, &staging);
    }
    *out = rc == 0 ? staging->regions() : nullptr;
    return rc;
}

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
