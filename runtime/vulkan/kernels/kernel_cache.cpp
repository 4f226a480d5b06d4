#include "vulkan/kernels/kernel_cache.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "common/report.h"
#include "vulkan/kernels/kernel_blob.h"
#include "vulkan/kernels/spirv_module.h"
#include "vulkan/submit/submitter.h"
#include "vulkan/util/host_alloc.h"
#include "vulkan/util/vk_result.h"

namespace hvk {

KernelCounters g_kernel_counters;

namespace {

// ---------------------------------------------------------------------------
// Knobs

std::atomic<bool> g_force_pools{false};
// Ids handed out so far: 2, 3, ... (Halide's runtime starts at 2 too).
std::atomic<uint64_t> g_next_id{2};

const char *const kInit = "halide_vulkan_initialize_kernels";

// HL_VK_PUSH_DESCRIPTORS=0: descriptor sets from pools even where the device
// has VK_KHR_push_descriptor (the gpuav test setup needs it: GPU-assisted
// validation of the 1.3.239 layer reports push descriptors as
// uninitialised, KhronosGroup/Vulkan-ValidationLayers#5321).
bool push_descriptors_disabled() {
    const char *v = std::getenv("HL_VK_PUSH_DESCRIPTORS");
    return v != nullptr && v[0] == '0';
}

// ---------------------------------------------------------------------------
// One module's SPIR-V while it is compiled

// The word-aligned copy, the repaired copy (if any) and the reflection;
// all freed when the module's compilation ends, whatever the outcome.
struct ModuleSource {
    explicit ModuleSource(const VkAllocationCallbacks *callbacks) : cb(callbacks) {}
    ~ModuleSource() {
        host_free(cb, words);
        host_free(cb, repair.words);
        host_delete(cb, refl);
    }
    ModuleSource(const ModuleSource &) = delete;
    ModuleSource &operator=(const ModuleSource &) = delete;

