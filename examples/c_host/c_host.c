/*
 * c_host.c -- a plain C99 application that brings its own Vulkan device to
 * halide-vk-runtime.
 *
 * What it shows, in order:
 *   1. it opens the Vulkan loader itself (dlopen, no link to libvulkan) and
 *      creates its own VkInstance, VkDevice and queue, with the validation
 *      layer and a debug messenger of its own when validation is requested
 *      (HL_VK_LAYERS / HVK_TEST_VALIDATION);
 *   2. it hands them to the runtime by defining halide_vulkan_acquire_context
 *      and halide_vulkan_release_context (a pthread mutex makes the pair a
 *      critical section, as the contract asks), and declares what it enabled
 *      on the device with halide_vk_declare_device_capabilities;
 *   3. it creates its own VkBuffer with its own memory, wraps two windows of
 *      it for Halide: one at an offset that is a multiple of
 *      minStorageBufferOffsetAlignment, one at an offset that is only a
 *      multiple of the element size;
 *   4. it runs the project's kernels (shaders/: k_scale_f32, and k_brighten2d_u8
 *      when the device has 8-bit storage) on them through
 *      halide_vulkan_initialize_kernels / halide_vulkan_run /
 *      halide_vulkan_finalize_kernels, as generated code does, including on a
 *      crop (halide_device_crop) of the wrapped buffer;
 *   5. it copies the results back (halide_copy_to_host), checks them against
 *      a CPU reference, detaches the wrapped buffers, calls
 *      halide_device_release, and destroys its buffer, memory, device and
 *      instance itself.
 * Exit status 0 when every check passed and no validation message arrived.
 *
 * Build: any C99 compiler, e.g.
 *   cc -std=c99 -pedantic -Wall -Wextra c_host.c -Iinclude -Ibuild/examples \
 *      -Lbuild/runtime -lhalide_vk_runtime -ldl -lpthread
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* C99 forbids repeating a typedef: vulkan.h goes before the Halide headers. */
#include <vulkan/vulkan.h>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"

#include "c_host_blobs.h" /* generated: hvk_c_blob_basic, hvk_c_blob_demo */

/* ------------------------------------------------------------------------
 * Reporting
 * ------------------------------------------------------------------------ */

static int g_failures = 0;
static int g_validation_messages = 0;
static int g_runtime_errors = 0;
static int g_expect_runtime_error = 0;

static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "c_host: FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    g_failures++;
}

#define CHECK_RC(call)                                                  \
    do {                                                                \
        int rc_ = (call);                                               \
        if (rc_ != 0) {                                                 \
            fail("%s returned %d (line %d)", #call, rc_, __LINE__);     \
            goto cleanup;                                               \
        }                                                               \
    } while (0)

/* The runtime reports errors through halide_error; this handler keeps the
 * message visible and counts it. */
static void on_halide_error(void *user_context, const char *msg) {
    (void)user_context;
    if (!g_expect_runtime_error) {
        g_runtime_errors++;
    }
    fprintf(stderr, "c_host: halide_error: %s\n", msg);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_vk_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                    VkDebugUtilsMessageTypeFlagsEXT types,
                                                    const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                    void *user_data) {
    (void)types;
    (void)user_data;
    if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        g_validation_messages++;
        fprintf(stderr, "c_host: validation: %s\n", data->pMessage);
    }
    return VK_FALSE;
}

/* ------------------------------------------------------------------------
 * The application's Vulkan objects
 * ------------------------------------------------------------------------ */

typedef struct App {
    void *loader;
    PFN_vkGetInstanceProcAddr GetInstanceProcAddr;
    PFN_vkGetDeviceProcAddr GetDeviceProcAddr;
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice physical;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties memory;
    VkDevice device;
    uint32_t family;
    VkQueue queue;
    uint32_t api_version;
    int has_8bit; /* storageBuffer8Bit, uniformAndStorageBuffer8Bit, shaderInt8 enabled */
    VkPhysicalDeviceVulkan12Features enabled12;
    VkPhysicalDeviceFeatures2 enabled_features;

    PFN_vkDestroyInstance DestroyInstance;
    PFN_vkDestroyDebugUtilsMessengerEXT DestroyMessenger;
    PFN_vkDestroyDevice DestroyDevice;
    PFN_vkDeviceWaitIdle DeviceWaitIdle;
    PFN_vkCreateBuffer CreateBuffer;
    PFN_vkDestroyBuffer DestroyBuffer;
    PFN_vkGetBufferMemoryRequirements GetBufferMemoryRequirements;
    PFN_vkAllocateMemory AllocateMemory;
    PFN_vkFreeMemory FreeMemory;
    PFN_vkBindBufferMemory BindBufferMemory;
} App;

