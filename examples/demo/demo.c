/*
 * demo.c -- halide-vk-runtime in one screen: a two-stage image pipeline
 * (3x3 box blur, then brighten) built from the project's own kernels
 * (shaders/blur3x3_u8.comp, shaders/brighten2d_u8.comp), called the way
 * Halide-generated code calls the runtime.
 *
 * What it shows:
 *   - it runs on the default Vulkan device: the GPU if there is one, lavapipe
 *     otherwise (the runtime's own choice; HL_VK_DEVICE_TYPE changes it);
 *   - the blurred image lives in a VkBuffer the application created itself on
 *     the runtime's device, wrapped for Halide at a non-zero offset
 *     (halide_vulkan_wrap_vk_buffer);
 *   - the brighten stage reads a crop of that wrapped buffer
 *     (halide_device_crop): no copy, just an offset the runtime passes to the
 *     kernel;
 *   - batching: N pipeline calls are recorded and submitted without a single
 *     wait, then one halide_device_sync; compared with waiting after each;
 *   - every result is checked against a CPU reference (checksum printed,
 *     exit status 1 on a mismatch).
 *
 * usage: demo [--width W] [--height H] [--iterations N] [--runs R]
 *             [--halide-fixtures DIR]
 *   defaults 1920 x 1080, N = 10, R = 5 (N = 4, R = 3 on a CPU device such
 *   as lavapipe); timings are the median of R runs.
 *   --halide-fixtures DIR also runs the real Halide AOT fixtures
 *   (DIR/run.sh) against this library when they exist.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <vulkan/vulkan.h>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"

#include "demo_blobs.h" /* generated: hvk_c_blob_demo */

#ifndef HVK_DEMO_INCLUDE_DIR
#define HVK_DEMO_INCLUDE_DIR ""
#endif

