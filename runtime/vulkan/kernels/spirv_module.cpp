#include "vulkan/kernels/spirv_module.h"

#include <spirv-tools/libspirv.hpp>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "vulkan/util/host_alloc.h"

namespace hvk {
namespace {

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
constexpr CapName kCaps[] = {
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

const CapName *cap_by_spirv(uint32_t c) {
    for (const CapName &n : kCaps) {
        if (n.spirv == c) {
            return &n;
        }
    }
    return nullptr;
}

void write_error(char *error, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void write_error(char *error, size_t size, const char *fmt, ...) {
    if (error == nullptr || size == 0) {
        return;
    }
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(error, size, fmt, args);
    va_end(args);
}

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
};

int Module::parse(char *error, size_t error_size) {
    if (w_ == nullptr || n_ < 5) {
        write_error(error, error_size, "SPIR-V module of %zu words is shorter than its 5-word header", n_);
        return -1;
    }
    if (w_[0] != kMagic) {
        write_error(error, error_size, "SPIR-V magic number missing (0x%08x)", w_[0]);
        return -1;
    }
    version_ = w_[1];
    bound_ = w_[3];
    if (bound_ == 0 || bound_ > kMaxIdBound) {
        write_error(error, error_size, "SPIR-V id bound %u is out of range", bound_);
        return -1;
    }
    ids_ = static_cast<IdInfo *>(host_alloc(callbacks_, sizeof(IdInfo) * bound_, 0, VK_SYSTEM_ALLOCATION_SCOPE_COMMAND));
    if (ids_ == nullptr) {
        write_error(error, error_size, "out of host memory reflecting SPIR-V");
        return -11;
    }
    std::memset(ids_, 0, sizeof(IdInfo) * bound_);
    for (size_t i = 5; i < n_;) {
        const uint32_t l = len(i);
        const uint32_t o = op(i);
        if (l == 0 || l > n_ - i) {
            write_error(error, error_size, "SPIR-V instruction at word %zu (opcode %u) has word count %u, %zu words left",
                        i, o, l, n_ - i);
            return -1;
        }
        auto define = [&](uint32_t id) -> bool {
            if (id == 0 || id >= bound_) {
                write_error(error, error_size, "SPIR-V id %u at word %zu is outside the bound %u", id, i, bound_);
                return false;
            }
            ids_[id].op = o;
            ids_[id].inst = uint32_t(i);
            return true;
        };
        switch (o) {
        case OpCapability:
            if (l >= 2) {
                if (const CapName *c = cap_by_spirv(w_[i + 1])) {
                    caps_ |= 1u << c->bit;
                }
            }
            last_capability_end_ = i + l;
            break;
        case OpExtension:
            last_extension_end_ = i + l;
            break;
        case OpTypeBool:
        case OpTypeInt:
        case OpTypeFloat:
        case OpTypeVector:
        case OpTypeMatrix:
        case OpTypeArray:
        case OpTypeRuntimeArray:
        case OpTypeStruct:
        case OpTypePointer:
            if (l < 2 || !define(w_[i + 1])) {
                if (l < 2) {
                    write_error(error, error_size, "SPIR-V type instruction at word %zu is too short", i);
                }
                return -1;
            }
            break;
        case OpConstant:
        case OpConstantComposite:
        case OpSpecConstant:
        case OpSpecConstantComposite:
        case OpVariable:
            if (l < 3 || !define(w_[i + 2])) {
                if (l < 3) {
                    write_error(error, error_size, "SPIR-V instruction at word %zu (opcode %u) is too short", i, o);
                }
                return -1;
            }
            break;
        case OpDecorate:
            if (l >= 3) {
                const uint32_t target = w_[i + 1];
                if (target >= bound_) {
                    write_error(error, error_size, "SPIR-V decoration of id %u outside the bound", target);
                    return -1;
                }
                IdInfo &t = ids_[target];
                const uint32_t dec = w_[i + 2];
                const uint32_t arg = l >= 4 ? w_[i + 3] : 0;
                switch (dec) {
                case DecBlock: t.flags |= kFlagBlock; break;
                case DecBufferBlock: t.flags |= kFlagBufferBlock; break;
                case DecArrayStride: t.flags |= kHasArrayStride; t.array_stride = arg; break;
                case DecBinding: t.flags |= kHasBinding; t.binding = arg; break;
                case DecDescriptorSet: t.flags |= kHasSet; t.set = arg; break;
                case DecSpecId: t.flags |= kHasSpecId; t.spec_id = arg; break;
                case DecBuiltIn: t.flags |= kHasBuiltIn; t.builtin = arg; break;
                default: break;
                }
            }
            break;
        default:
            break;
        }
        i += l;
    }
    return 0;
}

bool Module::has_extension(const char *name) const {
    const size_t want = std::strlen(name);
    for (size_t i = 5; i < n_; i += len(i)) {
        if (op(i) == OpExtension && len(i) >= 2) {
            const char *s = reinterpret_cast<const char *>(w_ + i + 1);
            const size_t max = size_t(len(i) - 1) * 4;
            if (want < max && std::strncmp(s, name, max) == 0) {
                return true;
            }
        }
    }
    return false;
}

uint32_t Module::type_size(uint32_t type_id, int depth) const {
    const IdInfo *t = info(type_id);
    if (t == nullptr || depth > 16 || walk_budget_ == 0) {
        return 0;
    }
    walk_budget_--;
    switch (t->op) {
    case OpTypeInt:
    case OpTypeFloat:
        return operand(t, 2) / 8;
    case OpTypeVector:
    case OpTypeMatrix:
        return type_size(operand(t, 2), depth + 1) * operand(t, 3);
    case OpTypeArray: {
        const uint32_t stride = (t->flags & kHasArrayStride) ? t->array_stride : type_size(operand(t, 2), depth + 1);
        return stride * constant_value(operand(t, 3));
    }
    case OpTypeStruct: {
        uint32_t end = 0;
        const uint32_t members = len(t->inst) - 2;
        for (uint32_t m = 0; m < members; m++) {
            const uint32_t off = member_offset(type_id, m);
            const uint32_t sz = type_size(w_[t->inst + 2 + m], depth + 1);
            if (off != UINT32_MAX && off + sz > end) {
                end = off + sz;
            }
        }
        return end;
    }
    default:
        return 0;
    }
}

void Module::scan_widths(uint32_t type_id, bool *w8, bool *w16, bool *has_bool, int depth) const {
    const IdInfo *t = info(type_id);
    if (t == nullptr || depth > 16 || walk_budget_ == 0) {
        return;
    }
    walk_budget_--;
    switch (t->op) {
    case OpTypeBool:
        *has_bool = true;
        break;
    case OpTypeInt:
    case OpTypeFloat:
        if (operand(t, 2) == 8) {
            *w8 = true;
        } else if (operand(t, 2) == 16) {
            *w16 = true;
        }
        break;
    case OpTypeVector:
    case OpTypeMatrix:
    case OpTypeArray:
    case OpTypeRuntimeArray:
        scan_widths(operand(t, 2), w8, w16, has_bool, depth + 1);
        break;
    case OpTypeStruct:
        for (uint32_t m = 2; m < len(t->inst); m++) {
            scan_widths(w_[t->inst + m], w8, w16, has_bool, depth + 1);
        }
        break;
    default:
        break;
    }
}

uint32_t Module::member_offset(uint32_t struct_id, uint32_t m) const {
    for (size_t i = 5; i < n_; i += len(i)) {
        if (op(i) == OpMemberDecorate && len(i) >= 5 && w_[i + 1] == struct_id && w_[i + 2] == m &&
            w_[i + 3] == DecOffset) {
            return w_[i + 4];
        }
    }
    return UINT32_MAX;
}

// Storage class and block kind of a descriptor variable.
struct BlockVar {
    uint32_t struct_id;
    uint32_t storage_class;
    bool uniform_buffer;  // Uniform + Block
    bool storage_buffer;  // Uniform + BufferBlock, or StorageBuffer + Block
};

bool block_of_variable(const Module &m, const IdInfo *var, BlockVar *out) {
    const uint32_t sc = m.operand(var, 3);
    const IdInfo *ptr = m.info(m.operand(var, 1));
    if (ptr == nullptr || ptr->op != OpTypePointer) {
        return false;
    }
    uint32_t pointee = m.operand(ptr, 3);
    const IdInfo *st = m.info(pointee);
    // A descriptor array (array of blocks): look through it.
    if (st != nullptr && (st->op == OpTypeArray || st->op == OpTypeRuntimeArray)) {
        pointee = m.operand(st, 2);
        st = m.info(pointee);
    }
    if (st == nullptr || st->op != OpTypeStruct) {
        return false;
    }
    out->struct_id = pointee;
    out->storage_class = sc;
    out->uniform_buffer = sc == ScUniform && (st->flags & kFlagBlock);
    out->storage_buffer = (sc == ScUniform && (st->flags & kFlagBufferBlock)) || (sc == ScStorageBuffer && (st->flags & kFlagBlock));
    return true;
}

}  // namespace

int reflect_spirv(const uint32_t *words, size_t word_count, const char *entry_name,
                  const VkAllocationCallbacks *callbacks, SpirvReflection *out, char *error, size_t error_size) {
    *out = SpirvReflection{};
    Module m(words, word_count, callbacks);
    if (int rc = m.parse(error, error_size)) {
        return rc;
    }
    out->version = m.version_;
    out->caps = m.caps_;

    // Entry point.
    uint32_t func = 0;
    for (size_t i = 5; i < m.n_; i += m.len(i)) {
        if (m.op(i) != OpEntryPoint || m.len(i) < 4) {
            continue;
        }
        const char *name = reinterpret_cast<const char *>(words + i + 3);
        const size_t max = size_t(m.len(i) - 3) * 4;
        if (std::memchr(name, 0, max) == nullptr) {
            write_error(error, error_size, "OpEntryPoint name at word %zu is not NUL-terminated", i);
            return -1;
        }
        const bool compute = words[i + 1] == ModelGLCompute;
        if (entry_name == nullptr ? compute : std::strcmp(name, entry_name) == 0) {
            if (!compute) {
                write_error(error, error_size, "entry point \"%s\" is not a GLCompute entry point", name);
                return -1;
            }
            func = words[i + 2];
            out->found_entry = true;
            break;
        }
    }
    if (!out->found_entry) {
        write_error(error, error_size, "the SPIR-V module has no GLCompute entry point named \"%s\"",
                    entry_name != nullptr ? entry_name : "(any)");
        return -1;
    }
    for (size_t i = 5; i < m.n_; i += m.len(i)) {
        const uint32_t o = m.op(i);
        if ((o != OpExecutionMode && o != OpExecutionModeId) || m.len(i) < 3 || words[i + 1] != func) {
            continue;
        }
        const uint32_t mode = words[i + 2];
        if (mode == ModeLocalSize && m.len(i) >= 6) {
            for (int k = 0; k < 3; k++) {
                out->local_size[k] = words[i + 3 + k];
            }
        } else if (mode == ModeLocalSizeId && m.len(i) >= 6) {
            out->local_size_id = true;
            for (int k = 0; k < 3; k++) {
                const uint32_t id = words[i + 3 + k];
                out->local_size[k] = m.constant_value(id);
                const IdInfo *c = m.info(id);
                out->local_size_spec_ids[k] = (c != nullptr && (c->flags & kHasSpecId)) ? c->spec_id : 0;
            }
        }
    }
    // A WorkgroupSize built-in constant overrides the execution mode.
    for (uint32_t id = 1; id < m.bound_; id++) {
        const IdInfo &c = m.ids_[id];
        if ((c.flags & kHasBuiltIn) && c.builtin == BuiltInWorkgroupSize &&
            (c.op == OpConstantComposite || c.op == OpSpecConstantComposite) && m.len(c.inst) >= 6) {
            out->workgroup_size_builtin = true;
            for (int k = 0; k < 3; k++) {
                const uint32_t comp = words[c.inst + 3 + k];
                out->local_size[k] = m.constant_value(comp);
                const IdInfo *ci = m.info(comp);
                out->local_size_spec_ids[k] = (ci != nullptr && (ci->flags & kHasSpecId)) ? ci->spec_id : 0;
            }
        }
    }
    // Spec ids.
    for (uint32_t id = 1; id < m.bound_; id++) {
        const IdInfo &c = m.ids_[id];
        if ((c.flags & kHasSpecId) && out->spec_id_count < 64) {
            out->spec_ids[out->spec_id_count++] = c.spec_id;
        }
    }
    // Descriptor bindings of set 0.
    for (uint32_t id = 1; id < m.bound_; id++) {
        const IdInfo &v = m.ids_[id];
        if (v.op != OpVariable || !(v.flags & kHasBinding)) {
            continue;
        }
        BlockVar bv{};
        if (!block_of_variable(m, &v, &bv) || !(bv.uniform_buffer || bv.storage_buffer)) {
            continue;
        }
        if ((v.flags & kHasSet) && v.set != 0) {
            write_error(error, error_size, "binding %u uses descriptor set %u; Halide kernels use set 0 only",
                        v.binding, v.set);
            return -1;
        }
        bool w8 = false, w16 = false, has_bool = false;
        m.scan_widths(bv.struct_id, &w8, &w16, &has_bool);
        out->has_bool_in_block |= has_bool;
        if (out->binding_count >= kMaxBindings) {
            write_error(error, error_size, "more than %u descriptor bindings", kMaxBindings);
            return -1;
        }
        for (uint32_t b = 0; b < out->binding_count; b++) {
            if (out->bindings[b].binding == v.binding) {
                write_error(error, error_size, "descriptor binding %u is declared twice", v.binding);
                return -1;
            }
        }
        SpirvBinding sb{};
        sb.binding = v.binding;
        sb.descriptor_type = bv.uniform_buffer ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        const IdInfo *st = m.info(bv.struct_id);
        const uint32_t members = m.len(st->inst) - 2;
        if (members > 0) {
            const IdInfo *last = m.info(words[st->inst + 2 + members - 1]);
            if (last != nullptr && (last->op == OpTypeRuntimeArray || last->op == OpTypeArray) &&
                (last->flags & kHasArrayStride)) {
                sb.array_stride = last->array_stride;
            }
        }
        // Insert sorted by binding number.
        uint32_t pos = out->binding_count++;
        while (pos > 0 && out->bindings[pos - 1].binding > sb.binding) {
            out->bindings[pos] = out->bindings[pos - 1];
            pos--;
        }
        out->bindings[pos] = sb;

        if (bv.uniform_buffer && v.binding == 0) {
            out->has_uniform_block = true;
            if (members > kMaxUniformMembers) {
                write_error(error, error_size, "uniform block has %u members (at most %u supported)", members,
                            kMaxUniformMembers);
                return -1;
            }
            out->uniform_member_count = members;
            uint32_t end = 0;
            for (uint32_t k = 0; k < members; k++) {
                const uint32_t off = m.member_offset(bv.struct_id, k);
                const uint32_t sz = m.type_size(words[st->inst + 2 + k]);
                if (off == UINT32_MAX) {
                    write_error(error, error_size, "uniform block member %u has no Offset decoration", k);
                    return -1;
                }
                out->uniform_offsets[k] = off;
                out->uniform_sizes[k] = sz;
                // A bool member has no defined size; Halide writes 1 byte for it.
                const uint32_t occupied = off + (sz != 0 ? sz : 4);
                end = occupied > end ? occupied : end;
            }
            out->uniform_block_size = end;
        }
    }
    return 0;
}

int repair_spirv(const uint32_t *words, size_t word_count, const VkAllocationCallbacks *callbacks, SpirvRepair *out,
                 char *error, size_t error_size) {
    out->words = nullptr;
    out->word_count = 0;
    out->summary[0] = '\0';
    Module m(words, word_count, callbacks);
    if (int rc = m.parse(error, error_size)) {
        return rc;
    }
    // What the module's interface blocks need.
    bool need_sb8 = false, need_ub8 = false, need_sb16 = false, need_ub16 = false;
    for (uint32_t id = 1; id < m.bound_; id++) {
        const IdInfo &v = m.ids_[id];
        if (v.op != OpVariable) {
            continue;
        }
        BlockVar bv{};
        if (!block_of_variable(m, &v, &bv)) {
            continue;
        }
        bool w8 = false, w16 = false, has_bool = false;
        m.scan_widths(bv.struct_id, &w8, &w16, &has_bool);
        if (bv.uniform_buffer) {
            need_ub8 |= w8;
            need_ub16 |= w16;
        } else if (bv.storage_buffer) {
            need_sb8 |= w8;
            need_sb16 |= w16;
        }
    }
    uint32_t caps = m.caps_;
    const auto has = [&](SpirvCap c) { return (caps & (1u << c)) != 0; };
    uint32_t add_caps[4];
    int n_caps = 0;
    // UniformAndStorageBuffer*BitAccess implicitly declares StorageBuffer*BitAccess.
    if (need_ub8 && !has(kCapUniformAndStorage8)) {
        add_caps[n_caps++] = CapUniformAndStorage8;
        caps |= 1u << kCapUniformAndStorage8;
    }
    if (need_sb8 && !has(kCapStorageBuffer8) && !has(kCapUniformAndStorage8)) {
        add_caps[n_caps++] = CapStorageBuffer8;
        caps |= 1u << kCapStorageBuffer8;
    }
    if (need_ub16 && !has(kCapUniformAndStorage16)) {
        add_caps[n_caps++] = CapUniformAndStorage16;
        caps |= 1u << kCapUniformAndStorage16;
    }
    if (need_sb16 && !has(kCapStorageBuffer16) && !has(kCapUniformAndStorage16)) {
        add_caps[n_caps++] = CapStorageBuffer16;
        caps |= 1u << kCapStorageBuffer16;
    }
    // Extensions the capabilities need at this SPIR-V version.
    const char *add_ext[3];
    int n_ext = 0;
    const bool any16 = has(kCapStorageBuffer16) || has(kCapUniformAndStorage16) || has(kCapPushConstant16) ||
                       has(kCapInputOutput16);
    const bool any8 = has(kCapStorageBuffer8) || has(kCapUniformAndStorage8) || has(kCapPushConstant8);
    if (any16 && m.version_ < 0x00010300u && !m.has_extension("SPV_KHR_16bit_storage")) {
        add_ext[n_ext++] = "SPV_KHR_16bit_storage";
    }
    if (any8 && m.version_ < 0x00010500u && !m.has_extension("SPV_KHR_8bit_storage")) {
        add_ext[n_ext++] = "SPV_KHR_8bit_storage";
    }
    if (has(kCapVulkanMemoryModel) && m.version_ < 0x00010500u && !m.has_extension("SPV_KHR_vulkan_memory_model")) {
        add_ext[n_ext++] = "SPV_KHR_vulkan_memory_model";
    }
    if (n_caps == 0 && n_ext == 0) {
        return 0;
    }
    // New words: 2 per capability, 1 + string words per extension.
    size_t extra = size_t(n_caps) * 2;
    for (int i = 0; i < n_ext; i++) {
        extra += 1 + std::strlen(add_ext[i]) / 4 + 1;
    }
    uint32_t *dst = static_cast<uint32_t *>(
        host_alloc(callbacks, sizeof(uint32_t) * (word_count + extra), 0, VK_SYSTEM_ALLOCATION_SCOPE_COMMAND));
    if (dst == nullptr) {
        write_error(error, error_size, "out of host memory repairing SPIR-V");
        return -11;
    }
    // Capabilities go after the last OpCapability; extensions after the
    // last OpExtension, or right after the capabilities.
    const size_t cap_at = m.last_capability_end_;
    // (An OpExtension before the last OpCapability is out of order; put ours after the capabilities.)
    const size_t ext_at = m.last_extension_end_ > cap_at ? m.last_extension_end_ : cap_at;
    size_t o = 0;
    std::memcpy(dst, words, sizeof(uint32_t) * cap_at);
    o = cap_at;
    size_t used = std::strlen(out->summary);
    for (int i = 0; i < n_caps; i++) {
        dst[o++] = (2u << 16) | OpCapability;
        dst[o++] = add_caps[i];
        used += std::snprintf(out->summary + used, used < sizeof(out->summary) ? sizeof(out->summary) - used : 0,
                              "%sadded OpCapability %s", used ? "; " : "", cap_by_spirv(add_caps[i])->name);
        used = used < sizeof(out->summary) ? used : sizeof(out->summary) - 1;
    }
    std::memcpy(dst + o, words + cap_at, sizeof(uint32_t) * (ext_at - cap_at));
    o += ext_at - cap_at;
    for (int i = 0; i < n_ext; i++) {
        const size_t sw = std::strlen(add_ext[i]) / 4 + 1;
        dst[o++] = uint32_t((1 + sw) << 16) | OpExtension;
        std::memset(dst + o, 0, sw * 4);
        std::memcpy(dst + o, add_ext[i], std::strlen(add_ext[i]));
        o += sw;
        used += std::snprintf(out->summary + used, used < sizeof(out->summary) ? sizeof(out->summary) - used : 0,
                              "%sadded OpExtension %s", used ? "; " : "", add_ext[i]);
        used = used < sizeof(out->summary) ? used : sizeof(out->summary) - 1;
    }
    std::memcpy(dst + o, words + ext_at, sizeof(uint32_t) * (word_count - ext_at));
    o += word_count - ext_at;
    out->words = dst;
    out->word_count = o;
    return 0;
}

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
            const char *cap_name = "?";
            for (const CapName &c : kCaps) {
                if (c.bit == n.cap) {
                    cap_name = c.name;
                }
            }
            write_error(error, error_size,
                        "the kernel needs SPIR-V capability %s, but the device does not support (or the context did "
                        "not enable) the Vulkan feature %s",
                        cap_name, n.feature);
            return -1;
        }
    }
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
