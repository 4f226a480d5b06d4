// The region table: what a halide_buffer_t::device value means.
//
// One process-wide table of entries, allocated in slabs of kSlabEntries
// through the runtime's host allocator (so an application's
// VkAllocationCallbacks see them) and never moved, so an entry's address is
// stable while its slot is occupied. A slot is Free, Live (its handle is
// valid), Zombie (an Owned root whose owner freed it while aliases still use
// its memory: no valid handle names it) or Cached (a freed Owned region kept
// with its VkBuffer and memory for a later device_malloc).
//
// Locking: g_mutex guards slot allocation, the free list and the fields a
// lookup reads (generation, state, device). Every other field of an entry
// belongs to its Device and is only touched with that Device's mutex held,
// which every caller of this file holds.
#include "vulkan/memory/region_table.h"

#include <cstring>
#include <mutex>

#include "vulkan/memory/arena.h"
#include "vulkan/util/host_alloc.h"
#include "common/report.h"
#include "vulkan/submit/submitter.h"
#include "vulkan/util/vk_result.h"

namespace hvk {
namespace {

constexpr uint64_t kTag = 0xA7;
constexpr int kTagShift = 56;
constexpr int kGenerationShift = 24;
constexpr uint32_t kSlotMask = (1u << 24) - 1;
constexpr uint32_t kSlabShift = 9;
constexpr uint32_t kSlabEntries = 1u << kSlabShift;
constexpr uint32_t kMaxSlabs = 1u << (24 - kSlabShift);
constexpr uint32_t kNone = 0xFFFFFFFFu;
constexpr int kBuckets = 256;
// At most this many entries of one size-class list are examined per malloc.
constexpr int kMaxProbe = 8;

enum class State : uint8_t { Free, Live, Zombie, Cached };

struct Entry {
    uint32_t generation;  // of the handle naming this slot; 0 when Free
    State state;
    RegionKind kind;
    uint32_t next;      // free list, or the cache's size-class list
    uint32_t prev;      // cache's size-class list
    uint32_t lru_next;  // cache's LRU list (towards older)
    uint32_t lru_prev;  // (towards newer)
    // CropAlias: the root (Owned or Wrapped) it views.
    // Wrapped: the Owned root whose VkBuffer it wraps, or kNone (foreign).
    uint32_t root;
    uint32_t refs;  // roots: owner handle + aliases + wraps of its VkBuffer
    Device *device;
    VkBuffer buffer;    // the root's VkBuffer (copied into aliases)
    uint64_t offset;    // byte offset of this buffer's device byte 0 in `buffer`
    uint64_t limit;     // end (exclusive) of the usable bytes of `buffer`
    uint64_t last_use;  // Submitter serial of the last recorded GPU use (roots)
    ArenaAllocation alloc;  // Owned roots
};

struct Slab {
    const VkAllocationCallbacks *callbacks;
    Entry entries[kSlabEntries];
};

std::mutex g_mutex;
Slab *g_slabs[kMaxSlabs];
uint32_t g_slab_count = 0;
uint32_t g_free_head = kNone;
uint64_t g_occupied = 0;
uint32_t g_next_generation = 1;

Entry &at(uint32_t slot) {
    return g_slabs[slot >> kSlabShift]->entries[slot & (kSlabEntries - 1)];
}

uint64_t encode(uint32_t slot, uint32_t generation) {
    return (kTag << kTagShift) | (uint64_t(generation) << kGenerationShift) | slot;
}

// Takes a free slot (growing the table by one slab when needed) and gives it
// a fresh generation. kNone when out of host memory. g_mutex held.
uint32_t alloc_slot_locked(const VkAllocationCallbacks *callbacks) {
    if (g_free_head == kNone) {
        if (g_slab_count == kMaxSlabs) {
            return kNone;
        }
        void *mem = host_alloc(callbacks, sizeof(Slab), alignof(Slab), VK_SYSTEM_ALLOCATION_SCOPE_DEVICE);
        if (mem == nullptr) {
            return kNone;
        }
        std::memset(mem, 0, sizeof(Slab));
        Slab *slab = static_cast<Slab *>(mem);
        slab->callbacks = callbacks;
        const uint32_t base = g_slab_count << kSlabShift;
        g_slabs[g_slab_count++] = slab;
        for (uint32_t i = kSlabEntries; i-- > 0;) {
            slab->entries[i].next = g_free_head;
            g_free_head = base + i;
        }
    }
    const uint32_t slot = g_free_head;
    Entry &e = at(slot);
    g_free_head = e.next;
    std::memset(static_cast<void *>(&e), 0, sizeof(Entry));
    e.generation = g_next_generation++;
    if (g_next_generation == 0) {
        g_next_generation = 1;
    }
    e.next = e.prev = e.lru_next = e.lru_prev = e.root = kNone;
    g_occupied++;
    return slot;
}

// Takes a slot for a new live entry of `kind` on `d` (the caller fills in
// the rest of it). False when out of host memory.
bool claim_slot(Device *d, RegionKind kind, uint32_t *slot, uint32_t *generation) {
    std::lock_guard<std::mutex> lock(g_mutex);
    *slot = alloc_slot_locked(d->callbacks);
    *generation = 0;
    if (*slot == kNone) {
        return false;
    }
    Entry &e = at(*slot);
    e.state = State::Live;
    e.kind = kind;
    e.device = d;
    *generation = e.generation;
    return true;
}

void free_slot_locked(uint32_t slot) {
    Entry &e = at(slot);
    std::memset(static_cast<void *>(&e), 0, sizeof(Entry));
    e.state = State::Free;
    e.next = g_free_head;
    g_free_head = slot;
    g_occupied--;
}

void free_slot(uint32_t slot) {
    std::lock_guard<std::mutex> lock(g_mutex);
    free_slot_locked(slot);
}

// Returns every slab to its allocator once nothing occupies the table (so a
// released runtime holds no host memory). g_mutex held.
void free_slabs_if_empty_locked() {
    if (g_occupied != 0 || g_slab_count == 0) {
        return;
    }
    for (uint32_t i = 0; i < g_slab_count; i++) {
        host_free(g_slabs[i]->callbacks, g_slabs[i]);
        g_slabs[i] = nullptr;
    }
    g_slab_count = 0;
    g_free_head = kNone;
}

enum class Bad { None, NotOurs, Stale, OtherDevice };

// Validates `handle` as a Live entry of `d`. g_mutex held.
Bad lookup_locked(uint64_t handle, Device *d, uint32_t *slot_out) {
    if ((handle >> kTagShift) != kTag) {
        return Bad::NotOurs;
    }
    const uint32_t slot = uint32_t(handle) & kSlotMask;
    const uint32_t generation = uint32_t(handle >> kGenerationShift);
    if ((slot >> kSlabShift) >= g_slab_count) {
        return Bad::Stale;
    }
    const Entry &e = at(slot);
    if (e.state != State::Live || e.generation != generation || generation == 0) {
        return Bad::Stale;
    }
    if (e.device != d) {
        return Bad::OtherDevice;
    }
    *slot_out = slot;
    return Bad::None;
}

int report_bad(void *uc, int code, const char *where, uint64_t handle, Bad bad) {
    const unsigned long long h = static_cast<unsigned long long>(handle);
    switch (bad) {
    case Bad::NotOurs:
        return report_error(uc, code, where,
                            "buf->device = 0x%llx is not a live halide-vk-runtime allocation (not a handle this "
                            "runtime made: a foreign or corrupted value)",
                            h);
    case Bad::Stale:
        return report_error(uc, code, where,
                            "buf->device = 0x%llx is not a live halide-vk-runtime allocation (stale: it was freed, "
                            "possibly through a shallow copy of this halide_buffer_t, or its device was released)",
                            h);
    case Bad::OtherDevice:
        return report_error(uc, code, where,
                            "buf->device = 0x%llx belongs to a different VkDevice than the one acquired for this call",
                            h);
    case Bad::None: break;
    }
    return 0;
}

}  // namespace

int check_handle_live(void *uc, uint64_t handle, int code, const char *where) {
    Bad bad = Bad::None;
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        uint32_t slot = 0;
        bad = lookup_locked(handle, nullptr, &slot);
        if (bad == Bad::OtherDevice) {
            bad = Bad::None;  // live, on some device: the caller's lookup decides
        }
    }
    return bad == Bad::None ? 0 : report_bad(uc, code, where, handle, bad);
}

