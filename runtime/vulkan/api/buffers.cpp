// The halide_vulkan_* buffer functions (Halide PR #9110 semantics):
// device_malloc/free, crops and slices, wrapping application VkBuffers, and
// our halide_vk_get_memory_stats. Argument checks and crop geometry live
// here; what a handle means is region_table.cpp's business.
//
// Device byte 0. Every buffer's device memory is addressed from the lowest
// byte of its span (halide_buffer_t::begin(), which differs from the element
// at the min coordinates only when some stride is negative). For an Owned
// root that byte is byte 0 of its own VkBuffer; for a Wrapped root it is the
// wrap offset; a crop or slice sits at its parent's device byte 0 plus the
// distance between the two buffers' lowest bytes.
// halide_vulkan_get_vk_crop_offset reports exactly that: the byte offset of
// the buffer's device byte 0 inside the VkBuffer halide_vulkan_get_vk_buffer
// returns. With non-negative strides this is Halide's "element at the min
// coordinates"; with negative strides it is the lowest-addressed element.
//
// device_malloc does not clear the memory it hands out (like Halide's CUDA
// backend, unlike its Vulkan one): Halide's semantics never read
// uninitialised device memory, and clearing costs a submission per malloc.
#include <cstdint>
#include <mutex>

#include "HalideRuntimeVulkan.h"
#include "vulkan/memory/arena.h"
#include "vulkan/context/context_scope.h"
#include "generic/device_interface_impl.h"
#include "halide_vk_runtime.h"
#include "vulkan/memory/memory_state.h"
#include "vulkan/memory/region_table.h"
#include "common/report.h"

namespace hvk {
namespace {

// One public call: the acquired context plus the device lock.
class DeviceCall {
public:
    DeviceCall(void *uc, const char *where, bool create = true) : scope_(uc, where, create) {
        if (scope_.ok() && scope_.device() != nullptr) {
            device_ = scope_.device();
            device_->mutex.lock();
        }
    }
    ~DeviceCall() {
        if (device_ != nullptr) {
            device_->mutex.unlock();
        }
    }
    DeviceCall(const DeviceCall &) = delete;
    DeviceCall &operator=(const DeviceCall &) = delete;

