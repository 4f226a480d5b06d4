// Lazily created per-device memory state: the Arena (device memory blocks)
// and the RegionTable (the device's part of the region table: the cache of
// freed regions and its counters). Both are destroyed by
// halide_vulkan_device_release through the device teardown (regions at
// order 20, before the submitter at 30 and the arena at 40).
#pragma once

#include "vulkan/context/device.h"

namespace hvk {

// Creates d->arena (configured from HL_VK_ALLOC_CONFIG /
// halide_vulkan_set_alloc_config) and d->regions if they do not exist yet.
// Caller holds d->mutex. Returns 0 or a reported error code.
int ensure_memory_state(void *user_context, Device *d);

class Arena;
// ensure_memory_state, then *out = d->arena (for staging and other users of
// the arena). Caller holds d->mutex.
int ensure_arena(void *user_context, Device *d, Arena **out);

}  // namespace hvk
