// Per-VkDevice runtime state. One Device exists for every VkDevice the
// runtime has worked on: the one it created itself (the default context) and
// any an application handed over through halide_vulkan_acquire_context.
#pragma once

#include <cstdint>
#include <mutex>

#include "vulkan/util/vk.h"

namespace hvk {

// What the device can run; kernels that need more are refused clearly.
struct DeviceCaps {
    uint32_t api_version = VK_API_VERSION_1_1;  // usable: min(instance, device)
    bool shader_int8 = false;
    bool shader_int16 = false;
    bool shader_int64 = false;
    bool shader_float16 = false;
    bool shader_float64 = false;
    bool storage_buffer_8bit = false;
    bool uniform_and_storage_buffer_8bit = false;
    bool storage_buffer_16bit = false;
    bool uniform_and_storage_buffer_16bit = false;
    bool maintenance4 = false;      // LocalSizeId (Halide's vk_v13 dynamic workgroup sizes)
    bool push_descriptor = false;   // VK_KHR_push_descriptor enabled
    bool vulkan_memory_model = false;
};

// Instance-level entry points, resolved per instance so that an
// application's instance and ours can coexist.
struct InstanceFunctions {
    PFN_vkDestroyInstance DestroyInstance = nullptr;
    PFN_vkEnumeratePhysicalDevices EnumeratePhysicalDevices = nullptr;
    PFN_vkGetPhysicalDeviceProperties GetPhysicalDeviceProperties = nullptr;
    PFN_vkGetPhysicalDeviceProperties2 GetPhysicalDeviceProperties2 = nullptr;
    PFN_vkGetPhysicalDeviceFeatures GetPhysicalDeviceFeatures = nullptr;
    PFN_vkGetPhysicalDeviceFeatures2 GetPhysicalDeviceFeatures2 = nullptr;
    PFN_vkGetPhysicalDeviceMemoryProperties GetPhysicalDeviceMemoryProperties = nullptr;
    PFN_vkGetPhysicalDeviceQueueFamilyProperties GetPhysicalDeviceQueueFamilyProperties = nullptr;
    PFN_vkEnumerateDeviceExtensionProperties EnumerateDeviceExtensionProperties = nullptr;
    PFN_vkCreateDevice CreateDevice = nullptr;
    PFN_vkGetDeviceProcAddr GetDeviceProcAddr = nullptr;
    PFN_vkCreateDebugUtilsMessengerEXT CreateDebugUtilsMessengerEXT = nullptr;
    PFN_vkDestroyDebugUtilsMessengerEXT DestroyDebugUtilsMessengerEXT = nullptr;
};

// Returns false when a required entry point is missing.
bool load_instance_functions(VkInstance instance, InstanceFunctions *out);

// Subsystems attach here; each owning module creates and destroys its own.
class Arena;
class RegionTable;
class KernelCache;
class Submitter;

class Device {
public:
    VkInstance instance = VK_NULL_HANDLE;
    VkPhysicalDevice physical_device = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    VkQueue queue = VK_NULL_HANDLE;
    uint32_t queue_family = 0;
    bool runtime_owned = false;  // false: the application's handles, never destroyed
    const VkAllocationCallbacks *callbacks = nullptr;

    InstanceFunctions ifn;
    VolkDeviceTable vk{};
    VkPhysicalDeviceProperties properties{};
    VkPhysicalDeviceMemoryProperties memory_properties{};
    DeviceCaps caps;

    // Serialises this device's subsystems when an application's acquire
    // override does not serialise callers itself.
    std::recursive_mutex mutex;

    Arena *arena = nullptr;
    RegionTable *regions = nullptr;
    KernelCache *kernels = nullptr;
    Submitter *submitter = nullptr;
};

// Fills the device-level parts of `d` (function table, properties, caps
// already known) for d->device. Returns 0 or a Halide error code (reported).
int load_device(void *user_context, Device *d);

// Destroys every subsystem attached to `d` (not the VkDevice itself), in
// ascending `order` (kernels before regions before the arena, say). Modules
// register their teardown once, from a static TeardownRegistration.
void destroy_device_subsystems(Device *d);
using SubsystemTeardown = void (*)(Device *d);
struct TeardownRegistration {
    TeardownRegistration(int order, SubsystemTeardown fn);
};

// Registry of live Devices, keyed by VkDevice. No heap use.
Device *find_device(VkDevice device);
bool is_registered_device(const Device *d);
int register_device(void *user_context, Device *d);
void unregister_device(Device *d);

}  // namespace hvk
