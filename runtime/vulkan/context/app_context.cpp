// Devices an application created itself and hands to the runtime by
// overriding halide_vulkan_acquire_context. Vulkan cannot tell us which
// version, features and extensions the application enabled, so it declares
// them (halide_vk_declare_device_capabilities); without a declaration we
// assume Vulkan 1.1 core with no optional features. Never destroyed by us.
#include <cstring>
#include <mutex>

#include "HalideRuntimeVulkan.h"
#include "vulkan/context/context_scope.h"
#include "halide_vk_runtime.h"
#include "vulkan/util/host_alloc.h"
#include "vulkan/context/loader.h"
#include "common/report.h"
#include "vulkan/context/settings.h"

namespace hvk {
namespace {

constexpr int kMaxDeclarations = 16;
struct Declaration {
    VkDevice device;
    DeviceCaps caps;
};
std::mutex g_decl_mutex;
Declaration g_declarations[kMaxDeclarations];

bool find_declared(VkDevice device, DeviceCaps *out) {
    std::lock_guard<std::mutex> lock(g_decl_mutex);
    for (const Declaration &d : g_declarations) {
        if (d.device == device && device != VK_NULL_HANDLE) {
            *out = d.caps;
            return true;
        }
    }
    return false;
}

bool listed(const halide_vk_device_capabilities *caps, const char *name) {
    for (uint32_t i = 0; i < caps->enabled_extension_count; i++) {
        if (caps->enabled_extension_names[i] != nullptr && std::strcmp(caps->enabled_extension_names[i], name) == 0) {
            return true;
        }
    }
    return false;
}

// Walks a VkPhysicalDeviceFeatures2 chain as passed to vkCreateDevice.
void read_feature_chain(const void *chain, DeviceCaps *c) {
    for (auto *s = static_cast<const VkBaseInStructure *>(chain); s != nullptr; s = s->pNext) {
        switch (s->sType) {
        case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2: {
            auto *f = reinterpret_cast<const VkPhysicalDeviceFeatures2 *>(s);
            c->shader_int64 = f->features.shaderInt64;
            c->shader_int16 = f->features.shaderInt16;
            c->shader_float64 = f->features.shaderFloat64;
            break;
        }
        case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES: {
            auto *f = reinterpret_cast<const VkPhysicalDeviceVulkan11Features *>(s);
            c->storage_buffer_16bit = f->storageBuffer16BitAccess;
            c->uniform_and_storage_buffer_16bit = f->uniformAndStorageBuffer16BitAccess;
            break;
        }
        case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES: {
            auto *f = reinterpret_cast<const VkPhysicalDevice16BitStorageFeatures *>(s);
            c->storage_buffer_16bit = f->storageBuffer16BitAccess;
            c->uniform_and_storage_buffer_16bit = f->uniformAndStorageBuffer16BitAccess;
            break;
        }
        case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES: {
            auto *f = reinterpret_cast<const VkPhysicalDeviceVulkan12Features *>(s);
            c->storage_buffer_8bit = f->storageBuffer8BitAccess;
            c->uniform_and_storage_buffer_8bit = f->uniformAndStorageBuffer8BitAccess;
            c->shader_float16 = f->shaderFloat16;
            c->shader_int8 = f->shaderInt8;
            c->vulkan_memory_model = f->vulkanMemoryModel;
            break;
        }
        case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES: {
            auto *f = reinterpret_cast<const VkPhysicalDevice8BitStorageFeatures *>(s);
            c->storage_buffer_8bit = f->storageBuffer8BitAccess;
            c->uniform_and_storage_buffer_8bit = f->uniformAndStorageBuffer8BitAccess;
            break;
        }
        case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES: {
            auto *f = reinterpret_cast<const VkPhysicalDeviceShaderFloat16Int8Features *>(s);
            c->shader_float16 = f->shaderFloat16;
            c->shader_int8 = f->shaderInt8;
            break;
        }
        case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES: {
            auto *f = reinterpret_cast<const VkPhysicalDeviceVulkan13Features *>(s);
            c->maintenance4 = f->maintenance4;
            break;
        }
        case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_FEATURES: {
            auto *f = reinterpret_cast<const VkPhysicalDeviceMaintenance4Features *>(s);
            c->maintenance4 = f->maintenance4;
            break;
        }
        default: break;
        }
    }
}

}  // namespace

Device *adopt_application_device(void *uc, VkInstance instance, VkPhysicalDevice physical_device, VkDevice device,
                                 VkQueue queue, uint32_t queue_family, int *status) {
    *status = 0;
    if (instance == VK_NULL_HANDLE || physical_device == VK_NULL_HANDLE || queue == VK_NULL_HANDLE) {
        *status = report_error(uc, -36, "context",
                               "halide_vulkan_acquire_context override returned a VkDevice but no %s",
                               instance == VK_NULL_HANDLE ? "VkInstance"
                               : physical_device == VK_NULL_HANDLE ? "VkPhysicalDevice" : "VkQueue");
        return nullptr;
    }
    int rc = ensure_loader(uc);
    if (rc != 0) {
        *status = rc;
        return nullptr;
    }
    const VkAllocationCallbacks *cb = allocation_callbacks();
    Device *d = host_new<Device>(cb);
    if (d == nullptr) {
        *status = report_error(uc, -11, "context", "out of host memory for the application device's state");
        return nullptr;
    }
    d->instance = instance;
    d->physical_device = physical_device;
    d->device = device;
    d->queue = queue;
    d->queue_family = queue_family;
    d->runtime_owned = false;
    d->callbacks = cb;
    if (!load_instance_functions(instance, &d->ifn)) {
        host_delete(cb, d);
        *status = report_error(uc, -21, "context", "the application's VkInstance does not provide Vulkan 1.0 functions");
        return nullptr;
    }
    rc = load_device(uc, d);
    if (rc == 0) {
        DeviceCaps caps;  // default: Vulkan 1.1 core, no optional features
        find_declared(device, &caps);
        d->caps = caps;
        rc = register_device(uc, d);
    }
    if (rc != 0) {
        host_delete(cb, d);
        *status = rc;
        return nullptr;
    }
    return d;
}

int release_application_device(void *uc, Device *d) {
    (void)uc;
    if (d == nullptr || d->runtime_owned) {
        return 0;
    }
    int rc = d->vk.vkDeviceWaitIdle(d->device) == VK_SUCCESS ? 0 : -1;
    destroy_device_subsystems(d);
    unregister_device(d);
    host_delete(d->callbacks, d);
    return rc;
}

}  // namespace hvk

