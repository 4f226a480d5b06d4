// Concurrency with an application context whose
// halide_vulkan_acquire_context / release_context overrides do NOT
// serialise callers (docs/api.md, "Threads"): the runtime's per-device
// mutex alone must keep its own state consistent. The program creates its
// own VkInstance / VkDevice (never uses the queue itself, which is what
// makes a lock-free override legal), and T threads run the project's
// kernels on it at once, starting together so that the first calls race to
// adopt the device. Links the SHARED library so that the overrides
// interpose. Sizes: HVK_CONC_THREADS (8), HVK_CONC_RUNS (1000).
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <vulkan/vulkan.h>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"
#include "test_env.h"
#include "test_kernel_blobs.h"

namespace {

int env_int(const char *name, int fallback) {
    const char *v = std::getenv(name);
    int n = (v != nullptr) ? std::atoi(v) : 0;
    return n > 0 ? n : fallback;
}

struct App {
    void *lib = nullptr;
    VkInstance instance = VK_NULL_HANDLE;
    VkPhysicalDevice physical = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    VkQueue queue = VK_NULL_HANDLE;
    uint32_t family = 0;
    PFN_vkDestroyInstance DestroyInstance = nullptr;
    PFN_vkDestroyDevice DestroyDevice = nullptr;
    PFN_vkDeviceWaitIdle DeviceWaitIdle = nullptr;
};
App g_app;
std::atomic<int> g_acquires{0};
std::atomic<int> g_in_flight{0};
std::atomic<int> g_max_in_flight{0};

bool create_app() {
    App &a = g_app;
    a.lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (a.lib == nullptr) {
        return false;
    }
    auto gipa = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(a.lib, "vkGetInstanceProcAddr"));
    auto CreateInstance = reinterpret_cast<PFN_vkCreateInstance>(gipa(nullptr, "vkCreateInstance"));
    const char *layers[] = {"VK_LAYER_KHRONOS_validation"};
    VkApplicationInfo app{};
    app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    app.pApplicationName = "override-concurrency-test";
    app.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo ii{};
    ii.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    ii.pApplicationInfo = &app;
    ii.enabledLayerCount = hvk_test::validation_enabled() ? 1 : 0;
    ii.ppEnabledLayerNames = layers;
    if (CreateInstance(&ii, nullptr, &a.instance) != VK_SUCCESS) {
        return false;
    }
#define INSTANCE_FN(type, name) reinterpret_cast<type>(gipa(a.instance, name))
    a.DestroyInstance = INSTANCE_FN(PFN_vkDestroyInstance, "vkDestroyInstance");
    auto Enumerate = INSTANCE_FN(PFN_vkEnumeratePhysicalDevices, "vkEnumeratePhysicalDevices");
    auto Families = INSTANCE_FN(PFN_vkGetPhysicalDeviceQueueFamilyProperties, "vkGetPhysicalDeviceQueueFamilyProperties");
    auto CreateDevice = INSTANCE_FN(PFN_vkCreateDevice, "vkCreateDevice");
    auto gdpa = INSTANCE_FN(PFN_vkGetDeviceProcAddr, "vkGetDeviceProcAddr");
#undef INSTANCE_FN
    uint32_t count = 1;
    VkResult r = Enumerate(a.instance, &count, &a.physical);
    if ((r != VK_SUCCESS && r != VK_INCOMPLETE) || count == 0) {
        return false;
    }
    uint32_t nf = 0;
    Families(a.physical, &nf, nullptr);
    std::vector<VkQueueFamilyProperties> fams(nf);
    Families(a.physical, &nf, fams.data());
    bool found = false;
    for (uint32_t i = 0; i < nf && !found; i++) {
        if (fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            a.family = i;
            found = true;
        }
    }
    if (!found) {
        return false;
    }
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qi{};
    qi.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
    qi.queueFamilyIndex = a.family;
    qi.queueCount = 1;
    qi.pQueuePriorities = &priority;
    VkDeviceCreateInfo di{};
    di.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
    di.queueCreateInfoCount = 1;
    di.pQueueCreateInfos = &qi;
    if (CreateDevice(a.physical, &di, nullptr, &a.device) != VK_SUCCESS) {
        return false;
    }
    a.DestroyDevice = reinterpret_cast<PFN_vkDestroyDevice>(gdpa(a.device, "vkDestroyDevice"));
    a.DeviceWaitIdle = reinterpret_cast<PFN_vkDeviceWaitIdle>(gdpa(a.device, "vkDeviceWaitIdle"));
    auto GetQueue = reinterpret_cast<PFN_vkGetDeviceQueue>(gdpa(a.device, "vkGetDeviceQueue"));
    GetQueue(a.device, a.family, 0, &a.queue);
    return true;
}

