#include "vulkan/kernels/kernel_cache.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "vulkan/memory/arena.h"
#include "vulkan/util/host_alloc.h"
#include "vulkan/kernels/kernel_blob.h"
#include "vulkan/memory/memory_state.h"
#include "vulkan/memory/region_table.h"
#include "common/report.h"
#include "vulkan/kernels/spirv_module.h"
#include "vulkan/submit/submitter.h"
#include "vulkan/util/vk_result.h"

extern "C" const struct halide_device_interface_t *halide_vulkan_device_interface(void);

namespace hvk {
namespace {

// ---------------------------------------------------------------------------
// Counters and knobs

struct Counters {
    std::atomic<uint64_t> blob_compilations{0}, shader_modules_created{0}, set_layouts_created{0},
        pipeline_layouts_created{0}, pipelines_created{0}, descriptor_pools_created{0},
        descriptor_sets_allocated{0}, uniform_rings_created{0}, dispatches_recorded{0}, pushed_dispatches{0},
        modules_repaired{0}, validation_warnings{0}, host_allocations{0};
};
Counters g_counters;
std::atomic<bool> g_force_pools{false};
// Ids handed out so far: 2, 3, ... (Halide's runtime starts at 2 too).
std::atomic<uint64_t> g_next_id{2};

constexpr int kRunFailed = -23;       // halide_error_code_device_run_failed
constexpr int kLimit = -42;           // halide_error_code_incompatible_device_interface (Halide's choice for limits)
constexpr int kNotFound = -22;        // halide_error_code_internal_error (Halide's choice for lookups)
constexpr uint32_t kMaxStorageBuffers = 128;
constexpr uint32_t kMaxSpecEntries = 4;
constexpr VkDeviceSize kRingSize = 256 * 1024;
constexpr uint32_t kRingSpans = 256;
constexpr uint32_t kDispatchesPerBatch = 256;
constexpr uint32_t kPoolSets = 128;
constexpr uint32_t kPoolStoragePerSet = 8;

const char *const kRun = "halide_vulkan_run";
const char *const kInit = "halide_vulkan_initialize_kernels";


// HL_VK_PUSH_DESCRIPTORS=0: descriptor sets from pools even where the device
// has VK_KHR_push_descriptor (the gpuav test setup needs it: GPU-assisted
// validation of the 1.3.239 layer reports push descriptors as
// uninitialised, KhronosGroup/Vulkan-ValidationLayers#5321).
bool push_descriptors_disabled() {
    const char *v = std::getenv("HL_VK_PUSH_DESCRIPTORS");
    return v != nullptr && v[0] == '0';
}

template <typename T>
T *alloc_array(const VkAllocationCallbacks *cb, size_t n) {
    if (n == 0) {
        n = 1;
    }
    void *p = host_alloc(cb, sizeof(T) * n, alignof(T), VK_SYSTEM_ALLOCATION_SCOPE_OBJECT);
    g_counters.host_allocations++;
    if (p != nullptr) {
        std::memset(p, 0, sizeof(T) * n);
    }
    return static_cast<T *>(p);
}

VkDeviceSize align_up(VkDeviceSize v, VkDeviceSize a) {
    return a <= 1 ? v : (v + a - 1) / a * a;
}

// ---------------------------------------------------------------------------
// Cache structures

struct Variant {
    uint32_t values[kMaxSpecEntries];
    VkPipeline pipeline;
};

struct EntryPoint {
    char *name = nullptr;
    uint32_t module = 0;
    uint32_t uniform_count = 0;
    uint32_t storage_count = 0;

    // Shared memory (spec 04 §4.8).
    uint32_t shared_count = 0;
    uint64_t static_shared_bytes = 0;
    uint32_t dynamic_shared_count = 0;
    uint32_t dynamic_shared_spec_id = 0;
    uint32_t dynamic_shared_element = 0;
    uint32_t dynamic_shared_default = 0;

    // Work-group size.
    bool dynamic_wg = false;
    uint32_t static_wg[3] = {1, 1, 1};

    // Specialisation map: ids in order (dynamic shared length, then x, y, z).
    uint32_t spec_ids[kMaxSpecEntries] = {};
    uint32_t spec_count = 0;

    // Reflection of the argument block and the storage arrays.
    bool has_uniform_block = false;
    uint32_t member_count = 0;
    uint32_t block_size = 0;
    uint32_t *member_offsets = nullptr;
    uint32_t *member_sizes = nullptr;
    uint32_t *strides = nullptr;  // storage_count entries; 0 = unknown

    VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
    VkPipelineLayout pipeline_layout = VK_NULL_HANDLE;
    bool push = false;

    Variant *variants = nullptr;
    uint32_t variant_count = 0;
    uint32_t variant_capacity = 0;
    uint32_t last_variant = 0;
};

struct CacheEntry {
    uint64_t id = 0;
    uint64_t use_count = 0;
    uint32_t module_count = 0;
    VkShaderModule *modules = nullptr;
    uint32_t entry_count = 0;
    EntryPoint *entries = nullptr;
    uint32_t last_entry = 0;
};

struct Pool {
    VkDescriptorPool pool;
    uint64_t last_serial;  // newest batch that uses a set of this pool
};

}  // namespace

// Device::kernels points at one of these.
class KernelCache {
public:
    explicit KernelCache(Device *d) : d_(d), cb_(d->callbacks) {}
    ~KernelCache();

