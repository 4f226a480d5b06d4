// Direct Vulkan access for tests: the runtime's own handles (through the
// public acquire/release pair) and entry points from the system loader.
#pragma once

#include <dlfcn.h>

#include <vulkan/vulkan.h>

#include "HalideRuntimeVulkan.h"

namespace hvk_test {

struct RuntimeHandles {
    VkInstance instance = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    VkPhysicalDevice physical_device = VK_NULL_HANDLE;
    VkQueue queue = VK_NULL_HANDLE;
    uint32_t queue_family = 0;
};

// Acquires and immediately releases the runtime's context. Returns the
// acquire's result.
inline int runtime_handles(RuntimeHandles *h) {
    struct halide_vulkan_memory_allocator *allocator = nullptr;
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    int rc = halide_vulkan_acquire_context(nullptr, &allocator, &h->instance, &h->device, &h->physical_device,
                                           &h->queue, &h->queue_family, &messenger, true);
    if (rc == 0) {
        halide_vulkan_release_context(nullptr, h->instance, h->device, h->queue, messenger);
    }
    return rc;
}

inline PFN_vkGetInstanceProcAddr loader_get_instance_proc_addr() {
    static void *lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    return lib != nullptr ? reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr")) : nullptr;
}

template <typename T>
T device_proc(VkInstance instance, VkDevice device, const char *name) {
    auto gipa = loader_get_instance_proc_addr();
    auto gdpa = reinterpret_cast<PFN_vkGetDeviceProcAddr>(gipa(instance, "vkGetDeviceProcAddr"));
    return reinterpret_cast<T>(gdpa(device, name));
}

}  // namespace hvk_test