static App g_app;
static pthread_mutex_t g_context_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_acquires = 0;

/* dlsym returns an object pointer; ISO C has no conversion to a function
 * pointer, so copy the bits (what POSIX guarantees to work). */
static PFN_vkVoidFunction to_function(void *sym) {
    PFN_vkVoidFunction f;
    memcpy(&f, &sym, sizeof(f));
    return f;
}

#define LOAD_INSTANCE(app, type, name) ((type)(app)->GetInstanceProcAddr((app)->instance, name))
#define LOAD_DEVICE(app, type, name) ((type)(app)->GetDeviceProcAddr((app)->device, name))

static int env_true(const char *name) {
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

/* Validation when the test suite asks for it or the runtime's own setting
 * names the Khronos layer. */
static int validation_requested(void) {
    const char *layers = getenv("HL_VK_LAYERS");
    if (layers == NULL || layers[0] == '\0') {
        layers = getenv("VK_INSTANCE_LAYERS");
    }
    return env_true("HVK_TEST_VALIDATION") ||
           (layers != NULL && strstr(layers, "VK_LAYER_KHRONOS_validation") != NULL);
}

static int layer_available(const char *name) {
    PFN_vkEnumerateInstanceLayerProperties Enumerate =
        (PFN_vkEnumerateInstanceLayerProperties)g_app.GetInstanceProcAddr(NULL, "vkEnumerateInstanceLayerProperties");
    uint32_t n = 0, i;
    VkLayerProperties *props;
    int found = 0;
    if (Enumerate == NULL || Enumerate(&n, NULL) != VK_SUCCESS || n == 0) {
        return 0;
    }
    props = (VkLayerProperties *)calloc(n, sizeof(*props));
    if (props == NULL) {
        return 0;
    }
    if (Enumerate(&n, props) == VK_SUCCESS) {
        for (i = 0; i < n; i++) {
            if (strcmp(props[i].layerName, name) == 0) {
                found = 1;
            }
        }
    }
    free(props);
    return found;
}

/* GPU before CPU, like the runtime's default. */
static int device_rank(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

static int create_app(void) {
    App *a = &g_app;
    const char *loader_name = getenv("HL_VK_LOADER_LIB");
    PFN_vkCreateInstance CreateInstance;
    PFN_vkEnumerateInstanceVersion EnumerateInstanceVersion;
    PFN_vkEnumeratePhysicalDevices EnumeratePhysicalDevices;
    PFN_vkGetPhysicalDeviceProperties GetProperties;
    PFN_vkGetPhysicalDeviceMemoryProperties GetMemoryProperties;
    PFN_vkGetPhysicalDeviceQueueFamilyProperties GetFamilies;
    PFN_vkGetPhysicalDeviceFeatures2 GetFeatures2;
    PFN_vkCreateDevice CreateDevice;
    PFN_vkGetDeviceQueue GetDeviceQueue;
    VkApplicationInfo app_info;
    VkInstanceCreateInfo ii;
    VkDebugUtilsMessengerCreateInfoEXT mi;
    const char *layers[1] = {"VK_LAYER_KHRONOS_validation"};
    const char *extensions[1] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    int validate = validation_requested();
    uint32_t loader_version = VK_API_VERSION_1_0;
    uint32_t count = 0, i, nf = 0;
    VkPhysicalDevice *devices = NULL;
    VkQueueFamilyProperties *families = NULL;
    int best = -1, found_family = 0, ok = 0;
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qi;
    VkDeviceCreateInfo di;
    VkPhysicalDeviceVulkan12Features f12;
    VkPhysicalDeviceFeatures2 f2;

    memset(a, 0, sizeof(*a));
    a->loader = dlopen(loader_name != NULL && loader_name[0] != '\0' ? loader_name : "libvulkan.so.1",
                       RTLD_NOW | RTLD_LOCAL);
    if (a->loader == NULL) {
        fail("cannot open the Vulkan loader: %s", dlerror());
        return 0;
    }
    a->GetInstanceProcAddr = (PFN_vkGetInstanceProcAddr)to_function(dlsym(a->loader, "vkGetInstanceProcAddr"));
    if (a->GetInstanceProcAddr == NULL) {
        fail("the loader has no vkGetInstanceProcAddr");
        return 0;
    }
    CreateInstance = LOAD_INSTANCE(a, PFN_vkCreateInstance, "vkCreateInstance");
    EnumerateInstanceVersion = LOAD_INSTANCE(a, PFN_vkEnumerateInstanceVersion, "vkEnumerateInstanceVersion");
    if (EnumerateInstanceVersion != NULL) {
        EnumerateInstanceVersion(&loader_version);
    }
    if (loader_version < VK_API_VERSION_1_1) {
        fail("the Vulkan loader supports only 1.0; the runtime needs 1.1");
        return 0;
    }
    if (validate && !layer_available(layers[0])) {
        fail("validation was requested but VK_LAYER_KHRONOS_validation is not installed");
        return 0;
    }

    memset(&mi, 0, sizeof(mi));
    mi.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
    mi.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    mi.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    mi.pfnUserCallback = on_vk_message;

    memset(&app_info, 0, sizeof(app_info));
    app_info.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    app_info.pApplicationName = "halide-vk-runtime c_host example";
    a->api_version = loader_version >= VK_API_VERSION_1_2 ? VK_API_VERSION_1_2 : VK_API_VERSION_1_1;
    app_info.apiVersion = a->api_version;

    memset(&ii, 0, sizeof(ii));
    ii.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    ii.pNext = validate ? &mi : NULL; /* also covers vkCreate/DestroyInstance */
    ii.pApplicationInfo = &app_info;
    ii.enabledLayerCount = validate ? 1u : 0u;
    ii.ppEnabledLayerNames = layers;
    ii.enabledExtensionCount = validate ? 1u : 0u;
    ii.ppEnabledExtensionNames = extensions;
    if (CreateInstance == NULL || CreateInstance(&ii, NULL, &a->instance) != VK_SUCCESS) {
        fail("vkCreateInstance failed");
        return 0;
    }
    a->DestroyInstance = LOAD_INSTANCE(a, PFN_vkDestroyInstance, "vkDestroyInstance");
    if (validate) {
        PFN_vkCreateDebugUtilsMessengerEXT CreateMessenger =
            LOAD_INSTANCE(a, PFN_vkCreateDebugUtilsMessengerEXT, "vkCreateDebugUtilsMessengerEXT");
        a->DestroyMessenger = LOAD_INSTANCE(a, PFN_vkDestroyDebugUtilsMessengerEXT, "vkDestroyDebugUtilsMessengerEXT");
        if (CreateMessenger == NULL || CreateMessenger(a->instance, &mi, NULL, &a->messenger) != VK_SUCCESS) {
            fail("vkCreateDebugUtilsMessengerEXT failed");
            return 0;
        }
    }
    EnumeratePhysicalDevices = LOAD_INSTANCE(a, PFN_vkEnumeratePhysicalDevices, "vkEnumeratePhysicalDevices");
    GetProperties = LOAD_INSTANCE(a, PFN_vkGetPhysicalDeviceProperties, "vkGetPhysicalDeviceProperties");
    GetMemoryProperties = LOAD_INSTANCE(a, PFN_vkGetPhysicalDeviceMemoryProperties, "vkGetPhysicalDeviceMemoryProperties");
    GetFamilies = LOAD_INSTANCE(a, PFN_vkGetPhysicalDeviceQueueFamilyProperties, "vkGetPhysicalDeviceQueueFamilyProperties");
    GetFeatures2 = LOAD_INSTANCE(a, PFN_vkGetPhysicalDeviceFeatures2, "vkGetPhysicalDeviceFeatures2");
    CreateDevice = LOAD_INSTANCE(a, PFN_vkCreateDevice, "vkCreateDevice");
    a->GetDeviceProcAddr = LOAD_INSTANCE(a, PFN_vkGetDeviceProcAddr, "vkGetDeviceProcAddr");

    if (EnumeratePhysicalDevices(a->instance, &count, NULL) != VK_SUCCESS || count == 0) {
        fail("no Vulkan device");
        return 0;
    }
    devices = (VkPhysicalDevice *)calloc(count, sizeof(*devices));
    if (devices == NULL || EnumeratePhysicalDevices(a->instance, &count, devices) != VK_SUCCESS) {
        fail("vkEnumeratePhysicalDevices failed");
        goto done;
    }
    for (i = 0; i < count; i++) {
        VkPhysicalDeviceProperties p;
        GetProperties(devices[i], &p);
        if (p.apiVersion >= VK_API_VERSION_1_1 &&
            (best < 0 || device_rank(p.deviceType) > device_rank(a->props.deviceType))) {
            best = (int)i;
            a->props = p;
        }
    }
    if (best < 0) {
        fail("no Vulkan 1.1 device");
        goto done;
    }
    a->physical = devices[best];
    if (a->props.apiVersion < a->api_version) {
        a->api_version = VK_API_VERSION_1_1;
    }
    GetMemoryProperties(a->physical, &a->memory);
    GetFamilies(a->physical, &nf, NULL);
    families = (VkQueueFamilyProperties *)calloc(nf > 0 ? nf : 1, sizeof(*families));
    if (families == NULL) {
        fail("out of memory");
        goto done;
    }
    GetFamilies(a->physical, &nf, families);
    for (i = 0; i < nf && !found_family; i++) {
        if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            a->family = i;
            found_family = 1;
        }
    }
    if (!found_family) {
        fail("%s has no compute queue", a->props.deviceName);
        goto done;
    }

    /* Optional features: 8-bit storage and arithmetic (Vulkan 1.2 core),
     * enabled when present, and then declared to the runtime. */
    memset(&f12, 0, sizeof(f12));
    f12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
    memset(&f2, 0, sizeof(f2));
    f2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
    memset(&a->enabled12, 0, sizeof(a->enabled12));
    a->enabled12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
    memset(&a->enabled_features, 0, sizeof(a->enabled_features));
    a->enabled_features.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
    if (a->api_version >= VK_API_VERSION_1_2 && GetFeatures2 != NULL) {
        f2.pNext = &f12;
        GetFeatures2(a->physical, &f2);
        if (f12.storageBuffer8BitAccess && f12.uniformAndStorageBuffer8BitAccess && f12.shaderInt8) {
            a->enabled12.storageBuffer8BitAccess = VK_TRUE;
            a->enabled12.uniformAndStorageBuffer8BitAccess = VK_TRUE;
            a->enabled12.shaderInt8 = VK_TRUE;
            a->has_8bit = 1;
        }
        a->enabled_features.pNext = &a->enabled12;
    }

    memset(&qi, 0, sizeof(qi));
    qi.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
    qi.queueFamilyIndex = a->family;
    qi.queueCount = 1;
    qi.pQueuePriorities = &priority;
    memset(&di, 0, sizeof(di));
    di.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
    di.pNext = a->api_version >= VK_API_VERSION_1_2 ? &a->enabled_features : NULL;
    di.queueCreateInfoCount = 1;
    di.pQueueCreateInfos = &qi;
    if (CreateDevice(a->physical, &di, NULL, &a->device) != VK_SUCCESS) {
        fail("vkCreateDevice failed");
        goto done;
    }
    GetDeviceQueue = LOAD_DEVICE(a, PFN_vkGetDeviceQueue, "vkGetDeviceQueue");
    GetDeviceQueue(a->device, a->family, 0, &a->queue);
    a->DestroyDevice = LOAD_DEVICE(a, PFN_vkDestroyDevice, "vkDestroyDevice");
    a->DeviceWaitIdle = LOAD_DEVICE(a, PFN_vkDeviceWaitIdle, "vkDeviceWaitIdle");
    a->CreateBuffer = LOAD_DEVICE(a, PFN_vkCreateBuffer, "vkCreateBuffer");
    a->DestroyBuffer = LOAD_DEVICE(a, PFN_vkDestroyBuffer, "vkDestroyBuffer");
    a->GetBufferMemoryRequirements = LOAD_DEVICE(a, PFN_vkGetBufferMemoryRequirements, "vkGetBufferMemoryRequirements");
    a->AllocateMemory = LOAD_DEVICE(a, PFN_vkAllocateMemory, "vkAllocateMemory");
    a->FreeMemory = LOAD_DEVICE(a, PFN_vkFreeMemory, "vkFreeMemory");
    a->BindBufferMemory = LOAD_DEVICE(a, PFN_vkBindBufferMemory, "vkBindBufferMemory");
    ok = 1;
done:
    free(devices);
    free(families);
    return ok;
}

static void destroy_app(void) {
    App *a = &g_app;
    if (a->device != VK_NULL_HANDLE) {
        a->DeviceWaitIdle(a->device);
        a->DestroyDevice(a->device, NULL);
    }
    if (a->messenger != VK_NULL_HANDLE) {
        a->DestroyMessenger(a->instance, a->messenger, NULL);
    }
    if (a->instance != VK_NULL_HANDLE) {
        a->DestroyInstance(a->instance, NULL);
    }
    if (a->loader != NULL) {
        dlclose(a->loader);
    }
    memset(a, 0, sizeof(*a));
}

/* ------------------------------------------------------------------------
 * The context override: these strong definitions replace the runtime's.
 * ------------------------------------------------------------------------ */

int halide_vulkan_acquire_context(void *user_context, halide_vulkan_memory_allocator **allocator,
                                  VkInstance *instance, VkDevice *device, VkPhysicalDevice *physical_device,
                                  VkQueue *queue, uint32_t *queue_family_index, VkDebugUtilsMessengerEXT *messenger,
                                  bool create) {
    (void)user_context;
    (void)create;
    pthread_mutex_lock(&g_context_lock);
    if (g_app.device == VK_NULL_HANDLE) {
        pthread_mutex_unlock(&g_context_lock);
        return halide_error_code_generic_error; /* no device yet: the caller must not release */
    }
    g_acquires++;
    *allocator = NULL; /* the runtime manages its own allocator for this device */
    *instance = g_app.instance;
    *device = g_app.device;
    *physical_device = g_app.physical;
    *queue = g_app.queue;
    *queue_family_index = g_app.family;
    *messenger = VK_NULL_HANDLE; /* ours stays ours */
    return 0;
}

int halide_vulkan_release_context(void *user_context, VkInstance instance, VkDevice device, VkQueue queue,
                                  VkDebugUtilsMessengerEXT messenger) {
    (void)user_context;
    (void)instance;
    (void)device;
    (void)queue;
    (void)messenger;
    pthread_mutex_unlock(&g_context_lock);
    return 0;
}

/* ------------------------------------------------------------------------
 * Buffers and kernels
 * ------------------------------------------------------------------------ */

static halide_type_t type_of(uint8_t code, uint8_t bits) {
    halide_type_t t;
    t.code = code;
    t.bits = bits;
    t.lanes = 1;
    return t;
}

/* A dense 1-D buffer over host memory `host` of n elements. */
static void make_buffer_1d(halide_buffer_t *b, halide_dimension_t *dim, void *host, int n, halide_type_t t) {
    memset(b, 0, sizeof(*b));
    memset(dim, 0, sizeof(*dim));
    dim->min = 0;
    dim->extent = n;
    dim->stride = 1;
    b->host = (uint8_t *)host;
    b->type = t;
    b->dimensions = 1;
    b->dim = dim;
}

/* A crop of a 1-D parent: elements [min, min + extent) in the parent's
 * coordinates, sharing its host memory. */
static void make_crop_1d(halide_buffer_t *crop, halide_dimension_t *dim, const halide_buffer_t *parent, int min,
                         int extent) {
    memset(crop, 0, sizeof(*crop));
    *dim = parent->dim[0];
    dim->min = min;
    dim->extent = extent;
    crop->host = parent->host + (size_t)(min - parent->dim[0].min) * (size_t)((parent->type.bits + 7) / 8);
    crop->type = parent->type;
    crop->dimensions = 1;
    crop->dim = dim;
}

/* Argument lists exactly as Halide's generated code passes them: buffers
 * as halide_buffer_t pointers, scalars as pointers to their value, ended by
 * a zero size. */
static int run_scale(void *state, halide_buffer_t *out, halide_buffer_t *in, float scale, float bias, int n) {
    size_t sizes[6] = {sizeof(uint64_t), sizeof(uint64_t), sizeof(float), sizeof(float), sizeof(int32_t), 0};
    void *args[6];
    int8_t is_buffer[6] = {1, 1, 0, 0, 0, 0};
    int32_t n32 = n;
    args[0] = out;
    args[1] = in;
    args[2] = &scale;
    args[3] = &bias;
    args[4] = &n32;
    args[5] = NULL;
    return halide_vulkan_run(NULL, state, "k_scale_f32", (n + 63) / 64, 1, 1, 64, 1, 1, 0, sizes, args, is_buffer);
}

/* k_brighten2d_u8: out(x, y) = min(in(x, y) * gain / 256 + bias, 255). */
static int run_brighten(void *state, halide_buffer_t *out, halide_buffer_t *in, int gain, int bias) {
    size_t sizes[9];
    void *args[9];
    int8_t is_buffer[9] = {1, 1, 0, 0, 0, 0, 0, 0, 0};
    int32_t scalars[6];
    int k;
    scalars[0] = out->dim[0].extent;
    scalars[1] = out->dim[1].extent;
    scalars[2] = gain;
    scalars[3] = bias;
    scalars[4] = out->dim[1].stride;
    scalars[5] = in->dim[1].stride;
    sizes[0] = sizes[1] = sizeof(uint64_t);
    args[0] = out;
    args[1] = in;
    for (k = 0; k < 6; k++) {
        sizes[2 + k] = sizeof(int32_t);
        args[2 + k] = &scalars[k];
    }
    sizes[8] = 0;
    args[8] = NULL;
    return halide_vulkan_run(NULL, state, "k_brighten2d_u8", (scalars[0] + 15) / 16, (scalars[1] + 15) / 16, 1, 16,
                             16, 1, 0, sizes, args, is_buffer);
}

static uint32_t find_memory_type(uint32_t bits, VkMemoryPropertyFlags want) {
    uint32_t i;
    for (i = 0; i < g_app.memory.memoryTypeCount; i++) {
        if ((bits & (1u << i)) && (g_app.memory.memoryTypes[i].propertyFlags & want) == want) {
            return i;
        }
    }
    return UINT32_MAX;
}

static uint64_t align_up(uint64_t v, uint64_t a) {
    return (v + a - 1) / a * a;
}

enum { N = 1000, CROP_MIN = 203, CROP_EXTENT = 500, BW = 37, BH = 21, NB = BW * BH };

int main(void) {
    App *a = &g_app;
    const halide_device_interface_t *vk = halide_vulkan_device_interface();
    halide_vk_device_capabilities caps;
    const char *device_extensions[1] = {NULL};
    VkBuffer mine = VK_NULL_HANDLE;
    VkDeviceMemory mine_memory = VK_NULL_HANDLE;
    VkBufferCreateInfo bi;
    VkMemoryRequirements req;
    VkMemoryAllocateInfo ai;
    uint32_t type;
    uint64_t align = 1, off_aligned = 0, off_element = 0, off_bytes = 0, buffer_size = 0;
    void *scale_state = NULL, *demo_state = NULL;
    float in_host[N], out_host[N], out2_host[N];
    uint8_t u8_in_host[NB], u8_out_host[NB];
    halide_dimension_t in_dim, out_dim, out2_dim, crop_dim, in_crop_dim, u8_in_dim[2], u8_out_dim[2];
    halide_buffer_t in, out, out2, crop, in_crop, u8_in, u8_out;
    char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
    int i, ran_8bit = 0;

    halide_set_error_handler(on_halide_error);
    memset(&in, 0, sizeof(in));
    memset(&out, 0, sizeof(out));
    memset(&out2, 0, sizeof(out2));
    memset(&crop, 0, sizeof(crop));
    memset(&in_crop, 0, sizeof(in_crop));
    memset(&u8_in, 0, sizeof(u8_in));
    memset(&u8_out, 0, sizeof(u8_out));

    printf("c_host: halide-vk-runtime %s (header %d.%d.%d)\n", halide_vk_runtime_version(),
           HALIDE_VK_RUNTIME_VERSION_MAJOR, HALIDE_VK_RUNTIME_VERSION_MINOR, HALIDE_VK_RUNTIME_VERSION_PATCH);
    if (!create_app()) {
        goto cleanup;
    }
    printf("c_host: own device: %s (Vulkan %u.%u, validation %s, 8-bit storage %s)\n", a->props.deviceName,
           VK_API_VERSION_MAJOR(a->api_version), VK_API_VERSION_MINOR(a->api_version),
           a->messenger != VK_NULL_HANDLE ? "on" : "off", a->has_8bit ? "enabled" : "absent");

    /* What we enabled on the device: the runtime cannot query it. */
    memset(&caps, 0, sizeof(caps));
    caps.struct_size = sizeof(caps);
    caps.api_version = a->api_version;
    caps.enabled_extension_count = 0;
    caps.enabled_extension_names = device_extensions;
    caps.enabled_features = a->api_version >= VK_API_VERSION_1_2 ? &a->enabled_features : NULL;
    CHECK_RC(halide_vk_declare_device_capabilities(NULL, a->device, &caps));

    /* The runtime must be using our device, not one of its own. */
    CHECK_RC(halide_vk_get_selected_device_name(NULL, name, sizeof(name)));
    if (strcmp(name, a->props.deviceName) != 0) {
        fail("runtime reports device \"%s\", expected ours (\"%s\")", name, a->props.deviceName);
    }
    if (halide_vulkan_is_initialized()) {
        fail("the runtime created a Vulkan context of its own");
    }

    /* Our own VkBuffer with our own memory: two windows for Halide, at an
     * offset that is a multiple of minStorageBufferOffsetAlignment and at one
     * that is only a multiple of the element size (4 bytes). */
    align = a->props.limits.minStorageBufferOffsetAlignment > 0 ? a->props.limits.minStorageBufferOffsetAlignment : 1;
    off_aligned = 3 * align;
    off_element = align_up(off_aligned + N * sizeof(float), align) + sizeof(float);
    off_bytes = align_up(off_element + N * sizeof(float), align) + 1; /* u8 window: any byte */
    buffer_size = off_bytes + NB + 64;
    memset(&bi, 0, sizeof(bi));
    bi.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    bi.size = buffer_size;
    bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    if (a->CreateBuffer(a->device, &bi, NULL, &mine) != VK_SUCCESS) {
        fail("vkCreateBuffer failed");
        goto cleanup;
    }
    a->GetBufferMemoryRequirements(a->device, mine, &req);
    type = find_memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type == UINT32_MAX) {
        type = find_memory_type(req.memoryTypeBits, 0);
    }
    memset(&ai, 0, sizeof(ai));
    ai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = type;
    if (type == UINT32_MAX || a->AllocateMemory(a->device, &ai, NULL, &mine_memory) != VK_SUCCESS ||
        a->BindBufferMemory(a->device, mine, mine_memory, 0) != VK_SUCCESS) {
        fail("cannot allocate and bind memory for our VkBuffer");
        goto cleanup;
    }
    printf("c_host: own VkBuffer of %llu bytes; windows at offsets %llu (storage-aligned, alignment %llu), "
           "%llu (element-aligned), %llu (byte)\n",
           (unsigned long long)buffer_size, (unsigned long long)off_aligned, (unsigned long long)align,
           (unsigned long long)off_element, (unsigned long long)off_bytes);

    /* Input: a runtime-owned device buffer, uploaded from host memory. */
    for (i = 0; i < N; i++) {
        in_host[i] = (float)(i - 100);
        out_host[i] = -1.0f;
        out2_host[i] = -1.0f;
    }
    make_buffer_1d(&in, &in_dim, in_host, N, type_of(halide_type_float, 32));
    in.flags |= halide_buffer_flag_host_dirty;
    CHECK_RC(halide_copy_to_device(NULL, &in, vk));

    /* Outputs: our VkBuffer at the two offsets. */
    make_buffer_1d(&out, &out_dim, out_host, N, type_of(halide_type_float, 32));
    make_buffer_1d(&out2, &out2_dim, out2_host, N, type_of(halide_type_float, 32));
    CHECK_RC(halide_vulkan_wrap_vk_buffer(NULL, &out, (uint64_t)(uintptr_t)mine, off_aligned));
    CHECK_RC(halide_vulkan_wrap_vk_buffer(NULL, &out2, (uint64_t)(uintptr_t)mine, off_element));
    if ((uint64_t)halide_vulkan_get_vk_buffer(NULL, &out) != (uint64_t)(uintptr_t)mine ||
        halide_vulkan_get_vk_crop_offset(NULL, &out) != off_aligned ||
        halide_vulkan_get_vk_crop_offset(NULL, &out2) != off_element) {
        fail("get_vk_buffer / get_vk_crop_offset do not report our buffer and offsets");
    }

    /* One "pipeline call": initialize, three dispatches, finalize.
     *   out  = in * 3 + 1
     *   out2 = in * -2 + 0.5
     *   out[CROP_MIN, +CROP_EXTENT) = in[same] * 0.5 - 2   (through crops) */
    CHECK_RC(halide_vulkan_initialize_kernels(NULL, &scale_state, (const char *)hvk_c_blob_basic.bytes,
                                              hvk_c_blob_basic_size));
    CHECK_RC(run_scale(scale_state, &out, &in, 3.0f, 1.0f, N));
    CHECK_RC(run_scale(scale_state, &out2, &in, -2.0f, 0.5f, N));
    make_crop_1d(&crop, &crop_dim, &out, CROP_MIN, CROP_EXTENT);
    make_crop_1d(&in_crop, &in_crop_dim, &in, CROP_MIN, CROP_EXTENT);
    CHECK_RC(halide_device_crop(NULL, &out, &crop));
    CHECK_RC(halide_device_crop(NULL, &in, &in_crop));
    if (halide_vulkan_get_vk_crop_offset(NULL, &crop) != off_aligned + CROP_MIN * sizeof(float)) {
        fail("crop offset %llu, expected %llu", (unsigned long long)halide_vulkan_get_vk_crop_offset(NULL, &crop),
             (unsigned long long)(off_aligned + CROP_MIN * sizeof(float)));
    }
    CHECK_RC(run_scale(scale_state, &crop, &in_crop, 0.5f, -2.0f, CROP_EXTENT));
    halide_vulkan_finalize_kernels(NULL, scale_state);
    out.flags |= halide_buffer_flag_device_dirty;
    out2.flags |= halide_buffer_flag_device_dirty;

    /* Results back into host memory (waits for the batch), then checks. */
    CHECK_RC(halide_copy_to_host(NULL, &out));
    CHECK_RC(halide_copy_to_host(NULL, &out2));
    for (i = 0; i < N; i++) {
        float x = in_host[i];
        float want = (i >= CROP_MIN && i < CROP_MIN + CROP_EXTENT) ? x * 0.5f - 2.0f : x * 3.0f + 1.0f;
        float want2 = x * -2.0f + 0.5f;
        if (out_host[i] != want || out2_host[i] != want2) {
            fail("element %d: got %g and %g, expected %g and %g", i, out_host[i], out2_host[i], want, want2);
            break;
        }
    }

    /* 8-bit 2-D kernel writing a byte-offset window, when the device can
     * run it (it needs the 8-bit features we enabled and declared). */
    if (a->has_8bit) {
        for (i = 0; i < NB; i++) {
            u8_in_host[i] = (uint8_t)(i * 7);
            u8_out_host[i] = 0;
        }
        make_buffer_1d(&u8_in, u8_in_dim, u8_in_host, BW, type_of(halide_type_uint, 8));
        make_buffer_1d(&u8_out, u8_out_dim, u8_out_host, BW, type_of(halide_type_uint, 8));
        u8_in_dim[1].min = u8_out_dim[1].min = 0;
        u8_in_dim[1].extent = u8_out_dim[1].extent = BH;
        u8_in_dim[1].stride = u8_out_dim[1].stride = BW;
        u8_in_dim[1].flags = u8_out_dim[1].flags = 0;
        u8_in.dimensions = u8_out.dimensions = 2;
        u8_in.flags |= halide_buffer_flag_host_dirty;
        CHECK_RC(halide_copy_to_device(NULL, &u8_in, vk));
        CHECK_RC(halide_vulkan_wrap_vk_buffer(NULL, &u8_out, (uint64_t)(uintptr_t)mine, off_bytes));
        CHECK_RC(halide_vulkan_initialize_kernels(NULL, &demo_state, (const char *)hvk_c_blob_demo.bytes,
                                                  hvk_c_blob_demo_size));
        CHECK_RC(run_brighten(demo_state, &u8_out, &u8_in, 384, 9));
        halide_vulkan_finalize_kernels(NULL, demo_state);
        u8_out.flags |= halide_buffer_flag_device_dirty;
        CHECK_RC(halide_copy_to_host(NULL, &u8_out));
        for (i = 0; i < NB; i++) {
            unsigned v = (unsigned)u8_in_host[i] * 384u / 256u + 9u;
            unsigned want = v < 255u ? v : 255u;
            if (u8_out_host[i] != want) {
                fail("brighten element %d: got %u, expected %u", i, (unsigned)u8_out_host[i], want);
                break;
            }
        }
        ran_8bit = 1;
    }

cleanup:
    /* Crops first, then detach what we wrapped (our VkBuffer survives), then
     * free what the runtime allocated. Each is a no-op on an empty buffer. */
    if (crop.device != 0 && halide_device_release_crop(NULL, &crop) != 0) {
        fail("halide_device_release_crop");
    }
    if (in_crop.device != 0 && halide_device_release_crop(NULL, &in_crop) != 0) {
        fail("halide_device_release_crop");
    }
    if (halide_vulkan_detach_vk_buffer(NULL, &out) != 0 || halide_vulkan_detach_vk_buffer(NULL, &out2) != 0 ||
        halide_vulkan_detach_vk_buffer(NULL, &u8_out) != 0) {
        fail("halide_vulkan_detach_vk_buffer");
    }
    if (out.device != 0 || out2.device != 0 || u8_out.device != 0) {
        fail("detach left a device handle behind");
    }
    if (halide_device_free(NULL, &in) != 0 || halide_device_free(NULL, &u8_in) != 0) {
        fail("halide_device_free");
    }
    if (a->device != VK_NULL_HANDLE) {
        /* Drops everything the runtime made on our device (pipelines,
         * allocator, command pools); never our device or instance. */
        halide_device_release(NULL, vk);
        if (halide_vulkan_is_initialized()) {
            fail("the runtime holds a context after halide_device_release");
        }
    }
    if (mine != VK_NULL_HANDLE) {
        a->DestroyBuffer(a->device, mine, NULL);
    }
    if (mine_memory != VK_NULL_HANDLE) {
        a->FreeMemory(a->device, mine_memory, NULL);
    }
    destroy_app();
    if (g_runtime_errors > 0) {
        fail("%d error(s) reported through halide_error", g_runtime_errors);
    }
    if (g_validation_messages > 0) {
        fail("%d validation message(s)", g_validation_messages);
    }
    if (g_failures == 0) {
        printf("c_host: OK: scale_f32 on a wrapped VkBuffer at offsets %llu and %llu and on a crop at %llu%s; "
               "%d context acquisitions\n",
               (unsigned long long)off_aligned, (unsigned long long)off_element,
               (unsigned long long)(off_aligned + CROP_MIN * sizeof(float)),
               ran_8bit ? ", brighten2d_u8 at a byte offset" : "", g_acquires);
        return 0;
    }
    fprintf(stderr, "c_host: %d failure(s)\n", g_failures);
    return 1;
}