namespace {

int lookup(void *uc, Device *d, uint64_t handle, int code, const char *where, uint32_t *slot) {
    Bad bad;
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        bad = lookup_locked(handle, d, slot);
    }
    return bad == Bad::None ? 0 : report_bad(uc, code, where, handle, bad);
}

// The root an entry views (itself for roots).
uint32_t root_of(uint32_t slot) {
    const Entry &e = at(slot);
    return e.kind == RegionKind::CropAlias ? e.root : slot;
}

// Highest serial of GPU work recorded on the memory `slot` views: its root
// and, for a wrap of a runtime-owned VkBuffer, that owner too.
uint64_t pending_serial(uint32_t slot) {
    uint64_t serial = 0;
    uint32_t s = slot;
    for (int hops = 0; s != kNone && hops < 3; hops++) {
        const Entry &e = at(s);
        serial = e.last_use > serial ? e.last_use : serial;
        s = (e.kind == RegionKind::CropAlias || e.kind == RegionKind::Wrapped) ? e.root : kNone;
    }
    return serial;
}

bool completed(Device *d, uint64_t serial) {
    return serial == 0 || d->submitter == nullptr || d->submitter->completed_serial() >= serial;
}

int wait_serial(void *uc, Device *d, uint64_t serial) {
    if (completed(d, serial)) {
        return 0;
    }
    return d->submitter->wait_for(uc, serial);
}

