// An application's own VkInstance / VkDevice, made straight through the
// Vulkan loader (never through the runtime), for the tests that play an
// application handing the runtime its context (acquire/release overrides)
// and for raw-Vulkan probes. Picks the first physical device and its first
// compute queue family, one queue.
//
// Header-only and free of the test support library, so that a plain
// program (setups/validation_canary.cpp) can use it too. The test decides
// whether the validation layer is on: this header reads no environment.
// Its users build with -DVK_NO_PROTOTYPES and link libdl.
#pragma once

#include <dlfcn.h>

#include <cstdint>
#include <vector>

#include <vulkan/vulkan.h>

namespace hvk_test {

struct AppVkOptions {
    const char *app_name = nullptr;  // VkApplicationInfo::pApplicationName
    bool validation = false;         // enable VK_LAYER_KHRONOS_validation
    // With validation: a debug messenger for instance creation (pNext) and
    // afterwards (VK_EXT_debug_utils). Null: no messenger, no extension.
    PFN_vkDebugUtilsMessengerCallbackEXT on_message = nullptr;
};

struct AppVkDevice {
    void *lib = nullptr;  // the loader, dlopen'ed (never closed here)
    PFN_vkGetInstanceProcAddr gipa = nullptr;
    PFN_vkGetDeviceProcAddr gdpa = nullptr;
    VkInstance instance = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    VkPhysicalDevice physical = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    VkQueue queue = VK_NULL_HANDLE;
    uint32_t family = 0;
    PFN_vkDestroyInstance DestroyInstance = nullptr;
    PFN_vkDestroyDebugUtilsMessengerEXT DestroyMessenger = nullptr;
    PFN_vkDestroyDevice DestroyDevice = nullptr;
    PFN_vkDeviceWaitIdle DeviceWaitIdle = nullptr;

    template <typename T>
    T instance_fn(const char *name) const {
        return reinterpret_cast<T>(gipa(instance, name));
    }
    template <typename T>
    T device_fn(const char *name) const {
        return reinterpret_cast<T>(gdpa(device, name));
    }
};

// Step 1: dlopen the loader and find vkGetInstanceProcAddr.
inline bool open_vulkan_loader(AppVkDevice *a) {
    a->lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (a->lib == nullptr) {
        return false;
    }
    a->gipa = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(a->lib, "vkGetInstanceProcAddr"));
    return a->gipa != nullptr;
}

inline VkDebugUtilsMessengerCreateInfoEXT app_messenger_info(PFN_vkDebugUtilsMessengerCallbackEXT on_message) {
    VkDebugUtilsMessengerCreateInfoEXT mi{};
    mi.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
    mi.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    mi.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    mi.pfnUserCallback = on_message;
    return mi;
}

