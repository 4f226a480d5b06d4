// The region table and the halide_vulkan_* buffer API on the default context
// (lavapipe, validation on): Owned, Wrapped and CropAlias regions, crops of
// crops, slices, negative strides, odd sizes, lifetime rules, the reuse
// cache, device release and every bad input. Device contents are checked
// through map_region (lavapipe's memory is host visible) and through the
// copy entry points.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "vulkan/memory/arena.h"
#include "vulkan/context/context_scope.h"
#include "generic/device_interface_impl.h"
#include "halide_vk_runtime.h"
#include "vulkan/util/host_alloc.h"
#include "memory_test_util.h"
#include "vulkan/memory/region_table.h"
#include "vulkan/memory/staging.h"
#include "vulkan/submit/submitter.h"
#include "test_env.h"
#include "test_vk_buffer.h"

namespace {

using memtest::Buf;
using memtest::f32;
using memtest::i32;
using memtest::u16;
using memtest::u8;
using memtest::vk;

// Runs f(Device*) with the context acquired and the device locked. Never
// call the C API from inside (the default acquire is not reentrant).
template <typename F>
void with_device(F f) {
    hvk::ContextScope scope(nullptr, "test");
    ASSERT_TRUE(scope.ok());
    ASSERT_NE(scope.device(), nullptr);
    std::lock_guard<std::recursive_mutex> lock(scope.device()->mutex);
    f(scope.device());
}

hvk::RegionStats stats() {
    hvk::RegionStats s{};
    with_device([&](hvk::Device *d) { s = hvk::region_stats(d); });
    return s;
}

uint64_t vk_allocations() {
    uint64_t n = 0;
    with_device([&](hvk::Device *d) {
        if (d->arena != nullptr) {
            n = d->arena->stats().device_allocations_made;
        }
    });
    return n;
}

// The bytes of b's device span, read through the mapping.
std::vector<uint8_t> read_device(const halide_buffer_t &b) {
    std::vector<uint8_t> out;
    with_device([&](hvk::Device *d) {
        hvk::MappedRegion m{};
        ASSERT_EQ(hvk::map_region(nullptr, d, &b, "test", &m), 0);
        const size_t n = b.size_in_bytes();
        ASSERT_LE(n, m.size);
        if ((m.memory_flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) == 0) {
            d->arena->invalidate(nullptr, *m.allocation, m.allocation_offset, n);
        }
        out.assign(m.ptr, m.ptr + n);
        hvk::unmap_region(d, m);
    });
    return out;
}

void write_device(const halide_buffer_t &b, const std::vector<uint8_t> &bytes) {
    with_device([&](hvk::Device *d) {
        hvk::MappedRegion m{};
        ASSERT_EQ(hvk::map_region(nullptr, d, &b, "test", &m), 0);
        ASSERT_LE(bytes.size(), m.size);
        std::memcpy(m.ptr, bytes.data(), bytes.size());
        if ((m.memory_flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) == 0) {
            d->arena->flush(nullptr, *m.allocation, m.allocation_offset, bytes.size());
        }
    });
}

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; i++) {
        v[i] = uint8_t((i * 37 + seed * 11 + (i >> 7)) & 0xFF);
    }
    return v;
}

using hvk_test::TestVkBuffer;

class Regions : public ::testing::Test {
protected:
    void SetUp() override {
        hvk_test::clear_errors();
        halide_reuse_device_allocations(nullptr, true);
    }
    void TearDown() override { halide_reuse_device_allocations(nullptr, true); }
};

uint32_t storage_alignment() {
    uint32_t a = 0;
    with_device([&](hvk::Device *d) { a = uint32_t(d->properties.limits.minStorageBufferOffsetAlignment); });
    return a;
}

// ------------------------------------------------------------------ Owned

TEST_F(Regions, OwnedMallocFree) {
    Buf a(f32(), {100, 3});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
    EXPECT_NE(a.b.device, 0u);
    EXPECT_EQ(a.b.device >> 56, 0xA7u) << "handles carry the tag byte, never a pointer";
    EXPECT_EQ(a.b.device_interface, vk());
    const uint64_t h = a.b.device;
    EXPECT_NE(halide_vulkan_get_vk_buffer(nullptr, &a.b), 0u);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &a.b), 0u);
    // Repeat on a big enough allocation: no-op.
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
    EXPECT_EQ(a.b.device, h);
    // Shrinking the shape keeps the allocation too.
    a.dims[1].extent = 2;
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
    EXPECT_EQ(a.b.device, h);
    a.dims[1].extent = 3;
    hvk::DeviceBufferView view{};
    with_device([&](hvk::Device *d) {
        ASSERT_EQ(hvk::resolve_device_buffer(nullptr, d, &a.b, "test", &view), 0);
        EXPECT_EQ(view.device, d);
    });
    EXPECT_EQ(view.kind, hvk::RegionKind::Owned);
    EXPECT_EQ(view.offset, 0u);
    EXPECT_GE(view.size, 1200u);
    EXPECT_EQ(uintptr_t(view.buffer), halide_vulkan_get_vk_buffer(nullptr, &a.b));

    ASSERT_EQ(halide_vulkan_device_free(nullptr, &a.b), 0);
    EXPECT_EQ(a.b.device, 0u);
    EXPECT_EQ(a.b.device_interface, nullptr);
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &a.b), 0) << "second free of the same struct is a no-op";
    EXPECT_TRUE(hvk_test::errors().empty());
}

TEST_F(Regions, MallocGrowsAnOwnedBuffer) {
    Buf a(u8(), {64});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
    const uint64_t small = a.b.device;
    const hvk::RegionStats before = stats();
    a.dims[0].extent = 100000;
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
    EXPECT_NE(a.b.device, small);
    EXPECT_EQ(stats().owned_count, before.owned_count) << "the old region was released";
    EXPECT_EQ(read_device(a.b).size(), 100000u);
    ASSERT_EQ(halide_vulkan_device_free(nullptr, &a.b), 0);
}