int size_class(uint64_t size) {
    const int k = 63 - __builtin_clzll(size | 1);
    if (k < 2) {
        return k;
    }
    return k * 4 + int((size >> (k - 2)) & 3);
}

uint64_t round_up(uint64_t v, uint64_t m) {
    return (v + m - 1) / m * m;
}

}  // namespace

// Per-device part: the cache of freed Owned regions and the counters.
class RegionTable {
public:
    uint32_t bucket[kBuckets];  // size-class lists of cached entries (newest first)
    uint32_t lru_newest = kNone;
    uint32_t lru_oldest = kNone;
    uint64_t owned_count = 0;
    uint64_t owned_bytes = 0;
    uint64_t cached_count = 0;
    uint64_t cached_bytes = 0;
    uint64_t created = 0;
    uint64_t destroyed = 0;

    RegionTable() {
        for (uint32_t &b : bucket) {
            b = kNone;
        }
    }
};

namespace {

void cache_unlink(RegionTable *t, uint32_t slot) {
    Entry &e = at(slot);
    const int b = size_class(e.limit);
    if (e.prev != kNone) {
        at(e.prev).next = e.next;
    } else {
        t->bucket[b] = e.next;
    }
    if (e.next != kNone) {
        at(e.next).prev = e.prev;
    }
    if (e.lru_prev != kNone) {
        at(e.lru_prev).lru_next = e.lru_next;
    } else {
        t->lru_newest = e.lru_next;
    }
    if (e.lru_next != kNone) {
        at(e.lru_next).lru_prev = e.lru_prev;
    } else {
        t->lru_oldest = e.lru_prev;
    }
    e.next = e.prev = e.lru_next = e.lru_prev = kNone;
    t->cached_count--;
    t->cached_bytes -= e.alloc.size;
}

void cache_push(RegionTable *t, uint32_t slot) {
    Entry &e = at(slot);
    const int b = size_class(e.limit);
    e.prev = kNone;
    e.next = t->bucket[b];
    if (e.next != kNone) {
        at(e.next).prev = slot;
    }
    t->bucket[b] = slot;
    e.lru_prev = kNone;
    e.lru_next = t->lru_newest;
    if (e.lru_next != kNone) {
        at(e.lru_next).lru_prev = slot;
    } else {
        t->lru_oldest = slot;
    }
    t->lru_newest = slot;
    t->cached_count++;
    t->cached_bytes += e.alloc.size;
}

// A cached entry of at least `size` bytes (and not much more) whose last GPU
// use has completed, unlinked from the cache; kNone if there is none.
uint32_t cache_take(Device *d, RegionTable *t, uint64_t size) {
    const int b = size_class(size);
    const uint64_t most = size + size / 2;
    for (int bb = b; bb <= b + 1 && bb < kBuckets; bb++) {
        int probes = 0;
        for (uint32_t s = t->bucket[bb]; s != kNone && probes < kMaxProbe; s = at(s).next, probes++) {
            const Entry &e = at(s);
            if (e.limit >= size && e.limit <= most && completed(d, e.last_use)) {
                cache_unlink(t, s);
                return s;
            }
        }
    }
    return kNone;
}

// Gives an Owned root's VkBuffer and memory back (after the GPU is done).
int destroy_owned_memory(void *uc, Device *d, Entry &e, bool wait) {
    int rc = 0;
    if (wait) {
        rc = wait_serial(uc, d, e.last_use);
        if (rc != 0 && d->submitter != nullptr) {
            // The wait failed (device lost?): freeing is still the only way
            // forward; make sure nothing is executing before we do.
            d->vk.vkDeviceWaitIdle(d->device);
        }
    }
    if (e.buffer != VK_NULL_HANDLE) {
        d->vk.vkDestroyBuffer(d->device, e.buffer, d->callbacks);
        e.buffer = VK_NULL_HANDLE;
    }
    if (e.alloc.memory != VK_NULL_HANDLE && d->arena != nullptr) {
        d->arena->free(e.alloc);
    }
    e.alloc = ArenaAllocation{};
    if (d->regions != nullptr) {
        d->regions->destroyed++;
    }
    return rc;
}

uint64_t cache_cap(Device *d) {
    return d->arena != nullptr ? d->arena->config().maximum_cached_bytes : 0;
}

// Destroys cached entries, oldest first, until at most `keep` bytes remain.
void cache_trim(void *uc, Device *d, RegionTable *t, uint64_t keep) {
    bool any = false;
    while (t->cached_bytes > keep && t->lru_oldest != kNone) {
        const uint32_t slot = t->lru_oldest;
        cache_unlink(t, slot);
        destroy_owned_memory(uc, d, at(slot), /*wait=*/true);
        free_slot(slot);
        any = true;
    }
    if (any && d->arena != nullptr) {
        d->arena->trim(keep);
    }
}

void drop_ref(void *uc, Device *d, uint32_t slot);

// The last reference to a root went away.
void finalize_root(void *uc, Device *d, uint32_t slot) {
    Entry &e = at(slot);
    RegionTable *t = d->regions;
    if (e.kind == RegionKind::Owned) {
        t->owned_count--;
        t->owned_bytes -= e.alloc.size;
        const uint64_t cap = cache_cap(d);
        if (halide_can_reuse_device_allocations(uc) && cap > 0 && e.alloc.size <= cap) {
            {
                std::lock_guard<std::mutex> lock(g_mutex);
                e.state = State::Cached;
            }
            cache_push(t, slot);
            if (t->cached_bytes > cap) {
                cache_trim(uc, d, t, cap);
            }
            return;
        }
        destroy_owned_memory(uc, d, e, /*wait=*/true);
        free_slot(slot);
        if (d->arena != nullptr) {
            d->arena->trim(0);
        }
        return;
    }
    // Wrapped: metadata only; a wrap of one of our VkBuffers lets go of it.
    const uint32_t owner = e.root;
    const uint64_t last_use = e.last_use;
    free_slot(slot);
    if (owner != kNone) {
        Entry &o = at(owner);
        o.last_use = last_use > o.last_use ? last_use : o.last_use;
        drop_ref(uc, d, owner);
    }
}

void drop_ref(void *uc, Device *d, uint32_t slot) {
    Entry &e = at(slot);
    if (--e.refs == 0) {
        finalize_root(uc, d, slot);
    }
}

// Creates a new Owned region with its own VkBuffer.
int create_owned(void *uc, Device *d, uint64_t size, const char *where, uint64_t *handle) {
    RegionTable *t = d->regions;
    VkBufferCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    info.size = size;
    info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                 VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VkBuffer buffer = VK_NULL_HANDLE;
    VkResult r = d->vk.vkCreateBuffer(d->device, &info, d->callbacks, &buffer);
    if (r != VK_SUCCESS) {
        return report_error(uc, r == VK_ERROR_OUT_OF_HOST_MEMORY ? -11 : -16, where,
                            "vkCreateBuffer of %llu bytes failed: %s", static_cast<unsigned long long>(size),
                            vk_result_name(r));
    }
    VkMemoryRequirements req;
    d->vk.vkGetBufferMemoryRequirements(d->device, buffer, &req);
    // Cached regions must not be what makes a pool limit fail: the arena
    // reports its failures, so make room before asking rather than retrying.
    const uint64_t pool_limit = d->arena->config().maximum_pool_size;
    if (pool_limit != 0 && t->cached_count > 0 && d->arena->stats().block_bytes + req.size > pool_limit) {
        cache_trim(uc, d, t, 0);
        d->arena->trim(0);
    }
    ArenaAllocation alloc;
    int rc = d->arena->allocate(uc, req, MemoryUsage::DeviceLocal, &alloc);
    if (rc != 0) {
        // Already reported by the arena.
        d->vk.vkDestroyBuffer(d->device, buffer, d->callbacks);
        return rc == -11 ? -11 : -16;
    }
    r = d->vk.vkBindBufferMemory(d->device, buffer, alloc.memory, alloc.offset);
    if (r != VK_SUCCESS) {
        d->vk.vkDestroyBuffer(d->device, buffer, d->callbacks);
        d->arena->free(alloc);
        return report_error(uc, -16, where, "vkBindBufferMemory failed: %s", vk_result_name(r));
    }
    uint32_t slot = kNone;
    uint32_t generation;
    if (!claim_slot(d, RegionKind::Owned, &slot, &generation)) {
        d->vk.vkDestroyBuffer(d->device, buffer, d->callbacks);
        d->arena->free(alloc);
        return report_error(uc, -11, where, "out of host memory for the region table");
    }
    Entry &e = at(slot);
    e.refs = 1;
    e.buffer = buffer;
    e.offset = 0;
    e.limit = size;
    e.alloc = alloc;
    t->created++;
    t->owned_count++;
    t->owned_bytes += alloc.size;
    *handle = encode(slot, generation);
    return 0;
}

}  // namespace

