// The runtime's own VkInstance: the layers (HL_VK_LAYERS), the instance
// extensions (debug utils, portability enumeration, HL_VK_EXTENSIONS), the
// API version, and the debug messenger that routes validation messages.
#pragma once

#include "vulkan/context/device.h"

namespace hvk {

struct RuntimeInstance {
    VkInstance instance = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;  // null without VK_EXT_debug_utils
    InstanceFunctions ifn;
};

// Creates out->instance, loads out->ifn and creates out->messenger when the
// loader offers VK_EXT_debug_utils. Returns 0 or a Halide error code
// (reported); on failure `out` may hold a part-built instance, which
// destroy_instance takes down.
int create_instance(void *user_context, const VkAllocationCallbacks *callbacks, RuntimeInstance *out);

// Destroys the messenger, then the instance (whichever exist), and clears `inst`.
void destroy_instance(const VkAllocationCallbacks *callbacks, RuntimeInstance *inst);

}  // namespace hvk
