// Compiled kernels of one Device, and the entry points behind
// halide_vulkan_initialize_kernels / halide_vulkan_run /
// halide_vulkan_finalize_kernels.
//
// State slots (spec 04 §4.1): initialize_kernels stores a process-unique
// integer id (2, 3, ...) in the pipeline's slot, never a pointer. Each
// Device's cache maps ids to compiled blobs, so after
// halide_device_release (a new Device, an empty cache) or on another
// device, the same id simply compiles again. finalize only drops a use
// count and submits the open batch; nothing depends on it being called.
//
// What is cached per entry point: descriptor set layout and pipeline layout
// (created when the blob is compiled), and one VkPipeline per set of
// specialisation values (work-group size, dynamic shared-memory length),
// created on first use.
//
// A dispatch (kernels_run, in api/kernels.cpp) is three steps, one unit
// each: find the kernel and its specialised pipeline (KernelCache, here),
// bind the arguments (argument_binding.h: checks, the uniform ring,
// descriptors), record the dispatch (dispatch_recorder.h). A warm dispatch
// creates no Vulkan object and allocates no host memory.
//
// Error codes of halide_vulkan_run: -22 unknown state id / entry point /
// buffer without a (valid) device allocation; -23 arguments that do not
// match the kernel (buffer/scalar counts, sizes, an offset that cannot be
// expressed); -42 a device limit (work-group size/count, shared memory,
// storage range); -1 a Vulkan failure; -11 out of memory.
// initialize_kernels: -1 for a bad blob, an invalid module (strict policy)
// or one the device cannot run; -36 for the context.
//
// Thread safety: every function here is called with Device::mutex held.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cstring>

#include "vulkan/context/device.h"
#include "vulkan/kernels/argument_binding.h"
#include "vulkan/kernels/compiled_kernel.h"
#include "vulkan/kernels/dispatch_recorder.h"

namespace hvk {

// Process-wide counters (tests check that warm dispatches create nothing).
struct KernelStats {
    uint64_t blob_compilations;      // cache misses in initialize_kernels
    uint64_t shader_modules_created;
    uint64_t set_layouts_created;
    uint64_t pipeline_layouts_created;
    uint64_t pipelines_created;
    uint64_t descriptor_pools_created;
    uint64_t descriptor_sets_allocated;  // pool path only
    uint64_t uniform_rings_created;
    uint64_t dispatches_recorded;
    uint64_t pushed_dispatches;          // dispatches that used push descriptors
    uint64_t modules_repaired;
    uint64_t validation_warnings;        // modules that failed validation under "warn"
    uint64_t host_allocations;           // host_alloc calls made by the kernel cache
};
KernelStats kernel_stats();

// Test knob: caches created after this call use descriptor pools even when
// the device has VK_KHR_push_descriptor.
void kernel_cache_set_force_descriptor_pools(bool force);

// kernels_initialize and kernels_finalize are defined in kernel_cache.cpp;
// kernels_run, which composes the three units, in api/kernels.cpp.
int kernels_initialize(void *user_context, Device *d, void **state_slot, const char *src, int size);
void kernels_finalize(void *user_context, Device *d, void *state);
int kernels_run(void *user_context, Device *d, void *state, const char *entry_name, const int blocks[3],
                const int threads[3], int shared_mem_bytes, const size_t arg_sizes[], void *const args[],
                const int8_t arg_is_buffer[]);

// True if `state` is an id this process has handed out.
bool kernels_is_issued_id(void *state);

class DecodedBlob;

// Device::kernels points at one of these (torn down at order 10, before
// the region table, the submitter and the arena). Device::kernels is the
// one per-device slot of the kernel path, so the cache also carries the
// per-device state of the binding and recording units; it does not use
// them itself.
class KernelCache {
public:
    explicit KernelCache(Device *d) : d_(d), cb_(d->callbacks), binder_(d) {}
    ~KernelCache();
    KernelCache(const KernelCache &) = delete;
    KernelCache &operator=(const KernelCache &) = delete;

    int init(void *uc);
    int initialize(void *uc, void **slot, const char *src, int size);
    void finalize(void *state);

    // Step 1 of a dispatch: the entry point `entry_name` of the blob behind
    // `state`, then (after argument binding checked the launch) its
    // pipeline for the specialisation values `values`. Inline fast paths:
    // the last kernel and the last specialisation used.
    inline int find_kernel(void *uc, void *state, const char *entry_name, CacheEntry **ce, EntryPoint **ep);
    inline int get_pipeline(void *uc, const CacheEntry &ce, EntryPoint *ep, const uint32_t values[kMaxSpecEntries],
                            VkPipeline *out);

    ArgumentBinder &binder() { return binder_; }
    DispatchRecorder &recorder() { return recorder_; }

private:
    CacheEntry *find(uint64_t id);
    int find_kernel_slow(void *uc, void *state, const char *entry_name, CacheEntry **ce, EntryPoint **ep);
    int find_or_create_pipeline(void *uc, const CacheEntry &ce, EntryPoint *ep,
                                const uint32_t values[kMaxSpecEntries], VkPipeline *out);
    int create_pipeline(void *uc, const CacheEntry &ce, const EntryPoint &ep, const uint32_t values[kMaxSpecEntries],
                        VkPipeline *out);
    int add_entry(void *uc, CacheEntry *ce);
    int compile(void *uc, uint64_t id, const char *src, int size, CacheEntry **out);
    int compile_module(void *uc, CacheEntry *ce, const DecodedBlob &blob, uint32_t m);
    int create_set_layout(void *uc, const char *name, EntryPoint *ep);
    int create_pipeline_layout(void *uc, const char *name, EntryPoint *ep);
    void destroy_entry(CacheEntry *ce);
    void free_host(void *p) { host_free(cb_, p); }

    Device *d_;
    const VkAllocationCallbacks *cb_;
    bool push_available_ = false;
    uint32_t max_push_descriptors_ = 0;
    VkPipelineCache pipeline_cache_ = VK_NULL_HANDLE;

    CacheEntry **entries_ = nullptr;
    uint32_t entry_count_ = 0;
    uint32_t entry_capacity_ = 0;
    CacheEntry *last_hit_ = nullptr;

    ArgumentBinder binder_;
    DispatchRecorder recorder_;
};

inline int KernelCache::find_kernel(void *uc, void *state, const char *entry_name, CacheEntry **ce,
                                    EntryPoint **ep) {
    CacheEntry *c = last_hit_;
    if (c != nullptr && c->id == reinterpret_cast<uintptr_t>(state) && entry_name != nullptr &&
        c->last_entry < c->entry_count && std::strcmp(c->entries[c->last_entry].name, entry_name) == 0) {
        *ce = c;
        *ep = &c->entries[c->last_entry];
        return 0;
    }
    return find_kernel_slow(uc, state, entry_name, ce, ep);
}

inline int KernelCache::get_pipeline(void *uc, const CacheEntry &ce, EntryPoint *ep,
                                     const uint32_t values[kMaxSpecEntries], VkPipeline *out) {
    if (ep->last_variant < ep->variant_count &&
        std::memcmp(ep->variants[ep->last_variant].values, values, sizeof(uint32_t) * ep->spec_count) == 0) {
        *out = ep->variants[ep->last_variant].pipeline;
        return 0;
    }
    return find_or_create_pipeline(uc, ce, ep, values, out);
}

}  // namespace hvk
