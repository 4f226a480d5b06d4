// The arena: VkDeviceMemory blocks per memory type, each sub-allocated by a
// Tlsf range (vulkan/memory/tlsf.h).
//
// Blocks
//   * A new block is max(minimum_block_size, request) bytes, rounded to the
//     nearest multiple, capped by maximum_block_size (a request above that
//     cap is an error). A request larger than the minimum therefore gets a
//     block of exactly its own size ("dedicated-size"); when freed it stays
//     cached like any other block and serves later requests.
//   * On small heaps (the 256 MiB host-visible device-local "BAR" heap of
//     discrete GPUs without resizable BAR) the minimum shrinks to 1/8 of the
//     heap, so one arena cannot take the whole heap in a few blocks.
//   * Host-visible blocks are mapped once, persistently, at creation; an
//     allocation's `mapped` is the block's base pointer plus its offset.
//   * Blocks are shared by every usage that picks the same memory type (each
//     allocation gets its own VkBuffer from the caller, so usage never
//     matters for binding).
//   * Freeing the last allocation of a block keeps the block (cached); only
//     trim(), a failed vkAllocateMemory or destroy return blocks.
//
// Memory-type choice: the types in memoryTypeBits that carry the usage's
// required flags, best score first (preferred flags add, unwanted flags
// subtract, ties to the lower index); PROTECTED types are never used.
//   DeviceLocal  required DEVICE_LOCAL, avoid HOST_VISIBLE (pure VRAM first);
//                when no allowed type is DEVICE_LOCAL, any allowed type.
//   Upload       required HOST_VISIBLE, prefer HOST_COHERENT, avoid DEVICE_LOCAL.
//   Readback     required HOST_VISIBLE, prefer HOST_CACHED then HOST_COHERENT.
//   Uniform      required HOST_VISIBLE, prefer HOST_COHERENT then DEVICE_LOCAL.
// The best type's existing blocks are tried, then a new block of it; only
// when the driver is out of memory for that type is the next candidate tried.
//
// Non-coherent memory: allocations there are aligned and sized to
// nonCoherentAtomSize, so flushing or invalidating one allocation never
// touches another's atoms; flush/invalidate widen ranges to the atom and
// clamp them to the block.
//
// Out of device memory: empty cached blocks are freed and the allocation is
// tried once more (with a block of just the request's size), then the error
// is reported (device_malloc_failed) and the arena keeps working.
#include "vulkan/memory/arena.h"

#include <cstdio>
#include <cstring>

#include "HalideRuntime.h"
#include "vulkan/util/host_alloc.h"
#include "common/report.h"
#include "vulkan/memory/tlsf.h"
#include "vulkan/util/vk_result.h"

namespace hvk {
namespace {

constexpr const char *kWhere = "device memory arena";

bool is_pow2(uint64_t v) {
    return v != 0 && (v & (v - 1)) == 0;
}

// Rounds v up to a multiple of m (m > 0). False on overflow.
bool round_up(uint64_t v, uint64_t m, uint64_t *out) {
    uint64_t r = v % m;
    if (r == 0) {
        *out = v;
        return true;
    }
    if (v > UINT64_MAX - (m - r)) {
        return false;
    }
    *out = v + (m - r);
    return true;
}

const char *usage_name(MemoryUsage usage) {
    switch (usage) {
    case MemoryUsage::DeviceLocal:
        return "device-local";
    case MemoryUsage::Upload:
        return "upload";
    case MemoryUsage::Readback:
        return "readback";
    case MemoryUsage::Uniform:
        return "uniform";
    }
    return "unknown";
}

unsigned long long ull(uint64_t v) {
    return static_cast<unsigned long long>(v);
}

struct Block {
    VkDeviceMemory memory = VK_NULL_HANDLE;
    uint64_t size = 0;
    uint32_t memory_type = 0;
    uint32_t heap = 0;
    void *mapped = nullptr;
    bool coherent = false;
    Tlsf tlsf;
};

enum class CreateResult { Ok, Limit, OutOfDeviceMemory, OutOfHostMemory, Failed };

// Reports why create_block failed (Limit, OutOfHostMemory or Failed: out of
// device memory moves on to the next memory type instead).
int report_block_failure(void *user_context, CreateResult cr, uint64_t size, MemoryUsage usage, const char *why) {
    const int code = cr == CreateResult::OutOfHostMemory ? halide_error_code_out_of_memory
                                                         : halide_error_code_device_malloc_failed;
    return report_error(user_context, code, kWhere, "cannot allocate %llu bytes of %s memory: %s", ull(size),
                        usage_name(usage), why);
}

class ArenaImpl final : public Arena {
public:
    ArenaImpl(Device *d, const ArenaConfig &config)
        : d_(d), callbacks_(d->callbacks), config_(config), pool_(d->callbacks) {
        // Vulkan guarantees a power of two; anything else only widens ranges.
        atom_ = d->properties.limits.nonCoherentAtomSize == 0 ? 1 : d->properties.limits.nonCoherentAtomSize;
        if (config_.nearest_multiple == 0) {
            config_.nearest_multiple = 1;
        }
        std::memset(&stats_, 0, sizeof(stats_));
    }

