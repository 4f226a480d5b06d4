// The vkCreateDevice step of the default context: check the device's
// Vulkan version, choose its extensions and features (device_features.cpp),
// create the VkDevice and record what was enabled in Device::caps.
#include "vulkan/context/device_create.h"

#include "common/report.h"
#include "vulkan/context/device_features.h"
#include "vulkan/util/scratch.h"
#include "vulkan/util/vk_result.h"

namespace hvk {
namespace {

// min(device, 1.3) into *api; Vulkan 1.0 devices are refused.
int usable_api_version(void *uc, const VkPhysicalDeviceProperties &props, uint32_t *api) {
    *api = props.apiVersion < VK_API_VERSION_1_3 ? props.apiVersion : VK_API_VERSION_1_3;
    if (VK_API_VERSION_MINOR(*api) < 1 && VK_API_VERSION_MAJOR(*api) == 1) {
        return report_error(uc, -36, "context",
                            "%s supports only Vulkan %u.%u; halide-vk-runtime needs Vulkan 1.1 or newer",
                            props.deviceName, VK_API_VERSION_MAJOR(*api), VK_API_VERSION_MINOR(*api));
    }
    return 0;
}

int create_vk_device(void *uc, Device *d, const VkPhysicalDeviceProperties &props,
                     const DeviceExtensionChoice &ext, FeatureChain *chain) {
    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue_info{};
    queue_info.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
    queue_info.queueFamilyIndex = d->queue_family;
    queue_info.queueCount = 1;
    queue_info.pQueuePriorities = &priority;

    VkDeviceCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
    info.queueCreateInfoCount = 1;
    info.pQueueCreateInfos = &queue_info;
    info.enabledExtensionCount = static_cast<uint32_t>(ext.enabled_count);
    info.ppEnabledExtensionNames = ext.enabled;
    if (d->ifn.GetPhysicalDeviceFeatures2 != nullptr) {
        info.pNext = &chain->features2;
    } else {
        info.pEnabledFeatures = &chain->features2.features;
    }
    VkResult r = d->ifn.CreateDevice(d->physical_device, &info, d->callbacks, &d->device);
    if (r != VK_SUCCESS) {
        d->device = VK_NULL_HANDLE;
        return report_error(uc, -36, "context", "vkCreateDevice on %s failed: %s", props.deviceName,
                            vk_result_name(r));
    }
    return 0;
}

}  // namespace

int create_logical_device(void *uc, Device *d) {
    VkPhysicalDeviceProperties props;
    d->ifn.GetPhysicalDeviceProperties(d->physical_device, &props);
    uint32_t api = 0;
    int rc = usable_api_version(uc, props, &api);
    if (rc != 0) {
        return rc;
    }
    uint32_t ext_count = 0;
    rc = count_device_extensions(uc, *d, &ext_count);
    if (rc != 0) {
        return rc;
    }
    ScratchArray<VkExtensionProperties> available(d->callbacks, ext_count);
    rc = read_device_extensions(uc, *d, &available, &ext_count);
    if (rc != 0) {
        return rc;
    }
    DeviceExtensionChoice ext;
    ext.available = available.data();
    ext.available_count = ext_count;

    DeviceCaps caps;
    caps.api_version = api;
    enable_base_extensions(&ext, &caps);
    FeatureChain chain;
    link_feature_chain(api, &ext, &chain);
    query_supported_features(d->ifn, d->physical_device, &chain);
    choose_enabled_features(&chain, &caps);

    rc = create_vk_device(uc, d, props, ext, &chain);
    if (rc != 0) {
        return rc;
    }
    d->caps = caps;
    return 0;
}

}  // namespace hvk