TEST_F(Regions, OddSizesRoundTrip) {
    for (int n : {1, 3, 13, 61, 100, 257, 1000003}) {
        SCOPED_TRACE(n);
        Buf a(u8(), {n});
        ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
        const std::vector<uint8_t> p = pattern(size_t(n), uint32_t(n));
        write_device(a.b, p);
        EXPECT_EQ(read_device(a.b), p);
        // Through the copy entry points as well.
        std::memcpy(a.storage.data(), p.data(), p.size());
        std::vector<uint8_t> q = pattern(size_t(n), uint32_t(n) + 1);
        std::memcpy(a.storage.data(), q.data(), q.size());
        a.b.set_host_dirty(true);
        ASSERT_EQ(halide_copy_to_device(nullptr, &a.b, vk()), 0);
        EXPECT_EQ(read_device(a.b), q);
        std::memset(a.storage.data(), 0, a.storage.size());
        a.b.set_device_dirty(true);
        ASSERT_EQ(halide_copy_to_host(nullptr, &a.b), 0);
        EXPECT_EQ(a.storage, q);
        ASSERT_EQ(halide_vulkan_device_free(nullptr, &a.b), 0);
    }
    EXPECT_TRUE(hvk_test::errors().empty());
}

// ------------------------------------------------------------------ crops

TEST_F(Regions, CropsOfCropsAccumulateOffsets) {
    Buf root(i32(), {1000});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &root.b), 0);
    const std::vector<uint8_t> p = pattern(4000, 5);
    write_device(root.b, p);
    const uintptr_t vb = halide_vulkan_get_vk_buffer(nullptr, &root.b);

    Buf c1(i32(), {1});
    c1.crop_from(root, {100}, {500});
    ASSERT_EQ(halide_vulkan_device_crop(nullptr, &root.b, &c1.b), 0);
    EXPECT_EQ(c1.b.device_interface, vk());
    EXPECT_EQ(halide_vulkan_get_vk_buffer(nullptr, &c1.b), vb);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &c1.b), 400u);
    // device_malloc on a crop: a no-op when it fits, never a reallocation.
    const uint64_t c1_handle = c1.b.device;
    EXPECT_EQ(halide_vulkan_device_malloc(nullptr, &c1.b), 0);
    EXPECT_EQ(c1.b.device, c1_handle);
    c1.dims[0].extent = 901;  // one element past the root's end
    EXPECT_EQ(halide_vulkan_device_malloc(nullptr, &c1.b), -16);
    EXPECT_EQ(c1.b.device, c1_handle);
    c1.dims[0].extent = 500;
    hvk_test::clear_errors();

    Buf c2(i32(), {1});
    c2.crop_from(c1, {150}, {100});
    ASSERT_EQ(halide_vulkan_device_crop(nullptr, &c1.b, &c2.b), 0);
    EXPECT_EQ(halide_vulkan_get_vk_buffer(nullptr, &c2.b), vb);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &c2.b), 600u) << "crop of a crop adds both offsets";
    EXPECT_EQ(read_device(c2.b), std::vector<uint8_t>(p.begin() + 600, p.begin() + 1000));

    // Crop of a crop of a crop at an offset that is not a multiple of the
    // storage-buffer alignment (1 element = 4 bytes).
    Buf c3(i32(), {1});
    c3.crop_from(c2, {151}, {7});
    ASSERT_EQ(halide_vulkan_device_crop(nullptr, &c2.b, &c3.b), 0);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &c3.b), 604u);
    EXPECT_NE(604u % storage_alignment(), 0u);
    EXPECT_EQ(read_device(c3.b), std::vector<uint8_t>(p.begin() + 604, p.begin() + 632));
    hvk::DeviceBufferView view{};
    with_device([&](hvk::Device *d) { ASSERT_EQ(hvk::resolve_device_buffer(nullptr, d, &c3.b, "test", &view), 0); });
    EXPECT_EQ(view.kind, hvk::RegionKind::CropAlias);
    EXPECT_EQ(view.offset, 604u);

    // Writes through a crop land in the root.
    std::vector<uint8_t> w(28, 0xEE);
    write_device(c3.b, w);
    std::vector<uint8_t> expect = p;
    std::fill(expect.begin() + 604, expect.begin() + 632, 0xEE);
    EXPECT_EQ(read_device(root.b), expect);

    // Releasing in any order; the device_free of a crop is a release_crop.
    EXPECT_EQ(halide_vulkan_device_release_crop(nullptr, &c2.b), 0);
    EXPECT_EQ(c2.b.device, 0u);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &c3.b), 604u) << "c3 does not depend on c2's handle";
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &c3.b), 0);
    EXPECT_EQ(halide_vulkan_device_release_crop(nullptr, &c1.b), 0);
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &root.b), 0);
    EXPECT_TRUE(hvk_test::errors().empty());
}

TEST_F(Regions, AlignedCrop2D) {
    const uint32_t align = storage_alignment();
    Buf root(u8(), {256, 64});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &root.b), 0);
    Buf c(u8(), {1});
    // Row 2, column `align`: byte offset 2*256 + align, a multiple of align.
    c.crop_from(root, {int(align), 2}, {32, 10});
    ASSERT_EQ(halide_vulkan_device_crop(nullptr, &root.b, &c.b), 0);
    const uint64_t off = halide_vulkan_get_vk_crop_offset(nullptr, &c.b);
    EXPECT_EQ(off, 512u + align);
    EXPECT_EQ(off % align, 0u);
    EXPECT_EQ(halide_vulkan_device_release_crop(nullptr, &c.b), 0);
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &root.b), 0);
}

