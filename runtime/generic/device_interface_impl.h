// halide_vk_runtime -- the backend table behind halide_device_interface_t.
//
// halide_device_interface_impl_t is not in the public headers, but its layout
// is the de-facto ABI between the generic device layer and a backend (16
// function pointers, 128 bytes on LP64).  This header also declares the
// optional generic helpers (halide_default_*) that Halide keeps in its
// internal device_interface.h.
#ifndef HVK_RUNTIME_DEVICE_INTERFACE_IMPL_H
#define HVK_RUNTIME_DEVICE_INTERFACE_IMPL_H

#include <cstddef>
#include <cstdint>

#include "HalideRuntime.h"

extern "C" {

struct halide_device_interface_impl_t {
    void (*use_module)();
    void (*release_module)();
    int (*device_malloc)(void *user_context, struct halide_buffer_t *buf);
    int (*device_free)(void *user_context, struct halide_buffer_t *buf);
    int (*device_sync)(void *user_context, struct halide_buffer_t *buf);
    int (*device_release)(void *user_context);
    int (*copy_to_host)(void *user_context, struct halide_buffer_t *buf);
    int (*copy_to_device)(void *user_context, struct halide_buffer_t *buf);
    int (*device_and_host_malloc)(void *user_context, struct halide_buffer_t *buf);
    int (*device_and_host_free)(void *user_context, struct halide_buffer_t *buf);
    int (*buffer_copy)(void *user_context, struct halide_buffer_t *src,
                       const struct halide_device_interface_t *dst_device_interface,
                       struct halide_buffer_t *dst);
    int (*device_crop)(void *user_context, const struct halide_buffer_t *src, struct halide_buffer_t *dst);
    int (*device_slice)(void *user_context, const struct halide_buffer_t *src, int slice_dim, int slice_pos,
                        struct halide_buffer_t *dst);
    int (*device_release_crop)(void *user_context, struct halide_buffer_t *buf);
    int (*wrap_native)(void *user_context, struct halide_buffer_t *buf, uint64_t handle);
    int (*detach_native)(void *user_context, struct halide_buffer_t *buf);
};

// Generic helpers a backend may plug into its tables (not used by Vulkan's
// own table, exported for compatibility with Halide's other backends).
int halide_default_device_and_host_malloc(void *user_context, struct halide_buffer_t *buf,
                                          const struct halide_device_interface_t *device_interface);
int halide_default_device_and_host_free(void *user_context, struct halide_buffer_t *buf,
                                        const struct halide_device_interface_t *device_interface);
int halide_default_device_wrap_native(void *user_context, struct halide_buffer_t *buf, uint64_t handle);
int halide_default_device_detach_native(void *user_context, struct halide_buffer_t *buf);
int halide_default_buffer_copy(void *user_context, struct halide_buffer_t *src,
                               const struct halide_device_interface_t *dst_device_interface,
                               struct halide_buffer_t *dst);
int halide_default_device_crop(void *user_context, const struct halide_buffer_t *src,
                               struct halide_buffer_t *dst);
int halide_default_device_slice(void *user_context, const struct halide_buffer_t *src, int slice_dim,
                                int slice_pos, struct halide_buffer_t *dst);
int halide_default_device_release_crop(void *user_context, struct halide_buffer_t *buf);

// halide_buffer_copy without taking the copy mutex (caller holds it).
int halide_buffer_copy_already_locked(void *user_context, struct halide_buffer_t *src,
                                      const struct halide_device_interface_t *dst_device_interface,
                                      struct halide_buffer_t *dst);

}  // extern "C"

static_assert(sizeof(void (*)()) == 8, "the table layout below assumes 64-bit pointers");
static_assert(offsetof(halide_device_interface_impl_t, use_module) == 0, "impl layout");
static_assert(offsetof(halide_device_interface_impl_t, release_module) == 8, "impl layout");
static_assert(offsetof(halide_device_interface_impl_t, device_malloc) == 16, "impl layout");
static_assert(offsetof(halide_device_interface_impl_t, device_free) == 24, "impl layout");
static_assert(offsetof(halide_device_interface_impl_t, device_sync) == 32, "impl layout");
static_assert(offsetof(halide_device_interface_impl_t, device_release) == 40, "impl layout");
static_assert(offsetof(halide_device_interface_impl_t, copy_to_host) == 48, "impl layout");
static_assert(offsetof(halide_device_interface_impl_t, copy_to_device) == 56, "impl layout");
static_assert(offsetof(halide_device_interface_impl_t, device_and_host_malloc) == 64, "impl layout");
static_assert(offsetof(halide_device_interface_impl_t, device_and_host_free) == 72, "impl layout");
static_assert(offsetof(halide_device_interface_impl_t, buffer_copy) == 80, "impl layout");
static_assert(offsetof(halide_device_interface_impl_t, device_crop) == 88, "impl layout");
static_assert(offsetof(halide_device_interface_impl_t, device_slice) == 96, "impl layout");
static_assert(offsetof(halide_device_interface_impl_t, device_release_crop) == 104, "impl layout");
static_assert(offsetof(halide_device_interface_impl_t, wrap_native) == 112, "impl layout");
static_assert(offsetof(halide_device_interface_impl_t, detach_native) == 120, "impl layout");
static_assert(sizeof(halide_device_interface_impl_t) == 128, "impl table must be 128 bytes");

static_assert(offsetof(halide_device_interface_t, impl) == 120, "public interface layout");
static_assert(sizeof(halide_device_interface_t) == 128, "public interface must be 128 bytes");

#endif  // HVK_RUNTIME_DEVICE_INTERFACE_IMPL_H
