// Device choice as a pure function: default preference, HL_VK_DEVICE_TYPE,
// HL_VK_DEVICE_INDEX, and every bad value. No Vulkan needed.
#include <gtest/gtest.h>

#include <string>

#include "vulkan/context/device_select.h"

namespace {

using hvk::choose_physical_device;
using hvk::DeviceCandidate;

const DeviceCandidate kMixed[] = {
    {VK_PHYSICAL_DEVICE_TYPE_CPU, true, "llvmpipe"},
    {VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU, true, "igpu"},
    {VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, true, "dgpu"},
    {VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU, true, "vgpu"},
};

TEST(DeviceSelect, DefaultPrefersDiscreteThenIntegratedThenVirtualThenCpu) {
    EXPECT_EQ(choose_physical_device(kMixed, 4, "", nullptr).index, 2);
    EXPECT_EQ(choose_physical_device(kMixed, 2, "", nullptr).index, 1);
    EXPECT_EQ(choose_physical_device(kMixed, 1, "", nullptr).index, 0);
    const DeviceCandidate cpu_virtual[] = {kMixed[0], kMixed[3]};
    EXPECT_EQ(choose_physical_device(cpu_virtual, 2, "", nullptr).index, 1);
}

TEST(DeviceSelect, FirstOfEqualRankWins) {
    const DeviceCandidate two[] = {{VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, true, "a"},
                                   {VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, true, "b"}};
    EXPECT_EQ(choose_physical_device(two, 2, nullptr, nullptr).index, 0);
}

TEST(DeviceSelect, DeviceWithoutComputeQueueIsSkipped) {
    const DeviceCandidate c[] = {{VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, false, "display-only"},
                                 {VK_PHYSICAL_DEVICE_TYPE_CPU, true, "llvmpipe"}};
    EXPECT_EQ(choose_physical_device(c, 2, "", nullptr).index, 1);
    hvk::DeviceChoice none = choose_physical_device(c, 1, "", nullptr);
    EXPECT_EQ(none.index, -1);
    EXPECT_NE(std::string(none.reason).find("compute queue"), std::string::npos);
}

TEST(DeviceSelect, ByType) {
    EXPECT_EQ(choose_physical_device(kMixed, 4, "cpu", nullptr).index, 0);
    EXPECT_EQ(choose_physical_device(kMixed, 4, "integrated-gpu", nullptr).index, 1);
    EXPECT_EQ(choose_physical_device(kMixed, 4, "discrete-gpu", nullptr).index, 2);
    EXPECT_EQ(choose_physical_device(kMixed, 4, "virtual-gpu", nullptr).index, 3);
    // "gpu" means a real GPU, discrete preferred (Halide takes whichever comes first).
    EXPECT_EQ(choose_physical_device(kMixed, 4, "gpu", nullptr).index, 2);
    EXPECT_EQ(choose_physical_device(kMixed, 2, "gpu", nullptr).index, 1);
}

TEST(DeviceSelect, TypeWithNoMatchIsAnErrorNotAFallback) {
    hvk::DeviceChoice c = choose_physical_device(kMixed, 1, "discrete-gpu", nullptr);
    EXPECT_EQ(c.index, -1);
    EXPECT_NE(std::string(c.reason).find("HL_VK_DEVICE_TYPE=discrete-gpu"), std::string::npos) << c.reason;
    // Halide's substring rules would accept a real GPU for "virtual-gpu"; we do not.
    EXPECT_EQ(choose_physical_device(kMixed, 3, "virtual-gpu", nullptr).index, -1);
}

TEST(DeviceSelect, UnknownTypeIsAnError) {
    for (const char *bad : {"GPU", "nvidia", "discrete", "cpu,gpu", " cpu"}) {
        hvk::DeviceChoice c = choose_physical_device(kMixed, 4, bad, nullptr);
        EXPECT_EQ(c.index, -1) << bad;
        EXPECT_NE(std::string(c.reason).find("is not one of"), std::string::npos) << c.reason;
    }
}

TEST(DeviceSelect, ByIndex) {
    EXPECT_EQ(choose_physical_device(kMixed, 4, "", "0").index, 0);
    EXPECT_EQ(choose_physical_device(kMixed, 4, "", "3").index, 3);
    EXPECT_EQ(choose_physical_device(kMixed, 4, "cpu", "0").index, 0);
}

TEST(DeviceSelect, BadIndexValues) {
    struct Case {
        const char *index;
        const char *type;
        const char *expect;
    } cases[] = {
        {"4", "", "out of range"},       {"99999999999999999999", "", "not a non-negative integer"},
        {"-1", "", "not a non-negative integer"}, {"x", "", "not a non-negative integer"},
        {"1x", "", "not a non-negative integer"}, {"1", "cpu", "is not of HL_VK_DEVICE_TYPE"},
    };
    for (const Case &c : cases) {
        hvk::DeviceChoice r = choose_physical_device(kMixed, 4, c.type, c.index);
        EXPECT_EQ(r.index, -1) << c.index;
        EXPECT_NE(std::string(r.reason).find(c.expect), std::string::npos) << c.index << ": " << r.reason;
    }
}

TEST(DeviceSelect, NoDevicesAtAll) {
    hvk::DeviceChoice c = choose_physical_device(nullptr, 0, "", nullptr);
    EXPECT_EQ(c.index, -1);
    EXPECT_NE(std::string(c.reason).find("no physical devices"), std::string::npos);
}

}  // namespace
