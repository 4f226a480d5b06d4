// Proves that the test setup's validation features are really on: with
// raw Vulkan (not the runtime), records two vkCmdFillBuffer writes to the
// same buffer without a barrier -- a write-after-write hazard that only
// synchronization validation reports. Exit 0 when the number of
// SYNC-HAZARD messages matches what VK_LAYER_ENABLES asks for (at least
// one with VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT,
// none without), 1 otherwise, 77 (skipped) without the validation layer.
#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <vulkan/vulkan.h>

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

    void *lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
        std::printf("FAIL: no Vulkan loader\n");
        return 1;
    }
    auto gipa = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
    auto CreateInstance = reinterpret_cast<PFN_vkCreateInstance>(gipa(nullptr, "vkCreateInstance"));
    const char *layers[] = {"VK_LAYER_KHRONOS_validation"};
    const char *extensions[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkDebugUtilsMessengerCreateInfoEXT mi{};
    mi.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
    mi.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    mi.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    mi.pfnUserCallback = on_message;
    VkApplicationInfo app{};
    app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    app.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo ii{};
    ii.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    ii.pNext = &mi;
    ii.pApplicationInfo = &app;
    ii.enabledLayerCount = 1;
    ii.ppEnabledLayerNames = layers;
    ii.enabledExtensionCount = 1;
    ii.ppEnabledExtensionNames = extensions;
    VkInstance instance = VK_NULL_HANDLE;
    if (CreateInstance(&ii, nullptr, &instance) != VK_SUCCESS) {
        std::printf("FAIL: vkCreateInstance with the validation layer\n");
        return 1;
    }
#define FN(type, name) reinterpret_cast<type>(gipa(instance, name))
    auto CreateMessenger = FN(PFN_vkCreateDebugUtilsMessengerEXT, "vkCreateDebugUtilsMessengerEXT");
    auto DestroyMessenger = FN(PFN_vkDestroyDebugUtilsMessengerEXT, "vkDestroyDebugUtilsMessengerEXT");
    auto DestroyInstance = FN(PFN_vkDestroyInstance, "vkDestroyInstance");
    auto Enumerate = FN(PFN_vkEnumeratePhysicalDevices, "vkEnumeratePhysicalDevices");
    auto Families = FN(PFN_vkGetPhysicalDeviceQueueFamilyProperties, "vkGetPhysicalDeviceQueueFamilyProperties");
    auto MemProps = FN(PFN_vkGetPhysicalDeviceMemoryProperties, "vkGetPhysicalDeviceMemoryProperties");
    auto CreateDevice = FN(PFN_vkCreateDevice, "vkCreateDevice");
    auto DestroyDevice = FN(PFN_vkDestroyDevice, "vkDestroyDevice");
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
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    CreateMessenger(instance, &mi, nullptr, &messenger);

    uint32_t count = 1;
    VkPhysicalDevice pd = VK_NULL_HANDLE;
    Enumerate(instance, &count, &pd);
    uint32_t nf = 0;
    Families(pd, &nf, nullptr);
    std::vector<VkQueueFamilyProperties> fams(nf);
    Families(pd, &nf, fams.data());
    uint32_t family = 0;
    while (family < nf && (fams[family].queueFlags & VK_QUEUE_COMPUTE_BIT) == 0) {
        family++;
    }
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qi{};
    qi.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
    qi.queueFamilyIndex = family;
    qi.queueCount = 1;
    qi.pQueuePriorities = &priority;
    VkDeviceCreateInfo di{};
    di.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
    di.queueCreateInfoCount = 1;
    di.pQueueCreateInfos = &qi;
    VkDevice device = VK_NULL_HANDLE;
    if (pd == VK_NULL_HANDLE || family == nf || CreateDevice(pd, &di, nullptr, &device) != VK_SUCCESS) {
        std::printf("FAIL: no device\n");
        return 1;
    }
    VkBufferCreateInfo bi{};
    bi.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    bi.size = 256;
    bi.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    VkBuffer buffer = VK_NULL_HANDLE;
    CreateBuffer(device, &bi, nullptr, &buffer);
    VkMemoryRequirements req;
    GetReqs(device, buffer, &req);
    VkPhysicalDeviceMemoryProperties mp;
    MemProps(pd, &mp);
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
    pi.queueFamilyIndex = family;
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
    DestroyDevice(device, nullptr);
    DestroyMessenger(instance, messenger, nullptr);
    DestroyInstance(instance, nullptr);
    dlclose(lib);

    const int hazards = g_hazards.load();
    std::printf("synchronization validation %s: %d SYNC-HAZARD message(s), %d other message(s)\n",
                want_sync ? "requested" : "not requested", hazards, g_other.load());
    const bool ok = (want_sync ? hazards > 0 : hazards == 0) && g_other.load() == 0;
    std::printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
