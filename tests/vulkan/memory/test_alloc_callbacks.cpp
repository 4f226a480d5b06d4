// Host memory accounting: with VkAllocationCallbacks set before the context
// exists, the runtime's own metadata (region table slabs, per-device state)
// goes through them, and after halide_device_release nothing is left, either
// in the callbacks' books or in the runtime's own count.
#include <gtest/gtest.h>

#include "counting_vk_allocator.h"
#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"
#include "vulkan/util/host_alloc.h"
#include "memory_test_util.h"
#include "vulkan/memory/region_table.h"
#include "test_env.h"

namespace {

hvk_test::CountingVkBooks g_books;
VkAllocationCallbacks g_callbacks = hvk_test::counting_callbacks(&g_books);

size_t live_count() {
    return g_books.live_count();
}

using memtest::Buf;

TEST(AllocCallbacks, MetadataGoesThroughTheCallbacksAndNothingLeaks) {
    ASSERT_FALSE(halide_vulkan_is_initialized()) << "callbacks must be set before the context exists";
    halide_vulkan_set_allocation_callbacks(&g_callbacks);
    ASSERT_EQ(halide_vulkan_get_allocation_callbacks(nullptr), &g_callbacks);

    Buf a(memtest::f32(), {300, 7});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
    const uint64_t after_first = g_books.allocations;
    EXPECT_GT(after_first, 0u);
    // The region table's slab came from the callbacks: a slab is the
    // largest single runtime allocation here.
    EXPECT_GE(hvk::region_stats(nullptr).slabs, 1u);

    Buf c(memtest::f32(), {1});
    c.crop_from(a, {10, 1}, {100, 3});
    ASSERT_EQ(halide_vulkan_device_crop(nullptr, &a.b, &c.b), 0);
    Buf w(memtest::f32(), {64});
    ASSERT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &w.b, halide_vulkan_get_vk_buffer(nullptr, &a.b), 64), 0);
    a.fill(3);
    a.b.set_host_dirty(true);
    ASSERT_EQ(halide_copy_to_device(nullptr, &a.b, memtest::vk()), 0);
    w.b.set_device_dirty(true);
    ASSERT_EQ(halide_copy_to_host(nullptr, &w.b), 0);
    EXPECT_EQ(std::memcmp(w.storage.data(), a.storage.data() + 64, 256), 0);
    ASSERT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &w.b), 0);
    ASSERT_EQ(halide_vulkan_device_release_crop(nullptr, &c.b), 0);
    ASSERT_EQ(halide_vulkan_device_free(nullptr, &a.b), 0);

    // Warm: a malloc/free pair allocates no host memory at all.
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
    ASSERT_EQ(halide_vulkan_device_free(nullptr, &a.b), 0);
    const uint64_t warm = g_books.allocations;
    const uint64_t runtime_warm = hvk::host_alloc_stats().total_allocations;
    for (int i = 0; i < 20; i++) {
        ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
        ASSERT_EQ(halide_vulkan_device_free(nullptr, &a.b), 0);
    }
    EXPECT_EQ(g_books.allocations, warm);
    EXPECT_EQ(hvk::host_alloc_stats().total_allocations, runtime_warm);
    EXPECT_GT(live_count(), 0u);

    halide_device_release(nullptr, memtest::vk());
    EXPECT_FALSE(halide_vulkan_is_initialized());
    EXPECT_EQ(hvk::host_alloc_stats().live_allocations, 0u) << "runtime host allocations left after release";
    EXPECT_EQ(live_count(), 0u) << "allocations made through the callbacks were not all freed";
    EXPECT_EQ(g_books.allocations, g_books.frees);
    halide_vulkan_set_allocation_callbacks(nullptr);
}

}  // namespace