// Step 2: the instance (Vulkan 1.1), with the layer and messenger `o` asks for.
inline bool create_app_instance(AppVkDevice *a, const AppVkOptions &o) {
    auto CreateInstance = reinterpret_cast<PFN_vkCreateInstance>(a->gipa(nullptr, "vkCreateInstance"));
    const bool messenger = o.validation && o.on_message != nullptr;
    const char *layers[] = {"VK_LAYER_KHRONOS_validation"};
    const char *extensions[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkDebugUtilsMessengerCreateInfoEXT mi = app_messenger_info(o.on_message);
    VkApplicationInfo app{};
    app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    app.pApplicationName = o.app_name;
    app.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo ii{};
    ii.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    ii.pNext = messenger ? &mi : nullptr;
    ii.pApplicationInfo = &app;
    ii.enabledLayerCount = o.validation ? 1 : 0;
    ii.ppEnabledLayerNames = layers;
    ii.enabledExtensionCount = messenger ? 1 : 0;
    ii.ppEnabledExtensionNames = extensions;
    if (CreateInstance(&ii, nullptr, &a->instance) != VK_SUCCESS) {
        return false;
    }
    a->DestroyInstance = a->instance_fn<PFN_vkDestroyInstance>("vkDestroyInstance");
    a->gdpa = a->instance_fn<PFN_vkGetDeviceProcAddr>("vkGetDeviceProcAddr");
    if (messenger) {
        auto CreateMessenger = a->instance_fn<PFN_vkCreateDebugUtilsMessengerEXT>("vkCreateDebugUtilsMessengerEXT");
        a->DestroyMessenger = a->instance_fn<PFN_vkDestroyDebugUtilsMessengerEXT>("vkDestroyDebugUtilsMessengerEXT");
        CreateMessenger(a->instance, &mi, nullptr, &a->messenger);
    }
    return true;
}

// The first physical device and its first queue family with compute.
inline bool pick_app_physical_device(AppVkDevice *a) {
    auto Enumerate = a->instance_fn<PFN_vkEnumeratePhysicalDevices>("vkEnumeratePhysicalDevices");
    auto Families =
        a->instance_fn<PFN_vkGetPhysicalDeviceQueueFamilyProperties>("vkGetPhysicalDeviceQueueFamilyProperties");
    uint32_t count = 1;
    VkResult r = Enumerate(a->instance, &count, &a->physical);
    if ((r != VK_SUCCESS && r != VK_INCOMPLETE) || count == 0 || a->physical == VK_NULL_HANDLE) {
        return false;
    }
    uint32_t nf = 0;
    Families(a->physical, &nf, nullptr);
    std::vector<VkQueueFamilyProperties> fams(nf);
    Families(a->physical, &nf, fams.data());
    for (uint32_t i = 0; i < nf; i++) {
        if (fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            a->family = i;
            return true;
        }
    }
    return false;
}

// Step 3: the device with one queue of that family.
inline bool create_app_device(AppVkDevice *a) {
    if (!pick_app_physical_device(a)) {
        return false;
    }
    auto CreateDevice = a->instance_fn<PFN_vkCreateDevice>("vkCreateDevice");
    const float priority = 1.0f;
    VkDeviceQueueCreateInfo qi{};
    qi.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
    qi.queueFamilyIndex = a->family;
    qi.queueCount = 1;
    qi.pQueuePriorities = &priority;
    VkDeviceCreateInfo di{};
    di.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
    di.queueCreateInfoCount = 1;
    di.pQueueCreateInfos = &qi;
    if (CreateDevice(a->physical, &di, nullptr, &a->device) != VK_SUCCESS) {
        return false;
    }
    a->device_fn<PFN_vkGetDeviceQueue>("vkGetDeviceQueue")(a->device, a->family, 0, &a->queue);
    a->DestroyDevice = a->device_fn<PFN_vkDestroyDevice>("vkDestroyDevice");
    a->DeviceWaitIdle = a->device_fn<PFN_vkDeviceWaitIdle>("vkDeviceWaitIdle");
    return true;
}

// All three steps.
inline bool create_app_vk_device(AppVkDevice *a, const AppVkOptions &o) {
    return open_vulkan_loader(a) && create_app_instance(a, o) && create_app_device(a);
}

// Destroys the device, the messenger and the instance (whichever exist; no
// wait for idle: a caller whose queue may be busy waits first) and clears
// the handles. The loader stays open.
inline void destroy_app_vk_device(AppVkDevice *a) {
    if (a->device != VK_NULL_HANDLE) {
        a->DestroyDevice(a->device, nullptr);
    }
    if (a->messenger != VK_NULL_HANDLE) {
        a->DestroyMessenger(a->instance, a->messenger, nullptr);
    }
    if (a->instance != VK_NULL_HANDLE) {
        a->DestroyInstance(a->instance, nullptr);
    }
    a->device = VK_NULL_HANDLE;
    a->messenger = VK_NULL_HANDLE;
    a->instance = VK_NULL_HANDLE;
    a->physical = VK_NULL_HANDLE;
    a->queue = VK_NULL_HANDLE;
}

}  // namespace hvk_test
