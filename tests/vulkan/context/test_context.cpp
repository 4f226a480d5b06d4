// The default Vulkan context through the public C API, on whatever device
// the test environment selects (lavapipe in CI): creation, selection
// errors, layers, the acquire/release critical section, the messenger.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "HalideRuntime.h"
#include "halide_vk_runtime.h"
#include "test_env.h"
#include "vk_test_util.h"

namespace {

std::string selected_name() {
    char name[256];
    int rc = halide_vk_get_selected_device_name(nullptr, name, sizeof(name));
    return rc == 0 ? std::string(name) : std::string("<error ") + std::to_string(rc) + ">";
}

// Each test that changes settings restores them and starts from a fresh context.
class ContextTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(halide_vulkan_device_release(nullptr), 0);
        saved_layers_ = halide_vulkan_get_layer_names(nullptr);
        saved_type_ = halide_vulkan_get_device_type(nullptr);
        hvk_test::clear_errors();
    }
    void TearDown() override {
        halide_vulkan_device_release(nullptr);
        halide_vulkan_set_layer_names(saved_layers_.c_str());
        halide_vulkan_set_device_type(saved_type_.c_str());
        unsetenv("HL_VK_DEVICE_INDEX");
    }
    std::string saved_layers_;
    std::string saved_type_;
};

TEST_F(ContextTest, CreatesContextOnTheTestDevice) {
    EXPECT_FALSE(halide_vulkan_is_initialized());
    std::string name = selected_name();
    EXPECT_EQ(name.find("<error"), std::string::npos) << name << " " << hvk_test::last_error();
    EXPECT_TRUE(halide_vulkan_is_initialized());
    const char *icd = std::getenv("VK_DRIVER_FILES");
    if (icd != nullptr && std::strstr(icd, "lvp_icd") != nullptr) {
        EXPECT_NE(name.find("llvmpipe"), std::string::npos) << name;
    }
    hvk_test::RuntimeHandles h;
    ASSERT_EQ(hvk_test::runtime_handles(&h), 0);
    EXPECT_NE(h.instance, VK_NULL_HANDLE);
    EXPECT_NE(h.device, VK_NULL_HANDLE);
    EXPECT_NE(h.queue, VK_NULL_HANDLE);
    EXPECT_TRUE(hvk_test::errors().empty());
}

TEST_F(ContextTest, ReleaseDestroysAndNextCallRecreates) {
    hvk_test::RuntimeHandles first;
    ASSERT_EQ(hvk_test::runtime_handles(&first), 0);
    EXPECT_EQ(halide_vulkan_device_release(nullptr), 0);
    EXPECT_FALSE(halide_vulkan_is_initialized());
    EXPECT_EQ(halide_vulkan_device_release(nullptr), 0);  // nothing to release: still fine
    hvk_test::RuntimeHandles second;
    ASSERT_EQ(hvk_test::runtime_handles(&second), 0);
    EXPECT_NE(second.device, VK_NULL_HANDLE);
    EXPECT_TRUE(halide_vulkan_is_initialized());
}

TEST_F(ContextTest, ComputeCapabilityReportsTheDeviceVersion) {
    int major = -1, minor = -1;
    EXPECT_EQ(halide_vulkan_compute_capability(nullptr, &major, &minor), 0);  // without a context
    EXPECT_EQ(major, 1);
    EXPECT_GE(minor, 1);
    EXPECT_FALSE(halide_vulkan_is_initialized()) << "compute_capability must not create the context";
    selected_name();
    int major2 = -1, minor2 = -1;
    EXPECT_EQ(halide_vulkan_compute_capability(nullptr, &major2, &minor2), 0);  // with one
    EXPECT_EQ(major2, major);
    EXPECT_EQ(minor2, minor);
}

TEST_F(ContextTest, UnknownDeviceTypeIsAClearErrorAndRecoverable) {
    halide_vulkan_set_device_type("quantum-gpu");
    char name[64];
    EXPECT_EQ(halide_vk_get_selected_device_name(nullptr, name, sizeof(name)), -36);
    EXPECT_TRUE(hvk_test::error_contains("HL_VK_DEVICE_TYPE=\"quantum-gpu\" is not one of")) << hvk_test::last_error();
    EXPECT_FALSE(halide_vulkan_is_initialized());
    halide_vulkan_set_device_type(saved_type_.c_str());
    EXPECT_EQ(selected_name().find("<error"), std::string::npos);
}

TEST_F(ContextTest, DeviceTypeWithoutSuchDeviceIsAnError) {
    // lavapipe is a CPU device; on a GPU machine the test asks for "cpu" instead.
    std::string name = selected_name();
    bool on_cpu = name.find("llvmpipe") != std::string::npos;
    halide_vulkan_device_release(nullptr);
    halide_vulkan_set_device_type(on_cpu ? "virtual-gpu" : "virtual-gpu");
    char buf[64];
    int rc = halide_vk_get_selected_device_name(nullptr, buf, sizeof(buf));
    if (rc == 0) {
        GTEST_SKIP() << "this machine has a virtual GPU";
    }
    EXPECT_EQ(rc, -36);
    EXPECT_TRUE(hvk_test::error_contains("no Vulkan device of HL_VK_DEVICE_TYPE=virtual-gpu")) << hvk_test::last_error();
}

