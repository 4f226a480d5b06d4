// The region table: what halide_buffer_t::device means.
//
// buf->device is a 64-bit handle naming exactly one entry of kind Owned
// (arena memory with its own VkBuffer), Wrapped (a caller's VkBuffer plus a
// byte offset; never freed, never mapped) or CropAlias (a view of an Owned or
// Wrapped root at a byte offset). Handles carry a generation, so a stale or
// foreign value is an error with a message, never a dereference.
#pragma once

#include <cstdint>

#include "HalideRuntime.h"
#include "device.h"

namespace hvk {

enum class RegionKind : uint8_t { Owned, Wrapped, CropAlias };

// How a kernel or a copy addresses a buffer's device memory.
struct DeviceBufferView {
    Device *device;          // the Device the region belongs to
    VkBuffer buffer;         // the root's VkBuffer (owned or the caller's)
    VkDeviceSize offset;     // byte offset of the buffer's lowest byte (its
                             // device byte 0) from the start of `buffer`
    VkDeviceSize size;       // bytes from `offset` to the end of the root region
    RegionKind kind;         // of the entry buf->device names
};

// Resolves buf->device for `d`. Errors (reported, with `where` in the
// message): device == 0, a handle that is stale or not ours, a region of
// another VkDevice, a region too small for buf->size_in_bytes().
int resolve_device_buffer(void *user_context, Device *d, const halide_buffer_t *buf, const char *where,
                          DeviceBufferView *out);

}  // namespace hvk
