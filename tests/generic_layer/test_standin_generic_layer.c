/* Issue 4 item 6: our device-interface table must work when *Halide's own*
 * generic layer calls through it (a pipeline that also links Halide's host
 * runtime, or a Halide::Runtime::Buffer built against Halide's runtime,
 * reaches our backend only through halide_vulkan_device_interface()->impl).
 *
 * This file is a small stand-in for Halide's src/runtime/device_interface.cpp:
 * standin_* functions implement halide_device_malloc, halide_copy_to_device,
 * halide_copy_to_host, halide_device_crop/slice/release_crop,
 * halide_buffer_copy, halide_device_wrap_native/detach_native,
 * halide_device_sync, halide_device_free and halide_device_release the way
 * Halide does (validation, dirty bits, use_module/release_module pairing,
 * collapsing backend failures into one code), calling only the backend
 * table. The impl struct is declared here from Halide's layout, not from our
 * runtime's private header, so a layout drift on our side is caught.
 *
 * It drives malloc -> copy_to_device -> crop/slice -> copy_to_host ->
 * device-to-device copy -> wrap/detach -> release_crop -> free on our
 * library and checks every readback against a CPU reference. Plain C11,
 * linked against the shared library only. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"

/* Halide's src/runtime/device_interface.h. */
struct standin_impl {
    void (*use_module)(void);
    void (*release_module)(void);
    int (*device_malloc)(void *user_context, struct halide_buffer_t *buf);
    int (*device_free)(void *user_context, struct halide_buffer_t *buf);
    int (*device_sync)(void *user_context, struct halide_buffer_t *buf);
    int (*device_release)(void *user_context);
    int (*copy_to_host)(void *user_context, struct halide_buffer_t *buf);
    int (*copy_to_device)(void *user_context, struct halide_buffer_t *buf);
    int (*device_and_host_malloc)(void *user_context, struct halide_buffer_t *buf);
    int (*device_and_host_free)(void *user_context, struct halide_buffer_t *buf);
    int (*buffer_copy)(void *user_context, struct halide_buffer_t *src,
                       const struct halide_device_interface_t *dst_device_interface, struct halide_buffer_t *dst);
    int (*device_crop)(void *user_context, const struct halide_buffer_t *src, struct halide_buffer_t *dst);
    int (*device_slice)(void *user_context, const struct halide_buffer_t *src, int slice_dim, int slice_pos,
                        struct halide_buffer_t *dst);
    int (*device_release_crop)(void *user_context, struct halide_buffer_t *buf);
    int (*wrap_native)(void *user_context, struct halide_buffer_t *buf, uint64_t handle);
    int (*detach_native)(void *user_context, struct halide_buffer_t *buf);
};
_Static_assert(sizeof(struct standin_impl) == 16 * sizeof(void *), "Halide's impl table has 16 slots");
_Static_assert(offsetof(struct halide_device_interface_t, impl) == 15 * sizeof(void *),
               "impl is the 16th member of halide_device_interface_t");

static const struct standin_impl *impl_of(const struct halide_device_interface_t *iface) {
    return (const struct standin_impl *)iface->impl;
}

/* ------------------------------------------------------------------ checks */

static int failures = 0;
static int errors_reported = 0;
static char last_error[1024];

