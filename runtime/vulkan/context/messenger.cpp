#include "vulkan/context/messenger.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "common/report.h"

namespace hvk {
namespace {

std::atomic<uint64_t> g_message_count{0};

// Same switch as the runtime's debug log (HL_VK_DEBUG=1).
bool verbose_requested() {
    return debug_enabled();
}

}  // namespace

VKAPI_ATTR VkBool32 VKAPI_CALL debug_messenger_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                        VkDebugUtilsMessageTypeFlagsEXT types,
                                                        const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                        void *user_data) {
    (void)types;
    (void)user_data;
    bool counted = (severity & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                                VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)) != 0;
    if (!counted && !verbose_requested()) {
        return VK_FALSE;
    }
    if (counted) {
        g_message_count.fetch_add(1, std::memory_order_relaxed);
    }
    const char *msg = (data != nullptr && data->pMessage != nullptr) ? data->pMessage : "(no message)";
    // One fprintf call: stderr is unbuffered, so lines from threads stay whole.
    std::fprintf(stderr, "%s\n", msg);
    return VK_FALSE;  // never abort the Vulkan call that triggered the message
}

void fill_messenger_create_info(VkDebugUtilsMessengerCreateInfoEXT *info) {
    *info = VkDebugUtilsMessengerCreateInfoEXT{};
    info->sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
    info->messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                            VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    if (verbose_requested()) {
        info->messageSeverity |= VK_DEBUG_UTILS_MESSAGE_SEVERITY_INFO_BIT_EXT |
                                 VK_DEBUG_UTILS_MESSAGE_SEVERITY_VERBOSE_BIT_EXT;
    }
    info->messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                        VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    info->pfnUserCallback = debug_messenger_callback;
}

uint64_t debug_message_count() {
    return g_message_count.load(std::memory_order_relaxed);
}

}  // namespace hvk
