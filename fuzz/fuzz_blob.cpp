// Fuzz target A: everything the runtime does with a kernel blob before any
// of it reaches a Vulkan driver.
//
// One input = 2 control bytes + the blob exactly as generated code passes it
// to halide_vulkan_initialize_kernels (so the blob starts at an odd address:
// the decoder must cope with unaligned input, as spec 04 requires).
//
//   byte 0  bits 0-1  device capabilities profile (what check_spirv_against_
//                     device compares the module's needs with)
//           bits 2-3  HL_VK_SPIRV_VALIDATION: off, warn, strict, off
//           bit  4    the device has VK_KHR_push_descriptor
//           bit  5    the stubbed vkCreateShaderModule fails
//           bit  6    the stubbed vkCreatePipelineLayout fails
//           bit  7    also run halide_vulkan_run's argument checks (empty grid)
//   byte 1  0, or N: fail the runtime's N-th host allocation (host_alloc_fail_nth)
//
// The target drives the real kernels_initialize() (decode_kernel_blob,
// repair_spirv, reflect_spirv, check_spirv_against_device, validate_spirv
// under the chosen policy, the header-vs-SPIR-V layout checks, descriptor
// layout construction) on a Device whose Vulkan function table is a set of
// stubs that check what they are given (every word of the SPIR-V is read,
// so ASan sees any bad pointer or size) and hand out fake handles. Then the
// cache is torn down by the same code the runtime uses, and the runtime's
// host allocation count must be back where it started (no leak on any
// error path), and every fake handle created must have been destroyed.
//
// It also reflects every decoded module directly (entry point null: the
// first GLCompute one), as layout detection does for each module.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "vulkan/context/device.h"
#include "vulkan/util/host_alloc.h"
#include "vulkan/kernels/kernel_blob.h"
#include "vulkan/kernels/kernel_cache.h"
#include "vulkan/kernels/spirv_module.h"

