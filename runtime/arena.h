// The arena allocator: large VkDeviceMemory blocks per memory type,
// sub-allocated with a two-level segregated-fit (TLSF) free list, so
// allocate/free are O(1) and neighbouring free ranges coalesce.
//
// The arena hands out memory ranges only; whoever allocates creates and
// binds its own VkBuffer (the region table does, one per Owned region).
// Thread safety: callers hold Device::mutex.
#pragma once

#include <cstdint>

#include "device.h"

namespace hvk {

// Configuration: Halide's HL_VK_ALLOC_CONFIG fields plus our own.
struct ArenaConfig {
    uint64_t maximum_pool_size = 0;       // bytes over all blocks; 0 = unlimited
    uint64_t minimum_block_size = 32ull << 20;  // a new block is at least this big
    uint64_t maximum_block_size = 0;      // 0 = unlimited; larger requests fail
    uint32_t maximum_block_count = 0;     // 0 = unlimited
    uint32_t nearest_multiple = 32;       // sizes round up to a multiple of this
    uint64_t maximum_cached_bytes = 256ull << 20;  // empty blocks kept beyond this are freed
};

// Parses "pool_MiB:min_block_MiB:max_block_MiB:max_count:multiple" as
// Halide does (positional, missing fields keep their defaults), with 64-bit
// arithmetic and a clear message for non-numbers. Returns true on success;
// on failure writes a message to `error`.
bool parse_alloc_config(const char *text, ArenaConfig *config, char *error, size_t error_size);

enum class MemoryUsage : uint8_t {
    DeviceLocal,  // kernels' buffers: DEVICE_LOCAL required
    Upload,       // host writes, device reads: HOST_VISIBLE, prefer COHERENT
    Readback,     // device writes, host reads: HOST_VISIBLE, prefer CACHED
    Uniform,      // kernel argument ring: HOST_VISIBLE|HOST_COHERENT preferred
};

struct ArenaAllocation {
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkDeviceSize offset = 0;       // inside `memory`, aligned as requested
    VkDeviceSize size = 0;         // bytes usable from `offset`
    void *mapped = nullptr;        // host pointer to `offset` for host-visible memory, else null
    bool coherent = false;         // false: flush/invalidate needed (nonCoherentAtomSize honoured)
    uint32_t memory_type = 0;
    uint32_t block = 0;            // opaque to callers
    uint32_t node = 0;             // opaque to callers
};

struct ArenaStats {
    uint64_t block_count;
    uint64_t block_bytes;
    uint64_t allocation_count;
    uint64_t allocated_bytes;
    uint64_t peak_block_bytes;
    uint64_t device_allocations_made;  // vkAllocateMemory calls since creation
};

class Arena {
public:
    static int create(void *user_context, Device *d, const ArenaConfig &config, Arena **out);
    static void destroy(Device *d, Arena *a);  // frees every block

    // Allocates `requirements.size` bytes aligned to `requirements.alignment`
    // from a memory type in `requirements.memoryTypeBits` suited to `usage`.
    // Errors: halide_error_code_device_malloc_failed / out_of_memory (reported).
    virtual int allocate(void *user_context, const VkMemoryRequirements &requirements, MemoryUsage usage,
                         ArenaAllocation *out) = 0;
    virtual void free(const ArenaAllocation &allocation) = 0;

    // Host visibility for non-coherent memory, ranges widened to nonCoherentAtomSize.
    virtual int flush(void *user_context, const ArenaAllocation &a, VkDeviceSize offset, VkDeviceSize size) = 0;
    virtual int invalidate(void *user_context, const ArenaAllocation &a, VkDeviceSize offset, VkDeviceSize size) = 0;

    // Frees empty blocks: all of them (keep_bytes = 0) or those beyond keep_bytes.
    virtual void trim(uint64_t keep_bytes) = 0;

    virtual ArenaStats stats() const = 0;
    virtual const ArenaConfig &config() const = 0;
    virtual ~Arena() = default;
};

}  // namespace hvk
