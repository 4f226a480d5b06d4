// The runtime's own Vulkan context and its process-wide lifecycle: the
// instance (instance.cpp), physical-device choice, logical device
// (device_create.cpp) and queue, created on first use and torn down at exit.
// Also the default halide_vulkan_acquire_context / release_context pair,
// which serialise callers with one process-wide lock as Halide's contract
// requires.
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "HalideRuntimeVulkan.h"
#include "vulkan/context/context_scope.h"
#include "vulkan/context/device_create.h"
#include "vulkan/context/device_list.h"
#include "vulkan/context/instance.h"
#include "vulkan/util/host_alloc.h"
#include "vulkan/context/loader.h"
#include "common/report.h"
#include "vulkan/context/settings.h"
#include "vulkan/util/vk_result.h"

namespace hvk {
namespace {

struct DefaultContext {
    RuntimeInstance inst;  // instance, messenger, instance functions
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

int choose_device(void *uc, const RuntimeInstance &inst, VkPhysicalDevice *out, uint32_t *family) {
    DeviceList list;
    VkResult r = list_physical_devices(inst.ifn, inst.instance, &list);
    if (r != VK_SUCCESS) {
        return report_error(uc, -36, "context", "vkEnumeratePhysicalDevices failed: %s", vk_result_name(r));
    }
    DeviceChoice choice = choose_with_settings(list);
    if (choice.index < 0) {
        return report_error(uc, -36, "context", "no usable Vulkan device: %s", choice.reason);
    }
    *out = list.devices[choice.index];
    find_compute_queue_family(inst.ifn, *out, family);
    log_debug(uc, "selected device %d (%s): %s", choice.index, list.properties[choice.index].deviceName,
              choice.reason);
    return 0;
}

// The runtime-owned Device on `pd`: created, loaded, its queue fetched and
// registered. On failure nothing of it is left (the VkDevice destroyed, the
// Device freed).
int create_default_device(void *uc, VkPhysicalDevice pd, uint32_t family, Device **out) {
    Device *d = host_new<Device>(g_ctx.callbacks);
    if (d == nullptr) {
        return report_error(uc, -11, "context", "out of host memory for the device state");
    }
    d->instance = g_ctx.inst.instance;
    d->physical_device = pd;
    d->queue_family = family;
    d->runtime_owned = true;
    d->callbacks = g_ctx.callbacks;
    d->ifn = g_ctx.inst.ifn;
    int rc = create_logical_device(uc, d);
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
    if (rc != 0) {
        host_delete(g_ctx.callbacks, d);
        return rc;
    }
    *out = d;
    return 0;
}

void register_exit_teardown_once() {
    static bool exit_handler_registered = false;
    if (!exit_handler_registered) {
        exit_handler_registered = std::atexit(teardown_at_exit) == 0;
    }
}

}  // namespace

int create_default_context(void *uc) {
    if (g_ctx.device != nullptr) {
        return 0;
    }
    int rc = ensure_loader(uc);
    if (rc != 0) {
        return rc;
    }
    g_ctx.callbacks = allocation_callbacks();
    rc = create_instance(uc, g_ctx.callbacks, &g_ctx.inst);
    VkPhysicalDevice pd = VK_NULL_HANDLE;
    uint32_t family = 0;
    if (rc == 0) {
        rc = choose_device(uc, g_ctx.inst, &pd, &family);
    }
    Device *d = nullptr;
    if (rc == 0) {
        rc = create_default_device(uc, pd, family, &d);
    }
    if (rc != 0) {
        // Leave nothing half-built: the next call starts from scratch.
        destroy_instance(g_ctx.callbacks, &g_ctx.inst);
        g_ctx = DefaultContext{};
        return rc;
    }
    g_ctx.device = d;
    register_exit_teardown_once();
    return 0;
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
    destroy_instance(g_ctx.callbacks, &g_ctx.inst);
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
    *instance = hvk::g_ctx.inst.instance;
    *device = d != nullptr ? d->device : VK_NULL_HANDLE;
    *physical_device = d != nullptr ? d->physical_device : VK_NULL_HANDLE;
    *queue = d != nullptr ? d->queue : VK_NULL_HANDLE;
    *queue_family_index = d != nullptr ? d->queue_family : 0;
    *messenger = hvk::g_ctx.inst.messenger;
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
