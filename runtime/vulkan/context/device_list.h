// The physical devices an instance reports, as candidates for
// choose_physical_device, and the choice the current settings make.
// Shared by context creation, compute_capability and halide-vk-info so
// that all three always agree on which device the runtime uses.
#pragma once

#include "vulkan/context/device.h"
#include "vulkan/context/device_select.h"

namespace hvk {

struct DeviceList {
    static constexpr uint32_t kMaxDevices = 16;
    uint32_t count = 0;
    VkPhysicalDevice devices[kMaxDevices];
    VkPhysicalDeviceProperties properties[kMaxDevices];
    DeviceCandidate candidates[kMaxDevices];
};

// Fills `out` (at most kMaxDevices devices). Returns the VkResult of the enumeration.
VkResult list_physical_devices(const InstanceFunctions &ifn, VkInstance instance, DeviceList *out);

// First queue family with a compute bit, or false when there is none.
bool find_compute_queue_family(const InstanceFunctions &ifn, VkPhysicalDevice device, uint32_t *family);

// Applies HL_VK_DEVICE_TYPE (or its setter) and HL_VK_DEVICE_INDEX.
DeviceChoice choose_with_settings(const DeviceList &list);

}  // namespace hvk
