// SPIR-V reflection: what a kernel module declares (entry point, workgroup
// size and its spec constants, spec ids, set-0 descriptor bindings, the
// uniform block's layout), read from the parsed module.
#include <cstring>

#include "vulkan/kernels/spirv_internal.h"

namespace hvk {
namespace {

using spirv::BlockVar;
using spirv::IdInfo;
using spirv::Module;
using spirv::write_error;

// Finds the entry point named `entry_name` (null: the first GLCompute one)
// and returns its function id in `*func`.
int find_entry_point(const Module &m, const char *entry_name, uint32_t *func, SpirvReflection *out, char *error,
                     size_t error_size) {
    const uint32_t *words = m.w_;
    for (size_t i = 5; i < m.n_; i += m.len(i)) {
        if (m.op(i) != spirv::OpEntryPoint || m.len(i) < 4) {
            continue;
        }
        const char *name = reinterpret_cast<const char *>(words + i + 3);
        const size_t max = size_t(m.len(i) - 3) * 4;
        if (std::memchr(name, 0, max) == nullptr) {
            write_error(error, error_size, "OpEntryPoint name at word %zu is not NUL-terminated", i);
            return -1;
        }
        const bool compute = words[i + 1] == spirv::ModelGLCompute;
        if (entry_name == nullptr ? compute : std::strcmp(name, entry_name) == 0) {
            if (!compute) {
                write_error(error, error_size, "entry point \"%s\" is not a GLCompute entry point", name);
                return -1;
            }
            *func = words[i + 2];
            out->found_entry = true;
            break;
        }
    }
    if (!out->found_entry) {
        write_error(error, error_size, "the SPIR-V module has no GLCompute entry point named \"%s\"",
                    entry_name != nullptr ? entry_name : "(any)");
        return -1;
    }
    return 0;
}

// Default value and SpecId (0 if none) of the constant `id`, as workgroup size component k.
void set_local_size_from_constant(const Module &m, uint32_t id, int k, SpirvReflection *out) {
    out->local_size[k] = m.constant_value(id);
    const IdInfo *c = m.info(id);
    out->local_size_spec_ids[k] = (c != nullptr && (c->flags & spirv::kHasSpecId)) ? c->spec_id : 0;
}

// The LocalSize / LocalSizeId execution modes of function `func`.
void read_local_size_modes(const Module &m, uint32_t func, SpirvReflection *out) {
    const uint32_t *words = m.w_;
    for (size_t i = 5; i < m.n_; i += m.len(i)) {
        const uint32_t o = m.op(i);
        if ((o != spirv::OpExecutionMode && o != spirv::OpExecutionModeId) || m.len(i) < 3 || words[i + 1] != func) {
            continue;
        }
        const uint32_t mode = words[i + 2];
        if (mode == spirv::ModeLocalSize && m.len(i) >= 6) {
            for (int k = 0; k < 3; k++) {
                out->local_size[k] = words[i + 3 + k];
            }
        } else if (mode == spirv::ModeLocalSizeId && m.len(i) >= 6) {
            out->local_size_id = true;
            for (int k = 0; k < 3; k++) {
                set_local_size_from_constant(m, words[i + 3 + k], k, out);
            }
        }
    }
}

// A WorkgroupSize built-in constant overrides the execution mode.
void read_workgroup_size_builtin(const Module &m, SpirvReflection *out) {
    for (uint32_t id = 1; id < m.bound_; id++) {
        const IdInfo &c = m.ids_[id];
        if ((c.flags & spirv::kHasBuiltIn) && c.builtin == spirv::BuiltInWorkgroupSize &&
            (c.op == spirv::OpConstantComposite || c.op == spirv::OpSpecConstantComposite) && m.len(c.inst) >= 6) {
            out->workgroup_size_builtin = true;
            for (int k = 0; k < 3; k++) {
                set_local_size_from_constant(m, m.w_[c.inst + 3 + k], k, out);
            }
        }
    }
}

void collect_spec_ids(const Module &m, SpirvReflection *out) {
    for (uint32_t id = 1; id < m.bound_; id++) {
        const IdInfo &c = m.ids_[id];
        if ((c.flags & spirv::kHasSpecId) && out->spec_id_count < 64) {
            out->spec_ids[out->spec_id_count++] = c.spec_id;
        }
    }
}

// ArrayStride of the block's trailing (runtime) array member; 0 if none.
uint32_t trailing_array_stride(const Module &m, uint32_t struct_id) {
    const IdInfo *st = m.info(struct_id);
    const uint32_t members = m.len(st->inst) - 2;
    if (members > 0) {
        const IdInfo *last = m.info(m.w_[st->inst + 2 + members - 1]);
        if (last != nullptr && (last->op == spirv::OpTypeRuntimeArray || last->op == spirv::OpTypeArray) &&
            (last->flags & spirv::kHasArrayStride)) {
            return last->array_stride;
        }
    }
    return 0;
}

void insert_binding_sorted(const SpirvBinding &sb, SpirvReflection *out) {
    uint32_t pos = out->binding_count++;
    while (pos > 0 && out->bindings[pos - 1].binding > sb.binding) {
        out->bindings[pos] = out->bindings[pos - 1];
        pos--;
    }
    out->bindings[pos] = sb;
}

// The uniform block at binding 0: its members' offsets and sizes, and its size.
int reflect_uniform_block(const Module &m, uint32_t struct_id, SpirvReflection *out, char *error, size_t error_size) {
    const IdInfo *st = m.info(struct_id);
    const uint32_t members = m.len(st->inst) - 2;
    out->has_uniform_block = true;
    if (members > kMaxUniformMembers) {
        write_error(error, error_size, "uniform block has %u members (at most %u supported)", members,
                    kMaxUniformMembers);
        return -1;
    }
    out->uniform_member_count = members;
    uint32_t end = 0;
    for (uint32_t k = 0; k < members; k++) {
        const uint32_t off = m.member_offset(struct_id, k);
        const uint32_t sz = m.type_size(m.w_[st->inst + 2 + k]);
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
    return 0;
}

// One descriptor variable `v` of buffer block `bv`.
int reflect_binding(const Module &m, const IdInfo &v, const BlockVar &bv, SpirvReflection *out, char *error,
                    size_t error_size) {
    if ((v.flags & spirv::kHasSet) && v.set != 0) {
        write_error(error, error_size, "binding %u uses descriptor set %u; Halide kernels use set 0 only", v.binding,
                    v.set);
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
    sb.array_stride = trailing_array_stride(m, bv.struct_id);
    insert_binding_sorted(sb, out);
    if (bv.uniform_buffer && v.binding == 0) {
        return reflect_uniform_block(m, bv.struct_id, out, error, error_size);
    }
    return 0;
}

// Descriptor bindings of set 0.
int reflect_bindings(const Module &m, SpirvReflection *out, char *error, size_t error_size) {
    for (uint32_t id = 1; id < m.bound_; id++) {
        const IdInfo &v = m.ids_[id];
        if (v.op != spirv::OpVariable || !(v.flags & spirv::kHasBinding)) {
            continue;
        }
        BlockVar bv{};
        if (!block_of_variable(m, &v, &bv) || !(bv.uniform_buffer || bv.storage_buffer)) {
            continue;
        }
        if (int rc = reflect_binding(m, v, bv, out, error, error_size)) {
            return rc;
        }
    }
    return 0;
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
    uint32_t func = 0;
    if (int rc = find_entry_point(m, entry_name, &func, out, error, error_size)) {
        return rc;
    }
    read_local_size_modes(m, func, out);
    read_workgroup_size_builtin(m, out);
    collect_spec_ids(m, out);
    return reflect_bindings(m, out, error, error_size);
}

}  // namespace hvk