/* ------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------ */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint32_t fnv1a(const uint8_t *p, size_t n) {
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

static int g_errors = 0;
static void on_error(void *user_context, const char *msg) {
    (void)user_context;
    g_errors++;
    fprintf(stderr, "demo: halide_error: %s\n", msg);
}

#define CHECK(call)                                                      \
    do {                                                                 \
        int rc_ = (call);                                                \
        if (rc_ != 0) {                                                  \
            fprintf(stderr, "demo: %s failed: %d (line %d)\n", #call, rc_, __LINE__); \
            goto fail;                                                   \
        }                                                                \
    } while (0)

/* ------------------------------------------------------------------------
 * Images as halide_buffer_t
 * ------------------------------------------------------------------------ */

typedef struct Image {
    halide_buffer_t buf;
    halide_dimension_t dim[2];
} Image;

static void image_init(Image *im, uint8_t *host, int w, int h) {
    memset(im, 0, sizeof(*im));
    im->dim[0].min = 0;
    im->dim[0].extent = w;
    im->dim[0].stride = 1;
    im->dim[1].min = 0;
    im->dim[1].extent = h;
    im->dim[1].stride = w;
    im->buf.host = host;
    im->buf.type.code = halide_type_uint;
    im->buf.type.bits = 8;
    im->buf.type.lanes = 1;
    im->buf.dimensions = 2;
    im->buf.dim = im->dim;
}

/* A crop [x0, x0 + w) x [y0, y0 + h) of parent, in the parent's coordinates. */
static void image_crop(Image *im, const Image *parent, int x0, int y0, int w, int h) {
    *im = *parent;
    im->buf.device = 0;
    im->buf.device_interface = NULL;
    im->buf.dim = im->dim;
    im->dim[0].min = x0;
    im->dim[0].extent = w;
    im->dim[1].min = y0;
    im->dim[1].extent = h;
    im->buf.host = parent->buf.host + (size_t)y0 * (size_t)parent->dim[1].stride + (size_t)x0;
}

/* ------------------------------------------------------------------------
 * Kernel calls, as generated code makes them
 * ------------------------------------------------------------------------ */

static int run_2d(void *state, const char *entry, Image *out, Image *in, const int32_t *scalars, int n_scalars) {
    size_t sizes[12];
    void *args[12];
    int8_t is_buffer[12];
    int k, n = 0;
    sizes[n] = sizeof(uint64_t), args[n] = &out->buf, is_buffer[n++] = 1;
    sizes[n] = sizeof(uint64_t), args[n] = &in->buf, is_buffer[n++] = 1;
    for (k = 0; k < n_scalars; k++) {
        sizes[n] = sizeof(int32_t), args[n] = (void *)&scalars[k], is_buffer[n++] = 0;
    }
    sizes[n] = 0, args[n] = NULL, is_buffer[n] = 0;
    return halide_vulkan_run(NULL, state, entry, (out->dim[0].extent + 15) / 16, (out->dim[1].extent + 15) / 16, 1,
                             16, 16, 1, 0, sizes, args, is_buffer);
}

static int run_blur(void *state, Image *out, Image *in) {
    int32_t s[4];
    s[0] = out->dim[0].extent;
    s[1] = out->dim[1].extent;
    s[2] = out->dim[1].stride;
    s[3] = in->dim[1].stride;
    return run_2d(state, "k_blur3x3_u8", out, in, s, 4);
}

enum { GAIN = 320, BIAS = 10 }; /* out = in * 1.25 + 10 */

static int run_brighten(void *state, Image *out, Image *in) {
    int32_t s[6];
    s[0] = out->dim[0].extent;
    s[1] = out->dim[1].extent;
    s[2] = GAIN;
    s[3] = BIAS;
    s[4] = out->dim[1].stride;
    s[5] = in->dim[1].stride;
    return run_2d(state, "k_brighten2d_u8", out, in, s, 6);
}

/* ------------------------------------------------------------------------
 * CPU reference
 * ------------------------------------------------------------------------ */

static int clampi(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static void cpu_blur(uint8_t *out, const uint8_t *in, int w, int h) {
    int x, y, i, j;
    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            unsigned s = 0;
            for (j = -1; j <= 1; j++) {
                for (i = -1; i <= 1; i++) {
                    s += in[clampi(y + j, 0, h - 1) * w + clampi(x + i, 0, w - 1)];
                }
            }
            out[y * w + x] = (uint8_t)((s + 4) / 9);
        }
    }
}

static void cpu_brighten(uint8_t *out, int out_stride, const uint8_t *in, int in_stride, int w, int h) {
    int x, y;
    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            out[y * out_stride + x] = (uint8_t)clampi((int)in[y * in_stride + x] * GAIN / 256 + BIAS, 0, 255);
        }
    }
}

/* ------------------------------------------------------------------------
 * The application's VkBuffer on the runtime's device
 * ------------------------------------------------------------------------ */

typedef struct External {
    void *loader;
    VkDevice device;
    VkBuffer buffer;
    VkDeviceMemory memory;
    VkDeviceSize alignment; /* minStorageBufferOffsetAlignment */
    VkPhysicalDeviceType device_type;
    PFN_vkDestroyBuffer DestroyBuffer;
    PFN_vkFreeMemory FreeMemory;
} External;

static void *loader_symbol(void *loader, const char *name) {
    return loader != NULL ? dlsym(loader, name) : NULL;
}

/* Creates a storage + transfer VkBuffer of `size` bytes, with its own
 * device-local memory, on the device the runtime uses. */
