#include "vulkan/kernels/dispatch_recorder.h"

#include "vulkan/submit/submitter.h"

namespace hvk {
namespace {

constexpr uint32_t kDispatchesPerBatch = 256;

}  // namespace

int DispatchRecorder::record(void *uc, Device *d, Submitter *s, VkPipeline pipeline, const EntryPoint &ep,
                             const BoundArguments &bound, const int blocks[3]) {
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    if (int rc = s->record(uc, &cmd)) {
        return rc;
    }
    d->vk.vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    if (bound.binding_count > 0) {
        if (ep.push) {
            d->vk.vkCmdPushDescriptorSetKHR(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, ep.pipeline_layout, 0,
                                            bound.binding_count, bound.writes);
            g_kernel_counters.pushed_dispatches++;
        } else {
            d->vk.vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, ep.pipeline_layout, 0, 1, &bound.set,
                                          0, nullptr);
        }
    }
    d->vk.vkCmdDispatch(cmd, uint32_t(blocks[0]), uint32_t(blocks[1]), uint32_t(blocks[2]));
    g_kernel_counters.dispatches_recorded++;
    return count_in_batch(uc, s);
}

// Counts the dispatch in the open batch; submits the batch when it is full
// (or, under HL_VK_SYNC=1, at once and waits).
int DispatchRecorder::count_in_batch(void *uc, Submitter *s) {
    const uint64_t serial = s->recording_serial();
    if (serial != batch_serial_) {
        batch_serial_ = serial;
        batch_dispatches_ = 0;
    }
    batch_dispatches_++;
    if (sync_mode()) {
        return s->flush(uc, true);
    }
    if (batch_dispatches_ >= kDispatchesPerBatch) {
        return s->flush(uc, false);
    }
    return 0;
}

}  // namespace hvk
