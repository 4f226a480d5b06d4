// Acquiring the Vulkan context for one runtime call.
//
// Every public entry point that touches Vulkan opens one ContextScope: it
// calls halide_vulkan_acquire_context by name (so an application's override
// wins), maps the handles it gets to the runtime's per-VkDevice state, and
// calls halide_vulkan_release_context when the scope ends -- only if the
// acquire succeeded (Halide releases after a failed acquire too).
#pragma once

#include "vulkan/context/device.h"

namespace hvk {

class ContextScope {
public:
    // `where` names the public entry point, for error messages.
    ContextScope(void *user_context, const char *where, bool create = true);
    ~ContextScope();
    ContextScope(const ContextScope &) = delete;
    ContextScope &operator=(const ContextScope &) = delete;

    // 0, or the Halide error code already reported.
    int status() const { return status_; }
    bool ok() const { return status_ == 0; }
    // The device in use; null when !ok(), or when create=false found none.
    Device *device() const { return device_; }

private:
    void *user_context_;
    int status_ = 0;
    bool acquired_ = false;
    Device *device_ = nullptr;
    VkInstance instance_ = VK_NULL_HANDLE;
    VkDevice vk_device_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
};

// The default context (the runtime's own instance and device).
// Creates it if needed; called with the default acquire's lock held.
int create_default_context(void *user_context);
// Destroys the default context and its Device; lock held. Returns 0 or -1.
int destroy_default_context(void *user_context);
// The default context's Device, or null.
Device *default_device();

// Application devices: state for a VkDevice the runtime did not create.
// Capabilities declared through halide_vk_declare_device_capabilities.
Device *adopt_application_device(void *user_context, VkInstance instance, VkPhysicalDevice physical_device,
                                 VkDevice device, VkQueue queue, uint32_t queue_family, int *status);
// Drops the runtime's state for an application device (never its handles).
int release_application_device(void *user_context, Device *d);

}  // namespace hvk
