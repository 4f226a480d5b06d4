#include "vulkan/context/settings.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "HalideRuntimeVulkan.h"

namespace hvk {
namespace {

constexpr size_t kSettingCapacity = 1024;  // Halide truncates at the same size

struct SettingSlot {
    const char *env_primary;
    const char *env_fallback;
    bool loaded;
    char value[kSettingCapacity];
};

std::mutex g_settings_mutex;
SettingSlot g_slots[] = {
    {"HL_VK_LAYERS", "VK_INSTANCE_LAYERS", false, {0}},
    {"HL_VK_EXTENSIONS", nullptr, false, {0}},
    {"HL_VK_DEVICE_TYPE", nullptr, false, {0}},
    {"HL_VK_BUILD_OPTIONS", nullptr, false, {0}},
    {"HL_VK_ALLOC_CONFIG", nullptr, false, {0}},
};

std::atomic<const VkAllocationCallbacks *> g_callbacks{nullptr};

SettingSlot &slot(Setting which) {
    return g_slots[static_cast<int>(which)];
}

void store(SettingSlot &s, const char *value) {
    s.loaded = true;
    if (value == nullptr) {
        s.value[0] = '\0';
        return;
    }
    std::strncpy(s.value, value, kSettingCapacity - 1);
    s.value[kSettingCapacity - 1] = '\0';
}

void load_from_environment(SettingSlot &s) {
    if (s.loaded) {
        return;
    }
    const char *v = std::getenv(s.env_primary);
    if ((v == nullptr || *v == '\0') && s.env_fallback != nullptr) {
        v = std::getenv(s.env_fallback);
    }
    store(s, v);
}

}  // namespace

size_t read_setting(Setting which, char *out, size_t out_size) {
    std::lock_guard<std::mutex> lock(g_settings_mutex);
    SettingSlot &s = slot(which);
    load_from_environment(s);
    size_t len = std::strlen(s.value);
    if (out != nullptr && out_size > 0) {
        size_t n = len < out_size - 1 ? len : out_size - 1;
        std::memcpy(out, s.value, n);
        out[n] = '\0';
    }
    return len;
}

const char *setting_storage(Setting which) {
    std::lock_guard<std::mutex> lock(g_settings_mutex);
    SettingSlot &s = slot(which);
    load_from_environment(s);
    return s.value;
}

void write_setting(Setting which, const char *value) {
    std::lock_guard<std::mutex> lock(g_settings_mutex);
    store(slot(which), value);
}

const VkAllocationCallbacks *allocation_callbacks() {
    return g_callbacks.load(std::memory_order_acquire);
}

}  // namespace hvk

using hvk::Setting;

extern "C" {

void halide_vulkan_set_allocation_callbacks(const VkAllocationCallbacks *callbacks) {
    hvk::g_callbacks.store(callbacks, std::memory_order_release);
}

const VkAllocationCallbacks *halide_vulkan_get_allocation_callbacks(void *user_context) {
    (void)user_context;
    return hvk::allocation_callbacks();
}

void halide_vulkan_set_layer_names(const char *n) { hvk::write_setting(Setting::LayerNames, n); }
const char *halide_vulkan_get_layer_names(void *uc) { (void)uc; return hvk::setting_storage(Setting::LayerNames); }
void halide_vulkan_set_extension_names(const char *n) { hvk::write_setting(Setting::ExtensionNames, n); }
const char *halide_vulkan_get_extension_names(void *uc) { (void)uc; return hvk::setting_storage(Setting::ExtensionNames); }
void halide_vulkan_set_device_type(const char *n) { hvk::write_setting(Setting::DeviceType, n); }
const char *halide_vulkan_get_device_type(void *uc) { (void)uc; return hvk::setting_storage(Setting::DeviceType); }
void halide_vulkan_set_build_options(const char *n) { hvk::write_setting(Setting::BuildOptions, n); }
const char *halide_vulkan_get_build_options(void *uc) { (void)uc; return hvk::setting_storage(Setting::BuildOptions); }
void halide_vulkan_set_alloc_config(const char *n) { hvk::write_setting(Setting::AllocConfig, n); }
const char *halide_vulkan_get_alloc_config(void *uc) { (void)uc; return hvk::setting_storage(Setting::AllocConfig); }

}  // extern "C"
