// Staging rings: see staging.h for the contract.
//
// Each ring keeps a small FIFO of live segments (byte range + the serial of
// the batch that uses it). A request is placed at the ring's head, or at
// offset 0 when it does not fit before the end; it must not overlap a live
// segment. Segments are retired in FIFO order as their batches complete.
#include "vulkan/memory/staging.h"

#include "vulkan/util/host_alloc.h"
#include "common/report.h"
#include "vulkan/util/vk_result.h"

namespace hvk {
namespace {

constexpr uint32_t kMaxSegments = 64;
constexpr int kGenericError = -1;

VkDeviceSize align_up(VkDeviceSize v, VkDeviceSize a) {
    return (v + a - 1) / a * a;
}

struct Segment {
    VkDeviceSize begin;
    VkDeviceSize end;
    uint64_t serial;
};

struct Ring {
    MemoryUsage usage = MemoryUsage::Upload;
    VkBufferUsageFlags buffer_usage = 0;
    VkBuffer buffer = VK_NULL_HANDLE;
    ArenaAllocation alloc{};
    bool allocated = false;
    VkDeviceSize capacity = 0;
    VkDeviceSize head = 0;
    Segment segs[kMaxSegments];
    uint32_t first = 0;  // FIFO start
    uint32_t count = 0;

    const Segment &front() const { return segs[first]; }
    const Segment &back() const { return segs[(first + count - 1) % kMaxSegments]; }
    bool overlaps(VkDeviceSize b, VkDeviceSize e) const {
        for (uint32_t k = 0; k < count; k++) {
            const Segment &s = segs[(first + k) % kMaxSegments];
            if (b < s.end && s.begin < e) {
                return true;
            }
        }
        return false;
    }
};

class StagingImpl final : public Staging {
public:
    StagingImpl(Device *d, Submitter *s, Arena *arena) : d_(d), s_(s), arena_(arena) {
        rings_[0].usage = MemoryUsage::Upload;
        // Upload spans also serve as bounce space for overlapping
        // device-to-device copies, hence TRANSFER_DST as well.
        rings_[0].buffer_usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
        rings_[1].usage = MemoryUsage::Readback;
        rings_[1].buffer_usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
        VkDeviceSize atom = d->properties.limits.nonCoherentAtomSize;
        align_ = atom > 64 ? atom : 64;
    }

    int init(void *uc) {
        regions_ = static_cast<VkBufferCopy *>(host_alloc(d_->callbacks, sizeof(VkBufferCopy) * kRegionCapacity,
                                                          alignof(VkBufferCopy), VK_SYSTEM_ALLOCATION_SCOPE_OBJECT));
        if (regions_ == nullptr) {
            return report_error(uc, -11, "staging", "out of host memory for the copy region array");
        }
        return 0;
    }

    void shutdown() {
        for (Ring &r : rings_) {
            release_ring_memory(r);
        }
        host_free(d_->callbacks, regions_);
        regions_ = nullptr;
    }

    int reserve(void *uc, StagingDirection dir, VkDeviceSize bytes) override {
        Ring &r = rings_[int(dir)];
        VkDeviceSize need = align_up(bytes, align_);
        if (need > kMaxCapacity) {
            need = kMaxCapacity;
        }
        return need > r.capacity ? grow(uc, r, need) : 0;
    }

    int acquire(void *uc, StagingDirection dir, VkDeviceSize size, StagingSpan *out) override {
        Ring &r = rings_[int(dir)];
        if (size == 0 || size > kMaxCapacity) {
            return report_error(uc, -22, "staging", "internal: staging request of %llu bytes (limit %llu)",
                                static_cast<unsigned long long>(size), static_cast<unsigned long long>(kMaxCapacity));
        }
        const VkDeviceSize need = align_up(size, align_);
        if (need > r.capacity) {
            int rc = grow(uc, r, need);
            if (rc != 0) {
                return rc;
            }
        }
        for (;;) {
            retire(r);
            if (r.count == 0) {
                r.head = 0;
            }
            VkDeviceSize start = VkDeviceSize(-1);
            if (r.count < kMaxSegments) {
                if (r.head + need <= r.capacity && !r.overlaps(r.head, r.head + need)) {
                    start = r.head;
                } else if (need <= r.capacity && !r.overlaps(0, need)) {
                    start = 0;
                }
            }
            if (start != VkDeviceSize(-1)) {
                out->buffer = r.buffer;
                out->offset = start;
                out->size = size;
                out->host = static_cast<uint8_t *>(r.alloc.mapped) + start;
                out->direction = dir;
                r.head = start + need;
                return 0;
            }
            // Wait for the oldest batch holding ring space.
            int rc = s_->wait_for(uc, r.front().serial);
            if (rc != 0) {
                return rc;
            }
        }
    }

    void commit(const StagingSpan &span, uint64_t serial) override {
        Ring &r = rings_[int(span.direction)];
        const VkDeviceSize end = span.offset + align_up(span.size, align_);
        if (r.count > 0) {
            Segment &last = r.segs[(r.first + r.count - 1) % kMaxSegments];
            if (last.serial == serial && last.end == span.offset) {
                last.end = end;  // extend: same batch, adjacent
                return;
            }
        }
        // acquire() guaranteed a free FIFO entry.
        r.segs[(r.first + r.count) % kMaxSegments] = Segment{span.offset, end, serial};
        r.count++;
    }

