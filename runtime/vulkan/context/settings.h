// String settings that Halide's runtime takes from setters or, on first use,
// from environment variables (spec 02 §2.3). They are read when a context is
// created, so an application sets them before its first Vulkan call.
#pragma once

#include <cstddef>

#include "vulkan/util/vk.h"

namespace hvk {

enum class Setting {
    LayerNames,      // HL_VK_LAYERS, falling back to VK_INSTANCE_LAYERS
    ExtensionNames,  // HL_VK_EXTENSIONS (extra instance extensions)
    DeviceType,      // HL_VK_DEVICE_TYPE
    BuildOptions,    // HL_VK_BUILD_OPTIONS (accepted, unused, as in Halide)
    AllocConfig,     // HL_VK_ALLOC_CONFIG
};

// Copies the current value (never null; empty when unset) into `out`.
// Returns the full length of the value.
size_t read_setting(Setting which, char *out, size_t out_size);
// Returns a pointer to the stored value, stable for the process lifetime;
// the C getters hand it out as Halide's do.
const char *setting_storage(Setting which);
void write_setting(Setting which, const char *value);

// Allocation callbacks set by halide_vulkan_set_allocation_callbacks (null:
// the C heap).
const VkAllocationCallbacks *allocation_callbacks();

}  // namespace hvk
