// Creating the runtime's own VkInstance, one step at a time: the requested
// layers (each checked to exist), the instance extensions, the application
// info and API version, vkCreateInstance with a chained messenger, then the
// instance functions and the messenger itself.
#include "vulkan/context/instance.h"

#include <cstring>

#include "common/report.h"
#include "vulkan/context/loader.h"
#include "vulkan/context/messenger.h"
#include "vulkan/context/settings.h"
#include "vulkan/util/scratch.h"
#include "vulkan/util/vk_result.h"

namespace hvk {
namespace {

constexpr int kMaxNames = 32;

// Names from a colon-separated setting; `names` point into `storage`.
struct NameList {
    char storage[1024];
    const char *names[kMaxNames];
    int count = 0;
};

// Splits "a:b:c" into at most kMaxNames pointers into `storage`.
int split_names(char *storage, const char **names) {
    int n = 0;
    char *p = storage;
    while (*p != '\0' && n < kMaxNames) {
        char *end = std::strchr(p, ':');
        if (end != nullptr) {
            *end = '\0';
        }
        if (*p != '\0') {
            names[n++] = p;
        }
        if (end == nullptr) {
            break;
        }
        p = end + 1;
    }
    return n;
}

void read_names(Setting which, NameList *out) {
    read_setting(which, out->storage, sizeof(out->storage));
    out->count = split_names(out->storage, out->names);
}

bool has_extension(const VkExtensionProperties *props, uint32_t count, const char *name) {
    for (uint32_t i = 0; i < count; i++) {
        if (std::strcmp(props[i].extensionName, name) == 0) {
            return true;
        }
    }
    return false;
}

// Layers: check each exists so a typo gets a message naming it.
int check_layers_installed(void *uc, const VkAllocationCallbacks *cb, const NameList &layers) {
    if (layers.count == 0) {
        return 0;
    }
    uint32_t available = 0;
    vkEnumerateInstanceLayerProperties(&available, nullptr);
    ScratchArray<VkLayerProperties> props(cb, available);
    if (!props.ok()) {
        return report_error(uc, -11, "context", "out of host memory listing instance layers");
    }
    VkResult lr = vkEnumerateInstanceLayerProperties(&available, props.data());
    if (lr != VK_SUCCESS && lr != VK_INCOMPLETE) {
        return report_error(uc, -36, "context", "vkEnumerateInstanceLayerProperties failed: %s",
                            vk_result_name(lr));
    }
    for (int i = 0; i < layers.count; i++) {
        bool found = false;
        for (uint32_t j = 0; j < available && !found; j++) {
            found = std::strcmp(props[j].layerName, layers.names[i]) == 0;
        }
        if (!found) {
            return report_error(uc, -36, "context",
                                "Vulkan layer %s (requested by HL_VK_LAYERS / halide_vulkan_set_layer_names) "
                                "is not installed; %u layer(s) are available (see halide-vk-info)",
                                layers.names[i], available);
        }
    }
    return 0;
}

// The second of the two enumeration calls, into the caller's list (sized by
// the first call, kept alive until the instance exists).
int read_instance_extensions(void *uc, ScratchArray<VkExtensionProperties> *props, uint32_t *count) {
    if (!props->ok()) {
        return report_error(uc, -11, "context", "out of host memory listing instance extensions");
    }
    VkResult er = vkEnumerateInstanceExtensionProperties(nullptr, count, props->data());
    if (er != VK_SUCCESS && er != VK_INCOMPLETE) {
        return report_error(uc, -36, "context", "vkEnumerateInstanceExtensionProperties failed: %s",
                            vk_result_name(er));
    }
    return 0;
}

// The loader's instance version, at most 1.3.
uint32_t instance_api_version() {
    uint32_t api_version = loader_instance_version();
    if (api_version > VK_API_VERSION_1_3) {
        api_version = VK_API_VERSION_1_3;
    }
    return api_version;
}

// The instance extensions to enable, and what they change.
struct InstanceExtensionChoice {
    const VkExtensionProperties *available = nullptr;
    uint32_t available_count = 0;
    const char *names[kMaxNames];
    int count = 0;
    VkInstanceCreateFlags flags = 0;
    bool debug_utils = false;
    NameList extra;  // HL_VK_EXTENSIONS: the storage `names` may point into

