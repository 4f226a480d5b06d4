// Allocation-failure injection (issue 6 item 4), in the manner of the Vulkan
// CTS's DeterministicFailAllocator: for N = 1, 2, ... fail the N-th
// allocation and run a representative workload (faults_workload.h) until it
// runs to completion without reaching the N-th allocation. Every failure
// must come back as an error code (no crash, no abort: the error handler
// records), everything must be released afterwards with nothing leaked,
// and the runtime must work again right after.
//
//  * HostMetadata: the runtime's own host allocations (hvk::host_alloc_fail_nth;
//    counted by hvk::host_alloc_stats).
//  * DeviceMemory: device-memory exhaustion, through HL_VK_ALLOC_CONFIG's
//    maximum block count with blocks sized to each request ("0:0:0:N"): the
//    (N+1)-th vkAllocateMemory is refused, for N = 1, 2, ...
//  * HalideMalloc: halide_set_custom_malloc returning null on the N-th call
//    (halide_device_and_host_malloc and the Vulkan backend's own).
// Injection through VkAllocationCallbacks, which reaches the loader, the
// driver and the layers, is in test_faults_vk_callbacks.cpp (no validation).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "faults_workload.h"
#include "halide_vk_runtime.h"
#include "vulkan/util/host_alloc.h"
#include "vulkan/memory/region_table.h"
#include "test_env.h"