TEST_F(Regions, Slices) {
    Buf root(i32(), {16, 8});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &root.b), 0);
    const std::vector<uint8_t> p = pattern(16 * 8 * 4, 9);
    write_device(root.b, p);

    Buf row(i32(), {16});  // slice of dimension 1 at y = 3
    ASSERT_EQ(halide_vulkan_device_slice(nullptr, &root.b, 1, 3, &row.b), 0);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &row.b), 3u * 16 * 4);
    EXPECT_EQ(read_device(row.b), std::vector<uint8_t>(p.begin() + 192, p.begin() + 256));

    Buf col(i32(), {8}, {16});  // slice of dimension 0 at x = 5: stride 16
    ASSERT_EQ(halide_vulkan_device_slice(nullptr, &root.b, 0, 5, &col.b), 0);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &col.b), 20u);

    // A slice of a crop.
    Buf crop(i32(), {1});
    crop.crop_from(root, {4, 2}, {8, 4});
    ASSERT_EQ(halide_vulkan_device_crop(nullptr, &root.b, &crop.b), 0);
    Buf crow(i32(), {8}, {1}, {4});
    ASSERT_EQ(halide_vulkan_device_slice(nullptr, &crop.b, 1, 4, &crow.b), 0);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &crow.b), uint64_t(4 * 16 + 4) * 4);

    // Out of range positions and dimensions.
    Buf bad(i32(), {16});
    EXPECT_EQ(halide_vulkan_device_slice(nullptr, &root.b, 1, 8, &bad.b), -41);
    EXPECT_EQ(halide_vulkan_device_slice(nullptr, &root.b, 1, -1, &bad.b), -41);
    EXPECT_EQ(halide_vulkan_device_slice(nullptr, &root.b, 2, 0, &bad.b), -41);
    EXPECT_EQ(halide_vulkan_device_slice(nullptr, &root.b, -1, 0, &bad.b), -41);
    EXPECT_EQ(bad.b.device, 0u);

    for (Buf *b : {&crow, &crop, &col, &row}) {
        EXPECT_EQ(halide_vulkan_device_release_crop(nullptr, &b->b), 0);
    }
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &root.b), 0);
}

TEST_F(Regions, NegativeStridesUseTheLowestByte) {
    // x runs backwards: element x sits at byte (9 - x) * 4 of the span.
    Buf root(i32(), {10}, {-1});
    ASSERT_EQ(root.b.begin_offset(), -9);
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &root.b), 0);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &root.b), 0u);
    for (int x = 0; x < 10; x++) {
        reinterpret_cast<int32_t *>(root.b.host)[-x] = 100 + x;
    }
    root.b.set_host_dirty(true);
    ASSERT_EQ(halide_copy_to_device(nullptr, &root.b, vk()), 0);
    std::vector<uint8_t> dev = read_device(root.b);
    int32_t first;
    std::memcpy(&first, dev.data(), 4);
    EXPECT_EQ(first, 109) << "device byte 0 is the lowest byte of the span (x = 9)";

    // Crop x in [2, 5): its lowest byte is element 4, at byte 20 of the root.
    Buf c(i32(), {1});
    c.crop_from(root, {2}, {3});
    ASSERT_EQ(halide_vulkan_device_crop(nullptr, &root.b, &c.b), 0);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &c.b), 20u);
    std::vector<uint8_t> cd = read_device(c.b);
    ASSERT_EQ(cd.size(), 12u);
    int32_t v[3];
    std::memcpy(v, cd.data(), 12);
    EXPECT_EQ(v[0], 104);
    EXPECT_EQ(v[2], 102);

    // 2-D with rows reversed: row y at (3 - y) * 8 elements.
    Buf img(u16(), {8, 4}, {1, -8});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &img.b), 0);
    Buf rows(u16(), {1});
    rows.crop_from(img, {0, 1}, {8, 2});  // rows 1..2: lowest is row 2 -> byte (3-2)*16
    ASSERT_EQ(halide_vulkan_device_crop(nullptr, &img.b, &rows.b), 0);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &rows.b), 16u);
    Buf row3(u16(), {8});
    ASSERT_EQ(halide_vulkan_device_slice(nullptr, &img.b, 1, 3, &row3.b), 0);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &row3.b), 0u);

    for (Buf *b : {&row3, &rows, &c}) {
        EXPECT_EQ(halide_vulkan_device_release_crop(nullptr, &b->b), 0);
    }
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &img.b), 0);
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &root.b), 0);
    EXPECT_TRUE(hvk_test::errors().empty());
}

TEST_F(Regions, BadCrops) {
    Buf root(u8(), {64, 4});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &root.b), 0);
    Buf c(u8(), {1});
    c.crop_from(root, {60, 0}, {8, 1});  // x past the parent's box
    EXPECT_EQ(halide_vulkan_device_crop(nullptr, &root.b, &c.b), -41);
    EXPECT_TRUE(hvk_test::error_contains("not inside"));
    EXPECT_EQ(c.b.device, 0u);
    c.crop_from(root, {-1, 0}, {4, 1});  // before the parent
    EXPECT_EQ(halide_vulkan_device_crop(nullptr, &root.b, &c.b), -41);
    Buf one(u8(), {4});
    EXPECT_EQ(halide_vulkan_device_crop(nullptr, &root.b, &one.b), -41) << "dimension mismatch";
    Buf wide(i32(), {1});
    wide.crop_from(root, {0, 0}, {4, 1});
    wide.b.type = i32();
    EXPECT_EQ(halide_vulkan_device_crop(nullptr, &root.b, &wide.b), -41) << "element size mismatch";
    c.crop_from(root, {0, 0}, {4, 1});
    ASSERT_EQ(halide_vulkan_device_crop(nullptr, &root.b, &c.b), 0);
    EXPECT_EQ(halide_vulkan_device_crop(nullptr, &root.b, &c.b), -41) << "dst already has a device allocation";
    Buf nodev(u8(), {64, 4});
    Buf c2(u8(), {1});
    c2.crop_from(nodev, {0, 0}, {4, 1});
    EXPECT_EQ(halide_vulkan_device_crop(nullptr, &nodev.b, &c2.b), -41) << "source without device memory";
    EXPECT_EQ(halide_vulkan_device_crop(nullptr, nullptr, &c2.b), -38);
    EXPECT_EQ(halide_vulkan_device_release_crop(nullptr, &c.b), 0);
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &root.b), 0);
}