#define FUZZ_CHECK(cond, ...)                                              \
    do {                                                                   \
        if (!(cond)) {                                                     \
            std::fprintf(stderr, "fuzz_blob: check failed: %s: ", #cond);  \
            std::fprintf(stderr, __VA_ARGS__);                             \
            std::fprintf(stderr, "\n");                                    \
            std::abort();                                                  \
        }                                                                  \
    } while (0)

namespace {

// ---------------------------------------------------------------------------
// Stub driver: fake handles, live-object counting, input checks.

struct StubState {
    uint64_t next_handle = 0x1000;
    int64_t live_objects = 0;
    bool fail_shader_module = false;
    bool fail_pipeline_layout = false;
    uint32_t sink = 0;  // keeps the word reads alive
};
StubState g_stub;

template <typename H>
H fake_handle() {
    g_stub.live_objects++;
    return reinterpret_cast<H>(static_cast<uintptr_t>(g_stub.next_handle += 0x10));
}

template <typename H>
void destroy_handle(H h) {
    if (h != VK_NULL_HANDLE) {
        g_stub.live_objects--;
    }
}

VKAPI_ATTR VkResult VKAPI_CALL stub_create_pipeline_cache(VkDevice, const VkPipelineCacheCreateInfo *info,
                                                          const VkAllocationCallbacks *, VkPipelineCache *out) {
    FUZZ_CHECK(info != nullptr && info->sType == VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO, "cache info");
    *out = fake_handle<VkPipelineCache>();
    return VK_SUCCESS;
}
VKAPI_ATTR void VKAPI_CALL stub_destroy_pipeline_cache(VkDevice, VkPipelineCache h, const VkAllocationCallbacks *) {
    destroy_handle(h);
}

VKAPI_ATTR VkResult VKAPI_CALL stub_create_shader_module(VkDevice, const VkShaderModuleCreateInfo *info,
                                                         const VkAllocationCallbacks *, VkShaderModule *out) {
    FUZZ_CHECK(info != nullptr && info->sType == VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, "module info");
    FUZZ_CHECK(info->codeSize >= 20 && info->codeSize % 4 == 0, "codeSize %zu", info->codeSize);
    FUZZ_CHECK(reinterpret_cast<uintptr_t>(info->pCode) % 4 == 0, "pCode not 4-byte aligned");
    FUZZ_CHECK(info->pCode[0] == 0x07230203u, "SPIR-V magic 0x%08x reached the driver", info->pCode[0]);
    uint32_t x = 0;
    for (size_t i = 0; i < info->codeSize / 4; i++) {
        x ^= info->pCode[i];  // every word must be readable
    }
    g_stub.sink ^= x;
    if (g_stub.fail_shader_module) {
        return VK_ERROR_OUT_OF_DEVICE_MEMORY;
    }
    *out = fake_handle<VkShaderModule>();
    return VK_SUCCESS;
}
VKAPI_ATTR void VKAPI_CALL stub_destroy_shader_module(VkDevice, VkShaderModule h, const VkAllocationCallbacks *) {
    destroy_handle(h);
}

VKAPI_ATTR VkResult VKAPI_CALL stub_create_set_layout(VkDevice, const VkDescriptorSetLayoutCreateInfo *info,
                                                      const VkAllocationCallbacks *, VkDescriptorSetLayout *out) {
    FUZZ_CHECK(info != nullptr && info->sType == VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, "layout info");
    FUZZ_CHECK(info->bindingCount == 0 || info->pBindings != nullptr, "null bindings");
    for (uint32_t i = 0; i < info->bindingCount; i++) {
        const VkDescriptorSetLayoutBinding &b = info->pBindings[i];
        FUZZ_CHECK(b.binding == i, "binding %u at %u", b.binding, i);
        FUZZ_CHECK(b.descriptorType == VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER ||
                       b.descriptorType == VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                   "descriptor type %d", int(b.descriptorType));
        FUZZ_CHECK(b.descriptorCount == 1, "descriptor count %u", b.descriptorCount);
    }
    *out = fake_handle<VkDescriptorSetLayout>();
    return VK_SUCCESS;
}
VKAPI_ATTR void VKAPI_CALL stub_destroy_set_layout(VkDevice, VkDescriptorSetLayout h, const VkAllocationCallbacks *) {
    destroy_handle(h);
}

VKAPI_ATTR VkResult VKAPI_CALL stub_create_pipeline_layout(VkDevice, const VkPipelineLayoutCreateInfo *info,
                                                           const VkAllocationCallbacks *, VkPipelineLayout *out) {
    FUZZ_CHECK(info != nullptr && info->setLayoutCount == 1 && info->pSetLayouts != nullptr &&
                   info->pSetLayouts[0] != VK_NULL_HANDLE,
               "pipeline layout info");
    if (g_stub.fail_pipeline_layout) {
        return VK_ERROR_OUT_OF_HOST_MEMORY;
    }
    *out = fake_handle<VkPipelineLayout>();
    return VK_SUCCESS;
}
VKAPI_ATTR void VKAPI_CALL stub_destroy_pipeline_layout(VkDevice, VkPipelineLayout h, const VkAllocationCallbacks *) {
    destroy_handle(h);
}

VKAPI_ATTR void VKAPI_CALL stub_destroy_pipeline(VkDevice, VkPipeline h, const VkAllocationCallbacks *) {
    destroy_handle(h);
}
VKAPI_ATTR void VKAPI_CALL stub_destroy_descriptor_pool(VkDevice, VkDescriptorPool h, const VkAllocationCallbacks *) {
    destroy_handle(h);
}
VKAPI_ATTR void VKAPI_CALL stub_destroy_buffer(VkDevice, VkBuffer h, const VkAllocationCallbacks *) {
    destroy_handle(h);
}
VKAPI_ATTR void VKAPI_CALL stub_get_properties2(VkPhysicalDevice, VkPhysicalDeviceProperties2 *p) {
    for (VkBaseOutStructure *s = reinterpret_cast<VkBaseOutStructure *>(p->pNext); s != nullptr; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PUSH_DESCRIPTOR_PROPERTIES_KHR) {
            reinterpret_cast<VkPhysicalDevicePushDescriptorPropertiesKHR *>(s)->maxPushDescriptors = 32;
        }
    }
}
VKAPI_ATTR void VKAPI_CALL stub_push_descriptor_set(VkCommandBuffer, VkPipelineBindPoint, VkPipelineLayout, uint32_t,
                                                    uint32_t, const VkWriteDescriptorSet *) {
    FUZZ_CHECK(false, "no command may be recorded by this target");
}

// ---------------------------------------------------------------------------
// The fake device.

void caps_profile(int profile, hvk::DeviceCaps *c) {
    *c = hvk::DeviceCaps{};
    switch (profile) {
    case 0:  // everything lavapipe / a desktop GPU has, Vulkan 1.3
        c->api_version = VK_API_VERSION_1_3;
        c->shader_int8 = c->shader_int16 = c->shader_int64 = true;
        c->shader_float16 = c->shader_float64 = true;
        c->storage_buffer_8bit = c->uniform_and_storage_buffer_8bit = true;
        c->storage_buffer_16bit = c->uniform_and_storage_buffer_16bit = true;
        c->maintenance4 = true;
        c->vulkan_memory_model = true;
        break;
    case 1:  // a bare Vulkan 1.0 device
        c->api_version = VK_API_VERSION_1_0;
        break;
    case 2:  // 1.1 with 16-bit storage only
        c->api_version = VK_API_VERSION_1_1;
        c->shader_int16 = true;
        c->storage_buffer_16bit = true;
        break;
    default:  // 1.2 with 8-bit everything, no 64-bit
        c->api_version = VK_API_VERSION_1_2;
        c->shader_int8 = true;
        c->storage_buffer_8bit = c->uniform_and_storage_buffer_8bit = true;
        c->shader_float16 = true;
        break;
    }
}

void init_device(hvk::Device *d, uint8_t control) {
    d->instance = reinterpret_cast<VkInstance>(uintptr_t(0x100));
    d->physical_device = reinterpret_cast<VkPhysicalDevice>(uintptr_t(0x200));
    d->device = reinterpret_cast<VkDevice>(uintptr_t(0x300));
    d->callbacks = nullptr;
    d->vk = VolkDeviceTable{};
    d->vk.vkCreatePipelineCache = stub_create_pipeline_cache;
    d->vk.vkDestroyPipelineCache = stub_destroy_pipeline_cache;
    d->vk.vkCreateShaderModule = stub_create_shader_module;
    d->vk.vkDestroyShaderModule = stub_destroy_shader_module;
    d->vk.vkCreateDescriptorSetLayout = stub_create_set_layout;
    d->vk.vkDestroyDescriptorSetLayout = stub_destroy_set_layout;
    d->vk.vkCreatePipelineLayout = stub_create_pipeline_layout;
    d->vk.vkDestroyPipelineLayout = stub_destroy_pipeline_layout;
    d->vk.vkDestroyPipeline = stub_destroy_pipeline;
    d->vk.vkDestroyDescriptorPool = stub_destroy_descriptor_pool;
    d->vk.vkDestroyBuffer = stub_destroy_buffer;
    d->vk.vkCmdPushDescriptorSetKHR = stub_push_descriptor_set;
    d->ifn = hvk::InstanceFunctions{};
    d->ifn.GetPhysicalDeviceProperties2 = stub_get_properties2;

    // Limits of lavapipe (the project's test device).
    VkPhysicalDeviceProperties &p = d->properties;
    p = VkPhysicalDeviceProperties{};
    p.apiVersion = VK_API_VERSION_1_3;
    std::snprintf(p.deviceName, sizeof(p.deviceName), "fuzz stub device");
    VkPhysicalDeviceLimits &l = p.limits;
    l.maxPerStageDescriptorStorageBuffers = 1000000;
    l.maxComputeSharedMemorySize = 32768;
    l.maxUniformBufferRange = 65536;
    l.maxStorageBufferRange = 2147483647u;
    l.maxComputeWorkGroupCount[0] = l.maxComputeWorkGroupCount[1] = l.maxComputeWorkGroupCount[2] = 65535;
    l.maxComputeWorkGroupSize[0] = l.maxComputeWorkGroupSize[1] = l.maxComputeWorkGroupSize[2] = 1024;
    l.maxComputeWorkGroupInvocations = 1024;
    l.minStorageBufferOffsetAlignment = 16;
    l.minUniformBufferOffsetAlignment = 16;

    caps_profile(control & 3, &d->caps);
    d->caps.push_descriptor = (control & 0x10) != 0;
}

const char *policy_name(int bits) {
    switch (bits) {
    case 1: return "warn";
    case 2: return "strict";
    default: return "off";
    }
}

void quiet_error(void *, const char *) {}
void quiet_print(void *, const char *) {}

// halide_vulkan_run's checks before any GPU work: a zero-block grid returns
// right after the argument, limit and buffer checks.
void probe_run(hvk::Device *d, void *state, const hvk::DecodedBlob &blob) {
    static halide_buffer_t bufs[8];
    static halide_dimension_t dims[8];
    for (int i = 0; i < 8; i++) {
        bufs[i] = halide_buffer_t{};
        dims[i] = halide_dimension_t{0, 16, 1, 0};
        bufs[i].dim = &dims[i];
        bufs[i].dimensions = 1;
        bufs[i].type = halide_type_t(halide_type_float, 32, 1);
        bufs[i].device = 1;  // never dereferenced on an empty grid
        bufs[i].device_interface = halide_vulkan_device_interface();
    }
    for (uint32_t e = 0; e < blob.entry_count() && e < 4; e++) {
        const hvk::BlobEntryPoint &be = blob.entry(e);
        size_t sizes[16] = {};
        void *args[16] = {};
        int8_t is_buffer[16] = {};
        int32_t scalar = 7;
        uint32_t n = 0;
        for (uint32_t i = 0; i < be.storage_count && n < 8; i++, n++) {
            sizes[n] = 8;
            args[n] = &bufs[n];
            is_buffer[n] = 1;
        }
        for (uint32_t i = 0; i < 3 && n < 15; i++, n++) {
            sizes[n] = 4;
            args[n] = &scalar;
        }
        const int blocks[3] = {0, 1, 1};
        const int threads[3] = {1, 1, 1};
        (void)hvk::kernels_run(nullptr, d, state, be.name, blocks, threads, 0, sizes, args, is_buffer);
        // Dropping the scalars tests the other argument-block layout.
        sizes[be.storage_count < 8 ? be.storage_count : 8] = 0;
        (void)hvk::kernels_run(nullptr, d, state, be.name, blocks, threads, 16, sizes, args, is_buffer);
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    halide_set_error_handler(quiet_error);
    halide_set_custom_print(quiet_print);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) {
        return 0;
    }
    const uint8_t control = data[0];
    const uint8_t fail_nth = data[1];
    const char *blob = reinterpret_cast<const char *>(data + 2);
    const size_t blob_size = size - 2;
    if (blob_size > (1u << 20)) {
        return 0;  // the runtime takes an int size; keep inputs small
    }

    setenv("HL_VK_SPIRV_VALIDATION", policy_name((control >> 2) & 3), 1);
    g_stub.fail_shader_module = (control & 0x20) != 0;
    g_stub.fail_pipeline_layout = (control & 0x40) != 0;
    const int64_t objects_before = g_stub.live_objects;
    const uint64_t live_before = hvk::host_alloc_stats().live_allocations;

    // 1. The decoder on its own, and reflection of every module it accepts.
    {
        hvk::host_alloc_fail_nth(fail_nth);
        hvk::DecodedBlob decoded;
        char msg[512];
        const int rc = hvk::decode_kernel_blob(blob, blob_size, nullptr, &decoded, msg, sizeof(msg));
        hvk::host_alloc_fail_nth(0);
        FUZZ_CHECK(rc == 0 || rc == -1 || rc == -11, "decode returned %d", rc);
        if (rc != 0) {
            FUZZ_CHECK(msg[0] != '\0' || rc == -11, "decode failed without a message");
        } else {
            uint32_t entries = 0;
            for (uint32_t m = 0; m < decoded.module_count(); m++) {
                const hvk::BlobModule &bm = decoded.module(m);
                FUZZ_CHECK(bm.spirv_bytes >= 20 && bm.spirv_bytes % 4 == 0, "module %u: %zu SPIR-V bytes", m,
                           bm.spirv_bytes);
                FUZZ_CHECK(bm.spirv >= reinterpret_cast<const uint8_t *>(blob) &&
                               bm.spirv + bm.spirv_bytes <= reinterpret_cast<const uint8_t *>(blob) + blob_size,
                           "module %u's SPIR-V lies outside the blob", m);
                entries += bm.entry_count;
                std::vector<uint32_t> words(bm.spirv_bytes / 4);
                std::memcpy(words.data(), bm.spirv, bm.spirv_bytes);
                for (uint32_t e = 0; e < bm.entry_count; e++) {
                    const hvk::BlobEntryPoint &be = bm.entries[e];
                    FUZZ_CHECK(be.name != nullptr && be.name[0] != '\0', "empty entry name");
                    FUZZ_CHECK(be.uniform_count <= 1, "U = %u", be.uniform_count);
                }
                auto *refl = new hvk::SpirvReflection;
                (void)hvk::reflect_spirv(words.data(), words.size(), nullptr, nullptr, refl, msg, sizeof(msg));
                FUZZ_CHECK(refl->binding_count <= hvk::kMaxBindings, "binding count %u", refl->binding_count);
                FUZZ_CHECK(refl->uniform_member_count <= hvk::kMaxUniformMembers, "member count %u",
                           refl->uniform_member_count);
                delete refl;
            }
            FUZZ_CHECK(entries == decoded.entry_count(), "entry counts %u vs %u", entries, decoded.entry_count());
        }
    }
    FUZZ_CHECK(hvk::host_alloc_stats().live_allocations == live_before, "decode leaked");

    // 2. The real initialize path on the stub device, then its teardown.
    {
        hvk::Device *d = new hvk::Device;
        init_device(d, control);
        void *slot = nullptr;
        hvk::host_alloc_fail_nth(fail_nth);
        const int rc = hvk::kernels_initialize(nullptr, d, &slot, blob, int(blob_size));
        hvk::host_alloc_fail_nth(0);
        FUZZ_CHECK(rc == 0 || rc == -1 || rc == -11, "kernels_initialize returned %d", rc);
        if (rc == 0) {
            FUZZ_CHECK(hvk::kernels_is_issued_id(slot), "no id stored in the slot");
            // A second initialize of the same slot is a cache hit.
            FUZZ_CHECK(hvk::kernels_initialize(nullptr, d, &slot, blob, int(blob_size)) == 0, "cache hit failed");
            if (control & 0x80) {
                hvk::DecodedBlob decoded;
                char msg[512];
                if (hvk::decode_kernel_blob(blob, blob_size, nullptr, &decoded, msg, sizeof(msg)) == 0) {
                    probe_run(d, slot, decoded);
                }
            }
            hvk::kernels_finalize(nullptr, d, slot);
            hvk::kernels_finalize(nullptr, d, slot);
        }
        hvk::destroy_device_subsystems(d);
        delete d;
    }
    FUZZ_CHECK(g_stub.live_objects == objects_before, "%lld Vulkan object(s) leaked",
               static_cast<long long>(g_stub.live_objects - objects_before));
    FUZZ_CHECK(hvk::host_alloc_stats().live_allocations == live_before, "%lld host allocation(s) leaked",
               static_cast<long long>(hvk::host_alloc_stats().live_allocations - live_before));
    return 0;
}