bool buffer_span_bytes(const halide_buffer_t *buf, uint64_t *bytes, int64_t *begin_elements) {
    *bytes = 0;
    if (begin_elements != nullptr) {
        *begin_elements = 0;
    }
    if (buf->dimensions < 0 || (buf->dimensions > 0 && buf->dim == nullptr)) {
        return false;
    }
    int64_t begin = 0;
    int64_t end = 1;
    bool empty = false;
    for (int i = 0; i < buf->dimensions; i++) {
        const int64_t extent = buf->dim[i].extent;
        const int64_t stride = buf->dim[i].stride;
        if (extent <= 0) {
            empty = true;
            continue;
        }
        int64_t step;
        if (__builtin_mul_overflow(stride, extent - 1, &step)) {
            return false;
        }
        if (step < 0 ? __builtin_add_overflow(begin, step, &begin) : __builtin_add_overflow(end, step, &end)) {
            return false;
        }
    }
    if (begin_elements != nullptr) {
        *begin_elements = begin;
    }
    if (empty) {
        return true;  // as size_in_bytes(): a degenerate shape spans nothing
    }
    int64_t span;
    if (__builtin_sub_overflow(end, begin, &span)) {
        return false;
    }
    uint64_t total;
    if (__builtin_mul_overflow(uint64_t(span), uint64_t(buf->type.bytes()), &total)) {
        return false;
    }
    *bytes = total;
    return true;
}