TEST_F(Regions, RootFreedBeforeItsCrops) {
    Buf root(u8(), {4096});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &root.b), 0);
    const std::vector<uint8_t> p = pattern(4096, 3);
    write_device(root.b, p);
    const uintptr_t vb = halide_vulkan_get_vk_buffer(nullptr, &root.b);
    Buf a(u8(), {1}), b(u8(), {1});
    a.crop_from(root, {100}, {1000});
    b.crop_from(root, {3000}, {1000});
    ASSERT_EQ(halide_vulkan_device_crop(nullptr, &root.b, &a.b), 0);
    ASSERT_EQ(halide_vulkan_device_crop(nullptr, &root.b, &b.b), 0);
    const hvk::RegionStats s0 = stats();

    halide_buffer_t stale = root.b;  // shallow copy
    ASSERT_EQ(halide_vulkan_device_free(nullptr, &root.b), 0);
    EXPECT_EQ(root.b.device, 0u);
    // The root's handle is dead at once...
    hvk_test::clear_errors();
    EXPECT_EQ(halide_vulkan_get_vk_buffer(nullptr, &stale), 0u);
    EXPECT_TRUE(hvk_test::error_contains("not a live halide-vk-runtime allocation"));
    // ...but its memory lives while the crops do.
    EXPECT_EQ(stats().owned_count, s0.owned_count);
    EXPECT_EQ(halide_vulkan_get_vk_buffer(nullptr, &a.b), vb);
    EXPECT_EQ(read_device(a.b), std::vector<uint8_t>(p.begin() + 100, p.begin() + 1100));
    // A fresh allocation must not get the memory the crops still use.
    Buf other(u8(), {4096});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &other.b), 0);
    EXPECT_NE(halide_vulkan_get_vk_buffer(nullptr, &other.b), vb);
    write_device(other.b, std::vector<uint8_t>(4096, 0x55));
    EXPECT_EQ(read_device(b.b), std::vector<uint8_t>(p.begin() + 3000, p.begin() + 4000));

    EXPECT_EQ(halide_vulkan_device_release_crop(nullptr, &a.b), 0);
    EXPECT_EQ(stats().owned_count, s0.owned_count + 1);
    EXPECT_EQ(halide_vulkan_device_release_crop(nullptr, &b.b), 0);
    EXPECT_EQ(stats().owned_count, s0.owned_count) << "the last crop released the root's memory";
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &other.b), 0);
}

// ---------------------------------------------------------------- wrapped

TEST_F(Regions, WrapTestCreatedBufferAtOffset) {
    const uint64_t live_before = stats().live_entries;
    {
        TestVkBuffer tb(4096);
        Buf w(f32(), {100});
        ASSERT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &w.b, tb.handle(), 256), 0);
        EXPECT_EQ(w.b.device_interface, vk());
        EXPECT_EQ(halide_vulkan_get_vk_buffer(nullptr, &w.b), uintptr_t(tb.buffer));
        EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &w.b), 256u);

        // map() of a wrapped region is rejected with a clear error.
        hvk_test::clear_errors();
        with_device([&](hvk::Device *d) {
            hvk::MappedRegion m{};
            EXPECT_EQ(hvk::map_region(nullptr, d, &w.b, "test", &m), -22);
            EXPECT_NE(hvk::try_map_region(nullptr, d, &w.b, &m), 0);
        });
        EXPECT_TRUE(hvk_test::error_contains("wrapped"));

        // Data goes to the caller's VkBuffer at the offset.
        for (int i = 0; i < 100; i++) {
            reinterpret_cast<float *>(w.b.host)[i] = float(i) * 0.5f;
        }
        w.b.set_host_dirty(true);
        ASSERT_EQ(halide_copy_to_device(nullptr, &w.b, vk()), 0);
        ASSERT_EQ(halide_device_sync(nullptr, &w.b), 0);  // copies may be queued, not finished
        EXPECT_EQ(std::memcmp(tb.map + 256, w.b.host, 400), 0);
        EXPECT_EQ(tb.map[255], 0);

        // Crops of it, and crops of those, at aligned and unaligned offsets.
        const uint32_t align = storage_alignment();
        Buf c1(f32(), {1});
        c1.crop_from(w, {int(align)}, {50});  // 4*align bytes: aligned
        ASSERT_EQ(halide_vulkan_device_crop(nullptr, &w.b, &c1.b), 0);
        EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &c1.b), 256u + 4 * align);
        Buf c2(f32(), {1});
        c2.crop_from(c1, {int(align) + 3}, {10});  // +12 bytes: not aligned
        ASSERT_EQ(halide_vulkan_device_crop(nullptr, &c1.b, &c2.b), 0);
        EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &c2.b), 256u + 4 * align + 12);
        EXPECT_EQ(halide_vulkan_get_vk_buffer(nullptr, &c2.b), uintptr_t(tb.buffer));
        with_device([&](hvk::Device *d) {
            hvk::MappedRegion m{};
            EXPECT_EQ(hvk::map_region(nullptr, d, &c2.b, "test", &m), -22) << "crops of wrapped regions too";
        });
        // c2's host aliases w's storage: clear that part and read it back.
        ASSERT_EQ(c2.b.host, w.b.host + (align + 3) * 4);
        std::memset(c2.b.host, 0, 40);
        c2.b.set_device_dirty(true);
        ASSERT_EQ(halide_copy_to_host(nullptr, &c2.b), 0);
        for (int i = 0; i < 10; i++) {
            EXPECT_EQ(reinterpret_cast<float *>(c2.b.host)[i], float(int(align) + 3 + i) * 0.5f);
        }

        // Detach with live crops fails; the buffer stays wrapped.
        hvk_test::clear_errors();
        EXPECT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &w.b), -33);
        EXPECT_TRUE(hvk_test::error_contains("crop"));
        EXPECT_NE(w.b.device, 0u);
        EXPECT_EQ(halide_vulkan_device_free(nullptr, &w.b), -18) << "nor may it be freed";
        // Detaching a crop of a wrapped buffer releases just the crop.
        EXPECT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &c2.b), 0);
        EXPECT_EQ(c2.b.device, 0u);
        EXPECT_EQ(halide_vulkan_device_release_crop(nullptr, &c1.b), 0);

        // device_malloc on a wrapped buffer: fine if big enough, never reallocated.
        EXPECT_EQ(halide_vulkan_device_malloc(nullptr, &w.b), 0);
        w.dims[0].extent = 101;
        EXPECT_EQ(halide_vulkan_device_malloc(nullptr, &w.b), -16);
        w.dims[0].extent = 100;

        ASSERT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &w.b), 0);
        EXPECT_EQ(w.b.device, 0u);
        EXPECT_EQ(w.b.device_interface, nullptr);

        // Free of a wrapped buffer frees metadata only: the VkBuffer stays usable.
        Buf w2(u8(), {4096});
        ASSERT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &w2.b, tb.handle(), 0), 0);
        ASSERT_EQ(halide_vulkan_device_free(nullptr, &w2.b), 0);
        ASSERT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &w2.b, tb.handle(), 0), 0);
        w2.fill(4);
        w2.b.set_host_dirty(true);
        ASSERT_EQ(halide_copy_to_device(nullptr, &w2.b, vk()), 0);
        ASSERT_EQ(halide_device_sync(nullptr, &w2.b), 0);
        EXPECT_EQ(std::memcmp(tb.map, w2.storage.data(), 4096), 0);
        ASSERT_EQ(halide_device_detach_native(nullptr, &w2.b), 0);
        EXPECT_EQ(stats().live_entries, live_before);
        // ~TestVkBuffer destroys the caller's buffer itself: the validation
        // listener fails the test if anything still used it.
    }
    EXPECT_EQ(stats().live_entries, live_before);
}