#define CHECK(c)                                                                          \
    do {                                                                                  \
        if (!(c)) {                                                                       \
            fprintf(stderr, "standin_generic_layer: CHECK failed: %s (line %d)\n", #c, __LINE__); \
            failures++;                                                                   \
        }                                                                                 \
    } while (0)

static void on_error(void *uc, const char *msg) {
    (void)uc;
    errors_reported++;
    snprintf(last_error, sizeof(last_error), "%s", msg);
    fprintf(stderr, "halide_error (expected only in the bad-input section): %s\n", msg);
}

/* use_module/release_module must pair up; counted through wrappers. */
static int module_uses = 0;

static void standin_use(const struct halide_device_interface_t *iface) {
    impl_of(iface)->use_module();
    module_uses++;
}
static void standin_release(const struct halide_device_interface_t *iface) {
    impl_of(iface)->release_module();
    module_uses--;
}

/* ------------------------------------------------- the stand-in generic layer */

static int host_dirty(const halide_buffer_t *b) {
    return (b->flags & halide_buffer_flag_host_dirty) != 0;
}
static int device_dirty(const halide_buffer_t *b) {
    return (b->flags & halide_buffer_flag_device_dirty) != 0;
}
static void set_host_dirty(halide_buffer_t *b, int v) {
    b->flags = v ? (b->flags | halide_buffer_flag_host_dirty) : (b->flags & ~(uint64_t)halide_buffer_flag_host_dirty);
}
static void set_device_dirty(halide_buffer_t *b, int v) {
    b->flags =
        v ? (b->flags | halide_buffer_flag_device_dirty) : (b->flags & ~(uint64_t)halide_buffer_flag_device_dirty);
}

/* debug_log_and_validate_buf */
static int standin_validate(const halide_buffer_t *buf) {
    if (buf == NULL) {
        return halide_error_code_buffer_is_null;
    }
    if (buf->device && buf->device_interface == NULL) {
        return halide_error_code_no_device_interface;
    }
    if (buf->device_interface && !buf->device) {
        return halide_error_code_device_interface_no_device;
    }
    if (host_dirty(buf) && device_dirty(buf)) {
        return halide_error_code_host_and_device_dirty;
    }
    return 0;
}

static int standin_device_malloc(void *uc, halide_buffer_t *buf, const halide_device_interface_t *iface) {
    int r = standin_validate(buf);
    if (r) {
        return r;
    }
    if (buf->device_interface && buf->device_interface != iface) {
        return halide_error_code_incompatible_device_interface;
    }
    standin_use(iface);
    r = impl_of(iface)->device_malloc(uc, buf);
    standin_release(iface);
    return r ? halide_error_code_device_malloc_failed : 0;
}

static int standin_device_free(void *uc, halide_buffer_t *buf) {
    int r = standin_validate(buf);
    if (r) {
        return r;
    }
    const halide_device_interface_t *iface = buf->device_interface;
    if (iface != NULL) {
        standin_use(iface);
        r = impl_of(iface)->device_free(uc, buf);
        standin_release(iface);
        /* Halide: halide_abort_if_false(user_context, buf->device == 0),
         * before looking at the result. Our backend leaves buf->device
         * unchanged when the free fails (bad handle, wrapped root with
         * crops), so under Halide's layer a failed free aborts; only a
         * successful free must clear it. */
        if (r == 0 && buf->device != 0) {
            fprintf(stderr, "standin_device_free: the backend succeeded but left buf->device set\n");
            failures++;
        }
        return r ? halide_error_code_device_free_failed : 0;
    }
    set_device_dirty(buf, 0);
    return 0;
}

static int standin_copy_to_host(void *uc, halide_buffer_t *buf) {
    int r = standin_validate(buf);
    if (r) {
        return r;
    }
    if (!device_dirty(buf)) {
        return 0;
    }
    const halide_device_interface_t *iface = buf->device_interface;
    if (iface == NULL) {
        return halide_error_code_no_device_interface;
    }
    r = impl_of(iface)->copy_to_host(uc, buf);
    if (r) {
        return halide_error_code_copy_to_host_failed; /* whatever the backend said */
    }
    set_device_dirty(buf, 0);
    return 0;
}

static int standin_copy_to_device(void *uc, halide_buffer_t *buf, const halide_device_interface_t *iface) {
    int r = standin_validate(buf);
    if (r) {
        return r;
    }
    if (iface == NULL) {
        iface = buf->device_interface;
    }
    if (iface == NULL) {
        return halide_error_code_no_device_interface;
    }
    if (buf->device && buf->device_interface != iface) {
        return halide_error_code_incompatible_device_interface;
    }
    if (buf->device == 0) {
        r = standin_device_malloc(uc, buf, iface);
        if (r) {
            return r;
        }
    }
    if (host_dirty(buf)) {
        if (device_dirty(buf)) {
            return halide_error_code_copy_to_device_failed;
        }
        r = impl_of(iface)->copy_to_device(uc, buf);
        if (r) {
            return halide_error_code_copy_to_device_failed;
        }
        set_host_dirty(buf, 0);
    }
    return 0;
}

static int standin_device_sync(void *uc, halide_buffer_t *buf) {
    int r = standin_validate(buf);
    if (r) {
        return r;
    }
    const halide_device_interface_t *iface = buf->device_interface;
    if (iface == NULL) {
        return halide_error_code_no_device_interface;
    }
    standin_use(iface);
    r = impl_of(iface)->device_sync(uc, buf);
    standin_release(iface);
    return r ? halide_error_code_device_sync_failed : 0;
}

static int standin_device_crop(void *uc, const halide_buffer_t *src, halide_buffer_t *dst) {
    if (!src->device) {
        return 0;
    }
    if (dst->device || src->dimensions != dst->dimensions) {
        return halide_error_code_device_crop_failed;
    }
    const halide_device_interface_t *iface = src->device_interface;
    standin_use(iface); /* held by the crop until release_crop */
    int r = impl_of(iface)->device_crop(uc, src, dst);
    if (r) {
        standin_release(iface);
    }
    return r;
}

static int standin_device_slice(void *uc, const halide_buffer_t *src, int slice_dim, int slice_pos,
                                halide_buffer_t *dst) {
    if (!src->device) {
        return 0;
    }
    if (dst->device || src->dimensions != dst->dimensions + 1) {
        return halide_error_code_device_crop_failed;
    }
    const halide_device_interface_t *iface = src->device_interface;
    standin_use(iface);
    int r = impl_of(iface)->device_slice(uc, src, slice_dim, slice_pos, dst);
    if (r) {
        standin_release(iface);
    }
    return r;
}

static int standin_device_release_crop(void *uc, halide_buffer_t *buf) {
    if (buf->device == 0) {
        return 0;
    }
    const halide_device_interface_t *iface = buf->device_interface;
    int r = impl_of(iface)->device_release_crop(uc, buf);
    buf->device = 0;
    standin_release(iface);
    buf->device_interface = NULL;
    return r;
}

/* The device -> device branch of halide_buffer_copy (both buffers on the
 * same interface, source device data valid). */
static int standin_buffer_copy_device_to_device(void *uc, halide_buffer_t *src,
                                                const halide_device_interface_t *dst_iface, halide_buffer_t *dst) {
    int r = standin_validate(src);
    if (!r) {
        r = standin_validate(dst);
    }
    if (r) {
        return r;
    }
    if (dst->device == 0) {
        r = standin_device_malloc(uc, dst, dst_iface);
        if (r) {
            return r;
        }
    }
    if (!(src->device && (src->host == NULL || !host_dirty(src)))) {
        return halide_error_code_incompatible_device_interface;
    }
    standin_use(dst_iface);
    r = impl_of(dst_iface)->buffer_copy(uc, src, dst_iface, dst);
    standin_release(dst_iface);
    if (r == 0 && dst != src) {
        set_host_dirty(dst, 0);
        set_device_dirty(dst, 1);
    }
    return r;
}

static int standin_wrap_native(void *uc, halide_buffer_t *buf, uint64_t handle, const halide_device_interface_t *iface) {
    int r = standin_validate(buf);
    if (r) {
        return r;
    }
    if (buf->device_interface && buf->device_interface != iface) {
        return halide_error_code_incompatible_device_interface;
    }
    standin_use(iface);
    buf->device_interface = iface;
    r = impl_of(iface)->wrap_native(uc, buf, handle);
    standin_release(iface);
    return r ? halide_error_code_device_malloc_failed : 0;
}

static int standin_detach_native(void *uc, halide_buffer_t *buf) {
    int r = standin_validate(buf);
    if (r) {
        return r;
    }
    const halide_device_interface_t *iface = buf->device_interface;
    if (iface == NULL) {
        return 0;
    }
    standin_use(iface);
    r = impl_of(iface)->detach_native(uc, buf);
    standin_release(iface);
    if (buf->device != 0) {
        fprintf(stderr, "standin_detach_native: the backend left buf->device set\n");
        failures++;
    }
    return r ? halide_error_code_device_detach_native_failed : 0;
}

static void standin_device_release(void *uc, const halide_device_interface_t *iface) {
    impl_of(iface)->device_release(uc);
}

/* --------------------------------------------------------------- the test */

enum { W = 96, H = 40 };

static uint32_t reference(int x, int y, uint32_t generation) {
    return (uint32_t)(x * 2654435761u) ^ (uint32_t)(y * 40503u) ^ (generation * 0x9e3779b9u);
}

static void init_buffer(halide_buffer_t *b, halide_dimension_t *dims, uint32_t *host) {
    memset(b, 0, sizeof(*b));
    memset(dims, 0, 2 * sizeof(*dims));
    dims[0].min = 0;
    dims[0].extent = W;
    dims[0].stride = 1;
    dims[1].min = 0;
    dims[1].extent = H;
    dims[1].stride = W;
    b->type.code = halide_type_uint;
    b->type.bits = 32;
    b->type.lanes = 1;
    b->dimensions = 2;
    b->dim = dims;
    b->host = (uint8_t *)host;
}

static void fill(uint32_t *host, uint32_t generation) {
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            host[y * W + x] = reference(x, y, generation);
        }
    }
}