    bool ok() const { return scope_.ok(); }
    int status() const { return scope_.status(); }
    Device *device() const { return device_; }

private:
    ContextScope scope_;
    Device *device_ = nullptr;
};

const halide_device_interface_t *vulkan_interface() {
    return halide_vulkan_device_interface();
}

unsigned long long ull(uint64_t v) {
    return static_cast<unsigned long long>(v);
}

// Where `dst` (a crop of `src`, or a slice when slice_dim >= 0) starts and
// how many bytes it spans, relative to src's device byte 0. Checks that dst
// lies inside src. Errors are -41 (device_crop_failed).
int crop_geometry(void *uc, const halide_buffer_t *src, const halide_buffer_t *dst, int slice_dim, int slice_pos,
                  const char *where, uint64_t *delta_bytes, uint64_t *dst_bytes) {
    if (src->device == 0) {
        return report_error(uc, -41, where, "the source buffer has no device allocation");
    }
    if (dst->device != 0) {
        return report_error(uc, -41, where, "the destination buffer already has a device allocation");
    }
    const int expected = slice_dim >= 0 ? src->dimensions - 1 : src->dimensions;
    if (dst->dimensions != expected) {
        return report_error(uc, -41, where, "the destination has %d dimension(s), expected %d", dst->dimensions,
                            expected);
    }
    if (slice_dim >= 0 && slice_dim >= src->dimensions) {
        return report_error(uc, -41, where, "slice dimension %d does not exist (the source has %d)", slice_dim,
                            src->dimensions);
    }
    if (dst->type.bytes() != src->type.bytes()) {
        return report_error(uc, -41, where, "the destination's element size (%d bytes) differs from the source's (%d)",
                            dst->type.bytes(), src->type.bytes());
    }
    uint64_t src_bytes;
    int64_t src_begin;
    int64_t dst_begin;
    if (!buffer_span_bytes(src, &src_bytes, &src_begin) || !buffer_span_bytes(dst, dst_bytes, &dst_begin)) {
        return report_error(uc, -41, where, "a buffer's size in bytes overflows 64 bits or its shape is malformed");
    }
    // Element offset of dst's min-coordinates element from src's, in src's strides.
    int64_t delta = 0;
    bool overflow = false;
    for (int i = 0, j = 0; i < src->dimensions; i++) {
        const halide_dimension_t &s = src->dim[i];
        int64_t pos;
        if (i == slice_dim) {
            if (slice_pos < s.min || int64_t(slice_pos) >= int64_t(s.min) + s.extent) {
                return report_error(uc, -41, where, "slice position %d is outside dimension %d's range [%d, %lld)",
                                    slice_pos, i, s.min, static_cast<long long>(int64_t(s.min) + s.extent));
            }
            pos = slice_pos;
        } else {
            const halide_dimension_t &d = dst->dim[j++];
            if (d.extent > 0 && (d.min < s.min || int64_t(d.min) + d.extent > int64_t(s.min) + s.extent)) {
                return report_error(uc, -41, where,
                                    "dimension %d of the crop, [%d, %lld), is not inside the parent's [%d, %lld)", i,
                                    d.min, static_cast<long long>(int64_t(d.min) + d.extent), s.min,
                                    static_cast<long long>(int64_t(s.min) + s.extent));
            }
            pos = d.min;
        }
        int64_t step;
        overflow |= __builtin_mul_overflow(pos - int64_t(s.min), int64_t(s.stride), &step);
        overflow |= __builtin_add_overflow(delta, step, &delta);
    }
    // Lowest byte of dst relative to the lowest byte of src.
    int64_t low;
    overflow |= __builtin_add_overflow(delta, dst_begin - src_begin, &low);
    int64_t low_bytes = 0;
    overflow |= __builtin_mul_overflow(low, int64_t(src->type.bytes()), &low_bytes);
    if (overflow) {
        return report_error(uc, -41, where, "the crop's byte offset overflows 64 bits");
    }
    if (low_bytes < 0 || uint64_t(low_bytes) > src_bytes || *dst_bytes > src_bytes - uint64_t(low_bytes)) {
        return report_error(uc, -41, where,
                            "the crop (%llu bytes starting at byte %lld of the parent) does not lie inside the "
                            "parent's %llu-byte span",
                            ull(*dst_bytes), static_cast<long long>(low_bytes), ull(src_bytes));
    }
    *delta_bytes = uint64_t(low_bytes);
    return 0;
}

int crop_or_slice(void *uc, const halide_buffer_t *src, int slice_dim, int slice_pos, halide_buffer_t *dst,
                  const char *where) {
    if (src == nullptr || dst == nullptr) {
        return halide_error_buffer_is_null(uc, where);
    }
    uint64_t delta = 0;
    uint64_t size = 0;
    if (int rc = crop_geometry(uc, src, dst, slice_dim, slice_pos, where, &delta, &size)) {
        return rc;
    }
    DeviceCall call(uc, where);
    if (!call.ok()) {
        return call.status();
    }
    Device *d = call.device();
    if (int rc = ensure_memory_state(uc, d)) {
        return rc;
    }
    uint64_t handle;
    if (int rc = region_crop(uc, d, src->device, delta, size, where, &handle)) {
        return rc;
    }
    dst->device = handle;
    dst->device_interface = src->device_interface != nullptr ? src->device_interface : vulkan_interface();
    return 0;
}

// Shared by device_free, release_crop and detach.
// The root VkBuffer and byte offset of `buf` for the two value-returning
// queries: errors are reported through halide_error and leave both at 0/null.
// A stale or foreign handle is reported without creating a context.
void query_view(void *uc, const halide_buffer_t *buf, const char *where, VkBuffer *vb, uint64_t *offset) {
    if (buf == nullptr) {
        halide_error_buffer_is_null(uc, where);
        return;
    }
    if (buf->device == 0 || check_handle_live(uc, buf->device, -22, where) != 0) {
        return;
    }
    DeviceCall call(uc, where);
    if (!call.ok()) {
        return;
    }
    VkBuffer b = VK_NULL_HANDLE;
    uint64_t o = 0;
    if (region_query(uc, call.device(), buf->device, -22, where, &b, &o) == 0) {
        *vb = b;
        *offset = o;
    }
}

int release(void *uc, halide_buffer_t *buf, ReleaseMode mode, const char *where) {
    // A stale or foreign handle (e.g. a buffer freed after halide_device_release)
    // is reported without creating a Vulkan context just to say so.
    const int code = mode == ReleaseMode::Free ? -18 : mode == ReleaseMode::Detach ? -33 : -22;
    if (int rc = check_handle_live(uc, buf->device, code, where)) {
        return rc;
    }
    DeviceCall call(uc, where);
    if (!call.ok()) {
        return call.status();
    }
    if (int rc = region_release(uc, call.device(), buf->device, mode, where)) {
        return rc;
    }
    buf->device = 0;
    buf->device_interface = nullptr;
    return 0;
}

}  // namespace
}  // namespace hvk