TEST_F(Regions, WrapErrors) {
    TestVkBuffer tb(1024);
    Buf w(u8(), {1000});
    EXPECT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &w.b, 0, 0), -32) << "handle 0";
    EXPECT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &w.b, tb.handle(), 25), -32) << "1000 bytes at 25 > 1024";
    EXPECT_TRUE(hvk_test::error_contains("past"));
    EXPECT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &w.b, tb.handle(), UINT64_MAX - 10), -32);
    EXPECT_EQ(w.b.device, 0u);
    EXPECT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, nullptr, tb.handle(), 0), -38);
    ASSERT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &w.b, tb.handle(), 24), 0);
    EXPECT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &w.b, tb.handle(), 0), -32) << "already has a device allocation";

    // detach: not wrapped -> -33; not Vulkan -> -42.
    Buf owned(u8(), {16});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &owned.b), 0);
    EXPECT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &owned.b), -33);
    EXPECT_NE(owned.b.device, 0u);
    Buf oc(u8(), {1});
    oc.crop_from(owned, {4}, {4});
    ASSERT_EQ(halide_vulkan_device_crop(nullptr, &owned.b, &oc.b), 0);
    EXPECT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &oc.b), -33) << "crop of an owned buffer";
    halide_device_interface_t fake = *vk();
    const halide_device_interface_t *saved = owned.b.device_interface;
    owned.b.device_interface = &fake;
    EXPECT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &owned.b), -42);
    owned.b.device_interface = saved;
    EXPECT_EQ(halide_vulkan_device_release_crop(nullptr, &oc.b), 0);
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &owned.b), 0);
    EXPECT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &w.b), 0);
    EXPECT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &w.b), 0) << "nothing attached: no-op";
}

TEST_F(Regions, WrapOfARuntimeOwnedBufferKeepsItAlive) {
    Buf owner(f32(), {64, 32});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &owner.b), 0);
    const std::vector<uint8_t> p = pattern(64 * 32 * 4, 21);
    write_device(owner.b, p);
    const uintptr_t vb = halide_vulkan_get_vk_buffer(nullptr, &owner.b);
    const hvk::RegionStats s0 = stats();

    // Exact bound for our own VkBuffers: 8192 bytes.
    Buf big(f32(), {2045});
    EXPECT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &big.b, vb, 16), -32);
    Buf v1(f32(), {2044});
    ASSERT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &v1.b, vb, 16), 0);
    EXPECT_EQ(halide_vulkan_get_vk_buffer(nullptr, &v1.b), vb);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &v1.b), 16u);
    // A 2-D view with a row stride, as Halide's wrap fixture does.
    Buf v2(f32(), {8, 5}, {1, 64});
    ASSERT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &v2.b, vb, 16), 0);

    ASSERT_EQ(halide_vulkan_device_free(nullptr, &owner.b), 0);
    EXPECT_EQ(stats().owned_count, s0.owned_count) << "the wraps keep the owner's memory";
    v1.b.set_device_dirty(true);
    ASSERT_EQ(halide_copy_to_host(nullptr, &v1.b), 0);
    EXPECT_EQ(std::memcmp(v1.storage.data(), p.data() + 16, 2044 * 4), 0);
    // Fresh allocations do not get the wrapped memory.
    Buf other(f32(), {64, 32});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &other.b), 0);
    EXPECT_NE(halide_vulkan_get_vk_buffer(nullptr, &other.b), vb);

    ASSERT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &v1.b), 0);
    EXPECT_EQ(stats().owned_count, s0.owned_count + 1);
    ASSERT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &v2.b), 0);
    EXPECT_EQ(stats().owned_count, s0.owned_count) << "last wrap detached: owner released";
    // Wrapping a freed (cached) runtime VkBuffer is refused.
    Buf late(f32(), {4});
    if (stats().cached_count > 0 && halide_vulkan_get_vk_buffer(nullptr, &other.b) != vb) {
        EXPECT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &late.b, vb, 0), -32);
    }
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &other.b), 0);
}

// ------------------------------------------------------------------ reuse

TEST_F(Regions, ReuseOnWarmPairCreatesNothing) {
    Buf a(f32(), {254, 128});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
    ASSERT_EQ(halide_vulkan_device_free(nullptr, &a.b), 0);
    const hvk::RegionStats s0 = stats();
    const uint64_t allocs0 = vk_allocations();
    const uint64_t host0 = hvk::host_alloc_stats().total_allocations;
    for (int i = 0; i < 100; i++) {
        ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
        ASSERT_EQ(halide_vulkan_device_free(nullptr, &a.b), 0);
    }
    const hvk::RegionStats s1 = stats();
    EXPECT_EQ(s1.vk_buffers_created, s0.vk_buffers_created) << "no VkBuffer created when warm";
    EXPECT_EQ(vk_allocations(), allocs0) << "no vkAllocateMemory when warm";
    EXPECT_EQ(hvk::host_alloc_stats().total_allocations, host0) << "no host allocation when warm";
    EXPECT_GE(s1.cached_count, 1u);

    halide_vk_memory_stats ms{};
    ASSERT_EQ(halide_vk_get_memory_stats(nullptr, &ms), 0);
    EXPECT_GE(ms.cached_free_bytes, 254u * 128 * 4);
    EXPECT_GE(ms.block_count, 1u);
    EXPECT_GE(ms.block_bytes, ms.cached_free_bytes);
    EXPECT_GE(ms.peak_block_bytes, ms.block_bytes);
    EXPECT_EQ(halide_vk_get_memory_stats(nullptr, nullptr), -1);
}

