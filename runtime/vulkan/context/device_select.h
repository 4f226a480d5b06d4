// Choosing a physical device: a pure function of what the devices report and
// of HL_VK_DEVICE_TYPE / HL_VK_DEVICE_INDEX, so it is testable without a GPU.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vulkan/util/vk.h"

namespace hvk {

struct DeviceCandidate {
    VkPhysicalDeviceType type;
    bool has_compute_queue;
    const char *name;
};

struct DeviceChoice {
    int index;              // into the candidate list; -1 when nothing fits
    char reason[256];       // why this one, or why none (a complete sentence)
};

// type: "", "cpu", "gpu", "discrete-gpu", "integrated-gpu" or "virtual-gpu".
// index: "" or a decimal index into the candidate list.
// Default order: discrete GPU, integrated GPU, virtual GPU, CPU, other; the
// first in enumeration order wins a tie. Unlike Halide, an unknown type, an
// index out of range or no match is an error, never a silent fallback.
DeviceChoice choose_physical_device(const DeviceCandidate *candidates, size_t count, const char *type,
                                    const char *index);

const char *device_type_name(VkPhysicalDeviceType type);

}  // namespace hvk
