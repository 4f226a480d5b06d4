// The arena allocator: large VkDeviceMemory blocks per memory type,
// sub-allocated with a two-level segregated-fit (TLSF) free list, so
// allocate/free are O(1) and neighbouring free ranges coalesce.
//
// The arena hands out memory ranges only; whoever allocates creates and
// binds its own VkBuffer (the region table does, one per Owned region).
// Thread safety: callers hold Device::mutex.
#pragma once

#include <cstdint>

#include "vulkan/context/device.h"

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

// Parses HL_VK_ALLOC_CACHE_MB (our own variable, not Halide's): a
// non-negative integer number of MiB for ArenaConfig::maximum_cached_bytes.
// Empty text keeps the current value. Same error contract as above.
bool parse_cache_megabytes(const char *text, uint64_t *bytes, char *error, size_t error_size);

// The configuration a new context's arena uses: defaults, then
// HL_VK_ALLOC_CONFIG (halide_vulkan_set_alloc_config or the environment,
// through read_setting), then HL_VK_ALLOC_CACHE_MB from the environment.
// A value that does not parse is reported with report_warning and ignored
// (that variable's fields keep their defaults).
ArenaConfig arena_config_from_settings(void *user_context);

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
    uint64_t device_allocations_made;  // vkAllocateMemory calls since creation (successful ones)
    uint64_t cached_bytes;             // bytes of blocks that hold no allocation (what trim() can free)
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
