// halide-vk-info: what Vulkan devices this machine has, which one the
// runtime would pick and why, the limits and features that matter to
// Halide kernels, and the configuration in effect.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "HalideRuntimeVulkan.h"
#include "vulkan/context/device.h"
#include "vulkan/context/device_list.h"
#include "halide_vk_runtime.h"
#include "vulkan/context/loader.h"
#include "vulkan/context/settings.h"

namespace {

int g_errors = 0;

void quiet_error(void *, const char *msg) {
    std::fprintf(stderr, "halide-vk-info: %s\n", msg);
    g_errors++;
}

const char *yes(VkBool32 b) {
    return b ? "yes" : "no";
}

void print_memory(const VkPhysicalDeviceMemoryProperties &m) {
    std::printf("    memory heaps:\n");
    for (uint32_t i = 0; i < m.memoryHeapCount; i++) {
        std::printf("      heap %u: %8.1f MiB%s\n", i, m.memoryHeaps[i].size / (1024.0 * 1024.0),
                    (m.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) ? " device-local" : "");
    }
    std::printf("    memory types:\n");
    for (uint32_t i = 0; i < m.memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = m.memoryTypes[i].propertyFlags;
        std::printf("      type %2u (heap %u):%s%s%s%s\n", i, m.memoryTypes[i].heapIndex,
                    (f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) ? " device-local" : "",
                    (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) ? " host-visible" : "",
                    (f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) ? " host-coherent" : "",
                    (f & VK_MEMORY_PROPERTY_HOST_CACHED_BIT) ? " host-cached" : "");
    }
}

void print_device(const hvk::InstanceFunctions &ifn, VkPhysicalDevice pd, uint32_t index, bool chosen) {
    VkPhysicalDeviceProperties p;
    ifn.GetPhysicalDeviceProperties(pd, &p);
    std::printf("%s device %u: %s\n", chosen ? "*" : " ", index, p.deviceName);
    std::printf("    type %s, Vulkan %u.%u.%u, driver version 0x%x, vendor 0x%04x, device 0x%04x\n",
                hvk::device_type_name(p.deviceType), VK_API_VERSION_MAJOR(p.apiVersion),
                VK_API_VERSION_MINOR(p.apiVersion), VK_API_VERSION_PATCH(p.apiVersion), p.driverVersion, p.vendorID,
                p.deviceID);
    const VkPhysicalDeviceLimits &l = p.limits;
    std::printf("    minStorageBufferOffsetAlignment %llu, minUniformBufferOffsetAlignment %llu, nonCoherentAtomSize %llu\n",
                (unsigned long long)l.minStorageBufferOffsetAlignment,
                (unsigned long long)l.minUniformBufferOffsetAlignment, (unsigned long long)l.nonCoherentAtomSize);
    std::printf("    maxComputeWorkGroupSize %u x %u x %u, maxComputeWorkGroupInvocations %u, maxComputeWorkGroupCount %u x %u x %u\n",
                l.maxComputeWorkGroupSize[0], l.maxComputeWorkGroupSize[1], l.maxComputeWorkGroupSize[2],
                l.maxComputeWorkGroupInvocations, l.maxComputeWorkGroupCount[0], l.maxComputeWorkGroupCount[1],
                l.maxComputeWorkGroupCount[2]);
    std::printf("    maxComputeSharedMemorySize %u, maxStorageBufferRange %u, maxPerStageDescriptorStorageBuffers %u, maxBoundDescriptorSets %u\n",
                l.maxComputeSharedMemorySize, l.maxStorageBufferRange, l.maxPerStageDescriptorStorageBuffers,
                l.maxBoundDescriptorSets);

    VkPhysicalDeviceFeatures2 f2{};
    f2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
    VkPhysicalDeviceVulkan11Features v11{};
    v11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES;
    VkPhysicalDeviceVulkan12Features v12{};
    v12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
    VkPhysicalDeviceVulkan13Features v13{};
    v13.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES;
    if (p.apiVersion >= VK_API_VERSION_1_2 && ifn.GetPhysicalDeviceFeatures2 != nullptr) {
        f2.pNext = &v11;
        v11.pNext = &v12;
        if (p.apiVersion >= VK_API_VERSION_1_3) {
            v12.pNext = &v13;
        }
        ifn.GetPhysicalDeviceFeatures2(pd, &f2);
        std::printf("    features: int8 %s, int16 %s, int64 %s, float16 %s, float64 %s\n", yes(v12.shaderInt8),
                    yes(f2.features.shaderInt16), yes(f2.features.shaderInt64), yes(v12.shaderFloat16),
                    yes(f2.features.shaderFloat64));
        std::printf("              8-bit storage %s, 16-bit storage %s, maintenance4 %s, vulkanMemoryModel %s\n",
                    yes(v12.storageBuffer8BitAccess), yes(v11.storageBuffer16BitAccess), yes(v13.maintenance4),
                    yes(v12.vulkanMemoryModel));
    } else {
        ifn.GetPhysicalDeviceFeatures(pd, &f2.features);
        std::printf("    features: int16 %s, int64 %s, float64 %s (Vulkan < 1.2: extension features not shown)\n",
                    yes(f2.features.shaderInt16), yes(f2.features.shaderInt64), yes(f2.features.shaderFloat64));
    }
    uint32_t ext_count = 0;
    ifn.EnumerateDeviceExtensionProperties(pd, nullptr, &ext_count, nullptr);
    VkExtensionProperties exts[512];
    ext_count = ext_count < 512 ? ext_count : 512;
    ifn.EnumerateDeviceExtensionProperties(pd, nullptr, &ext_count, exts);
    bool push = false;
    for (uint32_t i = 0; i < ext_count; i++) {
        push = push || std::strcmp(exts[i].extensionName, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME) == 0;
    }
    std::printf("    VK_KHR_push_descriptor %s\n", push ? "yes" : "no");
    VkPhysicalDeviceMemoryProperties m;
    ifn.GetPhysicalDeviceMemoryProperties(pd, &m);
    print_memory(m);
}

}  // namespace