    int init(void *uc);
    int initialize(void *uc, void **slot, const char *src, int size);
    void finalize(void *state);
    int run(void *uc, void *state, const char *entry_name, const int blocks[3], const int threads[3],
            int shared_mem_bytes, const size_t arg_sizes[], void *const args[], const int8_t arg_is_buffer[]);

private:
    CacheEntry *find(uint64_t id);
    int compile(void *uc, uint64_t id, const char *src, int size, CacheEntry **out);
    int compile_module(void *uc, CacheEntry *ce, const DecodedBlob &blob, uint32_t m);
    void destroy_entry(CacheEntry *ce);
    int get_pipeline(void *uc, CacheEntry *ce, EntryPoint *ep, const uint32_t values[kMaxSpecEntries],
                     VkPipeline *out);
    int ring_allocate(void *uc, Submitter *s, VkDeviceSize bytes, VkDeviceSize *offset);
    int create_ring(void *uc);
    int allocate_set(void *uc, Submitter *s, EntryPoint *ep, VkDescriptorSet *out);
    void free_host(void *p) { host_free(cb_, p); }

    Device *d_;
    const VkAllocationCallbacks *cb_;
    bool push_available_ = false;
    uint32_t max_push_descriptors_ = 0;
    VkPipelineCache pipeline_cache_ = VK_NULL_HANDLE;

    CacheEntry **entries_ = nullptr;
    uint32_t entry_count_ = 0;
    uint32_t entry_capacity_ = 0;
    CacheEntry *last_hit_ = nullptr;

    // Uniform ring: [tail, head) in use (wrapped: [tail, size) + [0, head)).
    VkBuffer ring_buffer_ = VK_NULL_HANDLE;
    ArenaAllocation ring_alloc_{};
    bool ring_created_ = false;
    VkDeviceSize ring_head_ = 0;
    VkDeviceSize ring_tail_ = 0;
    bool ring_wrapped_ = false;
    struct Span {
        uint64_t serial;
        VkDeviceSize end;
    };
    Span spans_[kRingSpans];
    uint32_t span_first_ = 0;
    uint32_t span_count_ = 0;

    // Descriptor pools (without push descriptors).
    Pool *pools_ = nullptr;
    uint32_t pool_count_ = 0;
    uint32_t pool_capacity_ = 0;
    uint32_t current_pool_ = 0;

    // Batch size accounting.
    uint64_t batch_serial_ = 0;
    uint32_t batch_dispatches_ = 0;
};

KernelCache::~KernelCache() {
    for (uint32_t i = 0; i < entry_count_; i++) {
        destroy_entry(entries_[i]);
    }
    free_host(entries_);
    for (uint32_t i = 0; i < pool_count_; i++) {
        d_->vk.vkDestroyDescriptorPool(d_->device, pools_[i].pool, cb_);
    }
    free_host(pools_);
    if (ring_buffer_ != VK_NULL_HANDLE) {
        d_->vk.vkDestroyBuffer(d_->device, ring_buffer_, cb_);
    }
    if (ring_created_ && d_->arena != nullptr) {
        d_->arena->free(ring_alloc_);
    }
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
    g_counters.host_allocations++;
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
    g_counters.blob_compilations++;
    *out = ce;
    return 0;
}

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
    // The blob may be unaligned: copy the SPIR-V into word-aligned memory.
    const size_t word_count = bm.spirv_bytes / 4;
    uint32_t *words = alloc_array<uint32_t>(cb_, word_count);
    if (words == nullptr) {
        return report_error(uc, -11, kInit, "out of host memory");
    }
    std::memcpy(words, bm.spirv, bm.spirv_bytes);
    char msg[512];
    SpirvRepair repair;
    int rc = repair_spirv(words, word_count, cb_, &repair, msg, sizeof(msg));
    if (rc != 0) {
        free_host(words);
        return report_error(uc, rc, kInit, "kernel \"%s\": malformed SPIR-V: %s", be.name, msg);
    }
    const uint32_t *code = words;
    size_t code_words = word_count;
    if (repair.words != nullptr) {
        code = repair.words;
        code_words = repair.word_count;
        g_counters.modules_repaired++;
        log_debug(uc, "kernel \"%s\": repaired SPIR-V: %s", be.name, repair.summary);
    }
    struct Cleanup {
        KernelCache *self;
        uint32_t *a;
        uint32_t *b;
        SpirvReflection *r;
        ~Cleanup() {
            self->free_host(a);
            self->free_host(b);
            host_delete(self->cb_, r);
        }
    } cleanup{this, words, repair.words, nullptr};

    SpirvReflection *refl = host_new<SpirvReflection>(cb_);
    g_counters.host_allocations++;
    if (refl == nullptr) {
        return report_error(uc, -11, kInit, "out of host memory");
    }
    cleanup.r = refl;
    rc = reflect_spirv(code, code_words, be.name, cb_, refl, msg, sizeof(msg));
    if (rc != 0) {
        return report_error(uc, rc, kInit, "kernel \"%s\": %s", be.name, msg);
    }
    if (check_spirv_against_device(*refl, d_->caps, msg, sizeof(msg)) != 0) {
        return report_error(uc, -1, kInit, "kernel \"%s\" cannot run on %s: %s", be.name,
                            d_->properties.deviceName, msg);
    }
    const ValidationPolicy policy = validation_policy();
    if (policy != ValidationPolicy::Off) {
        if (!validate_spirv(code, code_words, d_->caps, msg, sizeof(msg))) {
            if (policy == ValidationPolicy::Strict) {
                return report_error(uc, -1, kInit,
                                    "kernel \"%s\": SPIR-V validation failed (HL_VK_SPIRV_VALIDATION=strict): %s",
                                    be.name, msg);
            }
            g_counters.validation_warnings++;
            if (first_warning_for_module(code, code_words)) {
                report_warning(uc,
                               "kernel \"%s\": SPIR-V validation failed, running it anyway "
                               "(HL_VK_SPIRV_VALIDATION=strict refuses, =off skips the check): %s",
                               be.name, msg);
            }
        }
    }