namespace {

using faults::Workload;

// The codes the workload's calls may return when an allocation fails. A raw
// VkResult passed through as a Halide code (spec 08 item 32) would show up
// as -2 (VK_ERROR_OUT_OF_DEVICE_MEMORY) or another code outside this list.
bool is_expected_code(int rc) {
    switch (rc) {
    case -1:   // generic (kernel compilation), or a Vulkan failure
    case -11:  // out of memory
    case -14:  // copy_to_host_failed
    case -15:  // copy_to_device_failed
    case -16:  // device_malloc_failed
    case -22:  // internal (run: state without compiled kernels)
    case -23:  // device_run_failed
    case -36:  // context could not be acquired
    case -39:  // device_buffer_copy_failed
    case -41:  // device_crop_failed
        return true;
    default:
        return false;
    }
}

TEST(Faults, HostMetadataAllocations) {
    halide_device_release(nullptr, faults::vk());
    ASSERT_FALSE(halide_vulkan_is_initialized());
    const uint64_t baseline = hvk::host_alloc_stats().live_allocations;

    // How many allocations one complete workload makes.
    uint64_t total;
    {
        const uint64_t before = hvk::host_alloc_stats().total_allocations;
        Workload w;
        ASSERT_EQ(w.run(), 0) << w.step << ": " << hvk_test::last_error();
        w.check_results();
        w.cleanup();
        total = hvk::host_alloc_stats().total_allocations - before;
        ASSERT_EQ(hvk::host_alloc_stats().live_allocations, baseline);
    }
    ASSERT_GT(total, 5u);

    int survived = 0;
    std::map<std::string, int> where;  // "step -> code": what the failures looked like
    uint64_t n = 1;
    for (;; n++) {
        ASSERT_LT(n, total + 10) << "the workload keeps failing past its allocation count";
        hvk_test::clear_errors();
        const uint64_t failed_before = hvk::host_alloc_stats().failed_allocations;
        Workload w;
        hvk::host_alloc_fail_nth(n);
        const int rc = w.run();
        hvk::host_alloc_fail_nth(0);
        const bool injected = hvk::host_alloc_stats().failed_allocations != failed_before;
        if (!injected) {
            // N is past the workload's last allocation: a complete run.
            ASSERT_EQ(rc, 0) << "N=" << n << " " << w.step << ": " << hvk_test::last_error();
            w.check_results();
            w.cleanup();
            EXPECT_EQ(hvk::host_alloc_stats().live_allocations, baseline);
            break;
        }
        if (rc == 0) {
            // A failure the runtime absorbed (an optional cache, say): the
            // results must still be right.
            w.check_results();
        } else {
            EXPECT_TRUE(is_expected_code(rc)) << "N=" << n << " " << w.step << " returned " << rc;
            EXPECT_FALSE(hvk_test::errors().empty()) << "N=" << n << ": failure " << rc << " without a message";
        }
        where[(rc == 0 ? std::string("(absorbed)") : w.step) + " -> " + std::to_string(rc)]++;
        w.cleanup();
        ASSERT_EQ(hvk::host_alloc_stats().live_allocations, baseline)
            << "N=" << n << " (failed at " << w.step << ", rc " << rc << "): runtime host allocations leaked";
        survived++;
    }
    std::printf("host metadata: %d injected failures survived (N = 1..%llu), workload makes %llu allocations\n",
                survived, (unsigned long long)(n - 1), (unsigned long long)total);
    for (const auto &w : where) {
        std::printf("  %3d x %s\n", w.second, w.first.c_str());
    }
    EXPECT_EQ(uint64_t(survived), n - 1);
    // And the runtime works afterwards (the loop's last run was complete,
    // but do one more from a fresh context).
    Workload w;
    ASSERT_EQ(w.run(), 0) << w.step << ": " << hvk_test::last_error();
    w.check_results();
    w.cleanup();
    EXPECT_EQ(hvk::host_alloc_stats().live_allocations, baseline);
}

TEST(Faults, DeviceMemoryExhaustion) {
    halide_device_release(nullptr, faults::vk());
    const uint64_t baseline = hvk::host_alloc_stats().live_allocations;
    // Blocks are exactly as large as each request (minimum block size 0), so
    // every device allocation the workload makes needs a block of its own
    // and N blocks allow exactly N allocations.
    int survived = 0;
    int n = 1;
    for (;; n++) {
        ASSERT_LT(n, 64) << "the workload keeps failing with " << n << " blocks";
        char config[64];
        std::snprintf(config, sizeof(config), "0:0:0:%d", n);
        halide_vulkan_set_alloc_config(config);
        hvk_test::clear_errors();
        Workload w(1 << 16);  // 256 KiB buffers
        const int rc = w.run();
        if (rc == 0) {
            w.check_results();
        } else {
            EXPECT_TRUE(is_expected_code(rc)) << n << " blocks: " << w.step << " returned " << rc;
            EXPECT_TRUE(hvk_test::error_contains("maximum block count"))
                << n << " blocks: " << w.step << " failed (" << rc << ") for another reason: "
                << hvk_test::last_error();
        }
        halide_vk_memory_stats ms{};
        ASSERT_EQ(halide_vk_get_memory_stats(nullptr, &ms), 0);
        EXPECT_LE(ms.block_count, uint64_t(n));
        w.cleanup(/*release=*/false);
        // Nothing of the workload left in the arena or the region table.
        ASSERT_EQ(halide_vk_get_memory_stats(nullptr, &ms), 0);
        EXPECT_EQ(ms.allocation_count, 0u) << n << " blocks";
        EXPECT_EQ(ms.allocated_bytes, 0u) << n << " blocks";
        halide_device_release(nullptr, faults::vk());
        EXPECT_EQ(hvk::host_alloc_stats().live_allocations, baseline) << n << " blocks";
        if (rc == 0) {
            break;
        }
        survived++;
    }
    halide_vulkan_set_alloc_config(nullptr);
    std::printf("device memory: %d exhaustion points survived (block limits 1..%d); complete with %d blocks\n",
                survived, n - 1, n);
    EXPECT_GE(survived, 2);
    Workload w;
    ASSERT_EQ(w.run(), 0) << w.step << ": " << hvk_test::last_error();
    w.check_results();
    w.cleanup();
}

// halide_malloc: the generic layer's device_and_host_malloc and the Vulkan
// backend's.
std::atomic<int> g_malloc_calls{0};
std::atomic<int> g_malloc_fail_at{0};
std::atomic<int> g_malloc_live{0};

void *failing_malloc(void *uc, size_t size) {
    const int call = ++g_malloc_calls;
    if (call == g_malloc_fail_at) {
        return nullptr;
    }
    void *p = halide_default_malloc(uc, size);
    if (p != nullptr) {
        g_malloc_live++;
    }
    return p;
}

void counting_free(void *uc, void *p) {
    if (p != nullptr) {
        g_malloc_live--;
    }
    halide_default_free(uc, p);
}

TEST(Faults, HalideMalloc) {
    const halide_malloc_t old_malloc = halide_set_custom_malloc(failing_malloc);
    const halide_free_t old_free = halide_set_custom_free(counting_free);
    int survived = 0;
    int n = 1;
    for (;; n++) {
        ASSERT_LT(n, 10);
        hvk_test::clear_errors();
        g_malloc_calls = 0;
        g_malloc_fail_at = n;
        faults::Vec x(faults::f32(), 1000), y(faults::f32(), 300), z(faults::i32(), 77);
        x.b.host = y.b.host = z.b.host = nullptr;
        int rc = 0;
        int expect = 0;
        const char *step = "";
        if ((rc = halide_device_and_host_malloc(nullptr, &x.b, faults::vk())) != 0) {
            step = "halide_device_and_host_malloc x";
            expect = -16;
        } else if ((rc = halide_vulkan_device_and_host_malloc(nullptr, &y.b)) != 0) {
            step = "halide_vulkan_device_and_host_malloc y";
            expect = -34;
        } else if ((rc = halide_device_and_host_malloc(nullptr, &z.b, faults::vk())) != 0) {
            step = "halide_device_and_host_malloc z";
            expect = -16;
        }
        g_malloc_fail_at = 0;
        if (rc != 0) {
            EXPECT_EQ(rc, expect) << step;
            EXPECT_TRUE(hvk_test::error_contains("halide_malloc")) << hvk_test::last_error();
        }
        // A failed call leaves neither host nor device memory behind.
        for (faults::Vec *v : {&x, &y, &z}) {
            if (v->b.host == nullptr) {
                EXPECT_EQ(v->b.device, 0u) << step;
            }
            EXPECT_EQ(halide_device_and_host_free(nullptr, &v->b), 0);
            EXPECT_EQ(v->b.host, nullptr);
            EXPECT_EQ(v->b.device, 0u);
        }
        EXPECT_EQ(g_malloc_live, 0) << "halide_malloc'ed host memory leaked";
        halide_vk_memory_stats ms{};
        ASSERT_EQ(halide_vk_get_memory_stats(nullptr, &ms), 0);
        EXPECT_EQ(ms.allocation_count, 0u);
        if (rc == 0) {
            break;
        }
        survived++;
    }
    EXPECT_EQ(survived, 3);
    std::printf("halide_malloc: %d injected failures survived (N = 1..%d)\n", survived, n - 1);
    halide_set_custom_malloc(old_malloc);
    halide_set_custom_free(old_free);
    // The runtime works afterwards.
    Workload w;
    ASSERT_EQ(w.run(), 0) << w.step << ": " << hvk_test::last_error();
    w.check_results();
    w.cleanup();
}

}  // namespace
