// C entry points about the context as a whole: release, and our own
// extensions (version, configuration, selected device).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "HalideRuntimeVulkan.h"
#include "vulkan/context/context_scope.h"
#include "halide_vk_runtime.h"
#include "vulkan/context/messenger.h"
#include "common/report.h"
#include "vulkan/context/settings.h"

extern "C" {

int halide_vulkan_device_release(void *user_context) {
    hvk::ContextScope scope(user_context, "halide_vulkan_device_release", /*create=*/false);
    if (!scope.ok()) {
        return scope.status();
    }
    hvk::Device *d = scope.device();
    if (d == nullptr) {
        return 0;  // nothing was ever created
    }
    int rc = d == hvk::default_device() ? hvk::destroy_default_context(user_context)
                                        : hvk::release_application_device(user_context, d);
    if (rc != 0) {
        // Everything was destroyed anyway; the code says the GPU did not
        // finish cleanly (vkDeviceWaitIdle failed, e.g. device lost).
        return hvk::report_error(user_context, rc, "halide_vulkan_device_release",
                                 "vkDeviceWaitIdle failed before teardown (device lost?); resources were released");
    }
    return 0;
}

const char *halide_vk_runtime_version(void) {
    return HVK_VERSION_STRING;
}

}  // extern "C"

namespace {

// snprintf into the remaining part of a buffer, tracking the full length.
struct Appender {
    char *buf;
    size_t size;
    size_t len = 0;
    void add(const char *fmt, const char *a, const char *b) {
        char *dst = (buf != nullptr && len < size) ? buf + len : nullptr;
        size_t room = (buf != nullptr && len < size) ? size - len : 0;
        int n = std::snprintf(dst, room, fmt, a, b);
        if (n > 0) {
            len += static_cast<size_t>(n);
        }
    }
};

const char *or_unset(const char *s) {
    return (s != nullptr && *s != '\0') ? s : "(unset)";
}

}  // namespace

extern "C" int halide_vk_runtime_get_config(char *buf, size_t size) {
    if (buf != nullptr && size > 0) {
        buf[0] = '\0';
    }
    Appender a{buf, size};
    char value[1024];
    struct Row {
        const char *label;
        hvk::Setting setting;
    } rows[] = {
        {"HL_VK_LAYERS (layers)", hvk::Setting::LayerNames},
        {"HL_VK_DEVICE_TYPE (device type)", hvk::Setting::DeviceType},
        {"HL_VK_EXTENSIONS (extra instance extensions)", hvk::Setting::ExtensionNames},
        {"HL_VK_BUILD_OPTIONS (accepted, unused)", hvk::Setting::BuildOptions},
        {"HL_VK_ALLOC_CONFIG (allocator)", hvk::Setting::AllocConfig},
    };
    a.add("  %-46s %s\n", "version", HVK_VERSION_STRING);
    for (const Row &r : rows) {
        hvk::read_setting(r.setting, value, sizeof(value));
        a.add("  %-46s %s\n", r.label, or_unset(value));
    }
    a.add("  %-46s %s\n", "HL_VK_DEVICE_INDEX (device index)", or_unset(std::getenv("HL_VK_DEVICE_INDEX")));
    a.add("  %-46s %s\n", "HL_VK_LOADER_LIB (Vulkan loader)", or_unset(std::getenv("HL_VK_LOADER_LIB")));
    const char *env_rows[][2] = {
        {"HL_VK_DEBUG (verbose messages)", "HL_VK_DEBUG"},
        {"HL_VK_SYNC (wait after every call)", "HL_VK_SYNC"},
        {"HL_VK_SPIRV_VALIDATION (off, warn, strict)", "HL_VK_SPIRV_VALIDATION"},
        {"HL_VK_ALLOC_CACHE_MB (cached empty blocks)", "HL_VK_ALLOC_CACHE_MB"},
        {"HL_VK_SPIN_WAIT_US (poll before blocking)", "HL_VK_SPIN_WAIT_US"},
        {"HL_VK_PUSH_DESCRIPTORS (0: descriptor pools)", "HL_VK_PUSH_DESCRIPTORS"},
        {"HL_VK_TEARDOWN_AT_EXIT (0: leave it to the OS)", "HL_VK_TEARDOWN_AT_EXIT"},
    };
    for (const auto &row : env_rows) {
        a.add("  %-46s %s\n", row[0], or_unset(std::getenv(row[1])));
    }
    a.add("  %-46s %s\n", "reuse of freed device memory",
          halide_can_reuse_device_allocations(nullptr) ? "on" : "off");
    a.add("  %-46s %s\n", "allocation callbacks",
          hvk::allocation_callbacks() != nullptr ? "application's" : "C heap");
    return static_cast<int>(a.len);
}

extern "C" int halide_vk_get_selected_device_name(void *user_context, char *buf, size_t size) {
    if (buf == nullptr || size == 0) {
        return -1;
    }
    buf[0] = '\0';
    hvk::ContextScope scope(user_context, "halide_vk_get_selected_device_name");
    if (!scope.ok()) {
        return scope.status();
    }
    std::snprintf(buf, size, "%s", scope.device()->properties.deviceName);
    return 0;
}

extern "C" uint64_t halide_vk_get_validation_message_count(void) {
    return hvk::debug_message_count();
}
