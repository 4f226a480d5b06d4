// halide_vk_runtime -- the generic device layer (Halide's device_interface.cpp
// semantics): buffer validation, dirty bits, error mapping, and dispatch to a
// backend through halide_device_interface_t::impl.
//
// Error reporting: failures detected here are reported through halide_error
// (report_error / the halide_error_* helpers).  When a backend call fails,
// the backend has already reported its own detailed message; this layer then
// collapses the code into Halide's fixed code for the operation (e.g. any
// copy_to_host failure becomes -14), as generated code and
// Halide::Runtime::Buffer expect.
//
// Locking: one process-wide mutex, held by copy_to_host, copy_to_device,
// buffer_copy and the crop/slice/release_crop functions, as in Halide.
// Backends must not call those locked entry points from inside their impl
// callbacks (they may call halide_device_malloc / halide_device_free).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

#include "HalideRuntime.h"
#include "generic/device_interface_impl.h"
#include "common/report.h"

namespace {

using hvk::log_debug;
using hvk::report_error;

constexpr int kSuccess = 0;
constexpr int kCopyToHostFailed = -14;
constexpr int kCopyToDeviceFailed = -15;
constexpr int kDeviceMallocFailed = -16;
constexpr int kDeviceSyncFailed = -17;
constexpr int kDeviceFreeFailed = -18;
constexpr int kNoDeviceInterface = -19;
constexpr int kInternalError = -22;
constexpr int kDeviceWrapNativeFailed = -32;
constexpr int kDeviceDetachNativeFailed = -33;
constexpr int kHostIsNull = -34;
constexpr int kDeviceBufferCopyFailed = -39;
constexpr int kDeviceCropUnsupported = -40;
constexpr int kDeviceCropFailed = -41;
constexpr int kIncompatibleDeviceInterface = -42;

constexpr uint64_t kHostDirty = halide_buffer_flag_host_dirty;
constexpr uint64_t kDeviceDirty = halide_buffer_flag_device_dirty;

std::mutex g_device_copy_mutex;

std::atomic<bool> g_reuse_device_allocations{true};
std::mutex g_pool_mutex;
halide_device_allocation_pool *g_pools = nullptr;

inline bool host_dirty(const halide_buffer_t *b) {
    return (b->flags & kHostDirty) != 0;
}
inline bool device_dirty(const halide_buffer_t *b) {
    return (b->flags & kDeviceDirty) != 0;
}
inline void set_host_dirty(halide_buffer_t *b, bool v) {
    b->flags = v ? (b->flags | kHostDirty) : (b->flags & ~kHostDirty);
}
inline void set_device_dirty(halide_buffer_t *b, bool v) {
    b->flags = v ? (b->flags | kDeviceDirty) : (b->flags & ~kDeviceDirty);
}

// Brackets a backend call with use_module/release_module (no-ops in AOT, but
// kept paired as Halide does).
class ModuleUse {
public:
    explicit ModuleUse(const halide_device_interface_t *iface)
        : impl_(iface ? iface->impl : nullptr) {
        if (impl_ && impl_->use_module) {
            impl_->use_module();
        }
    }
    ~ModuleUse() {
        if (impl_ && impl_->release_module) {
            impl_->release_module();
        }
    }
    ModuleUse(const ModuleUse &) = delete;
    ModuleUse &operator=(const ModuleUse &) = delete;

private:
    const halide_device_interface_impl_t *impl_;
};

// Halide's buffer validation, in Halide's order.
int validate(void *uc, const halide_buffer_t *buf, const char *routine) {
    if (buf == nullptr) {
        return halide_error_buffer_is_null(uc, routine);
    }
    const bool has_device = buf->device != 0;
    const bool has_iface = buf->device_interface != nullptr;
    if (has_device && !has_iface) {
        return halide_error_no_device_interface(uc);
    }
    if (has_iface && !has_device) {
        return halide_error_device_interface_no_device(uc);
    }
    if (host_dirty(buf) && device_dirty(buf)) {
        return halide_error_host_and_device_dirty(uc);
    }
    if (has_iface && buf->device_interface->impl == nullptr) {
        return report_error(uc, kNoDeviceInterface, routine, "the buffer's device interface has no backend table");
    }
    log_debug(uc, "%s: buffer %p device=0x%llx interface=%p host=%p flags=0x%llx", routine,
              static_cast<const void *>(buf), static_cast<unsigned long long>(buf->device),
              static_cast<const void *>(buf->device_interface), static_cast<const void *>(buf->host),
              static_cast<unsigned long long>(buf->flags));
    return kSuccess;
}

// An interface argument must be non-null and have a backend table.  (Halide
// dereferences it unchecked.)
int check_iface(void *uc, const halide_device_interface_t *iface, const char *routine) {
    if (iface == nullptr) {
        return report_error(uc, kNoDeviceInterface, routine, "no device interface given");
    }
    if (iface->impl == nullptr) {
        return report_error(uc, kNoDeviceInterface, routine, "the device interface has no backend table");
    }
    return kSuccess;
}

// validate + check_iface, then refuse to move a buffer that already has an
// interface onto a different one.
int validate_for_iface(void *uc, const halide_buffer_t *buf, const halide_device_interface_t *iface,
                       const char *routine) {
    if (int err = validate(uc, buf, routine)) {
        return err;
    }
    if (int err = check_iface(uc, iface, routine)) {
        return err;
    }
    if (buf->device_interface != nullptr && buf->device_interface != iface) {
        return report_error(uc, kIncompatibleDeviceInterface, routine,
                            "switching a buffer to another device interface is not supported");
    }
    return kSuccess;
}

// Calls one of iface's backend entry points inside a ModuleUse bracket.
template <typename Fn, typename... Args>
int call_backend(const halide_device_interface_t *iface, Fn halide_device_interface_impl_t::*entry, Args... args) {
    ModuleUse use(iface);
    return (iface->impl->*entry)(args...);
}

// Collapses a failed backend call into the operation's fixed Halide code.
int map_backend_failure(void *uc, const char *routine, int result, int mapped) {
    log_debug(uc, "%s: backend returned %d, mapped to %d", routine, result, mapped);
    return mapped;
}

// A backend call on buf, with its failure collapsed into `mapped`.
int call_backend_on(void *uc, const char *routine, int mapped, const halide_device_interface_t *iface,
                    int (*halide_device_interface_impl_t::*entry)(void *, halide_buffer_t *), halide_buffer_t *buf) {
    const int result = call_backend(iface, entry, uc, buf);
    if (result != kSuccess) {
        return map_backend_failure(uc, routine, result, mapped);
    }
    return kSuccess;
}

// halide_device_malloc and halide_device_and_host_malloc, differing only in
// the backend entry point.
int device_malloc_with(void *uc, halide_buffer_t *buf, const halide_device_interface_t *iface, const char *routine,
                       int (*halide_device_interface_impl_t::*entry)(void *, halide_buffer_t *)) {
    if (int err = validate_for_iface(uc, buf, iface, routine)) {
        return err;
    }
    if (int err = call_backend_on(uc, routine, kDeviceMallocFailed, iface, entry, buf)) {
        return err;
    }
    if (buf->device != 0 && buf->device_interface == nullptr) {
        buf->device_interface = iface;  // backends normally set it themselves
    }
    return kSuccess;
}

// The device half of halide_device_free and halide_device_and_host_free
// (iface is buf's non-null interface).
int device_free_with(void *uc, halide_buffer_t *buf, const halide_device_interface_t *iface, const char *routine,
                     int (*halide_device_interface_impl_t::*entry)(void *, halide_buffer_t *)) {
    if (int err = call_backend_on(uc, routine, kDeviceFreeFailed, iface, entry, buf)) {
        return err;
    }
    if (buf->device != 0) {
        // Halide only asserts this in debug builds.
        return report_error(uc, kDeviceFreeFailed, routine, "the backend left a non-zero device handle after freeing");
    }
    buf->device_interface = nullptr;  // backends normally clear it themselves
    return kSuccess;
}

// ---------------------------------------------------------------------------
// Host-to-host copy of the overlap of two boxes.

struct CopyDim {
    int64_t extent;
    int64_t src_stride;  // bytes
    int64_t dst_stride;  // bytes
};

void copy_loop(const uint8_t *src, uint8_t *dst, const CopyDim *dims, int d, size_t chunk) {
    if (d < 0) {
        std::memmove(dst, src, chunk);
        return;
    }
    const CopyDim &cd = dims[d];
    for (int64_t i = 0; i < cd.extent; i++) {
        copy_loop(src + i * cd.src_stride, dst + i * cd.dst_stride, dims, d - 1, chunk);
    }
}

// Both buffers can take part in a host-to-host copy (reported otherwise).
int check_host_copy(void *uc, const halide_buffer_t *src, const halide_buffer_t *dst) {
    const char *where = "halide_buffer_copy";
    if (src->dimensions != dst->dimensions) {
        return report_error(uc, kDeviceBufferCopyFailed, where,
                            "source and destination have different dimensionality (%d vs %d)",
                            int(src->dimensions), int(dst->dimensions));
    }
    const int64_t elem = src->type.bytes();
    if (elem != int64_t(dst->type.bytes())) {
        return report_error(uc, kDeviceBufferCopyFailed, where,
                            "source and destination have different element sizes (%d vs %d bytes)", int(elem),
                            int(dst->type.bytes()));
    }
    if (src->host == nullptr || dst->host == nullptr) {
        return report_error(uc, kHostIsNull, where, "host-to-host copy with a null host pointer");
    }
    return kSuccess;
}

// Clips every dimension to the intersection of the two boxes: byte offsets
// of its first element in each buffer, and the dimensions longer than one
// (in bytes). Returns false when the intersection is empty.
bool intersect_boxes(const halide_buffer_t *src, const halide_buffer_t *dst, int64_t elem, int64_t *src_off,
                     int64_t *dst_off, std::vector<CopyDim> *dims) {
    const int n = src->dimensions;
    dims->reserve(size_t(n));
    for (int i = 0; i < n; i++) {
        const halide_dimension_t &s = src->dim[i];
        const halide_dimension_t &d = dst->dim[i];
        const int64_t lo = std::max<int64_t>(s.min, d.min);
        const int64_t hi = std::min<int64_t>(int64_t(s.min) + s.extent, int64_t(d.min) + d.extent);
        if (hi <= lo) {
            return false;
        }
        *src_off += (lo - s.min) * int64_t(s.stride) * elem;
        *dst_off += (lo - d.min) * int64_t(d.stride) * elem;
        if (hi - lo > 1) {
            dims->push_back({hi - lo, int64_t(s.stride) * elem, int64_t(d.stride) * elem});
        }
    }
    return true;
}

// Orders the dimensions for the copy loop: destination strides made
// non-negative, then innermost first.
void order_copy_dims(int64_t *src_off, int64_t *dst_off, std::vector<CopyDim> *dims) {
    // Make destination strides non-negative (walking a dimension backwards
    // in both buffers copies the same pairs of elements).
    for (CopyDim &cd : *dims) {
        if (cd.dst_stride < 0) {
            *src_off += (cd.extent - 1) * cd.src_stride;
            *dst_off += (cd.extent - 1) * cd.dst_stride;
            cd.src_stride = -cd.src_stride;
            cd.dst_stride = -cd.dst_stride;
        }
    }
    // Innermost = smallest destination stride; zero strides outermost.
    std::stable_sort(dims->begin(), dims->end(), [](const CopyDim &a, const CopyDim &b) {
        const uint64_t ka = a.dst_stride == 0 ? UINT64_MAX : uint64_t(a.dst_stride);
        const uint64_t kb = b.dst_stride == 0 ? UINT64_MAX : uint64_t(b.dst_stride);
        return ka < kb;
    });
}

// Merge dimensions that are contiguous with the next inner one in both.
void merge_contiguous_dims(const std::vector<CopyDim> &dims, std::vector<CopyDim> *merged) {
    for (const CopyDim &cd : dims) {
        if (!merged->empty()) {
            CopyDim &inner = merged->back();
            if (inner.src_stride * inner.extent == cd.src_stride &&
                inner.dst_stride * inner.extent == cd.dst_stride && cd.dst_stride != 0) {
                inner.extent *= cd.extent;
                continue;
            }
        }
        merged->push_back(cd);
    }
}

// Copies the intersection of src's and dst's boxes from src->host to
// dst->host.  Unlike Halide's copy plan (spec 08 item 4) every dimension is
// clipped to the true intersection, so partially overlapping boxes are safe,
// and negative strides are supported.
int copy_host_to_host(void *uc, const halide_buffer_t *src, halide_buffer_t *dst) {
    if (int err = check_host_copy(uc, src, dst)) {
        return err;
    }
    const int64_t elem = src->type.bytes();
    int64_t src_off = 0, dst_off = 0;
    std::vector<CopyDim> dims;
    if (!intersect_boxes(src, dst, elem, &src_off, &dst_off, &dims)) {
        return kSuccess;  // empty intersection: nothing to copy
    }
    order_copy_dims(&src_off, &dst_off, &dims);
    std::vector<CopyDim> merged;
    merge_contiguous_dims(dims, &merged);
    // Fold a dense innermost dimension into the chunk size.
    size_t chunk = size_t(elem);
    size_t first = 0;
    if (!merged.empty() && merged[0].src_stride == elem && merged[0].dst_stride == elem) {
        chunk = size_t(merged[0].extent * elem);
        first = 1;
    }
    // copy_loop walks dims[d] down to dims[0]: pass them innermost-first.
    const CopyDim *loop_dims = merged.data() + first;
    const int depth = int(merged.size() - first);
    if (src->host + src_off == dst->host + dst_off && depth == 0) {
        return kSuccess;  // copying a block onto itself
    }
    copy_loop(src->host + src_off, dst->host + dst_off, loop_dims, depth - 1, chunk);
    return kSuccess;
}

// ---------------------------------------------------------------------------
// Copy helpers that assume g_device_copy_mutex is held.

int copy_to_host_locked(void *uc, halide_buffer_t *buf) {
    if (!device_dirty(buf)) {
        return kSuccess;
    }
    if (host_dirty(buf)) {
        // Unreachable after validation; kept for the internal callers.
        return report_error(uc, kCopyToHostFailed, "halide_copy_to_host", "both dirty bits are set");
    }
    const halide_device_interface_t *iface = buf->device_interface;
    if (iface == nullptr || iface->impl == nullptr) {
        return halide_error_no_device_interface(uc);
    }
    // On failure the backend has reported the details.
    if (int err = call_backend_on(uc, "halide_copy_to_host", kCopyToHostFailed, iface,
                                  &halide_device_interface_impl_t::copy_to_host, buf)) {
        return err;
    }
    set_device_dirty(buf, false);
    return kSuccess;
}

int copy_to_device_locked(void *uc, halide_buffer_t *buf, const halide_device_interface_t *iface) {
    const char *where = "halide_copy_to_device";
    if (int err = validate(uc, buf, where)) {
        return err;
    }
    if (iface == nullptr) {
        if (buf->device_interface == nullptr) {
            return halide_error_no_device_interface(uc);
        }
        iface = buf->device_interface;
    }
    if (int err = check_iface(uc, iface, where)) {
        return err;
    }
    if (buf->device != 0 && buf->device_interface != iface) {
        return report_error(uc, kIncompatibleDeviceInterface, where,
                            "the buffer already has memory on another device interface");
    }
    if (buf->device == 0) {
        if (int err = halide_device_malloc(uc, buf, iface)) {
            return err;
        }
    }
    if (host_dirty(buf)) {
        if (device_dirty(buf)) {
            return report_error(uc, kCopyToDeviceFailed, where, "both dirty bits are set");
        }
        if (int err = call_backend_on(uc, where, kCopyToDeviceFailed, iface,
                                      &halide_device_interface_impl_t::copy_to_device, buf)) {
            return err;
        }
        set_host_dirty(buf, false);
    }
    return kSuccess;
}

// The checks of halide_buffer_copy before a path is chosen, and the
// destination's device allocation when it is copied to a device that it has
// no memory on yet. Every failure is reported.
int prepare_buffer_copy(void *uc, halide_buffer_t *src, const halide_device_interface_t *dst_iface,
                        halide_buffer_t *dst) {
    const char *where = "halide_buffer_copy";
    if (int err = validate(uc, src, where)) {
        return err;
    }
    if (int err = validate(uc, dst, where)) {
        return err;
    }
    if (dst_iface != nullptr) {
        if (int err = check_iface(uc, dst_iface, where)) {
            return err;
        }
    }
    if (dst_iface && dst->device_interface && dst_iface != dst->device_interface) {
        return report_error(uc, kIncompatibleDeviceInterface, where,
                            "the destination already has memory on another device interface");
    }
    if (dst_iface && dst->device == 0) {
        if (int err = halide_device_malloc(uc, dst, dst_iface)) {
            return err;
        }
    }
    return kSuccess;
}

// Where halide_buffer_copy can read the data and where it must put it.
struct CopyEnds {
    bool from_device_valid;
    bool to_device;
    bool to_host;
    bool from_host_exists;
    bool from_host_valid;
    bool to_host_exists;
};

inline CopyEnds copy_ends(const halide_buffer_t *src, const halide_device_interface_t *dst_iface,
                          const halide_buffer_t *dst) {
    CopyEnds e;
    e.from_device_valid = src->device != 0 && (src->host == nullptr || !host_dirty(src));
    e.to_device = dst_iface != nullptr;
    e.to_host = !e.to_device;
    e.from_host_exists = src->host != nullptr;
    e.from_host_valid = e.from_host_exists && (!device_dirty(src) || src->device_interface == nullptr);
    e.to_host_exists = dst->host != nullptr;
    return e;
}

int buffer_copy_locked(void *uc, halide_buffer_t *src, const halide_device_interface_t *dst_iface,
                       halide_buffer_t *dst, bool *reported);

// device -> host: the source's backend directly, else download the source
// and copy again (host to host).
int copy_device_to_host(void *uc, halide_buffer_t *src, halide_buffer_t *dst, bool *reported) {
    int result =
        call_backend(src->device_interface, &halide_device_interface_impl_t::buffer_copy, uc, src, nullptr, dst);
    if (result == kIncompatibleDeviceInterface) {
        result = copy_to_host_locked(uc, src);
        if (result == kSuccess) {
            result = buffer_copy_locked(uc, src, nullptr, dst, reported);
        }
    }
    return result;
}

// device -> device through the destination's host memory.
int copy_via_destination_host(void *uc, halide_buffer_t *src, const halide_device_interface_t *dst_iface,
                              halide_buffer_t *dst) {
    int result =
        call_backend(src->device_interface, &halide_device_interface_impl_t::buffer_copy, uc, src, nullptr, dst);
    if (result == kSuccess) {
        // The destination's host now holds the newest data.  Halide
        // sets host_dirty without clearing device_dirty, which makes
        // the following upload fail validation (-37) when dst was
        // device-dirty; clear it.
        set_device_dirty(dst, false);
        set_host_dirty(dst, true);
        result = copy_to_device_locked(uc, dst, dst_iface);
    }
    return result;
}

// device -> device through the source's host memory.
int copy_via_source_host(void *uc, halide_buffer_t *src, const halide_device_interface_t *dst_iface,
                         halide_buffer_t *dst) {
    int result = copy_to_host_locked(uc, src);
    if (result == kSuccess) {
        result = call_backend(dst_iface, &halide_device_interface_impl_t::buffer_copy, uc, src, dst_iface, dst);
    }
    return result;
}

// The paths tried when the destination's backend could not copy directly
// device to device (or that was not possible): host to host, or staged
// through host memory.
int copy_without_direct_path(void *uc, halide_buffer_t *src, const halide_device_interface_t *dst_iface,
                             halide_buffer_t *dst, const CopyEnds &e, bool *reported) {
    if (!e.from_host_exists && !e.to_host_exists) {
        *reported = true;
        return report_error(uc, kIncompatibleDeviceInterface, "halide_buffer_copy",
                            "neither buffer has host memory to stage a copy between these devices");
    }
    if (e.to_host && e.from_host_valid) {
        const int result = copy_host_to_host(uc, src, dst);
        *reported = result != kSuccess;
        return result;
    }
    if (e.to_host && e.from_device_valid) {
        return copy_device_to_host(uc, src, dst, reported);
    }
    if (e.from_device_valid && e.to_host_exists) {
        return copy_via_destination_host(uc, src, dst_iface, dst);
    }
    if (e.to_device && e.from_host_exists) {
        return copy_via_source_host(uc, src, dst_iface, dst);
    }
    // Otherwise no way to copy: result stays -42.
    return kIncompatibleDeviceInterface;
}

// The copied data is newest where it was written.
inline void mark_copied(halide_buffer_t *dst, bool to_device) {
    if (to_device) {
        set_host_dirty(dst, false);
        set_device_dirty(dst, true);
    } else {
        set_host_dirty(dst, true);
        set_device_dirty(dst, false);
    }
}

// The decision procedure of halide_buffer_copy (spec 03 §3.2).  Sets
// *reported when this function already reported its failure itself.
int buffer_copy_locked(void *uc, halide_buffer_t *src, const halide_device_interface_t *dst_iface,
                       halide_buffer_t *dst, bool *reported) {
    *reported = true;  // every early return below reports
    if (int err = prepare_buffer_copy(uc, src, dst_iface, dst)) {
        return err;
    }
    const CopyEnds e = copy_ends(src, dst_iface, dst);
    if (e.to_host && !e.to_host_exists) {
        return report_error(uc, kHostIsNull, "halide_buffer_copy",
                            "copy to host memory, but the destination has no host pointer");
    }
    *reported = false;

    int result = kIncompatibleDeviceInterface;
    if (e.from_device_valid && e.to_device) {
        result = call_backend(dst_iface, &halide_device_interface_impl_t::buffer_copy, uc, src, dst_iface, dst);
    }
    if (result == kIncompatibleDeviceInterface) {
        result = copy_without_direct_path(uc, src, dst_iface, dst, e, reported);
    }
    if (result == kSuccess && dst != src) {
        mark_copied(dst, e.to_device);
    }
    return result;
}

int buffer_copy_and_report(void *uc, halide_buffer_t *src, const halide_device_interface_t *dst_iface,
                           halide_buffer_t *dst) {
    bool reported = false;
    const int result = buffer_copy_locked(uc, src, dst_iface, dst, &reported);
    if (result != kSuccess && !reported) {
        report_error(uc, result, "halide_buffer_copy", "no copy path between the source and the destination succeeded");
    }
    return result;
}

// Shared preconditions of crop and slice; returns 1 for "nothing to do".
int crop_preconditions(void *uc, const halide_buffer_t *src, const halide_buffer_t *dst, int expected_dst_dims,
                       const char *where) {
    if (src == nullptr || dst == nullptr) {
        return halide_error_buffer_is_null(uc, where);
    }
    if (src->device == 0) {
        return 1;
    }
    if (src->device_interface == nullptr || src->device_interface->impl == nullptr) {
        return halide_error_no_device_interface(uc);
    }
    if (dst->device != 0) {
        return report_error(uc, kDeviceCropFailed, where, "the destination already has a device allocation");
    }
    if (dst->dimensions != expected_dst_dims) {
        return report_error(uc, kDeviceCropFailed, where,
                            "the destination has %d dimensions, expected %d", int(dst->dimensions),
                            expected_dst_dims);
    }
    return kSuccess;
}

// halide_device_crop and halide_device_slice: the preconditions under the copy
// mutex, then the backend call through `call(impl)`.
template <typename Call>
int crop_or_slice(void *uc, const halide_buffer_t *src, halide_buffer_t *dst, int dims_dropped, const char *where,
                  Call call) {
    std::lock_guard<std::mutex> lock(g_device_copy_mutex);
    int pre = crop_preconditions(uc, src, dst, src ? src->dimensions - dims_dropped : 0, where);
    if (pre != kSuccess) {
        return pre == 1 ? kSuccess : pre;
    }
    const halide_device_interface_impl_t *impl = src->device_interface->impl;
    // One module use per live crop, dropped by halide_device_release_crop.
    if (impl->use_module) {
        impl->use_module();
    }
    const int result = call(impl);
    if (result != kSuccess && impl->release_module) {
        impl->release_module();  // Halide leaks this use on failure
    }
    return result;
}

}  // namespace