    const VkAllocationCallbacks *cb;
    uint32_t *words = nullptr;
    size_t word_count = 0;
    SpirvRepair repair;
    const uint32_t *code = nullptr;  // what is compiled: words, or repair.words
    size_t code_words = 0;
    SpirvReflection *refl = nullptr;
};

// Copies the module's SPIR-V into word-aligned memory (the blob may be
// unaligned) and adds the declarations Halide's code generator leaves out.
int load_spirv(void *uc, const BlobModule &bm, const BlobEntryPoint &be, ModuleSource *src) {
    src->word_count = bm.spirv_bytes / 4;
    src->words = alloc_array<uint32_t>(src->cb, src->word_count);
    if (src->words == nullptr) {
        return report_error(uc, -11, kInit, "out of host memory");
    }
    std::memcpy(src->words, bm.spirv, bm.spirv_bytes);
    char msg[512];
    int rc = repair_spirv(src->words, src->word_count, src->cb, &src->repair, msg, sizeof(msg));
    if (rc != 0) {
        return report_error(uc, rc, kInit, "kernel \"%s\": malformed SPIR-V: %s", be.name, msg);
    }
    src->code = src->words;
    src->code_words = src->word_count;
    if (src->repair.words != nullptr) {
        src->code = src->repair.words;
        src->code_words = src->repair.word_count;
        g_kernel_counters.modules_repaired++;
        log_debug(uc, "kernel \"%s\": repaired SPIR-V: %s", be.name, src->repair.summary);
    }
    return 0;
}

// SPIR-V validation under HL_VK_SPIRV_VALIDATION: strict refuses an
// invalid module, warn (the default) reports it once and runs it.
int validate_module(void *uc, const Device &d, const ModuleSource &src, const char *name) {
    const ValidationPolicy policy = validation_policy();
    if (policy == ValidationPolicy::Off) {
        return 0;
    }
    char msg[512];
    if (validate_spirv(src.code, src.code_words, d.caps, msg, sizeof(msg))) {
        return 0;
    }
    if (policy == ValidationPolicy::Strict) {
        return report_error(uc, -1, kInit, "kernel \"%s\": SPIR-V validation failed (HL_VK_SPIRV_VALIDATION=strict): %s",
                            name, msg);
    }
    g_kernel_counters.validation_warnings++;
    if (first_warning_for_module(src.code, src.code_words)) {
        report_warning(uc,
                       "kernel \"%s\": SPIR-V validation failed, running it anyway "
                       "(HL_VK_SPIRV_VALIDATION=strict refuses, =off skips the check): %s",
                       name, msg);
    }
    return 0;
}

// Reflects the module and checks what it needs against the device, then
// validates it.
int reflect_and_check(void *uc, const Device &d, const BlobEntryPoint &be, ModuleSource *src) {
    src->refl = host_new<SpirvReflection>(src->cb);
    g_kernel_counters.host_allocations++;
    if (src->refl == nullptr) {
        return report_error(uc, -11, kInit, "out of host memory");
    }
    char msg[512];
    int rc = reflect_spirv(src->code, src->code_words, be.name, src->cb, src->refl, msg, sizeof(msg));
    if (rc != 0) {
        return report_error(uc, rc, kInit, "kernel \"%s\": %s", be.name, msg);
    }
    if (check_spirv_against_device(*src->refl, d.caps, msg, sizeof(msg)) != 0) {
        return report_error(uc, -1, kInit, "kernel \"%s\" cannot run on %s: %s", be.name, d.properties.deviceName,
                            msg);
    }
    return validate_module(uc, d, *src, be.name);
}

// ---------------------------------------------------------------------------
// Entry point metadata, checked against the device and the SPIR-V

int copy_entry_name(void *uc, const VkAllocationCallbacks *cb, const BlobEntryPoint &be, EntryPoint *ep) {
    const size_t name_len = std::strlen(be.name);
    ep->name = alloc_array<char>(cb, name_len + 1);
    if (ep->name == nullptr) {
        return report_error(uc, -11, kInit, "out of host memory");
    }
    std::memcpy(ep->name, be.name, name_len + 1);
    return 0;
}

int check_storage_count(void *uc, const VkPhysicalDeviceLimits &lim, const BlobEntryPoint &be) {
    if (be.storage_count > kMaxStorageBuffers || be.storage_count > lim.maxPerStageDescriptorStorageBuffers) {
        return report_error(uc, -1, kInit,
                            "kernel \"%s\" has %u buffer arguments; the device allows %u storage buffers per stage "
                            "(and this runtime %u)",
                            be.name, be.storage_count, lim.maxPerStageDescriptorStorageBuffers, kMaxStorageBuffers);
    }
    return 0;
}

// Shared memory: static allocations add up; a dynamic one is sized by a
// specialisation constant at dispatch time.
int describe_shared_memory(void *uc, const VkPhysicalDeviceLimits &lim, const BlobEntryPoint &be, EntryPoint *ep) {
    ep->shared_count = be.shared_count;
    for (uint32_t i = 0; i < be.shared_count; i++) {
        const BlobSharedAlloc &sa = be.shared[i];
        if (sa.spec_id == 0) {
            ep->static_shared_bytes += uint64_t(sa.element_size) * sa.array_length;
        } else {
            ep->dynamic_shared_count++;
            ep->dynamic_shared_spec_id = sa.spec_id;
            ep->dynamic_shared_element = sa.element_size;
            ep->dynamic_shared_default = sa.array_length;
        }
    }
    if (ep->static_shared_bytes > lim.maxComputeSharedMemorySize) {
        return report_error(uc, -1, kInit, "kernel \"%s\" needs %llu bytes of static shared memory; the device allows %u",
                            be.name, (unsigned long long)ep->static_shared_bytes, lim.maxComputeSharedMemorySize);
    }
    return 0;
}

// Specialisation map: dynamic shared length first, then x, y, z.
void describe_specialisation(void *uc, const BlobEntryPoint &be, const SpirvReflection &refl, EntryPoint *ep) {
    if (ep->dynamic_shared_count == 1) {
        ep->spec_ids[ep->spec_count++] = ep->dynamic_shared_spec_id;
    }
    if (be.local_size_ids[0] != 0) {
        ep->dynamic_wg = true;
        for (uint32_t k = 0; k < 3; k++) {
            ep->spec_ids[ep->spec_count++] = be.local_size_ids[k];
        }
        return;
    }
    for (uint32_t k = 0; k < 3; k++) {
        ep->static_wg[k] = refl.local_size[k] != 0 ? refl.local_size[k] : 1;
    }
    if (refl.local_size_spec_ids[0] | refl.local_size_spec_ids[1] | refl.local_size_spec_ids[2]) {
        log_debug(uc, "kernel \"%s\": work-group size comes from specialization constants the header does not "
                  "name; using their defaults %u x %u x %u",
                  be.name, ep->static_wg[0], ep->static_wg[1], ep->static_wg[2]);
    }
}

// Bindings: binding 0 is the argument block when U == 1; storage
// buffers follow. Everything the shader declares must match.
int check_bindings(void *uc, const BlobEntryPoint &be, const SpirvReflection &refl) {
    const uint32_t first_storage = be.uniform_count;
    for (uint32_t b = 0; b < refl.binding_count; b++) {
        const SpirvBinding &sb = refl.bindings[b];
        const bool is_uniform = sb.binding < first_storage;
        const bool in_range = sb.binding < first_storage + be.storage_count;
        const uint32_t want = is_uniform ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        if (!in_range || sb.descriptor_type != want) {
            return report_error(uc, -1, kInit,
                                "kernel \"%s\": the SPIR-V declares a %s buffer at binding %u, but the header (%u "
                                "uniform, %u storage buffers) puts %s there",
                                be.name, sb.descriptor_type == VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER ? "uniform" : "storage",
                                sb.binding, be.uniform_count, be.storage_count,
                                !in_range ? "nothing" : (is_uniform ? "the argument block" : "a storage buffer"));
        }
    }
    return 0;
}

int describe_storage_strides(void *uc, const VkAllocationCallbacks *cb, const BlobEntryPoint &be,
                             const SpirvReflection &refl, EntryPoint *ep) {
    ep->strides = alloc_array<uint32_t>(cb, be.storage_count);
    if (ep->strides == nullptr) {
        return report_error(uc, -11, kInit, "out of host memory");
    }
    const uint32_t first_storage = be.uniform_count;
    for (uint32_t b = 0; b < refl.binding_count; b++) {
        const SpirvBinding &sb = refl.bindings[b];
        if (sb.binding >= first_storage) {
            ep->strides[sb.binding - first_storage] = sb.array_stride;
        }
    }
    return 0;
}

// The argument block's members (offsets and sizes), when it has one.
int describe_uniform_block(void *uc, const VkAllocationCallbacks *cb, const VkPhysicalDeviceLimits &lim,
                           const BlobEntryPoint &be, const SpirvReflection &refl, EntryPoint *ep) {
    if (be.uniform_count != 1) {
        return 0;
    }
    if (!refl.has_uniform_block) {
        return report_error(uc, -1, kInit,
                            "kernel \"%s\": the header declares an argument block but the SPIR-V has no uniform "
                            "block at set 0, binding 0",
                            be.name);
    }
    ep->has_uniform_block = true;
    ep->member_count = refl.uniform_member_count;
    ep->block_size = refl.uniform_block_size;
    if (ep->block_size > lim.maxUniformBufferRange) {
        return report_error(uc, -1, kInit, "kernel \"%s\": argument block of %u bytes exceeds maxUniformBufferRange %u",
                            be.name, ep->block_size, lim.maxUniformBufferRange);
    }
    ep->member_offsets = alloc_array<uint32_t>(cb, ep->member_count);
    ep->member_sizes = alloc_array<uint32_t>(cb, ep->member_count);
    if (ep->member_offsets == nullptr || ep->member_sizes == nullptr) {
        return report_error(uc, -11, kInit, "out of host memory");
    }
    for (uint32_t k = 0; k < ep->member_count; k++) {
        ep->member_offsets[k] = refl.uniform_offsets[k];
        ep->member_sizes[k] = refl.uniform_sizes[k];
    }
    return 0;
}

// Everything argument binding needs to know about the entry point, in the
// order its errors are reported.
int describe_entry_point(void *uc, const Device &d, const BlobEntryPoint &be, const SpirvReflection &refl,
                         uint32_t m, EntryPoint *ep) {
    ep->module = m;
    ep->uniform_count = be.uniform_count;
    ep->storage_count = be.storage_count;
    if (int rc = copy_entry_name(uc, d.callbacks, be, ep)) {
        return rc;
    }
    const VkPhysicalDeviceLimits &lim = d.properties.limits;
    if (int rc = check_storage_count(uc, lim, be)) {
        return rc;
    }
    if (int rc = describe_shared_memory(uc, lim, be, ep)) {
        return rc;
    }
    describe_specialisation(uc, be, refl, ep);
    if (int rc = check_bindings(uc, be, refl)) {
        return rc;
    }
    if (int rc = describe_storage_strides(uc, d.callbacks, be, refl, ep)) {
        return rc;
    }
    return describe_uniform_block(uc, d.callbacks, lim, be, refl, ep);
}

int create_shader_module(void *uc, const Device &d, const ModuleSource &src, const char *name, VkShaderModule *out) {
    VkShaderModuleCreateInfo smi{};
    smi.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO;
    smi.codeSize = src.code_words * 4;
    smi.pCode = src.code;
    VkResult r = d.vk.vkCreateShaderModule(d.device, &smi, d.callbacks, out);
    if (r != VK_SUCCESS) {
        *out = VK_NULL_HANDLE;
        return report_error(uc, -1, kInit, "kernel \"%s\": vkCreateShaderModule failed: %s", name, vk_result_name(r));
    }
    g_kernel_counters.shader_modules_created++;
    return 0;
}

}  // namespace

// ---------------------------------------------------------------------------
// Per-device cache

KernelCache::~KernelCache() {
    for (uint32_t i = 0; i < entry_count_; i++) {
        destroy_entry(entries_[i]);
    }
    free_host(entries_);
    if (pipeline_cache_ != VK_NULL_HANDLE) {
        d_->vk.vkDestroyPipelineCache(d_->device, pipeline_cache_, cb_);
    }
}

int KernelCache::init(void *uc) {
    push_available_ = d_->caps.push_descriptor && d_->vk.vkCmdPushDescriptorSetKHR != nullptr && !g_force_pools &&
                      !push_descriptors_disabled();
    if (push_available_ && d_->ifn.GetPhysicalDeviceProperties2 != nullptr) {
        VkPhysicalDevicePushDescriptorPropertiesKHR push{};
        push.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PUSH_DESCRIPTOR_PROPERTIES_KHR;
        VkPhysicalDeviceProperties2 props{};
        props.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
        props.pNext = &push;
        d_->ifn.GetPhysicalDeviceProperties2(d_->physical_device, &props);
        max_push_descriptors_ = push.maxPushDescriptors;
    } else {
        push_available_ = false;
    }
    VkPipelineCacheCreateInfo pci{};
    pci.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO;
    VkResult r = d_->vk.vkCreatePipelineCache(d_->device, &pci, cb_, &pipeline_cache_);
    if (r != VK_SUCCESS) {
        pipeline_cache_ = VK_NULL_HANDLE;  // optional: pipelines are created without one
    }
    (void)uc;
    return 0;
}

CacheEntry *KernelCache::find(uint64_t id) {
    if (last_hit_ != nullptr && last_hit_->id == id) {
        return last_hit_;
    }
    for (uint32_t i = 0; i < entry_count_; i++) {
        if (entries_[i]->id == id) {
            last_hit_ = entries_[i];
            return last_hit_;
        }
    }
    return nullptr;
}

void KernelCache::destroy_entry(CacheEntry *ce) {
    if (ce == nullptr) {
        return;
    }
    for (uint32_t e = 0; e < ce->entry_count; e++) {
        EntryPoint &ep = ce->entries[e];
        for (uint32_t v = 0; v < ep.variant_count; v++) {
            d_->vk.vkDestroyPipeline(d_->device, ep.variants[v].pipeline, cb_);
        }
        if (ep.pipeline_layout != VK_NULL_HANDLE) {
            d_->vk.vkDestroyPipelineLayout(d_->device, ep.pipeline_layout, cb_);
        }
        if (ep.set_layout != VK_NULL_HANDLE) {
            d_->vk.vkDestroyDescriptorSetLayout(d_->device, ep.set_layout, cb_);
        }
        free_host(ep.variants);
        free_host(ep.member_offsets);
        free_host(ep.member_sizes);
        free_host(ep.strides);
        free_host(ep.name);
    }
    for (uint32_t m = 0; m < ce->module_count; m++) {
        if (ce->modules[m] != VK_NULL_HANDLE) {
            d_->vk.vkDestroyShaderModule(d_->device, ce->modules[m], cb_);
        }
    }
    free_host(ce->modules);
    free_host(ce->entries);
    host_delete(cb_, ce);
}

// ---------------------------------------------------------------------------
// Compilation

int KernelCache::initialize(void *uc, void **slot, const char *src, int size) {
    if (slot == nullptr) {
        return report_error(uc, -1, kInit, "the state slot pointer is null");
    }
    uint64_t id = reinterpret_cast<uintptr_t>(*slot);
    if (id == 0) {
        id = g_next_id.fetch_add(1);
        *slot = reinterpret_cast<void *>(static_cast<uintptr_t>(id));
    } else if (!kernels_is_issued_id(*slot)) {
        return report_error(uc, -1, kInit,
                            "the pipeline's state slot holds %p, which is not an id this runtime handed out (the slot "
                            "must start as null)",
                            *slot);
    }
    if (CacheEntry *ce = find(id)) {
        ce->use_count++;
        return 0;
    }
    CacheEntry *ce = nullptr;
    if (int rc = compile(uc, id, src, size, &ce)) {
        return rc;
    }
    return add_entry(uc, ce);
}

// Adds a freshly compiled blob to the cache (destroys it when out of memory).
int KernelCache::add_entry(void *uc, CacheEntry *ce) {
    if (entry_count_ == entry_capacity_) {
        const uint32_t cap = entry_capacity_ ? entry_capacity_ * 2 : 16;
        CacheEntry **grown = alloc_array<CacheEntry *>(cb_, cap);
        if (grown == nullptr) {
            destroy_entry(ce);
            return report_error(uc, -11, kInit, "out of host memory growing the kernel cache");
        }
        if (entry_count_ > 0) {
            std::memcpy(grown, entries_, sizeof(CacheEntry *) * entry_count_);
        }
        free_host(entries_);
        entries_ = grown;
        entry_capacity_ = cap;
    }
    ce->use_count = 1;
    entries_[entry_count_++] = ce;
    last_hit_ = ce;
    return 0;
}

int KernelCache::compile(void *uc, uint64_t id, const char *src, int size, CacheEntry **out) {
    *out = nullptr;
    if (size <= 0) {
        return report_error(uc, -1, kInit, "kernel blob size %d is not positive", size);
    }
    char msg[512];
    DecodedBlob blob;
    int rc = decode_kernel_blob(src, size_t(size), cb_, &blob, msg, sizeof(msg));
    if (rc != 0) {
        return report_error(uc, rc, kInit, "malformed kernel blob: %s", msg);
    }
    CacheEntry *ce = host_new<CacheEntry>(cb_);
    g_kernel_counters.host_allocations++;
    if (ce == nullptr) {
        return report_error(uc, -11, kInit, "out of host memory");
    }
    ce->id = id;
    ce->modules = alloc_array<VkShaderModule>(cb_, blob.module_count());
    ce->entries = alloc_array<EntryPoint>(cb_, blob.entry_count());
    if (ce->modules == nullptr || ce->entries == nullptr) {
        destroy_entry(ce);
        return report_error(uc, -11, kInit, "out of host memory");
    }
    for (uint32_t i = 0; i < blob.entry_count(); i++) {
        new (&ce->entries[i]) EntryPoint();
    }
    ce->module_count = blob.module_count();
    ce->entry_count = blob.entry_count();
    for (uint32_t m = 0; m < blob.module_count(); m++) {
        if (int rc2 = compile_module(uc, ce, blob, m)) {
            destroy_entry(ce);
            return rc2;
        }
    }
    g_kernel_counters.blob_compilations++;
    *out = ce;
    return 0;
}

// One kernel module: its SPIR-V loaded, reflected and checked, its entry
// point described, then its shader module and layouts created. On failure
// the caller destroys the entry (and with it whatever was created here).
int KernelCache::compile_module(void *uc, CacheEntry *ce, const DecodedBlob &blob, uint32_t m) {
    const BlobModule &bm = blob.module(m);
    const uint32_t first_entry = uint32_t(bm.entries - &blob.entry(0));
    if (bm.entry_count != 1) {
        return report_error(uc, -1, kInit,
                            "kernel module %u (\"%s\") describes %u entry points; Halide emits one per module and "
                            "this runtime supports only that",
                            m, bm.name, bm.entry_count);
    }
    const BlobEntryPoint &be = bm.entries[0];
    ModuleSource src(cb_);
    if (int rc = load_spirv(uc, bm, be, &src)) {
        return rc;
    }
    if (int rc = reflect_and_check(uc, *d_, be, &src)) {
        return rc;
    }
    EntryPoint &ep = ce->entries[first_entry];
    if (int rc = describe_entry_point(uc, *d_, be, *src.refl, m, &ep)) {
        return rc;
    }
    if (int rc = create_shader_module(uc, *d_, src, be.name, &ce->modules[m])) {
        return rc;
    }
    if (int rc = create_set_layout(uc, be.name, &ep)) {
        return rc;
    }
    return create_pipeline_layout(uc, be.name, &ep);
}

// Descriptor set layout: the argument block (binding 0, when the kernel
// has one), then the storage buffers; push descriptors where the device
// takes that many.
int KernelCache::create_set_layout(void *uc, const char *name, EntryPoint *ep) {
    const uint32_t binding_count = ep->binding_count();
    VkDescriptorSetLayoutBinding bindings[1 + kMaxStorageBuffers];
    for (uint32_t b = 0; b < binding_count; b++) {
        bindings[b] = VkDescriptorSetLayoutBinding{};
        bindings[b].binding = b;
        bindings[b].descriptorType =
            b < ep->uniform_count ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        bindings[b].descriptorCount = 1;
        bindings[b].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    ep->push = push_available_ && binding_count <= max_push_descriptors_;
    VkDescriptorSetLayoutCreateInfo sli{};
    sli.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO;
    sli.flags = ep->push ? VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR : 0;
    sli.bindingCount = binding_count;
    sli.pBindings = bindings;
    VkResult r = d_->vk.vkCreateDescriptorSetLayout(d_->device, &sli, cb_, &ep->set_layout);
    if (r != VK_SUCCESS) {
        ep->set_layout = VK_NULL_HANDLE;
        return report_error(uc, -1, kInit, "kernel \"%s\": vkCreateDescriptorSetLayout failed: %s", name,
                            vk_result_name(r));
    }
    g_kernel_counters.set_layouts_created++;
    return 0;
}

int KernelCache::create_pipeline_layout(void *uc, const char *name, EntryPoint *ep) {
    VkPipelineLayoutCreateInfo pli{};
    pli.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO;
    pli.setLayoutCount = 1;
    pli.pSetLayouts = &ep->set_layout;
    VkResult r = d_->vk.vkCreatePipelineLayout(d_->device, &pli, cb_, &ep->pipeline_layout);
    if (r != VK_SUCCESS) {
        ep->pipeline_layout = VK_NULL_HANDLE;
        return report_error(uc, -1, kInit, "kernel \"%s\": vkCreatePipelineLayout failed: %s", name,
                            vk_result_name(r));
    }
    g_kernel_counters.pipeline_layouts_created++;
    return 0;
}

// ---------------------------------------------------------------------------
// Lookup and specialisation (step 1 of a dispatch; fast paths inline in
// kernel_cache.h)

int KernelCache::find_kernel_slow(void *uc, void *state, const char *entry_name, CacheEntry **out_ce,
                                  EntryPoint **out_ep) {
    const uint64_t id = reinterpret_cast<uintptr_t>(state);
    CacheEntry *ce = find(id);
    if (ce == nullptr) {
        if (!kernels_is_issued_id(state)) {
            return report_error(uc, kNotFound, kRun,
                                "state %p was never initialised (call halide_vulkan_initialize_kernels first)", state);
        }
        return report_error(uc, kNotFound, kRun,
                            "state %p has no compiled kernels on this device (halide_vulkan_initialize_kernels was not "
                            "called for it since the context was created)",
                            state);
    }
    if (entry_name == nullptr) {
        return report_error(uc, kNotFound, kRun, "the entry point name is null");
    }
    EntryPoint *ep = nullptr;
    if (ce->last_entry < ce->entry_count && std::strcmp(ce->entries[ce->last_entry].name, entry_name) == 0) {
        ep = &ce->entries[ce->last_entry];
    } else {
        for (uint32_t e = 0; e < ce->entry_count; e++) {
            if (std::strcmp(ce->entries[e].name, entry_name) == 0) {
                ep = &ce->entries[e];
                ce->last_entry = e;
                break;
            }
        }
    }
    if (ep == nullptr) {
        return report_error(uc, kNotFound, kRun, "no kernel named \"%s\" in the pipeline's kernel blob", entry_name);
    }
    *out_ce = ce;
    *out_ep = ep;
    return 0;
}

int KernelCache::find_or_create_pipeline(void *uc, const CacheEntry &ce, EntryPoint *ep,
                                         const uint32_t values[kMaxSpecEntries], VkPipeline *out) {
    const size_t key_bytes = sizeof(uint32_t) * ep->spec_count;
    for (uint32_t v = 0; v < ep->variant_count; v++) {
        if (std::memcmp(ep->variants[v].values, values, key_bytes) == 0) {
            ep->last_variant = v;
            *out = ep->variants[v].pipeline;
            return 0;
        }
    }
    // Cold: a new specialisation.
    if (ep->variant_count == ep->variant_capacity) {
        const uint32_t cap = ep->variant_capacity ? ep->variant_capacity * 2 : 2;
        Variant *grown = alloc_array<Variant>(cb_, cap);
        if (grown == nullptr) {
            return report_error(uc, -11, kRun, "out of host memory");
        }
        if (ep->variant_count > 0) {
            std::memcpy(grown, ep->variants, sizeof(Variant) * ep->variant_count);
        }
        free_host(ep->variants);
        ep->variants = grown;
        ep->variant_capacity = cap;
    }
    VkPipeline pipeline = VK_NULL_HANDLE;
    if (int rc = create_pipeline(uc, ce, *ep, values, &pipeline)) {
        return rc;
    }
    Variant &v = ep->variants[ep->variant_count];
    std::memset(&v, 0, sizeof(v));
    std::memcpy(v.values, values, key_bytes);
    v.pipeline = pipeline;
    ep->last_variant = ep->variant_count++;
    *out = pipeline;
    return 0;
}

// The compute pipeline of `ep` specialised for `values`.
int KernelCache::create_pipeline(void *uc, const CacheEntry &ce, const EntryPoint &ep,
                                 const uint32_t values[kMaxSpecEntries], VkPipeline *out) {
    VkSpecializationMapEntry map[kMaxSpecEntries];
    for (uint32_t i = 0; i < ep.spec_count; i++) {
        map[i].constantID = ep.spec_ids[i];
        map[i].offset = uint32_t(i * sizeof(uint32_t));
        map[i].size = sizeof(uint32_t);
    }
    VkSpecializationInfo spec{};
    spec.mapEntryCount = ep.spec_count;
    spec.pMapEntries = map;
    spec.dataSize = sizeof(uint32_t) * ep.spec_count;
    spec.pData = values;
    VkComputePipelineCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO;
    info.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    info.stage.module = ce.modules[ep.module];
    info.stage.pName = ep.name;
    info.stage.pSpecializationInfo = ep.spec_count > 0 ? &spec : nullptr;
    info.layout = ep.pipeline_layout;
    VkResult r = d_->vk.vkCreateComputePipelines(d_->device, pipeline_cache_, 1, &info, cb_, out);
    if (r != VK_SUCCESS) {
        return report_error(uc, -1, kRun, "kernel \"%s\": vkCreateComputePipelines failed: %s", ep.name,
                            vk_result_name(r));
    }
    g_kernel_counters.pipelines_created++;
    return 0;
}

void KernelCache::finalize(void *state) {
    const uint64_t id = reinterpret_cast<uintptr_t>(state);
    if (CacheEntry *ce = find(id)) {
        if (ce->use_count > 0) {
            ce->use_count--;
        }
    }
}

// ---------------------------------------------------------------------------
// Per-device lifetime

namespace {

void teardown_kernels(Device *d) {
    if (d->kernels == nullptr) {
        return;
    }
    // Queued command buffers may still use pipelines, sets and the ring.
    if (d->submitter != nullptr) {
        d->submitter->flush(nullptr, true);
    }
    host_delete(d->callbacks, d->kernels);
    d->kernels = nullptr;
}
// Before the region table (20), the submitter (30) and the arena (40).
const TeardownRegistration g_kernels_teardown(10, teardown_kernels);

int ensure_cache(void *uc, Device *d, KernelCache **out) {
    if (d->kernels == nullptr) {
        KernelCache *kc = host_new<KernelCache>(d->callbacks, d);
        if (kc == nullptr) {
            return report_error(uc, -11, kInit, "out of host memory creating the kernel cache");
        }
        if (int rc = kc->init(uc)) {
            host_delete(d->callbacks, kc);
            return rc;
        }
        d->kernels = kc;
    }
    *out = d->kernels;
    return 0;
}

}  // namespace

KernelStats kernel_stats() {
    const KernelCounters &c = g_kernel_counters;
    KernelStats s{};
    s.blob_compilations = c.blob_compilations;
    s.shader_modules_created = c.shader_modules_created;
    s.set_layouts_created = c.set_layouts_created;
    s.pipeline_layouts_created = c.pipeline_layouts_created;
    s.pipelines_created = c.pipelines_created;
    s.descriptor_pools_created = c.descriptor_pools_created;
    s.descriptor_sets_allocated = c.descriptor_sets_allocated;
    s.uniform_rings_created = c.uniform_rings_created;
    s.dispatches_recorded = c.dispatches_recorded;
    s.pushed_dispatches = c.pushed_dispatches;
    s.modules_repaired = c.modules_repaired;
    s.validation_warnings = c.validation_warnings;
    s.host_allocations = c.host_allocations;
    return s;
}

void kernel_cache_set_force_descriptor_pools(bool force) {
    g_force_pools = force;
}

bool kernels_is_issued_id(void *state) {
    const uint64_t id = reinterpret_cast<uintptr_t>(state);
    return id >= 2 && id < g_next_id.load();
}

int kernels_initialize(void *uc, Device *d, void **state_slot, const char *src, int size) {
    KernelCache *kc = nullptr;
    if (int rc = ensure_cache(uc, d, &kc)) {
        return rc;
    }
    return kc->initialize(uc, state_slot, src, size);
}

void kernels_finalize(void *uc, Device *d, void *state) {
    (void)uc;
    if (d->kernels != nullptr) {
        d->kernels->finalize(state);
    }
}

}  // namespace hvk