TEST_F(Regions, ReuseOffReturnsMemory) {
    Buf a(u8(), {300000});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
    ASSERT_EQ(halide_vulkan_device_free(nullptr, &a.b), 0);
    EXPECT_GE(stats().cached_count, 1u);
    // Turning reuse off drains the cache through the registered pool.
    EXPECT_EQ(halide_reuse_device_allocations(nullptr, false), 0);
    EXPECT_EQ(stats().cached_count, 0u);
    halide_vk_memory_stats ms{};
    ASSERT_EQ(halide_vk_get_memory_stats(nullptr, &ms), 0);
    EXPECT_EQ(ms.cached_free_bytes, 0u);
    EXPECT_EQ(ms.allocation_count, 0u);
    const uint64_t created = stats().vk_buffers_created;
    const uint64_t destroyed = stats().vk_buffers_destroyed;
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
    ASSERT_EQ(halide_vulkan_device_free(nullptr, &a.b), 0);
    EXPECT_EQ(stats().vk_buffers_created, created + 1);
    EXPECT_EQ(stats().vk_buffers_destroyed, destroyed + 1);
    EXPECT_EQ(stats().cached_count, 0u);
    ASSERT_EQ(halide_vk_get_memory_stats(nullptr, &ms), 0);
    EXPECT_EQ(ms.allocated_bytes, 0u);
    halide_reuse_device_allocations(nullptr, true);
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
    ASSERT_EQ(halide_vulkan_device_free(nullptr, &a.b), 0);
    EXPECT_EQ(stats().cached_count, 1u);
    EXPECT_EQ(halide_vulkan_release_unused_device_allocations(nullptr), 0);
    EXPECT_EQ(stats().cached_count, 0u);
}

TEST_F(Regions, CacheDoesNotHandOutBuffersTooSmallOrFarTooBig) {
    Buf big(u8(), {1 << 20});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &big.b), 0);
    const uintptr_t vb = halide_vulkan_get_vk_buffer(nullptr, &big.b);
    ASSERT_EQ(halide_vulkan_device_free(nullptr, &big.b), 0);
    Buf small(u8(), {1000});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &small.b), 0);
    EXPECT_NE(halide_vulkan_get_vk_buffer(nullptr, &small.b), vb);
    Buf bigger(u8(), {(1 << 20) + 1});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &bigger.b), 0);
    EXPECT_NE(halide_vulkan_get_vk_buffer(nullptr, &bigger.b), vb);
    Buf same(u8(), {(1 << 20) - 3});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &same.b), 0);
    EXPECT_EQ(halide_vulkan_get_vk_buffer(nullptr, &same.b), vb) << "a slightly smaller request reuses it";
    for (Buf *b : {&small, &bigger, &same}) {
        EXPECT_EQ(halide_vulkan_device_free(nullptr, &b->b), 0);
    }
}

// -------------------------------------------------------- bad handles/input

TEST_F(Regions, StaleShallowCopyIsAnErrorNotACrash) {
    Buf a(u8(), {128});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
    halide_buffer_t copy = a.b;
    ASSERT_EQ(halide_vulkan_device_free(nullptr, &a.b), 0);
    // The slot is reused by the next allocation; the copy stays stale.
    Buf b(u8(), {128});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &b.b), 0);
    hvk_test::clear_errors();
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &copy), -18);
    EXPECT_TRUE(hvk_test::error_contains("not a live halide-vk-runtime allocation"));
    EXPECT_NE(copy.device, 0u) << "left unchanged";
    EXPECT_EQ(halide_device_free(nullptr, &copy), -18);
    Buf c(u8(), {1});
    c.crop_from(a, {0}, {8});
    EXPECT_EQ(halide_vulkan_device_crop(nullptr, &copy, &c.b), -41);
    EXPECT_EQ(halide_vulkan_device_malloc(nullptr, &copy), -16);
    EXPECT_EQ(halide_vulkan_get_vk_buffer(nullptr, &copy), 0u);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &copy), 0u);
    EXPECT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &copy), -33);
    with_device([&](hvk::Device *d) {
        hvk::DeviceBufferView v{};
        EXPECT_EQ(hvk::resolve_device_buffer(nullptr, d, &copy, "test", &v), -22);
    });
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &b.b), 0);
}

TEST_F(Regions, ForeignDeviceValues) {
    for (uint64_t bogus : {uint64_t(0x12345678), uint64_t(0x7fff12345678), uint64_t(0xA7FFFFFFFFFFFFFF),
                           uint64_t(0xA700000001000001)}) {
        SCOPED_TRACE(bogus);
        Buf a(u8(), {16});
        a.b.device = bogus;
        a.b.device_interface = vk();
        hvk_test::clear_errors();
        EXPECT_EQ(halide_vulkan_device_free(nullptr, &a.b), -18);
        EXPECT_TRUE(hvk_test::error_contains("is not a live halide-vk-runtime allocation"));
        EXPECT_EQ(a.b.device, bogus);
        EXPECT_EQ(halide_vulkan_device_release_crop(nullptr, &a.b), -22);
        EXPECT_EQ(halide_vulkan_get_vk_buffer(nullptr, &a.b), 0u);
        EXPECT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), -16);
        EXPECT_EQ(halide_copy_to_host(nullptr, &a.b), 0) << "not device dirty: nothing to do";
        a.b.set_device_dirty(true);
        EXPECT_NE(halide_copy_to_host(nullptr, &a.b), 0);
        EXPECT_EQ(a.b.device, bogus);
    }
}