int create_region_table(void *uc, Device *d) {
    if (d->regions != nullptr) {
        return 0;
    }
    d->regions = host_new<RegionTable>(d->callbacks);
    if (d->regions == nullptr) {
        return report_error(uc, -11, "region table", "out of host memory for the region table");
    }
    return 0;
}

void destroy_region_table(Device *d) {
    std::lock_guard<std::recursive_mutex> device_lock(d->mutex);
    // Work recorded but not yet submitted may name our VkBuffers: run it now,
    // before they are destroyed (the submitter's own teardown comes later).
    if (d->submitter != nullptr) {
        d->submitter->flush(nullptr, true);
    }
    {
        // The device is idle now, so nothing waits here.
        std::lock_guard<std::mutex> lock(g_mutex);
        for (uint32_t slot = 0; slot < (g_slab_count << kSlabShift); slot++) {
            Entry &e = at(slot);
            if (e.state == State::Free || e.device != d) {
                continue;
            }
            if (e.kind == RegionKind::Owned) {
                if (e.buffer != VK_NULL_HANDLE) {
                    d->vk.vkDestroyBuffer(d->device, e.buffer, d->callbacks);
                }
                if (e.alloc.memory != VK_NULL_HANDLE && d->arena != nullptr) {
                    d->arena->free(e.alloc);
                }
            }
            free_slot_locked(slot);
        }
        free_slabs_if_empty_locked();
    }
    host_delete(d->callbacks, d->regions);
    d->regions = nullptr;
}