/* Every element of a W x H host image: reference inside [x0, x1) x [y0, y1),
 * `outside` elsewhere. */
static int check_image(const char *what, const uint32_t *host, int x0, int x1, int y0, int y1, uint32_t generation,
                       uint32_t outside) {
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            const int inside = x >= x0 && x < x1 && y >= y0 && y < y1;
            const uint32_t want = inside ? reference(x, y, generation) : outside;
            if (host[y * W + x] != want) {
                fprintf(stderr, "%s: element (%d, %d) = 0x%08x, want 0x%08x\n", what, x, y, host[y * W + x], want);
                failures++;
                return 0;
            }
        }
    }
    return 1;
}

int main(void) {
    halide_set_error_handler(on_error);
    const halide_device_interface_t *iface = halide_vulkan_device_interface();
    CHECK(iface != NULL && iface->impl != NULL);
    const struct standin_impl *impl = impl_of(iface);
    /* Every slot is populated: Halide calls them unchecked. */
    {
        void (*const *slots)(void) = (void (*const *)(void))(const void *)impl;
        for (int i = 0; i < 16; i++) {
            if (slots[i] == NULL) {
                fprintf(stderr, "impl slot %d is null\n", i);
                failures++;
            }
        }
    }
    CHECK(impl->device_malloc == halide_vulkan_device_malloc);
    CHECK(impl->copy_to_host == halide_vulkan_copy_to_host);
    CHECK(impl->device_crop == halide_vulkan_device_crop);
    CHECK(impl->detach_native == halide_vulkan_detach_vk_buffer);

    const size_t bytes = (size_t)W * H * sizeof(uint32_t);
    uint32_t *host = (uint32_t *)malloc(bytes);
    uint32_t *scratch = (uint32_t *)malloc(bytes);
    uint32_t *other = (uint32_t *)malloc(bytes);
    if (host == NULL || scratch == NULL || other == NULL) {
        return 1;
    }

    /* malloc -> copy_to_device -> copy_to_host */
    halide_dimension_t dims[2];
    halide_buffer_t buf;
    init_buffer(&buf, dims, host);
    fill(host, 1);
    set_host_dirty(&buf, 1);
    CHECK(standin_device_malloc(NULL, &buf, iface) == 0);
    CHECK(buf.device != 0 && buf.device_interface == iface);
    CHECK(standin_copy_to_device(NULL, &buf, iface) == 0);
    CHECK(!host_dirty(&buf));
    memset(host, 0xAB, bytes);
    set_device_dirty(&buf, 1);
    CHECK(standin_copy_to_host(NULL, &buf) == 0);
    CHECK(!device_dirty(&buf));
    check_image("round trip", host, 0, W, 0, H, 1, 0);

    /* crop [20, 70) x [5, 30): its host pointer aims into a separate image,
     * so the readback must fill exactly the crop's window of it. */
    halide_dimension_t crop_dims[2];
    memcpy(crop_dims, dims, sizeof(dims));
    crop_dims[0].min = 20;
    crop_dims[0].extent = 50;
    crop_dims[1].min = 5;
    crop_dims[1].extent = 25;
    halide_buffer_t crop = buf;
    crop.dim = crop_dims;
    crop.device = 0;
    crop.device_interface = NULL;
    crop.flags = 0;
    crop.host = (uint8_t *)(scratch + 5 * W + 20);
    CHECK(standin_device_crop(NULL, &buf, &crop) == 0);
    CHECK(crop.device != 0 && crop.device != buf.device && crop.device_interface == iface);
    CHECK(halide_vulkan_get_vk_buffer(NULL, &crop) == halide_vulkan_get_vk_buffer(NULL, &buf));
    CHECK(halide_vulkan_get_vk_crop_offset(NULL, &crop) ==
          halide_vulkan_get_vk_crop_offset(NULL, &buf) + (uint64_t)(5 * W + 20) * 4);
    memset(scratch, 0xEE, bytes);
    set_device_dirty(&crop, 1);
    CHECK(standin_copy_to_host(NULL, &crop) == 0);
    check_image("crop readback", scratch, 20, 70, 5, 30, 1, 0xEEEEEEEEu);

    /* The crop aliases the parent: a new upload through the parent shows. */
    fill(host, 2);
    set_host_dirty(&buf, 1);
    CHECK(standin_copy_to_device(NULL, &buf, NULL) == 0);
    memset(scratch, 0xEE, bytes);
    set_device_dirty(&crop, 1);
    CHECK(standin_copy_to_host(NULL, &crop) == 0);
    check_image("crop after re-upload", scratch, 20, 70, 5, 30, 2, 0xEEEEEEEEu);

    /* An upload through the crop changes only its window of the parent. */
    for (int y = 5; y < 30; y++) {
        for (int x = 20; x < 70; x++) {
            scratch[y * W + x] = reference(x, y, 3);
        }
    }
    set_host_dirty(&crop, 1);
    set_device_dirty(&crop, 0);
    CHECK(standin_copy_to_device(NULL, &crop, iface) == 0);
    memset(host, 0, bytes);
    set_device_dirty(&buf, 1);
    CHECK(standin_copy_to_host(NULL, &buf) == 0);
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            const int inside = x >= 20 && x < 70 && y >= 5 && y < 30;
            if (host[y * W + x] != reference(x, y, inside ? 3 : 2)) {
                fprintf(stderr, "upload through crop: element (%d, %d) wrong\n", x, y);
                failures++;
                y = H;
                break;
            }
        }
    }
    fill(host, 2);
    set_host_dirty(&buf, 1);
    CHECK(standin_copy_to_device(NULL, &buf, iface) == 0);

    /* slice: row 17 of the parent, a 1-D buffer. */
    halide_dimension_t slice_dim = dims[0];
    halide_buffer_t slice;
    memset(&slice, 0, sizeof(slice));
    slice.type = buf.type;
    slice.dimensions = 1;
    slice.dim = &slice_dim;
    uint32_t row[W];
    memset(row, 0, sizeof(row));
    slice.host = (uint8_t *)row;
    CHECK(standin_device_slice(NULL, &buf, 1, 17, &slice) == 0);
    set_device_dirty(&slice, 1);
    CHECK(standin_copy_to_host(NULL, &slice) == 0);
    for (int x = 0; x < W; x++) {
        if (row[x] != reference(x, 17, 2)) {
            fprintf(stderr, "slice readback: element %d wrong\n", x);
            failures++;
            break;
        }
    }

    /* device -> device: the crop into a fresh buffer of the parent's shape
     * (the copy covers the overlap, i.e. the crop's window). */
    halide_dimension_t dst_dims[2];
    halide_buffer_t dst;
    init_buffer(&dst, dst_dims, other);
    memset(other, 0x5A, bytes);
    set_host_dirty(&dst, 1);
    CHECK(standin_copy_to_device(NULL, &dst, iface) == 0); /* defined contents outside the window */
    crop.flags = 0;
    crop.host = NULL; /* device data only: forces the device -> device path */
    CHECK(standin_buffer_copy_device_to_device(NULL, &crop, iface, &dst) == 0);
    CHECK(device_dirty(&dst));
    memset(other, 0, bytes);
    CHECK(standin_copy_to_host(NULL, &dst) == 0);
    check_image("device-to-device copy", other, 20, 70, 5, 30, 2, 0x5A5A5A5Au);

    /* wrap_native/detach_native on the parent's own VkBuffer (offset 0),
     * then read it back through the wrapper. */
    halide_dimension_t wrap_dims[2];
    halide_buffer_t wrapped;
    init_buffer(&wrapped, wrap_dims, scratch);
    const uint64_t vk_buffer = (uint64_t)halide_vulkan_get_vk_buffer(NULL, &buf);
    CHECK(vk_buffer != 0);
    CHECK(halide_vulkan_get_vk_crop_offset(NULL, &buf) == 0);
    CHECK(standin_wrap_native(NULL, &wrapped, vk_buffer, iface) == 0);
    CHECK(wrapped.device != 0 && wrapped.device_interface == iface);
    CHECK(standin_device_sync(NULL, &wrapped) == 0);
    memset(scratch, 0, bytes);
    set_device_dirty(&wrapped, 1);
    CHECK(standin_copy_to_host(NULL, &wrapped) == 0);
    check_image("wrapped readback", scratch, 0, W, 0, H, 2, 0);
    CHECK(standin_detach_native(NULL, &wrapped) == 0);
    CHECK(wrapped.device == 0);
    wrapped.device_interface = NULL; /* Halide's generic layer clears it */

    /* Bad input through the stand-in: Halide's layer collapses whatever the
     * backend returns into its fixed code, after the backend's message. */
    {
        halide_dimension_t bad_dims[2];
        halide_buffer_t bad;
        init_buffer(&bad, bad_dims, scratch);
        bad.device = 0x1234; /* not a handle this runtime made */
        bad.device_interface = iface;
        set_device_dirty(&bad, 1);
        const int before = errors_reported;
        CHECK(standin_copy_to_host(NULL, &bad) == halide_error_code_copy_to_host_failed);
        CHECK(errors_reported > before);
        CHECK(strstr(last_error, "0x1234") != NULL);
        /* The backend itself returns its own code for the same failure. */
        CHECK(impl->copy_to_host(NULL, &bad) == halide_error_code_copy_to_host_failed);
        CHECK(impl->device_free(NULL, &bad) == halide_error_code_device_free_failed);
        CHECK(standin_device_free(NULL, &bad) == halide_error_code_device_free_failed);
        CHECK(bad.device == 0x1234); /* failed free: buffer unchanged */
        bad.device = 0;
        bad.device_interface = NULL;
        bad.flags = 0;
        errors_reported = 0;
    }

    /* release_crop -> free; the parent's handle dies at free, its memory
     * when the last view goes. */
    CHECK(standin_device_release_crop(NULL, &crop) == 0);
    CHECK(crop.device == 0 && crop.device_interface == NULL);
    CHECK(standin_device_release_crop(NULL, &slice) == 0);
    CHECK(standin_device_free(NULL, &dst) == 0);
    CHECK(dst.device == 0 && dst.device_interface == NULL);
    CHECK(standin_device_free(NULL, &buf) == 0);
    CHECK(buf.device == 0 && buf.device_interface == NULL);
    CHECK(standin_device_free(NULL, &buf) == 0); /* second free: no-op */

    /* device_and_host_malloc/free through the table. */
    {
        halide_dimension_t dh_dims[2];
        halide_buffer_t dh;
        init_buffer(&dh, dh_dims, NULL);
        CHECK(impl->device_and_host_malloc(NULL, &dh) == 0);
        CHECK(dh.host != NULL && dh.device != 0 && dh.device_interface == iface);
        if (dh.host != NULL) {
            memcpy(dh.host, host, bytes);
            set_host_dirty(&dh, 1);
            CHECK(standin_copy_to_device(NULL, &dh, iface) == 0);
            memset(dh.host, 0, bytes);
            set_device_dirty(&dh, 1);
            CHECK(standin_copy_to_host(NULL, &dh) == 0);
            check_image("device_and_host_malloc", (const uint32_t *)dh.host, 0, W, 0, H, 2, 0);
        }
        CHECK(impl->device_and_host_free(NULL, &dh) == 0);
        CHECK(dh.host == NULL && dh.device == 0);
    }

    halide_vk_memory_stats stats;
    CHECK(halide_vk_get_memory_stats(NULL, &stats) == 0);
    CHECK(stats.allocation_count == 0);
    CHECK(module_uses == 0);
    CHECK(errors_reported == 0);

    standin_device_release(NULL, iface);
    CHECK(!halide_vulkan_is_initialized());

    const char *validation = getenv("HVK_TEST_VALIDATION");
    if (validation != NULL && strcmp(validation, "1") == 0) {
        CHECK(halide_vk_get_validation_message_count() == 0);
    }
    free(host);
    free(scratch);
    free(other);
    if (failures != 0) {
        printf("FAIL standin_generic_layer (%d)\n", failures);
        return 1;
    }
    printf("PASS standin_generic_layer\n");
    return 0;
}
