// The SPIR-V word-stream parser: checks the header and every instruction's
// length against the module's size, gathers per-id facts (defining
// instruction, decorations) in one pass, and answers the type questions
// reflection and repair ask (sizes, scalar widths, member offsets, block
// kind of a variable).
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "vulkan/kernels/spirv_internal.h"

namespace hvk {
namespace spirv {

const CapName *cap_by_spirv(uint32_t c) {
    for (const CapName &n : kCaps) {
        if (n.spirv == c) {
            return &n;
        }
    }
    return nullptr;
}

void write_error(char *error, size_t size, const char *fmt, ...) {
    if (error == nullptr || size == 0) {
        return;
    }
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(error, size, fmt, args);
    va_end(args);
}

int Module::parse(char *error, size_t error_size) {
    if (int rc = check_header(error, error_size)) {
        return rc;
    }
    for (size_t i = 5; i < n_;) {
        const uint32_t l = len(i);
        if (l == 0 || l > n_ - i) {
            write_error(error, error_size, "SPIR-V instruction at word %zu (opcode %u) has word count %u, %zu words left",
                        i, op(i), l, n_ - i);
            return -1;
        }
        if (int rc = record_instruction(i, error, error_size)) {
            return rc;
        }
        i += l;
    }
    return 0;
}

// The 5-word header: magic, version, generator, id bound, schema. Allocates
// the id table for the bound.
int Module::check_header(char *error, size_t error_size) {
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
    return 0;
}

// Records what the instruction at word `i` (whose length parse() checked)
// tells: a capability, an extension's position, an id's definition, a
// decoration.
int Module::record_instruction(size_t i, char *error, size_t error_size) {
    const uint32_t l = len(i);
    const uint32_t o = op(i);
    switch (o) {
    case OpCapability:
        if (l >= 2) {
            if (const CapName *c = cap_by_spirv(w_[i + 1])) {
                caps_ |= 1u << c->bit;
            }
        }
        last_capability_end_ = i + l;
        return 0;
    case OpExtension:
        last_extension_end_ = i + l;
        return 0;
    case OpTypeBool:
    case OpTypeInt:
    case OpTypeFloat:
    case OpTypeVector:
    case OpTypeMatrix:
    case OpTypeArray:
    case OpTypeRuntimeArray:
    case OpTypeStruct:
    case OpTypePointer:
        if (l < 2) {
            write_error(error, error_size, "SPIR-V type instruction at word %zu is too short", i);
            return -1;
        }
        return define(w_[i + 1], i, error, error_size) ? 0 : -1;
    case OpConstant:
    case OpConstantComposite:
    case OpSpecConstant:
    case OpSpecConstantComposite:
    case OpVariable:
        if (l < 3) {
            write_error(error, error_size, "SPIR-V instruction at word %zu (opcode %u) is too short", i, o);
            return -1;
        }
        return define(w_[i + 2], i, error, error_size) ? 0 : -1;
    case OpDecorate:
        return l >= 3 ? record_decoration(i, error, error_size) : 0;
    default:
        return 0;
    }
}

// `id` is defined by the instruction at word `i`.
bool Module::define(uint32_t id, size_t i, char *error, size_t error_size) {
    if (id == 0 || id >= bound_) {
        write_error(error, error_size, "SPIR-V id %u at word %zu is outside the bound %u", id, i, bound_);
        return false;
    }
    ids_[id].op = op(i);
    ids_[id].inst = uint32_t(i);
    return true;
}

// OpDecorate at word `i` (at least 3 words): the decorations the runtime reads.
int Module::record_decoration(size_t i, char *error, size_t error_size) {
    const uint32_t l = len(i);
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

}  // namespace spirv
}  // namespace hvk
