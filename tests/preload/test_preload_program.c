/* Linked against the stand-in runtime, run with LD_PRELOAD of ours: every
 * call below must land in libhalide_vk_runtime.so. Covers both routes that
 * generated code uses: calls by name and calls through the device-interface
 * table (whose entries must point into our library too). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"

static int failures = 0;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "CHECK failed: %s (line %d)\n", #c, __LINE__); failures++; } } while (0)

static void on_error(void *uc, const char *msg) {
    (void)uc;
    fprintf(stderr, "halide_error: %s\n", msg);
}

int main(void) {
    halide_set_error_handler(on_error);
    const halide_device_interface_t *iface = halide_vulkan_device_interface();
    CHECK(iface != NULL);
    CHECK(iface == halide_vulkan_device_interface());

    enum { N = 1000 };
    unsigned char host[N], back[N];
    halide_dimension_t dim = {0, N, 1, 0};
    halide_buffer_t buf;
    memset(&buf, 0, sizeof(buf));
    buf.type.code = halide_type_uint;
    buf.type.bits = 8;
    buf.type.lanes = 1;
    buf.dimensions = 1;
    buf.dim = &dim;
    buf.host = host;
    for (int i = 0; i < N; i++) host[i] = (unsigned char)(i * 7 + 3);

    CHECK(halide_device_malloc(NULL, &buf, iface) == 0);       /* by name */
    buf.flags |= halide_buffer_flag_host_dirty;
    CHECK(iface->copy_to_device(NULL, &buf, iface) == 0);       /* through the table */
    memset(host, 0, N);
    buf.flags |= halide_buffer_flag_device_dirty;
    CHECK(halide_copy_to_host(NULL, &buf) == 0);
    for (int i = 0; i < N; i++) back[i] = (unsigned char)(i * 7 + 3);
    CHECK(memcmp(host, back, N) == 0);

    halide_buffer_t crop = buf;
    halide_dimension_t crop_dim = {10, 20, 1, 0};
    crop.dim = &crop_dim;
    crop.host = host + 10;
    crop.device = 0;
    crop.device_interface = NULL;
    CHECK(iface->device_crop(NULL, &buf, &crop) == 0);
    CHECK(halide_vulkan_get_vk_crop_offset(NULL, &crop) == 10);
    CHECK(iface->device_release_crop(NULL, &crop) == 0);
    CHECK(iface->device_free(NULL, &buf) == 0);
    halide_device_release(NULL, iface);

    if (failures == 0) {
        printf("PASS preload_program\n");
        return 0;
    }
    printf("FAIL preload_program (%d)\n", failures);
    return 1;
}
