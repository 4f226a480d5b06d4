// The kernel entry points generated code calls: initialize_kernels at the
// start of every pipeline call, run once per GPU loop nest, finalize as the
// call's destructor (spec 02 §2.2, 04 §4.1, 05). Here: context
// acquisition, locking, batch submission, and a dispatch as its three
// steps (kernels_run): find the kernel and its specialised pipeline
// (kernel_cache.h), bind the arguments (argument_binding.h), record the
// dispatch (dispatch_recorder.h).
//
// Submission: run() only records into the open batch. The batch is
// submitted (not waited for) when the pipeline call ends (finalize), and,
// because finalize is skipped on some early-exit paths, also when the next
// pipeline call starts (initialize). Copies and syncs flush and wait where
// the host needs data (copies.cpp). HL_VK_SYNC=1 makes run() wait.
#include <mutex>

#include "HalideRuntimeVulkan.h"
#include "common/report.h"
#include "vulkan/context/context_scope.h"
#include "vulkan/kernels/argument_binding.h"
#include "vulkan/kernels/dispatch_recorder.h"
#include "vulkan/kernels/kernel_cache.h"
#include "vulkan/submit/submitter.h"

namespace hvk {

int kernels_run(void *uc, Device *d, void *state, const char *entry_name, const int blocks[3], const int threads[3],
                int shared_mem_bytes, const size_t arg_sizes[], void *const args[], const int8_t arg_is_buffer[]) {
    KernelCache *kc = d->kernels;
    if (kc == nullptr) {
        return report_error(uc, kNotFound, kRun,
                            "state %p has no compiled kernels on this device (halide_vulkan_initialize_kernels was not "
                            "called since the context was created)",
                            state);
    }
    // 1. The kernel, the launch checked against it and the device, and the
    //    pipeline specialised for that launch.
    CacheEntry *ce = nullptr;
    EntryPoint *ep = nullptr;
    if (int rc = kc->find_kernel(uc, state, entry_name, &ce, &ep)) {
        return rc;
    }
    DispatchArguments da;
    if (int rc = check_dispatch(uc, *d, *ep, entry_name, blocks, threads, shared_mem_bytes, arg_sizes, args,
                                arg_is_buffer, &da)) {
        return rc;
    }
    if (da.empty_grid) {
        return 0;  // an empty grid: nothing to run, as in Vulkan
    }
    // Everything from here on goes into the open batch.
    Submitter *s = nullptr;
    if (int rc = ensure_submitter(uc, d, &s)) {
        return rc;
    }
    VkPipeline pipeline = VK_NULL_HANDLE;
    if (int rc = kc->get_pipeline(uc, *ce, ep, da.spec_values, &pipeline)) {
        return rc;
    }
    // 2. The argument block and the descriptors.
    BoundArguments bound;
    if (int rc = kc->binder().bind(uc, s, *ep, da, &bound)) {
        return rc;
    }
    // 3. The dispatch, into the open batch.
    return kc->recorder().record(uc, d, s, pipeline, *ep, bound, blocks);
}

}  // namespace hvk

extern "C" {

int halide_vulkan_initialize_kernels(void *user_context, void **state_ptr, const char *src, int size) {
    hvk::ContextScope scope(user_context, "halide_vulkan_initialize_kernels");
    if (!scope.ok()) {
        return scope.status();
    }
    hvk::Device *d = scope.device();
    std::lock_guard<std::recursive_mutex> lock(d->mutex);
    // A previous pipeline call whose finalize was skipped may have left a batch open.
    if (d->submitter != nullptr && d->submitter->has_open_batch()) {
        if (int rc = d->submitter->flush(user_context, false)) {
            return rc;
        }
    }
    return hvk::kernels_initialize(user_context, d, state_ptr, src, size);
}

int halide_vulkan_run(void *user_context, void *state_ptr, const char *entry_name, int blocksX, int blocksY,
                      int blocksZ, int threadsX, int threadsY, int threadsZ, int shared_mem_bytes, size_t arg_sizes[],
                      void *args[], int8_t arg_is_buffer[]) {
    hvk::ContextScope scope(user_context, "halide_vulkan_run");
    if (!scope.ok()) {
        return scope.status();
    }
    hvk::Device *d = scope.device();
    std::lock_guard<std::recursive_mutex> lock(d->mutex);
    const int blocks[3] = {blocksX, blocksY, blocksZ};
    const int threads[3] = {threadsX, threadsY, threadsZ};
    return hvk::kernels_run(user_context, d, state_ptr, entry_name, blocks, threads, shared_mem_bytes, arg_sizes,
                            args, arg_is_buffer);
}

void halide_vulkan_finalize_kernels(void *user_context, void *state_ptr) {
    // Never creates a context: after halide_device_release there is nothing to finalize.
    hvk::ContextScope scope(user_context, "halide_vulkan_finalize_kernels", /*create=*/false);
    if (!scope.ok() || scope.device() == nullptr) {
        return;
    }
    hvk::Device *d = scope.device();
    std::lock_guard<std::recursive_mutex> lock(d->mutex);
    hvk::kernels_finalize(user_context, d, state_ptr);
    // End of the pipeline call: start the GPU on what it recorded. A failed
    // submission is reported here and returned again by the next wait.
    if (d->submitter != nullptr && d->submitter->has_open_batch()) {
        (void)d->submitter->flush(user_context, false);
    }
}

}  // extern "C"