int region_allocate_owned(void *uc, Device *d, uint64_t size, const char *where, uint64_t *handle) {
    // VkBuffers are at least 4 bytes and a multiple of 4, so that
    // vkCmdFillBuffer and 4-byte copies can always cover the whole region.
    const uint64_t want = round_up(size == 0 ? 4 : size, 4);
    if (want < size) {
        return report_error(uc, -16, where, "a %llu-byte buffer cannot be allocated",
                            static_cast<unsigned long long>(size));
    }
    RegionTable *t = d->regions;
    const uint32_t slot = cache_take(d, t, want);
    if (slot == kNone) {
        return create_owned(uc, d, want, where, handle);
    }
    // Warm path: no Vulkan call, no heap use.
    uint32_t generation;
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        Entry &e = at(slot);
        e.generation = g_next_generation++;
        if (g_next_generation == 0) {
            g_next_generation = 1;
        }
        e.state = State::Live;
        generation = e.generation;
    }
    Entry &e = at(slot);
    e.refs = 1;
    t->owned_count++;
    t->owned_bytes += e.alloc.size;
    *handle = encode(slot, generation);
    return 0;
}

int region_extent(void *uc, Device *d, uint64_t handle, int code, const char *where, uint64_t *usable,
                  RegionKind *kind) {
    uint32_t slot = kNone;
    if (int rc = lookup(uc, d, handle, code, where, &slot)) {
        return rc;
    }
    const Entry &e = at(slot);
    *usable = e.limit - e.offset;
    *kind = e.kind;
    return 0;
}

int region_release(void *uc, Device *d, uint64_t handle, ReleaseMode mode, const char *where) {
    const int code = mode == ReleaseMode::Free ? -18 : mode == ReleaseMode::Detach ? -33 : -22;
    uint32_t slot = kNone;
    if (int rc = lookup(uc, d, handle, code, where, &slot)) {
        return rc;
    }
    Entry &e = at(slot);
    switch (e.kind) {
    case RegionKind::CropAlias: {
        const uint32_t root = e.root;
        if (mode == ReleaseMode::Detach && at(root).kind != RegionKind::Wrapped) {
            return report_error(uc, code, where,
                                "the buffer is a crop of a runtime allocation, not of a wrapped VkBuffer; release it "
                                "with halide_device_release_crop");
        }
        free_slot(slot);
        drop_ref(uc, d, root);
        return 0;
    }
    case RegionKind::Wrapped: {
        if (e.refs > 1) {
            return report_error(uc, code, where,
                                "the wrapped VkBuffer still has %u live crop(s) or slice(s); release them first",
                                e.refs - 1);
        }
        // The caller may destroy its VkBuffer as soon as we return.
        if (int rc = wait_serial(uc, d, e.last_use)) {
            return rc;
        }
        drop_ref(uc, d, slot);
        return 0;
    }
    case RegionKind::Owned: {
        if (mode == ReleaseMode::Detach) {
            return report_error(uc, code, where,
                                "the buffer's memory was allocated by the runtime (device_malloc), not wrapped; "
                                "free it with halide_device_free");
        }
        {
            std::lock_guard<std::mutex> lock(g_mutex);
            e.state = State::Zombie;  // the handle dies now; memory lives while aliases do
        }
        drop_ref(uc, d, slot);
        return 0;
    }
    }
    return 0;
}

