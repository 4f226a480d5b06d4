// Recording: step 3 of a dispatch (kernel_cache.h finds the kernel and its
// specialised pipeline, argument_binding.h binds the arguments). Records
// the pipeline, the descriptors (pushed, or the pool set bound) and
// vkCmdDispatch into the submitter's open batch, and keeps batches bounded:
// a batch is submitted (not waited for) after kDispatchesPerBatch
// dispatches, and at once, waited for, under HL_VK_SYNC=1.
//
// A warm recording creates no Vulkan object and allocates no host memory.
// Thread safety: called with Device::mutex held.
#pragma once

#include <cstdint>

#include "vulkan/context/device.h"
#include "vulkan/kernels/argument_binding.h"
#include "vulkan/kernels/compiled_kernel.h"

namespace hvk {

class Submitter;

class DispatchRecorder {
public:
    // Records one dispatch of `ep` with `pipeline` and `bound` over
    // `blocks` work-groups (none of them 0). Returns 0 or the error code
    // of recording or of a submission it triggers.
    int record(void *uc, Device *d, Submitter *s, VkPipeline pipeline, const EntryPoint &ep,
               const BoundArguments &bound, const int blocks[3]);

private:
    int count_in_batch(void *uc, Submitter *s);

    // Batch size accounting: dispatches recorded into batch `batch_serial_`.
    uint64_t batch_serial_ = 0;
    uint32_t batch_dispatches_ = 0;
};

}  // namespace hvk