    ~ArenaImpl() override {
        for (uint32_t i = 0; i < slot_count_; i++) {
            if (blocks_[i] != nullptr) {
                free_block(i);
            }
        }
        host_free(callbacks_, blocks_);
    }

    const VkAllocationCallbacks *callbacks() const { return callbacks_; }

    int allocate(void *user_context, const VkMemoryRequirements &requirements, MemoryUsage usage,
                 ArenaAllocation *out) override;
    void free(const ArenaAllocation &allocation) override;
    int flush(void *user_context, const ArenaAllocation &a, VkDeviceSize offset, VkDeviceSize size) override {
        return sync(user_context, a, offset, size, true);
    }
    int invalidate(void *user_context, const ArenaAllocation &a, VkDeviceSize offset, VkDeviceSize size) override {
        return sync(user_context, a, offset, size, false);
    }
    void trim(uint64_t keep_bytes) override { trim_blocks(keep_bytes); }
    ArenaStats stats() const override { return stats_; }
    const ArenaConfig &config() const override { return config_; }

private:
    int rank_types(uint32_t type_bits, MemoryUsage usage, uint32_t *out) const;
    uint64_t heap_size(uint32_t type) const {
        return d_->memory_properties.memoryHeaps[d_->memory_properties.memoryTypes[type].heapIndex].size;
    }
    bool type_coherent(uint32_t type) const {
        return (d_->memory_properties.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) != 0;
    }
    bool type_host_visible(uint32_t type) const {
        return (d_->memory_properties.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) != 0;
    }

    // Tries the existing blocks of `type`. 1: done, 0: no room, <0: error (reported).
    int allocate_existing(void *user_context, uint32_t type, uint64_t size, uint64_t alignment, ArenaAllocation *out);
    CreateResult create_block(void *user_context, uint32_t type, uint64_t request, uint32_t *slot_out,
                              char *why, size_t why_size);
    // create_block's steps.
    uint64_t initial_block_size(uint32_t type, uint64_t request) const;
    CreateResult allocate_block_memory(void *user_context, uint32_t type, uint64_t request, uint64_t *block_size,
                                       Block *b, char *why, size_t why_size);
    CreateResult prepare_block(uint32_t type, uint64_t block_size, uint32_t slot, Block *b, char *why,
                               size_t why_size);
    void install_block(void *user_context, uint32_t slot, Block *b);
    bool check_limits(uint64_t request, uint64_t *block_size, char *why, size_t why_size);
    int take_slot(uint32_t *slot);
    void free_block(uint32_t slot);
    uint64_t trim_blocks(uint64_t keep_bytes);
    Block *lookup(const ArenaAllocation &a) const;
    void fill(uint32_t slot, uint32_t node, uint64_t offset, uint64_t size, ArenaAllocation *out);
    int sync(void *user_context, const ArenaAllocation &a, VkDeviceSize offset, VkDeviceSize size, bool flush);