    bool offered(const char *name) const { return has_extension(available, available_count, name); }
};

// The extensions the runtime enables itself whenever the loader offers them.
void choose_runtime_extensions(uint32_t api_version, InstanceExtensionChoice *ext) {
    ext->debug_utils = ext->offered(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    if (ext->debug_utils) {
        ext->names[ext->count++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    }
    if (ext->offered("VK_KHR_portability_enumeration")) {
        ext->names[ext->count++] = "VK_KHR_portability_enumeration";
        ext->flags |= 0x00000001;  // VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR
    }
    if (api_version < VK_API_VERSION_1_1 && ext->offered(VK_KHR_GET_PHYSICAL_DEVICE_PROPERTIES_2_EXTENSION_NAME)) {
        ext->names[ext->count++] = VK_KHR_GET_PHYSICAL_DEVICE_PROPERTIES_2_EXTENSION_NAME;
    }
}

// Extra instance extensions an application asked for (HL_VK_EXTENSIONS).
int choose_requested_extensions(void *uc, InstanceExtensionChoice *ext) {
    read_names(Setting::ExtensionNames, &ext->extra);
    for (int i = 0; i < ext->extra.count && ext->count < kMaxNames; i++) {
        if (!ext->offered(ext->extra.names[i])) {
            return report_error(uc, -36, "context",
                                "instance extension %s (requested by HL_VK_EXTENSIONS) is not supported",
                                ext->extra.names[i]);
        }
        ext->names[ext->count++] = ext->extra.names[i];
    }
    return 0;
}

int create_vk_instance(void *uc, const VkAllocationCallbacks *cb, const NameList &layers,
                       const InstanceExtensionChoice &ext, uint32_t api_version,
                       const VkDebugUtilsMessengerCreateInfoEXT *messenger_info, RuntimeInstance *out) {
    VkApplicationInfo app{};
    app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    app.pApplicationName = "halide-vk-runtime";
    app.pEngineName = "Halide";
    app.apiVersion = api_version;

    VkInstanceCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    info.pNext = ext.debug_utils ? messenger_info : nullptr;
    info.flags = ext.flags;
    info.pApplicationInfo = &app;
    info.enabledLayerCount = static_cast<uint32_t>(layers.count);
    info.ppEnabledLayerNames = layers.names;
    info.enabledExtensionCount = static_cast<uint32_t>(ext.count);
    info.ppEnabledExtensionNames = ext.names;
    VkResult r = vkCreateInstance(&info, cb, &out->instance);
    if (r != VK_SUCCESS) {
        out->instance = VK_NULL_HANDLE;
        return report_error(uc, -36, "context", "vkCreateInstance failed: %s", vk_result_name(r));
    }
    return 0;
}

void create_messenger(const VkAllocationCallbacks *cb, const VkDebugUtilsMessengerCreateInfoEXT &messenger_info,
                      RuntimeInstance *out) {
    if (out->ifn.CreateDebugUtilsMessengerEXT == nullptr) {
        return;
    }
    VkResult r = out->ifn.CreateDebugUtilsMessengerEXT(out->instance, &messenger_info, cb, &out->messenger);
    if (r != VK_SUCCESS) {
        out->messenger = VK_NULL_HANDLE;  // not fatal: messages then go to the layer's own output
    }
}

}  // namespace

int create_instance(void *uc, const VkAllocationCallbacks *cb, RuntimeInstance *out) {
    NameList layers;
    read_names(Setting::LayerNames, &layers);
    int rc = check_layers_installed(uc, cb, layers);
    if (rc != 0) {
        return rc;
    }

    uint32_t ext_count = 0;
    vkEnumerateInstanceExtensionProperties(nullptr, &ext_count, nullptr);
    ScratchArray<VkExtensionProperties> ext_props(cb, ext_count);
    rc = read_instance_extensions(uc, &ext_props, &ext_count);
    if (rc != 0) {
        return rc;
    }
    uint32_t api_version = instance_api_version();
    InstanceExtensionChoice ext;
    ext.available = ext_props.data();
    ext.available_count = ext_count;
    choose_runtime_extensions(api_version, &ext);
    rc = choose_requested_extensions(uc, &ext);
    if (rc != 0) {
        return rc;
    }

    // Chained messenger info: instance creation and destruction messages too.
    VkDebugUtilsMessengerCreateInfoEXT messenger_info;
    fill_messenger_create_info(&messenger_info);
    rc = create_vk_instance(uc, cb, layers, ext, api_version, &messenger_info, out);
    if (rc != 0) {
        return rc;
    }
    if (!load_instance_functions(out->instance, &out->ifn)) {
        return report_error(uc, -21, "context", "the loader does not provide the Vulkan 1.0 instance functions");
    }
    if (ext.debug_utils) {
        create_messenger(cb, messenger_info, out);
    }
    return 0;
}

void destroy_instance(const VkAllocationCallbacks *cb, RuntimeInstance *inst) {
    if (inst->messenger != VK_NULL_HANDLE) {
        inst->ifn.DestroyDebugUtilsMessengerEXT(inst->instance, inst->messenger, cb);
    }
    if (inst->instance != VK_NULL_HANDLE && inst->ifn.DestroyInstance != nullptr) {
        inst->ifn.DestroyInstance(inst->instance, cb);
    }
    *inst = RuntimeInstance{};
}

}  // namespace hvk
