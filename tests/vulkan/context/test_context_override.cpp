// The application-context path (issue 2 item 6, issue 3 item 7): this
// program creates its own VkInstance and VkDevice through the loader,
// defines halide_vulkan_acquire_context / halide_vulkan_release_context
// itself (they interpose the shared library's), and runs the buffer API on
// its device. halide_device_release must drop the runtime's state for the
// device without touching the device or instance, which the program then
// destroys itself -- with the validation layer watching.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include <vulkan/vulkan.h>

#include "app_vk_device.h"
#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"
#include "memory_test_util.h"
#include "test_env.h"

namespace {

// The application's device plus the calls this test makes on it.
struct App : hvk_test::AppVkDevice {
    PFN_vkCreateBuffer CreateBuffer = nullptr;
    PFN_vkDestroyBuffer DestroyBuffer = nullptr;
    PFN_vkGetBufferMemoryRequirements GetBufferMemoryRequirements = nullptr;
    PFN_vkAllocateMemory AllocateMemory = nullptr;
    PFN_vkFreeMemory FreeMemory = nullptr;
    PFN_vkBindBufferMemory BindBufferMemory = nullptr;
    PFN_vkMapMemory MapMemory = nullptr;
    VkPhysicalDeviceMemoryProperties memory{};
    char device_name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE] = "";
};

App g_app;
std::mutex g_context_mutex;
int g_acquires = 0;
int g_releases = 0;
int g_validation_messages = 0;

VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                          VkDebugUtilsMessageTypeFlagsEXT, const VkDebugUtilsMessengerCallbackDataEXT *data,
                                          void *) {
    if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        g_validation_messages++;
        std::fprintf(stderr, "validation (application messenger): %s\n", data->pMessage);
    }
    return VK_FALSE;
}

bool create_app() {
    App &a = g_app;
    hvk_test::AppVkOptions options;
    options.app_name = "context-override-test";
    options.validation = hvk_test::validation_enabled();
    options.on_message = on_message;
    if (!hvk_test::create_app_vk_device(&a, options)) {
        return false;
    }
    VkPhysicalDeviceProperties props;
    a.instance_fn<PFN_vkGetPhysicalDeviceProperties>("vkGetPhysicalDeviceProperties")(a.physical, &props);
    std::snprintf(a.device_name, sizeof(a.device_name), "%s", props.deviceName);
    a.instance_fn<PFN_vkGetPhysicalDeviceMemoryProperties>("vkGetPhysicalDeviceMemoryProperties")(a.physical,
                                                                                                    &a.memory);
    a.CreateBuffer = a.device_fn<PFN_vkCreateBuffer>("vkCreateBuffer");
    a.DestroyBuffer = a.device_fn<PFN_vkDestroyBuffer>("vkDestroyBuffer");
    a.GetBufferMemoryRequirements = a.device_fn<PFN_vkGetBufferMemoryRequirements>("vkGetBufferMemoryRequirements");
    a.AllocateMemory = a.device_fn<PFN_vkAllocateMemory>("vkAllocateMemory");
    a.FreeMemory = a.device_fn<PFN_vkFreeMemory>("vkFreeMemory");
    a.BindBufferMemory = a.device_fn<PFN_vkBindBufferMemory>("vkBindBufferMemory");
    a.MapMemory = a.device_fn<PFN_vkMapMemory>("vkMapMemory");
    return true;
}

}  // namespace

// The application's context: its own handles, serialised by its own lock.
extern "C" int halide_vulkan_acquire_context(void *, halide_vulkan_memory_allocator **allocator, VkInstance *instance,
                                             VkDevice *device, VkPhysicalDevice *physical_device, VkQueue *queue,
                                             uint32_t *queue_family_index, VkDebugUtilsMessengerEXT *messenger,
                                             bool) {
    g_context_mutex.lock();
    g_acquires++;
    *allocator = nullptr;
    *instance = g_app.instance;
    *device = g_app.device;
    *physical_device = g_app.physical;
    *queue = g_app.queue;
    *queue_family_index = g_app.family;
    *messenger = VK_NULL_HANDLE;
    return 0;
}

extern "C" int halide_vulkan_release_context(void *, VkInstance, VkDevice, VkQueue, VkDebugUtilsMessengerEXT) {
    g_releases++;
    g_context_mutex.unlock();
    return 0;
}