using hvk::DeviceCall;
using hvk::ReleaseMode;

extern "C" {

int halide_vulkan_device_malloc(void *user_context, halide_buffer_t *buf) {
    const char *where = "halide_vulkan_device_malloc";
    if (buf == nullptr) {
        return halide_error_buffer_is_null(user_context, where);
    }
    uint64_t size;
    if (!hvk::buffer_span_bytes(buf, &size, nullptr)) {
        return hvk::report_error(user_context, -16, where,
                                 "the buffer's size in bytes overflows 64 bits or its shape is malformed");
    }
    DeviceCall call(user_context, where);
    if (!call.ok()) {
        return call.status();
    }
    hvk::Device *d = call.device();
    if (int rc = hvk::ensure_memory_state(user_context, d)) {
        return rc;
    }
    if (buf->device != 0) {
        uint64_t usable;
        hvk::RegionKind kind;
        if (int rc = hvk::region_extent(user_context, d, buf->device, -16, where, &usable, &kind)) {
            return rc;
        }
        if (usable >= size) {
            if (buf->device_interface == nullptr) {
                buf->device_interface = hvk::vulkan_interface();
            }
            return 0;  // big enough already: nothing to do
        }
        if (kind == hvk::RegionKind::Wrapped) {
            return hvk::report_error(user_context, -16, where,
                                     "the wrapped VkBuffer has %llu bytes from the wrap offset but the buffer needs "
                                     "%llu; wrapped buffers are never reallocated",
                                     hvk::ull(usable), hvk::ull(size));
        }
        if (kind == hvk::RegionKind::CropAlias) {
            return hvk::report_error(user_context, -16, where,
                                     "the buffer is a crop with %llu bytes but needs %llu; crops are never "
                                     "reallocated",
                                     hvk::ull(usable), hvk::ull(size));
        }
        // Too small: allocate the new region first so that a failure leaves
        // the buffer as it was.
        uint64_t handle;
        if (int rc = hvk::region_allocate_owned(user_context, d, size, where, &handle)) {
            return rc;
        }
        if (int rc = hvk::region_release(user_context, d, buf->device, ReleaseMode::Free, where)) {
            hvk::region_release(user_context, d, handle, ReleaseMode::Free, where);
            return rc;
        }
        buf->device = handle;
        return 0;
    }
    uint64_t handle;
    if (int rc = hvk::region_allocate_owned(user_context, d, size, where, &handle)) {
        return rc;
    }
    buf->device = handle;
    buf->device_interface = hvk::vulkan_interface();
    return 0;
}

int halide_vulkan_device_free(void *user_context, halide_buffer_t *buf) {
    const char *where = "halide_vulkan_device_free";
    if (buf == nullptr) {
        return halide_error_buffer_is_null(user_context, where);
    }
    if (buf->device == 0) {
        return 0;  // as Halide: a second free of the same struct is a no-op
    }
    return hvk::release(user_context, buf, ReleaseMode::Free, where);
}

int halide_vulkan_device_crop(void *user_context, const halide_buffer_t *src, halide_buffer_t *dst) {
    return hvk::crop_or_slice(user_context, src, -1, 0, dst, "halide_vulkan_device_crop");
}

int halide_vulkan_device_slice(void *user_context, const halide_buffer_t *src, int slice_dim, int slice_pos,
                               halide_buffer_t *dst) {
    const char *where = "halide_vulkan_device_slice";
    if (src != nullptr && dst != nullptr && slice_dim < 0) {
        return hvk::report_error(user_context, -41, where, "slice dimension %d is negative", slice_dim);
    }
    return hvk::crop_or_slice(user_context, src, slice_dim, slice_pos, dst, where);
}

int halide_vulkan_device_release_crop(void *user_context, halide_buffer_t *buf) {
    const char *where = "halide_vulkan_device_release_crop";
    if (buf == nullptr) {
        return halide_error_buffer_is_null(user_context, where);
    }
    if (buf->device == 0) {
        return 0;
    }
    return hvk::release(user_context, buf, ReleaseMode::ReleaseCrop, where);
}

int halide_vulkan_wrap_vk_buffer(void *user_context, halide_buffer_t *buf, uint64_t vk_buffer, uint64_t offset) {
    const char *where = "halide_vulkan_wrap_vk_buffer";
    if (buf == nullptr) {
        return halide_error_buffer_is_null(user_context, where);
    }
    if (buf->device != 0) {
        return hvk::report_error(user_context, -32, where, "the buffer already has a device allocation");
    }
    if (vk_buffer == 0) {
        return hvk::report_error(user_context, -32, where, "the VkBuffer handle is 0 (VK_NULL_HANDLE)");
    }
    uint64_t size;
    if (!hvk::buffer_span_bytes(buf, &size, nullptr)) {
        return hvk::report_error(user_context, -32, where,
                                 "the buffer's size in bytes overflows 64 bits or its shape is malformed");
    }
    DeviceCall call(user_context, where);
    if (!call.ok()) {
        return call.status();
    }
    hvk::Device *d = call.device();
    if (int rc = hvk::ensure_memory_state(user_context, d)) {
        return rc;
    }
    uint64_t handle;
    VkBuffer vb = reinterpret_cast<VkBuffer>(static_cast<uintptr_t>(vk_buffer));
    if (int rc = hvk::region_wrap(user_context, d, vb, offset, size, where, &handle)) {
        return rc;
    }
    buf->device = handle;
    buf->device_interface = hvk::vulkan_interface();
    return 0;
}

int halide_vulkan_detach_vk_buffer(void *user_context, halide_buffer_t *buf) {
    const char *where = "halide_vulkan_detach_vk_buffer";
    if (buf == nullptr) {
        return halide_error_buffer_is_null(user_context, where);
    }
    if (buf->device == 0) {
        return 0;
    }
    if (buf->device_interface != hvk::vulkan_interface()) {
        return hvk::report_error(user_context, -42, where, "the buffer's device interface is not Vulkan's");
    }
    return hvk::release(user_context, buf, ReleaseMode::Detach, where);
}

uintptr_t halide_vulkan_get_vk_buffer(void *user_context, halide_buffer_t *buf) {
    VkBuffer vb = VK_NULL_HANDLE;
    uint64_t offset = 0;
    hvk::query_view(user_context, buf, "halide_vulkan_get_vk_buffer", &vb, &offset);
    return reinterpret_cast<uintptr_t>(vb);
}

uint64_t halide_vulkan_get_vk_crop_offset(void *user_context, halide_buffer_t *buf) {
    VkBuffer vb = VK_NULL_HANDLE;
    uint64_t offset = 0;
    hvk::query_view(user_context, buf, "halide_vulkan_get_vk_crop_offset", &vb, &offset);
    return offset;
}

int halide_vulkan_device_and_host_malloc(void *user_context, halide_buffer_t *buf) {
    return halide_default_device_and_host_malloc(user_context, buf, hvk::vulkan_interface());
}

int halide_vulkan_device_and_host_free(void *user_context, halide_buffer_t *buf) {
    return halide_default_device_and_host_free(user_context, buf, hvk::vulkan_interface());
}

int halide_vulkan_release_unused_device_allocations(void *user_context) {
    DeviceCall call(user_context, "halide_vulkan_release_unused_device_allocations", /*create=*/false);
    if (!call.ok()) {
        return call.status();
    }
    if (call.device() == nullptr) {
        return 0;  // no context: nothing cached
    }
    return hvk::region_release_unused(user_context, call.device());
}

int halide_vk_get_memory_stats(void *user_context, halide_vk_memory_stats *out) {
    if (out == nullptr) {
        return -1;
    }
    *out = halide_vk_memory_stats{};
    DeviceCall call(user_context, "halide_vk_get_memory_stats", /*create=*/false);
    if (!call.ok() || call.device() == nullptr) {
        return 0;
    }
    hvk::Device *d = call.device();
    const hvk::RegionStats r = hvk::region_stats(d);
    out->allocated_bytes = r.owned_bytes;
    out->allocation_count = r.owned_count;
    out->cached_free_bytes = r.cached_bytes;
    if (d->arena != nullptr) {
        const hvk::ArenaStats a = d->arena->stats();
        out->block_count = a.block_count;
        out->block_bytes = a.block_bytes;
        out->peak_block_bytes = a.peak_block_bytes;
    }
    return 0;
}

}  // extern "C"