    int flush_writes(void *uc, const StagingSpan &span, VkDeviceSize offset, VkDeviceSize size) override {
        const Ring &r = rings_[int(span.direction)];
        if (r.alloc.coherent || size == 0) {
            return 0;
        }
        return arena_->flush(uc, r.alloc, span.offset + offset, size);
    }

    int invalidate_reads(void *uc, const StagingSpan &span, VkDeviceSize offset, VkDeviceSize size) override {
        const Ring &r = rings_[int(span.direction)];
        if (r.alloc.coherent || size == 0) {
            return 0;
        }
        return arena_->invalidate(uc, r.alloc, span.offset + offset, size);
    }

    VkBufferCopy *regions() override { return regions_; }

    VkDeviceSize capacity(StagingDirection dir) const override { return rings_[int(dir)].capacity; }
    uint64_t reallocations() const override { return reallocations_; }

private:
    void retire(Ring &r) {
        if (r.count == 0) {
            return;
        }
        const uint64_t done = s_->completed_serial();
        while (r.count > 0 && r.front().serial <= done) {
            r.first = (r.first + 1) % kMaxSegments;
            r.count--;
        }
    }

    void release_ring_memory(Ring &r) {
        if (r.buffer != VK_NULL_HANDLE) {
            d_->vk.vkDestroyBuffer(d_->device, r.buffer, d_->callbacks);
            r.buffer = VK_NULL_HANDLE;
        }
        if (r.allocated) {
            arena_->free(r.alloc);
            r.allocated = false;
        }
        r.alloc = ArenaAllocation{};
        r.capacity = 0;
        r.head = 0;
        r.first = 0;
        r.count = 0;
    }

    int grow(void *uc, Ring &r, VkDeviceSize need) {
        // Everything still using the old buffer must finish first.
        if (r.count > 0) {
            int rc = s_->wait_for(uc, r.back().serial);
            if (rc != 0) {
                return rc;
            }
            retire(r);
        }
        VkDeviceSize cap = r.capacity * 2;
        if (cap < kInitialCapacity) {
            cap = kInitialCapacity;
        }
        if (cap < need) {
            cap = need;
        }
        if (cap > kMaxCapacity) {
            cap = kMaxCapacity > need ? kMaxCapacity : need;
        }
        release_ring_memory(r);

        VkBufferCreateInfo info{};
        info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
        info.size = cap;
        info.usage = r.buffer_usage;
        info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
        VkResult vr = d_->vk.vkCreateBuffer(d_->device, &info, d_->callbacks, &r.buffer);
        if (vr != VK_SUCCESS) {
            r.buffer = VK_NULL_HANDLE;
            return report_error(uc, -16, "staging", "vkCreateBuffer (%llu bytes) failed with %s",
                                static_cast<unsigned long long>(cap), vk_result_name(vr));
        }
        VkMemoryRequirements req{};
        d_->vk.vkGetBufferMemoryRequirements(d_->device, r.buffer, &req);
        int rc = arena_->allocate(uc, req, r.usage, &r.alloc);
        if (rc != 0) {
            release_ring_memory(r);
            return rc;
        }
        r.allocated = true;
        if (r.alloc.mapped == nullptr) {
            release_ring_memory(r);
            return report_error(uc, kGenericError, "staging", "staging memory is not host-visible");
        }
        vr = d_->vk.vkBindBufferMemory(d_->device, r.buffer, r.alloc.memory, r.alloc.offset);
        if (vr != VK_SUCCESS) {
            release_ring_memory(r);
            return report_error(uc, -16, "staging", "vkBindBufferMemory failed with %s", vk_result_name(vr));
        }
        r.capacity = cap;
        reallocations_++;
        return 0;
    }

    Device *d_;
    Submitter *s_;
    Arena *arena_;
    VkDeviceSize align_ = 64;
    Ring rings_[2];
    VkBufferCopy *regions_ = nullptr;
    uint64_t reallocations_ = 0;
};

}  // namespace

int ensure_staging(void *user_context, Device *d, Submitter *s, Arena *arena, Staging **out) {
    if (s->staging == nullptr) {
        StagingImpl *impl = host_new<StagingImpl>(d->callbacks, d, s, arena);
        if (impl == nullptr) {
            *out = nullptr;
            return report_error(user_context, -11, "staging", "out of host memory creating staging state");
        }
        int rc = impl->init(user_context);
        if (rc != 0) {
            impl->shutdown();
            host_delete(d->callbacks, impl);
            *out = nullptr;
            return rc;
        }
        s->staging = impl;
    }
    *out = s->staging;
    return 0;
}

void destroy_staging(Device *d, Staging *staging) {
    StagingImpl *impl = static_cast<StagingImpl *>(staging);
    if (impl == nullptr) {
        return;
    }
    impl->shutdown();
    host_delete(d->callbacks, impl);
}

}  // namespace hvk
