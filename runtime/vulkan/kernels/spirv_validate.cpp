// SPIR-V validation: SPIRV-Tools' validator under the HL_VK_SPIRV_VALIDATION
// policy, the check of a module's needs (capabilities, SPIR-V version,
// LocalSizeId) against the device, and the "warn once per module" record.
#include <spirv-tools/libspirv.hpp>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "vulkan/kernels/spirv_internal.h"

namespace hvk {
namespace {

using spirv::write_error;

// The SPIR-V name of capability bit `cap` ("?" if the table lacks it).
const char *cap_name_of(SpirvCap cap) {
    const char *cap_name = "?";
    for (const spirv::CapName &c : spirv::kCaps) {
        if (c.bit == cap) {
            cap_name = c.name;
        }
    }
    return cap_name;
}

// Each capability the module declares needs a Vulkan feature the context enabled.
int check_capabilities_against_device(const SpirvReflection &r, const DeviceCaps &caps, char *error,
                                      size_t error_size) {
    struct Need {
        SpirvCap cap;
        bool have;
        const char *feature;
    } needs[] = {
        {kCapInt8, caps.shader_int8, "shaderInt8"},
        {kCapInt16, caps.shader_int16, "shaderInt16"},
        {kCapInt64, caps.shader_int64, "shaderInt64"},
        {kCapFloat16, caps.shader_float16, "shaderFloat16"},
        {kCapFloat64, caps.shader_float64, "shaderFloat64"},
        {kCapStorageBuffer8, caps.storage_buffer_8bit, "storageBuffer8BitAccess"},
        {kCapUniformAndStorage8, caps.uniform_and_storage_buffer_8bit, "uniformAndStorageBuffer8BitAccess"},
        {kCapPushConstant8, false, "storagePushConstant8"},
        {kCapStorageBuffer16, caps.storage_buffer_16bit, "storageBuffer16BitAccess"},
        {kCapUniformAndStorage16, caps.uniform_and_storage_buffer_16bit, "uniformAndStorageBuffer16BitAccess"},
        {kCapPushConstant16, false, "storagePushConstant16"},
        {kCapInputOutput16, false, "storageInputOutput16"},
        {kCapVulkanMemoryModel, caps.vulkan_memory_model, "vulkanMemoryModel"},
    };
    for (const Need &n : needs) {
        if ((r.caps & (1u << n.cap)) && !n.have) {
            write_error(error, error_size,
                        "the kernel needs SPIR-V capability %s, but the device does not support (or the context did "
                        "not enable) the Vulkan feature %s",
                        cap_name_of(n.cap), n.feature);
            return -1;
        }
    }
    return 0;
}

// The module's SPIR-V version must be one the device's Vulkan version accepts.
int check_version_against_device(const SpirvReflection &r, const DeviceCaps &caps, char *error, size_t error_size) {
    const uint32_t major = VK_API_VERSION_MAJOR(caps.api_version);
    const uint32_t minor = VK_API_VERSION_MINOR(caps.api_version);
    const uint32_t spv_minor = (r.version >> 8) & 0xff;
    uint32_t max_spv_minor = 0;
    if (major > 1 || minor >= 3) {
        max_spv_minor = 6;
    } else if (minor == 2) {
        max_spv_minor = 5;
    } else if (minor == 1) {
        max_spv_minor = 3;
    }
    if (((r.version >> 16) & 0xff) != 1 || spv_minor > max_spv_minor) {
        write_error(error, error_size, "the kernel is SPIR-V %u.%u, which Vulkan %u.%u does not accept",
                    (r.version >> 16) & 0xff, spv_minor, major, minor);
        return -1;
    }
    return 0;
}

}  // namespace

ValidationPolicy validation_policy() {
    const char *v = std::getenv("HL_VK_SPIRV_VALIDATION");
    if (v == nullptr || *v == '\0') {
        return ValidationPolicy::Warn;
    }
    if (std::strcmp(v, "off") == 0 || std::strcmp(v, "0") == 0) {
        return ValidationPolicy::Off;
    }
    if (std::strcmp(v, "strict") == 0) {
        return ValidationPolicy::Strict;
    }
    return ValidationPolicy::Warn;
}

int spirv_target_env_for(uint32_t api_version) {
    const uint32_t major = VK_API_VERSION_MAJOR(api_version);
    const uint32_t minor = VK_API_VERSION_MINOR(api_version);
    if (major > 1 || minor >= 3) {
        return SPV_ENV_VULKAN_1_3;
    }
    if (minor == 2) {
        return SPV_ENV_VULKAN_1_2;
    }
    if (minor == 1) {
        return SPV_ENV_VULKAN_1_1;
    }
    return SPV_ENV_VULKAN_1_0;
}

bool validate_spirv(const uint32_t *words, size_t word_count, const DeviceCaps &caps, char *message,
                    size_t message_size) {
    if (message != nullptr && message_size > 0) {
        message[0] = '\0';
    }
    spvtools::SpirvTools tools(static_cast<spv_target_env>(spirv_target_env_for(caps.api_version)));
    bool have_message = false;
    tools.SetMessageConsumer([&](spv_message_level_t level, const char *, const spv_position_t &position,
                                 const char *text) {
        if (have_message || level > SPV_MSG_ERROR) {
            return;
        }
        have_message = true;
        write_error(message, message_size, "%s (instruction %zu)", text != nullptr ? text : "invalid",
                    position.index);
    });
    spvtools::ValidatorOptions options;
    // Vulkan 1.1 made VK_KHR_relaxed_block_layout core.
    options.SetRelaxBlockLayout(VK_API_VERSION_MINOR(caps.api_version) >= 1 ||
                                VK_API_VERSION_MAJOR(caps.api_version) > 1);
    options.SetAllowLocalSizeId(caps.maintenance4);
    const bool ok = tools.Validate(words, word_count, options);
    if (!ok && !have_message) {
        write_error(message, message_size, "SPIRV-Tools rejected the module without a message");
    }
    return ok;
}

int check_spirv_against_device(const SpirvReflection &r, const DeviceCaps &caps, char *error, size_t error_size) {
    if (int rc = check_capabilities_against_device(r, caps, error, error_size)) {
        return rc;
    }
    if (int rc = check_version_against_device(r, caps, error, error_size)) {
        return rc;
    }
    if (r.local_size_id && !caps.maintenance4) {
        write_error(error, error_size,
                    "the kernel uses the LocalSizeId execution mode (dynamic workgroup size, Halide target feature "
                    "vk_v13), which needs the Vulkan feature maintenance4 (not enabled on this device)");
        return -1;
    }
    return 0;
}

bool first_warning_for_module(const uint32_t *words, size_t word_count) {
    // FNV-1a over the words; a small fixed table of modules already warned about.
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < word_count; i++) {
        h = (h ^ words[i]) * 1099511628211ull;
    }
    static std::mutex mutex;
    static uint64_t seen[256];
    static size_t count = 0;
    std::lock_guard<std::mutex> lock(mutex);
    const size_t n = count < 256 ? count : 256;
    for (size_t i = 0; i < n; i++) {
        if (seen[i] == h) {
            return false;
        }
    }
    seen[count % 256] = h;
    count++;
    return true;
}

}  // namespace hvk
