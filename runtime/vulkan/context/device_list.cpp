#include "vulkan/context/device_list.h"

#include <cstdlib>

#include "vulkan/context/settings.h"

namespace hvk {

bool find_compute_queue_family(const InstanceFunctions &ifn, VkPhysicalDevice device, uint32_t *family) {
    constexpr uint32_t kMaxFamilies = 32;
    VkQueueFamilyProperties families[kMaxFamilies];
    uint32_t count = kMaxFamilies;
    ifn.GetPhysicalDeviceQueueFamilyProperties(device, &count, families);
    for (uint32_t i = 0; i < count; i++) {
        if (families[i].queueCount > 0 && (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) != 0) {
            *family = i;
            return true;
        }
    }
    return false;
}

VkResult list_physical_devices(const InstanceFunctions &ifn, VkInstance instance, DeviceList *out) {
    out->count = DeviceList::kMaxDevices;
    VkResult r = ifn.EnumeratePhysicalDevices(instance, &out->count, out->devices);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        out->count = 0;
        return r;
    }
    for (uint32_t i = 0; i < out->count; i++) {
        ifn.GetPhysicalDeviceProperties(out->devices[i], &out->properties[i]);
        uint32_t family = 0;
        bool compute = find_compute_queue_family(ifn, out->devices[i], &family);
        out->candidates[i] = DeviceCandidate{out->properties[i].deviceType, compute, out->properties[i].deviceName};
    }
    return VK_SUCCESS;
}

DeviceChoice choose_with_settings(const DeviceList &list) {
    char type[256];
    read_setting(Setting::DeviceType, type, sizeof(type));
    return choose_physical_device(list.candidates, list.count, type, std::getenv("HL_VK_DEVICE_INDEX"));
}

}  // namespace hvk
