// Private to the spirv_*.cpp files of this folder (the rest of the runtime
// includes spirv_module.h): the SPIR-V numbers the runtime reads, the
// capability table, and the parsed form of a module (spirv_parse.cpp) that
// reflection (spirv_reflect.cpp) and repair (spirv_repair.cpp) work on.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vulkan/kernels/spirv_module.h"
#include "vulkan/util/host_alloc.h"

namespace hvk {
namespace spirv {

// SPIR-V numbers used here (SPIR-V specification, unified 1.6).
enum : uint32_t {
    kMagic = 0x07230203u,
    OpName = 5,
    OpExtension = 10,
    OpExtInstImport = 11,
    OpMemoryModel = 14,
    OpEntryPoint = 15,
    OpExecutionMode = 16,
    OpCapability = 17,
    OpTypeBool = 20,
    OpTypeInt = 21,
    OpTypeFloat = 22,
    OpTypeVector = 23,
    OpTypeMatrix = 24,
    OpTypeArray = 28,
    OpTypeRuntimeArray = 29,
    OpTypeStruct = 30,
    OpTypePointer = 32,
    OpConstant = 43,
    OpConstantComposite = 44,
    OpSpecConstant = 50,
    OpSpecConstantComposite = 51,
    OpVariable = 59,
    OpDecorate = 71,
    OpMemberDecorate = 72,
    OpExecutionModeId = 331,

    DecSpecId = 1,
    DecBlock = 2,
    DecBufferBlock = 3,
    DecArrayStride = 6,
    DecBuiltIn = 11,
    DecBinding = 33,
    DecDescriptorSet = 34,
    DecOffset = 35,

    BuiltInWorkgroupSize = 25,
    ModeLocalSize = 17,
    ModeLocalSizeId = 38,
    ModelGLCompute = 5,

    ScUniform = 2,
    ScPushConstant = 9,
    ScStorageBuffer = 12,