void destroy_app() {
    App &a = g_app;
    if (a.device != VK_NULL_HANDLE) {
        a.DeviceWaitIdle(a.device);
        a.DestroyDevice(a.device, nullptr);
    }
    if (a.instance != VK_NULL_HANDLE) {
        a.DestroyInstance(a.instance, nullptr);
    }
    a = App{};
}

}  // namespace

// The overrides: no lock at all; they count how many calls overlap.
extern "C" int halide_vulkan_acquire_context(void *, halide_vulkan_memory_allocator **allocator, VkInstance *instance,
                                             VkDevice *device, VkPhysicalDevice *physical_device, VkQueue *queue,
                                             uint32_t *queue_family_index, VkDebugUtilsMessengerEXT *messenger,
                                             bool) {
    g_acquires++;
    int now = ++g_in_flight;
    int seen = g_max_in_flight.load();
    while (now > seen && !g_max_in_flight.compare_exchange_weak(seen, now)) {
    }
    *allocator = nullptr;
    *instance = g_app.instance;
    *device = g_app.device;
    *physical_device = g_app.physical;
    *queue = g_app.queue;
    *queue_family_index = g_app.family;
    *messenger = VK_NULL_HANDLE;
    return 0;
}

extern "C" int halide_vulkan_release_context(void *, VkInstance, VkDevice, VkQueue, VkDebugUtilsMessengerEXT) {
    --g_in_flight;
    return 0;
}