static int external_create(External *e, VkDeviceSize size) {
    halide_vulkan_memory_allocator *allocator = NULL;
    VkInstance instance = VK_NULL_HANDLE;
    VkPhysicalDevice physical = VK_NULL_HANDLE;
    VkQueue queue = VK_NULL_HANDLE;
    uint32_t family = 0, i, type = UINT32_MAX;
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    const char *loader_name = getenv("HL_VK_LOADER_LIB");
    PFN_vkGetInstanceProcAddr gipa;
    PFN_vkGetDeviceProcAddr gdpa;
    PFN_vkGetPhysicalDeviceProperties GetProperties;
    PFN_vkGetPhysicalDeviceMemoryProperties GetMemoryProperties;
    PFN_vkCreateBuffer CreateBuffer;
    PFN_vkGetBufferMemoryRequirements GetRequirements;
    PFN_vkAllocateMemory AllocateMemory;
    PFN_vkBindBufferMemory BindMemory;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem;
    VkBufferCreateInfo bi;
    VkMemoryRequirements req;
    VkMemoryAllocateInfo ai;
    void *sym;
    int pass;

    memset(e, 0, sizeof(*e));
    /* The runtime's handles: the same hook generated code goes through. */
    if (halide_vulkan_acquire_context(NULL, &allocator, &instance, &e->device, &physical, &queue, &family,
                                      &messenger, true) != 0) {
        return -1;
    }
    halide_vulkan_release_context(NULL, instance, e->device, queue, messenger);

    e->loader = dlopen(loader_name != NULL && loader_name[0] ? loader_name : "libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    sym = loader_symbol(e->loader, "vkGetInstanceProcAddr");
    if (sym == NULL) {
        fprintf(stderr, "demo: cannot load the Vulkan loader\n");
        return -1;
    }
    memcpy(&gipa, &sym, sizeof(gipa));
    gdpa = (PFN_vkGetDeviceProcAddr)gipa(instance, "vkGetDeviceProcAddr");
    GetProperties = (PFN_vkGetPhysicalDeviceProperties)gipa(instance, "vkGetPhysicalDeviceProperties");
    GetMemoryProperties = (PFN_vkGetPhysicalDeviceMemoryProperties)gipa(instance, "vkGetPhysicalDeviceMemoryProperties");
    CreateBuffer = (PFN_vkCreateBuffer)gdpa(e->device, "vkCreateBuffer");
    GetRequirements = (PFN_vkGetBufferMemoryRequirements)gdpa(e->device, "vkGetBufferMemoryRequirements");
    AllocateMemory = (PFN_vkAllocateMemory)gdpa(e->device, "vkAllocateMemory");
    BindMemory = (PFN_vkBindBufferMemory)gdpa(e->device, "vkBindBufferMemory");
    e->DestroyBuffer = (PFN_vkDestroyBuffer)gdpa(e->device, "vkDestroyBuffer");
    e->FreeMemory = (PFN_vkFreeMemory)gdpa(e->device, "vkFreeMemory");
    GetProperties(physical, &props);
    GetMemoryProperties(physical, &mem);
    e->alignment = props.limits.minStorageBufferOffsetAlignment > 0 ? props.limits.minStorageBufferOffsetAlignment : 1;
    e->device_type = props.deviceType;

    memset(&bi, 0, sizeof(bi));
    bi.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    bi.size = size;
    bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    if (CreateBuffer(e->device, &bi, NULL, &e->buffer) != VK_SUCCESS) {
        fprintf(stderr, "demo: vkCreateBuffer failed\n");
        return -1;
    }
    GetRequirements(e->device, e->buffer, &req);
    for (pass = 0; pass < 2 && type == UINT32_MAX; pass++) {
        VkMemoryPropertyFlags want = pass == 0 ? VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT : 0;
        for (i = 0; i < mem.memoryTypeCount && type == UINT32_MAX; i++) {
            if ((req.memoryTypeBits & (1u << i)) && (mem.memoryTypes[i].propertyFlags & want) == want) {
                type = i;
            }
        }
    }
    memset(&ai, 0, sizeof(ai));
    ai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = type;
    if (type == UINT32_MAX || AllocateMemory(e->device, &ai, NULL, &e->memory) != VK_SUCCESS ||
        BindMemory(e->device, e->buffer, e->memory, 0) != VK_SUCCESS) {
        fprintf(stderr, "demo: cannot allocate memory for the external VkBuffer\n");
        return -1;
    }
    return 0;
}

static void external_destroy(External *e) {
    if (e->buffer != VK_NULL_HANDLE) {
        e->DestroyBuffer(e->device, e->buffer, NULL);
    }
    if (e->memory != VK_NULL_HANDLE) {
        e->FreeMemory(e->device, e->memory, NULL);
    }
    if (e->loader != NULL) {
        dlclose(e->loader);
    }
    memset(e, 0, sizeof(*e));
}

/* ------------------------------------------------------------------------
 * The real Halide fixtures
 * ------------------------------------------------------------------------ */

static int run_fixtures(const char *dir) {
    char path[4096], lib[PATH_MAX], cmd[16384], outdir[] = "/tmp/halide-vk-demo-fixtures.XXXXXX";
    const char *include_dir = getenv("HALIDE_VK_INCLUDE_DIR");
    Dl_info info;
    struct stat st;
    int rc;
    snprintf(path, sizeof(path), "%s/run.sh", dir);
    if (stat(path, &st) != 0) {
        printf("\nHalide fixtures: none at %s (skipped)\n", dir);
        return 0;
    }
    if (include_dir == NULL || include_dir[0] == '\0') {
        include_dir = HVK_DEMO_INCLUDE_DIR;
    }
    if (dladdr((void *)(uintptr_t)&halide_vk_runtime_version, &info) == 0 || info.dli_fname == NULL) {
        fprintf(stderr, "demo: cannot locate the loaded runtime library\n");
        return 1;
    }
    if (realpath(info.dli_fname, lib) == NULL) {
        snprintf(lib, sizeof(lib), "%s", info.dli_fname);
    }
    if (mkdtemp(outdir) == NULL) {
        fprintf(stderr, "demo: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    /* run.sh picks its ICD from $ICD (lavapipe by default); forward ours. */
    if (getenv("ICD") == NULL && getenv("VK_DRIVER_FILES") != NULL) {
        setenv("ICD", getenv("VK_DRIVER_FILES"), 1);
    }
    printf("\nHalide fixtures (%s) against %s, headers %s, ICD %s:\n", dir, lib, include_dir,
           getenv("ICD") != NULL ? getenv("ICD") : "lavapipe (run.sh default)");
    fflush(stdout);
    snprintf(cmd, sizeof(cmd), "bash '%s' '%s' '%s' '%s'", path, lib, include_dir, outdir);
    rc = system(cmd);
    printf("(logs and binaries in %s)\n", outdir);
    return rc == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------ */

static int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        return -1;
    }
    *out = (int)v;
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: demo [--width W] [--height H] [--iterations N] [--runs R] [--halide-fixtures DIR]\n");
}

enum { STAGES = 7 };

int main(int argc, char **argv) {
    int W = 1920, H = 1080, N = 0, R = 0, ai, r, k, ok = 0;
    const char *fixtures = NULL;
    const halide_device_interface_t *vk = halide_vulkan_device_interface();
    uint8_t *input = NULL, *blurred = NULL, *output = NULL, *ref_blur = NULL, *ref_out = NULL;
    Image in_img, blur_img, roi_img, out_img;
    External ext;
    void *state = NULL;
    double t[STAGES][64], t0, t_compile;
    char device_name[256];
    int x0, y0, rw, rh;
    VkDeviceSize wrap_offset;
    uint32_t checksum = 0;
    size_t i;
    static const char *stage_names[STAGES] = {"upload input",       "blur 3x3 (full image)", "brighten (crop)", "",
                                              "  per pipeline call", "",                      "download result"};

    memset(&ext, 0, sizeof(ext));
    memset(&in_img, 0, sizeof(in_img));
    memset(&blur_img, 0, sizeof(blur_img));
    memset(&roi_img, 0, sizeof(roi_img));
    memset(&out_img, 0, sizeof(out_img));
    for (ai = 1; ai < argc; ai++) {
        const char *a = argv[ai];
        const char *v = ai + 1 < argc ? argv[ai + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        } else if (v == NULL) {
            bad = 1;
        } else if (strcmp(a, "--width") == 0) {
            bad = parse_int(v, 8, 16384, &W);
        } else if (strcmp(a, "--height") == 0) {
            bad = parse_int(v, 8, 16384, &H);
        } else if (strcmp(a, "--iterations") == 0) {
            bad = parse_int(v, 1, 10000, &N);
        } else if (strcmp(a, "--runs") == 0) {
            bad = parse_int(v, 1, 64, &R);
        } else if (strcmp(a, "--halide-fixtures") == 0) {
            fixtures = v;
        } else {
            bad = 1;
        }
        if (bad) {
            usage();
            return 2;
        }
        ai++;
    }

    halide_set_error_handler(on_error);
    printf("halide-vk-runtime %s demo: 3x3 blur, then brighten a crop\n", halide_vk_runtime_version());
    CHECK(halide_vk_get_selected_device_name(NULL, device_name, sizeof(device_name)));
    printf("device:  %s\n", device_name);
    /* 4096 bytes of room in front: the offset is 4 storage-alignment units
     * (at most 4 x 256, the largest alignment Vulkan allows), at least 256. */
    if (external_create(&ext, (VkDeviceSize)4096 + (VkDeviceSize)W * H) != 0) {
        goto fail;
    }
    if (N == 0) { /* CPU devices (lavapipe) get a shorter default run */
        N = ext.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU ? 4 : 10;
    }
    if (R == 0) {
        R = ext.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU ? 3 : 5;
    }

    /* Host images and the CPU reference. */
    x0 = W / 8, y0 = H / 8, rw = W - 2 * (W / 8), rh = H - 2 * (H / 8);
    input = (uint8_t *)malloc((size_t)W * H);
    blurred = (uint8_t *)calloc((size_t)W * H, 1);
    output = (uint8_t *)calloc((size_t)rw * rh, 1);
    ref_blur = (uint8_t *)malloc((size_t)W * H);
    ref_out = (uint8_t *)malloc((size_t)rw * rh);
    if (!input || !blurred || !output || !ref_blur || !ref_out) {
        fprintf(stderr, "demo: out of memory\n");
        goto fail;
    }
    {
        uint32_t s = 12345u;
        int x, y;
        for (y = 0; y < H; y++) {
            for (x = 0; x < W; x++) {
                s = s * 1664525u + 1013904223u; /* a gradient plus noise */
                input[(size_t)y * W + x] = (uint8_t)(((x * 255) / W + (y * 255) / H) / 2 + (int)(s >> 28) * 4);
            }
        }
    }
    cpu_blur(ref_blur, input, W, H);
    cpu_brighten(ref_out, rw, ref_blur + (size_t)y0 * W + x0, W, rw, rh);

    /* Buffers: input and output owned by the runtime; the blurred image in
     * our own VkBuffer, wrapped at an offset (a few storage-alignment units
     * in, as if a header or another image came first). */
    image_init(&in_img, input, W, H);
    image_init(&blur_img, blurred, W, H);
    image_init(&out_img, output, rw, rh);
    CHECK(halide_device_malloc(NULL, &in_img.buf, vk));
    CHECK(halide_device_malloc(NULL, &out_img.buf, vk));
    wrap_offset = 4 * ext.alignment > 256 ? 4 * ext.alignment : 256;
    CHECK(halide_vulkan_wrap_vk_buffer(NULL, &blur_img.buf, (uint64_t)(uintptr_t)ext.buffer, wrap_offset));
    image_crop(&roi_img, &blur_img, x0, y0, rw, rh);
    CHECK(halide_device_crop(NULL, &blur_img.buf, &roi_img.buf));

    printf("image:   %d x %d u8; blurred image in an application VkBuffer wrapped at offset %llu;\n"
           "         brighten reads its %d x %d crop at (%d, %d) (byte %llu of the VkBuffer)\n",
           W, H, (unsigned long long)wrap_offset, rw, rh, x0, y0,
           (unsigned long long)halide_vulkan_get_vk_crop_offset(NULL, &roi_img.buf));

    /* The first pipeline call compiles the kernels (shader modules and
     * pipelines, cached per device afterwards): timed on its own. */
    in_img.buf.flags |= halide_buffer_flag_host_dirty;
    CHECK(halide_copy_to_device(NULL, &in_img.buf, vk));
    t0 = now_ms();
    CHECK(halide_vulkan_initialize_kernels(NULL, &state, (const char *)hvk_c_blob_demo.bytes, hvk_c_blob_demo_size));
    CHECK(run_blur(state, &blur_img, &in_img));
    CHECK(run_brighten(state, &out_img, &roi_img));
    halide_vulkan_finalize_kernels(NULL, state);
    CHECK(halide_vulkan_device_sync(NULL, NULL));
    t_compile = now_ms() - t0;

    for (r = 0; r < R; r++) {
        /* upload */
        t0 = now_ms();
        in_img.buf.flags |= halide_buffer_flag_host_dirty;
        CHECK(halide_copy_to_device(NULL, &in_img.buf, vk));
        t[0][r] = now_ms() - t0;

        /* blur: one pipeline call, then wait */
        t0 = now_ms();
        CHECK(halide_vulkan_initialize_kernels(NULL, &state, (const char *)hvk_c_blob_demo.bytes,
                                               hvk_c_blob_demo_size));
        CHECK(run_blur(state, &blur_img, &in_img));
        halide_vulkan_finalize_kernels(NULL, state);
        CHECK(halide_vulkan_device_sync(NULL, NULL));
        t[1][r] = now_ms() - t0;

        /* brighten the crop */
        t0 = now_ms();
        CHECK(halide_vulkan_initialize_kernels(NULL, &state, (const char *)hvk_c_blob_demo.bytes,
                                               hvk_c_blob_demo_size));
        CHECK(run_brighten(state, &out_img, &roi_img));
        halide_vulkan_finalize_kernels(NULL, state);
        CHECK(halide_vulkan_device_sync(NULL, NULL));
        t[2][r] = now_ms() - t0;

        /* batch: N pipeline calls recorded and submitted, one wait */
        t0 = now_ms();
        for (k = 0; k < N; k++) {
            CHECK(halide_vulkan_initialize_kernels(NULL, &state, (const char *)hvk_c_blob_demo.bytes,
                                                   hvk_c_blob_demo_size));
            CHECK(run_blur(state, &blur_img, &in_img));
            CHECK(run_brighten(state, &out_img, &roi_img));
            halide_vulkan_finalize_kernels(NULL, state);
        }
        CHECK(halide_vulkan_device_sync(NULL, NULL));
        t[3][r] = now_ms() - t0;
        t[4][r] = t[3][r] / N;

        /* the same without batching: wait after each call */
        t0 = now_ms();
        for (k = 0; k < N; k++) {
            CHECK(halide_vulkan_initialize_kernels(NULL, &state, (const char *)hvk_c_blob_demo.bytes,
                                                   hvk_c_blob_demo_size));
            CHECK(run_blur(state, &blur_img, &in_img));
            CHECK(run_brighten(state, &out_img, &roi_img));
            halide_vulkan_finalize_kernels(NULL, state);
            CHECK(halide_vulkan_device_sync(NULL, NULL));
        }
        t[5][r] = now_ms() - t0;

        /* download */
        memset(output, 0, (size_t)rw * rh);
        t0 = now_ms();
        out_img.buf.flags |= halide_buffer_flag_device_dirty;
        CHECK(halide_copy_to_host(NULL, &out_img.buf));
        t[6][r] = now_ms() - t0;
    }

    /* The blurred image too, straight out of the application's VkBuffer. */
    blur_img.buf.flags |= halide_buffer_flag_device_dirty;
    CHECK(halide_copy_to_host(NULL, &blur_img.buf));

    printf("first pipeline call, kernel compilation included: %.3f ms\n", t_compile);
    printf("\n%-40s %10s %10s\n", "stage", "median ms", "min ms");
    printf("%-40s %10s %10s\n", "----------------------------------------", "---------", "------");
    for (k = 0; k < STAGES; k++) {
        double mn = t[k][0], md;
        char label[64];
        for (r = 1; r < R; r++) {
            mn = t[k][r] < mn ? t[k][r] : mn;
        }
        md = median(t[k], R);
        if (k == 3) {
            snprintf(label, sizeof(label), "batch: %d x (blur + brighten), 1 sync", N);
        } else if (k == 5) {
            snprintf(label, sizeof(label), "unbatched: %d x, sync after each", N);
        } else {
            snprintf(label, sizeof(label), "%s", stage_names[k]);
        }
        printf("%-40s %10.3f %10.3f\n", label, md, mn);
    }
    printf("(median and minimum over %d run%s)\n", R, R == 1 ? "" : "s");

    checksum = fnv1a(output, (size_t)rw * rh);
    ok = memcmp(output, ref_out, (size_t)rw * rh) == 0 && memcmp(blurred, ref_blur, (size_t)W * H) == 0;
    printf("\nchecksum: 0x%08x (FNV-1a of the %d x %d result), CPU reference 0x%08x: %s\n", checksum, rw, rh,
           fnv1a(ref_out, (size_t)rw * rh), ok ? "OK" : "MISMATCH");
    if (!ok) {
        for (i = 0; i < (size_t)W * H; i++) {
            if (blurred[i] != ref_blur[i]) {
                fprintf(stderr, "demo: first blur difference at (%d, %d): %u, expected %u\n", (int)(i % (size_t)W),
                        (int)(i / (size_t)W), blurred[i], ref_blur[i]);
                break;
            }
        }
    }

    /* Tear down in order: crop, detach (our VkBuffer survives), destroy our
     * VkBuffer while the device exists, free, release the context. */
    CHECK(halide_device_release_crop(NULL, &roi_img.buf));
    CHECK(halide_vulkan_detach_vk_buffer(NULL, &blur_img.buf));
    external_destroy(&ext);
    CHECK(halide_device_free(NULL, &in_img.buf));
    CHECK(halide_device_free(NULL, &out_img.buf));
    {
        uint64_t messages = halide_vk_get_validation_message_count();
        halide_device_release(NULL, vk);
        if (messages != 0 || halide_vk_get_validation_message_count() != 0) {
            fprintf(stderr, "demo: %llu validation message(s)\n",
                    (unsigned long long)halide_vk_get_validation_message_count());
            ok = 0;
        }
    }
    if (g_errors != 0) {
        ok = 0;
    }
    if (ok && fixtures != NULL && run_fixtures(fixtures) != 0) {
        ok = 0;
    }
    free(input);
    free(blurred);
    free(output);
    free(ref_blur);
    free(ref_out);
    return ok ? 0 : 1;

fail:
    fprintf(stderr, "demo: failed\n");
    halide_vulkan_device_sync(NULL, NULL);
    if (roi_img.buf.device != 0) {
        halide_device_release_crop(NULL, &roi_img.buf);
    }
    halide_vulkan_detach_vk_buffer(NULL, &blur_img.buf);
    external_destroy(&ext);
    halide_device_free(NULL, &in_img.buf);
    halide_device_free(NULL, &out_img.buf);
    halide_device_release(NULL, vk);
    free(input);
    free(blurred);
    free(output);
    free(ref_blur);
    free(ref_out);
    return 1;
}
