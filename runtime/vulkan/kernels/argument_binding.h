// Argument binding: step 2 of a dispatch (kernel_cache.h finds the kernel,
// dispatch_recorder.h records it).
//
// check_dispatch checks what halide_vulkan_run was passed against the
// kernel's interface (buffer and scalar counts, buffers that are live
// Vulkan allocations) and the device's limits (grid, work-group size,
// shared memory), and works out the specialisation values. Then
// ArgumentBinder::bind packs the argument block into the uniform ring and
// places the storage buffers' descriptors (aligned-down offsets, ranges,
// element offsets in the block), pushed or written into a set from a pool.
//
// The per-device state bind owns: the argument block comes from a
// host-visible uniform ring whose slots are reused only after the batch
// that read them completed (Submitter serials); without push descriptors
// (VK_KHR_push_descriptor), sets come from pools that are reset once their
// batches completed. A warm bind creates no Vulkan object and allocates no
// host memory.
//
// Error codes and messages are those of halide_vulkan_run (kernel_cache.h).
// Thread safety: called with Device::mutex held.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vulkan/context/device.h"
#include "vulkan/kernels/compiled_kernel.h"
#include "vulkan/memory/arena.h"

namespace hvk {

class Submitter;

// What check_dispatch learnt about one call: the argument arrays (the
// caller's), their counts, and the specialisation values to run with.
struct DispatchArguments {
    const char *entry_name;
    const size_t *arg_sizes;
    void *const *args;
    const int8_t *arg_is_buffer;
    uint32_t n_args;
    uint32_t n_buffers;
    uint32_t n_scalars;
    bool with_offsets;  // the argument block ends with one element offset per buffer (Halide #8954 and later)
    bool empty_grid;    // a zero block count: nothing to run, as in Vulkan
    uint32_t spec_values[kMaxSpecEntries];
};

// Checks one call's arguments, grid, work-group size and shared memory
// against `ep` and the device, in the order halide_vulkan_run reports
// them. Returns 0 and fills *out, or the error code (reported).
int check_dispatch(void *uc, const Device &d, const EntryPoint &ep, const char *entry_name, const int blocks[3],
                   const int threads[3], int shared_mem_bytes, const size_t arg_sizes[], void *const args[],
                   const int8_t arg_is_buffer[], DispatchArguments *out);

// The descriptors of one dispatch: `writes` (pointing into `infos`) ready
// for vkCmdPushDescriptorSetKHR, or already written into `set` (pool
// path). About 11 KiB: it lives on the dispatching thread's stack, is
// passed by reference and never copied (writes point into infos).
struct BoundArguments {
    VkDescriptorBufferInfo infos[1 + kMaxStorageBuffers];
    VkWriteDescriptorSet writes[1 + kMaxStorageBuffers];
    uint32_t binding_count;
    VkDescriptorSet set;  // VK_NULL_HANDLE on the push path

    BoundArguments() {}  // left uninitialised: bind fills what is used
    BoundArguments(const BoundArguments &) = delete;
    BoundArguments &operator=(const BoundArguments &) = delete;
};

class ArgumentBinder {
public:
    explicit ArgumentBinder(Device *d) : d_(d), cb_(d->callbacks) {}
    ~ArgumentBinder();
    ArgumentBinder(const ArgumentBinder &) = delete;
    ArgumentBinder &operator=(const ArgumentBinder &) = delete;

    // Places `args` (checked by check_dispatch) for a dispatch of `ep`
    // into the batch `s` is recording. Returns 0 and fills *out, or the
    // error code (reported).
    int bind(void *uc, Submitter *s, const EntryPoint &ep, const DispatchArguments &args, BoundArguments *out);

private:
    // Where this dispatch's argument block lies in the ring.
    struct Block {
        uint8_t *data;  // null without an argument block
        VkDeviceSize offset;
        VkDeviceSize bytes;
    };
    struct Span {
        uint64_t serial;
        VkDeviceSize end;
    };
    struct Pool {
        VkDescriptorPool pool;
        uint64_t last_serial;  // newest batch that uses a set of this pool
    };
    static constexpr uint32_t kRingSpans = 256;

    int pack_uniform_block(void *uc, Submitter *s, const EntryPoint &ep, const DispatchArguments &args, Block *out);
    int place_storage_buffers(void *uc, const EntryPoint &ep, const DispatchArguments &args, const Block &block,
                              VkDescriptorBufferInfo *infos);
    int place_storage_buffer(void *uc, const EntryPoint &ep, const DispatchArguments &args, const Block &block,
                             uint32_t i, uint32_t j, VkDescriptorBufferInfo *info);
    int write_descriptors(void *uc, Submitter *s, const EntryPoint &ep, BoundArguments *out);

    // Uniform ring.
    int create_ring(void *uc);
    int back_ring(void *uc);
    int ring_allocate(void *uc, Submitter *s, VkDeviceSize bytes, VkDeviceSize *offset);
    void ring_reclaim(uint64_t completed_serial);
    bool ring_try_place(uint64_t serial, VkDeviceSize bytes, VkDeviceSize align, VkDeviceSize *offset);

    // Descriptor pools (without push descriptors).
    int allocate_set(void *uc, Submitter *s, const EntryPoint &ep, VkDescriptorSet *out);
    bool reuse_completed_pool(uint64_t completed_serial);
    int create_pool(void *uc, const EntryPoint &ep);

    Device *d_;
    const VkAllocationCallbacks *cb_;

    // Uniform ring: [tail, head) in use (wrapped: [tail, size) + [0, head)).
    VkBuffer ring_buffer_ = VK_NULL_HANDLE;
    ArenaAllocation ring_alloc_{};
    bool ring_created_ = false;
    VkDeviceSize ring_head_ = 0;
    VkDeviceSize ring_tail_ = 0;
    bool ring_wrapped_ = false;
    Span spans_[kRingSpans];
    uint32_t span_first_ = 0;
    uint32_t span_count_ = 0;

    // Descriptor pools (without push descriptors).
    Pool *pools_ = nullptr;
    uint32_t pool_count_ = 0;
    uint32_t pool_capacity_ = 0;
    uint32_t current_pool_ = 0;
};

}  // namespace hvk