int region_crop(void *uc, Device *d, uint64_t src_handle, uint64_t delta, uint64_t size, const char *where,
                uint64_t *handle) {
    uint32_t src = kNone;
    if (int rc = lookup(uc, d, src_handle, -41, where, &src)) {
        return rc;
    }
    const uint32_t root = root_of(src);
    const uint64_t available = at(src).limit - at(src).offset;
    if (delta > available || size > available - delta) {
        return report_error(uc, -41, where,
                            "the crop (%llu bytes at byte %llu) does not lie inside the parent's %llu-byte region",
                            static_cast<unsigned long long>(size), static_cast<unsigned long long>(delta),
                            static_cast<unsigned long long>(available));
    }
    uint32_t slot = kNone;
    uint32_t generation;
    if (!claim_slot(d, RegionKind::CropAlias, &slot, &generation)) {
        return report_error(uc, -11, where, "out of host memory for the region table");
    }
    const Entry &s = at(src);
    Entry &e = at(slot);
    e.root = root;
    e.buffer = s.buffer;
    e.offset = s.offset + delta;  // offsets of crops of crops accumulate
    e.limit = s.limit;
    at(root).refs++;
    *handle = encode(slot, generation);
    return 0;
}

int region_wrap(void *uc, Device *d, VkBuffer buffer, uint64_t offset, uint64_t size, const char *where,
                uint64_t *handle) {
    // One of our own VkBuffers (halide_vulkan_get_vk_buffer hands them out)?
    uint32_t owner = kNone;
    bool cached = false;
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        for (uint32_t s = 0; s < (g_slab_count << kSlabShift); s++) {
            const Entry &e = at(s);
            if (e.state != State::Free && e.device == d && e.kind == RegionKind::Owned && e.buffer == buffer) {
                owner = s;
                cached = e.state == State::Cached;
                break;
            }
        }
    }
    const unsigned long long off = offset;
    const unsigned long long sz = size;
    uint64_t limit;
    if (owner != kNone) {
        if (cached) {
            return report_error(uc, -32, where,
                                "VkBuffer 0x%llx belongs to a halide-vk-runtime allocation that has been freed",
                                static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(buffer)));
        }
        limit = at(owner).limit;
        if (offset > limit || size > limit - offset) {
            return report_error(uc, -32, where,
                                "offset %llu plus %llu bytes runs past the end of the runtime-owned %llu-byte VkBuffer",
                                off, sz, static_cast<unsigned long long>(limit));
        }
    } else {
        VkMemoryRequirements req;
        d->vk.vkGetBufferMemoryRequirements(d->device, buffer, &req);
        if (offset > req.size || size > req.size - offset) {
            return report_error(uc, -32, where,
                                "offset %llu plus %llu bytes runs past the VkBuffer (its memory requirements say "
                                "%llu bytes)",
                                off, sz, static_cast<unsigned long long>(req.size));
        }
        limit = offset + size;
    }
    uint32_t slot = kNone;
    uint32_t generation;
    if (!claim_slot(d, RegionKind::Wrapped, &slot, &generation)) {
        return report_error(uc, -11, where, "out of host memory for the region table");
    }
    Entry &e = at(slot);
    e.root = owner;
    e.refs = 1;
    e.buffer = buffer;
    e.offset = offset;
    e.limit = limit;
    if (owner != kNone) {
        at(owner).refs++;  // keeps the owner's VkBuffer alive until detach
    }
    *handle = encode(slot, generation);
    return 0;
}

int region_query(void *uc, Device *d, uint64_t handle, int code, const char *where, VkBuffer *buffer,
                 uint64_t *offset) {
    uint32_t slot = kNone;
    if (int rc = lookup(uc, d, handle, code, where, &slot)) {
        return rc;
    }
    *buffer = at(slot).buffer;
    *offset = at(slot).offset;
    return 0;
}

int region_release_unused(void *uc, Device *d) {
    if (d->regions != nullptr) {
        cache_trim(uc, d, d->regions, 0);
    }
    if (d->arena != nullptr) {
        d->arena->trim(0);
    }
    std::lock_guard<std::mutex> lock(g_mutex);
    free_slabs_if_empty_locked();
    return 0;
}

