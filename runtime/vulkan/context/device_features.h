// What a physical device can do and what the runtime enables on it: the
// device extensions it offers, and the feature structs (chained under
// VkPhysicalDeviceFeatures2) that a Halide Vulkan target may use. The
// choice is recorded in DeviceCaps; device_create.cpp turns it into a
// VkDevice.
#pragma once

#include <cstdint>

#include "vulkan/context/device.h"
#include "vulkan/util/scratch.h"

namespace hvk {

// The device extensions offered (a list the caller owns) and the ones the
// runtime enables, in the order they were chosen.
struct DeviceExtensionChoice {
    static constexpr int kMaxEnabled = 16;

    const VkExtensionProperties *available = nullptr;
    uint32_t available_count = 0;
    const char *enabled[kMaxEnabled];
    int enabled_count = 0;

    // Enables `name` when the device offers it and there is room; returns
    // whether it did.
    bool enable_if_present(const char *name);
};

// Listing the device's extensions takes two calls around the caller's
// allocation (a ScratchArray sized by the first, kept alive while the
// DeviceExtensionChoice that points into it is used). Both return 0 or a
// Halide error code (reported).
int count_device_extensions(void *user_context, const Device &d, uint32_t *count);
int read_device_extensions(void *user_context, const Device &d, ScratchArray<VkExtensionProperties> *ext,
                           uint32_t *count);

// Extensions enabled whatever the API version: VK_KHR_portability_subset
// (required where offered) and VK_KHR_push_descriptor (recorded in caps).
void enable_base_extensions(DeviceExtensionChoice *ext, DeviceCaps *caps);

// The feature structs for vkCreateDevice, linked through pNext into one
// chain under features2. The links point into this object, so it is neither
// copied nor moved.
struct FeatureChain {
    VkPhysicalDeviceFeatures2 features2{};
    VkPhysicalDeviceVulkan11Features v11{};
    VkPhysicalDeviceVulkan12Features v12{};
    VkPhysicalDeviceVulkan13Features v13{};
    // Vulkan 1.1 devices: the same features through their extension structs.
    VkPhysicalDevice16BitStorageFeatures s16{};
    VkPhysicalDevice8BitStorageFeatures s8{};
    VkPhysicalDeviceShaderFloat16Int8Features f16i8{};
    VkPhysicalDeviceMaintenance4Features m4{};

    bool is12 = false;  // the Vulkan 1.1 / 1.2 core structs are used
    bool is13 = false;  // the Vulkan 1.3 core struct is used
    // Extension structs in the chain (their extension enabled).
    bool have8 = false;
    bool have_f16i8 = false;
    bool have_m4 = false;

    FeatureChain();
    FeatureChain(const FeatureChain &) = delete;
    FeatureChain &operator=(const FeatureChain &) = delete;
};

// Links the structs that the usable API version `api` provides, enabling
// the extensions a Vulkan 1.1 / 1.2 device needs for the rest.
void link_feature_chain(uint32_t api, DeviceExtensionChoice *ext, FeatureChain *chain);

// Fills the chain with what the device supports (only the core struct when
// the instance has no vkGetPhysicalDeviceFeatures2).
void query_supported_features(const InstanceFunctions &ifn, VkPhysicalDevice physical_device, FeatureChain *chain);

// Narrows the chain to what Halide's code can use and records it in caps.
void choose_enabled_features(FeatureChain *chain, DeviceCaps *caps);

}  // namespace hvk