TEST_F(ContextTest, DeviceIndexSelectsAndRejectsOutOfRange) {
    setenv("HL_VK_DEVICE_INDEX", "0", 1);
    EXPECT_EQ(selected_name().find("<error"), std::string::npos) << hvk_test::last_error();
    halide_vulkan_device_release(nullptr);
    setenv("HL_VK_DEVICE_INDEX", "97", 1);
    char buf[64];
    EXPECT_EQ(halide_vk_get_selected_device_name(nullptr, buf, sizeof(buf)), -36);
    EXPECT_TRUE(hvk_test::error_contains("HL_VK_DEVICE_INDEX=97 is out of range")) << hvk_test::last_error();
    setenv("HL_VK_DEVICE_INDEX", "first", 1);
    EXPECT_EQ(halide_vk_get_selected_device_name(nullptr, buf, sizeof(buf)), -36);
    EXPECT_TRUE(hvk_test::error_contains("HL_VK_DEVICE_INDEX=\"first\" is not a non-negative integer"));
}

TEST_F(ContextTest, MissingLayerIsAClearError) {
    halide_vulkan_set_layer_names("VK_LAYER_HVK_does_not_exist");
    char buf[64];
    EXPECT_EQ(halide_vk_get_selected_device_name(nullptr, buf, sizeof(buf)), -36);
    EXPECT_TRUE(hvk_test::error_contains("Vulkan layer VK_LAYER_HVK_does_not_exist")) << hvk_test::last_error();
    EXPECT_FALSE(halide_vulkan_is_initialized());
}

TEST_F(ContextTest, LayersOffAndOn) {
    halide_vulkan_set_layer_names("");
    EXPECT_EQ(selected_name().find("<error"), std::string::npos);
    halide_vulkan_device_release(nullptr);
    halide_vulkan_set_layer_names("VK_LAYER_KHRONOS_validation");
    std::string name = selected_name();
    if (name.find("<error") != std::string::npos) {
        GTEST_SKIP() << "validation layer not installed";
    }
    EXPECT_TRUE(hvk_test::errors().empty());
}

TEST_F(ContextTest, ValidationMessagesReachTheCounter) {
    if (!hvk_test::validation_enabled()) {
        GTEST_SKIP() << "suite runs without the validation layer";
    }
    hvk_test::RuntimeHandles h;
    ASSERT_EQ(hvk_test::runtime_handles(&h), 0);
    auto create_buffer = hvk_test::device_proc<PFN_vkCreateBuffer>(h.instance, h.device, "vkCreateBuffer");
    auto destroy_buffer = hvk_test::device_proc<PFN_vkDestroyBuffer>(h.instance, h.device, "vkDestroyBuffer");
    ASSERT_NE(create_buffer, nullptr);
    uint64_t before = halide_vk_get_validation_message_count();
    VkBufferCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    info.size = 0;  // invalid on purpose: VUID-VkBufferCreateInfo-size-00912
    info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
    info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VkBuffer b = VK_NULL_HANDLE;
    VkResult r = create_buffer(h.device, &info, nullptr, &b);
    if (r == VK_SUCCESS) {
        destroy_buffer(h.device, b, nullptr);
    }
    EXPECT_GT(halide_vk_get_validation_message_count(), before);
    hvk_test::allow_validation_messages();
}

TEST_F(ContextTest, AcquireBlocksUntilTheHolderReleases) {
    struct halide_vulkan_memory_allocator *a = nullptr;
    VkInstance inst;
    VkDevice dev;
    VkPhysicalDevice pd;
    VkQueue q;
    uint32_t fam;
    VkDebugUtilsMessengerEXT m;
    ASSERT_EQ(halide_vulkan_acquire_context(nullptr, &a, &inst, &dev, &pd, &q, &fam, &m, true), 0);
    std::atomic<bool> other_got_it{false};
    std::thread other([&] {
        hvk_test::RuntimeHandles h;
        hvk_test::runtime_handles(&h);
        other_got_it = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_FALSE(other_got_it.load());
    halide_vulkan_release_context(nullptr, inst, dev, q, m);
    other.join();
    EXPECT_TRUE(other_got_it.load());
}

TEST_F(ContextTest, SettersAndGettersRoundTrip) {
    halide_vulkan_set_build_options("-O3");
    EXPECT_STREQ(halide_vulkan_get_build_options(nullptr), "-O3");
    halide_vulkan_set_build_options(nullptr);
    EXPECT_STREQ(halide_vulkan_get_build_options(nullptr), "");
    std::string long_value(5000, 'x');
    halide_vulkan_set_extension_names(long_value.c_str());
    EXPECT_EQ(std::strlen(halide_vulkan_get_extension_names(nullptr)), 1023u);  // truncated, like Halide
    halide_vulkan_set_extension_names("");
    EXPECT_EQ(halide_vulkan_get_allocation_callbacks(nullptr), nullptr);
}

TEST(RuntimeInfo, VersionAndConfigSummary) {
    std::string expected = std::to_string(HALIDE_VK_RUNTIME_VERSION_MAJOR) + "." +
                           std::to_string(HALIDE_VK_RUNTIME_VERSION_MINOR) + "." +
                           std::to_string(HALIDE_VK_RUNTIME_VERSION_PATCH);
    EXPECT_EQ(expected, halide_vk_runtime_version());
    int full = halide_vk_runtime_get_config(nullptr, 0);
    ASSERT_GT(full, 0);
    std::string buf(static_cast<size_t>(full) + 1, '\0');
    EXPECT_EQ(halide_vk_runtime_get_config(&buf[0], buf.size()), full);
    EXPECT_NE(buf.find("HL_VK_LAYERS"), std::string::npos);
    EXPECT_NE(buf.find("HL_VK_DEVICE_INDEX"), std::string::npos);
    char small[8];
    EXPECT_EQ(halide_vk_runtime_get_config(small, sizeof(small)), full);
    EXPECT_EQ(std::strlen(small), 7u);
}

}  // namespace
