/* A program built against an *installed* halide-vk-runtime, the way a user
 * builds one: `cc app.c $(pkg-config --cflags --libs halide-vk-runtime)`.
 * The same file is compiled as C99 (-pedantic -Werror) and as C++.
 *
 *   consumer EXPECTED_LIBDIR
 *
 * Checks, in order:
 *  1. ABI compatibility, as docs/api.md tells hosts to do it: the library
 *     in the process exports halide_vk_runtime_version (so it is ours, not
 *     Halide's own runtime), under the ELF version node HALIDE_VK_RUNTIME_0,
 *     and its major version equals the header's.
 *  2. The library actually loaded lives in EXPECTED_LIBDIR (the install
 *     tree), not in the build tree or a system copy.
 *  3. A device round trip through the generic API: malloc, copy to device,
 *     crop, copy back, free, release; no validation message when the tests
 *     run with the validation layer (HVK_TEST_VALIDATION=1).
 * Exit status 0 on success, 1 on any failure. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, dlvsym */
#endif
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"

static int failures = 0;
#define CHECK(c)                                                              \
    do {                                                                      \
        if (!(c)) {                                                           \
            fprintf(stderr, "consumer: CHECK failed: %s (line %d)\n", #c, __LINE__); \
            failures++;                                                       \
        }                                                                     \
    } while (0)

static void on_error(void *uc, const char *msg) {
    (void)uc;
    fprintf(stderr, "consumer: halide_error: %s\n", msg);
}

typedef const char *(*version_fn)(void);

/* Function pointer -> object pointer without the cast ISO C forbids. */
static void *fn_address(version_fn f) {
    void *p;
    memcpy(&p, &f, sizeof(p));
    return p;
}

/* The check docs/api.md recommends to hosts that may run under LD_PRELOAD
 * of some other Halide runtime. Returns 0 when the runtime in the process is
 * a compatible halide-vk-runtime. */
static int check_runtime_abi(void) {
    void *sym = dlsym(RTLD_DEFAULT, "halide_vk_runtime_version");
    if (sym == NULL) {
        fprintf(stderr, "consumer: the Halide runtime in this process is not halide-vk-runtime\n");
        return 1;
    }
    void *versioned = dlvsym(RTLD_DEFAULT, "halide_vk_runtime_version", "HALIDE_VK_RUNTIME_0");
    if (versioned == NULL) {
        fprintf(stderr, "consumer: halide_vk_runtime_version has no HALIDE_VK_RUNTIME_0 version node\n");
        return 1;
    }
    version_fn f;
    memcpy(&f, &versioned, sizeof(f));
    int major = -1, minor = -1, patch = -1;
    if (sscanf(f(), "%d.%d.%d", &major, &minor, &patch) != 3) {
        fprintf(stderr, "consumer: unparsable runtime version \"%s\"\n", f());
        return 1;
    }
    if (major != HALIDE_VK_RUNTIME_VERSION_MAJOR) {
        fprintf(stderr, "consumer: runtime major version %d, headers %d: incompatible\n", major,
                HALIDE_VK_RUNTIME_VERSION_MAJOR);
        return 1;
    }
    if (minor < HALIDE_VK_RUNTIME_VERSION_MINOR) {
        fprintf(stderr, "consumer: runtime %d.%d is older than the headers (%d.%d)\n", major, minor,
                HALIDE_VK_RUNTIME_VERSION_MAJOR, HALIDE_VK_RUNTIME_VERSION_MINOR);
        return 1;
    }
    return 0;
}

static int loaded_from(const char *expected_dir) {
    Dl_info info;
    memset(&info, 0, sizeof(info));
    if (dladdr(fn_address(halide_vk_runtime_version), &info) == 0 || info.dli_fname == NULL) {
        fprintf(stderr, "consumer: dladdr failed\n");
        return 0;
    }
    char lib[PATH_MAX], dir[PATH_MAX];
    if (realpath(info.dli_fname, lib) == NULL || realpath(expected_dir, dir) == NULL) {
        fprintf(stderr, "consumer: realpath failed for %s or %s\n", info.dli_fname, expected_dir);
        return 0;
    }
    const size_t n = strlen(dir);
    if (strncmp(lib, dir, n) != 0 || lib[n] != '/') {
        fprintf(stderr, "consumer: the runtime was loaded from %s, not from %s\n", lib, dir);
        return 0;
    }
    printf("consumer: runtime %s loaded from %s\n", halide_vk_runtime_version(), lib);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: consumer EXPECTED_LIBDIR\n");
        return 2;
    }
    halide_set_error_handler(on_error);

    CHECK(check_runtime_abi() == 0);
    CHECK(loaded_from(argv[1]));

    const halide_device_interface_t *iface = halide_vulkan_device_interface();
    CHECK(iface != NULL && iface == halide_vulkan_device_interface());

    enum { W = 300, H = 7 };
    const size_t n = (size_t)W * H;
    float *host = (float *)malloc(n * sizeof(float));
    float *expect = (float *)malloc(n * sizeof(float));
    CHECK(host != NULL && expect != NULL);
    if (host == NULL || expect == NULL) {
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        expect[i] = host[i] = (float)i * 0.5f - 17.0f;
    }
    halide_dimension_t dims[2];
    memset((void *)dims, 0, sizeof(dims));
    dims[0].min = 0;
    dims[0].extent = W;
    dims[0].stride = 1;
    dims[1].min = 0;
    dims[1].extent = H;
    dims[1].stride = W;
    halide_buffer_t buf;
    memset((void *)&buf, 0, sizeof(buf));
    buf.type.code = halide_type_float;
    buf.type.bits = 32;
    buf.type.lanes = 1;
    buf.dimensions = 2;
    buf.dim = dims;
    buf.host = (uint8_t *)host;

    CHECK(halide_device_malloc(NULL, &buf, iface) == 0);
    buf.flags |= halide_buffer_flag_host_dirty;
    CHECK(halide_copy_to_device(NULL, &buf, iface) == 0);
    CHECK((buf.flags & halide_buffer_flag_host_dirty) == 0);
    memset(host, 0, n * sizeof(float));
    buf.flags |= halide_buffer_flag_device_dirty;
    CHECK(halide_copy_to_host(NULL, &buf) == 0);
    CHECK(memcmp(host, expect, n * sizeof(float)) == 0);

    /* A crop of rows 2..4, columns 10..109: its device data starts at the
     * element (10, 2). */
    halide_dimension_t crop_dims[2];
    memcpy((void *)crop_dims, dims, sizeof(dims));
    crop_dims[0].min = 10;
    crop_dims[0].extent = 100;
    crop_dims[1].min = 2;
    crop_dims[1].extent = 3;
    halide_buffer_t crop = buf;
    crop.dim = crop_dims;
    crop.device = 0;
    crop.device_interface = NULL;
    crop.flags = 0;
    crop.host = (uint8_t *)(host + 2 * W + 10);
    CHECK(halide_device_crop(NULL, &buf, &crop) == 0);
    CHECK(halide_vulkan_get_vk_buffer(NULL, &crop) == halide_vulkan_get_vk_buffer(NULL, &buf));
    CHECK(halide_vulkan_get_vk_crop_offset(NULL, &crop) ==
          halide_vulkan_get_vk_crop_offset(NULL, &buf) + (uint64_t)(2 * W + 10) * sizeof(float));
    memset(host, 0, n * sizeof(float));
    crop.flags |= halide_buffer_flag_device_dirty;
    CHECK(halide_copy_to_host(NULL, &crop) == 0);
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            const int inside = y >= 2 && y < 5 && x >= 10 && x < 110;
            const float want = inside ? expect[y * W + x] : 0.0f;
            if (host[y * W + x] != want) {
                fprintf(stderr, "consumer: crop readback (%d, %d) = %g, want %g\n", x, y, (double)host[y * W + x],
                        (double)want);
                failures++;
                y = H;
                break;
            }
        }
    }
    CHECK(halide_device_release_crop(NULL, &crop) == 0);
    CHECK(crop.device == 0);
    CHECK(halide_device_free(NULL, &buf) == 0);
    CHECK(buf.device == 0 && buf.device_interface == NULL);

    char name[256];
    CHECK(halide_vk_get_selected_device_name(NULL, name, sizeof(name)) == 0);
    printf("consumer: device %s\n", name);
    halide_device_release(NULL, iface);

    const char *validation = getenv("HVK_TEST_VALIDATION");
    if (validation != NULL && strcmp(validation, "1") == 0) {
        CHECK(halide_vk_get_validation_message_count() == 0);
    }
    free(host);
    free(expect);
    if (failures != 0) {
        printf("FAIL consumer (%d)\n", failures);
        return 1;
    }
    printf("PASS consumer\n");
    return 0;
}
