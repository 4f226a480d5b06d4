// An application that defines halide_error, halide_print, halide_malloc and
// halide_free itself gets its definitions used by the library (which calls
// them by name and is not linked -Bsymbolic), as with Halide's runtime.
// No GoogleTest main here: a plain program, so nothing else installs handlers.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"

static std::string g_errors;
static std::string g_prints;
static int g_mallocs = 0;
static int g_frees = 0;

extern "C" void halide_error(void *, const char *msg) {
    g_errors += msg;
    g_errors += "\n";
}

extern "C" void halide_print(void *, const char *msg) {
    g_prints += msg;
}

extern "C" void *halide_malloc(void *, size_t size) {
    g_mallocs++;
    return std::aligned_alloc(128, (size + 127) / 128 * 128 + 128);
}

extern "C" void halide_free(void *, void *ptr) {
    g_frees++;
    std::free(ptr);
}

static int failures = 0;
#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                    \
        }                                                                  \
    } while (0)

int main() {
    // 1. The halide_error_* family reports through the application's halide_error.
    CHECK(halide_error_bad_dimensions(nullptr, "Input buffer in", 3, 2) == -43);
    CHECK(g_errors.find("in") != std::string::npos && g_errors.find("3") != std::string::npos);

    // 2. Runtime-internal errors do too: a bad device type fails context creation.
    g_errors.clear();
    halide_vulkan_set_device_type("not-a-type");
    char name[64];
    CHECK(halide_vk_get_selected_device_name(nullptr, name, sizeof(name)) == -36);
    CHECK(g_errors.find("not-a-type") != std::string::npos);
    halide_vulkan_set_device_type("");

    // 3. Debug output goes through the application's halide_print (HL_VK_DEBUG=1).
    g_prints.clear();
    CHECK(halide_vk_get_selected_device_name(nullptr, name, sizeof(name)) == 0);
    CHECK(g_prints.find("selected device") != std::string::npos);

    // 4. Host allocations for buffers use the application's halide_malloc/free.
    int mallocs_before = g_mallocs;
    halide_dimension_t dim = {0, 100, 1, 0};
    halide_buffer_t buf{};
    buf.type.code = halide_type_uint;
    buf.type.bits = 8;
    buf.type.lanes = 1;
    buf.dimensions = 1;
    buf.dim = &dim;
    void *p = halide_malloc(nullptr, 10);  // direct call resolves to ours in the executable
    halide_free(nullptr, p);
    CHECK(g_mallocs == mallocs_before + 1);
    int rc = halide_device_and_host_malloc(nullptr, &buf, halide_vulkan_device_interface());
    if (rc == 0) {
        CHECK(g_mallocs == mallocs_before + 2);  // the library's host allocation came to us
        CHECK(halide_device_and_host_free(nullptr, &buf) == 0);
        CHECK(g_frees >= 2);
    } else {
        std::fprintf(stderr, "device_and_host_malloc failed (%d): %s\n", rc, g_errors.c_str());
        failures++;
    }

    halide_vulkan_device_release(nullptr);
    if (failures == 0) {
        std::printf("PASS interpose_handlers\n");
        return 0;
    }
    std::printf("FAIL interpose_handlers (%d)\n", failures);
    return 1;
}
