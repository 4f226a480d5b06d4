// Command submission: one command pool per Device, a ring of primary
// command buffers each paired with a fence, batches numbered by serial.
//
// Life of a slot: Free -> Recording (record() began it) -> InFlight (flush()
// submitted it with its fence) -> Free again once the fence is seen
// signalled (the fence is reset and the command buffer is implicitly reset
// by the next vkBeginCommandBuffer; the pool has RESET_COMMAND_BUFFER).
// Slots are created on demand up to kMaxSlots and never destroyed before
// teardown, so a warm submitter creates no Vulkan object and touches no heap.
//
// Waiting: wait_slot() first polls the fence (vkGetFenceStatus) for up to
// HL_VK_SPIN_WAIT_US microseconds (default kDefaultSpinUs), then blocks in
// vkWaitForFences. Measured on an H100 (NVIDIA 580): a blocking wait adds
// 20-30 us of wake-up latency to every round trip (a tiny dispatch + sync
// took ~50 us blocking, ~21 us polling); the spin bounds the CPU cost of
// long waits. On CPU devices (lavapipe) the device's worker threads need the
// cores the host polls on, so each poll there yields the core first: on 2
// cores a tiny dispatch + sync went from 73 to 42 us, a 4 KiB staged copy
// round trip from 72 to 33 us, with 8 host threads no slower.
//
// Completion: a fence signal operation's first synchronisation scope holds
// every command submitted earlier to the same queue, so "the fence of batch
// N signalled" means every batch <= N has completed; completed_ is the
// highest such serial.
#include "vulkan/submit/submitter.h"

#include <chrono>
#include <cstdlib>
#include <new>
#include <thread>

#include "vulkan/util/host_alloc.h"
#include "common/report.h"
#include "vulkan/memory/staging.h"
#include "vulkan/util/vk_result.h"

namespace hvk {

bool sync_mode() {
    static const bool sync = [] {
        const char *v = std::getenv("HL_VK_SYNC");
        return v != nullptr && v[0] == '1';
    }();
    return sync;
}

namespace {

constexpr int kGenericError = -1;
constexpr uint32_t kInitialSlots = 4;
constexpr uint32_t kMaxSlots = 64;
constexpr uint32_t kDefaultSpinUs = 200;

// Microseconds to poll a fence before blocking (see the file comment).
uint32_t spin_wait_us() {
    const char *v = std::getenv("HL_VK_SPIN_WAIT_US");
    if (v != nullptr && *v >= '0' && *v <= '9') {
        const unsigned long us = std::strtoul(v, nullptr, 10);
        return us > 1000000ul ? 1000000u : uint32_t(us);
    }
    return kDefaultSpinUs;
}

enum class SlotState : uint8_t { Free, Recording, InFlight };

struct Slot {
    VkCommandBuffer cb = VK_NULL_HANDLE;
    VkFence fence = VK_NULL_HANDLE;
    uint64_t serial = 0;
    SlotState state = SlotState::Free;
};

constexpr VkPipelineStageFlags kDeviceStages =
    VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
constexpr VkAccessFlags kDeviceWrites = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
constexpr VkAccessFlags kDeviceAccesses = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                          VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT |
                                          VK_ACCESS_UNIFORM_READ_BIT;

class SubmitterImpl final : public Submitter {
public:
    explicit SubmitterImpl(Device *d) : d_(d) {}

