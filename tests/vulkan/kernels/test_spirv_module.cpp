// SPIR-V handling (pure, no GPU): reflection of the fixture modules and the
// project's shaders, repair of Halide's missing declarations, validation,
// the device capability check and malformed SPIR-V.
#include <gtest/gtest.h>
#include <spirv-tools/libspirv.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "vulkan/util/host_alloc.h"
#include "kernel_test_util.h"
#include "vulkan/kernels/spirv_module.h"
#include "test_kernel_blobs.h"

namespace {

using namespace ktest;

Words fixture_spirv(const char *name, size_t module = 0) {
    std::vector<RawModule> mods = split_blob(fixture_blob(name));
    return mods.at(module).spirv;
}

Words project_spirv(const unsigned char *blob, size_t size, const std::string &entry) {
    for (const RawModule &m : split_blob(std::vector<uint8_t>(blob, blob + size))) {
        if (m.entry == entry) {
            return m.spirv;
        }
    }
    return {};
}

struct Reflected {
    int rc;
    std::string error;
    hvk::SpirvReflection r;
};

std::unique_ptr<Reflected> reflect(const Words &w, const char *entry = nullptr) {
    auto out = std::make_unique<Reflected>();
    char err[512] = "";
    out->rc = hvk::reflect_spirv(w.data(), w.size(), entry, nullptr, &out->r, err, sizeof(err));
    out->error = err;
    return out;
}

hvk::DeviceCaps all_caps() {
    hvk::DeviceCaps c;
    c.api_version = VK_API_VERSION_1_3;
    c.shader_int8 = c.shader_int16 = c.shader_int64 = c.shader_float16 = c.shader_float64 = true;
    c.storage_buffer_8bit = c.uniform_and_storage_buffer_8bit = true;
    c.storage_buffer_16bit = c.uniform_and_storage_buffer_16bit = true;
    c.maintenance4 = c.vulkan_memory_model = true;
    return c;
}

bool has_bit(uint32_t caps, hvk::SpirvCap c) {
    return (caps & (1u << c)) != 0;
}

Words repaired(const Words &in, std::string *summary = nullptr) {
    hvk::SpirvRepair rep;
    char err[256];
    EXPECT_EQ(hvk::repair_spirv(in.data(), in.size(), nullptr, &rep, err, sizeof(err)), 0) << err;
    if (summary != nullptr) {
        *summary = rep.summary;
    }
    if (rep.words == nullptr) {
        return in;
    }
    Words out(rep.words, rep.words + rep.word_count);
    hvk::host_free(nullptr, rep.words);
    return out;
}

bool valid(const Words &w, const hvk::DeviceCaps &caps, std::string *msg = nullptr) {
    char m[512];
    bool ok = hvk::validate_spirv(w.data(), w.size(), caps, m, sizeof(m));
    if (msg != nullptr) {
        *msg = m;
    }
    return ok;
}

TEST(SpirvReflect, SaxpyFixture) {
    auto r = reflect(fixture_spirv("saxpy"), "_kernel_out_s0_y_yo_block_id_y");
    ASSERT_EQ(r->rc, 0) << r->error;
    EXPECT_EQ(r->r.version, 0x00010200u);
    EXPECT_TRUE(r->r.has_uniform_block);
    EXPECT_EQ(r->r.uniform_member_count, 16u);  // 13 scalars + 3 buffer offsets
    EXPECT_EQ(r->r.uniform_offsets[0], 0u);
    EXPECT_EQ(r->r.uniform_offsets[15], 60u);
    EXPECT_EQ(r->r.uniform_block_size, 64u);
    ASSERT_EQ(r->r.binding_count, 4u);
    EXPECT_EQ(r->r.bindings[0].descriptor_type, uint32_t(VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER));
    for (int b = 1; b < 4; b++) {
        EXPECT_EQ(r->r.bindings[b].binding, uint32_t(b));
        EXPECT_EQ(r->r.bindings[b].descriptor_type, uint32_t(VK_DESCRIPTOR_TYPE_STORAGE_BUFFER));
        EXPECT_EQ(r->r.bindings[b].array_stride, 4u);
    }
    EXPECT_EQ(r->r.local_size[0], 16u);
    EXPECT_EQ(r->r.local_size[1], 16u);
    EXPECT_EQ(r->r.local_size[2], 1u);
    EXPECT_FALSE(r->r.local_size_id);
    EXPECT_TRUE(has_bit(r->r.caps, hvk::kCapShader));
}

TEST(SpirvReflect, AllFixtures) {
    for (const char *name : kFixtureNames) {
        std::vector<RawModule> mods = split_blob(fixture_blob(name));
        for (const RawModule &m : mods) {
            SCOPED_TRACE(std::string(name) + " " + m.entry);
            auto r = reflect(m.spirv, m.entry.c_str());
            ASSERT_EQ(r->rc, 0) << r->error;
            EXPECT_TRUE(r->r.has_uniform_block);
            EXPECT_GE(r->r.binding_count, 3u);
            EXPECT_FALSE(r->r.has_bool_in_block);
        }
    }
}

TEST(SpirvReflect, ScaleF16AndBlurDetails) {
    auto f16 = reflect(fixture_spirv("scale_f16"));
    ASSERT_EQ(f16->rc, 0) << f16->error;
    EXPECT_EQ(f16->r.uniform_member_count, 14u);
    EXPECT_EQ(f16->r.uniform_offsets[10], 40u);
    EXPECT_EQ(f16->r.uniform_sizes[10], 2u);  // half
    EXPECT_EQ(f16->r.uniform_offsets[11], 42u);
    EXPECT_EQ(f16->r.uniform_offsets[12], 44u);  // offsets start 4-aligned
    EXPECT_EQ(f16->r.bindings[1].array_stride, 2u);
    EXPECT_TRUE(has_bit(f16->r.caps, hvk::kCapFloat16));

    auto blur = reflect(fixture_spirv("blur3x3_u16"));
    ASSERT_EQ(blur->rc, 0) << blur->error;
    EXPECT_EQ(blur->r.local_size[0], 16u);
    EXPECT_EQ(blur->r.local_size[1], 18u);
    ASSERT_EQ(blur->r.spec_id_count, 1u);
    EXPECT_EQ(blur->r.spec_ids[0], 1u);

    auto u8 = reflect(fixture_spirv("brighten_u8"));
    ASSERT_EQ(u8->rc, 0);
    EXPECT_EQ(u8->r.uniform_sizes[10], 1u);  // the uint8 scalar
    EXPECT_EQ(u8->r.uniform_offsets[11], 44u);
}

TEST(SpirvReflect, ProjectShaders) {
    auto vec4 = reflect(project_spirv(hvk_blob_basic, hvk_blob_basic_size, "k_scale_vec4"), "k_scale_vec4");
    ASSERT_EQ(vec4->rc, 0) << vec4->error;
    EXPECT_EQ(vec4->r.bindings[1].array_stride, 16u);
    EXPECT_EQ(vec4->r.bindings[2].array_stride, 16u);

    auto legacy = reflect(project_spirv(hvk_blob_legacy, hvk_blob_legacy_size, "k_legacy_noscalar"));
    ASSERT_EQ(legacy->rc, 0);
    EXPECT_FALSE(legacy->r.has_uniform_block);
    EXPECT_EQ(legacy->r.bindings[0].descriptor_type, uint32_t(VK_DESCRIPTOR_TYPE_STORAGE_BUFFER));

    auto dyn = reflect(project_spirv(hvk_blob_dynamic, hvk_blob_dynamic_size, "k_dyn_wg"));
    ASSERT_EQ(dyn->rc, 0);
    EXPECT_TRUE(dyn->r.workgroup_size_builtin);
    EXPECT_EQ(dyn->r.local_size_spec_ids[0], 1u);
    EXPECT_EQ(dyn->r.local_size_spec_ids[2], 3u);

    auto dyn_id = reflect(project_spirv(hvk_blob_dynamic_id, hvk_blob_dynamic_id_size, "k_dyn_wg_id"));
    ASSERT_EQ(dyn_id->rc, 0);
    EXPECT_TRUE(dyn_id->r.local_size_id);
    EXPECT_EQ(dyn_id->r.local_size_spec_ids[1], 2u);
    EXPECT_EQ(dyn_id->r.version, 0x00010600u);

    auto all = reflect(project_spirv(hvk_blob_types, hvk_blob_types_size, "k_all_scalars"));
    ASSERT_EQ(all->rc, 0);
    EXPECT_EQ(all->r.uniform_member_count, 12u);
    EXPECT_EQ(all->r.uniform_offsets[11], 44u);
    EXPECT_EQ(all->r.uniform_sizes[0], 8u);

    auto missing = reflect(project_spirv(hvk_blob_basic, hvk_blob_basic_size, "k_scale_f32"), "nope");
    EXPECT_EQ(missing->rc, -1);
    EXPECT_NE(missing->error.find("no GLCompute entry point named \"nope\""), std::string::npos);
}

TEST(SpirvRepair, ScaleF16GetsItsExtension) {
    const Words in = fixture_spirv("scale_f16");
    hvk::DeviceCaps caps = all_caps();
    std::string msg;
    EXPECT_FALSE(valid(in, caps, &msg));
    EXPECT_NE(msg.find("SPV_KHR_16bit_storage"), std::string::npos) << msg;
    std::string summary;
    const Words out = repaired(in, &summary);
    EXPECT_NE(summary.find("OpExtension SPV_KHR_16bit_storage"), std::string::npos) << summary;
    EXPECT_TRUE(valid(out, caps, &msg)) << msg;
    // Repair is idempotent.
    std::string again;
    EXPECT_EQ(repaired(out, &again), out);
    EXPECT_EQ(again, "");
}

TEST(SpirvRepair, AddsStorageCapabilityForNarrowBuffers) {
    // Halide declares no StorageBuffer16BitAccess for uint16 buffers.
    const Words blur = fixture_spirv("blur3x3_u16");
    std::string summary;
    const Words out = repaired(blur, &summary);
    EXPECT_NE(summary.find("StorageBuffer16BitAccess"), std::string::npos) << summary;
    auto r = reflect(out);
    ASSERT_EQ(r->rc, 0);
    EXPECT_TRUE(has_bit(r->r.caps, hvk::kCapStorageBuffer16));
    EXPECT_TRUE(valid(out, all_caps()));
}

TEST(SpirvRepair, RestoresStrippedDeclarations) {
    // Remove the 8-bit storage capability and extension from a valid module.
    const Words u8 = project_spirv(hvk_blob_types, hvk_blob_types_size, "k_brighten_u8");
    const Words stripped = filter_spirv(u8, [](const Words &inst) {
        const uint32_t op = inst[0] & 0xffff;
        return (op == kOpCapability && (inst[1] == 4448 || inst[1] == 4449)) ||
               (op == kOpExtension && literal(inst, 1) == "SPV_KHR_8bit_storage");
    });
    ASSERT_LT(stripped.size(), u8.size());
    EXPECT_FALSE(valid(stripped, all_caps()));
    std::string summary;
    const Words fixed = repaired(stripped, &summary);
    EXPECT_NE(summary.find("UniformAndStorageBuffer8BitAccess"), std::string::npos) << summary;
    EXPECT_NE(summary.find("SPV_KHR_8bit_storage"), std::string::npos) << summary;
    std::string msg;
    EXPECT_TRUE(valid(fixed, all_caps(), &msg)) << msg;
}

TEST(SpirvValidate, ProjectShadersAndFixturesAreValidAfterRepair) {
    for (const char *name : kFixtureNames) {
        for (const RawModule &m : split_blob(fixture_blob(name))) {
            std::string msg;
            EXPECT_TRUE(valid(repaired(m.spirv), all_caps(), &msg)) << name << ": " << msg;
        }
    }
    struct {
        const unsigned char *d;
        size_t n;
    } blobs[] = {{hvk_blob_basic, hvk_blob_basic_size},
                 {hvk_blob_types, hvk_blob_types_size},
                 {hvk_blob_dynamic, hvk_blob_dynamic_size},
                 {hvk_blob_dynamic_id, hvk_blob_dynamic_id_size},
                 {hvk_blob_legacy, hvk_blob_legacy_size}};
    for (const auto &b : blobs) {
        for (const RawModule &m : split_blob(std::vector<uint8_t>(b.d, b.d + b.n))) {
            std::string msg;
            EXPECT_TRUE(valid(repaired(m.spirv), all_caps(), &msg)) << m.entry << ": " << msg;
        }
    }
}

TEST(SpirvValidate, TargetEnvironmentFollowsApiVersion) {
    EXPECT_EQ(hvk::spirv_target_env_for(VK_API_VERSION_1_1), int(SPV_ENV_VULKAN_1_1));
    EXPECT_EQ(hvk::spirv_target_env_for(VK_API_VERSION_1_2), int(SPV_ENV_VULKAN_1_2));
    EXPECT_EQ(hvk::spirv_target_env_for(VK_API_VERSION_1_3), int(SPV_ENV_VULKAN_1_3));
    EXPECT_EQ(hvk::spirv_target_env_for(VK_MAKE_API_VERSION(0, 1, 4, 0)), int(SPV_ENV_VULKAN_1_3));
    // A SPIR-V 1.6 module is invalid for a Vulkan 1.1 environment.
    hvk::DeviceCaps old = all_caps();
    old.api_version = VK_API_VERSION_1_1;
    EXPECT_FALSE(valid(project_spirv(hvk_blob_dynamic_id, hvk_blob_dynamic_id_size, "k_dyn_wg_id"), old));
}

TEST(SpirvValidate, Policy) {
    unsetenv("HL_VK_SPIRV_VALIDATION");
    EXPECT_EQ(hvk::validation_policy(), hvk::ValidationPolicy::Warn);
    setenv("HL_VK_SPIRV_VALIDATION", "off", 1);
    EXPECT_EQ(hvk::validation_policy(), hvk::ValidationPolicy::Off);
    setenv("HL_VK_SPIRV_VALIDATION", "strict", 1);
    EXPECT_EQ(hvk::validation_policy(), hvk::ValidationPolicy::Strict);
    setenv("HL_VK_SPIRV_VALIDATION", "warn", 1);
    EXPECT_EQ(hvk::validation_policy(), hvk::ValidationPolicy::Warn);
    unsetenv("HL_VK_SPIRV_VALIDATION");
}

TEST(SpirvDeviceCheck, MissingFeaturesAreNamed) {
    char err[512];
    auto u8 = reflect(project_spirv(hvk_blob_types, hvk_blob_types_size, "k_brighten_u8"));
    ASSERT_EQ(u8->rc, 0);
    hvk::DeviceCaps caps = all_caps();
    EXPECT_EQ(hvk::check_spirv_against_device(u8->r, caps, err, sizeof(err)), 0);
    caps.uniform_and_storage_buffer_8bit = false;
    EXPECT_EQ(hvk::check_spirv_against_device(u8->r, caps, err, sizeof(err)), -1);
    EXPECT_NE(std::string(err).find("uniformAndStorageBuffer8BitAccess"), std::string::npos) << err;

    auto all = reflect(repaired(project_spirv(hvk_blob_types, hvk_blob_types_size, "k_all_scalars")));
    ASSERT_EQ(all->rc, 0);
    const struct {
        bool hvk::DeviceCaps::*field;
        const char *name;
    } fields[] = {{&hvk::DeviceCaps::shader_int64, "shaderInt64"},
                  {&hvk::DeviceCaps::shader_float64, "shaderFloat64"},
                  {&hvk::DeviceCaps::shader_int16, "shaderInt16"},
                  {&hvk::DeviceCaps::shader_float16, "shaderFloat16"},
                  // (8-bit values are only stored and converted: no Int8 capability)
                  {&hvk::DeviceCaps::uniform_and_storage_buffer_8bit, "uniformAndStorageBuffer8BitAccess"},
                  {&hvk::DeviceCaps::uniform_and_storage_buffer_16bit, "uniformAndStorageBuffer16BitAccess"}};
    for (const auto &f : fields) {
        hvk::DeviceCaps c = all_caps();
        c.*(f.field) = false;
        EXPECT_EQ(hvk::check_spirv_against_device(all->r, c, err, sizeof(err)), -1) << f.name;
        EXPECT_NE(std::string(err).find(f.name), std::string::npos) << err;
    }

    auto dyn_id = reflect(project_spirv(hvk_blob_dynamic_id, hvk_blob_dynamic_id_size, "k_dyn_wg_id"));
    caps = all_caps();
    caps.maintenance4 = false;
    EXPECT_EQ(hvk::check_spirv_against_device(dyn_id->r, caps, err, sizeof(err)), -1);
    EXPECT_NE(std::string(err).find("maintenance4"), std::string::npos) << err;
    caps = all_caps();
    caps.api_version = VK_API_VERSION_1_1;
    EXPECT_EQ(hvk::check_spirv_against_device(dyn_id->r, caps, err, sizeof(err)), -1);
    EXPECT_NE(std::string(err).find("SPIR-V 1.6"), std::string::npos) << err;
}

TEST(SpirvMalformed, ErrorsNotCrashes) {
    const Words good = fixture_spirv("saxpy");
    char err[256];
    auto r = std::make_unique<hvk::SpirvReflection>();
    // Too short, bad magic, huge bound.
    EXPECT_EQ(hvk::reflect_spirv(good.data(), 3, nullptr, nullptr, r.get(), err, sizeof(err)), -1);
    Words bad = good;
    bad[0] = 0;
    EXPECT_EQ(hvk::reflect_spirv(bad.data(), bad.size(), nullptr, nullptr, r.get(), err, sizeof(err)), -1);
    bad = good;
    bad[3] = 0xffffffffu;
    EXPECT_EQ(hvk::reflect_spirv(bad.data(), bad.size(), nullptr, nullptr, r.get(), err, sizeof(err)), -1);
    // An instruction with word count 0, and one running past the end.
    bad = good;
    bad[5] = 0;
    EXPECT_EQ(hvk::reflect_spirv(bad.data(), bad.size(), nullptr, nullptr, r.get(), err, sizeof(err)), -1);
    EXPECT_NE(std::string(err).find("word count 0"), std::string::npos) << err;
    // Every truncation and random corruption: no crash (exact-size copies).
    std::mt19937 rng(99);
    for (size_t n = 0; n < good.size(); n += 7) {
        Words t(good.begin(), good.begin() + long(n));
        (void)hvk::reflect_spirv(t.data(), t.size(), nullptr, nullptr, r.get(), err, sizeof(err));
        hvk::SpirvRepair rep;
        if (hvk::repair_spirv(t.data(), t.size(), nullptr, &rep, err, sizeof(err)) == 0) {
            hvk::host_free(nullptr, rep.words);
        }
    }
    for (int i = 0; i < 2000; i++) {
        Words t = good;
        t[5 + rng() % (t.size() - 5)] = rng();
        (void)hvk::reflect_spirv(t.data(), t.size(), nullptr, nullptr, r.get(), err, sizeof(err));
        hvk::SpirvRepair rep;
        if (hvk::repair_spirv(t.data(), t.size(), nullptr, &rep, err, sizeof(err)) == 0) {
            hvk::host_free(nullptr, rep.words);
        }
    }
}

}  // namespace
