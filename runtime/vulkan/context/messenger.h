// Validation and driver messages: written verbatim to standard error and
// counted, so tests can fail on any of them and nothing is lost.
#pragma once

#include <cstdint>

#include "vulkan/util/vk.h"

namespace hvk {

VKAPI_ATTR VkBool32 VKAPI_CALL debug_messenger_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                        VkDebugUtilsMessageTypeFlagsEXT types,
                                                        const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                        void *user_data);

void fill_messenger_create_info(VkDebugUtilsMessengerCreateInfoEXT *info);

// Warnings and errors seen since process start.
uint64_t debug_message_count();

}  // namespace hvk