int main(int argc, char **argv) {
    if (argc > 1 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
        std::printf("usage: halide-vk-info\n  Lists Vulkan devices, the one halide-vk-runtime would use and why,\n"
                    "  their limits, features and memory, and the configuration in effect.\n");
        return 0;
    }
    halide_set_error_handler(quiet_error);
    std::printf("halide-vk-runtime %s\n\n", halide_vk_runtime_version());

    if (hvk::ensure_loader(nullptr) != 0) {
        std::fprintf(stderr, "halide-vk-info: no Vulkan loader: install libvulkan1 (and a driver, e.g. "
                             "mesa-vulkan-drivers), or set HL_VK_LOADER_LIB\n");
        return 2;
    }
    uint32_t v = hvk::loader_instance_version();
    std::printf("loader: Vulkan %u.%u.%u\n", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v), VK_API_VERSION_PATCH(v));

    VkApplicationInfo app{};
    app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    app.pApplicationName = "halide-vk-info";
    app.apiVersion = v < VK_API_VERSION_1_3 ? v : VK_API_VERSION_1_3;
    VkInstanceCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    info.pApplicationInfo = &app;
    VkInstance instance = VK_NULL_HANDLE;
    VkResult r = vkCreateInstance(&info, nullptr, &instance);
    if (r != VK_SUCCESS) {
        std::fprintf(stderr, "halide-vk-info: vkCreateInstance failed (%d): no usable Vulkan driver\n", (int)r);
        return 2;
    }
    hvk::InstanceFunctions ifn;
    hvk::load_instance_functions(instance, &ifn);

    uint32_t layer_count = 0;
    vkEnumerateInstanceLayerProperties(&layer_count, nullptr);
    VkLayerProperties layers[64];
    layer_count = layer_count < 64 ? layer_count : 64;
    vkEnumerateInstanceLayerProperties(&layer_count, layers);
    std::printf("layers:");
    for (uint32_t i = 0; i < layer_count; i++) {
        std::printf(" %s", layers[i].layerName);
    }
    std::printf("%s\n\n", layer_count == 0 ? " (none)" : "");

    hvk::DeviceList list;
    hvk::list_physical_devices(ifn, instance, &list);
    uint32_t count = list.count;
    hvk::DeviceChoice choice = hvk::choose_with_settings(list);
    std::printf("devices (%u):\n", count);
    for (uint32_t i = 0; i < count; i++) {
        print_device(ifn, list.devices[i], i, static_cast<int>(i) == choice.index);
    }
    std::printf("\n");
    int rc = 0;
    if (choice.index >= 0) {
        std::printf("halide-vk-runtime would use device %d (%s): %s\n", choice.index, list.properties[choice.index].deviceName,
                    choice.reason);
    } else {
        std::printf("halide-vk-runtime cannot use any device: %s\n", choice.reason);
        rc = 3;
    }
    ifn.DestroyInstance(instance, nullptr);

    char config[4096];
    halide_vk_runtime_get_config(config, sizeof(config));
    std::printf("\nconfiguration:\n%s", config);
    return rc;
}