    int init(void *uc) {
        spin_us_ = spin_wait_us();
        yield_in_spin_ = d_->properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
        VkCommandPoolCreateInfo info{};
        info.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
        info.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
        info.queueFamilyIndex = d_->queue_family;
        VkResult r = d_->vk.vkCreateCommandPool(d_->device, &info, d_->callbacks, &pool_);
        if (r != VK_SUCCESS) {
            pool_ = VK_NULL_HANDLE;
            return vk_fail(uc, "vkCreateCommandPool", r);
        }
        for (uint32_t i = 0; i < kInitialSlots; i++) {
            int rc = add_slot(uc);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    }

    // Waits for everything (best effort) and destroys every object.
    void shutdown() {
        if (open_ >= 0) {
            d_->vk.vkEndCommandBuffer(slots_[open_].cb);
            slots_[open_].state = SlotState::Free;
            open_ = -1;
        }
        for (uint32_t i = 0; i < count_; i++) {
            if (slots_[i].state == SlotState::InFlight && !lost_) {
                d_->vk.vkWaitForFences(d_->device, 1, &slots_[i].fence, VK_TRUE, UINT64_MAX);
            }
        }
        if (lost_ || count_ > 0) {
            d_->vk.vkQueueWaitIdle(d_->queue);
        }
        for (uint32_t i = 0; i < count_; i++) {
            if (slots_[i].fence != VK_NULL_HANDLE) {
                d_->vk.vkDestroyFence(d_->device, slots_[i].fence, d_->callbacks);
            }
            // Command buffers go with the pool.
        }
        count_ = 0;
        if (pool_ != VK_NULL_HANDLE) {
            d_->vk.vkDestroyCommandPool(d_->device, pool_, d_->callbacks);
            pool_ = VK_NULL_HANDLE;
        }
    }

    int record(void *uc, VkCommandBuffer *out) override {
        *out = VK_NULL_HANDLE;
        if (lost_) {
            return report_lost(uc, "record");
        }
        if (open_ < 0) {
            int slot = -1;
            int rc = acquire_slot(uc, &slot);
            if (rc != 0) {
                return rc;
            }
            Slot &s = slots_[slot];
            VkCommandBufferBeginInfo begin{};
            begin.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
            begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
            VkResult r = d_->vk.vkBeginCommandBuffer(s.cb, &begin);
            if (r != VK_SUCCESS) {
                return vk_fail(uc, "vkBeginCommandBuffer", r);
            }
            s.state = SlotState::Recording;
            s.serial = serial_;
            open_ = slot;
            // Order this batch after everything submitted before it.
            record_barrier(s.cb);
        } else {
            // Order the caller's commands after the batch's earlier ones.
            record_barrier(slots_[open_].cb);
        }
        *out = slots_[open_].cb;
        return 0;
    }

    void record_barrier(VkCommandBuffer cb) override {
        VkMemoryBarrier mb{};
        mb.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
        mb.srcAccessMask = kDeviceWrites;
        mb.dstAccessMask = kDeviceAccesses;
        d_->vk.vkCmdPipelineBarrier(cb, kDeviceStages, kDeviceStages, 0, 1, &mb, 0, nullptr, 0, nullptr);
    }

    int flush(void *uc, bool wait) override {
        // HL_VK_SYNC=1: every submission waits, so every call is synchronous.
        wait = wait || sync_mode();
        if (lost_) {
            return report_lost(uc, "flush");
        }
        if (open_ >= 0) {
            Slot &s = slots_[open_];
            open_ = -1;
            // Device writes -> host reads after the fence.
            VkMemoryBarrier mb{};
            mb.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
            mb.srcAccessMask = kDeviceWrites;
            mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_HOST_WRITE_BIT;
            d_->vk.vkCmdPipelineBarrier(s.cb, kDeviceStages, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0,
                                        nullptr);
            VkResult r = d_->vk.vkEndCommandBuffer(s.cb);
            serial_++;
            if (r == VK_SUCCESS) {
                VkSubmitInfo submit{};
                submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
                submit.commandBufferCount = 1;
                submit.pCommandBuffers = &s.cb;
                r = d_->vk.vkQueueSubmit(d_->queue, 1, &submit, s.fence);
                if (r == VK_SUCCESS) {
                    s.state = SlotState::InFlight;
                    submits_++;
                    last_submitted_ = s.serial;
                }
            }
            if (r != VK_SUCCESS) {
                // The batch's work is lost: nothing will run for its serial.
                s.state = SlotState::Free;
                if (completed_ < s.serial && !any_in_flight()) {
                    completed_ = s.serial;
                }
                int rc = vk_fail(uc, "vkQueueSubmit", r);
                if (!wait) {
                    pending_error_ = rc;
                }
                return rc;
            }
        }
        if (wait) {
            return wait_all(uc);
        }
        return 0;
    }

    uint64_t recording_serial() const override { return serial_; }

    uint64_t completed_serial() override {
        poll();
        return completed_;
    }

    int wait_for(void *uc, uint64_t serial) override {
        if (lost_) {
            return report_lost(uc, "wait");
        }
        if (open_ >= 0 && serial >= slots_[open_].serial) {
            int rc = flush(uc, false);
            if (rc != 0) {
                pending_error_ = 0;  // returned right here
                return rc;
            }
        }
        if (serial >= serial_) {
            serial = serial_ - 1;  // nothing newer exists
        }
        while (serial > completed_) {
            // The oldest in-flight batch whose serial is >= serial covers it.
            int best = -1;
            for (uint32_t i = 0; i < count_; i++) {
                if (slots_[i].state == SlotState::InFlight && slots_[i].serial >= serial &&
                    (best < 0 || slots_[i].serial < slots_[best].serial)) {
                    best = int(i);
                }
            }
            if (best < 0) {
                // Not in flight: it failed to submit or was retired.
                if (completed_ < serial) {
                    completed_ = serial;
                }
                break;
            }
            int rc = wait_slot(uc, best);
            if (rc != 0) {
                return rc;
            }
        }
        return take_pending_error();
    }

    uint64_t submit_count() const override { return submits_; }

    bool has_open_batch() const override { return open_ >= 0; }

    bool lost() const { return lost_; }

    bool idle() override {
        if (open_ >= 0) {
            return false;
        }
        poll();
        return !any_in_flight();
    }

private:
    int add_slot(void *uc) {
        Slot s;
        VkCommandBufferAllocateInfo alloc{};
        alloc.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
        alloc.commandPool = pool_;
        alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        alloc.commandBufferCount = 1;
        VkResult r = d_->vk.vkAllocateCommandBuffers(d_->device, &alloc, &s.cb);
        if (r != VK_SUCCESS) {
            return vk_fail(uc, "vkAllocateCommandBuffers", r);
        }
        VkFenceCreateInfo fi{};
        fi.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
        r = d_->vk.vkCreateFence(d_->device, &fi, d_->callbacks, &s.fence);
        if (r != VK_SUCCESS) {
            d_->vk.vkFreeCommandBuffers(d_->device, pool_, 1, &s.cb);
            return vk_fail(uc, "vkCreateFence", r);
        }
        slots_[count_++] = s;
        return 0;
    }

    bool any_in_flight() const {
        for (uint32_t i = 0; i < count_; i++) {
            if (slots_[i].state == SlotState::InFlight) {
                return true;
            }
        }
        return false;
    }

    // Marks slot i (whose fence is signalled) free and advances completed_.
    int retire(void *uc, uint32_t i) {
        Slot &s = slots_[i];
        if (s.serial > completed_) {
            completed_ = s.serial;
        }
        VkResult r = d_->vk.vkResetFences(d_->device, 1, &s.fence);
        s.state = SlotState::Free;
        if (r != VK_SUCCESS) {
            return vk_fail(uc, "vkResetFences", r);
        }
        return 0;
    }

    void poll() {
        for (uint32_t i = 0; i < count_; i++) {
            if (slots_[i].state == SlotState::InFlight) {
                VkResult r = d_->vk.vkGetFenceStatus(d_->device, slots_[i].fence);
                if (r == VK_SUCCESS) {
                    retire(nullptr, i);
                } else if (r == VK_ERROR_DEVICE_LOST) {
                    lost_ = true;
                }
            }
        }
    }

    int wait_slot(void *uc, int i) {
        VkResult r = VK_NOT_READY;
        if (spin_us_ > 0) {
            using Clock = std::chrono::steady_clock;
            const Clock::time_point until = Clock::now() + std::chrono::microseconds(spin_us_);
            while ((r = d_->vk.vkGetFenceStatus(d_->device, slots_[i].fence)) == VK_NOT_READY &&
                   Clock::now() < until) {
                if (yield_in_spin_) {
                    std::this_thread::yield();  // the device's own threads need this core
                }
            }
        }
        if (r == VK_NOT_READY) {
            r = d_->vk.vkWaitForFences(d_->device, 1, &slots_[i].fence, VK_TRUE, UINT64_MAX);
        }
        if (r != VK_SUCCESS) {
            return vk_fail(uc, "vkWaitForFences", r);
        }
        int rc = retire(uc, uint32_t(i));
        // Earlier batches have completed too; their fences are signalled.
        poll();
        return rc;
    }

    int wait_all(void *uc) {
        int newest = -1;
        for (uint32_t i = 0; i < count_; i++) {
            if (slots_[i].state == SlotState::InFlight &&
                (newest < 0 || slots_[i].serial > slots_[newest].serial)) {
                newest = int(i);
            }
        }
        if (newest >= 0) {
            int rc = wait_slot(uc, newest);
            if (rc != 0) {
                return rc;
            }
        }
        if (completed_ < serial_ - 1) {
            completed_ = serial_ - 1;  // batches that failed to submit
        }
        return take_pending_error();
    }

    int acquire_slot(void *uc, int *out) {
        for (;;) {
            // A free slot, or one whose batch is done.
            for (uint32_t k = 0; k < count_; k++) {
                uint32_t i = (next_ + k) % count_;
                Slot &s = slots_[i];
                if (s.state == SlotState::InFlight) {
                    VkResult r = d_->vk.vkGetFenceStatus(d_->device, s.fence);
                    if (r == VK_SUCCESS) {
                        int rc = retire(uc, i);
                        if (rc != 0) {
                            return rc;
                        }
                    } else if (r != VK_NOT_READY) {
                        return vk_fail(uc, "vkGetFenceStatus", r);
                    }
                }
                if (s.state == SlotState::Free) {
                    next_ = (i + 1) % count_;
                    *out = int(i);
                    return 0;
                }
            }
            if (count_ < kMaxSlots) {
                int rc = add_slot(uc);
                if (rc != 0) {
                    return rc;
                }
                next_ = count_ - 1;
                continue;
            }
            // All in flight: wait for the oldest.
            int oldest = -1;
            for (uint32_t i = 0; i < count_; i++) {
                if (slots_[i].state == SlotState::InFlight &&
                    (oldest < 0 || slots_[i].serial < slots_[oldest].serial)) {
                    oldest = int(i);
                }
            }
            if (oldest < 0) {
                return report_error(uc, kGenericError, "submit", "no command buffer available");
            }
            int rc = wait_slot(uc, oldest);
            if (rc != 0) {
                return rc;
            }
        }
    }

    int take_pending_error() {
        int rc = pending_error_;
        pending_error_ = 0;
        return rc;
    }

    int vk_fail(void *uc, const char *what, VkResult r) {
        if (r == VK_ERROR_DEVICE_LOST) {
            lost_ = true;
        }
        return report_error(uc, kGenericError, what, "failed with %s (%d)%s", vk_result_name(r), int(r),
                            r == VK_ERROR_DEVICE_LOST
                                ? "; the device is lost, every call fails until halide_device_release"
                                : "");
    }

    int report_lost(void *uc, const char *what) {
        return report_error(uc, kGenericError, what,
                            "the Vulkan device was lost (VK_ERROR_DEVICE_LOST); call halide_device_release");
    }

    Device *d_;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    Slot slots_[kMaxSlots];
    uint32_t count_ = 0;
    uint32_t next_ = 0;
    int open_ = -1;
    uint64_t serial_ = 1;          // serial of the open (or next) batch
    uint64_t completed_ = 0;
    uint64_t last_submitted_ = 0;
    uint64_t submits_ = 0;
    int pending_error_ = 0;
    bool lost_ = false;
    uint32_t spin_us_ = 0;  // fence polling before a blocking wait
    bool yield_in_spin_ = false;  // CPU devices: give the core away while polling
};

void teardown(Device *d) {
    if (d->submitter != nullptr) {
        Submitter::destroy(d, d->submitter);
        d->submitter = nullptr;
    }
}

const TeardownRegistration g_teardown(30, teardown);

}  // namespace

int Submitter::create(void *user_context, Device *d, Submitter **out) {
    *out = nullptr;
    SubmitterImpl *s = host_new<SubmitterImpl>(d->callbacks, d);
    if (s == nullptr) {
        return report_error(user_context, -11, "submit", "out of host memory creating the command submitter");
    }
    int rc = s->init(user_context);
    if (rc != 0) {
        s->shutdown();
        host_delete(d->callbacks, s);
        return rc;
    }
    *out = s;
    return 0;
}

void Submitter::destroy(Device *d, Submitter *s) {
    if (s == nullptr) {
        return;
    }
    SubmitterImpl *impl = static_cast<SubmitterImpl *>(s);
    // Finish queued work first: staging memory may still be in use. (After
    // device loss there is nothing to wait for; shutdown() idles the queue.)
    if (!impl->lost()) {
        impl->flush(nullptr, true);
    }
    if (s->staging != nullptr) {
        destroy_staging(d, s->staging);
        s->staging = nullptr;
    }
    impl->shutdown();
    host_delete(d->callbacks, impl);
}

int ensure_submitter(void *user_context, Device *d, Submitter **out) {
    if (d->submitter == nullptr) {
        Submitter *s = nullptr;
        int rc = Submitter::create(user_context, d, &s);
        if (rc != 0) {
            *out = nullptr;
            return rc;
        }
        d->submitter = s;
    }
    *out = d->submitter;
    return 0;
}

}  // namespace hvk
