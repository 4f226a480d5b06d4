#include "vulkan/context/loader.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "HalideRuntimeVulkan.h"
#include "common/report.h"

namespace hvk {
namespace {

std::mutex g_loader_mutex;
void *g_library = nullptr;          // never closed: function pointers outlive any scope
bool g_volk_started = false;
char g_last_dlerror[512] = {0};

void remember_dlerror() {
    const char *e = dlerror();
    std::strncpy(g_last_dlerror, e != nullptr ? e : "unknown dlopen error", sizeof(g_last_dlerror) - 1);
}

// An explicit HL_VK_LOADER_LIB is the only library tried: silently falling
// back to the system loader would hide a misconfiguration (Halide falls back).
void *open_loader_library() {
    if (g_library != nullptr) {
        return g_library;
    }
    const char *explicit_lib = std::getenv("HL_VK_LOADER_LIB");
    if (explicit_lib != nullptr && *explicit_lib != '\0') {
        g_library = dlopen(explicit_lib, RTLD_NOW | RTLD_LOCAL);
        if (g_library == nullptr) {
            remember_dlerror();
        }
        return g_library;
    }
    const char *candidates[] = {"libvulkan.so.1", "libvulkan.so"};
    for (const char *name : candidates) {
        g_library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (g_library != nullptr) {
            return g_library;
        }
        remember_dlerror();
    }
    return nullptr;
}

}  // namespace

int ensure_loader(void *user_context) {
    std::lock_guard<std::mutex> lock(g_loader_mutex);
    if (g_volk_started) {
        return 0;
    }
    // Called by name so that an application's own definition is used.
    void *gipa = halide_vulkan_get_symbol(user_context, "vkGetInstanceProcAddr");
    if (gipa == nullptr) {
        const char *explicit_lib = std::getenv("HL_VK_LOADER_LIB");
        return report_error(user_context, -21 /* symbol_not_found */, "Vulkan loader",
                            "cannot find vkGetInstanceProcAddr: no Vulkan loader could be opened "
                            "(%s%s; last error: %s). Install libvulkan1 or set HL_VK_LOADER_LIB to the loader's path",
                            explicit_lib != nullptr && *explicit_lib ? "HL_VK_LOADER_LIB=" : "tried libvulkan.so.1 and libvulkan.so",
                            explicit_lib != nullptr && *explicit_lib ? explicit_lib : "",
                            g_last_dlerror[0] ? g_last_dlerror : "none");
    }
    volkInitializeCustom(reinterpret_cast<PFN_vkGetInstanceProcAddr>(gipa));
    if (vkCreateInstance == nullptr) {
        return report_error(user_context, -21, "Vulkan loader",
                            "the loader's vkGetInstanceProcAddr does not provide vkCreateInstance");
    }
    g_volk_started = true;
    return 0;
}

uint32_t loader_instance_version() {
    uint32_t v = volkGetInstanceVersion();
    return v != 0 ? v : VK_API_VERSION_1_0;
}

}  // namespace hvk

extern "C" void *halide_vulkan_get_symbol(void *user_context, const char *name) {
    (void)user_context;
    if (name == nullptr) {
        return nullptr;
    }
    void *lib = nullptr;
    {
        // ensure_loader holds g_loader_mutex while calling us; only the
        // library handle needs protecting, and dlopen is itself thread safe.
        static std::mutex open_mutex;
        std::lock_guard<std::mutex> lock(open_mutex);
        lib = hvk::open_loader_library();
    }
    if (lib == nullptr) {
        return nullptr;
    }
    return dlsym(lib, name);
}
