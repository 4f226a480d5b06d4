// Creating the runtime's own VkDevice on a chosen physical device.
#pragma once

#include "vulkan/context/device.h"

namespace hvk {

// Creates d->device on d->physical_device (one queue of d->queue_family)
// with every feature and extension Halide's target features may need that
// the device supports (device_features.h), and records them in d->caps.
// Returns 0 or a Halide error code (reported); d->device is null on failure.
int create_logical_device(void *user_context, Device *d);

}  // namespace hvk