    // Entry point metadata, checked against the device and the SPIR-V.
    EntryPoint &ep = ce->entries[first_entry];
    ep.module = m;
    ep.uniform_count = be.uniform_count;
    ep.storage_count = be.storage_count;
    const size_t name_len = std::strlen(be.name);
    ep.name = alloc_array<char>(cb_, name_len + 1);
    if (ep.name == nullptr) {
        return report_error(uc, -11, kInit, "out of host memory");
    }
    std::memcpy(ep.name, be.name, name_len + 1);
    const VkPhysicalDeviceLimits &lim = d_->properties.limits;
    if (be.storage_count > kMaxStorageBuffers || be.storage_count > lim.maxPerStageDescriptorStorageBuffers) {
        return report_error(uc, -1, kInit,
                            "kernel \"%s\" has %u buffer arguments; the device allows %u storage buffers per stage "
                            "(and this runtime %u)",
                            be.name, be.storage_count, lim.maxPerStageDescriptorStorageBuffers, kMaxStorageBuffers);
    }
    // Shared memory.
    ep.shared_count = be.shared_count;
    for (uint32_t i = 0; i < be.shared_count; i++) {
        const BlobSharedAlloc &sa = be.shared[i];
        if (sa.spec_id == 0) {
            ep.static_shared_bytes += uint64_t(sa.element_size) * sa.array_length;
        } else {
            ep.dynamic_shared_count++;
            ep.dynamic_shared_spec_id = sa.spec_id;
            ep.dynamic_shared_element = sa.element_size;
            ep.dynamic_shared_default = sa.array_length;
        }
    }
    if (ep.static_shared_bytes > lim.maxComputeSharedMemorySize) {
        return report_error(uc, -1, kInit,
                            "kernel \"%s\" needs %llu bytes of static shared memory; the device allows %u", be.name,
                            (unsigned long long)ep.static_shared_bytes, lim.maxComputeSharedMemorySize);
    }
    // Specialisation map: dynamic shared length first, then x, y, z.
    if (ep.dynamic_shared_count == 1) {
        ep.spec_ids[ep.spec_count++] = ep.dynamic_shared_spec_id;
    }
    if (be.local_size_ids[0] != 0) {
        ep.dynamic_wg = true;
        for (uint32_t k = 0; k < 3; k++) {
            ep.spec_ids[ep.spec_count++] = be.local_size_ids[k];
        }
    } else {
        for (uint32_t k = 0; k < 3; k++) {
            ep.static_wg[k] = refl->local_size[k] != 0 ? refl->local_size[k] : 1;
        }
        if (refl->local_size_spec_ids[0] | refl->local_size_spec_ids[1] | refl->local_size_spec_ids[2]) {
            log_debug(uc, "kernel \"%s\": work-group size comes from specialization constants the header does not "
                      "name; using their defaults %u x %u x %u",
                      be.name, ep.static_wg[0], ep.static_wg[1], ep.static_wg[2]);
        }
    }
    // Bindings: binding 0 is the argument block when U == 1; storage
    // buffers follow. Everything the shader declares must match.
    const uint32_t first_storage = be.uniform_count;
    for (uint32_t b = 0; b < refl->binding_count; b++) {
        const SpirvBinding &sb = refl->bindings[b];
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
    ep.strides = alloc_array<uint32_t>(cb_, be.storage_count);
    if (ep.strides == nullptr) {
        return report_error(uc, -11, kInit, "out of host memory");
    }
    for (uint32_t b = 0; b < refl->binding_count; b++) {
        const SpirvBinding &sb = refl->bindings[b];
        if (sb.binding >= first_storage) {
            ep.strides[sb.binding - first_storage] = sb.array_stride;
        }
    }
    if (be.uniform_count == 1) {
        if (!refl->has_uniform_block) {
            return report_error(uc, -1, kInit,
                                "kernel \"%s\": the header declares an argument block but the SPIR-V has no uniform "
                                "block at set 0, binding 0",
                                be.name);
        }
        ep.has_uniform_block = true;
        ep.member_count = refl->uniform_member_count;
        ep.block_size = refl->uniform_block_size;
        if (ep.block_size > lim.maxUniformBufferRange) {
            return report_error(uc, -1, kInit, "kernel \"%s\": argument block of %u bytes exceeds maxUniformBufferRange %u",
                                be.name, ep.block_size, lim.maxUniformBufferRange);
        }
        ep.member_offsets = alloc_array<uint32_t>(cb_, ep.member_count);
        ep.member_sizes = alloc_array<uint32_t>(cb_, ep.member_count);
        if (ep.member_offsets == nullptr || ep.member_sizes == nullptr) {
            return report_error(uc, -11, kInit, "out of host memory");
        }
        for (uint32_t k = 0; k < ep.member_count; k++) {
            ep.member_offsets[k] = refl->uniform_offsets[k];
            ep.member_sizes[k] = refl->uniform_sizes[k];
        }
    }

    // Shader module.
    VkShaderModuleCreateInfo smi{};
    smi.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO;
    smi.codeSize = code_words * 4;
    smi.pCode = code;
    VkResult r = d_->vk.vkCreateShaderModule(d_->device, &smi, cb_, &ce->modules[m]);
    if (r != VK_SUCCESS) {
        ce->modules[m] = VK_NULL_HANDLE;
        return report_error(uc, -1, kInit, "kernel \"%s\": vkCreateShaderModule failed: %s", be.name, vk_result_name(r));
    }
    g_counters.shader_modules_created++;

    // Descriptor set layout and pipeline layout.
    const uint32_t binding_count = be.uniform_count + be.storage_count;
    VkDescriptorSetLayoutBinding bindings[1 + kMaxStorageBuffers];
    for (uint32_t b = 0; b < binding_count; b++) {
        bindings[b] = VkDescriptorSetLayoutBinding{};
        bindings[b].binding = b;
        bindings[b].descriptorType = b < first_storage ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        bindings[b].descriptorCount = 1;
        bindings[b].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    ep.push = push_available_ && binding_count <= max_push_descriptors_;
    VkDescriptorSetLayoutCreateInfo sli{};
    sli.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO;
    sli.flags = ep.push ? VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR : 0;
    sli.bindingCount = binding_count;
    sli.pBindings = bindings;
    r = d_->vk.vkCreateDescriptorSetLayout(d_->device, &sli, cb_, &ep.set_layout);
    if (r != VK_SUCCESS) {
        ep.set_layout = VK_NULL_HANDLE;
        return report_error(uc, -1, kInit, "kernel \"%s\": vkCreateDescriptorSetLayout failed: %s", be.name,
                            vk_result_name(r));
    }
    g_counters.set_layouts_created++;
    VkPipelineLayoutCreateInfo pli{};
    pli.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO;
    pli.setLayoutCount = 1;
    pli.pSetLayouts = &ep.set_layout;
    r = d_->vk.vkCreatePipelineLayout(d_->device, &pli, cb_, &ep.pipeline_layout);
    if (r != VK_SUCCESS) {
        ep.pipeline_layout = VK_NULL_HANDLE;
        return report_error(uc, -1, kInit, "kernel \"%s\": vkCreatePipelineLayout failed: %s", be.name,
                            vk_result_name(r));
    }
    g_counters.pipeline_layouts_created++;
    return 0;
}

int KernelCache::get_pipeline(void *uc, CacheEntry *ce, EntryPoint *ep, const uint32_t values[kMaxSpecEntries],
                              VkPipeline *out) {
    const size_t key_bytes = sizeof(uint32_t) * ep->spec_count;
    if (ep->last_variant < ep->variant_count &&
        std::memcmp(ep->variants[ep->last_variant].values, values, key_bytes) == 0) {
        *out = ep->variants[ep->last_variant].pipeline;
        return 0;
    }
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
    VkSpecializationMapEntry map[kMaxSpecEntries];
    for (uint32_t i = 0; i < ep->spec_count; i++) {
        map[i].constantID = ep->spec_ids[i];
        map[i].offset = uint32_t(i * sizeof(uint32_t));
        map[i].size = sizeof(uint32_t);
    }
    VkSpecializationInfo spec{};
    spec.mapEntryCount = ep->spec_count;
    spec.pMapEntries = map;
    spec.dataSize = key_bytes;
    spec.pData = values;
    VkComputePipelineCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO;
    info.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    info.stage.module = ce->modules[ep->module];
    info.stage.pName = ep->name;
    info.stage.pSpecializationInfo = ep->spec_count > 0 ? &spec : nullptr;
    info.layout = ep->pipeline_layout;
    VkPipeline pipeline = VK_NULL_HANDLE;
    VkResult r = d_->vk.vkCreateComputePipelines(d_->device, pipeline_cache_, 1, &info, cb_, &pipeline);
    if (r != VK_SUCCESS) {
        return report_error(uc, -1, kRun, "kernel \"%s\": vkCreateComputePipelines failed: %s", ep->name,
                            vk_result_name(r));
    }
    g_counters.pipelines_created++;
    Variant &v = ep->variants[ep->variant_count];
    std::memset(&v, 0, sizeof(v));
    std::memcpy(v.values, values, key_bytes);
    v.pipeline = pipeline;
    ep->last_variant = ep->variant_count++;
    *out = pipeline;
    return 0;
}

// ---------------------------------------------------------------------------
// Uniform ring

int KernelCache::create_ring(void *uc) {
    if (int rc = ensure_memory_state(uc, d_)) {
        return rc;
    }
    VkBufferCreateInfo bi{};
    bi.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    bi.size = kRingSize;
    bi.usage = VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT;
    bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VkResult r = d_->vk.vkCreateBuffer(d_->device, &bi, cb_, &ring_buffer_);
    if (r != VK_SUCCESS) {
        ring_buffer_ = VK_NULL_HANDLE;
        return report_error(uc, -11, kRun, "vkCreateBuffer for the kernel argument ring failed: %s",
                            vk_result_name(r));
    }
    VkMemoryRequirements req{};
    d_->vk.vkGetBufferMemoryRequirements(d_->device, ring_buffer_, &req);
    if (int rc = d_->arena->allocate(uc, req, MemoryUsage::Uniform, &ring_alloc_)) {
        d_->vk.vkDestroyBuffer(d_->device, ring_buffer_, cb_);
        ring_buffer_ = VK_NULL_HANDLE;
        return rc;
    }
    if (ring_alloc_.mapped == nullptr) {
        d_->arena->free(ring_alloc_);
        d_->vk.vkDestroyBuffer(d_->device, ring_buffer_, cb_);
        ring_buffer_ = VK_NULL_HANDLE;
        return report_error(uc, -11, kRun, "the kernel argument ring's memory is not host visible");
    }
    r = d_->vk.vkBindBufferMemory(d_->device, ring_buffer_, ring_alloc_.memory, ring_alloc_.offset);
    if (r != VK_SUCCESS) {
        d_->arena->free(ring_alloc_);
        d_->vk.vkDestroyBuffer(d_->device, ring_buffer_, cb_);
        ring_buffer_ = VK_NULL_HANDLE;
        return report_error(uc, -1, kRun, "vkBindBufferMemory for the kernel argument ring failed: %s",
                            vk_result_name(r));
    }
    ring_created_ = true;
    g_counters.uniform_rings_created++;
    return 0;
}

int KernelCache::ring_allocate(void *uc, Submitter *s, VkDeviceSize bytes, VkDeviceSize *offset) {
    if (!ring_created_) {
        if (int rc = create_ring(uc)) {
            return rc;
        }
    }
    const VkDeviceSize align = d_->properties.limits.minUniformBufferOffsetAlignment > 0
                                   ? d_->properties.limits.minUniformBufferOffsetAlignment
                                   : 16;
    bytes = align_up(bytes, align);
    if (bytes > kRingSize) {
        return report_error(uc, kRunFailed, kRun, "argument block of %llu bytes exceeds the argument ring",
                            (unsigned long long)bytes);
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        // Reclaim spans of completed batches.
        const uint64_t done = s->completed_serial();
        while (span_count_ > 0 && spans_[span_first_].serial <= done) {
            const VkDeviceSize end = spans_[span_first_].end;
            if (ring_wrapped_ && end < ring_tail_) {
                ring_wrapped_ = false;  // the tail crossed the wrap point
            }
            ring_tail_ = end;
            span_first_ = (span_first_ + 1) % kRingSpans;
            span_count_--;
        }
        if (span_count_ == 0) {
            ring_head_ = ring_tail_ = 0;
            ring_wrapped_ = false;
        }
        const uint64_t serial = s->recording_serial();
        const bool need_new_span = span_count_ == 0 || spans_[(span_first_ + span_count_ - 1) % kRingSpans].serial != serial;
        if (!(need_new_span && span_count_ == kRingSpans)) {
            VkDeviceSize pos = align_up(ring_head_, align);
            bool fits = false;
            bool wraps = false;
            if (!ring_wrapped_) {
                if (pos + bytes <= kRingSize) {
                    fits = true;
                } else if (bytes < ring_tail_) {
                    pos = 0;
                    fits = wraps = true;
                }
            } else if (pos + bytes < ring_tail_) {
                fits = true;
            }
            if (fits) {
                ring_head_ = pos + bytes;
                if (wraps) {
                    ring_wrapped_ = true;
                }
                if (need_new_span) {
                    spans_[(span_first_ + span_count_) % kRingSpans] = Span{serial, ring_head_};
                    span_count_++;
                } else {
                    spans_[(span_first_ + span_count_ - 1) % kRingSpans].end = ring_head_;
                }
                *offset = pos;
                return 0;
            }
        }
        // Full: wait for the oldest batch that holds ring space (submitting
        // the open one first if that is it).
        const uint64_t oldest = spans_[span_first_].serial;
        if (int rc = s->wait_for(uc, oldest)) {
            return rc;
        }
    }
    return report_error(uc, -1, kRun, "could not reclaim space in the kernel argument ring");
}

// ---------------------------------------------------------------------------
// Descriptor sets from pools (no push descriptors)

int KernelCache::allocate_set(void *uc, Submitter *s, EntryPoint *ep, VkDescriptorSet *out) {
    const uint64_t serial = s->recording_serial();
    for (int attempt = 0; attempt < 3; attempt++) {
        if (pool_count_ > 0) {
            VkDescriptorSetAllocateInfo ai{};
            ai.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO;
            ai.descriptorPool = pools_[current_pool_].pool;
            ai.descriptorSetCount = 1;
            ai.pSetLayouts = &ep->set_layout;
            VkResult r = d_->vk.vkAllocateDescriptorSets(d_->device, &ai, out);
            if (r == VK_SUCCESS) {
                pools_[current_pool_].last_serial = serial;
                g_counters.descriptor_sets_allocated++;
                return 0;
            }
            if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL) {
                return report_error(uc, -1, kRun, "vkAllocateDescriptorSets failed: %s", vk_result_name(r));
            }
        }
        // The current pool is full: reuse one whose batches have completed.
        const uint64_t done = s->completed_serial();
        bool found = false;
        for (uint32_t i = 0; i < pool_count_; i++) {
            if (i != current_pool_ && pools_[i].last_serial <= done) {
                d_->vk.vkResetDescriptorPool(d_->device, pools_[i].pool, 0);
                current_pool_ = i;
                found = true;
                break;
            }
        }
        if (found) {
            continue;
        }
        // Cold: a new pool.
        if (pool_count_ == pool_capacity_) {
            const uint32_t cap = pool_capacity_ ? pool_capacity_ * 2 : 4;
            Pool *grown = alloc_array<Pool>(cb_, cap);
            if (grown == nullptr) {
                return report_error(uc, -11, kRun, "out of host memory");
            }
            if (pool_count_ > 0) {
                std::memcpy(grown, pools_, sizeof(Pool) * pool_count_);
            }
            free_host(pools_);
            pools_ = grown;
            pool_capacity_ = cap;
        }
        const uint32_t storage_per_set = ep->storage_count > kPoolStoragePerSet ? ep->storage_count : kPoolStoragePerSet;
        VkDescriptorPoolSize sizes[2] = {{VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, kPoolSets},
                                         {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kPoolSets * storage_per_set}};
        VkDescriptorPoolCreateInfo pi{};
        pi.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
        pi.maxSets = kPoolSets;
        pi.poolSizeCount = 2;
        pi.pPoolSizes = sizes;
        VkDescriptorPool pool = VK_NULL_HANDLE;
        VkResult r = d_->vk.vkCreateDescriptorPool(d_->device, &pi, cb_, &pool);
        if (r != VK_SUCCESS) {
            return report_error(uc, -1, kRun, "vkCreateDescriptorPool failed: %s", vk_result_name(r));
        }
        g_counters.descriptor_pools_created++;
        pools_[pool_count_] = Pool{pool, 0};
        current_pool_ = pool_count_++;
    }
    return report_error(uc, -1, kRun, "could not allocate a descriptor set");
}

// ---------------------------------------------------------------------------
// Dispatch

void KernelCache::finalize(void *state) {
    const uint64_t id = reinterpret_cast<uintptr_t>(state);
    if (CacheEntry *ce = find(id)) {
        if (ce->use_count > 0) {
            ce->use_count--;
        }
    }
}

int KernelCache::run(void *uc, void *state, const char *entry_name, const int blocks[3], const int threads[3],
                     int shared_mem_bytes, const size_t arg_sizes[], void *const args[],
                     const int8_t arg_is_buffer[]) {
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

    // Arguments: count them and check them against the kernel.
    if (arg_sizes == nullptr || args == nullptr || arg_is_buffer == nullptr) {
        return report_error(uc, kRunFailed, kRun, "kernel \"%s\": null argument arrays", entry_name);
    }
    uint32_t n_args = 0, n_buffers = 0, n_scalars = 0;
    for (; arg_sizes[n_args] != 0; n_args++) {
        if (arg_is_buffer[n_args]) {
            n_buffers++;
        } else {
            n_scalars++;
        }
        if (n_args > 4096) {
            return report_error(uc, kRunFailed, kRun, "kernel \"%s\": argument list is not terminated", entry_name);
        }
    }
    if (n_buffers != ep->storage_count) {
        return report_error(uc, kRunFailed, kRun, "kernel \"%s\" declares %u buffer arguments but was passed %u",
                            entry_name, ep->storage_count, n_buffers);
    }
    bool with_offsets = false;
    if (ep->uniform_count == 0) {
        if (n_scalars != 0) {
            return report_error(uc, kRunFailed, kRun,
                                "kernel \"%s\" has no argument block but was passed %u scalar arguments", entry_name,
                                n_scalars);
        }
    } else if (ep->member_count == n_scalars + n_buffers) {
        with_offsets = true;  // Halide main (#8954 and later)
    } else if (ep->member_count != n_scalars) {
        return report_error(uc, kRunFailed, kRun,
                            "kernel \"%s\": its argument block has %u members, which fits neither %u scalars + %u "
                            "buffer offsets nor %u scalars alone",
                            entry_name, ep->member_count, n_scalars, n_buffers, n_scalars);
    }

    // Grid, work-group and shared memory against the device.
    const VkPhysicalDeviceLimits &lim = d_->properties.limits;
    for (int k = 0; k < 3; k++) {
        if (blocks[k] < 0) {
            return report_error(uc, kRunFailed, kRun, "kernel \"%s\": negative block count %d in dimension %d",
                                entry_name, blocks[k], k);
        }
        if (uint32_t(blocks[k]) > lim.maxComputeWorkGroupCount[k]) {
            return report_error(uc, kLimit, kRun,
                                "kernel \"%s\": %d work-groups in dimension %d exceed the device's "
                                "maxComputeWorkGroupCount %u",
                                entry_name, blocks[k], k, lim.maxComputeWorkGroupCount[k]);
        }
    }
    uint32_t values[kMaxSpecEntries] = {};
    uint32_t nv = 0;
    uint32_t wg[3];
    for (int k = 0; k < 3; k++) {
        if (ep->dynamic_wg) {
            if (threads[k] < 1) {
                return report_error(uc, kRunFailed, kRun, "kernel \"%s\": work-group size %d in dimension %d",
                                    entry_name, threads[k], k);
            }
            wg[k] = uint32_t(threads[k]);
        } else {
            wg[k] = ep->static_wg[k];
        }
        if (wg[k] > lim.maxComputeWorkGroupSize[k]) {
            return report_error(uc, kLimit, kRun,
                                "kernel \"%s\": work-group size %u in dimension %d exceeds the device's "
                                "maxComputeWorkGroupSize %u",
                                entry_name, wg[k], k, lim.maxComputeWorkGroupSize[k]);
        }
    }
    const uint64_t invocations = uint64_t(wg[0]) * wg[1] * wg[2];
    if (invocations > lim.maxComputeWorkGroupInvocations) {
        return report_error(uc, kLimit, kRun,
                            "kernel \"%s\": work-group of %u x %u x %u = %llu invocations exceeds the device's "
                            "maxComputeWorkGroupInvocations %u",
                            entry_name, wg[0], wg[1], wg[2], (unsigned long long)invocations,
                            lim.maxComputeWorkGroupInvocations);
    }
    if (shared_mem_bytes < 0) {
        return report_error(uc, kRunFailed, kRun, "kernel \"%s\": negative shared memory size %d", entry_name,
                            shared_mem_bytes);
    }
    if (ep->dynamic_shared_count > 1 && shared_mem_bytes > 0) {
        return report_error(uc, -1, kRun,
                            "kernel \"%s\" has %u dynamically sized shared allocations; only one can be sized from "
                            "shared_mem_bytes",
                            entry_name, ep->dynamic_shared_count);
    }
    uint64_t shared_total = ep->static_shared_bytes;
    if (ep->dynamic_shared_count == 1) {
        uint64_t elems = ep->dynamic_shared_default;
        if (shared_mem_bytes > 0 && uint64_t(shared_mem_bytes) > ep->static_shared_bytes) {
            elems = (uint64_t(shared_mem_bytes) - ep->static_shared_bytes) / ep->dynamic_shared_element;
        }
        if (elems > UINT32_MAX) {
            elems = UINT32_MAX;
        }
        values[nv++] = uint32_t(elems);
        shared_total += elems * ep->dynamic_shared_element;
    }
    if (uint64_t(shared_mem_bytes) > shared_total) {
        shared_total = uint64_t(shared_mem_bytes);
    }
    if (shared_total > lim.maxComputeSharedMemorySize) {
        return report_error(uc, kLimit, kRun,
                            "kernel \"%s\" needs %llu bytes of shared memory; the device allows %u", entry_name,
                            (unsigned long long)shared_total, lim.maxComputeSharedMemorySize);
    }
    if (ep->dynamic_wg) {
        values[nv++] = wg[0];
        values[nv++] = wg[1];
        values[nv++] = wg[2];
    }

    // Buffers: each must be a live Vulkan allocation.
    const halide_device_interface_t *vk_iface = halide_vulkan_device_interface();
    for (uint32_t i = 0; i < n_args; i++) {
        if (!arg_is_buffer[i]) {
            continue;
        }
        const halide_buffer_t *buf = static_cast<const halide_buffer_t *>(args[i]);
        if (buf == nullptr) {
            return report_error(uc, kNotFound, kRun, "kernel \"%s\": buffer argument %u is null", entry_name, i);
        }
        if (buf->device == 0) {
            return report_error(uc, kNotFound, kRun, "kernel \"%s\": buffer argument %u has no device allocation",
                                entry_name, i);
        }
        if (buf->device_interface != vk_iface) {
            return report_error(uc, kNotFound, kRun,
                                "kernel \"%s\": buffer argument %u belongs to another device interface (not Vulkan)",
                                entry_name, i);
        }
    }
    if (blocks[0] == 0 || blocks[1] == 0 || blocks[2] == 0) {
        return 0;  // an empty grid: nothing to run, as in Vulkan
    }

    // Everything from here on goes into the open batch.
    Submitter *s = nullptr;
    if (int rc = ensure_submitter(uc, d_, &s)) {
        return rc;
    }
    VkPipeline pipeline = VK_NULL_HANDLE;
    if (int rc = get_pipeline(uc, ce, ep, values, &pipeline)) {
        return rc;
    }
    VkDeviceSize ring_offset = 0;
    VkDeviceSize block_bytes = 0;
    uint8_t *block = nullptr;
    if (ep->uniform_count == 1) {
        block_bytes = ep->block_size > 0 ? ep->block_size : 4;
        block_bytes = align_up(block_bytes, 16);
        if (int rc = ring_allocate(uc, s, block_bytes, &ring_offset)) {
            return rc;
        }
        block = static_cast<uint8_t *>(ring_alloc_.mapped) + ring_offset;
        std::memset(block, 0, size_t(block_bytes));
        // Scalars at their members' offsets (Halide packs them in order).
        uint32_t k = 0;
        for (uint32_t i = 0; i < n_args; i++) {
            if (arg_is_buffer[i]) {
                continue;
            }
            const uint32_t off = ep->member_offsets[k];
            const uint32_t msize = ep->member_sizes[k];
            const size_t asize = arg_sizes[i];
            // A bool member has no SPIR-V size; Halide passes 1 byte.
            const bool fits = msize != 0 ? asize <= msize : asize <= 4;
            if (!fits || off + asize > block_bytes || args[i] == nullptr) {
                return report_error(uc, kRunFailed, kRun,
                                    "kernel \"%s\": scalar argument %u of %zu bytes does not fit member %u of the "
                                    "argument block (%u bytes at offset %u)",
                                    entry_name, i, asize, k, msize, off);
            }
            std::memcpy(block + off, args[i], asize);
            k++;
        }
    }

    // Storage descriptors: aligned-down descriptor offset plus an element offset.
    VkDescriptorBufferInfo infos[1 + kMaxStorageBuffers];
    VkWriteDescriptorSet writes[1 + kMaxStorageBuffers];
    uint32_t n_writes = 0;
    if (ep->uniform_count == 1) {
        infos[0] = VkDescriptorBufferInfo{ring_buffer_, ring_offset, block_bytes};
    }
    const VkDeviceSize storage_align =
        lim.minStorageBufferOffsetAlignment > 0 ? lim.minStorageBufferOffsetAlignment : 1;
    uint32_t j = 0;
    for (uint32_t i = 0; i < n_args; i++) {
        if (!arg_is_buffer[i]) {
            continue;
        }
        const halide_buffer_t *buf = static_cast<const halide_buffer_t *>(args[i]);
        DeviceBufferView view{};
        if (int rc = resolve_device_buffer(uc, d_, buf, kRun, &view)) {
            return rc;
        }
        uint64_t need = 0;
        buffer_span_bytes(buf, &need, nullptr);
        const VkDeviceSize total = view.offset;
        VkDeviceSize desc_offset = total / storage_align * storage_align;
        VkDeviceSize rem = total - desc_offset;
        const uint32_t stride = ep->strides[j] != 0 ? ep->strides[j] : (buf->type.bytes() > 0 ? buf->type.bytes() : 1);
        int64_t elem_offset = 0;
        if (with_offsets) {
            if (rem % stride != 0) {
                return report_error(uc, kRunFailed, kRun,
                                    "kernel \"%s\", buffer argument %u: its data starts %llu bytes into its VkBuffer; "
                                    "over the %llu-byte storage offset alignment that leaves %llu bytes, not a whole "
                                    "number of the kernel's %u-byte array elements",
                                    entry_name, i, (unsigned long long)total, (unsigned long long)storage_align,
                                    (unsigned long long)rem, stride);
            }
            elem_offset = int64_t(rem / stride);
        } else if (rem != 0) {
            return report_error(uc, kRunFailed, kRun,
                                "kernel \"%s\" (compiled by a Halide without per-buffer offsets), buffer argument %u: "
                                "its data starts %llu bytes into its VkBuffer, which is not a multiple of "
                                "minStorageBufferOffsetAlignment %llu; such kernels can only bind aligned buffers",
                                entry_name, i, (unsigned long long)total, (unsigned long long)storage_align);
        }
        const VkDeviceSize avail = rem + view.size;
        VkDeviceSize range = align_up(rem + need, stride);
        if (range > avail) {
            range = avail;
        }
        if (range == 0) {
            range = avail < stride ? avail : stride;
        }
        if (range == 0) {
            return report_error(uc, kRunFailed, kRun, "kernel \"%s\", buffer argument %u: empty device region",
                                entry_name, i);
        }
        if (range > lim.maxStorageBufferRange) {
            return report_error(uc, kLimit, kRun,
                                "kernel \"%s\", buffer argument %u spans %llu bytes; the device's "
                                "maxStorageBufferRange is %u",
                                entry_name, i, (unsigned long long)range, lim.maxStorageBufferRange);
        }
        infos[ep->uniform_count + j] = VkDescriptorBufferInfo{view.buffer, desc_offset, range};
        if (with_offsets) {
            const uint32_t member = n_scalars + j;
            const uint32_t off = ep->member_offsets[member];
            if (off + 4 > block_bytes) {
                return report_error(uc, kRunFailed, kRun, "kernel \"%s\": offset member %u lies outside the block",
                                    entry_name, member);
            }
            const int32_t v = int32_t(elem_offset);
            std::memcpy(block + off, &v, 4);
        }
        j++;
    }
    if (block != nullptr && !ring_alloc_.coherent) {
        if (int rc = d_->arena->flush(uc, ring_alloc_, ring_offset, block_bytes)) {
            return rc;
        }
    }
    const uint32_t binding_count = ep->uniform_count + ep->storage_count;
    for (uint32_t b = 0; b < binding_count; b++) {
        VkWriteDescriptorSet &w = writes[n_writes++];
        w = VkWriteDescriptorSet{};
        w.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
        w.dstBinding = b;
        w.descriptorCount = 1;
        w.descriptorType = b < ep->uniform_count ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        w.pBufferInfo = &infos[b];
    }
    VkDescriptorSet set = VK_NULL_HANDLE;
    if (!ep->push && binding_count > 0) {
        if (int rc = allocate_set(uc, s, ep, &set)) {
            return rc;
        }
        for (uint32_t w = 0; w < n_writes; w++) {
            writes[w].dstSet = set;
        }
        d_->vk.vkUpdateDescriptorSets(d_->device, n_writes, writes, 0, nullptr);
    }

    VkCommandBuffer cmd = VK_NULL_HANDLE;
    if (int rc = s->record(uc, &cmd)) {
        return rc;
    }
    d_->vk.vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    if (binding_count > 0) {
        if (ep->push) {
            d_->vk.vkCmdPushDescriptorSetKHR(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, ep->pipeline_layout, 0, n_writes,
                                             writes);
            g_counters.pushed_dispatches++;
        } else {
            d_->vk.vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, ep->pipeline_layout, 0, 1, &set, 0,
                                           nullptr);
        }
    }
    d_->vk.vkCmdDispatch(cmd, uint32_t(blocks[0]), uint32_t(blocks[1]), uint32_t(blocks[2]));
    g_counters.dispatches_recorded++;