    Device *d_;
    const VkAllocationCallbacks *callbacks_;
    ArenaConfig config_;
    TlsfNodePool pool_;
    uint64_t atom_ = 1;
    Block **blocks_ = nullptr;  // slot table; null entries are free slots
    uint32_t slot_count_ = 0;
    uint32_t slot_capacity_ = 0;
    ArenaStats stats_;
};

int ArenaImpl::rank_types(uint32_t type_bits, MemoryUsage usage, uint32_t *out) const {
    VkMemoryPropertyFlags required = 0;
    switch (usage) {
    case MemoryUsage::DeviceLocal:
        required = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
        break;
    case MemoryUsage::Upload:
    case MemoryUsage::Readback:
    case MemoryUsage::Uniform:
        required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
        break;
    }
    auto score = [&](VkMemoryPropertyFlags f) {
        int s = 0;
        auto has = [&](VkMemoryPropertyFlags bit) { return (f & bit) != 0; };
        switch (usage) {
        case MemoryUsage::DeviceLocal:
            s -= has(VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) ? 1 : 0;
            break;
        case MemoryUsage::Upload:
            s += has(VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) ? 4 : 0;
            s -= has(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) ? 1 : 0;
            break;
        case MemoryUsage::Readback:
            s += has(VK_MEMORY_PROPERTY_HOST_CACHED_BIT) ? 4 : 0;
            s += has(VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) ? 2 : 0;
            s -= has(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) ? 1 : 0;
            break;
        case MemoryUsage::Uniform:
            s += has(VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) ? 4 : 0;
            s += has(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) ? 1 : 0;
            break;
        }
        // AMD's device-coherent/uncached types are slow for ordinary use.
        if (has(VK_MEMORY_PROPERTY_DEVICE_COHERENT_BIT_AMD) || has(VK_MEMORY_PROPERTY_DEVICE_UNCACHED_BIT_AMD)) {
            s -= 16;
        }
        return s;
    };
    const VkPhysicalDeviceMemoryProperties &mp = d_->memory_properties;
    int scores[VK_MAX_MEMORY_TYPES];
    int count = 0;
    for (int pass = 0; pass < 2 && count == 0; pass++) {
        if (pass == 1 && usage != MemoryUsage::DeviceLocal) {
            break;  // host-visible usages cannot fall back: the memory must map
        }
        for (uint32_t i = 0; i < mp.memoryTypeCount && i < VK_MAX_MEMORY_TYPES; i++) {
            VkMemoryPropertyFlags f = mp.memoryTypes[i].propertyFlags;
            if (!(type_bits & (1u << i)) || (f & VK_MEMORY_PROPERTY_PROTECTED_BIT) != 0) {
                continue;
            }
            if (pass == 0 && (f & required) != required) {
                continue;
            }
            // Insertion sort: by score, descending; equal scores keep index order.
            int s = score(f);
            int j = count++;
            while (j > 0 && scores[j - 1] < s) {
                scores[j] = scores[j - 1];
                out[j] = out[j - 1];
                j--;
            }
            scores[j] = s;
            out[j] = i;
        }
    }
    return count;
}

Block *ArenaImpl::lookup(const ArenaAllocation &a) const {
    if (a.block >= slot_count_ || blocks_[a.block] == nullptr) {
        return nullptr;
    }
    Block *b = blocks_[a.block];
    if (b->memory != a.memory || !b->tlsf.owns(a.node)) {
        return nullptr;
    }
    const TlsfNode &n = pool_.node(a.node);
    if (n.offset != a.offset || n.size != a.size) {
        return nullptr;
    }
    return b;
}

void ArenaImpl::fill(uint32_t slot, uint32_t node, uint64_t offset, uint64_t size, ArenaAllocation *out) {
    Block *b = blocks_[slot];
    out->memory = b->memory;
    out->offset = offset;
    out->size = size;
    out->mapped = b->mapped != nullptr ? static_cast<uint8_t *>(b->mapped) + offset : nullptr;
    out->coherent = b->coherent;
    out->memory_type = b->memory_type;
    out->block = slot;
    out->node = node;
    stats_.allocation_count++;
    stats_.allocated_bytes += size;
    if (b->tlsf.allocation_count() == 1) {
        stats_.cached_bytes -= b->size;  // the block was empty until now
    }
}

int ArenaImpl::allocate_existing(void *user_context, uint32_t type, uint64_t size, uint64_t alignment,
                                 ArenaAllocation *out) {
    // Fill blocks already in use first, so empty ones stay trimmable.
    uint32_t empty_fit = UINT32_MAX;
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < slot_count_; i++) {
            Block *b = blocks_[i];
            if (b == nullptr || b->memory_type != type || b->size < size) {
                continue;
            }
            if (pass == 0 && b->tlsf.empty()) {
                if (empty_fit == UINT32_MAX) {
                    empty_fit = i;
                }
                continue;
            }
            if (pass == 1 && i != empty_fit) {
                continue;
            }
            uint32_t node = kTlsfNil;
            uint64_t offset = 0;
            TlsfStatus st = b->tlsf.allocate(size, alignment, &node, &offset);
            if (st == TlsfStatus::Ok) {
                fill(i, node, offset, size, out);
                return 1;
            }
            if (st == TlsfStatus::OutOfHostMemory) {
                return report_error(user_context, halide_error_code_out_of_memory, kWhere,
                                    "out of host memory for allocation metadata");
            }
        }
        if (empty_fit == UINT32_MAX) {
            break;
        }
    }
    return 0;
}

