// The arena allocator.
//
// Part 1 runs on a fake device (memory properties of a discrete GPU, a fake
// vkAllocateMemory with per-heap budgets) to cover memory-type choice,
// non-coherent flush ranges, out-of-memory recovery and device limits, which
// lavapipe's single memory type cannot show.
// Part 2 runs on the real default context (lavapipe in the test setup):
// real VkBuffers bound to arena memory, data through the mappings and a GPU
// copy, stats, trim, configured limits, and block reuse.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "HalideRuntime.h"
#include "vulkan/memory/arena.h"
#include "vulkan/context/context_scope.h"
#include "vulkan/util/host_alloc.h"
#include "test_env.h"

namespace {

using hvk::Arena;
using hvk::ArenaAllocation;
using hvk::ArenaConfig;
using hvk::ArenaStats;
using hvk::MemoryUsage;

constexpr uint64_t MiB = 1ull << 20;

// ===========================================================================
// Part 1: fake device

struct FakeDriver {
    struct Memory {
        void *host;
        uint64_t size;
        uint32_t type;
        bool mapped;
    };
    std::map<VkDeviceMemory, Memory> live;
    uint64_t heap_used[VK_MAX_MEMORY_HEAPS] = {};
    uint64_t heap_budget[VK_MAX_MEMORY_HEAPS] = {};
    VkPhysicalDeviceMemoryProperties props{};
    uint64_t atom = 64;
    uint64_t allocate_calls = 0;
    uint64_t failed_calls = 0;
    std::vector<VkMappedMemoryRange> flushed, invalidated;
    std::vector<std::string> misuse;
};

FakeDriver *g_fake = nullptr;

VKAPI_ATTR VkResult VKAPI_CALL fake_allocate(VkDevice, const VkMemoryAllocateInfo *info, const VkAllocationCallbacks *,
                                             VkDeviceMemory *out) {
    FakeDriver &f = *g_fake;
    f.allocate_calls++;
    uint32_t heap = f.props.memoryTypes[info->memoryTypeIndex].heapIndex;
    if (info->memoryTypeIndex >= f.props.memoryTypeCount || info->allocationSize == 0) {
        f.misuse.push_back("bad vkAllocateMemory arguments");
        return VK_ERROR_UNKNOWN;
    }
    if (f.heap_used[heap] + info->allocationSize > f.heap_budget[heap]) {
        f.failed_calls++;
        return VK_ERROR_OUT_OF_DEVICE_MEMORY;
    }
    // Host backing only for host-visible types (never touched unless mapped and written).
    void *host = std::malloc(info->allocationSize);
    if (host == nullptr) {
        return VK_ERROR_OUT_OF_HOST_MEMORY;
    }
    auto handle = reinterpret_cast<VkDeviceMemory>(host);
    f.live[handle] = FakeDriver::Memory{host, info->allocationSize, info->memoryTypeIndex, false};
    f.heap_used[heap] += info->allocationSize;
    *out = handle;
    return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL fake_free(VkDevice, VkDeviceMemory memory, const VkAllocationCallbacks *) {
    FakeDriver &f = *g_fake;
    auto it = f.live.find(memory);
    if (it == f.live.end()) {
        f.misuse.push_back("vkFreeMemory of unknown memory");
        return;
    }
    if (it->second.mapped) {
        f.misuse.push_back("vkFreeMemory of mapped memory");
    }
    f.heap_used[f.props.memoryTypes[it->second.type].heapIndex] -= it->second.size;
    std::free(it->second.host);
    f.live.erase(it);
}

VKAPI_ATTR VkResult VKAPI_CALL fake_map(VkDevice, VkDeviceMemory memory, VkDeviceSize offset, VkDeviceSize,
                                        VkMemoryMapFlags, void **out) {
    FakeDriver &f = *g_fake;
    auto it = f.live.find(memory);
    if (it == f.live.end() || it->second.mapped ||
        !(f.props.memoryTypes[it->second.type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)) {
        f.misuse.push_back("bad vkMapMemory");
        return VK_ERROR_MEMORY_MAP_FAILED;
    }
    it->second.mapped = true;
    *out = static_cast<uint8_t *>(it->second.host) + offset;
    return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL fake_unmap(VkDevice, VkDeviceMemory memory) {
    FakeDriver &f = *g_fake;
    auto it = f.live.find(memory);
    if (it == f.live.end() || !it->second.mapped) {
        f.misuse.push_back("bad vkUnmapMemory");
        return;
    }
    it->second.mapped = false;
}

void check_range(const VkMappedMemoryRange &r) {
    FakeDriver &f = *g_fake;
    auto it = f.live.find(r.memory);
    if (it == f.live.end() || !it->second.mapped) {
        f.misuse.push_back("flush/invalidate of unmapped memory");
        return;
    }
    if (r.offset % f.atom != 0) {
        f.misuse.push_back("range offset not a multiple of nonCoherentAtomSize");
    }
    if (r.size != VK_WHOLE_SIZE) {
        if (r.size % f.atom != 0 && r.offset + r.size != it->second.size) {
            f.misuse.push_back("range size not a multiple of nonCoherentAtomSize and not to the end");
        }
        if (r.offset + r.size > it->second.size) {
            f.misuse.push_back("range past the end of the allocation");
        }
    }
}

VKAPI_ATTR VkResult VKAPI_CALL fake_flush(VkDevice, uint32_t count, const VkMappedMemoryRange *ranges) {
    for (uint32_t i = 0; i < count; i++) {
        check_range(ranges[i]);
        g_fake->flushed.push_back(ranges[i]);
    }
    return VK_SUCCESS;
}

VKAPI_ATTR VkResult VKAPI_CALL fake_invalidate(VkDevice, uint32_t count, const VkMappedMemoryRange *ranges) {
    for (uint32_t i = 0; i < count; i++) {
        check_range(ranges[i]);
        g_fake->invalidated.push_back(ranges[i]);
    }
    return VK_SUCCESS;
}

// Memory types like a discrete GPU's:
//   0 DEVICE_LOCAL                               heap 0 (VRAM)
//   1 HOST_VISIBLE | HOST_COHERENT               heap 1 (system)
//   2 HOST_VISIBLE | HOST_COHERENT | HOST_CACHED heap 1
//   3 DEVICE_LOCAL | HOST_VISIBLE | HOST_COHERENT heap 2 (256 MiB BAR)
//   4 HOST_VISIBLE | HOST_CACHED (non-coherent)  heap 1
//   5 DEVICE_LOCAL | PROTECTED                   heap 0
class FakeArena : public ::testing::Test {
protected:
    void SetUp() override {
        g_fake = &fake_;
        VkPhysicalDeviceMemoryProperties &p = fake_.props;
        p.memoryHeapCount = 3;
        p.memoryHeaps[0] = {8ull << 30, VK_MEMORY_HEAP_DEVICE_LOCAL_BIT};
        p.memoryHeaps[1] = {16ull << 30, 0};
        p.memoryHeaps[2] = {256 * MiB, VK_MEMORY_HEAP_DEVICE_LOCAL_BIT};
        const VkMemoryPropertyFlags HV = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                                    HC = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                                    CA = VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
                                    DL = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
        p.memoryTypeCount = 6;
        p.memoryTypes[0] = {DL, 0};
        p.memoryTypes[1] = {HV | HC, 1};
        p.memoryTypes[2] = {HV | HC | CA, 1};
        p.memoryTypes[3] = {DL | HV | HC, 2};
        p.memoryTypes[4] = {HV | CA, 1};
        p.memoryTypes[5] = {DL | VK_MEMORY_PROPERTY_PROTECTED_BIT, 0};
        for (uint32_t i = 0; i < p.memoryHeapCount; i++) {
            fake_.heap_budget[i] = p.memoryHeaps[i].size;
        }
        device_.device = reinterpret_cast<VkDevice>(&fake_);
        device_.memory_properties = p;
        device_.properties.limits.nonCoherentAtomSize = fake_.atom;
        device_.properties.limits.maxMemoryAllocationCount = 4096;
        device_.vk.vkAllocateMemory = fake_allocate;
        device_.vk.vkFreeMemory = fake_free;
        device_.vk.vkMapMemory = fake_map;
        device_.vk.vkUnmapMemory = fake_unmap;
        device_.vk.vkFlushMappedMemoryRanges = fake_flush;
        device_.vk.vkInvalidateMappedMemoryRanges = fake_invalidate;
        host_live_ = hvk::host_alloc_stats().live_allocations;
        hvk_test::clear_errors();
    }

    void TearDown() override {
        destroy();
        EXPECT_TRUE(fake_.live.empty()) << fake_.live.size() << " VkDeviceMemory objects leaked";
        for (const std::string &m : fake_.misuse) {
            ADD_FAILURE() << "driver misuse: " << m;
        }
        EXPECT_EQ(hvk::host_alloc_stats().live_allocations, host_live_) << "host allocations leaked";
        g_fake = nullptr;
    }

    Arena *make(const ArenaConfig &config = ArenaConfig()) {
        destroy();
        EXPECT_EQ(Arena::create(nullptr, &device_, config, &arena_), 0);
        return arena_;
    }
    void destroy() {
        Arena::destroy(&device_, arena_);
        arena_ = nullptr;
    }

    static VkMemoryRequirements req(uint64_t size, uint64_t alignment = 64, uint32_t bits = 0x1f) {
        return VkMemoryRequirements{size, alignment, bits};
    }

    FakeDriver fake_;
    hvk::Device device_;
    Arena *arena_ = nullptr;
    uint64_t host_live_ = 0;
};

TEST_F(FakeArena, MemoryTypeChoiceFollowsUsage) {
    Arena *a = make();
    struct Case {
        MemoryUsage usage;
        uint32_t bits;
        uint32_t expect;
    } cases[] = {
        {MemoryUsage::DeviceLocal, 0x3f, 0},  // pure VRAM, never the protected type
        {MemoryUsage::Upload, 0x3f, 1},       // coherent, not BAR
        {MemoryUsage::Readback, 0x3f, 2},     // cached (and coherent)
        {MemoryUsage::Uniform, 0x3f, 3},      // coherent, device local
        {MemoryUsage::DeviceLocal, 0x0a, 3},  // memoryTypeBits honoured: only 1 and 3 allowed, 3 is device local
        {MemoryUsage::DeviceLocal, 0x02, 1},  // no device-local type allowed: any allowed type
        {MemoryUsage::Readback, 0x10, 4},     // the non-coherent cached type when it is the only one
        {MemoryUsage::Upload, 0x18, 3},       // coherent beats non-coherent
    };
    for (const Case &c : cases) {
        ArenaAllocation al;
        ASSERT_EQ(a->allocate(nullptr, req(1000, 64, c.bits), c.usage, &al), 0);
        EXPECT_EQ(al.memory_type, c.expect) << "usage " << int(c.usage) << " bits 0x" << std::hex << c.bits;
        VkMemoryPropertyFlags flags = fake_.props.memoryTypes[c.expect].propertyFlags;
        EXPECT_EQ(al.mapped != nullptr, (flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) != 0);
        EXPECT_EQ(al.coherent, (flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) != 0);
        a->free(al);
    }
    EXPECT_TRUE(hvk_test::errors().empty()) << hvk_test::last_error();
}

TEST_F(FakeArena, NoSuitableType) {
    Arena *a = make();
    ArenaAllocation al;
    EXPECT_EQ(a->allocate(nullptr, req(100, 64, 0x01), MemoryUsage::Upload, &al),
              halide_error_code_device_malloc_failed);
    EXPECT_TRUE(hvk_test::error_contains("memoryTypeBits 0x1")) << hvk_test::last_error();
    EXPECT_EQ(a->allocate(nullptr, req(100, 64, 0x20), MemoryUsage::DeviceLocal, &al),
              halide_error_code_device_malloc_failed);  // only the protected type
    EXPECT_EQ(a->allocate(nullptr, req(100, 64, 0), MemoryUsage::DeviceLocal, &al),
              halide_error_code_device_malloc_failed);
    EXPECT_EQ(a->allocate(nullptr, req(100, 48), MemoryUsage::DeviceLocal, &al), halide_error_code_device_malloc_failed);
    EXPECT_TRUE(hvk_test::error_contains("not a power of two"));
    EXPECT_EQ(a->stats().block_count, 0u);
}

TEST_F(FakeArena, NonCoherentRangesFollowTheAtom) {
    ArenaConfig config;
    config.minimum_block_size = 1 * MiB;
    Arena *a = make(config);
    // Two neighbours in a non-coherent type never share an atom.
    ArenaAllocation x, y;
    ASSERT_EQ(a->allocate(nullptr, req(100, 4, 0x10), MemoryUsage::Readback, &x), 0);
    ASSERT_EQ(a->allocate(nullptr, req(100, 4, 0x10), MemoryUsage::Readback, &y), 0);
    EXPECT_FALSE(x.coherent);
    EXPECT_EQ(x.offset % fake_.atom, 0u);
    EXPECT_EQ(y.offset % fake_.atom, 0u);
    EXPECT_EQ(x.size % fake_.atom, 0u);
    EXPECT_GE(y.offset, x.offset + x.size);
    EXPECT_EQ(x.memory, y.memory);

    ASSERT_EQ(a->flush(nullptr, y, 10, 5), 0);
    ASSERT_EQ(fake_.flushed.size(), 1u);
    EXPECT_LE(fake_.flushed[0].offset, y.offset + 10);
    EXPECT_GE(fake_.flushed[0].offset + fake_.flushed[0].size, y.offset + 15);
    EXPECT_GE(fake_.flushed[0].offset, y.offset);  // never into x
    ASSERT_EQ(a->invalidate(nullptr, y, 0, VK_WHOLE_SIZE), 0);
    ASSERT_EQ(fake_.invalidated.size(), 1u);
    EXPECT_EQ(fake_.invalidated[0].offset, y.offset);
    EXPECT_EQ(fake_.invalidated[0].size, y.size);
    EXPECT_EQ(a->flush(nullptr, y, 0, 0), 0);  // empty: nothing to do
    EXPECT_EQ(fake_.flushed.size(), 1u);

    // Out-of-range requests are errors, not clamped silently.
    EXPECT_EQ(a->flush(nullptr, y, y.size + 1, 1), halide_error_code_copy_to_device_failed);
    EXPECT_EQ(a->invalidate(nullptr, y, 8, y.size), halide_error_code_copy_to_host_failed);

    // Coherent memory: no calls at all.
    ArenaAllocation c;
    ASSERT_EQ(a->allocate(nullptr, req(100), MemoryUsage::Upload, &c), 0);
    EXPECT_TRUE(c.coherent);
    EXPECT_EQ(a->flush(nullptr, c, 0, VK_WHOLE_SIZE), 0);
    EXPECT_EQ(fake_.flushed.size(), 1u);

    // Not host visible: flush is an error.
    ArenaAllocation dl;
    ASSERT_EQ(a->allocate(nullptr, req(100), MemoryUsage::DeviceLocal, &dl), 0);
    EXPECT_EQ(a->flush(nullptr, dl, 0, VK_WHOLE_SIZE), halide_error_code_copy_to_device_failed);
    EXPECT_TRUE(hvk_test::error_contains("not host visible"));
    a->free(x);
    a->free(y);
    a->free(c);
    a->free(dl);
    // Stale: y was freed.
    EXPECT_EQ(a->flush(nullptr, y, 0, 1), halide_error_code_copy_to_device_failed);
    EXPECT_TRUE(hvk_test::error_contains("not live"));
}

TEST_F(FakeArena, OutOfDeviceMemoryTrimsCachedBlocksAndRetries) {
    ArenaConfig config;
    config.minimum_block_size = 64 * MiB;
    fake_.heap_budget[0] = 100 * MiB;
    Arena *a = make(config);
    ArenaAllocation x;
    ASSERT_EQ(a->allocate(nullptr, req(40 * MiB, 256, 0x01), MemoryUsage::DeviceLocal, &x), 0);
    EXPECT_EQ(a->stats().block_bytes, 64 * MiB);
    a->free(x);
    EXPECT_EQ(a->stats().block_count, 1u);  // cached
    EXPECT_EQ(a->stats().cached_bytes, 64 * MiB);
    // 80 MiB does not fit the cached 64 MiB block, and the heap cannot hold both.
    ArenaAllocation y;
    ASSERT_EQ(a->allocate(nullptr, req(80 * MiB, 256, 0x01), MemoryUsage::DeviceLocal, &y), 0);
    EXPECT_EQ(fake_.failed_calls, 1u);
    ArenaStats s = a->stats();
    EXPECT_EQ(s.block_count, 1u);
    EXPECT_EQ(s.block_bytes, 80 * MiB);
    EXPECT_EQ(s.cached_bytes, 0u);
    EXPECT_EQ(s.device_allocations_made, 2u);
    EXPECT_EQ(s.peak_block_bytes, 80 * MiB);
    EXPECT_TRUE(hvk_test::errors().empty()) << hvk_test::last_error();

    // Really out of memory: a clear error, and the arena keeps working.
    ArenaAllocation z;
    EXPECT_EQ(a->allocate(nullptr, req(30 * MiB, 256, 0x01), MemoryUsage::DeviceLocal, &z),
              halide_error_code_device_malloc_failed);
    EXPECT_TRUE(hvk_test::error_contains("VK_ERROR_OUT_OF_DEVICE_MEMORY")) << hvk_test::last_error();
    EXPECT_TRUE(hvk_test::error_contains("out of device memory"));
    EXPECT_EQ(a->stats().allocation_count, 1u);
    a->free(y);
    ASSERT_EQ(a->allocate(nullptr, req(30 * MiB, 256, 0x01), MemoryUsage::DeviceLocal, &z), 0);
    a->free(z);
}

TEST_F(FakeArena, OutOfMemoryFallsBackToTheNextSuitableType) {
    fake_.heap_budget[0] = 40 * MiB;
    Arena *a = make();
    ArenaAllocation x, y;
    ASSERT_EQ(a->allocate(nullptr, req(30 * MiB), MemoryUsage::DeviceLocal, &x), 0);
    EXPECT_EQ(x.memory_type, 0u);
    ASSERT_EQ(a->allocate(nullptr, req(30 * MiB), MemoryUsage::DeviceLocal, &y), 0);
    EXPECT_EQ(y.memory_type, 3u);  // VRAM full: the BAR type, also DEVICE_LOCAL
    a->free(x);
    a->free(y);
    // Larger than every suitable heap.
    ArenaAllocation z;
    EXPECT_EQ(a->allocate(nullptr, req(9ull << 30), MemoryUsage::DeviceLocal, &z),
              halide_error_code_device_malloc_failed);
    EXPECT_TRUE(hvk_test::error_contains("larger than memory heap")) << hvk_test::last_error();
}

TEST_F(FakeArena, SmallHeapsGetSmallerBlocks) {
    ArenaConfig config;
    config.minimum_block_size = 128 * MiB;
    Arena *a = make(config);
    ArenaAllocation u;
    ASSERT_EQ(a->allocate(nullptr, req(4096), MemoryUsage::Uniform, &u), 0);
    EXPECT_EQ(u.memory_type, 3u);
    EXPECT_EQ(a->stats().block_bytes, 32 * MiB);  // 1/8 of the 256 MiB heap
    ArenaAllocation d;
    ASSERT_EQ(a->allocate(nullptr, req(4096), MemoryUsage::DeviceLocal, &d), 0);
    EXPECT_EQ(a->stats().block_bytes, 32 * MiB + 128 * MiB);
    a->free(u);
    a->free(d);
}

TEST_F(FakeArena, DeviceAllocationCountLimit) {
    device_.properties.limits.maxMemoryAllocationCount = 2;
    ArenaConfig config;
    config.minimum_block_size = 1 * MiB;
    Arena *a = make(config);
    ArenaAllocation x, y, z;
    ASSERT_EQ(a->allocate(nullptr, req(2 * MiB), MemoryUsage::DeviceLocal, &x), 0);
    ASSERT_EQ(a->allocate(nullptr, req(2 * MiB), MemoryUsage::DeviceLocal, &y), 0);
    EXPECT_EQ(a->allocate(nullptr, req(2 * MiB), MemoryUsage::DeviceLocal, &z), halide_error_code_device_malloc_failed);
    EXPECT_TRUE(hvk_test::error_contains("maxMemoryAllocationCount (2)")) << hvk_test::last_error();
    // A freed (cached) block is given back to make room for a block of another type.
    a->free(y);
    ASSERT_EQ(a->allocate(nullptr, req(2 * MiB), MemoryUsage::Upload, &z), 0);
    EXPECT_EQ(a->stats().block_count, 2u);
    a->free(x);
    a->free(z);
}

TEST_F(FakeArena, HostAllocationFailuresAreCleanErrors) {
    ArenaConfig config;
    config.minimum_block_size = 1 * MiB;
    Arena *a = make(config);
    for (uint64_t nth = 1; nth <= 4; nth++) {
        ArenaStats before = a->stats();
        hvk::host_alloc_fail_nth(nth);
        ArenaAllocation x;
        int rc = a->allocate(nullptr, req(4096 + nth), MemoryUsage::DeviceLocal, &x);
        hvk::host_alloc_fail_nth(0);
        if (rc == 0) {
            a->free(x);
            continue;  // this many host allocations were not needed
        }
        EXPECT_EQ(rc, halide_error_code_out_of_memory) << nth;
        EXPECT_TRUE(hvk_test::error_contains("host memory")) << hvk_test::last_error();
        ArenaStats after = a->stats();
        EXPECT_EQ(after.allocation_count, before.allocation_count);
        EXPECT_EQ(after.block_count, before.block_count);
        EXPECT_EQ(after.block_bytes, before.block_bytes);
        EXPECT_EQ(fake_.live.size(), after.block_count);
    }
    ArenaAllocation x;
    ASSERT_EQ(a->allocate(nullptr, req(4096), MemoryUsage::DeviceLocal, &x), 0);
    a->free(x);
}

TEST_F(FakeArena, ReleasesEverythingOnDestroyEvenWithLiveAllocations) {
    Arena *a = make();
    ArenaAllocation x, y;
    ASSERT_EQ(a->allocate(nullptr, req(1000), MemoryUsage::Upload, &x), 0);
    ASSERT_EQ(a->allocate(nullptr, req(1000), MemoryUsage::DeviceLocal, &y), 0);
    EXPECT_EQ(fake_.live.size(), 2u);
    destroy();
    EXPECT_TRUE(fake_.live.empty());  // unmapped first (the fake checks), then freed
}

TEST_F(FakeArena, BadFreeIsReportedAndIgnored) {
    Arena *a = make();
    ArenaAllocation x;
    ASSERT_EQ(a->allocate(nullptr, req(1000), MemoryUsage::DeviceLocal, &x), 0);
    ArenaAllocation forged = x;
    forged.offset += 64;
    a->free(forged);
    EXPECT_TRUE(hvk_test::error_contains("not live"));
    EXPECT_EQ(a->stats().allocation_count, 1u);
    a->free(x);
    hvk_test::clear_errors();
    a->free(x);  // double free
    EXPECT_TRUE(hvk_test::error_contains("not live"));
    a->free(ArenaAllocation{});  // empty: silently nothing
    EXPECT_EQ(a->stats().allocation_count, 0u);
    EXPECT_EQ(a->stats().allocated_bytes, 0u);
}

TEST_F(FakeArena, CreateRejectsBadConfig) {
    ArenaConfig config;
    config.nearest_multiple = 48;
    Arena *a = nullptr;
    EXPECT_EQ(Arena::create(nullptr, &device_, config, &a), halide_error_code_device_malloc_failed);
    EXPECT_EQ(a, nullptr);
    EXPECT_TRUE(hvk_test::error_contains("power of two"));
}

// ===========================================================================
// Part 2: the real default context

class RealArena : public ::testing::Test {
protected:
    void SetUp() override {
        scope_ = new hvk::ContextScope(nullptr, "test");
        ASSERT_TRUE(scope_->ok());
        d_ = scope_->device();
        ASSERT_NE(d_, nullptr);
        host_live_ = hvk::host_alloc_stats().live_allocations;
        hvk_test::clear_errors();
    }
    void TearDown() override {
        if (d_ != nullptr) {
            for (VkBuffer b : buffers_) {
                d_->vk.vkDestroyBuffer(d_->device, b, d_->callbacks);
            }
            Arena::destroy(d_, arena_);
            EXPECT_EQ(hvk::host_alloc_stats().live_allocations, host_live_) << "host allocations leaked";
        }
        delete scope_;
    }

    Arena *make(const ArenaConfig &config = ArenaConfig()) {
        EXPECT_EQ(Arena::create(nullptr, d_, config, &arena_), 0);
        return arena_;
    }

    VkBuffer buffer(uint64_t size, VkMemoryRequirements *r,
                    VkBufferUsageFlags usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                               VK_BUFFER_USAGE_TRANSFER_DST_BIT) {
        VkBufferCreateInfo info{};
        info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
        info.size = size;
        info.usage = usage;
        info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
        VkBuffer b = VK_NULL_HANDLE;
        EXPECT_EQ(d_->vk.vkCreateBuffer(d_->device, &info, d_->callbacks, &b), VK_SUCCESS);
        buffers_.push_back(b);
        d_->vk.vkGetBufferMemoryRequirements(d_->device, b, r);
        return b;
    }

    // Creates a buffer, allocates for it and binds it.
    VkBuffer bound(uint64_t size, MemoryUsage usage, ArenaAllocation *al) {
        VkMemoryRequirements r;
        VkBuffer b = buffer(size, &r);
        EXPECT_EQ(arena_->allocate(nullptr, r, usage, al), 0);
        EXPECT_EQ(al->offset % r.alignment, 0u);
        EXPECT_GE(al->size, r.size);
        EXPECT_TRUE(r.memoryTypeBits & (1u << al->memory_type));
        EXPECT_EQ(d_->vk.vkBindBufferMemory(d_->device, b, al->memory, al->offset), VK_SUCCESS);
        return b;
    }

    void gpu_copy(VkBuffer src, VkBuffer dst, uint64_t size) {
        VkCommandPoolCreateInfo pi{};
        pi.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
        pi.queueFamilyIndex = d_->queue_family;
        VkCommandPool pool = VK_NULL_HANDLE;
        ASSERT_EQ(d_->vk.vkCreateCommandPool(d_->device, &pi, nullptr, &pool), VK_SUCCESS);
        VkCommandBufferAllocateInfo ai{};
        ai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
        ai.commandPool = pool;
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        ai.commandBufferCount = 1;
        VkCommandBuffer cb = VK_NULL_HANDLE;
        ASSERT_EQ(d_->vk.vkAllocateCommandBuffers(d_->device, &ai, &cb), VK_SUCCESS);
        VkCommandBufferBeginInfo bi{};
        bi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
        bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
        ASSERT_EQ(d_->vk.vkBeginCommandBuffer(cb, &bi), VK_SUCCESS);
        VkBufferCopy region{0, 0, size};
        d_->vk.vkCmdCopyBuffer(cb, src, dst, 1, &region);
        VkMemoryBarrier barrier{};
        barrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
        barrier.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        barrier.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
        d_->vk.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0,
                                    nullptr, 0, nullptr);
        ASSERT_EQ(d_->vk.vkEndCommandBuffer(cb), VK_SUCCESS);
        VkSubmitInfo si{};
        si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
        si.commandBufferCount = 1;
        si.pCommandBuffers = &cb;
        ASSERT_EQ(d_->vk.vkQueueSubmit(d_->queue, 1, &si, VK_NULL_HANDLE), VK_SUCCESS);
        ASSERT_EQ(d_->vk.vkQueueWaitIdle(d_->queue), VK_SUCCESS);
        d_->vk.vkDestroyCommandPool(d_->device, pool, nullptr);
    }

    hvk::ContextScope *scope_ = nullptr;  // holds the default context's lock for the test
    hvk::Device *d_ = nullptr;
    Arena *arena_ = nullptr;
    std::vector<VkBuffer> buffers_;
    uint64_t host_live_ = 0;
};

TEST_F(RealArena, CreateDestroyLeavesNothing) {
    make();
    ArenaStats s = arena_->stats();
    EXPECT_EQ(s.block_count, 0u);
    EXPECT_EQ(s.device_allocations_made, 0u);
}

TEST_F(RealArena, BindsRealBuffersOfOddSizes) {
    make();
    const uint64_t sizes[] = {1, 3, 17, 63, 64, 65, 1000, 4097, 65537, 1 << 20};
    std::vector<ArenaAllocation> all;
    uint64_t total = 0;
    for (uint64_t size : sizes) {
        ArenaAllocation al;
        bound(size, MemoryUsage::DeviceLocal, &al);
        all.push_back(al);
        total += al.size;
    }
    // No two allocations overlap.
    for (size_t i = 0; i < all.size(); i++) {
        for (size_t j = i + 1; j < all.size(); j++) {
            if (all[i].memory == all[j].memory) {
                bool disjoint = all[i].offset + all[i].size <= all[j].offset ||
                                all[j].offset + all[j].size <= all[i].offset;
                EXPECT_TRUE(disjoint) << i << " and " << j;
            }
        }
    }
    ArenaStats s = arena_->stats();
    EXPECT_EQ(s.allocation_count, all.size());
    EXPECT_EQ(s.allocated_bytes, total);
    EXPECT_EQ(s.block_count, 1u);
    EXPECT_EQ(s.block_bytes, arena_->config().minimum_block_size);
    EXPECT_EQ(s.device_allocations_made, 1u);
    EXPECT_EQ(s.cached_bytes, 0u);
    EXPECT_TRUE(hvk_test::errors().empty()) << hvk_test::last_error();
}

TEST_F(RealArena, MappedWritesReachTheGpuAndBack) {
    make();
    const uint64_t n = 100003;  // odd size
    ArenaAllocation up, down, pad;
    bound(64, MemoryUsage::Upload, &pad);  // so that `up` does not start at offset 0
    VkBuffer src = bound(n, MemoryUsage::Upload, &up);
    VkBuffer dst = bound(n, MemoryUsage::Readback, &down);
    ASSERT_NE(up.mapped, nullptr);
    ASSERT_NE(down.mapped, nullptr);
    EXPECT_NE(up.offset, 0u);
    auto *p = static_cast<uint8_t *>(up.mapped);
    for (uint64_t i = 0; i < n; i++) {
        p[i] = static_cast<uint8_t>(i * 7 + 3);
    }
    std::memset(down.mapped, 0, n);
    ASSERT_EQ(arena_->flush(nullptr, up, 0, VK_WHOLE_SIZE), 0);
    gpu_copy(src, dst, n);
    ASSERT_EQ(arena_->invalidate(nullptr, down, 0, VK_WHOLE_SIZE), 0);
    auto *q = static_cast<const uint8_t *>(down.mapped);
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        bad += q[i] != static_cast<uint8_t>(i * 7 + 3);
    }
    EXPECT_EQ(bad, 0u);
    // The pad allocation was not touched by the write into `up`.
    EXPECT_TRUE(hvk_test::errors().empty()) << hvk_test::last_error();
}

TEST_F(RealArena, UniformBuffers) {
    make();
    VkMemoryRequirements r;
    VkBuffer b = buffer(256, &r, VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT);
    ArenaAllocation al;
    ASSERT_EQ(arena_->allocate(nullptr, r, MemoryUsage::Uniform, &al), 0);
    EXPECT_EQ(al.offset % d_->properties.limits.minUniformBufferOffsetAlignment, 0u);
    ASSERT_EQ(d_->vk.vkBindBufferMemory(d_->device, b, al.memory, al.offset), VK_SUCCESS);
    ASSERT_NE(al.mapped, nullptr);
    std::memset(al.mapped, 0xab, 256);
    arena_->free(al);
}

TEST_F(RealArena, StatsFreeCachesAndTrim) {
    ArenaConfig config;
    config.minimum_block_size = 1 * MiB;
    make(config);
    ArenaAllocation a, b, c;
    bound(1000, MemoryUsage::DeviceLocal, &a);
    bound(3 * MiB, MemoryUsage::DeviceLocal, &b);  // larger than the minimum: a block of its own size
    ArenaStats s = arena_->stats();
    EXPECT_EQ(s.block_count, 2u);
    EXPECT_EQ(s.block_bytes, 4 * MiB);
    EXPECT_EQ(s.allocation_count, 2u);
    EXPECT_EQ(s.allocated_bytes, a.size + b.size);
    EXPECT_NE(a.memory, b.memory);

    arena_->free(b);  // its block stays cached
    s = arena_->stats();
    EXPECT_EQ(s.block_count, 2u);
    EXPECT_EQ(s.cached_bytes, 3 * MiB);
    EXPECT_EQ(s.allocation_count, 1u);
    // The cached block is reused: no new vkAllocateMemory.
    bound(2 * MiB, MemoryUsage::DeviceLocal, &c);
    EXPECT_EQ(c.memory, b.memory);
    EXPECT_EQ(arena_->stats().device_allocations_made, 2u);
    EXPECT_EQ(arena_->stats().cached_bytes, 0u);
    arena_->free(c);

    arena_->trim(4 * MiB);  // keeps the 3 MiB empty block
    EXPECT_EQ(arena_->stats().block_count, 2u);
    arena_->trim(2 * MiB);  // frees it
    s = arena_->stats();
    EXPECT_EQ(s.block_count, 1u);
    EXPECT_EQ(s.block_bytes, 1 * MiB);
    EXPECT_EQ(s.cached_bytes, 0u);
    EXPECT_EQ(s.peak_block_bytes, 4 * MiB);
    arena_->trim(0);  // the block in use stays
    EXPECT_EQ(arena_->stats().block_count, 1u);
    arena_->free(a);
    arena_->trim(0);
    s = arena_->stats();
    EXPECT_EQ(s.block_count, 0u);
    EXPECT_EQ(s.block_bytes, 0u);
    EXPECT_EQ(s.allocation_count, 0u);
    EXPECT_EQ(s.allocated_bytes, 0u);
    EXPECT_EQ(s.device_allocations_made, 2u);
}

TEST_F(RealArena, ManyAllocationsFewDeviceAllocations) {
    make();
    std::vector<ArenaAllocation> all(2000);
    for (size_t i = 0; i < all.size(); i++) {
        bound(1 + (i * 7919) % 20000, MemoryUsage::DeviceLocal, &all[i]);
    }
    EXPECT_LE(arena_->stats().device_allocations_made, 2u);
    for (size_t i = 0; i < all.size(); i += 2) {
        arena_->free(all[i]);
    }
    for (size_t i = 0; i < all.size(); i += 2) {
        bound(1 + (i * 104729) % 20000, MemoryUsage::DeviceLocal, &all[i]);
    }
    EXPECT_LE(arena_->stats().device_allocations_made, 2u);
    for (const ArenaAllocation &al : all) {
        arena_->free(al);
    }
    EXPECT_EQ(arena_->stats().allocation_count, 0u);
    EXPECT_TRUE(hvk_test::errors().empty()) << hvk_test::last_error();
}

TEST_F(RealArena, MaximumPoolSize) {
    ArenaConfig config;
    config.maximum_pool_size = 4 * MiB;
    config.minimum_block_size = 1 * MiB;
    make(config);
    ArenaAllocation a, b, c;
    bound(3 * MiB, MemoryUsage::DeviceLocal, &a);
    VkMemoryRequirements r;
    buffer(2 * MiB, &r);
    EXPECT_EQ(arena_->allocate(nullptr, r, MemoryUsage::DeviceLocal, &b), halide_error_code_device_malloc_failed);
    EXPECT_TRUE(hvk_test::error_contains("maximum pool size")) << hvk_test::last_error();
    EXPECT_TRUE(hvk_test::error_contains("HL_VK_ALLOC_CONFIG"));
    EXPECT_EQ(b.memory, VK_NULL_HANDLE);
    // The arena keeps working within the limit.
    bound(1 * MiB, MemoryUsage::DeviceLocal, &c);
    EXPECT_EQ(arena_->stats().block_bytes, 4 * MiB);
    // Freeing makes room again (the cached block is given back).
    arena_->free(a);
    hvk_test::clear_errors();
    bound(2 * MiB, MemoryUsage::DeviceLocal, &b);
    EXPECT_LE(arena_->stats().block_bytes, 4 * MiB);
    EXPECT_TRUE(hvk_test::errors().empty()) << hvk_test::last_error();
}

TEST_F(RealArena, MaximumBlockSizeAndCount) {
    ArenaConfig config;
    config.minimum_block_size = 1 * MiB;
    config.maximum_block_size = 2 * MiB;
    config.maximum_block_count = 2;
    make(config);
    VkMemoryRequirements r;
    buffer(3 * MiB, &r);
    ArenaAllocation a, b, c, x;
    EXPECT_EQ(arena_->allocate(nullptr, r, MemoryUsage::DeviceLocal, &x), halide_error_code_device_malloc_failed);
    EXPECT_TRUE(hvk_test::error_contains("maximum block size")) << hvk_test::last_error();
    bound(2 * MiB, MemoryUsage::DeviceLocal, &a);
    bound(2 * MiB, MemoryUsage::DeviceLocal, &b);
    buffer(1000, &r);
    EXPECT_EQ(arena_->allocate(nullptr, r, MemoryUsage::DeviceLocal, &x), halide_error_code_device_malloc_failed);
    EXPECT_TRUE(hvk_test::error_contains("maximum block count")) << hvk_test::last_error();
    arena_->free(a);
    bound(1000, MemoryUsage::DeviceLocal, &c);  // reuses the freed block
    EXPECT_EQ(c.memory, a.memory);
    EXPECT_EQ(arena_->stats().block_count, 2u);
}

TEST_F(RealArena, OutOfDeviceMemoryIsAnErrorAndTheArenaKeepsWorking) {
    make();
    VkMemoryRequirements r{};
    r.size = d_->memory_properties.memoryHeaps[0].size + 1;  // more than the heap
    r.alignment = 64;
    r.memoryTypeBits = (1u << d_->memory_properties.memoryTypeCount) - 1;
    ArenaAllocation x;
    EXPECT_EQ(arena_->allocate(nullptr, r, MemoryUsage::DeviceLocal, &x), halide_error_code_device_malloc_failed);
    EXPECT_FALSE(hvk_test::errors().empty());
    ArenaAllocation ok;
    bound(4096, MemoryUsage::DeviceLocal, &ok);
}

}  // namespace
