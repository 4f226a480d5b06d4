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

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <vulkan/vulkan.h>

#include "app_vk_device.h"
#include "f32_kernel_buffer.h"
#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"
#include "test_env.h"
#include "test_kernel_blobs.h"

namespace {

using hvk_test::env_int;

hvk_test::AppVkDevice g_app;
std::atomic<int> g_acquires{0};
std::atomic<int> g_in_flight{0};
std::atomic<int> g_max_in_flight{0};

bool create_app() {
    hvk_test::AppVkOptions options;
    options.app_name = "override-concurrency-test";
    options.validation = hvk_test::validation_enabled();
    return hvk_test::create_app_vk_device(&g_app, options);
}

void destroy_app() {
    if (g_app.device != VK_NULL_HANDLE) {
        g_app.DeviceWaitIdle(g_app.device);
    }
    hvk_test::destroy_app_vk_device(&g_app);
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

using FBuf = hvk_test::F32Buf;

int run_scale(halide_buffer_t *out, halide_buffer_t *in, float scale, float bias, int n) {
    return hvk_test::run_scale_f32(g_slot, out, in, scale, bias, n);
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
