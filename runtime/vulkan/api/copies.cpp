// halide_vulkan_copy_to_device, halide_vulkan_copy_to_host,
// halide_vulkan_buffer_copy and halide_vulkan_device_sync.
//
// Argument checks live here; the copy itself is a plan
// (vulkan/memory/copy_plan.h) executed by one of the paths that
// vulkan/memory/copy_job.h describes.
#include <mutex>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "common/report.h"
#include "vulkan/context/context_scope.h"
#include "vulkan/memory/copy_job.h"
#include "vulkan/memory/region_table.h"
#include "vulkan/submit/submitter.h"

namespace hvk {
namespace {

constexpr int kCopyToHostFailed = -14;
constexpr int kCopyToDeviceFailed = -15;
constexpr int kDeviceSyncFailed = -17;
constexpr int kBadDimensions = -6;
constexpr int kDeviceBufferCopyFailed = -39;
constexpr int kIncompatibleDeviceInterface = -42;

// Checks a device handle without stamping it as used (resolve_device_buffer
// stamps; a mapped copy must not wait for a batch it is not part of).
int check_handle(void *uc, Device *d, const halide_buffer_t *buf, int code, const char *where) {
    uint64_t usable = 0;
    RegionKind kind;
    if (region_extent(uc, d, buf->device, code, where, &usable, &kind) != 0) {
        return code;
    }
    uint64_t need = 0;
    if (!buffer_span_bytes(buf, &need, nullptr)) {
        return report_error(uc, code, where, "the buffer's size in bytes overflows 64 bits");
    }
    if (need > usable) {
        return report_error(uc, code, where,
                            "the buffer spans %llu bytes but its device region has only %llu",
                            static_cast<unsigned long long>(need), static_cast<unsigned long long>(usable));
    }
    return 0;
}

// Context, device lock and submitter for one entry point.
struct Session {
    ContextScope scope;
    Device *d = nullptr;
    std::unique_lock<std::recursive_mutex> lock;
    Submitter *s = nullptr;
    int status = 0;

