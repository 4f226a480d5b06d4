// Runs with HL_VK_LOADER_LIB=/nonexistent/libvulkan.so.1: every entry point
// that needs Vulkan fails with a clear message and an error code; nothing
// crashes, and the functions that must never fail still answer.
#include <gtest/gtest.h>

#include <string>

#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"
#include "test_env.h"

TEST(NoLoader, ContextCreationFailsClearly) {
    hvk_test::clear_errors();
    char name[64];
    EXPECT_EQ(halide_vk_get_selected_device_name(nullptr, name, sizeof(name)), -21);
    EXPECT_TRUE(hvk_test::error_contains("/nonexistent/libvulkan.so.1")) << hvk_test::last_error();
    EXPECT_TRUE(hvk_test::error_contains("symbol_not_found")) << hvk_test::last_error();
    EXPECT_FALSE(halide_vulkan_is_initialized());
    // A second attempt fails the same way (no cached half-state).
    EXPECT_EQ(halide_vk_get_selected_device_name(nullptr, name, sizeof(name)), -21);
}

TEST(NoLoader, GetSymbolReturnsNull) {
    EXPECT_EQ(halide_vulkan_get_symbol(nullptr, "vkGetInstanceProcAddr"), nullptr);
}

TEST(NoLoader, ComputeCapabilityReportsZeroWithoutError) {
    hvk_test::clear_errors();
    int major = -1, minor = -1;
    EXPECT_EQ(halide_vulkan_compute_capability(nullptr, &major, &minor), 0);
    EXPECT_EQ(major, 0);
    EXPECT_EQ(minor, 0);
}

TEST(NoLoader, ReleaseWithNothingCreatedSucceeds) {
    EXPECT_EQ(halide_vulkan_device_release(nullptr), 0);
}
