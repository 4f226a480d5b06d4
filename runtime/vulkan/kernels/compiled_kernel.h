// A compiled kernel as the three units of the kernel path see it:
//   kernel_cache.*      compiles a blob into these and owns their Vulkan
//                       objects (modules, layouts, one pipeline per
//                       specialisation);
//   argument_binding.*  reads an entry point's argument interface (counts,
//                       argument block members, strides, shared memory,
//                       work-group size) and its set layout;
//   dispatch_recorder.* reads its pipeline layout and descriptor path.
// Also what the three share: the error codes of halide_vulkan_run, the
// limits the runtime imposes, and the counters behind kernel_stats().
//
// Thread safety: as kernel_cache.h (Device::mutex held); the counters are
// atomic because kernel_stats() reads them without a device.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "vulkan/util/host_alloc.h"
#include "vulkan/util/vk.h"

namespace hvk {

constexpr int kRunFailed = -23;  // halide_error_code_device_run_failed
constexpr int kLimit = -42;      // halide_error_code_incompatible_device_interface (Halide's choice for limits)
constexpr int kNotFound = -22;   // halide_error_code_internal_error (Halide's choice for lookups)
constexpr const char *kRun = "halide_vulkan_run";

constexpr uint32_t kMaxStorageBuffers = 128;
constexpr uint32_t kMaxSpecEntries = 4;

// One VkPipeline of an entry point: the specialisation values it was
// created with (in the entry point's spec_ids order).
struct Variant {
    uint32_t values[kMaxSpecEntries];
    VkPipeline pipeline;
};

struct EntryPoint {
    char *name = nullptr;
    uint32_t module = 0;
    uint32_t uniform_count = 0;
    uint32_t storage_count = 0;

    // Shared memory (spec 04 §4.8).
    uint32_t shared_count = 0;
    uint64_t static_shared_bytes = 0;
    uint32_t dynamic_shared_count = 0;
    uint32_t dynamic_shared_spec_id = 0;
    uint32_t dynamic_shared_element = 0;
    uint32_t dynamic_shared_default = 0;

    // Work-group size.
    bool dynamic_wg = false;
    uint32_t static_wg[3] = {1, 1, 1};

    // Specialisation map: ids in order (dynamic shared length, then x, y, z).
    uint32_t spec_ids[kMaxSpecEntries] = {};
    uint32_t spec_count = 0;

    // Reflection of the argument block and the storage arrays.
    bool has_uniform_block = false;
    uint32_t member_count = 0;
    uint32_t block_size = 0;
    uint32_t *member_offsets = nullptr;
    uint32_t *member_sizes = nullptr;
    uint32_t *strides = nullptr;  // storage_count entries; 0 = unknown

    VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
    VkPipelineLayout pipeline_layout = VK_NULL_HANDLE;
    bool push = false;  // descriptors are pushed (VK_KHR_push_descriptor), not written into pool sets

    Variant *variants = nullptr;
    uint32_t variant_count = 0;
    uint32_t variant_capacity = 0;
    uint32_t last_variant = 0;

    uint32_t binding_count() const { return uniform_count + storage_count; }
};

// One compiled blob (one pipeline's kernels), found by its state id.
struct CacheEntry {
    uint64_t id = 0;
    uint64_t use_count = 0;
    uint32_t module_count = 0;
    VkShaderModule *modules = nullptr;
    uint32_t entry_count = 0;
    EntryPoint *entries = nullptr;
    uint32_t last_entry = 0;
};

// The counters behind kernel_stats() (kernel_cache.cpp defines them).
struct KernelCounters {
    std::atomic<uint64_t> blob_compilations{0}, shader_modules_created{0}, set_layouts_created{0},
        pipeline_layouts_created{0}, pipelines_created{0}, descriptor_pools_created{0},
        descriptor_sets_allocated{0}, uniform_rings_created{0}, dispatches_recorded{0}, pushed_dispatches{0},
        modules_repaired{0}, validation_warnings{0}, host_allocations{0};
};
extern KernelCounters g_kernel_counters;

// A zeroed array of n (at least 1) T from the context's host allocator,
// counted in KernelStats::host_allocations. Null when out of memory.
template <typename T>
T *alloc_array(const VkAllocationCallbacks *cb, size_t n) {
    if (n == 0) {
        n = 1;
    }
    void *p = host_alloc(cb, sizeof(T) * n, alignof(T), VK_SYSTEM_ALLOCATION_SCOPE_OBJECT);
    g_kernel_counters.host_allocations++;
    if (p != nullptr) {
        std::memset(p, 0, sizeof(T) * n);
    }
    return static_cast<T *>(p);
}

inline VkDeviceSize align_up(VkDeviceSize v, VkDeviceSize a) {
    return a <= 1 ? v : (v + a - 1) / a * a;
}

}  // namespace hvk