TEST_F(Regions, NullBuffersAndOverflow) {
    EXPECT_EQ(halide_vulkan_device_malloc(nullptr, nullptr), -38);
    EXPECT_EQ(halide_vulkan_device_free(nullptr, nullptr), -38);
    EXPECT_EQ(halide_vulkan_device_release_crop(nullptr, nullptr), -38);
    EXPECT_EQ(halide_vulkan_detach_vk_buffer(nullptr, nullptr), -38);
    EXPECT_EQ(halide_vulkan_get_vk_buffer(nullptr, nullptr), 0u);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, nullptr), 0u);
    Buf a(u8(), {1});
    EXPECT_EQ(halide_vulkan_device_slice(nullptr, &a.b, 0, 0, nullptr), -38);

    // Byte count beyond 64 bits: three dimensions of 2^31-1 x stride 2^31-1, 8-byte elements.
    Buf huge(memtest::u64(), {2147483647, 2147483647, 2147483647}, {2147483647, 2147483647, 2147483647}, {},
             /*with_host=*/false);
    hvk_test::clear_errors();
    EXPECT_EQ(halide_vulkan_device_malloc(nullptr, &huge.b), -16);
    EXPECT_TRUE(hvk_test::error_contains("overflows"));
    EXPECT_EQ(huge.b.device, 0u);
    EXPECT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &huge.b, 0x1000, 0), -32);
    EXPECT_EQ(halide_device_malloc(nullptr, &huge.b, vk()), -16);
    // Malformed shape: dimensions without a dim array.
    halide_buffer_t bad{};
    bad.type = memtest::u8();
    bad.dimensions = 2;
    EXPECT_EQ(halide_vulkan_device_malloc(nullptr, &bad), -16);
}

TEST_F(Regions, OutOfDeviceMemoryThenKeepsWorking) {
    // 2^46 bytes: more than any arena block or driver will give.
    Buf huge(u8(), {1 << 23, 1 << 23}, {1, 1 << 23}, {}, /*with_host=*/false);
    hvk_test::clear_errors();
    const int rc = halide_vulkan_device_malloc(nullptr, &huge.b);
    EXPECT_TRUE(rc == -16 || rc == -11) << rc;
    EXPECT_FALSE(hvk_test::errors().empty());
    EXPECT_EQ(huge.b.device, 0u);
    Buf ok(u8(), {4096});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &ok.b), 0);
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &ok.b), 0);
}

// ------------------------------------------------ generic layer and table

TEST_F(Regions, InterfaceTable) {
    const halide_device_interface_t *i = halide_vulkan_device_interface();
    ASSERT_EQ(i, halide_vulkan_device_interface());
    EXPECT_EQ(i->device_malloc, &halide_device_malloc);
    EXPECT_EQ(i->device_free, &halide_device_free);
    EXPECT_EQ(i->device_sync, &halide_device_sync);
    EXPECT_EQ(i->device_release, &halide_device_release);
    EXPECT_EQ(i->copy_to_host, &halide_copy_to_host);
    EXPECT_EQ(i->copy_to_device, &halide_copy_to_device);
    EXPECT_EQ(i->device_and_host_malloc, &halide_device_and_host_malloc);
    EXPECT_EQ(i->device_and_host_free, &halide_device_and_host_free);
    EXPECT_EQ(i->buffer_copy, &halide_buffer_copy);
    EXPECT_EQ(i->device_crop, &halide_device_crop);
    EXPECT_EQ(i->device_slice, &halide_device_slice);
    EXPECT_EQ(i->device_release_crop, &halide_device_release_crop);
    EXPECT_EQ(i->wrap_native, &halide_device_wrap_native);
    EXPECT_EQ(i->detach_native, &halide_device_detach_native);
    EXPECT_EQ(i->compute_capability, &halide_vulkan_compute_capability);
    const halide_device_interface_impl_t *impl = i->impl;
    ASSERT_NE(impl, nullptr);
    EXPECT_EQ(impl->device_malloc, &halide_vulkan_device_malloc);
    EXPECT_EQ(impl->device_free, &halide_vulkan_device_free);
    EXPECT_EQ(impl->device_sync, &halide_vulkan_device_sync);
    EXPECT_EQ(impl->device_release, &halide_vulkan_device_release);
    EXPECT_EQ(impl->copy_to_host, &halide_vulkan_copy_to_host);
    EXPECT_EQ(impl->copy_to_device, &halide_vulkan_copy_to_device);
    EXPECT_EQ(impl->device_and_host_malloc, &halide_vulkan_device_and_host_malloc);
    EXPECT_EQ(impl->device_and_host_free, &halide_vulkan_device_and_host_free);
    EXPECT_EQ(impl->buffer_copy, &halide_vulkan_buffer_copy);
    EXPECT_EQ(impl->device_crop, &halide_vulkan_device_crop);
    EXPECT_EQ(impl->device_slice, &halide_vulkan_device_slice);
    EXPECT_EQ(impl->device_release_crop, &halide_vulkan_device_release_crop);
    EXPECT_EQ(impl->detach_native, &halide_vulkan_detach_vk_buffer);
    ASSERT_NE(impl->use_module, nullptr);
    ASSERT_NE(impl->release_module, nullptr);
    impl->use_module();
    impl->release_module();
}

TEST_F(Regions, GenericEntryPoints) {
    Buf a(i32(), {32, 8});
    ASSERT_EQ(halide_device_malloc(nullptr, &a.b, vk()), 0);
    Buf c(i32(), {1});
    c.crop_from(a, {8, 2}, {8, 4});
    ASSERT_EQ(halide_device_crop(nullptr, &a.b, &c.b), 0);
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &c.b), uint64_t(2 * 32 + 8) * 4);
    Buf s(i32(), {32});
    ASSERT_EQ(halide_device_slice(nullptr, &a.b, 1, 7, &s.b), 0);
    EXPECT_EQ(halide_device_release_crop(nullptr, &s.b), 0);
    EXPECT_EQ(halide_device_release_crop(nullptr, &c.b), 0);
    EXPECT_EQ(c.b.device, 0u);
    EXPECT_EQ(halide_device_free(nullptr, &a.b), 0);

    // wrap_native / detach_native through the table (offset 0).
    TestVkBuffer tb(1024);
    Buf w(i32(), {256});
    ASSERT_EQ(halide_device_wrap_native(nullptr, &w.b, tb.handle(), vk()), 0);
    EXPECT_EQ(halide_vulkan_get_vk_buffer(nullptr, &w.b), uintptr_t(tb.buffer));
    EXPECT_EQ(halide_vulkan_get_vk_crop_offset(nullptr, &w.b), 0u);
    EXPECT_EQ(halide_device_detach_native(nullptr, &w.b), 0);
    EXPECT_EQ(w.b.device_interface, nullptr);
    // A failed wrap leaves the buffer as it was.
    EXPECT_EQ(halide_device_wrap_native(nullptr, &w.b, 0, vk()), -16);
    EXPECT_EQ(w.b.device_interface, nullptr);

    // device_and_host_malloc / free.
    halide_buffer_t dh{};
    halide_dimension_t dim{0, 1000, 1, 0};
    dh.type = memtest::f32();
    dh.dimensions = 1;
    dh.dim = &dim;
    ASSERT_EQ(halide_device_and_host_malloc(nullptr, &dh, vk()), 0);
    EXPECT_NE(dh.host, nullptr);
    EXPECT_NE(dh.device, 0u);
    ASSERT_EQ(halide_device_and_host_free(nullptr, &dh), 0);
    EXPECT_EQ(dh.host, nullptr);
    EXPECT_EQ(dh.device, 0u);
    ASSERT_EQ(halide_vulkan_device_and_host_malloc(nullptr, &dh), 0);
    ASSERT_EQ(halide_vulkan_device_and_host_free(nullptr, &dh), 0);
}

