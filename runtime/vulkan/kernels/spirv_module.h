// SPIR-V handling for kernel modules: reflection (what the kernel declares),
// repair (add missing capability/extension declarations Halide's code
// generator leaves out), validation with SPIRV-Tools under a configurable
// policy, and the check of the module's needs against the device.
//
// Everything here runs once per kernel module when a blob is compiled (cold
// path); it may allocate host memory. The parser checks every instruction
// against the module's size, so malformed SPIR-V is an error, not a crash.
//
// One header, one file per concern: spirv_parse.cpp (the bounds-checked
// word-stream parser the others share, through spirv_internal.h),
// spirv_reflect.cpp, spirv_repair.cpp, spirv_validate.cpp (SPIRV-Tools, the
// policy, the device check).
#pragma once

#include <cstddef>
#include <cstdint>

#include "vulkan/context/device.h"
#include "vulkan/util/vk.h"

namespace hvk {

// Capabilities the runtime cares about (bit numbers of SpirvReflection::caps).
enum SpirvCap : uint32_t {
    kCapInt8 = 0,
    kCapInt16,
    kCapInt64,
    kCapFloat16,
    kCapFloat64,
    kCapStorageBuffer8,           // StorageBuffer8BitAccess
    kCapUniformAndStorage8,       // UniformAndStorageBuffer8BitAccess
    kCapPushConstant8,            // StoragePushConstant8
    kCapStorageBuffer16,          // StorageBuffer16BitAccess
    kCapUniformAndStorage16,      // UniformAndStorageBuffer16BitAccess
    kCapPushConstant16,           // StoragePushConstant16
    kCapInputOutput16,            // StorageInputOutput16
    kCapVulkanMemoryModel,
    kCapShader,
    kCapCount
};

// One descriptor binding of descriptor set 0.
struct SpirvBinding {
    uint32_t binding;
    uint32_t descriptor_type;  // VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER or _STORAGE_BUFFER
    uint32_t array_stride;     // ArrayStride of the block's trailing (runtime) array; 0 if none
};

constexpr uint32_t kMaxUniformMembers = 512;
constexpr uint32_t kMaxBindings = 256;

// What a module declares. Filled by reflect_spirv.
struct SpirvReflection {
    uint32_t version = 0;      // 0x00010000 = 1.0
    uint32_t caps = 0;         // SpirvCap bits
    bool has_bool_in_block = false;  // OpTypeBool inside a Uniform/StorageBuffer block (invalid for Vulkan)

    // The entry point (the first GLCompute one, or the one named).
    bool found_entry = false;
    bool local_size_id = false;          // LocalSizeId execution mode
    bool workgroup_size_builtin = false; // a WorkgroupSize-decorated constant overrides LocalSize
    uint32_t local_size[3] = {0, 0, 0};  // default values (spec constants' defaults when not static)
    uint32_t local_size_spec_ids[3] = {0, 0, 0};  // SpecIds of the size constants, 0 if static

    // Uniform block at set 0, binding 0 (Block decoration, Uniform storage class).
    bool has_uniform_block = false;
    uint32_t uniform_member_count = 0;
    uint32_t uniform_block_size = 0;     // last member's offset + size, 0 if unknown
    uint32_t uniform_offsets[kMaxUniformMembers] = {};
    uint32_t uniform_sizes[kMaxUniformMembers] = {};  // 0: unsized (bool) or unknown

    uint32_t binding_count = 0;          // set-0 bindings, sorted by binding number
    SpirvBinding bindings[kMaxBindings] = {};

    uint32_t spec_id_count = 0;          // SpecIds declared by OpSpecConstant*
    uint32_t spec_ids[64] = {};
};

// Reflects `word_count` words. `entry_name` selects the entry point (null:
// the first GLCompute one). Returns 0, or -1 with a message in `error`.
int reflect_spirv(const uint32_t *words, size_t word_count, const char *entry_name,
                  const VkAllocationCallbacks *callbacks, SpirvReflection *out, char *error, size_t error_size);

// The repaired module: the input words, plus OpCapability/OpExtension
// declarations the module needs but lacks. `words` is host-allocated with
// `callbacks` (free with host_free) or null when nothing had to change.
struct SpirvRepair {
    uint32_t *words = nullptr;
    size_t word_count = 0;
    char summary[256] = "";  // e.g. "added OpExtension SPV_KHR_16bit_storage"
};
int repair_spirv(const uint32_t *words, size_t word_count, const VkAllocationCallbacks *callbacks,
                 SpirvRepair *out, char *error, size_t error_size);

enum class ValidationPolicy { Off, Warn, Strict };
// HL_VK_SPIRV_VALIDATION: "off", "warn" (default), "strict". Read on every
// call (cheap), so tests can switch it between compilations.
ValidationPolicy validation_policy();

// The SPIRV-Tools environment for a device of this API version.
int spirv_target_env_for(uint32_t api_version);  // returns an spv_target_env value

// Validates with SPIRV-Tools for `caps`' Vulkan version. Returns true when
// valid; otherwise writes the first message to `message`.
bool validate_spirv(const uint32_t *words, size_t word_count, const DeviceCaps &caps, char *message,
                    size_t message_size);

// Checks what the module needs (capabilities, SPIR-V version, LocalSizeId)
// against the device. Returns 0, or -1 with a message naming the missing
// feature.
int check_spirv_against_device(const SpirvReflection &r, const DeviceCaps &caps, char *error, size_t error_size);

// True the first time it is called for a module with this content in this
// process (for "warn once per module").
bool first_warning_for_module(const uint32_t *words, size_t word_count);

}  // namespace hvk