extern "C" {

// --------------------------------------------------------- basic operations

int halide_device_malloc(void *user_context, halide_buffer_t *buf, const halide_device_interface_t *iface) {
    return device_malloc_with(user_context, buf, iface, "halide_device_malloc",
                              &halide_device_interface_impl_t::device_malloc);
}

int halide_device_free(void *user_context, halide_buffer_t *buf) {
    const char *where = "halide_device_free";
    if (int err = validate(user_context, buf, where)) {
        return err;
    }
    const halide_device_interface_t *iface = buf->device_interface;
    if (iface != nullptr) {
        if (int err = device_free_with(user_context, buf, iface, where, &halide_device_interface_impl_t::device_free)) {
            return err;
        }
    }
    set_device_dirty(buf, false);
    return kSuccess;
}

void halide_device_free_as_destructor(void *user_context, void *obj) {
    (void)halide_device_free(user_context, static_cast<halide_buffer_t *>(obj));
}

int halide_device_sync(void *user_context, halide_buffer_t *buf) {
    const char *where = "halide_device_sync";
    if (int err = validate(user_context, buf, where)) {
        return err;
    }
    const halide_device_interface_t *iface = buf->device_interface;
    if (iface == nullptr) {
        return halide_error_no_device_interface(user_context);
    }
    return call_backend_on(user_context, where, kDeviceSyncFailed, iface, &halide_device_interface_impl_t::device_sync,
                           buf);
}

int halide_device_sync_global(void *user_context, const halide_device_interface_t *iface) {
    if (iface == nullptr || iface->impl == nullptr) {
        return kNoDeviceInterface;  // no halide_error call, as Halide
    }
    return call_backend(iface, &halide_device_interface_impl_t::device_sync, user_context, nullptr);
}

void halide_device_release(void *user_context, const halide_device_interface_t *iface) {
    // Halide dereferences a null interface; we ignore it.
    if (iface == nullptr || iface->impl == nullptr) {
        return;
    }
    (void)iface->impl->device_release(user_context);
}

// ------------------------------------------------------------------- copies

int halide_copy_to_host(void *user_context, halide_buffer_t *buf) {
    std::lock_guard<std::mutex> lock(g_device_copy_mutex);
    if (int err = validate(user_context, buf, "halide_copy_to_host")) {
        return err;
    }
    return copy_to_host_locked(user_context, buf);
}

int halide_copy_to_device(void *user_context, halide_buffer_t *buf, const halide_device_interface_t *iface) {
    std::lock_guard<std::mutex> lock(g_device_copy_mutex);
    return copy_to_device_locked(user_context, buf, iface);
}

int halide_buffer_copy_already_locked(void *user_context, halide_buffer_t *src,
                                      const halide_device_interface_t *dst_iface, halide_buffer_t *dst) {
    return buffer_copy_and_report(user_context, src, dst_iface, dst);
}

int halide_buffer_copy(void *user_context, halide_buffer_t *src, const halide_device_interface_t *dst_iface,
                       halide_buffer_t *dst) {
    if (src == nullptr) {
        return halide_error_buffer_is_null(user_context, "halide_buffer_copy");
    }
    if (dst == nullptr) {
        return halide_error_buffer_is_null(user_context, "halide_buffer_copy");
    }
    std::lock_guard<std::mutex> lock(g_device_copy_mutex);
    ModuleUse use_dst(dst_iface && dst_iface->impl ? dst_iface : nullptr);
    ModuleUse use_src(src->device_interface && src->device_interface->impl ? src->device_interface : nullptr);
    return buffer_copy_and_report(user_context, src, dst_iface, dst);
}

int halide_default_buffer_copy(void *user_context, halide_buffer_t *src, const halide_device_interface_t *dst_iface,
                               halide_buffer_t *dst) {
    (void)src;
    (void)dst_iface;
    (void)dst;
    return report_error(user_context, kDeviceBufferCopyFailed, "halide_default_buffer_copy",
                        "this device interface does not implement buffer copies");
}

// ------------------------------------------------------- device + host memory

int halide_device_and_host_malloc(void *user_context, halide_buffer_t *buf, const halide_device_interface_t *iface) {
    return device_malloc_with(user_context, buf, iface, "halide_device_and_host_malloc",
                              &halide_device_interface_impl_t::device_and_host_malloc);
}

int halide_device_and_host_free(void *user_context, halide_buffer_t *buf) {
    const char *where = "halide_device_and_host_free";
    if (int err = validate(user_context, buf, where)) {
        return err;
    }
    const halide_device_interface_t *iface = buf->device_interface;
    if (iface != nullptr) {
        if (int err = device_free_with(user_context, buf, iface, where,
                                       &halide_device_interface_impl_t::device_and_host_free)) {
            return err;
        }
    } else if (buf->host != nullptr) {
        // The device half is already gone; still release the host half.
        halide_free(user_context, buf->host);
        buf->host = nullptr;
    }
    set_device_dirty(buf, false);
    return kSuccess;
}

void halide_device_and_host_free_as_destructor(void *user_context, void *obj) {
    (void)halide_device_and_host_free(user_context, static_cast<halide_buffer_t *>(obj));
}

void halide_device_host_nop_free(void *user_context, void *obj) {
    (void)user_context;
    (void)obj;
}

int halide_default_device_and_host_malloc(void *user_context, halide_buffer_t *buf,
                                          const halide_device_interface_t *iface) {
    const char *where = "halide_default_device_and_host_malloc";
    if (int err = validate(user_context, buf, where)) {
        return err;
    }
    const size_t size = buf->size_in_bytes();
    buf->host = static_cast<uint8_t *>(halide_malloc(user_context, size));
    if (buf->host == nullptr) {
        return report_error(user_context, kHostIsNull, where, "halide_malloc of %zu bytes returned null", size);
    }
    if (int err = halide_device_malloc(user_context, buf, iface)) {
        halide_free(user_context, buf->host);
        buf->host = nullptr;
        return err;
    }
    return kSuccess;
}

int halide_default_device_and_host_free(void *user_context, halide_buffer_t *buf,
                                        const halide_device_interface_t *iface) {
    (void)iface;
    if (int err = validate(user_context, buf, "halide_default_device_and_host_free")) {
        return err;
    }
    const int result = halide_device_free(user_context, buf);
    if (buf->host != nullptr) {
        halide_free(user_context, buf->host);
        buf->host = nullptr;
    }
    set_host_dirty(buf, false);
    set_device_dirty(buf, false);
    return result;
}

// ------------------------------------------------------------ native handles

int halide_device_wrap_native(void *user_context, halide_buffer_t *buf, uint64_t handle,
                              const halide_device_interface_t *iface) {
    const char *where = "halide_device_wrap_native";
    if (int err = validate_for_iface(user_context, buf, iface, where)) {
        return err;
    }
    const halide_device_interface_t *previous = buf->device_interface;
    buf->device_interface = iface;
    const int result = call_backend(iface, &halide_device_interface_impl_t::wrap_native, user_context, buf, handle);
    if (result != kSuccess) {
        // Halide leaves the interface set even when the backend fails, which
        // leaves the buffer in the invalid "interface without device" state
        // (-36 on every later call).  Restore the previous interface instead.
        if (buf->device == 0) {
            buf->device_interface = previous;
        }
        return map_backend_failure(user_context, where, result, kDeviceMallocFailed);
    }
    return kSuccess;
}

int halide_device_detach_native(void *user_context, halide_buffer_t *buf) {
    const char *where = "halide_device_detach_native";
    if (int err = validate(user_context, buf, where)) {
        return err;
    }
    const halide_device_interface_t *iface = buf->device_interface;
    if (iface == nullptr) {
        return kSuccess;
    }
    if (int err = call_backend_on(user_context, where, kDeviceDetachNativeFailed, iface,
                                  &halide_device_interface_impl_t::detach_native, buf)) {
        return err;
    }
    if (buf->device != 0) {
        return report_error(user_context, kInternalError, where, "the backend left a non-zero device handle");
    }
    buf->device_interface = nullptr;
    return kSuccess;
}

int halide_default_device_wrap_native(void *user_context, halide_buffer_t *buf, uint64_t handle) {
    const char *where = "halide_default_device_wrap_native";
    if (buf == nullptr) {
        return halide_error_buffer_is_null(user_context, where);
    }
    if (buf->device != 0) {
        return report_error(user_context, kDeviceWrapNativeFailed, where, "the buffer already has a device handle");
    }
    if (buf->device_interface == nullptr || buf->device_interface->impl == nullptr) {
        return halide_error_no_device_interface(user_context);
    }
    if (buf->device_interface->impl->use_module) {
        buf->device_interface->impl->use_module();
    }
    buf->device = handle;
    return kSuccess;
}

int halide_default_device_detach_native(void *user_context, halide_buffer_t *buf) {
    if (int err = validate(user_context, buf, "halide_default_device_detach_native")) {
        return err;
    }
    if (buf->device == 0) {
        return kSuccess;
    }
    if (buf->device_interface->impl->release_module) {
        buf->device_interface->impl->release_module();
    }
    buf->device = 0;
    buf->device_interface = nullptr;
    return kSuccess;
}

// -------------------------------------------------------------- crop / slice

int halide_default_device_crop(void *user_context, const halide_buffer_t *src, halide_buffer_t *dst) {
    (void)src;
    (void)dst;
    return report_error(user_context, kDeviceCropUnsupported, "halide_default_device_crop",
                        "this device interface does not support cropping");
}

int halide_default_device_slice(void *user_context, const halide_buffer_t *src, int slice_dim, int slice_pos,
                                halide_buffer_t *dst) {
    (void)src;
    (void)slice_dim;
    (void)slice_pos;
    (void)dst;
    return report_error(user_context, kDeviceCropUnsupported, "halide_default_device_slice",
                        "this device interface does not support slicing");
}

int halide_default_device_release_crop(void *user_context, halide_buffer_t *buf) {
    if (buf == nullptr || buf->device == 0) {
        return kSuccess;
    }
    return report_error(user_context, kDeviceCropUnsupported, "halide_default_device_release_crop",
                        "this device interface does not support cropping");
}

int halide_device_crop(void *user_context, const halide_buffer_t *src, halide_buffer_t *dst) {
    return crop_or_slice(user_context, src, dst, 0, "halide_device_crop",
                         [&](const halide_device_interface_impl_t *impl) {
                             return impl->device_crop(user_context, src, dst);
                         });
}

int halide_device_slice(void *user_context, const halide_buffer_t *src, int slice_dim, int slice_pos,
                        halide_buffer_t *dst) {
    return crop_or_slice(user_context, src, dst, 1, "halide_device_slice",
                         [&](const halide_device_interface_impl_t *impl) {
                             return impl->device_slice(user_context, src, slice_dim, slice_pos, dst);
                         });
}

int halide_device_release_crop(void *user_context, halide_buffer_t *buf) {
    if (buf == nullptr || buf->device == 0) {
        return kSuccess;
    }
    std::lock_guard<std::mutex> lock(g_device_copy_mutex);
    const halide_device_interface_t *iface = buf->device_interface;
    if (iface == nullptr || iface->impl == nullptr) {
        return halide_error_no_device_interface(user_context);
    }
    const int result = iface->impl->device_release_crop(user_context, buf);
    // Unconditionally, as Halide: the crop no longer refers to device memory.
    buf->device = 0;
    if (iface->impl->release_module) {
        iface->impl->release_module();
    }
    buf->device_interface = nullptr;
    return result;
}

// ------------------------------------------------------ allocation reuse

int halide_reuse_device_allocations(void *user_context, bool flag) {
    g_reuse_device_allocations.store(flag);
    if (flag) {
        return kSuccess;
    }
    // Registered pools are never unlinked and registration only prepends, so
    // the list can be walked outside the lock (a pool may then register
    // others from its callback without deadlocking).
    halide_device_allocation_pool *head;
    {
        std::lock_guard<std::mutex> lock(g_pool_mutex);
        head = g_pools;
    }
    int result = kSuccess;
    for (halide_device_allocation_pool *p = head; p != nullptr; p = p->next) {
        if (p->release_unused != nullptr) {
            const int r = p->release_unused(user_context);
            if (r != kSuccess) {
                result = r;
            }
        }
    }
    return result;
}

bool halide_can_reuse_device_allocations(void *user_context) {
    (void)user_context;
    return g_reuse_device_allocations.load();
}

void halide_register_device_allocation_pool(halide_device_allocation_pool *pool) {
    if (pool == nullptr) {
        return;
    }
    std::lock_guard<std::mutex> lock(g_pool_mutex);
    // Registering the same pool twice would make the list circular in
    // Halide; ignore a repeat.
    for (halide_device_allocation_pool *p = g_pools; p != nullptr; p = p->next) {
        if (p == pool) {
            return;
        }
    }
    pool->next = g_pools;
    g_pools = pool;
}

}  // extern "C"
