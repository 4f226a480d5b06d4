// Raw-Vulkan baselines for the benchmarks: plain Vulkan on the runtime's own
// VkDevice and queue (taken from its Device state once, while the runtime
// is idle; the benchmarks are single-threaded), so that a runtime figure and
// the raw figure it is compared with come from the same device in the same
// process. Nothing here goes through the runtime's allocator or submitter.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "vulkan/context/context_scope.h"
#include "vulkan/context/device.h"

namespace rawvk {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n == 0 ? 0.0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

inline double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    size_t i = size_t(p * double(v.size() - 1) + 0.5);
    return v.empty() ? 0.0 : v[std::min(i, v.size() - 1)];
}

inline void vk_check(VkResult r, const char *what) {
    if (r != VK_SUCCESS) {
        std::fprintf(stderr, "raw vulkan: %s failed (%d)\n", what, int(r));
        std::exit(1);
    }
}

// The runtime's Device (creating the default context if needed). The
// acquire/release pair is closed again before returning.
inline hvk::Device *runtime_device() {
    hvk::ContextScope scope(nullptr, "bench");
    if (!scope.ok() || scope.device() == nullptr) {
        std::fprintf(stderr, "bench: no Vulkan device\n");
        std::exit(1);
    }
    return scope.device();
}

// Best memory type in `bits` with all of `required`, scoring `preferred`
// bits up and `avoid` bits down; -1 if none.
inline int find_memory_type(hvk::Device *d, uint32_t bits, VkMemoryPropertyFlags required,
                            VkMemoryPropertyFlags preferred, VkMemoryPropertyFlags avoid) {
    int best = -1, best_score = -1000;
    for (uint32_t i = 0; i < d->memory_properties.memoryTypeCount; i++) {
        const VkMemoryPropertyFlags f = d->memory_properties.memoryTypes[i].propertyFlags;
        if ((bits & (1u << i)) == 0 || (f & required) != required || (f & VK_MEMORY_PROPERTY_PROTECTED_BIT) != 0) {
            continue;
        }
        int score = 0;
        for (uint32_t b = 0; b < 32; b++) {
            if ((preferred >> b) & 1u) {
                score += (f >> b) & 1u ? 2 : 0;
            }
            if ((avoid >> b) & 1u) {
                score -= (f >> b) & 1u ? 3 : 0;
            }
        }
        if (score > best_score) {
            best = int(i);
            best_score = score;
        }
    }
    return best;
}

struct Buffer {
    hvk::Device *d = nullptr;
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkDeviceSize size = 0;
    uint8_t *mapped = nullptr;
    VkMemoryPropertyFlags flags = 0;

    Buffer() = default;
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;

    void create(hvk::Device *dev, VkDeviceSize bytes, VkBufferUsageFlags usage, VkMemoryPropertyFlags required,
                VkMemoryPropertyFlags preferred, VkMemoryPropertyFlags avoid) {
        d = dev;
        size = bytes;
        VkBufferCreateInfo info{};
        info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
        info.size = bytes;
        info.usage = usage;
        info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
        vk_check(d->vk.vkCreateBuffer(d->device, &info, nullptr, &buffer), "vkCreateBuffer");
        VkMemoryRequirements req{};
        d->vk.vkGetBufferMemoryRequirements(d->device, buffer, &req);
        int type = find_memory_type(d, req.memoryTypeBits, required, preferred, avoid);
        if (type < 0) {
            // e.g. no memory type without DEVICE_LOCAL: drop the avoid mask
            type = find_memory_type(d, req.memoryTypeBits, required, preferred, 0);
        }
        if (type < 0) {
            std::fprintf(stderr, "raw vulkan: no memory type for a %llu-byte buffer\n",
                         static_cast<unsigned long long>(bytes));
            std::exit(1);
        }
        flags = d->memory_properties.memoryTypes[type].propertyFlags;
        VkMemoryAllocateInfo ai{};
        ai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
        ai.allocationSize = req.size;
        ai.memoryTypeIndex = uint32_t(type);
        vk_check(d->vk.vkAllocateMemory(d->device, &ai, nullptr, &memory), "vkAllocateMemory");
        vk_check(d->vk.vkBindBufferMemory(d->device, buffer, memory, 0), "vkBindBufferMemory");
        if (flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
            void *p = nullptr;
            vk_check(d->vk.vkMapMemory(d->device, memory, 0, VK_WHOLE_SIZE, 0, &p), "vkMapMemory");
            mapped = static_cast<uint8_t *>(p);
        }
    }
    bool coherent() const { return (flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) != 0; }
    // Whole-allocation flush/invalidate (the raw baseline keeps it simple).
    void flush() {
        if (!coherent()) {
            VkMappedMemoryRange r{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, nullptr, memory, 0, VK_WHOLE_SIZE};
            d->vk.vkFlushMappedMemoryRanges(d->device, 1, &r);
        }
    }
    void invalidate() {
        if (!coherent()) {
            VkMappedMemoryRange r{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, nullptr, memory, 0, VK_WHOLE_SIZE};
            d->vk.vkInvalidateMappedMemoryRanges(d->device, 1, &r);
        }
    }
    ~Buffer() {
        if (d == nullptr) {
            return;
        }
        if (buffer != VK_NULL_HANDLE) {
            d->vk.vkDestroyBuffer(d->device, buffer, nullptr);
        }
        if (memory != VK_NULL_HANDLE) {
            d->vk.vkFreeMemory(d->device, memory, nullptr);
        }
    }
};