TEST_F(Regions, ConcurrentThreads) {
    // Handles are validated and slots handed out from several threads at once.
    std::vector<std::thread> threads;
    std::vector<int> failures(4, 0);
    for (int t = 0; t < 4; t++) {
        threads.emplace_back([t, &failures] {
            for (int i = 0; i < 200; i++) {
                Buf a(u8(), {1000 + 100 * t + i % 7});
                Buf c(u8(), {1});
                c.crop_from(a, {10}, {100});
                failures[size_t(t)] += halide_device_malloc(nullptr, &a.b, vk()) != 0;
                failures[size_t(t)] += halide_device_crop(nullptr, &a.b, &c.b) != 0;
                failures[size_t(t)] += halide_vulkan_get_vk_crop_offset(nullptr, &c.b) != 10;
                if (i % 2) {
                    failures[size_t(t)] += halide_device_free(nullptr, &a.b) != 0;
                    failures[size_t(t)] += halide_device_release_crop(nullptr, &c.b) != 0;
                } else {
                    failures[size_t(t)] += halide_device_release_crop(nullptr, &c.b) != 0;
                    failures[size_t(t)] += halide_device_free(nullptr, &a.b) != 0;
                }
            }
        });
    }
    for (std::thread &th : threads) {
        th.join();
    }
    for (int f : failures) {
        EXPECT_EQ(f, 0);
    }
    EXPECT_TRUE(hvk_test::errors().empty());
}

// ------------------------------------------------------------ device release

TEST_F(Regions, DeviceReleaseMakesHandlesStaleAndReuseWorks) {
    Buf a(u8(), {1000});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
    Buf c(u8(), {1});
    c.crop_from(a, {10}, {10});
    ASSERT_EQ(halide_vulkan_device_crop(nullptr, &a.b, &c.b), 0);
    halide_device_release(nullptr, vk());
    EXPECT_FALSE(halide_vulkan_is_initialized());
    halide_vk_memory_stats ms{};
    ms.block_count = 99;
    ASSERT_EQ(halide_vk_get_memory_stats(nullptr, &ms), 0);
    EXPECT_EQ(ms.block_count, 0u);
    EXPECT_FALSE(halide_vulkan_is_initialized()) << "stats never create a context";
    EXPECT_EQ(halide_vulkan_release_unused_device_allocations(nullptr), 0);
    EXPECT_FALSE(halide_vulkan_is_initialized());

    hvk_test::clear_errors();
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &a.b), -18);
    EXPECT_TRUE(hvk_test::error_contains("device was released"));
    EXPECT_EQ(halide_vulkan_device_release_crop(nullptr, &c.b), -22);
    a.b.device = 0;
    a.b.device_interface = nullptr;
    c.b.device = 0;
    c.b.device_interface = nullptr;

    // Everything works again on a fresh context.
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
    write_device(a.b, pattern(1000, 1));
    EXPECT_EQ(read_device(a.b), pattern(1000, 1));
    EXPECT_EQ(halide_vulkan_device_free(nullptr, &a.b), 0);
}

TEST_F(Regions, DeviceReleaseWithQueuedWork) {
    // Staged uploads are queued, not waited for: release must run them
    // before destroying the VkBuffers they use (validation would object).
    hvk::set_copies_force_staging(true);
    Buf a(u8(), {100000});
    a.fill(2);
    a.b.set_host_dirty(true);
    ASSERT_EQ(halide_copy_to_device(nullptr, &a.b, vk()), 0);
    Buf c(u8(), {1});
    c.crop_from(a, {1000}, {5000});
    ASSERT_EQ(halide_device_crop(nullptr, &a.b, &c.b), 0);
    c.b.set_host_dirty(true);
    ASSERT_EQ(halide_copy_to_device(nullptr, &c.b, vk()), 0);
    hvk::set_copies_force_staging(false);
    // And a command recorded into the open batch, not submitted at all.
    with_device([&](hvk::Device *d) {
        hvk::Submitter *s = nullptr;
        ASSERT_EQ(hvk::ensure_submitter(nullptr, d, &s), 0);
        hvk::DeviceBufferView view{};
        ASSERT_EQ(hvk::resolve_device_buffer(nullptr, d, &c.b, "test", &view), 0);
        VkCommandBuffer cb = VK_NULL_HANDLE;
        ASSERT_EQ(s->record(nullptr, &cb), 0);
        s->record_barrier(cb);
        d->vk.vkCmdFillBuffer(cb, view.buffer, view.offset, 4000, 0x01010101u);
        EXPECT_TRUE(s->has_open_batch());
    });
    halide_device_release(nullptr, vk());
    a.b.device = c.b.device = 0;
    a.b.device_interface = c.b.device_interface = nullptr;
}

// Runs last (gtest keeps declaration order): once the device is released,
// the runtime holds no host memory at all.
TEST_F(Regions, ZZ_NoHostAllocationsLeftAfterRelease) {
    Buf a(u8(), {100});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &a.b), 0);
    ASSERT_EQ(halide_vulkan_device_free(nullptr, &a.b), 0);
    halide_device_release(nullptr, vk());
    EXPECT_EQ(hvk::region_stats(nullptr).live_entries, 0u);
    EXPECT_EQ(hvk::region_stats(nullptr).slabs, 0u);
    EXPECT_EQ(hvk::host_alloc_stats().live_allocations, 0u);
}

}  // namespace
