#include "vulkan/kernels/argument_binding.h"

#include <cstring>

#include "HalideRuntime.h"
#include "common/report.h"
#include "vulkan/memory/memory_state.h"
#include "vulkan/memory/region_table.h"
#include "vulkan/submit/submitter.h"
#include "vulkan/util/vk_result.h"

extern "C" const struct halide_device_interface_t *halide_vulkan_device_interface(void);

namespace hvk {
namespace {

constexpr VkDeviceSize kRingSize = 256 * 1024;
constexpr uint32_t kPoolSets = 128;
constexpr uint32_t kPoolStoragePerSet = 8;

// ---------------------------------------------------------------------------
// Checks (check_dispatch's steps, in the order errors are reported)

// Counts the arguments and matches them against the kernel's buffers and
// argument block; decides whether the block carries buffer offsets.
int check_argument_counts(void *uc, const EntryPoint &ep, DispatchArguments *a) {
    const char *entry_name = a->entry_name;
    if (a->arg_sizes == nullptr || a->args == nullptr || a->arg_is_buffer == nullptr) {
        return report_error(uc, kRunFailed, kRun, "kernel \"%s\": null argument arrays", entry_name);
    }
    uint32_t n_args = 0, n_buffers = 0, n_scalars = 0;
    for (; a->arg_sizes[n_args] != 0; n_args++) {
        if (a->arg_is_buffer[n_args]) {
            n_buffers++;
        } else {
            n_scalars++;
        }
        if (n_args > 4096) {
            return report_error(uc, kRunFailed, kRun, "kernel \"%s\": argument list is not terminated", entry_name);
        }
    }
    if (n_buffers != ep.storage_count) {
        return report_error(uc, kRunFailed, kRun, "kernel \"%s\" declares %u buffer arguments but was passed %u",
                            entry_name, ep.storage_count, n_buffers);
    }
    a->with_offsets = false;
    if (ep.uniform_count == 0) {
        if (n_scalars != 0) {
            return report_error(uc, kRunFailed, kRun,
                                "kernel \"%s\" has no argument block but was passed %u scalar arguments", entry_name,
                                n_scalars);
        }
    } else if (ep.member_count == n_scalars + n_buffers) {
        a->with_offsets = true;  // Halide main (#8954 and later)
    } else if (ep.member_count != n_scalars) {
        return report_error(uc, kRunFailed, kRun,
                            "kernel \"%s\": its argument block has %u members, which fits neither %u scalars + %u "
                            "buffer offsets nor %u scalars alone",
                            entry_name, ep.member_count, n_scalars, n_buffers, n_scalars);
    }
    a->n_args = n_args;
    a->n_buffers = n_buffers;
    a->n_scalars = n_scalars;
    return 0;
}

int check_grid(void *uc, const VkPhysicalDeviceLimits &lim, const char *entry_name, const int blocks[3]) {
    for (int k = 0; k < 3; k++) {
        if (blocks[k] < 0) {
            return report_error(uc, kRunFailed, kRun, "kernel \"%s\": negative block count %d in dimension %d",
                                entry_name, blocks[k], k);
        }
        if (uint32_t(blocks[k]) > lim.maxComputeWorkGroupCount[k]) {
            return report_error(uc, kLimit, kRun,
                                "kernel \"%s\": %d work-groups in dimension %d exceed the device's "
                                "maxComputeWorkGroupCount %u",
                                entry_name, blocks[k], k, lim.maxComputeWorkGroupCount[k]);
        }
    }
    return 0;
}

// The work-group size: `threads` for kernels specialised on it, else the
// module's own; checked against the device.
int check_work_group(void *uc, const VkPhysicalDeviceLimits &lim, const EntryPoint &ep, const char *entry_name,
                     const int threads[3], uint32_t wg[3]) {
    for (int k = 0; k < 3; k++) {
        if (ep.dynamic_wg) {
            if (threads[k] < 1) {
                return report_error(uc, kRunFailed, kRun, "kernel \"%s\": work-group size %d in dimension %d",
                                    entry_name, threads[k], k);
            }
            wg[k] = uint32_t(threads[k]);
        } else {
            wg[k] = ep.static_wg[k];
        }
        if (wg[k] > lim.maxComputeWorkGroupSize[k]) {
            return report_error(uc, kLimit, kRun,
                                "kernel \"%s\": work-group size %u in dimension %d exceeds the device's "
                                "maxComputeWorkGroupSize %u",
                                entry_name, wg[k], k, lim.maxComputeWorkGroupSize[k]);
        }
    }
    const uint64_t invocations = uint64_t(wg[0]) * wg[1] * wg[2];
    if (invocations > lim.maxComputeWorkGroupInvocations) {
        return report_error(uc, kLimit, kRun,
                            "kernel \"%s\": work-group of %u x %u x %u = %llu invocations exceeds the device's "
                            "maxComputeWorkGroupInvocations %u",
                            entry_name, wg[0], wg[1], wg[2], (unsigned long long)invocations,
                            lim.maxComputeWorkGroupInvocations);
    }
    return 0;
}

// Shared memory: sizes the one dynamic allocation from shared_mem_bytes
// (its element count is a specialisation value, *dynamic_elems) and checks
// the total against the device.
int check_shared_memory(void *uc, const VkPhysicalDeviceLimits &lim, const EntryPoint &ep, const char *entry_name,
                        int shared_mem_bytes, uint32_t *dynamic_elems) {
    if (shared_mem_bytes < 0) {
        return report_error(uc, kRunFailed, kRun, "kernel \"%s\": negative shared memory size %d", entry_name,
                            shared_mem_bytes);
    }
    if (ep.dynamic_shared_count > 1 && shared_mem_bytes > 0) {
        return report_error(uc, -1, kRun,
                            "kernel \"%s\" has %u dynamically sized shared allocations; only one can be sized from "
                            "shared_mem_bytes",
                            entry_name, ep.dynamic_shared_count);
    }
    uint64_t shared_total = ep.static_shared_bytes;
    if (ep.dynamic_shared_count == 1) {
        uint64_t elems = ep.dynamic_shared_default;
        if (shared_mem_bytes > 0 && uint64_t(shared_mem_bytes) > ep.static_shared_bytes) {
            elems = (uint64_t(shared_mem_bytes) - ep.static_shared_bytes) / ep.dynamic_shared_element;
        }
        if (elems > UINT32_MAX) {
            elems = UINT32_MAX;
        }
        *dynamic_elems = uint32_t(elems);
        shared_total += elems * ep.dynamic_shared_element;
    }
    if (uint64_t(shared_mem_bytes) > shared_total) {
        shared_total = uint64_t(shared_mem_bytes);
    }
    if (shared_total > lim.maxComputeSharedMemorySize) {
        return report_error(uc, kLimit, kRun, "kernel \"%s\" needs %llu bytes of shared memory; the device allows %u",
                            entry_name, (unsigned long long)shared_total, lim.maxComputeSharedMemorySize);
    }
    return 0;
}

// Buffers: each must be a live Vulkan allocation.
int check_buffer_arguments(void *uc, const DispatchArguments &a) {
    const halide_device_interface_t *vk_iface = halide_vulkan_device_interface();
    for (uint32_t i = 0; i < a.n_args; i++) {
        if (!a.arg_is_buffer[i]) {
            continue;
        }
        const halide_buffer_t *buf = static_cast<const halide_buffer_t *>(a.args[i]);
        if (buf == nullptr) {
            return report_error(uc, kNotFound, kRun, "kernel \"%s\": buffer argument %u is null", a.entry_name, i);
        }
        if (buf->device == 0) {
            return report_error(uc, kNotFound, kRun, "kernel \"%s\": buffer argument %u has no device allocation",
                                a.entry_name, i);
        }
        if (buf->device_interface != vk_iface) {
            return report_error(uc, kNotFound, kRun,
                                "kernel \"%s\": buffer argument %u belongs to another device interface (not Vulkan)",
                                a.entry_name, i);
        }
    }
    return 0;
}

}  // namespace

int check_dispatch(void *uc, const Device &d, const EntryPoint &ep, const char *entry_name, const int blocks[3],
                   const int threads[3], int shared_mem_bytes, const size_t arg_sizes[], void *const args[],
                   const int8_t arg_is_buffer[], DispatchArguments *out) {
    out->entry_name = entry_name;
    out->arg_sizes = arg_sizes;
    out->args = args;
    out->arg_is_buffer = arg_is_buffer;
    if (int rc = check_argument_counts(uc, ep, out)) {
        return rc;
    }
    // Grid, work-group and shared memory against the device.
    const VkPhysicalDeviceLimits &lim = d.properties.limits;
    if (int rc = check_grid(uc, lim, entry_name, blocks)) {
        return rc;
    }
    uint32_t wg[3];
    if (int rc = check_work_group(uc, lim, ep, entry_name, threads, wg)) {
        return rc;
    }
    // Specialisation values in the entry point's spec_ids order: dynamic
    // shared length first, then x, y, z.
    uint32_t nv = 0;
    std::memset(out->spec_values, 0, sizeof(out->spec_values));
    if (int rc = check_shared_memory(uc, lim, ep, entry_name, shared_mem_bytes, &out->spec_values[0])) {
        return rc;
    }
    if (ep.dynamic_shared_count == 1) {
        nv++;
    }
    if (ep.dynamic_wg) {
        out->spec_values[nv++] = wg[0];
        out->spec_values[nv++] = wg[1];
        out->spec_values[nv++] = wg[2];
    }
    if (int rc = check_buffer_arguments(uc, *out)) {
        return rc;
    }
    out->empty_grid = blocks[0] == 0 || blocks[1] == 0 || blocks[2] == 0;
    return 0;
}

// ---------------------------------------------------------------------------
// Binding

ArgumentBinder::~ArgumentBinder() {
    for (uint32_t i = 0; i < pool_count_; i++) {
        d_->vk.vkDestroyDescriptorPool(d_->device, pools_[i].pool, cb_);
    }
    host_free(cb_, pools_);
    if (ring_buffer_ != VK_NULL_HANDLE) {
        d_->vk.vkDestroyBuffer(d_->device, ring_buffer_, cb_);
    }
    if (ring_created_ && d_->arena != nullptr) {
        d_->arena->free(ring_alloc_);
    }
}

int ArgumentBinder::bind(void *uc, Submitter *s, const EntryPoint &ep, const DispatchArguments &args,
                         BoundArguments *out) {
    Block block{nullptr, 0, 0};
    if (ep.uniform_count == 1) {
        if (int rc = pack_uniform_block(uc, s, ep, args, &block)) {
            return rc;
        }
        out->infos[0] = VkDescriptorBufferInfo{ring_buffer_, block.offset, block.bytes};
    }
    if (int rc = place_storage_buffers(uc, ep, args, block, out->infos + ep.uniform_count)) {
        return rc;
    }
    if (block.data != nullptr && !ring_alloc_.coherent) {
        if (int rc = d_->arena->flush(uc, ring_alloc_, block.offset, block.bytes)) {
            return rc;
        }
    }
    return write_descriptors(uc, s, ep, out);
}

// The argument block: a ring slot, zeroed, with the scalars at their
// members' offsets (Halide packs them in order).
int ArgumentBinder::pack_uniform_block(void *uc, Submitter *s, const EntryPoint &ep, const DispatchArguments &args,
                                       Block *out) {
    VkDeviceSize block_bytes = ep.block_size > 0 ? ep.block_size : 4;
    block_bytes = align_up(block_bytes, 16);
    VkDeviceSize ring_offset = 0;
    if (int rc = ring_allocate(uc, s, block_bytes, &ring_offset)) {
        return rc;
    }
    uint8_t *block = static_cast<uint8_t *>(ring_alloc_.mapped) + ring_offset;
    std::memset(block, 0, size_t(block_bytes));
    *out = Block{block, ring_offset, block_bytes};
    uint32_t k = 0;
    for (uint32_t i = 0; i < args.n_args; i++) {
        if (args.arg_is_buffer[i]) {
            continue;
        }
        const uint32_t off = ep.member_offsets[k];
        const uint32_t msize = ep.member_sizes[k];
        const size_t asize = args.arg_sizes[i];
        // A bool member has no SPIR-V size; Halide passes 1 byte.
        const bool fits = msize != 0 ? asize <= msize : asize <= 4;
        if (!fits || off + asize > block_bytes || args.args[i] == nullptr) {
            return report_error(uc, kRunFailed, kRun,
                                "kernel \"%s\": scalar argument %u of %zu bytes does not fit member %u of the "
                                "argument block (%u bytes at offset %u)",
                                args.entry_name, i, asize, k, msize, off);
        }
        std::memcpy(block + off, args.args[i], asize);
        k++;
    }
    return 0;
}

// Storage descriptors: aligned-down descriptor offset plus an element offset.
int ArgumentBinder::place_storage_buffers(void *uc, const EntryPoint &ep, const DispatchArguments &args,
                                          const Block &block, VkDescriptorBufferInfo *infos) {
    uint32_t j = 0;
    for (uint32_t i = 0; i < args.n_args; i++) {
        if (!args.arg_is_buffer[i]) {
            continue;
        }
        if (int rc = place_storage_buffer(uc, ep, args, block, i, j, &infos[j])) {
            return rc;
        }
        j++;
    }
    return 0;
}

// Buffer argument `i`, the kernel's storage buffer `j`: its descriptor
// and, for kernels with offsets, its element offset in the block.
int ArgumentBinder::place_storage_buffer(void *uc, const EntryPoint &ep, const DispatchArguments &args,
                                         const Block &block, uint32_t i, uint32_t j, VkDescriptorBufferInfo *info) {
    const VkPhysicalDeviceLimits &lim = d_->properties.limits;
    const VkDeviceSize storage_align = lim.minStorageBufferOffsetAlignment > 0 ? lim.minStorageBufferOffsetAlignment : 1;
    const char *entry_name = args.entry_name;
    const halide_buffer_t *buf = static_cast<const halide_buffer_t *>(args.args[i]);
    DeviceBufferView view{};
    if (int rc = resolve_device_buffer(uc, d_, buf, kRun, &view)) {
        return rc;
    }
    uint64_t need = 0;
    buffer_span_bytes(buf, &need, nullptr);
    const VkDeviceSize total = view.offset;
    VkDeviceSize desc_offset = total / storage_align * storage_align;
    VkDeviceSize rem = total - desc_offset;
    const uint32_t stride = ep.strides[j] != 0 ? ep.strides[j] : (buf->type.bytes() > 0 ? buf->type.bytes() : 1);
    int64_t elem_offset = 0;
    if (args.with_offsets) {
        if (rem % stride != 0) {
            return report_error(uc, kRunFailed, kRun,
                                "kernel \"%s\", buffer argument %u: its data starts %llu bytes into its VkBuffer; "
                                "over the %llu-byte storage offset alignment that leaves %llu bytes, not a whole "
                                "number of the kernel's %u-byte array elements",
                                entry_name, i, (unsigned long long)total, (unsigned long long)storage_align,
                                (unsigned long long)rem, stride);
        }
        elem_offset = int64_t(rem / stride);
    } else if (rem != 0) {
        return report_error(uc, kRunFailed, kRun,
                            "kernel \"%s\" (compiled by a Halide without per-buffer offsets), buffer argument %u: "
                            "its data starts %llu bytes into its VkBuffer, which is not a multiple of "
                            "minStorageBufferOffsetAlignment %llu; such kernels can only bind aligned buffers",
                            entry_name, i, (unsigned long long)total, (unsigned long long)storage_align);
    }
    const VkDeviceSize avail = rem + view.size;
    VkDeviceSize range = align_up(rem + need, stride);
    if (range > avail) {
        range = avail;
    }
    if (range == 0) {
        range = avail < stride ? avail : stride;
    }
    if (range == 0) {
        return report_error(uc, kRunFailed, kRun, "kernel \"%s\", buffer argument %u: empty device region",
                            entry_name, i);
    }
    if (range > lim.maxStorageBufferRange) {
        return report_error(uc, kLimit, kRun,
                            "kernel \"%s\", buffer argument %u spans %llu bytes; the device's "
                            "maxStorageBufferRange is %u",
                            entry_name, i, (unsigned long long)range, lim.maxStorageBufferRange);
    }
    *info = VkDescriptorBufferInfo{view.buffer, desc_offset, range};
    if (args.with_offsets) {
        const uint32_t member = args.n_scalars + j;
        const uint32_t off = ep.member_offsets[member];
        if (off + 4 > block.bytes) {
            return report_error(uc, kRunFailed, kRun, "kernel \"%s\": offset member %u lies outside the block",
                                entry_name, member);
        }
        const int32_t v = int32_t(elem_offset);
        std::memcpy(block.data + off, &v, 4);
    }
    return 0;
}

// One write per binding; on the pool path they go into a fresh set now,
// on the push path the recorder pushes them.
int ArgumentBinder::write_descriptors(void *uc, Submitter *s, const EntryPoint &ep, BoundArguments *out) {
    const uint32_t binding_count = ep.binding_count();
    for (uint32_t b = 0; b < binding_count; b++) {
        VkWriteDescriptorSet &w = out->writes[b];
        w = VkWriteDescriptorSet{};
        w.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
        w.dstBinding = b;
        w.descriptorCount = 1;
        w.descriptorType = b < ep.uniform_count ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        w.pBufferInfo = &out->infos[b];
    }
    out->binding_count = binding_count;
    out->set = VK_NULL_HANDLE;
    if (!ep.push && binding_count > 0) {
        if (int rc = allocate_set(uc, s, ep, &out->set)) {
            return rc;
        }
        for (uint32_t w = 0; w < binding_count; w++) {
            out->writes[w].dstSet = out->set;
        }
        d_->vk.vkUpdateDescriptorSets(d_->device, binding_count, out->writes, 0, nullptr);
    }
    return 0;
}

// ---------------------------------------------------------------------------
// Uniform ring

int ArgumentBinder::create_ring(void *uc) {
    if (int rc = ensure_memory_state(uc, d_)) {
        return rc;
    }
    VkBufferCreateInfo bi{};
    bi.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    bi.size = kRingSize;
    bi.usage = VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT;
    bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VkResult r = d_->vk.vkCreateBuffer(d_->device, &bi, cb_, &ring_buffer_);
    if (r != VK_SUCCESS) {
        ring_buffer_ = VK_NULL_HANDLE;
        return report_error(uc, -11, kRun, "vkCreateBuffer for the kernel argument ring failed: %s",
                            vk_result_name(r));
    }
    if (int rc = back_ring(uc)) {
        d_->vk.vkDestroyBuffer(d_->device, ring_buffer_, cb_);
        ring_buffer_ = VK_NULL_HANDLE;
        return rc;
    }
    ring_created_ = true;
    g_kernel_counters.uniform_rings_created++;
    return 0;
}

// Host-visible memory for the ring's buffer, bound to it; on failure the
// memory is freed again (the caller destroys the buffer).
int ArgumentBinder::back_ring(void *uc) {
    VkMemoryRequirements req{};
    d_->vk.vkGetBufferMemoryRequirements(d_->device, ring_buffer_, &req);
    if (int rc = d_->arena->allocate(uc, req, MemoryUsage::Uniform, &ring_alloc_)) {
        return rc;
    }
    if (ring_alloc_.mapped == nullptr) {
        d_->arena->free(ring_alloc_);
        return report_error(uc, -11, kRun, "the kernel argument ring's memory is not host visible");
    }
    VkResult r = d_->vk.vkBindBufferMemory(d_->device, ring_buffer_, ring_alloc_.memory, ring_alloc_.offset);
    if (r != VK_SUCCESS) {
        d_->arena->free(ring_alloc_);
        return report_error(uc, -1, kRun, "vkBindBufferMemory for the kernel argument ring failed: %s",
                            vk_result_name(r));
    }
    return 0;
}

// Reclaims spans of completed batches.
void ArgumentBinder::ring_reclaim(uint64_t done) {
    while (span_count_ > 0 && spans_[span_first_].serial <= done) {
        const VkDeviceSize end = spans_[span_first_].end;
        if (ring_wrapped_ && end < ring_tail_) {
            ring_wrapped_ = false;  // the tail crossed the wrap point
        }
        ring_tail_ = end;
        span_first_ = (span_first_ + 1) % kRingSpans;
        span_count_--;
    }
    if (span_count_ == 0) {
        ring_head_ = ring_tail_ = 0;
        ring_wrapped_ = false;
    }
}

// Places `bytes` at the head (wrapping to 0 when the tail left room there)
// and extends the span of batch `serial`. False when the ring is full.
bool ArgumentBinder::ring_try_place(uint64_t serial, VkDeviceSize bytes, VkDeviceSize align, VkDeviceSize *offset) {
    const bool need_new_span =
        span_count_ == 0 || spans_[(span_first_ + span_count_ - 1) % kRingSpans].serial != serial;
    if (need_new_span && span_count_ == kRingSpans) {
        return false;
    }
    VkDeviceSize pos = align_up(ring_head_, align);
    bool fits = false;
    bool wraps = false;
    if (!ring_wrapped_) {
        if (pos + bytes <= kRingSize) {
            fits = true;
        } else if (bytes < ring_tail_) {
            pos = 0;
            fits = wraps = true;
        }
    } else if (pos + bytes < ring_tail_) {
        fits = true;
    }
    if (!fits) {
        return false;
    }
    ring_head_ = pos + bytes;
    if (wraps) {
        ring_wrapped_ = true;
    }
    if (need_new_span) {
        spans_[(span_first_ + span_count_) % kRingSpans] = Span{serial, ring_head_};
        span_count_++;
    } else {
        spans_[(span_first_ + span_count_ - 1) % kRingSpans].end = ring_head_;
    }
    *offset = pos;
    return true;
}

int ArgumentBinder::ring_allocate(void *uc, Submitter *s, VkDeviceSize bytes, VkDeviceSize *offset) {
    if (!ring_created_) {
        if (int rc = create_ring(uc)) {
            return rc;
        }
    }
    const VkDeviceSize align = d_->properties.limits.minUniformBufferOffsetAlignment > 0
                                   ? d_->properties.limits.minUniformBufferOffsetAlignment
                                   : 16;
    bytes = align_up(bytes, align);
    if (bytes > kRingSize) {
        return report_error(uc, kRunFailed, kRun, "argument block of %llu bytes exceeds the argument ring",
                            (unsigned long long)bytes);
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        ring_reclaim(s->completed_serial());
        if (ring_try_place(s->recording_serial(), bytes, align, offset)) {
            return 0;
        }
        // Full: wait for the oldest batch that holds ring space (submitting
        // the open one first if that is it).
        const uint64_t oldest = spans_[span_first_].serial;
        if (int rc = s->wait_for(uc, oldest)) {
            return rc;
        }
    }
    return report_error(uc, -1, kRun, "could not reclaim space in the kernel argument ring");
}

// ---------------------------------------------------------------------------
// Descriptor sets from pools (no push descriptors)

// The current pool is full: reuse one whose batches have completed.
bool ArgumentBinder::reuse_completed_pool(uint64_t done) {
    for (uint32_t i = 0; i < pool_count_; i++) {
        if (i != current_pool_ && pools_[i].last_serial <= done) {
            d_->vk.vkResetDescriptorPool(d_->device, pools_[i].pool, 0);
            current_pool_ = i;
            return true;
        }
    }
    return false;
}

// Cold: a new pool, sized for at least `ep`'s storage buffers per set.
int ArgumentBinder::create_pool(void *uc, const EntryPoint &ep) {
    if (pool_count_ == pool_capacity_) {
        const uint32_t cap = pool_capacity_ ? pool_capacity_ * 2 : 4;
        Pool *grown = alloc_array<Pool>(cb_, cap);
        if (grown == nullptr) {
            return report_error(uc, -11, kRun, "out of host memory");
        }
        if (pool_count_ > 0) {
            std::memcpy(grown, pools_, sizeof(Pool) * pool_count_);
        }
        host_free(cb_, pools_);
        pools_ = grown;
        pool_capacity_ = cap;
    }
    const uint32_t storage_per_set = ep.storage_count > kPoolStoragePerSet ? ep.storage_count : kPoolStoragePerSet;
    VkDescriptorPoolSize sizes[2] = {{VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, kPoolSets},
                                     {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kPoolSets * storage_per_set}};
    VkDescriptorPoolCreateInfo pi{};
    pi.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
    pi.maxSets = kPoolSets;
    pi.poolSizeCount = 2;
    pi.pPoolSizes = sizes;
    VkDescriptorPool pool = VK_NULL_HANDLE;
    VkResult r = d_->vk.vkCreateDescriptorPool(d_->device, &pi, cb_, &pool);
    if (r != VK_SUCCESS) {
        return report_error(uc, -1, kRun, "vkCreateDescriptorPool failed: %s", vk_result_name(r));
    }
    g_kernel_counters.descriptor_pools_created++;
    pools_[pool_count_] = Pool{pool, 0};
    current_pool_ = pool_count_++;
    return 0;
}

int ArgumentBinder::allocate_set(void *uc, Submitter *s, const EntryPoint &ep, VkDescriptorSet *out) {
    const uint64_t serial = s->recording_serial();
    for (int attempt = 0; attempt < 3; attempt++) {
        if (pool_count_ > 0) {
            VkDescriptorSetAllocateInfo ai{};
            ai.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO;
            ai.descriptorPool = pools_[current_pool_].pool;
            ai.descriptorSetCount = 1;
            ai.pSetLayouts = &ep.set_layout;
            VkResult r = d_->vk.vkAllocateDescriptorSets(d_->device, &ai, out);
            if (r == VK_SUCCESS) {
                pools_[current_pool_].last_serial = serial;
                g_kernel_counters.descriptor_sets_allocated++;
                return 0;
            }
            if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL) {
                return report_error(uc, -1, kRun, "vkAllocateDescriptorSets failed: %s", vk_result_name(r));
            }
        }
        if (reuse_completed_pool(s->completed_serial())) {
            continue;
        }
        if (int rc = create_pool(uc, ep)) {
            return rc;
        }
    }
    return report_error(uc, -1, kRun, "could not allocate a descriptor set");
}

}  // namespace hvk