// A command pool with `n` reusable command buffers, each with its fence.
struct Queue {
    hvk::Device *d = nullptr;
    VkCommandPool pool = VK_NULL_HANDLE;
    std::vector<VkCommandBuffer> cbs;
    std::vector<VkFence> fences;

    void create(hvk::Device *dev, uint32_t n) {
        d = dev;
        VkCommandPoolCreateInfo pi{};
        pi.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
        pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
        pi.queueFamilyIndex = d->queue_family;
        vk_check(d->vk.vkCreateCommandPool(d->device, &pi, nullptr, &pool), "vkCreateCommandPool");
        cbs.resize(n);
        VkCommandBufferAllocateInfo ai{};
        ai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
        ai.commandPool = pool;
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        ai.commandBufferCount = n;
        vk_check(d->vk.vkAllocateCommandBuffers(d->device, &ai, cbs.data()), "vkAllocateCommandBuffers");
        VkFenceCreateInfo fi{};
        fi.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
        fences.resize(n);
        for (uint32_t i = 0; i < n; i++) {
            vk_check(d->vk.vkCreateFence(d->device, &fi, nullptr, &fences[i]), "vkCreateFence");
        }
    }
    VkCommandBuffer begin(uint32_t i, bool one_time) {
        VkCommandBufferBeginInfo bi{};
        bi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
        bi.flags = one_time ? VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT : 0;
        vk_check(d->vk.vkBeginCommandBuffer(cbs[i], &bi), "vkBeginCommandBuffer");
        return cbs[i];
    }
    void end(uint32_t i) { vk_check(d->vk.vkEndCommandBuffer(cbs[i]), "vkEndCommandBuffer"); }
    // Submits command buffer i with its fence (no wait).
    void submit(uint32_t i) {
        VkSubmitInfo si{};
        si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
        si.commandBufferCount = 1;
        si.pCommandBuffers = &cbs[i];
        vk_check(d->vk.vkQueueSubmit(d->queue, 1, &si, fences[i]), "vkQueueSubmit");
    }
    // Waits for command buffer i's fence and resets it.
    void wait(uint32_t i) {
        vk_check(d->vk.vkWaitForFences(d->device, 1, &fences[i], VK_TRUE, UINT64_MAX), "vkWaitForFences");
        vk_check(d->vk.vkResetFences(d->device, 1, &fences[i]), "vkResetFences");
    }
    // Polls the fence (vkGetFenceStatus) instead of blocking, then resets it.
    void wait_poll(uint32_t i) {
        VkResult r;
        while ((r = d->vk.vkGetFenceStatus(d->device, fences[i])) == VK_NOT_READY) {
        }
        vk_check(r, "vkGetFenceStatus");
        vk_check(d->vk.vkResetFences(d->device, 1, &fences[i]), "vkResetFences");
    }
    void submit_wait(uint32_t i, bool poll = false) {
        submit(i);
        if (poll) {
            wait_poll(i);
        } else {
            wait(i);
        }
    }
    ~Queue() {
        if (d == nullptr) {
            return;
        }
        d->vk.vkQueueWaitIdle(d->queue);
        for (VkFence f : fences) {
            d->vk.vkDestroyFence(d->device, f, nullptr);
        }
        if (pool != VK_NULL_HANDLE) {
            d->vk.vkDestroyCommandPool(d->device, pool, nullptr);
        }
    }
};

// Full compute/transfer -> compute/transfer (and host) memory barrier.
inline void barrier(hvk::Device *d, VkCommandBuffer cb, bool to_host = false) {
    VkMemoryBarrier mb{};
    mb.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = to_host ? VK_ACCESS_HOST_READ_BIT
                               : VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                                     VK_ACCESS_TRANSFER_WRITE_BIT;
    const VkPipelineStageFlags src = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    const VkPipelineStageFlags dst = to_host ? VkPipelineStageFlags(VK_PIPELINE_STAGE_HOST_BIT) : src;
    d->vk.vkCmdPipelineBarrier(cb, src, dst, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

}  // namespace rawvk