// Applies the configured and device limits to a new block of `*block_size`
// bytes (at least `request`), shrinking it toward `request` where that
// helps. False (with `why`) when no block of `request` bytes may be created.
bool ArenaImpl::check_limits(uint64_t request, uint64_t *block_size, char *why, size_t why_size) {
    uint64_t max_count = config_.maximum_block_count;
    uint32_t device_max = d_->properties.limits.maxMemoryAllocationCount;
    if (max_count != 0 && stats_.block_count >= max_count) {
        std::snprintf(why, why_size,
                      "the maximum block count (%llu, field 4 of HL_VK_ALLOC_CONFIG) is reached",
                      ull(max_count));
        return false;
    }
    if (device_max != 0 && stats_.block_count >= device_max) {
        std::snprintf(why, why_size, "the device's maxMemoryAllocationCount (%u) is reached", device_max);
        return false;
    }
    if (config_.maximum_pool_size != 0) {
        uint64_t room = config_.maximum_pool_size > stats_.block_bytes ? config_.maximum_pool_size - stats_.block_bytes : 0;
        if (room < request) {
            std::snprintf(why, why_size,
                          "the maximum pool size (%llu bytes, field 1 of HL_VK_ALLOC_CONFIG) would be exceeded: "
                          "%llu bytes in %llu blocks already, %llu more needed",
                          ull(config_.maximum_pool_size), ull(stats_.block_bytes), ull(stats_.block_count),
                          ull(request));
            return false;
        }
        if (*block_size > room) {
            *block_size = room / config_.nearest_multiple * config_.nearest_multiple;
            if (*block_size < request) {
                *block_size = request;
            }
        }
    }
    return true;
}

int ArenaImpl::take_slot(uint32_t *slot) {
    for (uint32_t i = 0; i < slot_count_; i++) {
        if (blocks_[i] == nullptr) {
            *slot = i;
            return 0;
        }
    }
    if (slot_count_ == slot_capacity_) {
        uint32_t capacity = slot_capacity_ == 0 ? 16 : slot_capacity_ * 2;
        auto **table = static_cast<Block **>(
            host_alloc(callbacks_, sizeof(Block *) * capacity, alignof(Block *), VK_SYSTEM_ALLOCATION_SCOPE_OBJECT));
        if (table == nullptr) {
            return -1;
        }
        if (slot_count_ > 0) {
            std::memcpy(table, blocks_, sizeof(Block *) * slot_count_);
        }
        host_free(callbacks_, blocks_);
        blocks_ = table;
        slot_capacity_ = capacity;
    }
    blocks_[slot_count_] = nullptr;
    *slot = slot_count_++;
    return 0;
}

