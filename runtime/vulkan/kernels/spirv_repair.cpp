// SPIR-V repair: Halide's code generator can leave out the OpCapability and
// OpExtension declarations that 8/16-bit storage and the Vulkan memory model
// need. repair_spirv adds the missing ones, in the places the SPIR-V layout
// rules require, to a copy of the module.
#include <cstdio>
#include <cstring>

#include "vulkan/kernels/spirv_internal.h"

namespace hvk {
namespace {

using spirv::BlockVar;
using spirv::IdInfo;
using spirv::Module;

// 8/16-bit access the module's interface blocks need, by block kind.
struct StorageNeeds {
    bool sb8 = false, ub8 = false, sb16 = false, ub16 = false;
};

// The declarations to add.
struct Additions {
    uint32_t caps[4];  // SPIR-V capability numbers
    int n_caps = 0;
    const char *ext[3];
    int n_ext = 0;
};

// What the module's interface blocks need.
StorageNeeds storage_needs(const Module &m) {
    StorageNeeds need;
    for (uint32_t id = 1; id < m.bound_; id++) {
        const IdInfo &v = m.ids_[id];
        if (v.op != spirv::OpVariable) {
            continue;
        }
        BlockVar bv{};
        if (!block_of_variable(m, &v, &bv)) {
            continue;
        }
        bool w8 = false, w16 = false, has_bool = false;
        m.scan_widths(bv.struct_id, &w8, &w16, &has_bool);
        if (bv.uniform_buffer) {
            need.ub8 |= w8;
            need.ub16 |= w16;
        } else if (bv.storage_buffer) {
            need.sb8 |= w8;
            need.sb16 |= w16;
        }
    }
    return need;
}

// Capabilities `need` calls for that `*caps` (SpirvCap bits) lacks; adds
// them to `*caps` too, so each later check sees the earlier additions.
void choose_capabilities(const StorageNeeds &need, uint32_t *caps, Additions *add) {
    const auto has = [&](SpirvCap c) { return (*caps & (1u << c)) != 0; };
    // UniformAndStorageBuffer*BitAccess implicitly declares StorageBuffer*BitAccess.
    if (need.ub8 && !has(kCapUniformAndStorage8)) {
        add->caps[add->n_caps++] = spirv::CapUniformAndStorage8;
        *caps |= 1u << kCapUniformAndStorage8;
    }
    if (need.sb8 && !has(kCapStorageBuffer8) && !has(kCapUniformAndStorage8)) {
        add->caps[add->n_caps++] = spirv::CapStorageBuffer8;
        *caps |= 1u << kCapStorageBuffer8;
    }
    if (need.ub16 && !has(kCapUniformAndStorage16)) {
        add->caps[add->n_caps++] = spirv::CapUniformAndStorage16;
        *caps |= 1u << kCapUniformAndStorage16;
    }
    if (need.sb16 && !has(kCapStorageBuffer16) && !has(kCapUniformAndStorage16)) {
        add->caps[add->n_caps++] = spirv::CapStorageBuffer16;
        *caps |= 1u << kCapStorageBuffer16;
    }
}

// Extensions the capabilities `caps` need at this SPIR-V version.
void choose_extensions(const Module &m, uint32_t caps, Additions *add) {
    const auto has = [&](SpirvCap c) { return (caps & (1u << c)) != 0; };
    const bool any16 = has(kCapStorageBuffer16) || has(kCapUniformAndStorage16) || has(kCapPushConstant16) ||
                       has(kCapInputOutput16);
    const bool any8 = has(kCapStorageBuffer8) || has(kCapUniformAndStorage8) || has(kCapPushConstant8);
    if (any16 && m.version_ < 0x00010300u && !m.has_extension("SPV_KHR_16bit_storage")) {
        add->ext[add->n_ext++] = "SPV_KHR_16bit_storage";
    }
    if (any8 && m.version_ < 0x00010500u && !m.has_extension("SPV_KHR_8bit_storage")) {
        add->ext[add->n_ext++] = "SPV_KHR_8bit_storage";
    }
    if (has(kCapVulkanMemoryModel) && m.version_ < 0x00010500u && !m.has_extension("SPV_KHR_vulkan_memory_model")) {
        add->ext[add->n_ext++] = "SPV_KHR_vulkan_memory_model";
    }
}

// Words of an extension name's string operand (NUL-terminated, padded to a word).
size_t string_words(const char *s) {
    return std::strlen(s) / 4 + 1;
}

// New words: 2 per capability, 1 + string words per extension.
size_t added_words(const Additions &add) {
    size_t extra = size_t(add.n_caps) * 2;
    for (int i = 0; i < add.n_ext; i++) {
        extra += 1 + string_words(add.ext[i]);
    }
    return extra;
}

// Appends "added <instruction> <name>" ("; "-separated) to the summary;
// `*used` is its length so far, kept below its size when it truncates.
void append_summary(SpirvRepair *out, size_t *used, const char *instruction, const char *name) {
    const size_t size = sizeof(out->summary);
    *used += std::snprintf(out->summary + *used, *used < size ? size - *used : 0, "%sadded %s %s",
                           *used ? "; " : "", instruction, name);
    *used = *used < size ? *used : size - 1;
}

// Copies the module's words into `dst` with the additions spliced in, and
// notes each in out->summary. Returns the number of words written.
size_t splice_declarations(const Module &m, const Additions &add, uint32_t *dst, SpirvRepair *out) {
    const uint32_t *words = m.w_;
    // Capabilities go after the last OpCapability; extensions after the
    // last OpExtension, or right after the capabilities.
    const size_t cap_at = m.last_capability_end_;
    // (An OpExtension before the last OpCapability is out of order; put ours after the capabilities.)
    const size_t ext_at = m.last_extension_end_ > cap_at ? m.last_extension_end_ : cap_at;
    size_t o = 0;
    std::memcpy(dst, words, sizeof(uint32_t) * cap_at);
    o = cap_at;
    size_t used = std::strlen(out->summary);
    for (int i = 0; i < add.n_caps; i++) {
        dst[o++] = (2u << 16) | spirv::OpCapability;
        dst[o++] = add.caps[i];
        append_summary(out, &used, "OpCapability", spirv::cap_by_spirv(add.caps[i])->name);
    }
    std::memcpy(dst + o, words + cap_at, sizeof(uint32_t) * (ext_at - cap_at));
    o += ext_at - cap_at;
    for (int i = 0; i < add.n_ext; i++) {
        const size_t sw = string_words(add.ext[i]);
        dst[o++] = uint32_t((1 + sw) << 16) | spirv::OpExtension;
        std::memset(dst + o, 0, sw * 4);
        std::memcpy(dst + o, add.ext[i], std::strlen(add.ext[i]));
        o += sw;
        append_summary(out, &used, "OpExtension", add.ext[i]);
    }
    std::memcpy(dst + o, words + ext_at, sizeof(uint32_t) * (m.n_ - ext_at));
    o += m.n_ - ext_at;
    return o;
}

}  // namespace

int repair_spirv(const uint32_t *words, size_t word_count, const VkAllocationCallbacks *callbacks, SpirvRepair *out,
                 char *error, size_t error_size) {
    out->words = nullptr;
    out->word_count = 0;
    out->summary[0] = '\0';
    Module m(words, word_count, callbacks);
    if (int rc = m.parse(error, error_size)) {
        return rc;
    }
    uint32_t caps = m.caps_;
    Additions add;
    choose_capabilities(storage_needs(m), &caps, &add);
    choose_extensions(m, caps, &add);
    if (add.n_caps == 0 && add.n_ext == 0) {
        return 0;
    }
    uint32_t *dst = static_cast<uint32_t *>(host_alloc(callbacks, sizeof(uint32_t) * (word_count + added_words(add)),
                                                       0, VK_SYSTEM_ALLOCATION_SCOPE_COMMAND));
    if (dst == nullptr) {
        spirv::write_error(error, error_size, "out of host memory repairing SPIR-V");
        return -11;
    }
    out->words = dst;
    out->word_count = splice_declarations(m, add, dst, out);
    return 0;
}

}  // namespace hvk
