// The runtime's own Vulkan context: instance, physical-device choice,
// logical device and queue, debug messenger. Also the default
// halide_vulkan_acquire_context / release_context pair, which serialise
// callers with one process-wide lock as Halide's contract requires.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "HalideRuntimeVulkan.h"
#include "vulkan/context/context_scope.h"
#include "vulkan/context/device_list.h"
#include "vulkan/util/host_alloc.h"
#include "vulkan/context/loader.h"
#include "vulkan/context/messenger.h"
#include "common/report.h"
#include "vulkan/util/scratch.h"
#include "vulkan/context/settings.h"
#include "vulkan/util/vk_result.h"

namespace hvk {
namespace {

constexpr int kMaxNames = 32;

struct DefaultContext {
    VkInstance instance = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    InstanceFunctions ifn;
    const VkAllocationCallbacks *callbacks = nullptr;
    Device *device = nullptr;
};

std::mutex g_context_mutex;  // held from acquire to release
DefaultContext g_ctx;

// Teardown at process exit (or dlclose of this library). Registered with
// atexit when the first context is created, i.e. after the loader and the
// driver were loaded and registered their own exit handlers, so it runs
// before them: the device is destroyed while the driver is still intact.
// (Halide tears down from a library destructor, which runs after the
// driver's handlers; that is the crash seen on NVIDIA, spec 08.)
// HL_VK_TEARDOWN_AT_EXIT=0 skips it and leaves everything to the OS.
void teardown_at_exit() {
    const char *v = std::getenv("HL_VK_TEARDOWN_AT_EXIT");
    if (v != nullptr && v[0] == '0') {
        return;
    }
    // Another thread may still hold the context (exit from a callback):
    // then leave it to the OS rather than deadlock or race.
    if (!g_context_mutex.try_lock()) {
        return;
    }
    destroy_default_context(nullptr);
    g_context_mutex.unlock();
}

// Splits "a:b:c" into at most kMaxNames pointers into `storage`.
int split_names(char *storage, const char **names) {
    int n = 0;
    char *p = storage;
    while (*p != '\0' && n < kMaxNames) {
        char *end = std::strchr(p, ':');
        if (end != nullptr) {
            *end = '\0';
        }
        if (*p != '\0') {
            names[n++] = p;
        }
        if (end == nullptr) {
            break;
        }
        p = end + 1;
    }
    return n;
}

bool has_extension(const VkExtensionProperties *props, uint32_t count, const char *name) {
    for (uint32_t i = 0; i < count; i++) {
        if (std::strcmp(props[i].extensionName, name) == 0) {
            return true;
        }
    }
    return false;
}

int create_instance(void *uc, DefaultContext *ctx, bool *debug_utils) {
    const VkAllocationCallbacks *cb = ctx->callbacks;

    // Layers: check each exists so a typo gets a message naming it.
    char layer_storage[1024];
    read_setting(Setting::LayerNames, layer_storage, sizeof(layer_storage));
    const char *layers[kMaxNames];
    int layer_count = split_names(layer_storage, layers);
    if (layer_count > 0) {
        uint32_t available = 0;
        vkEnumerateInstanceLayerProperties(&available, nullptr);
        ScratchArray<VkLayerProperties> props(cb, available);
        if (!props.ok()) {
            return report_error(uc, -11, "context", "out of host memory listing instance layers");
        }
        VkResult lr = vkEnumerateInstanceLayerProperties(&available, props.data());
        if (lr != VK_SUCCESS && lr != VK_INCOMPLETE) {
            return report_error(uc, -36, "context", "vkEnumerateInstanceLayerProperties failed: %s",
                                vk_result_name(lr));
        }
        for (int i = 0; i < layer_count; i++) {
            bool found = false;
            for (uint32_t j = 0; j < available && !found; j++) {
                found = std::strcmp(props[j].layerName, layers[i]) == 0;
            }
            if (!found) {
                return report_error(uc, -36, "context",
                                    "Vulkan layer %s (requested by HL_VK_LAYERS / halide_vulkan_set_layer_names) "
                                    "is not installed; %u layer(s) are available (see halide-vk-info)",
                                    layers[i], available);
            }
        }
    }

    uint32_t ext_count = 0;
    vkEnumerateInstanceExtensionProperties(nullptr, &ext_count, nullptr);
    ScratchArray<VkExtensionProperties> ext_props(cb, ext_count);
    if (!ext_props.ok()) {
        return report_error(uc, -11, "context", "out of host memory listing instance extensions");
    }
    VkResult er = vkEnumerateInstanceExtensionProperties(nullptr, &ext_count, ext_props.data());
    if (er != VK_SUCCESS && er != VK_INCOMPLETE) {
        return report_error(uc, -36, "context", "vkEnumerateInstanceExtensionProperties failed: %s",
                            vk_result_name(er));
    }

    const char *extensions[kMaxNames];
    int extension_count = 0;
    uint32_t api_version = loader_instance_version();
    if (api_version > VK_API_VERSION_1_3) {
        api_version = VK_API_VERSION_1_3;
    }
    *debug_utils = has_extension(ext_props.data(), ext_count, VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    if (*debug_utils) {
        extensions[extension_count++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    }
    VkInstanceCreateFlags flags = 0;
    if (has_extension(ext_props.data(), ext_count, "VK_KHR_portability_enumeration")) {
        extensions[extension_count++] = "VK_KHR_portability_enumeration";
        flags |= 0x00000001;  // VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR
    }
    if (api_version < VK_API_VERSION_1_1 &&
        has_extension(ext_props.data(), ext_count, VK_KHR_GET_PHYSICAL_DEVICE_PROPERTIES_2_EXTENSION_NAME)) {
        extensions[extension_count++] = VK_KHR_GET_PHYSICAL_DEVICE_PROPERTIES_2_EXTENSION_NAME;
    }
    // Extra instance extensions an application asked for (HL_VK_EXTENSIONS).
    char extra_storage[1024];
    read_setting(Setting::ExtensionNames, extra_storage, sizeof(extra_storage));
    const char *extra[kMaxNames];
    int extra_count = split_names(extra_storage, extra);
    for (int i = 0; i < extra_count && extension_count < kMaxNames; i++) {
        if (!has_extension(ext_props.data(), ext_count, extra[i])) {
            return report_error(uc, -36, "context",
                                "instance extension %s (requested by HL_VK_EXTENSIONS) is not supported", extra[i]);
        }
        extensions[extension_count++] = extra[i];
    }

    VkApplicationInfo app{};
    app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    app.pApplicationName = "halide-vk-runtime";
    app.pEngineName = "Halide";
    app.apiVersion = api_version;

    // Chained messenger info: instance creation and destruction messages too.
    VkDebugUtilsMessengerCreateInfoEXT messenger_info;
    fill_messenger_create_info(&messenger_info);

    VkInstanceCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    info.pNext = *debug_utils ? &messenger_info : nullptr;
    info.flags = flags;
    info.pApplicationInfo = &app;
    info.enabledLayerCount = static_cast<uint32_t>(layer_count);
    info.ppEnabledLayerNames = layers;
    info.enabledExtensionCount = static_cast<uint32_t>(extension_count);
    info.ppEnabledExtensionNames = extensions;
    VkResult r = vkCreateInstance(&info, cb, &ctx->instance);
    if (r != VK_SUCCESS) {
        ctx->instance = VK_NULL_HANDLE;
        return report_error(uc, -36, "context", "vkCreateInstance failed: %s", vk_result_name(r));
    }
    if (!load_instance_functions(ctx->instance, &ctx->ifn)) {
        return report_error(uc, -21, "context", "the loader does not provide the Vulkan 1.0 instance functions");
    }
    if (*debug_utils && ctx->ifn.CreateDebugUtilsMessengerEXT != nullptr) {
        r = ctx->ifn.CreateDebugUtilsMessengerEXT(ctx->instance, &messenger_info, cb, &ctx->messenger);
        if (r != VK_SUCCESS) {
            ctx->messenger = VK_NULL_HANDLE;  // not fatal: messages then go to the layer's own output
        }
    }
    return 0;
}

int choose_device(void *uc, DefaultContext *ctx, VkPhysicalDevice *out, uint32_t *family) {
    DeviceList list;
    VkResult r = list_physical_devices(ctx->ifn, ctx->instance, &list);
    if (r != VK_SUCCESS) {
        return report_error(uc, -36, "context", "vkEnumeratePhysicalDevices failed: %s", vk_result_name(r));
    }
    DeviceChoice choice = choose_with_settings(list);
    if (choice.index < 0) {
        return report_error(uc, -36, "context", "no usable Vulkan device: %s", choice.reason);
    }
    *out = list.devices[choice.index];
    find_compute_queue_family(ctx->ifn, *out, family);
    log_debug(uc, "selected device %d (%s): %s", choice.index, list.properties[choice.index].deviceName,
              choice.reason);
    return 0;
}

}  // namespace

// Shared with app_context.cpp: fills caps from what the device supports and
// creates the VkDevice with every feature Halide's target features may need.
int create_logical_device(void *uc, Device *d);

int create_default_context(void *uc) {
    if (g_ctx.device != nullptr) {
        return 0;
    }
    int rc = ensure_loader(uc);
    if (rc != 0) {
        return rc;
    }
    g_ctx.callbacks = allocation_callbacks();
    bool debug_utils = false;
    rc = create_instance(uc, &g_ctx, &debug_utils);
    if (rc == 0) {
        VkPhysicalDevice pd = VK_NULL_HANDLE;
        uint32_t family = 0;
        rc = choose_device(uc, &g_ctx, &pd, &family);
        if (rc == 0) {
            Device *d = host_new<Device>(g_ctx.callbacks);
            if (d == nullptr) {
                rc = report_error(uc, -11, "context", "out of host memory for the device state");
            } else {
                d->instance = g_ctx.instance;
                d->physical_device = pd;
                d->queue_family = family;
                d->runtime_owned = true;
                d->callbacks = g_ctx.callbacks;
                d->ifn = g_ctx.ifn;
                rc = create_logical_device(uc, d);
                if (rc == 0) {
                    rc = load_device(uc, d);
                    if (rc == 0) {
                        d->vk.vkGetDeviceQueue(d->device, family, 0, &d->queue);
                        rc = register_device(uc, d);
                    }
                    if (rc != 0) {
                        if (d->vk.vkDestroyDevice != nullptr) {
                            d->vk.vkDestroyDevice(d->device, d->callbacks);
                        }
                    }
                }
                if (rc == 0) {
                    g_ctx.device = d;
                    static bool exit_handler_registered = false;
                    if (!exit_handler_registered) {
                        exit_handler_registered = std::atexit(teardown_at_exit) == 0;
                    }
                } else {
                    host_delete(g_ctx.callbacks, d);
                }
            }
        }
    }
    if (rc != 0) {
        // Leave nothing half-built: the next call starts from scratch.
        if (g_ctx.messenger != VK_NULL_HANDLE) {
            g_ctx.ifn.DestroyDebugUtilsMessengerEXT(g_ctx.instance, g_ctx.messenger, g_ctx.callbacks);
        }
        if (g_ctx.instance != VK_NULL_HANDLE && g_ctx.ifn.DestroyInstance != nullptr) {
            g_ctx.ifn.DestroyInstance(g_ctx.instance, g_ctx.callbacks);
        }
        g_ctx = DefaultContext{};
    }
    return rc;
}

int destroy_default_context(void *uc) {
    (void)uc;
    if (g_ctx.device == nullptr) {
        return 0;
    }
    Device *d = g_ctx.device;
    int rc = 0;
    if (d->vk.vkDeviceWaitIdle(d->device) != VK_SUCCESS) {
        rc = -1;
    }
    destroy_device_subsystems(d);
    unregister_device(d);
    d->vk.vkDestroyDevice(d->device, d->callbacks);
    host_delete(g_ctx.callbacks, d);
    if (g_ctx.messenger != VK_NULL_HANDLE) {
        g_ctx.ifn.DestroyDebugUtilsMessengerEXT(g_ctx.instance, g_ctx.messenger, g_ctx.callbacks);
    }
    g_ctx.ifn.DestroyInstance(g_ctx.instance, g_ctx.callbacks);
    g_ctx = DefaultContext{};
    log_debug(uc, "destroyed the default context");
    return rc;
}

Device *default_device() {
    return g_ctx.device;
}

// Lock helpers for halide_vulkan_device_release and friends, which need the
// same critical section as acquire/release without creating a context.
std::mutex &default_context_mutex() {
    return g_context_mutex;
}

}  // namespace hvk

extern "C" {

int halide_vulkan_acquire_context(void *user_context, struct halide_vulkan_memory_allocator **allocator,
                                  VkInstance *instance, VkDevice *device, VkPhysicalDevice *physical_device,
                                  VkQueue *queue, uint32_t *queue_family_index, VkDebugUtilsMessengerEXT *messenger,
                                  bool create) {
    hvk::g_context_mutex.lock();
    if (hvk::g_ctx.device == nullptr && create) {
        int rc = hvk::create_default_context(user_context);
        if (rc != 0) {
            hvk::g_context_mutex.unlock();
            return rc;
        }
    }
    hvk::Device *d = hvk::g_ctx.device;
    // The allocator out-parameter carries our Device: opaque to callers.
    *allocator = reinterpret_cast<struct halide_vulkan_memory_allocator *>(d);
    *instance = hvk::g_ctx.instance;
    *device = d != nullptr ? d->device : VK_NULL_HANDLE;
    *physical_device = d != nullptr ? d->physical_device : VK_NULL_HANDLE;
    *queue = d != nullptr ? d->queue : VK_NULL_HANDLE;
    *queue_family_index = d != nullptr ? d->queue_family : 0;
    *messenger = hvk::g_ctx.messenger;
    return 0;  // still locked: released by halide_vulkan_release_context
}

int halide_vulkan_release_context(void *user_context, VkInstance instance, VkDevice device, VkQueue queue,
                                  VkDebugUtilsMessengerEXT messenger) {
    (void)user_context;
    (void)instance;
    (void)device;
    (void)queue;
    (void)messenger;
    hvk::g_context_mutex.unlock();
    return 0;
}

bool halide_vulkan_is_initialized(void) {
    std::lock_guard<std::mutex> lock(hvk::g_context_mutex);
    return hvk::g_ctx.device != nullptr;
}

}  // extern "C"

extern "C" int halide_vulkan_compute_capability(void *user_context, int *major, int *minor) {
    // Halide's contract: never an error, 0.0 when nothing can be found.
    if (major == nullptr || minor == nullptr) {
        return 0;
    }
    *major = 0;
    *minor = 0;
    {
        std::lock_guard<std::mutex> lock(hvk::g_context_mutex);
        if (hvk::g_ctx.device != nullptr) {
            *major = static_cast<int>(VK_API_VERSION_MAJOR(hvk::g_ctx.device->caps.api_version));
            *minor = static_cast<int>(VK_API_VERSION_MINOR(hvk::g_ctx.device->caps.api_version));
            return 0;
        }
    }
    // No context yet: probe with a temporary instance, silently.
    if (hvk::ensure_loader(nullptr) != 0) {
        (void)user_context;
        return 0;
    }
    VkApplicationInfo app{};
    app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    app.apiVersion = hvk::loader_instance_version();
    VkInstanceCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    info.pApplicationInfo = &app;
    VkInstance instance = VK_NULL_HANDLE;
    if (vkCreateInstance(&info, nullptr, &instance) != VK_SUCCESS) {
        return 0;
    }
    hvk::InstanceFunctions ifn;
    if (hvk::load_instance_functions(instance, &ifn)) {
        hvk::DeviceList list;
        hvk::list_physical_devices(ifn, instance, &list);
        hvk::DeviceChoice c = hvk::choose_with_settings(list);
        if (c.index >= 0) {
            uint32_t api = list.properties[c.index].apiVersion;
            *major = static_cast<int>(VK_API_VERSION_MAJOR(api));
            *minor = static_cast<int>(VK_API_VERSION_MINOR(api));
        }
    }
    ifn.DestroyInstance(instance, nullptr);
    return 0;
}
