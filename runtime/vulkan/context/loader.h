// Opening the Vulkan loader at run time and starting volk from it.
#pragma once

#include "vulkan/util/vk.h"

namespace hvk {

// Resolves vkGetInstanceProcAddr through the (overridable)
// halide_vulkan_get_symbol and initialises volk's loader-level entry points.
// Returns 0, or halide_error_code_symbol_not_found after reporting why.
// Retries on every call until it succeeds, so a caller that fixes its
// environment (or overrides halide_vulkan_get_symbol) can try again.
int ensure_loader(void *user_context);

// The instance version the loader supports (VK_API_VERSION_1_0 for 1.0 loaders).
uint32_t loader_instance_version();

}  // namespace hvk