    CapShader = 1,
    CapFloat16 = 9,
    CapFloat64 = 10,
    CapInt64 = 11,
    CapInt16 = 22,
    CapInt8 = 39,
    CapStorageBuffer16 = 4433,
    CapUniformAndStorage16 = 4434,
    CapPushConstant16 = 4435,
    CapInputOutput16 = 4436,
    CapStorageBuffer8 = 4448,
    CapUniformAndStorage8 = 4449,
    CapPushConstant8 = 4450,
    CapVulkanMemoryModel = 5345,
};

struct CapName {
    uint32_t spirv;
    SpirvCap bit;
    const char *name;
};
inline constexpr CapName kCaps[] = {
    {CapShader, kCapShader, "Shader"},
    {CapInt8, kCapInt8, "Int8"},
    {CapInt16, kCapInt16, "Int16"},
    {CapInt64, kCapInt64, "Int64"},
    {CapFloat16, kCapFloat16, "Float16"},
    {CapFloat64, kCapFloat64, "Float64"},
    {CapStorageBuffer8, kCapStorageBuffer8, "StorageBuffer8BitAccess"},
    {CapUniformAndStorage8, kCapUniformAndStorage8, "UniformAndStorageBuffer8BitAccess"},
    {CapPushConstant8, kCapPushConstant8, "StoragePushConstant8"},
    {CapStorageBuffer16, kCapStorageBuffer16, "StorageBuffer16BitAccess"},
    {CapUniformAndStorage16, kCapUniformAndStorage16, "UniformAndStorageBuffer16BitAccess"},
    {CapPushConstant16, kCapPushConstant16, "StoragePushConstant16"},
    {CapInputOutput16, kCapInputOutput16, "StorageInputOutput16"},
    {CapVulkanMemoryModel, kCapVulkanMemoryModel, "VulkanMemoryModel"},
};

// The table row of SPIR-V capability `c`, or null when the runtime does not track it.
const CapName *cap_by_spirv(uint32_t c);

// snprintf into `error` (nothing when it is null or empty).
void write_error(char *error, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

constexpr uint32_t kMaxIdBound = 1u << 22;

// Per-id facts gathered in one pass.
struct IdInfo {
    uint32_t op;          // defining opcode, 0 if none
    uint32_t inst;        // word index of the defining instruction
    uint32_t flags;       // kBlock / kBufferBlock / kHas*
    uint32_t array_stride;
    uint32_t binding;
    uint32_t set;
    uint32_t spec_id;
    uint32_t builtin;
};
enum : uint32_t {
    kFlagBlock = 1,
    kFlagBufferBlock = 2,
    kHasBinding = 4,
    kHasSet = 8,
    kHasSpecId = 16,
    kHasBuiltIn = 32,
    kHasArrayStride = 64,
};

// A parsed module: the id table plus the positions of a few instructions.
class Module {
public:
    Module(const uint32_t *words, size_t count, const VkAllocationCallbacks *callbacks)
        : w_(words), n_(count), callbacks_(callbacks) {}
    ~Module() { host_free(callbacks_, ids_); }
    Module(const Module &) = delete;
    Module &operator=(const Module &) = delete;

    // Checks the header and every instruction's length against the module's
    // size and fills the id table. Returns 0, -1 (malformed, message in
    // `error`) or -11 (out of host memory).
    int parse(char *error, size_t error_size);

    const uint32_t *w_;
    size_t n_;
    const VkAllocationCallbacks *callbacks_;
    uint32_t bound_ = 0;
    IdInfo *ids_ = nullptr;
    // Type walks visit at most this many nodes in total (a hostile module
    // could otherwise make them exponential).
    mutable uint32_t walk_budget_ = 100000;
    uint32_t version_ = 0;
    uint32_t caps_ = 0;
    size_t last_capability_end_ = 5;   // word index after the last OpCapability
    size_t last_extension_end_ = 0;    // word index after the last OpExtension (0: none)

    // Iteration helpers: instruction at word index i has length len(i) >= 1.
    uint32_t op(size_t i) const { return w_[i] & 0xffffu; }
    uint32_t len(size_t i) const { return w_[i] >> 16; }

    const IdInfo *info(uint32_t id) const { return id < bound_ && ids_[id].op != 0 ? &ids_[id] : nullptr; }
    // Operand k (1-based word after the opcode word) of the instruction defining `id`, or 0.
    uint32_t operand(const IdInfo *in, uint32_t k) const {
        return (in != nullptr && k < len(in->inst)) ? w_[in->inst + k] : 0;
    }
    bool has_extension(const char *name) const;
    // Byte size of a type (0 when unsized or unknown).
    uint32_t type_size(uint32_t type_id, int depth = 0) const;
    // Smallest scalar bit width (8, 16) reached from a type; sets *has_bool.
    void scan_widths(uint32_t type_id, bool *w8, bool *w16, bool *has_bool, int depth = 0) const;
    // Offset decoration of member `m` of struct `id`, or UINT32_MAX.
    uint32_t member_offset(uint32_t struct_id, uint32_t m) const;
    uint32_t constant_value(uint32_t id) const {
        const IdInfo *in = info(id);
        if (in == nullptr || (in->op != OpConstant && in->op != OpSpecConstant)) {
            return 0;
        }
        return operand(in, 3);
    }

private:
    // Steps of parse().
    int check_header(char *error, size_t error_size);
    int record_instruction(size_t i, char *error, size_t error_size);
    bool define(uint32_t id, size_t i, char *error, size_t error_size);
    int record_decoration(size_t i, char *error, size_t error_size);
};

// Storage class and block kind of a descriptor variable.
struct BlockVar {
    uint32_t struct_id;
    uint32_t storage_class;
    bool uniform_buffer;  // Uniform + Block
    bool storage_buffer;  // Uniform + BufferBlock, or StorageBuffer + Block
};

// Fills `out` when `var` (an OpVariable) points to a struct or an array of
// structs; false otherwise.
bool block_of_variable(const Module &m, const IdInfo *var, BlockVar *out);

}  // namespace spirv
}  // namespace hvk