extern "C" int halide_vk_declare_device_capabilities(void *user_context, VkDevice device,
                                                     const halide_vk_device_capabilities *caps) {
    (void)user_context;
    // Documented: bad arguments return the code without calling halide_error.
    if (device == VK_NULL_HANDLE || caps == nullptr || caps->struct_size < sizeof(halide_vk_device_capabilities)) {
        return -1;
    }
    hvk::DeviceCaps c;
    c.api_version = caps->api_version != 0 ? caps->api_version : VK_API_VERSION_1_1;
    c.push_descriptor = hvk::listed(caps, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
    hvk::read_feature_chain(caps->enabled_features, &c);
    if (c.api_version < VK_API_VERSION_1_3 && !hvk::listed(caps, VK_KHR_MAINTENANCE_4_EXTENSION_NAME)) {
        c.maintenance4 = false;
    }
    {
        std::lock_guard<std::mutex> lock(hvk::g_decl_mutex);
        hvk::Declaration *slot = nullptr;
        for (hvk::Declaration &d : hvk::g_declarations) {
            if (d.device == device) {
                slot = &d;
                break;
            }
            if (slot == nullptr && d.device == VK_NULL_HANDLE) {
                slot = &d;
            }
        }
        if (slot == nullptr) {
            return -11;  // more than kMaxDeclarations devices declared
        }
        slot->device = device;
        slot->caps = c;
    }
    // A device already in use picks the declaration up at once.
    if (hvk::Device *d = hvk::find_device(device)) {
        if (!d->runtime_owned) {
            d->caps = c;
        }
    }
    return 0;
}