// The size of a new block for `request` bytes of `type`, before the limits:
// the minimum block size (at most 1/8 of the heap, rounded to the nearest
// multiple) or the request when larger, capped by the maximum block size.
uint64_t ArenaImpl::initial_block_size(uint32_t type, uint64_t request) const {
    const uint64_t heap = heap_size(type);
    uint64_t minimum = config_.minimum_block_size;
    if (heap != 0 && minimum > heap / 8) {
        minimum = heap / 8;
    }
    if (!round_up(minimum, config_.nearest_multiple, &minimum)) {
        minimum = request;
    }
    uint64_t block_size = request > minimum ? request : minimum;
    if (config_.maximum_block_size != 0 && block_size > config_.maximum_block_size) {
        block_size = config_.maximum_block_size > request ? config_.maximum_block_size : request;
    }
    if (block_size > Tlsf::kMaxCapacity) {
        block_size = request;
    }
    return block_size;
}

// vkAllocateMemory for `b`: `*block_size` bytes, or after a failure (with
// the cached blocks freed) just `request` bytes, which *block_size becomes.
CreateResult ArenaImpl::allocate_block_memory(void *user_context, uint32_t type, uint64_t request,
                                              uint64_t *block_size, Block *b, char *why, size_t why_size) {
    VkMemoryAllocateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
    info.memoryTypeIndex = type;
    VkResult r = VK_ERROR_OUT_OF_DEVICE_MEMORY;
    for (int attempt = 0; attempt < 2; attempt++) {
        info.allocationSize = *block_size;
        r = d_->vk.vkAllocateMemory(d_->device, &info, d_->callbacks, &b->memory);
        if (r == VK_SUCCESS) {
            return CreateResult::Ok;
        }
        b->memory = VK_NULL_HANDLE;
        if (attempt == 0) {
            // Give cached memory back, and ask for no more than needed.
            uint64_t freed = trim_blocks(0);
            log_debug(user_context, "vkAllocateMemory(%llu bytes, type %u) failed (%s); freed %llu cached bytes, retrying",
                      ull(*block_size), type, vk_result_name(r), ull(freed));
            *block_size = request;
        }
    }
    std::snprintf(why, why_size, "vkAllocateMemory of %llu bytes from memory type %u failed: %s", ull(*block_size),
                  type, vk_result_name(r));
    return (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) ? CreateResult::OutOfDeviceMemory
                                                                                   : CreateResult::Failed;
}

// Fills in the record of `b` (its memory allocated), maps host-visible
// memory and sets up the block's Tlsf. On failure the memory is freed
// again (the record is the caller's).
CreateResult ArenaImpl::prepare_block(uint32_t type, uint64_t block_size, uint32_t slot, Block *b, char *why,
                                      size_t why_size) {
    b->size = block_size;
    b->memory_type = type;
    b->heap = d_->memory_properties.memoryTypes[type].heapIndex;
    b->coherent = type_coherent(type);
    stats_.device_allocations_made++;
    if (type_host_visible(type)) {
        VkResult r = d_->vk.vkMapMemory(d_->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped);
        if (r != VK_SUCCESS) {
            d_->vk.vkFreeMemory(d_->device, b->memory, d_->callbacks);
            std::snprintf(why, why_size, "vkMapMemory of a %llu-byte block of memory type %u failed: %s",
                          ull(block_size), type, vk_result_name(r));
            return CreateResult::Failed;
        }
    }
    if (!b->tlsf.init(&pool_, block_size, slot + 1)) {
        if (b->mapped != nullptr) {
            d_->vk.vkUnmapMemory(d_->device, b->memory);
        }
        d_->vk.vkFreeMemory(d_->device, b->memory, d_->callbacks);
        std::snprintf(why, why_size, "out of host memory for allocation metadata");
        return CreateResult::OutOfHostMemory;
    }
    return CreateResult::Ok;
}

