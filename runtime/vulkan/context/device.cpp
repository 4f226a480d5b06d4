#include "vulkan/context/device.h"

#include <cstring>

#include "common/report.h"

namespace hvk {
namespace {

constexpr int kMaxDevices = 32;
std::mutex g_registry_mutex;
Device *g_devices[kMaxDevices] = {};

constexpr int kMaxTeardowns = 16;
struct Teardown {
    int order;
    SubsystemTeardown fn;
};
Teardown g_teardowns[kMaxTeardowns];
int g_teardown_count = 0;

template <typename T>
void resolve(VkInstance instance, const char *name, T *out) {
    *out = reinterpret_cast<T>(vkGetInstanceProcAddr(instance, name));
}

}  // namespace

TeardownRegistration::TeardownRegistration(int order, SubsystemTeardown fn) {
    // Runs during static initialisation, single threaded; keep sorted.
    if (g_teardown_count >= kMaxTeardowns) {
        return;
    }
    int i = g_teardown_count++;
    while (i > 0 && g_teardowns[i - 1].order > order) {
        g_teardowns[i] = g_teardowns[i - 1];
        i--;
    }
    g_teardowns[i] = Teardown{order, fn};
}

void destroy_device_subsystems(Device *d) {
    for (int i = 0; i < g_teardown_count; i++) {
        g_teardowns[i].fn(d);
    }
}

bool load_instance_functions(VkInstance instance, InstanceFunctions *f) {
    resolve(instance, "vkDestroyInstance", &f->DestroyInstance);
    resolve(instance, "vkEnumeratePhysicalDevices", &f->EnumeratePhysicalDevices);
    resolve(instance, "vkGetPhysicalDeviceProperties", &f->GetPhysicalDeviceProperties);
    resolve(instance, "vkGetPhysicalDeviceProperties2", &f->GetPhysicalDeviceProperties2);
    if (f->GetPhysicalDeviceProperties2 == nullptr) {
        resolve(instance, "vkGetPhysicalDeviceProperties2KHR", &f->GetPhysicalDeviceProperties2);
    }
    resolve(instance, "vkGetPhysicalDeviceFeatures", &f->GetPhysicalDeviceFeatures);
    resolve(instance, "vkGetPhysicalDeviceFeatures2", &f->GetPhysicalDeviceFeatures2);
    if (f->GetPhysicalDeviceFeatures2 == nullptr) {
        resolve(instance, "vkGetPhysicalDeviceFeatures2KHR", &f->GetPhysicalDeviceFeatures2);
    }
    resolve(instance, "vkGetPhysicalDeviceMemoryProperties", &f->GetPhysicalDeviceMemoryProperties);
    resolve(instance, "vkGetPhysicalDeviceQueueFamilyProperties", &f->GetPhysicalDeviceQueueFamilyProperties);
    resolve(instance, "vkEnumerateDeviceExtensionProperties", &f->EnumerateDeviceExtensionProperties);
    resolve(instance, "vkCreateDevice", &f->CreateDevice);
    resolve(instance, "vkGetDeviceProcAddr", &f->GetDeviceProcAddr);
    resolve(instance, "vkCreateDebugUtilsMessengerEXT", &f->CreateDebugUtilsMessengerEXT);
    resolve(instance, "vkDestroyDebugUtilsMessengerEXT", &f->DestroyDebugUtilsMessengerEXT);
    return f->DestroyInstance && f->EnumeratePhysicalDevices && f->GetPhysicalDeviceProperties &&
           f->GetPhysicalDeviceFeatures && f->GetPhysicalDeviceMemoryProperties &&
           f->GetPhysicalDeviceQueueFamilyProperties && f->EnumerateDeviceExtensionProperties && f->CreateDevice &&
           f->GetDeviceProcAddr;
}

int load_device(void *user_context, Device *d) {
    {
        // volk builds device tables through its global vkGetDeviceProcAddr;
        // the loader's trampoline serves every device, whichever instance.
        static std::mutex volk_mutex;
        std::lock_guard<std::mutex> lock(volk_mutex);
        vkGetDeviceProcAddr = d->ifn.GetDeviceProcAddr;
        volkLoadDeviceTable(&d->vk, d->device);
    }
    if (d->vk.vkQueueSubmit == nullptr || d->vk.vkCreateBuffer == nullptr || d->vk.vkCmdDispatch == nullptr) {
        return report_error(user_context, -21, "device functions",
                            "vkGetDeviceProcAddr did not provide core Vulkan 1.0 entry points for this VkDevice");
    }
    d->ifn.GetPhysicalDeviceProperties(d->physical_device, &d->properties);
    d->ifn.GetPhysicalDeviceMemoryProperties(d->physical_device, &d->memory_properties);
    return 0;
}

Device *find_device(VkDevice device) {
    if (device == VK_NULL_HANDLE) {
        return nullptr;
    }
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    for (Device *d : g_devices) {
        if (d != nullptr && d->device == device) {
            return d;
        }
    }
    return nullptr;
}

bool is_registered_device(const Device *d) {
    if (d == nullptr) {
        return false;
    }
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    for (Device *e : g_devices) {
        if (e == d) {
            return true;
        }
    }
    return false;
}

int register_device(void *user_context, Device *d) {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    for (Device *&slot : g_devices) {
        if (slot == nullptr) {
            slot = d;
            return 0;
        }
    }
    return report_error(user_context, -11, "device registry",
                        "more than %d distinct VkDevices in use by one process", kMaxDevices);
}

void unregister_device(Device *d) {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    for (Device *&slot : g_devices) {
        if (slot == d) {
            slot = nullptr;
        }
    }
}

}  // namespace hvk
