// Logical-device creation: enable every feature and extension a Halide
// Vulkan target may use (vk_int8/16/64, vk_float16/64, 8/16-bit storage,
// vk_v13's LocalSizeId through maintenance4) that the device supports, and
// record what was enabled in Device::caps so kernels that need more are
// refused with a clear message instead of failing inside the driver.
#include <cstring>

#include "vulkan/context/context_scope.h"
#include "common/report.h"
#include "vulkan/util/scratch.h"
#include "vulkan/util/vk_result.h"

namespace hvk {
namespace {

constexpr int kMaxExtensions = 16;

bool has_extension(const VkExtensionProperties *props, uint32_t count, const char *name) {
    for (uint32_t i = 0; i < count; i++) {
        if (std::strcmp(props[i].extensionName, name) == 0) {
            return true;
        }
    }
    return false;
}

}  // namespace

int create_logical_device(void *uc, Device *d) {
    const InstanceFunctions &ifn = d->ifn;
    VkPhysicalDeviceProperties props;
    ifn.GetPhysicalDeviceProperties(d->physical_device, &props);
    uint32_t api = props.apiVersion < VK_API_VERSION_1_3 ? props.apiVersion : VK_API_VERSION_1_3;
    if (VK_API_VERSION_MINOR(api) < 1 && VK_API_VERSION_MAJOR(api) == 1) {
        return report_error(uc, -36, "context",
                            "%s supports only Vulkan %u.%u; halide-vk-runtime needs Vulkan 1.1 or newer",
                            props.deviceName, VK_API_VERSION_MAJOR(api), VK_API_VERSION_MINOR(api));
    }
    uint32_t ext_count = 0;
    // Both calls can fail (the loader allocates while merging layer lists):
    // an unchecked failure left ext_count entries of uninitialised names
    // for strcmp below (found by allocation-failure injection, issue 6).
    VkResult er = ifn.EnumerateDeviceExtensionProperties(d->physical_device, nullptr, &ext_count, nullptr);
    if (er != VK_SUCCESS) {
        return report_error(uc, er == VK_ERROR_OUT_OF_HOST_MEMORY ? -11 : -36, "context",
                            "vkEnumerateDeviceExtensionProperties failed: %s", vk_result_name(er));
    }
    ScratchArray<VkExtensionProperties> ext(d->callbacks, ext_count);
    if (!ext.ok()) {
        return report_error(uc, -11, "context", "out of host memory listing device extensions");
    }
    er = ifn.EnumerateDeviceExtensionProperties(d->physical_device, nullptr, &ext_count, ext.data());
    if (er != VK_SUCCESS && er != VK_INCOMPLETE) {
        return report_error(uc, er == VK_ERROR_OUT_OF_HOST_MEMORY ? -11 : -36, "context",
                            "vkEnumerateDeviceExtensionProperties failed: %s", vk_result_name(er));
    }

    const char *enabled[kMaxExtensions];
    int enabled_count = 0;
    auto enable_if_present = [&](const char *name) {
        if (has_extension(ext.data(), ext_count, name) && enabled_count < kMaxExtensions) {
            enabled[enabled_count++] = name;
            return true;
        }
        return false;
    };

    DeviceCaps caps;
    caps.api_version = api;
    // Portability-subset devices require the extension to be enabled.
    enable_if_present("VK_KHR_portability_subset");
    caps.push_descriptor = enable_if_present(VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);

    VkPhysicalDeviceFeatures2 features2{};
    features2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
    VkPhysicalDeviceVulkan11Features v11{};
    v11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES;
    VkPhysicalDeviceVulkan12Features v12{};
    v12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
    VkPhysicalDeviceVulkan13Features v13{};
    v13.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES;
    // Vulkan 1.1 devices: the same features through their extension structs.
    VkPhysicalDevice16BitStorageFeatures s16{};
    s16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES;
    VkPhysicalDevice8BitStorageFeatures s8{};
    s8.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES;
    VkPhysicalDeviceShaderFloat16Int8Features f16i8{};
    f16i8.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES;
    VkPhysicalDeviceMaintenance4Features m4{};
    m4.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_FEATURES;

    bool is12 = api >= VK_API_VERSION_1_2;
    bool is13 = api >= VK_API_VERSION_1_3;
    bool have8 = false, have_f16i8 = false, have_m4 = false;
    if (is12) {
        features2.pNext = &v11;
        v11.pNext = &v12;
        if (is13) {
            v12.pNext = &v13;
        } else {
            have_m4 = enable_if_present(VK_KHR_MAINTENANCE_4_EXTENSION_NAME);
            if (have_m4) {
                v12.pNext = &m4;
            }
        }
    } else {
        features2.pNext = &s16;
        void **tail = &s16.pNext;
        have8 = enable_if_present(VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
        if (have8) {
            *tail = &s8;
            tail = &s8.pNext;
        }
        have_f16i8 = enable_if_present(VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
        if (have_f16i8) {
            *tail = &f16i8;
            tail = &f16i8.pNext;
        }
        have_m4 = enable_if_present(VK_KHR_MAINTENANCE_4_EXTENSION_NAME);
        if (have_m4) {
            *tail = &m4;
        }
    }
    if (ifn.GetPhysicalDeviceFeatures2 != nullptr) {
        ifn.GetPhysicalDeviceFeatures2(d->physical_device, &features2);
    } else {
        ifn.GetPhysicalDeviceFeatures(d->physical_device, &features2.features);
        features2.pNext = nullptr;
    }

    // Keep only what Halide's code can use; enabling everything (as Halide
    // does) can turn on costly features such as robustBufferAccess.
    VkPhysicalDeviceFeatures supported = features2.features;
    VkPhysicalDeviceFeatures &core = features2.features;
    core = VkPhysicalDeviceFeatures{};
    core.shaderInt64 = supported.shaderInt64;
    core.shaderInt16 = supported.shaderInt16;
    core.shaderFloat64 = supported.shaderFloat64;
    core.shaderStorageBufferArrayDynamicIndexing = supported.shaderStorageBufferArrayDynamicIndexing;
    caps.shader_int64 = supported.shaderInt64;
    caps.shader_int16 = supported.shaderInt16;
    caps.shader_float64 = supported.shaderFloat64;

    if (is12) {
        VkPhysicalDeviceVulkan11Features want11{};
        want11.sType = v11.sType;
        want11.pNext = v11.pNext;
        want11.storageBuffer16BitAccess = v11.storageBuffer16BitAccess;
        want11.uniformAndStorageBuffer16BitAccess = v11.uniformAndStorageBuffer16BitAccess;
        want11.storagePushConstant16 = v11.storagePushConstant16;
        v11 = want11;
        VkPhysicalDeviceVulkan12Features want12{};
        want12.sType = v12.sType;
        want12.pNext = v12.pNext;
        want12.storageBuffer8BitAccess = v12.storageBuffer8BitAccess;
        want12.uniformAndStorageBuffer8BitAccess = v12.uniformAndStorageBuffer8BitAccess;
        want12.storagePushConstant8 = v12.storagePushConstant8;
        want12.shaderFloat16 = v12.shaderFloat16;
        want12.shaderInt8 = v12.shaderInt8;
        want12.vulkanMemoryModel = v12.vulkanMemoryModel;
        want12.vulkanMemoryModelDeviceScope = v12.vulkanMemoryModelDeviceScope;
        want12.timelineSemaphore = v12.timelineSemaphore;
        v12 = want12;
        caps.storage_buffer_16bit = v11.storageBuffer16BitAccess;
        caps.uniform_and_storage_buffer_16bit = v11.uniformAndStorageBuffer16BitAccess;
        caps.storage_buffer_8bit = v12.storageBuffer8BitAccess;
        caps.uniform_and_storage_buffer_8bit = v12.uniformAndStorageBuffer8BitAccess;
        caps.shader_float16 = v12.shaderFloat16;
        caps.shader_int8 = v12.shaderInt8;
        caps.vulkan_memory_model = v12.vulkanMemoryModel;
        if (is13) {
            VkPhysicalDeviceVulkan13Features want13{};
            want13.sType = v13.sType;
            want13.pNext = v13.pNext;
            want13.maintenance4 = v13.maintenance4;
            want13.subgroupSizeControl = v13.subgroupSizeControl;
            want13.computeFullSubgroups = v13.computeFullSubgroups;
            want13.synchronization2 = v13.synchronization2;
            v13 = want13;
            caps.maintenance4 = v13.maintenance4;
        } else {
            caps.maintenance4 = have_m4 && m4.maintenance4;
        }
    } else {
        caps.storage_buffer_16bit = s16.storageBuffer16BitAccess;
        caps.uniform_and_storage_buffer_16bit = s16.uniformAndStorageBuffer16BitAccess;
        caps.storage_buffer_8bit = have8 && s8.storageBuffer8BitAccess;
        caps.uniform_and_storage_buffer_8bit = have8 && s8.uniformAndStorageBuffer8BitAccess;
        caps.shader_float16 = have_f16i8 && f16i8.shaderFloat16;
        caps.shader_int8 = have_f16i8 && f16i8.shaderInt8;
        caps.maintenance4 = have_m4 && m4.maintenance4;
    }

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
    info.enabledExtensionCount = static_cast<uint32_t>(enabled_count);
    info.ppEnabledExtensionNames = enabled;
    if (ifn.GetPhysicalDeviceFeatures2 != nullptr) {
        info.pNext = &features2;
    } else {
        info.pEnabledFeatures = &features2.features;
    }
    VkResult r = ifn.CreateDevice(d->physical_device, &info, d->callbacks, &d->device);
    if (r != VK_SUCCESS) {
        d->device = VK_NULL_HANDLE;
        return report_error(uc, -36, "context", "vkCreateDevice on %s failed: %s", props.deviceName,
                            vk_result_name(r));
    }
    d->caps = caps;
    return 0;
}

}  // namespace hvk