// Puts the ready block `b` into `slot` and counts it (it starts cached: empty).
void ArenaImpl::install_block(void *user_context, uint32_t slot, Block *b) {
    blocks_[slot] = b;
    stats_.block_count++;
    stats_.block_bytes += b->size;
    stats_.cached_bytes += b->size;
    if (stats_.block_bytes > stats_.peak_block_bytes) {
        stats_.peak_block_bytes = stats_.block_bytes;
    }
    log_debug(user_context, "new %llu-byte block %u of memory type %u%s", ull(b->size), slot, b->memory_type,
              b->mapped != nullptr ? " (mapped)" : "");
}

CreateResult ArenaImpl::create_block(void *user_context, uint32_t type, uint64_t request, uint32_t *slot_out,
                                     char *why, size_t why_size) {
    const uint64_t heap = heap_size(type);
    if (heap != 0 && request > heap) {
        std::snprintf(why, why_size, "the request (%llu bytes) is larger than memory heap %u (%llu bytes)",
                      ull(request), d_->memory_properties.memoryTypes[type].heapIndex, ull(heap));
        return CreateResult::OutOfDeviceMemory;
    }
    uint64_t block_size = initial_block_size(type, request);
    if (!check_limits(request, &block_size, why, why_size)) {
        // Empty cached blocks count against the limits: drop them and look again.
        if (trim_blocks(0) == 0 || !check_limits(request, &block_size, why, why_size)) {
            return CreateResult::Limit;
        }
    }

    uint32_t slot = 0;
    if (take_slot(&slot) != 0) {
        std::snprintf(why, why_size, "out of host memory for the block table");
        return CreateResult::OutOfHostMemory;
    }
    Block *b = host_new<Block>(callbacks_);
    if (b == nullptr) {
        std::snprintf(why, why_size, "out of host memory for a block record");
        return CreateResult::OutOfHostMemory;
    }
    CreateResult result = allocate_block_memory(user_context, type, request, &block_size, b, why, why_size);
    if (result == CreateResult::Ok) {
        result = prepare_block(type, block_size, slot, b, why, why_size);
    }
    if (result != CreateResult::Ok) {
        host_delete(callbacks_, b);
        return result;
    }
    install_block(user_context, slot, b);
    *slot_out = slot;
    return CreateResult::Ok;
}

void ArenaImpl::free_block(uint32_t slot) {
    Block *b = blocks_[slot];
    if (b->mapped != nullptr) {
        d_->vk.vkUnmapMemory(d_->device, b->memory);
    }
    d_->vk.vkFreeMemory(d_->device, b->memory, d_->callbacks);
    stats_.block_count--;
    stats_.block_bytes -= b->size;
    if (b->tlsf.empty()) {
        stats_.cached_bytes -= b->size;
    } else {
        // Only destroy frees blocks that still hold allocations.
        stats_.allocation_count -= b->tlsf.allocation_count();
        stats_.allocated_bytes -= b->tlsf.used_bytes();
    }
    host_delete(callbacks_, b);  // returns the block's nodes to the pool
    blocks_[slot] = nullptr;
}

uint64_t ArenaImpl::trim_blocks(uint64_t keep_bytes) {
    uint64_t kept = 0;
    uint64_t freed = 0;
    for (uint32_t i = 0; i < slot_count_; i++) {
        Block *b = blocks_[i];
        if (b == nullptr || !b->tlsf.empty()) {
            continue;
        }
        if (keep_bytes != 0 && kept + b->size <= keep_bytes) {
            kept += b->size;
            continue;
        }
        freed += b->size;
        free_block(i);
    }
    return freed;
}

