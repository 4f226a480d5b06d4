// Compiled kernels of one Device and the dispatch path behind
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
// created on first use. Per dispatch: the argument block comes from a
// host-visible uniform ring whose slots are reused only after the batch
// that read them completed (Submitter serials); descriptors are pushed
// (VK_KHR_push_descriptor) or, without that extension, written into sets
// from pools that are reset once their batches completed. A warm dispatch
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

#include "vulkan/context/device.h"

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

int kernels_initialize(void *user_context, Device *d, void **state_slot, const char *src, int size);
void kernels_finalize(void *user_context, Device *d, void *state);
int kernels_run(void *user_context, Device *d, void *state, const char *entry_name, const int blocks[3],
                const int threads[3], int shared_mem_bytes, const size_t arg_sizes[], void *const args[],
                const int8_t arg_is_buffer[]);

// True if `state` is an id this process has handed out.
bool kernels_is_issued_id(void *state);

}  // namespace hvk