    const uint64_t serial = s->recording_serial();
    if (serial != batch_serial_) {
        batch_serial_ = serial;
        batch_dispatches_ = 0;
    }
    batch_dispatches_++;
    if (sync_mode()) {
        return s->flush(uc, true);
    }
    if (batch_dispatches_ >= kDispatchesPerBatch) {
        return s->flush(uc, false);
    }
    return 0;
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
    KernelStats s{};
    s.blob_compilations = g_counters.blob_compilations;
    s.shader_modules_created = g_counters.shader_modules_created;
    s.set_layouts_created = g_counters.set_layouts_created;
    s.pipeline_layouts_created = g_counters.pipeline_layouts_created;
    s.pipelines_created = g_counters.pipelines_created;
    s.descriptor_pools_created = g_counters.descriptor_pools_created;
    s.descriptor_sets_allocated = g_counters.descriptor_sets_allocated;
    s.uniform_rings_created = g_counters.uniform_rings_created;
    s.dispatches_recorded = g_counters.dispatches_recorded;
    s.pushed_dispatches = g_counters.pushed_dispatches;
    s.modules_repaired = g_counters.modules_repaired;
    s.validation_warnings = g_counters.validation_warnings;
    s.host_allocations = g_counters.host_allocations;
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

int kernels_run(void *uc, Device *d, void *state, const char *entry_name, const int blocks[3], const int threads[3],
                int shared_mem_bytes, const size_t arg_sizes[], void *const args[], const int8_t arg_is_buffer[]) {
    if (d->kernels == nullptr) {
        return report_error(uc, kNotFound, kRun,
                            "state %p has no compiled kernels on this device (halide_vulkan_initialize_kernels was not "
                            "called since the context was created)",
                            state);
    }
    return d->kernels->run(uc, state, entry_name, blocks, threads, shared_mem_bytes, arg_sizes, args, arg_is_buffer);
}

}  // namespace hvk