namespace {

using memtest::Buf;

TEST(ContextOverride, BufferApiRunsOnTheApplicationsDevice) {
    ASSERT_TRUE(create_app()) << "could not create the application's Vulkan device";
    App &a = g_app;
    halide_vk_device_capabilities caps{};
    caps.struct_size = sizeof(caps);
    caps.api_version = VK_API_VERSION_1_1;
    ASSERT_EQ(halide_vk_declare_device_capabilities(nullptr, a.device, &caps), 0);

    // Owned: malloc, upload, crop, download.
    Buf buf(memtest::i32(), {257, 3});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &buf.b), 0);
    EXPECT_GT(g_acquires, 0);
    EXPECT_EQ(g_acquires, g_releases);
    EXPECT_FALSE(halide_vulkan_is_initialized()) << "the runtime must not create a context of its own";
    char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
    ASSERT_EQ(halide_vk_get_selected_device_name(nullptr, name, sizeof(name)), 0);
    EXPECT_STREQ(name, a.device_name);
    for (int i = 0; i < 257 * 3; i++) {
        reinterpret_cast<int32_t *>(buf.b.host)[i] = i * 3 + 1;
    }
    buf.b.set_host_dirty(true);
    ASSERT_EQ(halide_copy_to_device(nullptr, &buf.b, memtest::vk()), 0);
    // The runtime's VkBuffer is a buffer of *our* device: querying it through
    // our device is valid (the validation layer would object otherwise).
    VkBuffer ours = reinterpret_cast<VkBuffer>(halide_vulkan_get_vk_buffer(nullptr, &buf.b));
    ASSERT_NE(ours, VK_NULL_HANDLE);
    VkMemoryRequirements req{};
    a.GetBufferMemoryRequirements(a.device, ours, &req);
    EXPECT_GE(req.size, 257u * 3 * 4);

    Buf crop(memtest::i32(), {1});
    crop.crop_from(buf, {5, 1}, {100, 2});
    ASSERT_EQ(halide_device_crop(nullptr, &buf.b, &crop.b), 0);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &crop.b), uint64_t(257 + 5) * 4);
    std::memset(buf.storage.data(), 0, buf.storage.size());
    crop.b.set_device_dirty(true);
    ASSERT_EQ(halide_copy_to_host(nullptr, &crop.b), 0);
    EXPECT_EQ(reinterpret_cast<int32_t *>(crop.b.host)[0], (257 + 5) * 3 + 1);
    ASSERT_EQ(halide_device_release_crop(nullptr, &crop.b), 0);

    // Wrapped: a VkBuffer the application made on its device, at an offset.
    VkBufferCreateInfo bi{};
    bi.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    bi.size = 8192;
    bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
               VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    VkBuffer mine = VK_NULL_HANDLE;
    ASSERT_EQ(a.CreateBuffer(a.device, &bi, nullptr, &mine), VK_SUCCESS);
    a.GetBufferMemoryRequirements(a.device, mine, &req);
    uint32_t type = UINT32_MAX;
    const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    for (uint32_t i = 0; i < a.memory.memoryTypeCount && type == UINT32_MAX; i++) {
        if ((req.memoryTypeBits & (1u << i)) && (a.memory.memoryTypes[i].propertyFlags & want) == want) {
            type = i;
        }
    }
    ASSERT_NE(type, UINT32_MAX);
    VkMemoryAllocateInfo ai{};
    ai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = type;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    ASSERT_EQ(a.AllocateMemory(a.device, &ai, nullptr, &memory), VK_SUCCESS);
    ASSERT_EQ(a.BindBufferMemory(a.device, mine, memory, 0), VK_SUCCESS);
    void *mapped = nullptr;
    ASSERT_EQ(a.MapMemory(a.device, memory, 0, VK_WHOLE_SIZE, 0, &mapped), VK_SUCCESS);
    std::memset(mapped, 0, 8192);

    Buf w(memtest::u8(), {1000});
    ASSERT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &w.b, uint64_t(reinterpret_cast<uintptr_t>(mine)), 512), 0);
    EXPECT_EQ(halide_vulkan_get_vk_buffer(nullptr, &w.b), reinterpret_cast<uintptr_t>(mine));
    w.fill(8);
    w.b.set_host_dirty(true);
    ASSERT_EQ(halide_copy_to_device(nullptr, &w.b, memtest::vk()), 0);
    ASSERT_EQ(halide_device_sync(nullptr, &w.b), 0);  // copies may be queued, not finished
    EXPECT_EQ(std::memcmp(static_cast<uint8_t *>(mapped) + 512, w.storage.data(), 1000), 0);
    ASSERT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &w.b), 0);
    a.DestroyBuffer(a.device, mine, nullptr);
    a.FreeMemory(a.device, memory, nullptr);

    ASSERT_EQ(halide_device_free(nullptr, &buf.b), 0);

    // A live allocation at release time becomes a stale handle.
    Buf live(memtest::u8(), {64});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &live.b), 0);
    halide_device_release(nullptr, memtest::vk());
    EXPECT_EQ(g_acquires, g_releases);
    hvk_test::clear_errors();
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &live.b), -18);
    EXPECT_TRUE(hvk_test::error_contains("not a live"));
    live.b.device = 0;
    live.b.device_interface = nullptr;
    halide_device_release(nullptr, memtest::vk());  // drops the state that call re-created

    // Our device and instance are still alive and usable.
    ASSERT_EQ(a.DeviceWaitIdle(a.device), VK_SUCCESS);
    VkBuffer probe = VK_NULL_HANDLE;
    ASSERT_EQ(a.CreateBuffer(a.device, &bi, nullptr, &probe), VK_SUCCESS);
    a.DestroyBuffer(a.device, probe, nullptr);

    // Destroy them ourselves; the runtime must not use them afterwards.
    {
        std::lock_guard<std::mutex> lock(g_context_mutex);
        hvk_test::destroy_app_vk_device(&a);
    }
    EXPECT_EQ(g_validation_messages, 0);
    EXPECT_EQ(halide_vulkan_device_release(nullptr), 0) << "nothing to release without a device";
}

}  // namespace
