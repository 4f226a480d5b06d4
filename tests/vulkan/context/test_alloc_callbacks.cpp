// Host memory accounting: with VkAllocationCallbacks set before the first
// Vulkan call, every allocation made for the context (ours, the loader's,
// the driver's, the layers') is returned once the context is released.
#include <gtest/gtest.h>

#include <vulkan/vulkan.h>

#include "counting_vk_allocator.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"
#include "test_env.h"

namespace {

hvk_test::CountingVkBooks g_counter;
VkAllocationCallbacks g_callbacks = hvk_test::counting_callbacks(&g_counter);

size_t live_count() {
    return g_counter.live_count();
}

TEST(AllocationCallbacks, ContextLifetimeReturnsEveryHostAllocation) {
    halide_vulkan_set_allocation_callbacks(&g_callbacks);
    EXPECT_EQ(halide_vulkan_get_allocation_callbacks(nullptr), &g_callbacks);
    for (int round = 0; round < 2; round++) {
        char name[256];
        ASSERT_EQ(halide_vk_get_selected_device_name(nullptr, name, sizeof(name)), 0) << hvk_test::last_error();
        EXPECT_GT(g_counter.allocations, 0u);
        EXPECT_GT(live_count(), 0u) << "the context's objects should be allocated through the callbacks";
        EXPECT_EQ(halide_vulkan_device_release(nullptr), 0);
        EXPECT_EQ(live_count(), 0u) << "round " << round << ": host allocations leaked";
    }
}

}  // namespace