namespace {

void *g_slot = nullptr;

struct FBuf {
    std::vector<float> storage;
    halide_dimension_t dim{};
    halide_buffer_t buf{};
    explicit FBuf(int n) : storage(size_t(n), 0.0f) {
        dim = {0, n, 1, 0};
        buf.host = reinterpret_cast<uint8_t *>(storage.data());
        buf.dim = &dim;
        buf.dimensions = 1;
        buf.type = halide_type_t(halide_type_float, 32, 1);
    }
    ~FBuf() {
        if (buf.device != 0) {
            halide_device_free(nullptr, &buf);
        }
    }
};

int run_scale(halide_buffer_t *out, halide_buffer_t *in, float scale, float bias, int n) {
    int32_t count = n;
    size_t sizes[] = {8, 8, 4, 4, 4, 0};
    void *args[] = {out, in, &scale, &bias, &count, nullptr};
    int8_t is_buffer[] = {1, 1, 0, 0, 0, 0};
    return halide_vulkan_run(nullptr, g_slot, "k_scale_f32", (n + 63) / 64, 1, 1, 64, 1, 1, 0, sizes, args,
                             is_buffer);
}

TEST(OverrideConcurrency, UnserialisedAcquireSharesOneDevice) {
    ASSERT_TRUE(create_app()) << "could not create the application's Vulkan device";
    const int nt = env_int("HVK_CONC_THREADS", 8), nr = env_int("HVK_CONC_RUNS", 1000);
    const int n = 64;
    const halide_device_interface_t *vk = halide_vulkan_device_interface();
    std::atomic<bool> go{false};
    std::atomic<int> failures{0};
    std::mutex first_mutex;
    std::string first;
    auto fail = [&](const char *what, int t, int r, int rc) {
        if (failures++ == 0) {
            std::lock_guard<std::mutex> lock(first_mutex);
            char buf[256];
            std::snprintf(buf, sizeof(buf), "thread %d run %d: %s (%d) [%s]", t, r, what, rc,
                          hvk_test::last_error().c_str());
            first = buf;
        }
    };
    std::vector<std::thread> pool;
    for (int t = 0; t < nt; t++) {
        pool.emplace_back([&, t] {
            while (!go.load()) {
                std::this_thread::yield();
            }
            FBuf in(n), out(n);
            for (int r = 0; r < nr; r++) {
                for (int i = 0; i < n; i++) {
                    in.storage[size_t(i)] = float(t * 1000 + r % 1000 + i);
                }
                in.buf.flags |= 1;
                int rc = halide_copy_to_device(nullptr, &in.buf, vk);
                if (rc != 0) { fail("copy_to_device", t, r, rc); return; }
                rc = halide_vulkan_initialize_kernels(nullptr, &g_slot, reinterpret_cast<const char *>(hvk_blob_basic),
                                                      int(hvk_blob_basic_size));
                if (rc != 0) { fail("initialize_kernels", t, r, rc); return; }
                if (out.buf.device == 0) {
                    rc = halide_device_malloc(nullptr, &out.buf, vk);
                    if (rc != 0) { fail("device_malloc", t, r, rc); return; }
                }
                rc = run_scale(&out.buf, &in.buf, 2.0f, float(t), n);
                if (rc != 0) { fail("run", t, r, rc); return; }
                halide_vulkan_finalize_kernels(nullptr, g_slot);
                out.buf.flags |= 2;
                rc = halide_copy_to_host(nullptr, &out.buf);
                if (rc != 0) { fail("copy_to_host", t, r, rc); return; }
                for (int i = 0; i < n; i++) {
                    if (out.storage[size_t(i)] != 2.0f * in.storage[size_t(i)] + float(t)) {
                        { fail("wrong result", t, r, i); return; }
                    }
                }
            }
        });
    }
    go = true;
    for (std::thread &th : pool) {
        th.join();
    }
    EXPECT_EQ(failures.load(), 0) << first;
    std::printf("%d threads x %d runs; %d acquires, at most %d calls in flight at once\n", nt, nr,
                g_acquires.load(), g_max_in_flight.load());
    // One Device for the application's VkDevice: a second one (two threads
    // adopting it at once) would show as a second device in the stats.
    EXPECT_EQ(halide_vulkan_device_release(nullptr), 0);
    destroy_app();
}

// The first calls on a device the runtime has not seen race to adopt it:
// exactly one Device may result. Each round: T threads start together,
// each allocates, frees and allocates again; then the runtime's state for
// the device is released. A second Device for the same VkDevice would make
// a handle from one fail against the other ("another VkDevice").
TEST(OverrideConcurrency, FirstUseRacesAdoptOneDevice) {
    ASSERT_TRUE(create_app()) << "could not create the application's Vulkan device";
    const int nt = env_int("HVK_CONC_THREADS", 8);
    const halide_device_interface_t *vk = halide_vulkan_device_interface();
    std::atomic<int> failures{0};
    std::string first;
    std::mutex first_mutex;
    for (int round = 0; round < 50 && failures.load() == 0; round++) {
        std::atomic<int> ready{0};
        std::vector<std::thread> pool;
        for (int t = 0; t < nt; t++) {
            pool.emplace_back([&, t] {
                ready++;
                while (ready.load() < nt) {
                }
                FBuf b(16);
                int rc = halide_device_malloc(nullptr, &b.buf, vk);
                if (rc == 0) {
                    rc = halide_device_free(nullptr, &b.buf);
                }
                if (rc == 0) {
                    rc = halide_device_malloc(nullptr, &b.buf, vk);
                }
                if (rc != 0 && failures++ == 0) {
                    std::lock_guard<std::mutex> lock(first_mutex);
                    first = "round " + std::to_string(round) + " thread " + std::to_string(t) + ": " +
                            std::to_string(rc) + " [" + hvk_test::last_error() + "]";
                }
            });
        }
        for (std::thread &th : pool) {
            th.join();
        }
        EXPECT_EQ(halide_vulkan_device_release(nullptr), 0);
    }
    EXPECT_EQ(failures.load(), 0) << first;
    destroy_app();
}

}  // namespace
