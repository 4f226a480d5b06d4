/*
 * A C99 host that passes the runtime bad values, as a careless C (or ctypes)
 * caller would: garbage halide_buffer_t::device handles, a zero VkBuffer, a
 * buffer wrapped twice, detaching a buffer the runtime owns, null
 * arguments. Every call must come back with an error code (and a message
 * through halide_error), never crash, and the runtime must still work
 * afterwards. Issue 5, "Bad input".
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"

static int g_failures = 0;
static int g_messages = 0;

static void on_error(void *user_context, const char *msg) {
    (void)user_context;
    (void)msg;
    g_messages++;
}

#define EXPECT_ERROR(call)                                                          \
    do {                                                                            \
        int before_ = g_messages;                                                   \
        int rc_ = (call);                                                           \
        if (rc_ == 0) {                                                             \
            fprintf(stderr, "FAIL line %d: %s returned 0\n", __LINE__, #call);      \
            g_failures++;                                                           \
        } else if (g_messages == before_) {                                         \
            fprintf(stderr, "FAIL line %d: %s returned %d without a message\n",     \
                    __LINE__, #call, rc_);                                          \
            g_failures++;                                                           \
        } else {                                                                    \
            printf("ok: %s -> %d\n", #call, rc_);                                   \
        }                                                                           \
    } while (0)

#define EXPECT_OK(call)                                                             \
    do {                                                                            \
        int rc_ = (call);                                                           \
        if (rc_ != 0) {                                                             \
            fprintf(stderr, "FAIL line %d: %s returned %d\n", __LINE__, #call, rc_); \
            g_failures++;                                                           \
        }                                                                           \
    } while (0)

static void make_buffer(halide_buffer_t *b, halide_dimension_t *d, float *host, int n) {
    memset(b, 0, sizeof(*b));
    memset(d, 0, sizeof(*d));
    d->extent = n;
    d->stride = 1;
    b->host = (uint8_t *)host;
    b->type.code = halide_type_float;
    b->type.bits = 32;
    b->type.lanes = 1;
    b->dimensions = 1;
    b->dim = d;
}

int main(void) {
    const halide_device_interface_t *vk = halide_vulkan_device_interface();
    float host[64], host2[64];
    halide_dimension_t d, d2, dc;
    halide_buffer_t b, b2, crop;
    static const uint64_t garbage[] = {0xdeadbeefull, 1ull, 0xffffffffffffffffull, 0x8000000000000000ull};
    unsigned g;
    int i;

    halide_set_error_handler(on_error);
    for (i = 0; i < 64; i++) {
        host[i] = (float)i;
    }

    for (g = 0; g < sizeof(garbage) / sizeof(garbage[0]); g++) {
        make_buffer(&b, &d, host, 64);
        b.device = garbage[g];
        b.device_interface = vk;
        b.flags = halide_buffer_flag_device_dirty;
        EXPECT_ERROR(halide_copy_to_host(NULL, &b));
        b.flags = halide_buffer_flag_host_dirty;
        EXPECT_ERROR(halide_copy_to_device(NULL, &b, vk));
        make_buffer(&crop, &dc, host + 8, 8);
        dc.min = 8;
        EXPECT_ERROR(halide_device_crop(NULL, &b, &crop));
        EXPECT_ERROR(halide_vulkan_detach_vk_buffer(NULL, &b));
        EXPECT_ERROR(halide_device_free(NULL, &b));
        if (halide_vulkan_get_vk_buffer(NULL, &b) != 0 || halide_vulkan_get_vk_crop_offset(NULL, &b) != 0) {
            fprintf(stderr, "FAIL: get_vk_buffer/get_vk_crop_offset of garbage handle 0x%llx is not 0\n",
                    (unsigned long long)garbage[g]);
            g_failures++;
        }
    }

    /* Wrap contract violations. */
    make_buffer(&b, &d, host, 64);
    EXPECT_ERROR(halide_vulkan_wrap_vk_buffer(NULL, &b, 0, 0));
    EXPECT_ERROR(halide_vulkan_wrap_vk_buffer(NULL, NULL, 1234, 0));
    EXPECT_OK(halide_device_malloc(NULL, &b, vk));
    EXPECT_ERROR(halide_vulkan_wrap_vk_buffer(NULL, &b, (uint64_t)halide_vulkan_get_vk_buffer(NULL, &b), 0));
    EXPECT_ERROR(halide_vulkan_detach_vk_buffer(NULL, &b)); /* runtime-owned: not wrapped */

    /* A wrapped view of a real VkBuffer still works after all that. */
    make_buffer(&b2, &d2, host2, 16);
    EXPECT_OK(halide_vulkan_wrap_vk_buffer(NULL, &b2, (uint64_t)halide_vulkan_get_vk_buffer(NULL, &b),
                                           halide_vulkan_get_vk_crop_offset(NULL, &b) + 16 * sizeof(float)));
    b.flags = halide_buffer_flag_host_dirty;
    EXPECT_OK(halide_copy_to_device(NULL, &b, vk));
    b2.flags = halide_buffer_flag_device_dirty;
    EXPECT_OK(halide_copy_to_host(NULL, &b2));
    for (i = 0; i < 16; i++) {
        if (host2[i] != (float)(16 + i)) {
            fprintf(stderr, "FAIL: wrapped view element %d is %g\n", i, host2[i]);
            g_failures++;
            break;
        }
    }
    EXPECT_OK(halide_vulkan_detach_vk_buffer(NULL, &b2));
    EXPECT_OK(halide_device_free(NULL, &b));
    halide_device_release(NULL, vk);
    if (halide_vk_get_validation_message_count() != 0) {
        fprintf(stderr, "FAIL: %llu validation messages\n", (unsigned long long)halide_vk_get_validation_message_count());
        g_failures++;
    }
    if (g_failures != 0) {
        fprintf(stderr, "%d failure(s)\n", g_failures);
        return 1;
    }
    printf("c_bad_input: OK\n");
    return 0;
}
