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
#include "vulkan/context/device.h"

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

// ---------------------------------------------------------------------------
// Everything below is the region table's full internal interface (issue 3).
//
// Handle encoding: bits 63..56 = 0xA7 (tag), bits 55..24 = generation,
// bits 23..0 = slot index. The tag makes every handle a non-canonical
// address on 64-bit hosts, so a handle is never a usable pointer and a
// pointer is never mistaken for a handle. Generations come from one global
// counter, so a slot reused later never revives an old handle.
//
// Lifetime rules (see region_table.cpp for the details):
//  * A root (Owned or Wrapped) holds one reference for its owner handle plus
//    one per CropAlias made from it (or from its crops) and, for an Owned
//    root, one per Wrapped entry that wraps its VkBuffer.
//  * device_free of an Owned root with live references kills the handle at
//    once; the memory (and the VkBuffer) live until the last reference goes.
//  * A Wrapped root with live crops cannot be freed or detached (-33 / -18).
//  * A freed Owned region goes to a per-device cache (reuse on) or back to
//    the arena (reuse off), never while queued GPU work may still use it.
//
// Thread safety: callers hold Device::mutex of the device they pass; the
// table's own lock covers slot allocation and handle validation.
//
// GPU use: code that records GPU work on a buffer resolves it with
// resolve_device_buffer while recording (before the batch is submitted);
// that stamps the root with the Submitter's recording_serial(), which is
// what frees, detaches, maps and reuse wait for.
// ---------------------------------------------------------------------------

struct ArenaAllocation;

// Checked halide_buffer_t::size_in_bytes(): false (with *bytes = 0) when the
// span overflows 64 bits or the shape is malformed (dimensions < 0, or a
// null dim array with dimensions > 0). `begin_elements` (may be null)
// receives begin_offset(), the element offset of the lowest byte from host.
bool buffer_span_bytes(const halide_buffer_t *buf, uint64_t *bytes, int64_t *begin_elements);

// Per-device state: created by memory_state.cpp, destroyed by the teardown.
int create_region_table(void *user_context, Device *d);
void destroy_region_table(Device *d);  // destroys every entry of d (handles go stale)

// What kind of release a caller asks for.
enum class ReleaseMode : uint8_t {
    Free,         // device_free: crop -> release the alias; Wrapped -> metadata only
    Detach,       // detach_vk_buffer: Wrapped roots and crops of Wrapped roots only
    ReleaseCrop,  // device_release_crop: a root is released as by Free
};

// The operations behind the buffer API. `where` names the public entry
// point; every failure is reported and leaves `buf` unchanged.
// Allocates (or reuses) an Owned region of `size` bytes; *handle receives it.
int region_allocate_owned(void *user_context, Device *d, uint64_t size, const char *where, uint64_t *handle);
// Bytes usable from buf's device byte 0, and the kind, of a live handle.
int region_extent(void *user_context, Device *d, uint64_t handle, int error_code, const char *where,
                  uint64_t *usable_bytes, RegionKind *kind);
// Reports (with `code`) a handle that names no live entry of any device,
// without acquiring a context: a stale or foreign value needs no Vulkan.
int check_handle_live(void *user_context, uint64_t handle, int code, const char *where);
int region_release(void *user_context, Device *d, uint64_t handle, ReleaseMode mode, const char *where);
// New CropAlias at `delta` bytes past the source's device byte 0, covering
// `size` bytes (checked against the source's region).
int region_crop(void *user_context, Device *d, uint64_t src_handle, uint64_t delta, uint64_t size,
                const char *where, uint64_t *handle);
int region_wrap(void *user_context, Device *d, VkBuffer buffer, uint64_t offset, uint64_t size,
                const char *where, uint64_t *handle);
// Root VkBuffer and byte offset of the handle's device byte 0 inside it.
int region_query(void *user_context, Device *d, uint64_t handle, int error_code, const char *where,
                 VkBuffer *buffer, uint64_t *offset);
// Drops every cached region of d (waiting for the GPU where needed) and
// returns empty arena blocks to the driver.
int region_release_unused(void *user_context, Device *d);

// Host access to an Owned region (or a crop of one) whose memory is host
// visible. Waits first for queued GPU work that uses the root. Wrapped
// regions (and crops of them) are rejected with a clear error: the runtime
// does not know their memory. The arena keeps memory persistently mapped,
// so there is nothing to unmap; non-coherent memory needs
// Arena::flush/invalidate on `allocation` at `allocation_offset`.
struct MappedRegion {
    uint8_t *ptr;                      // host address of buf's device byte 0
    uint64_t size;                     // bytes usable from ptr
    const ArenaAllocation *allocation; // the root's allocation (stable while the region lives)
    uint64_t allocation_offset;        // ptr - allocation.mapped
    VkMemoryPropertyFlags memory_flags;  // of the allocation's memory type
};
int map_region(void *user_context, Device *d, const halide_buffer_t *buf, const char *where, MappedRegion *out);
// The same without reporting: nonzero when the region cannot be mapped
// (wrapped, not host visible, bad handle). Still waits for queued GPU work.
int try_map_region(void *user_context, Device *d, const halide_buffer_t *buf, MappedRegion *out);
// Nothing to do today (persistent mappings); kept so callers pair map/unmap.
inline void unmap_region(Device *, const MappedRegion &) {}

// Accounting, for halide_vk_get_memory_stats and tests.
struct RegionStats {
    uint64_t live_entries;        // all devices: occupied slots (live, zombie, cached)
    uint64_t slabs;               // all devices: entry slabs allocated
    uint64_t owned_count;         // d: Owned roots whose memory is in use (live or kept by aliases)
    uint64_t owned_bytes;         // d: their arena bytes
    uint64_t cached_count;        // d: freed Owned regions kept for reuse
    uint64_t cached_bytes;        // d: their arena bytes
    uint64_t vk_buffers_created;  // d: vkCreateBuffer calls for Owned regions
    uint64_t vk_buffers_destroyed;
};
RegionStats region_stats(Device *d);  // d may be null (global fields only)

}  // namespace hvk