int ArenaImpl::allocate(void *user_context, const VkMemoryRequirements &requirements, MemoryUsage usage,
                        ArenaAllocation *out) {
    if (out == nullptr) {
        return report_error(user_context, halide_error_code_internal_error, kWhere, "null output allocation");
    }
    *out = ArenaAllocation{};
    uint64_t alignment = requirements.alignment == 0 ? 1 : requirements.alignment;
    if (!is_pow2(alignment)) {
        return report_error(user_context, halide_error_code_device_malloc_failed, kWhere,
                            "memory requirements give alignment %llu, which is not a power of two", ull(alignment));
    }
    uint64_t request = 0;
    if (!round_up(requirements.size == 0 ? 1 : requirements.size, config_.nearest_multiple, &request) ||
        request > Tlsf::kMaxCapacity) {
        return report_error(user_context, halide_error_code_device_malloc_failed, kWhere,
                            "a request of %llu bytes is too large", ull(requirements.size));
    }
    if (config_.maximum_block_size != 0 && request > config_.maximum_block_size) {
        return report_error(user_context, halide_error_code_device_malloc_failed, kWhere,
                            "a request of %llu bytes exceeds the maximum block size (%llu bytes, field 3 of "
                            "HL_VK_ALLOC_CONFIG)",
                            ull(request), ull(config_.maximum_block_size));
    }
    uint32_t types[VK_MAX_MEMORY_TYPES];
    int count = rank_types(requirements.memoryTypeBits, usage, types);
    if (count == 0) {
        return report_error(user_context, halide_error_code_device_malloc_failed, kWhere,
                            "no memory type allowed by memoryTypeBits 0x%x suits %s memory (host-visible required)",
                            requirements.memoryTypeBits, usage_name(usage));
    }

    char why[384] = "";
    for (int c = 0; c < count; c++) {
        const uint32_t type = types[c];
        uint64_t size = request;
        uint64_t align = alignment;
        if (type_host_visible(type) && !type_coherent(type) && atom_ > 1 && is_pow2(atom_)) {
            // Keep other allocations out of this one's atoms.
            if (!round_up(size, atom_, &size)) {
                return report_error(user_context, halide_error_code_device_malloc_failed, kWhere,
                                    "a request of %llu bytes is too large", ull(requirements.size));
            }
            align = align > atom_ ? align : atom_;
        }
        int r = allocate_existing(user_context, type, size, align, out);
        if (r != 0) {
            return r < 0 ? r : 0;
        }
        uint32_t slot = 0;
        CreateResult cr = create_block(user_context, type, size, &slot, why, sizeof(why));
        if (cr == CreateResult::Ok) {
            uint32_t node = kTlsfNil;
            uint64_t offset = 0;
            TlsfStatus st = blocks_[slot]->tlsf.allocate(size, align, &node, &offset);
            if (st == TlsfStatus::Ok) {
                fill(slot, node, offset, size, out);
                return 0;
            }
            // Offset 0 of a block at least `size` long always fits: only host memory can fail here.
            return report_error(user_context, halide_error_code_out_of_memory, kWhere,
                                "out of host memory for allocation metadata");
        }
        if (cr != CreateResult::OutOfDeviceMemory) {
            return report_block_failure(user_context, cr, size, usage, why);
        }
        // Out of device memory for this type: try the next candidate.
    }
    return report_error(user_context, halide_error_code_device_malloc_failed, kWhere,
                        "out of device memory: cannot allocate %llu bytes of %s memory (%s; %llu bytes in %llu "
                        "blocks held by the arena)",
                        ull(request), usage_name(usage), why, ull(stats_.block_bytes), ull(stats_.block_count));
}

void ArenaImpl::free(const ArenaAllocation &a) {
    if (a.memory == VK_NULL_HANDLE && a.node == kTlsfNil) {
        return;  // an empty allocation
    }
    Block *b = lookup(a);
    if (b == nullptr) {
        report_error(nullptr, halide_error_code_device_free_failed, kWhere,
                     "free of an allocation that is not live (offset %llu, %llu bytes); ignored", ull(a.offset),
                     ull(a.size));
        return;
    }
    b->tlsf.free(a.node);
    stats_.allocation_count--;
    stats_.allocated_bytes -= a.size;
    if (b->tlsf.empty()) {
        stats_.cached_bytes += b->size;  // kept for reuse; the region layer trims
    }
}

