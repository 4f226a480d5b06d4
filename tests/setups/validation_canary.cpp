// Proves that the test setup's validation features are really on: with
// raw Vulkan (not the runtime), records two vkCmdFillBuffer writes to the
// same buffer without a barrier -- a write-after-write hazard that only
// synchronization validation reports. Exit 0 when the number of
// SYNC-HAZARD messages matches what VK_LAYER_ENABLES asks for (at least
// one with VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT,
// none without), 1 otherwise, 77 (skipped) without the validation layer.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <vulkan/vulkan.h>

#include "app_vk_device.h"

namespace {

std::atomic<int> g_hazards{0};
std::atomic<int> g_other{0};

VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                          VkDebugUtilsMessageTypeFlagsEXT,
                                          const VkDebugUtilsMessengerCallbackDataEXT *data, void *) {
    if (severity < VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        return VK_FALSE;
    }
    const char *msg = data->pMessage != nullptr ? data->pMessage : "";
    if (std::strstr(msg, "SYNC-HAZARD") != nullptr) {
        g_hazards++;
    } else {
        g_other++;
        std::fprintf(stderr, "unexpected message: %s\n", msg);
    }
    return VK_FALSE;
}

}  // namespace

int main() {
    const char *validation = std::getenv("HVK_TEST_VALIDATION");
    if (validation == nullptr || std::strcmp(validation, "1") != 0) {
        std::printf("SKIP: the suite runs without the validation layer\n");
        return 77;
    }
    const char *enables = std::getenv("VK_LAYER_ENABLES");
    const bool want_sync =
        enables != nullptr && std::strstr(enables, "VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT");

    hvk_test::AppVkDevice app;
    hvk_test::AppVkOptions options;
    options.validation = true;
    options.on_message = on_message;
    if (!hvk_test::open_vulkan_loader(&app)) {
        std::printf("FAIL: no Vulkan loader\n");
        return 1;
    }
    if (!hvk_test::create_app_instance(&app, options)) {
        std::printf("FAIL: vkCreateInstance with the validation layer\n");
        return 1;
    }
    if (!hvk_test::create_app_device(&app)) {
        std::printf("FAIL: no device\n");
        return 1;
    }
    const VkDevice device = app.device;
#define FN(type, name) app.instance_fn<type>(name)
    auto MemProps = FN(PFN_vkGetPhysicalDeviceMemoryProperties, "vkGetPhysicalDeviceMemoryProperties");
    auto CreateBuffer = FN(PFN_vkCreateBuffer, "vkCreateBuffer");
    auto DestroyBuffer = FN(PFN_vkDestroyBuffer, "vkDestroyBuffer");
    auto GetReqs = FN(PFN_vkGetBufferMemoryRequirements, "vkGetBufferMemoryRequirements");
    auto AllocateMemory = FN(PFN_vkAllocateMemory, "vkAllocateMemory");
    auto FreeMemory = FN(PFN_vkFreeMemory, "vkFreeMemory");
    auto BindMemory = FN(PFN_vkBindBufferMemory, "vkBindBufferMemory");
    auto CreatePool = FN(PFN_vkCreateCommandPool, "vkCreateCommandPool");
    auto DestroyPool = FN(PFN_vkDestroyCommandPool, "vkDestroyCommandPool");
    auto AllocateCb = FN(PFN_vkAllocateCommandBuffers, "vkAllocateCommandBuffers");
    auto Begin = FN(PFN_vkBeginCommandBuffer, "vkBeginCommandBuffer");
    auto End = FN(PFN_vkEndCommandBuffer, "vkEndCommandBuffer");
    auto Fill = FN(PFN_vkCmdFillBuffer, "vkCmdFillBuffer");
#undef FN
    VkBufferCreateInfo bi{};
    bi.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    bi.size = 256;
    bi.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    VkBuffer buffer = VK_NULL_HANDLE;
    CreateBuffer(device, &bi, nullptr, &buffer);
    VkMemoryRequirements req;
    GetReqs(device, buffer, &req);
    VkPhysicalDeviceMemoryProperties mp;
    MemProps(app.physical, &mp);
    uint32_t type = 0;
    while (type < mp.memoryTypeCount && (req.memoryTypeBits & (1u << type)) == 0) {
        type++;
    }
    VkMemoryAllocateInfo ai{};
    ai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = type;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    AllocateMemory(device, &ai, nullptr, &memory);
    BindMemory(device, buffer, memory, 0);
    VkCommandPoolCreateInfo pi{};
    pi.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
    pi.queueFamilyIndex = app.family;
    VkCommandPool pool = VK_NULL_HANDLE;
    CreatePool(device, &pi, nullptr, &pool);
    VkCommandBufferAllocateInfo cai{};
    cai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
    cai.commandPool = pool;
    cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cai.commandBufferCount = 1;
    VkCommandBuffer cb = VK_NULL_HANDLE;
    AllocateCb(device, &cai, &cb);
    VkCommandBufferBeginInfo cbi{};
    cbi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
    Begin(cb, &cbi);
    Fill(cb, buffer, 0, 256, 1u);
    Fill(cb, buffer, 0, 256, 2u);  // no barrier: WRITE_AFTER_WRITE
    End(cb);

    DestroyPool(device, pool, nullptr);
    DestroyBuffer(device, buffer, nullptr);
    FreeMemory(device, memory, nullptr);
    hvk_test::destroy_app_vk_device(&app);
    dlclose(app.lib);

    const int hazards = g_hazards.load();
    std::printf("synchronization validation %s: %d SYNC-HAZARD message(s), %d other message(s)\n",
                want_sync ? "requested" : "not requested", hazards, g_other.load());
    const bool ok = (want_sync ? hazards > 0 : hazards == 0) && g_other.load() == 0;
    std::printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