    Session(void *uc, const char *where) : scope(uc, where) {
        if (!scope.ok()) {
            status = scope.status();
            return;
        }
        d = scope.device();
        lock = std::unique_lock<std::recursive_mutex>(d->mutex);
        status = ensure_submitter(uc, d, &s);
    }
};

int copy_host_device(void *uc, halide_buffer_t *buf, bool to_device) {
    const char *where = to_device ? "halide_vulkan_copy_to_device" : "halide_vulkan_copy_to_host";
    const int code = to_device ? kCopyToDeviceFailed : kCopyToHostFailed;
    if (buf == nullptr) {
        return report_error(uc, code, where, "the buffer is null");
    }
    int rc = check_copy_shape(uc, code, where, "the buffer", buf);
    if (rc != 0) {
        return rc;
    }
    if (buf->host == nullptr) {
        return report_error(uc, code, where, "the buffer has no host memory (host is null)");
    }
    if (buf->device == 0) {
        if (!to_device) {
            return report_error(uc, code, where, "the buffer has no device allocation (device is 0)");
        }
        // As Halide: copy_to_device allocates first when needed.
        rc = halide_vulkan_device_malloc(uc, buf);
        if (rc != 0) {
            return rc;
        }
    }
    Session session(uc, where);
    if (session.status != 0) {
        return session.status;
    }
    CopyPlan plan;
    rc = make_plan(uc, code, where, buf, buf, &plan);
    if (rc != 0) {
        return rc;
    }
    // Validate the handle up front (clear error before any work).
    rc = check_handle(uc, session.d, buf, code, where);
    if (rc != 0) {
        return rc;
    }
    CopyJob job{uc, session.d, session.s, code, where, plan};
    return to_device ? run_copy(job, host_side(buf), device_side(buf)) : run_copy(job, device_side(buf), host_side(buf));
}

// halide_vulkan_buffer_copy's steps, in the order they run.

constexpr const char *kBufferCopy = "halide_vulkan_buffer_copy";

// Which way a buffer copy goes: whether the source is read from its host
// memory (else from its Vulkan allocation), and whether the destination is
// its host memory (else its Vulkan allocation).
struct CopyRoute {
    bool from_host;
    bool to_host;
};

// Both buffers given, the destination's rank supported, the destination
// interface Vulkan's or none (a host destination).
int check_copy_targets(void *uc, const halide_buffer_t *src, const halide_device_interface_t *dst_iface,
                       const halide_buffer_t *dst) {
    const int code = kDeviceBufferCopyFailed;
    if (src == nullptr || dst == nullptr) {
        return report_error(uc, code, kBufferCopy, "%s buffer is null",
                            src == nullptr ? "the source" : "the destination");
    }
    if (dst->dimensions > kMaxCopyDims) {
        return report_error(uc, kBadDimensions, kBufferCopy, "the destination has %d dimensions (at most %d)",
                            int(dst->dimensions), kMaxCopyDims);
    }
    if (dst_iface != nullptr && dst_iface != halide_vulkan_device_interface()) {
        return report_error(uc, code, kBufferCopy, "the destination interface is not Vulkan's");
    }
    return 0;
}

// Picks the route and checks that both ends have the memory it needs.
// kIncompatibleDeviceInterface (not reported) when the source's valid data
// is in another interface's device memory.
int choose_route(void *uc, const halide_buffer_t *src, const halide_device_interface_t *dst_iface,
                 const halide_buffer_t *dst, CopyRoute *route) {
    const int code = kDeviceBufferCopyFailed;
    const halide_device_interface_t *vk = halide_vulkan_device_interface();
    const bool src_is_vk = src->device_interface == vk;
    const bool src_host_dirty = (src->flags & halide_buffer_flag_host_dirty) != 0;
    const bool src_device_dirty = (src->flags & halide_buffer_flag_device_dirty) != 0;
    if ((src_device_dirty || src->host == nullptr) && !src_is_vk) {
        // Not ours to read: the generic layer tries another route.
        return kIncompatibleDeviceInterface;
    }
    const bool from_host = !src_is_vk || src->device == 0 || (src_host_dirty && src->host != nullptr);
    const bool to_host = dst_iface == nullptr;
    if (!from_host && src->device == 0) {
        return report_error(uc, code, kBufferCopy, "the source has no device allocation");
    }
    if (from_host && src->host == nullptr) {
        return report_error(uc, code, kBufferCopy, "the source has neither valid device data nor host memory");
    }
    if (!to_host && dst->device == 0) {
        return report_error(uc, code, kBufferCopy, "the destination has no device allocation");
    }
    if (!to_host && dst->device_interface != vk) {
        return report_error(uc, code, kBufferCopy, "the destination's device allocation is not Vulkan's");
    }
    if (to_host && dst->host == nullptr) {
        return report_error(uc, code, kBufferCopy, "the destination has no host memory");
    }
    *route = CopyRoute{from_host, to_host};
    return 0;
}

// Both shapes valid, then the plan.
int plan_buffer_copy(void *uc, const halide_buffer_t *src, const halide_buffer_t *dst, CopyPlan *plan) {
    const int code = kDeviceBufferCopyFailed;
    int rc = check_copy_shape(uc, code, kBufferCopy, "the source", src);
    if (rc == 0) {
        rc = check_copy_shape(uc, code, kBufferCopy, "the destination", dst);
    }
    if (rc != 0) {
        return rc;
    }
    return make_plan(uc, code, kBufferCopy, src, dst, plan);
}

// Runs the planned copy: host to host needs no context; otherwise the
// device handles are checked under the device lock first.
int run_buffer_copy(void *uc, const halide_buffer_t *src, const halide_buffer_t *dst, const CopyRoute &route,
                    const CopyPlan &plan) {
    const int code = kDeviceBufferCopyFailed;
    const CopySide from = route.from_host ? host_side(src) : device_side(src);
    const CopySide to = route.to_host ? host_side(dst) : device_side(dst);
    if (route.from_host && route.to_host) {
        CopyJob job{uc, nullptr, nullptr, code, kBufferCopy, plan};
        return run_copy(job, from, to);
    }
    Session session(uc, kBufferCopy);
    if (session.status != 0) {
        return session.status;
    }
    int rc = 0;
    if (!route.from_host && (rc = check_handle(uc, session.d, src, code, kBufferCopy)) != 0) {
        return rc;
    }
    if (!route.to_host && (rc = check_handle(uc, session.d, dst, code, kBufferCopy)) != 0) {
        return rc;
    }
    CopyJob job{uc, session.d, session.s, code, kBufferCopy, plan};
    return run_copy(job, from, to);
}

}  // namespace
}  // namespace hvk

extern "C" {

int halide_vulkan_copy_to_device(void *user_context, halide_buffer_t *buf) {
    return hvk::copy_host_device(user_context, buf, true);
}

int halide_vulkan_copy_to_host(void *user_context, halide_buffer_t *buf) {
    return hvk::copy_host_device(user_context, buf, false);
}

int halide_vulkan_buffer_copy(void *user_context, halide_buffer_t *src, const halide_device_interface_t *dst_iface,
                              halide_buffer_t *dst) {
    using namespace hvk;
    int rc = check_copy_targets(user_context, src, dst_iface, dst);
    if (rc != 0) {
        return rc;
    }
    CopyRoute route{};
    rc = choose_route(user_context, src, dst_iface, dst, &route);
    if (rc != 0) {
        return rc;
    }
    CopyPlan plan;
    rc = plan_buffer_copy(user_context, src, dst, &plan);
    if (rc != 0) {
        return rc;
    }
    return run_buffer_copy(user_context, src, dst, route, plan);
}

int halide_vulkan_device_sync(void *user_context, halide_buffer_t *buf) {
    (void)buf;  // every queued batch is waited for, whatever the buffer
    hvk::ContextScope scope(user_context, "halide_vulkan_device_sync");
    if (!scope.ok()) {
        return scope.status();
    }
    hvk::Device *d = scope.device();
    std::lock_guard<std::recursive_mutex> lock(d->mutex);
    if (d->submitter == nullptr) {
        return 0;  // nothing was ever submitted
    }
    return d->submitter->flush(user_context, true) == 0 ? 0 : hvk::kDeviceSyncFailed;
}

}  // extern "C"