int ArenaImpl::sync(void *user_context, const ArenaAllocation &a, VkDeviceSize offset, VkDeviceSize size,
                    bool flush) {
    const int code = flush ? halide_error_code_copy_to_device_failed : halide_error_code_copy_to_host_failed;
    const char *what = flush ? "flush" : "invalidate";
    Block *b = lookup(a);
    if (b == nullptr) {
        return report_error(user_context, code, kWhere, "%s of an allocation that is not live", what);
    }
    if (b->mapped == nullptr) {
        return report_error(user_context, code, kWhere, "%s of memory that is not host visible", what);
    }
    if (offset > a.size) {
        return report_error(user_context, code, kWhere, "%s range starts at %llu, past the allocation's %llu bytes",
                            what, ull(offset), ull(a.size));
    }
    if (size == VK_WHOLE_SIZE) {
        size = a.size - offset;
    }
    if (size > a.size - offset) {
        return report_error(user_context, code, kWhere, "%s range [%llu, +%llu) exceeds the allocation's %llu bytes",
                            what, ull(offset), ull(size), ull(a.size));
    }
    if (b->coherent || size == 0) {
        return 0;
    }
    uint64_t begin = (a.offset + offset) / atom_ * atom_;
    uint64_t end = a.offset + offset + size;
    if (!round_up(end, atom_, &end) || end > b->size) {
        end = b->size;
    }
    VkMappedMemoryRange range{};
    range.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE;
    range.memory = b->memory;
    range.offset = begin;
    range.size = end - begin;
    VkResult r = flush ? d_->vk.vkFlushMappedMemoryRanges(d_->device, 1, &range)
                       : d_->vk.vkInvalidateMappedMemoryRanges(d_->device, 1, &range);
    if (r != VK_SUCCESS) {
        return report_error(user_context, code, kWhere, "vk%sMappedMemoryRanges failed: %s",
                            flush ? "Flush" : "Invalidate", vk_result_name(r));
    }
    return 0;
}

}  // namespace

int Arena::create(void *user_context, Device *d, const ArenaConfig &config, Arena **out) {
    if (out == nullptr || d == nullptr || d->device == VK_NULL_HANDLE) {
        return report_error(user_context, halide_error_code_internal_error, kWhere, "arena created without a device");
    }
    *out = nullptr;
    if (config.nearest_multiple != 0 && !is_pow2(config.nearest_multiple)) {
        return report_error(user_context, halide_error_code_device_malloc_failed, kWhere,
                            "nearest multiple %u is not a power of two (field 5 of HL_VK_ALLOC_CONFIG)",
                            config.nearest_multiple);
    }
    if (d->vk.vkAllocateMemory == nullptr || d->vk.vkFreeMemory == nullptr || d->vk.vkMapMemory == nullptr ||
        d->vk.vkUnmapMemory == nullptr || d->vk.vkFlushMappedMemoryRanges == nullptr ||
        d->vk.vkInvalidateMappedMemoryRanges == nullptr) {
        return report_error(user_context, halide_error_code_internal_error, kWhere,
                            "the device's memory entry points are not loaded");
    }
    ArenaImpl *a = host_new<ArenaImpl>(d->callbacks, d, config);
    if (a == nullptr) {
        return report_error(user_context, halide_error_code_out_of_memory, kWhere, "out of host memory");
    }
    *out = a;
    return 0;
}

void Arena::destroy(Device *d, Arena *a) {
    (void)d;
    if (a == nullptr) {
        return;
    }
    auto *impl = static_cast<ArenaImpl *>(a);
    const VkAllocationCallbacks *callbacks = impl->callbacks();
    host_delete(callbacks, impl);
}

}  // namespace hvk