int resolve_device_buffer(void *uc, Device *d, const halide_buffer_t *buf, const char *where,
                          DeviceBufferView *out) {
    if (buf == nullptr) {
        return report_error(uc, -38, where, "the buffer is null");
    }
    if (buf->device == 0) {
        return report_error(uc, -22, where, "the buffer has no device allocation");
    }
    uint32_t slot = kNone;
    if (int rc = lookup(uc, d, buf->device, -22, where, &slot)) {
        return rc;
    }
    const Entry &e = at(slot);
    uint64_t need;
    if (!buffer_span_bytes(buf, &need, nullptr)) {
        return report_error(uc, -22, where, "the buffer's size in bytes overflows 64 bits or its shape is malformed");
    }
    if (need > e.limit - e.offset) {
        return report_error(uc, -22, where,
                            "the buffer spans %llu bytes but its device region has only %llu from its start",
                            static_cast<unsigned long long>(need), static_cast<unsigned long long>(e.limit - e.offset));
    }
    if (d->submitter != nullptr) {
        // Stamp the memory as used by the batch being recorded.
        const uint64_t serial = d->submitter->recording_serial();
        uint32_t s = slot;
        for (int hops = 0; s != kNone && hops < 3; hops++) {
            Entry &x = at(s);
            x.last_use = serial > x.last_use ? serial : x.last_use;
            s = (x.kind == RegionKind::CropAlias || x.kind == RegionKind::Wrapped) ? x.root : kNone;
        }
    }
    out->device = d;
    out->buffer = e.buffer;
    out->offset = e.offset;
    out->size = e.limit - e.offset;
    out->kind = e.kind;
    return 0;
}

namespace {

int map_impl(void *uc, Device *d, const halide_buffer_t *buf, const char *where, bool report, MappedRegion *out) {
    if (buf == nullptr || buf->device == 0) {
        return report ? report_error(uc, -22, where, "the buffer has no device allocation to map") : -22;
    }
    uint32_t slot = kNone;
    {
        Bad bad;
        {
            std::lock_guard<std::mutex> lock(g_mutex);
            bad = lookup_locked(buf->device, d, &slot);
        }
        if (bad != Bad::None) {
            return report ? report_bad(uc, -22, where, buf->device, bad) : -22;
        }
    }
    const uint32_t root = root_of(slot);
    const Entry &r = at(root);
    if (r.kind == RegionKind::Wrapped) {
        return report ? report_error(uc, -22, where,
                                     "map() of a wrapped region is rejected: the VkBuffer belongs to the application "
                                     "and the runtime does not know its memory")
                      : -22;
    }
    if (r.alloc.mapped == nullptr) {
        return report ? report_error(uc, -22, where, "the region's memory is not host visible") : -22;
    }
    // A host access must not race queued GPU work on the same memory.
    if (int rc = wait_serial(uc, d, pending_serial(slot))) {
        return rc;
    }
    const Entry &e = at(slot);
    out->ptr = static_cast<uint8_t *>(r.alloc.mapped) + e.offset;
    out->size = e.limit - e.offset;
    out->allocation = &r.alloc;
    out->allocation_offset = e.offset;
    out->memory_flags = d->memory_properties.memoryTypes[r.alloc.memory_type].propertyFlags;
    return 0;
}

}  // namespace

int map_region(void *uc, Device *d, const halide_buffer_t *buf, const char *where, MappedRegion *out) {
    return map_impl(uc, d, buf, where, true, out);
}

int try_map_region(void *uc, Device *d, const halide_buffer_t *buf, MappedRegion *out) {
    return map_impl(uc, d, buf, "map", false, out);
}

RegionStats region_stats(Device *d) {
    RegionStats s{};
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        s.live_entries = g_occupied;
        s.slabs = g_slab_count;
    }
    if (d != nullptr && d->regions != nullptr) {
        const RegionTable *t = d->regions;
        s.owned_count = t->owned_count;
        s.owned_bytes = t->owned_bytes;
        s.cached_count = t->cached_count;
        s.cached_bytes = t->cached_bytes;
        s.vk_buffers_created = t->created;
        s.vk_buffers_destroyed = t->destroyed;
    }
    return s;
}

}  // namespace hvk
