// What the device can do and what we enable: every feature and extension a
// Halide Vulkan target may use (vk_int8/16/64, vk_float16/64, 8/16-bit
// storage, vk_v13's LocalSizeId through maintenance4) that the device
// supports, recorded in DeviceCaps so kernels that need more are refused
// with a clear message instead of failing inside the driver.
#include "vulkan/context/device_features.h"

#include <cstring>

#include "common/report.h"
#include "vulkan/util/vk_result.h"

namespace hvk {
namespace {

bool has_extension(const VkExtensionProperties *props, uint32_t count, const char *name) {
    for (uint32_t i = 0; i < count; i++) {
        if (std::strcmp(props[i].extensionName, name) == 0) {
            return true;
        }
    }
    return false;
}

int report_enumerate_failure(void *uc, VkResult er) {
    return report_error(uc, er == VK_ERROR_OUT_OF_HOST_MEMORY ? -11 : -36, "context",
                        "vkEnumerateDeviceExtensionProperties failed: %s", vk_result_name(er));
}

// Vulkan 1.2+: the 1.1 and 1.2 core structs, then the 1.3 one, or
// VK_KHR_maintenance4's struct on a 1.2 device that offers it.
void link_core_feature_structs(DeviceExtensionChoice *ext, FeatureChain *c) {
    c->features2.pNext = &c->v11;
    c->v11.pNext = &c->v12;
    if (c->is13) {
        c->v12.pNext = &c->v13;
    } else {
        c->have_m4 = ext->enable_if_present(VK_KHR_MAINTENANCE_4_EXTENSION_NAME);
        if (c->have_m4) {
            c->v12.pNext = &c->m4;
        }
    }
}

// Vulkan 1.1: 16-bit storage is core, the rest come from extensions the
// device may offer.
void link_extension_feature_structs(DeviceExtensionChoice *ext, FeatureChain *c) {
    c->features2.pNext = &c->s16;
    void **tail = &c->s16.pNext;
    c->have8 = ext->enable_if_present(VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
    if (c->have8) {
        *tail = &c->s8;
        tail = &c->s8.pNext;
    }
    c->have_f16i8 = ext->enable_if_present(VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    if (c->have_f16i8) {
        *tail = &c->f16i8;
        tail = &c->f16i8.pNext;
    }
    c->have_m4 = ext->enable_if_present(VK_KHR_MAINTENANCE_4_EXTENSION_NAME);
    if (c->have_m4) {
        *tail = &c->m4;
    }
}

void keep_core_features(FeatureChain *c, DeviceCaps *caps) {
    VkPhysicalDeviceFeatures supported = c->features2.features;
    VkPhysicalDeviceFeatures &core = c->features2.features;
    core = VkPhysicalDeviceFeatures{};
    core.shaderInt64 = supported.shaderInt64;
    core.shaderInt16 = supported.shaderInt16;
    core.shaderFloat64 = supported.shaderFloat64;
    core.shaderStorageBufferArrayDynamicIndexing = supported.shaderStorageBufferArrayDynamicIndexing;
    caps->shader_int64 = supported.shaderInt64;
    caps->shader_int16 = supported.shaderInt16;
    caps->shader_float64 = supported.shaderFloat64;
}

void keep_vulkan11_12_features(FeatureChain *c, DeviceCaps *caps) {
    VkPhysicalDeviceVulkan11Features &v11 = c->v11;
    VkPhysicalDeviceVulkan12Features &v12 = c->v12;
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
    caps->storage_buffer_16bit = v11.storageBuffer16BitAccess;
    caps->uniform_and_storage_buffer_16bit = v11.uniformAndStorageBuffer16BitAccess;
    caps->storage_buffer_8bit = v12.storageBuffer8BitAccess;
    caps->uniform_and_storage_buffer_8bit = v12.uniformAndStorageBuffer8BitAccess;
    caps->shader_float16 = v12.shaderFloat16;
    caps->shader_int8 = v12.shaderInt8;
    caps->vulkan_memory_model = v12.vulkanMemoryModel;
}

void keep_vulkan13_features(FeatureChain *c, DeviceCaps *caps) {
    VkPhysicalDeviceVulkan13Features &v13 = c->v13;
    VkPhysicalDeviceVulkan13Features want13{};
    want13.sType = v13.sType;
    want13.pNext = v13.pNext;
    want13.maintenance4 = v13.maintenance4;
    want13.subgroupSizeControl = v13.subgroupSizeControl;
    want13.computeFullSubgroups = v13.computeFullSubgroups;
    want13.synchronization2 = v13.synchronization2;
    v13 = want13;
    caps->maintenance4 = v13.maintenance4;
}

// Vulkan 1.1: the extension structs go to vkCreateDevice as the device
// reported them; caps record what they give.
void record_extension_features(const FeatureChain &c, DeviceCaps *caps) {
    caps->storage_buffer_16bit = c.s16.storageBuffer16BitAccess;
    caps->uniform_and_storage_buffer_16bit = c.s16.uniformAndStorageBuffer16BitAccess;
    caps->storage_buffer_8bit = c.have8 && c.s8.storageBuffer8BitAccess;
    caps->uniform_and_storage_buffer_8bit = c.have8 && c.s8.uniformAndStorageBuffer8BitAccess;
    caps->shader_float16 = c.have_f16i8 && c.f16i8.shaderFloat16;
    caps->shader_int8 = c.have_f16i8 && c.f16i8.shaderInt8;
    caps->maintenance4 = c.have_m4 && c.m4.maintenance4;
}

}  // namespace

bool DeviceExtensionChoice::enable_if_present(const char *name) {
    if (has_extension(available, available_count, name) && enabled_count < kMaxEnabled) {
        enabled[enabled_count++] = name;
        return true;
    }
    return false;
}

// Both calls can fail (the loader allocates while merging layer lists):
// an unchecked failure left ext_count entries of uninitialised names
// for has_extension's strcmp (found by allocation-failure injection, issue 6).
int count_device_extensions(void *uc, const Device &d, uint32_t *count) {
    VkResult er = d.ifn.EnumerateDeviceExtensionProperties(d.physical_device, nullptr, count, nullptr);
    if (er != VK_SUCCESS) {
        return report_enumerate_failure(uc, er);
    }
    return 0;
}

int read_device_extensions(void *uc, const Device &d, ScratchArray<VkExtensionProperties> *ext, uint32_t *count) {
    if (!ext->ok()) {
        return report_error(uc, -11, "context", "out of host memory listing device extensions");
    }
    VkResult er = d.ifn.EnumerateDeviceExtensionProperties(d.physical_device, nullptr, count, ext->data());
    if (er != VK_SUCCESS && er != VK_INCOMPLETE) {
        return report_enumerate_failure(uc, er);
    }
    return 0;
}

void enable_base_extensions(DeviceExtensionChoice *ext, DeviceCaps *caps) {
    // Portability-subset devices require the extension to be enabled.
    ext->enable_if_present("VK_KHR_portability_subset");
    caps->push_descriptor = ext->enable_if_present(VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
}

FeatureChain::FeatureChain() {
    features2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
    v11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES;
    v12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
    v13.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES;
    s16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES;
    s8.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES;
    f16i8.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES;
    m4.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_FEATURES;
}

void link_feature_chain(uint32_t api, DeviceExtensionChoice *ext, FeatureChain *chain) {
    chain->is12 = api >= VK_API_VERSION_1_2;
    chain->is13 = api >= VK_API_VERSION_1_3;
    if (chain->is12) {
        link_core_feature_structs(ext, chain);
    } else {
        link_extension_feature_structs(ext, chain);
    }
}

void query_supported_features(const InstanceFunctions &ifn, VkPhysicalDevice physical_device, FeatureChain *chain) {
    if (ifn.GetPhysicalDeviceFeatures2 != nullptr) {
        ifn.GetPhysicalDeviceFeatures2(physical_device, &chain->features2);
    } else {
        ifn.GetPhysicalDeviceFeatures(physical_device, &chain->features2.features);
        chain->features2.pNext = nullptr;
    }
}

void choose_enabled_features(FeatureChain *chain, DeviceCaps *caps) {
    // Keep only what Halide's code can use; enabling everything (as Halide
    // does) can turn on costly features such as robustBufferAccess.
    keep_core_features(chain, caps);
    if (chain->is12) {
        keep_vulkan11_12_features(chain, caps);
        if (chain->is13) {
            keep_vulkan13_features(chain, caps);
        } else {
            caps->maintenance4 = chain->have_m4 && chain->m4.maintenance4;
        }
    } else {
        record_extension_features(*chain, caps);
    }
}

}  // namespace hvk
