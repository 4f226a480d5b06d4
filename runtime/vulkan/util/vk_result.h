#pragma once

#include "vulkan/util/vk.h"

namespace hvk {
// "VK_ERROR_OUT_OF_DEVICE_MEMORY" and so on, for error messages.
const char *vk_result_name(VkResult result);
}  // namespace hvk
