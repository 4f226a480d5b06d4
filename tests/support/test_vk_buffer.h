// A VkBuffer a test makes itself on the runtime's VkDevice, with host-visible
// coherent memory of its own, mapped and zeroed: what an application hands
// to halide_vulkan_wrap_vk_buffer, and a place whose bytes a test can read
// after GPU work. Needs the runtime's internal headers (hvk_internal_dep).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "vulkan/context/context_scope.h"
#include "vulkan/context/device.h"

namespace hvk_test {

class TestVkBuffer {
public:
    hvk::Device *d = nullptr;
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    uint8_t *map = nullptr;
    VkDeviceSize size = 0;

    // On `device`, which must outlive the buffer.
    TestVkBuffer(hvk::Device *device, VkDeviceSize bytes) : d(device), size(bytes) { create(); }
    // On the default context's device.
    explicit TestVkBuffer(VkDeviceSize bytes) : size(bytes) {
        hvk::ContextScope scope(nullptr, "TestVkBuffer");
        EXPECT_TRUE(scope.ok());
        d = scope.device();
        if (d != nullptr) {
            create();
        }
    }
    TestVkBuffer(const TestVkBuffer &) = delete;
    TestVkBuffer &operator=(const TestVkBuffer &) = delete;
    ~TestVkBuffer() {
        if (d != nullptr) {
            d->vk.vkDestroyBuffer(d->device, buffer, nullptr);
            d->vk.vkFreeMemory(d->device, memory, nullptr);
        }
    }

    // The value halide_vulkan_wrap_vk_buffer takes.
    uint64_t handle() const { return uint64_t(reinterpret_cast<uintptr_t>(buffer)); }
    uint32_t word(size_t i) const {
        uint32_t v;
        std::memcpy(&v, map + i * 4, 4);
        return v;
    }

private:
    void create() {
        VkBufferCreateInfo info{};
        info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
        info.size = size;
        info.usage =
            VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
        info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
        ASSERT_EQ(d->vk.vkCreateBuffer(d->device, &info, nullptr, &buffer), VK_SUCCESS);
        VkMemoryRequirements req{};
        d->vk.vkGetBufferMemoryRequirements(d->device, buffer, &req);
        const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        uint32_t type = UINT32_MAX;
        for (uint32_t i = 0; i < d->memory_properties.memoryTypeCount && type == UINT32_MAX; i++) {
            if ((req.memoryTypeBits & (1u << i)) && (d->memory_properties.memoryTypes[i].propertyFlags & want) == want) {
                type = i;
            }
        }
        ASSERT_NE(type, UINT32_MAX) << "no host-visible coherent memory type for the test's VkBuffer";
        VkMemoryAllocateInfo ai{};
        ai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
        ai.allocationSize = req.size;
        ai.memoryTypeIndex = type;
        ASSERT_EQ(d->vk.vkAllocateMemory(d->device, &ai, nullptr, &memory), VK_SUCCESS);
        ASSERT_EQ(d->vk.vkBindBufferMemory(d->device, buffer, memory, 0), VK_SUCCESS);
        void *p = nullptr;
        ASSERT_EQ(d->vk.vkMapMemory(d->device, memory, 0, VK_WHOLE_SIZE, 0, &p), VK_SUCCESS);
        map = static_cast<uint8_t *>(p);
        std::memset(map, 0, size_t(size));
    }
};

}  // namespace hvk_test
