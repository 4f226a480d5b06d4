// copy_to_device / copy_to_host / buffer_copy / device_sync on lavapipe:
// round trips of known byte patterns (1 B .. 64 MiB), every element size,
// 1-4 dimensions with permuted, padded and negative strides, crops and
// slices, device-to-device copies between different shapes against a CPU
// reference, wrapped VkBuffers at an offset, ordering against queued GPU
// work, staging reuse, and bad input.
//
// Every data test runs twice: through the direct mapping of host-visible
// memory (lavapipe's only kind) and with staging forced.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "vulkan/memory/arena.h"
#include "vulkan/context/context_scope.h"
#include "vulkan/util/host_alloc.h"
#include "vulkan/memory/region_table.h"
#include "vulkan/memory/staging.h"
#include "vulkan/submit/submitter.h"
#include "strided_buffer.h"
#include "test_env.h"
#include "test_vk_buffer.h"

namespace {

const halide_device_interface_t *vk() {
    return halide_vulkan_device_interface();
}

halide_type_t uint_type(int bits) {
    return halide_type_t(halide_type_uint, uint8_t(bits), 1);
}

// A StridedBuffer whose device allocation (if any) is freed with it.
struct TestBuffer : hvk_test::StridedBuffer {
    using StridedBuffer::StridedBuffer;
    ~TestBuffer() {
        if (buf.device != 0) {
            EXPECT_EQ(halide_device_free(nullptr, &buf), 0);
        }
    }
};

using hvk_test::for_each_coord;

// dst must equal src inside src's box and `before` elsewhere (element-wise).
int count_mismatches(TestBuffer &src, TestBuffer &dst, TestBuffer &before) {
    const size_t n = dst.dims.size();
    const size_t elem = size_t(dst.buf.type.bytes());
    int bad = 0;
    for_each_coord(dst.mins(), dst.extents(), [&](const std::vector<int> &pos) {
        bool inside = true;
        for (size_t i = 0; i < n; i++) {
            if (pos[i] < src.dims[i].min || pos[i] >= src.dims[i].min + src.dims[i].extent) {
                inside = false;
            }
        }
        const uint8_t *expect = inside ? src.at(pos) : before.at(pos);
        if (std::memcmp(dst.at(pos), expect, elem) != 0) {
            bad++;
        }
    });
    return bad;
}

using hvk_test::TestVkBuffer;

class CopiesTest : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override {
        hvk_test::clear_errors();
        hvk::set_copies_force_staging(GetParam());
    }
    void TearDown() override {
        hvk::set_copies_force_staging(false);
        EXPECT_EQ(halide_vulkan_device_sync(nullptr, nullptr), 0);
        EXPECT_TRUE(hvk_test::errors().empty()) << hvk_test::last_error();
    }
};

// Uploads b's host data, scrambles the host, reads it back; expects the
// original bytes (only those inside the buffer's elements are compared).
void round_trip(TestBuffer &b, uint32_t seed) {
    b.fill(seed);
    const std::vector<uint8_t> expect = b.storage;
    ASSERT_EQ(halide_vulkan_copy_to_device(nullptr, &b.buf), 0);
    ASSERT_NE(b.buf.device, 0u);
    std::mt19937 rng(seed ^ 0x9E3779B9u);
    for (auto &x : b.storage) {
        x = uint8_t(rng());
    }
    ASSERT_EQ(halide_vulkan_copy_to_host(nullptr, &b.buf), 0);
    const size_t elem = size_t(b.buf.type.bytes());
    int bad = 0;
    for_each_coord(b.mins(), b.extents(), [&](const std::vector<int> &pos) {
        const size_t off = size_t(b.at(pos) - b.storage.data());
        if (std::memcmp(b.storage.data() + off, expect.data() + off, elem) != 0) {
            bad++;
        }
    });
    EXPECT_EQ(bad, 0);
}

TEST_P(CopiesTest, RoundTripOneDimensionalSizes) {
    const int sizes[] = {1, 2, 3, 7, 15, 16, 17, 63, 64, 65, 255, 4095, 4097, 65537, 1 << 20, (1 << 20) + 3,
                         (16 << 20) + 5, 40 << 20};
    uint32_t seed = 1;
    for (int n : sizes) {
        SCOPED_TRACE(n);
        TestBuffer b(uint_type(8), {0}, {n});
        round_trip(b, seed++);
    }
}

TEST_P(CopiesTest, RoundTrip64MiB) {
    TestBuffer b(uint_type(32), {0}, {16 << 20});
    round_trip(b, 77);
}

TEST_P(CopiesTest, RoundTripEveryElementSizeAndRank) {
    struct Shape {
        std::vector<int> mins, extents, order, sign;
        int pad;
    };
    const std::vector<Shape> shapes = {
        {{0}, {37}, {}, {}, 0},
        {{5}, {33}, {}, {-1}, 0},
        {{0, 0}, {13, 7}, {}, {}, 0},
        {{-2, 3}, {13, 7}, {}, {}, 3},
        {{0, 0}, {9, 11}, {1, 0}, {1, -1}, 1},
        {{1, 2, 3}, {5, 4, 3}, {2, 0, 1}, {1, -1, 1}, 2},
        {{0, 0, 0, 0}, {3, 4, 5, 2}, {3, 1, 0, 2}, {-1, 1, 1, -1}, 1},
        {{0, 0, 0, 0}, {7, 1, 5, 1}, {}, {}, 0},
    };
    uint32_t seed = 100;
    for (int bits : {8, 16, 32, 64}) {
        for (size_t i = 0; i < shapes.size(); i++) {
            SCOPED_TRACE(::testing::Message() << "bits " << bits << " shape " << i);
            const Shape &s = shapes[i];
            TestBuffer b(uint_type(bits), s.mins, s.extents, s.order, s.sign, s.pad);
            round_trip(b, seed++);
        }
    }
}

TEST_P(CopiesTest, ZeroDimensionalBuffer) {
    TestBuffer b(uint_type(32), {}, {});
    round_trip(b, 5);
}

// A crop of `parent` (sharing its host memory, as Halide's crops do).
struct Crop {
    std::vector<halide_dimension_t> dims;
    halide_buffer_t buf{};
    Crop(halide_buffer_t &parent, std::vector<int> mins, std::vector<int> extents) {
        dims.assign(parent.dim, parent.dim + parent.dimensions);
        for (size_t i = 0; i < dims.size(); i++) {
            dims[i].min = mins[i];
            dims[i].extent = extents[i];
        }
        buf = parent;
        buf.dim = dims.data();
        buf.device = 0;
        buf.device_interface = nullptr;
        buf.flags = 0;
        buf.host = parent.address_of(mins.data());
    }
};

TEST_P(CopiesTest, CropWritesOnlyItsWindowAndReadsItsWindow) {
    for (int sign : {1, -1}) {
        SCOPED_TRACE(sign);
        TestBuffer parent(uint_type(32), {0, 0}, {16, 12}, {}, {1, sign}, 2);
        parent.fill(1);
        const std::vector<uint8_t> a = parent.storage;
        ASSERT_EQ(halide_vulkan_copy_to_device(nullptr, &parent.buf), 0);

        Crop crop(parent.buf, {3, 2}, {7, 5});
        ASSERT_EQ(halide_device_crop(nullptr, &parent.buf, &crop.buf), 0);
        // Write through the crop: new host data everywhere, only the
        // window may reach the device.
        parent.fill(2);
        const std::vector<uint8_t> b = parent.storage;
        ASSERT_EQ(halide_vulkan_copy_to_device(nullptr, &crop.buf), 0);
        std::fill(parent.storage.begin(), parent.storage.end(), 0);
        ASSERT_EQ(halide_vulkan_copy_to_host(nullptr, &parent.buf), 0);
        int bad = 0;
        for_each_coord({0, 0}, {16, 12}, [&](const std::vector<int> &pos) {
            const bool inside = pos[0] >= 3 && pos[0] < 10 && pos[1] >= 2 && pos[1] < 7;
            const size_t off = size_t(parent.at(pos) - parent.storage.data());
            const std::vector<uint8_t> &want = inside ? b : a;
            if (std::memcmp(parent.storage.data() + off, want.data() + off, 4) != 0) {
                bad++;
            }
        });
        EXPECT_EQ(bad, 0);

        // Read through the crop: only the window of the host changes.
        std::fill(parent.storage.begin(), parent.storage.end(), 0xEE);
        ASSERT_EQ(halide_vulkan_copy_to_host(nullptr, &crop.buf), 0);
        bad = 0;
        for_each_coord({0, 0}, {16, 12}, [&](const std::vector<int> &pos) {
            const bool inside = pos[0] >= 3 && pos[0] < 10 && pos[1] >= 2 && pos[1] < 7;
            const size_t off = size_t(parent.at(pos) - parent.storage.data());
            const uint8_t *got = parent.storage.data() + off;
            if (inside ? std::memcmp(got, b.data() + off, 4) != 0
                       : (got[0] != 0xEE || got[1] != 0xEE || got[2] != 0xEE || got[3] != 0xEE)) {
                bad++;
            }
        });
        EXPECT_EQ(bad, 0);

        // A crop of the crop, and a slice.
        Crop inner(crop.buf, {5, 3}, {3, 2});
        ASSERT_EQ(halide_device_crop(nullptr, &crop.buf, &inner.buf), 0);
        parent.fill(3);
        const std::vector<uint8_t> c = parent.storage;
        ASSERT_EQ(halide_vulkan_copy_to_device(nullptr, &inner.buf), 0);
        std::fill(parent.storage.begin(), parent.storage.end(), 0);
        ASSERT_EQ(halide_vulkan_copy_to_host(nullptr, &parent.buf), 0);
        bad = 0;
        for_each_coord({0, 0}, {16, 12}, [&](const std::vector<int> &pos) {
            const bool in_inner = pos[0] >= 5 && pos[0] < 8 && pos[1] >= 3 && pos[1] < 5;
            const bool in_crop = pos[0] >= 3 && pos[0] < 10 && pos[1] >= 2 && pos[1] < 7;
            const size_t off = size_t(parent.at(pos) - parent.storage.data());
            const std::vector<uint8_t> &want = in_inner ? c : in_crop ? b : a;
            if (std::memcmp(parent.storage.data() + off, want.data() + off, 4) != 0) {
                bad++;
            }
        });
        EXPECT_EQ(bad, 0);

        halide_dimension_t slice_dim = parent.buf.dim[0];
        halide_buffer_t slice = parent.buf;
        slice.dimensions = 1;
        slice.dim = &slice_dim;
        slice.device = 0;
        slice.device_interface = nullptr;
        const int row_pos[2] = {0, 9};
        slice.host = parent.buf.address_of(row_pos);
        ASSERT_EQ(halide_device_slice(nullptr, &parent.buf, 1, 9, &slice), 0);
        std::fill(parent.storage.begin(), parent.storage.end(), 0);
        ASSERT_EQ(halide_vulkan_copy_to_host(nullptr, &slice), 0);
        for (int x = 0; x < 16; x++) {
            const int pos[2] = {x, 9};
            const size_t off = size_t(parent.buf.address_of(pos) - parent.storage.data());
            EXPECT_EQ(std::memcmp(parent.storage.data() + off, a.data() + off, 4), 0) << x;
        }
        EXPECT_EQ(halide_device_release_crop(nullptr, &slice), 0);
        EXPECT_EQ(halide_device_release_crop(nullptr, &inner.buf), 0);
        EXPECT_EQ(halide_device_release_crop(nullptr, &crop.buf), 0);
    }
}

struct CopyCase {
    std::vector<int> smin, sext, sorder, ssign;
    int spad;
    std::vector<int> dmin, dext, dorder, dsign;
    int dpad;
    int bits;
};

const std::vector<CopyCase> &copy_cases() {
    static const std::vector<CopyCase> cases = {
        {{0, 0}, {16, 8}, {}, {}, 0, {0, 0}, {16, 8}, {}, {}, 0, 32},
        {{0, 0}, {16, 8}, {}, {}, 0, {3, 2}, {5, 4}, {}, {}, 0, 8},
        {{4, 1}, {4, 3}, {}, {}, 2, {0, 0}, {16, 8}, {}, {}, 0, 16},
        {{-3, 2}, {10, 9}, {}, {-1, 1}, 1, {0, 0}, {12, 6}, {}, {1, -1}, 0, 32},
        {{0, 0, 0}, {7, 5, 3}, {2, 0, 1}, {1, -1, 1}, 3, {1, -1, 0}, {6, 7, 3}, {0, 1, 2}, {-1, 1, -1}, 2, 8},
        {{0, 0, 0, 0}, {3, 4, 2, 5}, {}, {}, 0, {1, 1, 0, 2}, {2, 3, 2, 2}, {3, 2, 1, 0}, {}, 0, 64},
        {{0, 0}, {4, 4}, {}, {}, 0, {10, 10}, {4, 4}, {}, {}, 0, 8},
        {{0}, {100}, {}, {}, 0, {5}, {50}, {}, {-1}, 0, 16},
        {{0, 0}, {300, 200}, {}, {}, 0, {7, 3}, {290, 190}, {1, 0}, {}, 5, 8},
    };
    return cases;
}

enum class Route { DeviceToDevice, HostToDevice, DeviceToHost };

void run_buffer_copy_case(const CopyCase &c, Route route) {
    halide_type_t t = uint_type(c.bits);
    TestBuffer src(t, c.smin, c.sext, c.sorder, c.ssign, c.spad);
    TestBuffer dst(t, c.dmin, c.dext, c.dorder, c.dsign, c.dpad);
    TestBuffer before(t, c.dmin, c.dext, c.dorder, c.dsign, c.dpad);
    src.fill(11);
    dst.fill(22);
    before.fill(22);
    if (route != Route::HostToDevice) {
        src.buf.set_host_dirty(true);
        ASSERT_EQ(halide_copy_to_device(nullptr, &src.buf, vk()), 0);
        ASSERT_FALSE(src.buf.host_dirty());
        // The source's valid data is on the device only from now on.
        const std::vector<uint8_t> keep = src.storage;
        std::fill(src.storage.begin(), src.storage.end(), 0);
        src.buf.set_device_dirty(true);
        if (route == Route::DeviceToDevice) {
            dst.buf.set_host_dirty(true);
            ASSERT_EQ(halide_copy_to_device(nullptr, &dst.buf, vk()), 0);
            ASSERT_EQ(halide_buffer_copy(nullptr, &src.buf, vk(), &dst.buf), 0);
            EXPECT_TRUE(dst.buf.device_dirty());
            std::fill(dst.storage.begin(), dst.storage.end(), 0);
            ASSERT_EQ(halide_copy_to_host(nullptr, &dst.buf), 0);
        } else {
            ASSERT_EQ(halide_buffer_copy(nullptr, &src.buf, nullptr, &dst.buf), 0);
            EXPECT_TRUE(dst.buf.host_dirty());
        }
        src.storage = keep;
    } else {
        dst.buf.set_host_dirty(true);
        ASSERT_EQ(halide_copy_to_device(nullptr, &dst.buf, vk()), 0);
        src.buf.set_host_dirty(true);
        ASSERT_EQ(halide_buffer_copy(nullptr, &src.buf, vk(), &dst.buf), 0);
        std::fill(dst.storage.begin(), dst.storage.end(), 0);
        ASSERT_EQ(halide_copy_to_host(nullptr, &dst.buf), 0);
    }
    EXPECT_EQ(count_mismatches(src, dst, before), 0);
}

TEST_P(CopiesTest, BufferCopyDeviceToDeviceBetweenShapes) {
    for (size_t i = 0; i < copy_cases().size(); i++) {
        SCOPED_TRACE(i);
        run_buffer_copy_case(copy_cases()[i], Route::DeviceToDevice);
    }
}

TEST_P(CopiesTest, BufferCopyHostToDeviceBetweenShapes) {
    for (size_t i = 0; i < copy_cases().size(); i++) {
        SCOPED_TRACE(i);
        run_buffer_copy_case(copy_cases()[i], Route::HostToDevice);
    }
}

TEST_P(CopiesTest, BufferCopyDeviceToHostBetweenShapes) {
    for (size_t i = 0; i < copy_cases().size(); i++) {
        SCOPED_TRACE(i);
        run_buffer_copy_case(copy_cases()[i], Route::DeviceToHost);
    }
}

// Two views of one allocation whose coordinates are shifted by 100
// elements against each other: the copy's source and destination bytes
// overlap, so it must bounce through staging.
void check_overlapping_copy() {
    TestBuffer parent(uint_type(32), {0}, {1000});
    for (int i = 0; i < 1000; i++) {
        uint32_t v = uint32_t(i) * 2654435761u;
        std::memcpy(parent.storage.data() + 4 * i, &v, 4);
    }
    const std::vector<uint8_t> orig = parent.storage;
    ASSERT_EQ(halide_vulkan_copy_to_device(nullptr, &parent.buf), 0);
    Crop a(parent.buf, {0}, {600});
    Crop b(parent.buf, {200}, {600});
    ASSERT_EQ(halide_device_crop(nullptr, &parent.buf, &a.buf), 0);
    ASSERT_EQ(halide_device_crop(nullptr, &parent.buf, &b.buf), 0);
    b.dims[0].min = 100;  // relabel: b's coordinate x is memory element x + 100
    a.buf.set_device_dirty(true);
    ASSERT_EQ(halide_vulkan_buffer_copy(nullptr, &a.buf, vk(), &b.buf), 0);
    std::fill(parent.storage.begin(), parent.storage.end(), 0);
    ASSERT_EQ(halide_vulkan_copy_to_host(nullptr, &parent.buf), 0);
    // Coordinates 100..599 of a (memory 100..599) went to memory 200..699.
    for (int i = 0; i < 1000; i++) {
        const int from = (i >= 200 && i < 700) ? i - 100 : i;
        ASSERT_EQ(std::memcmp(parent.storage.data() + 4 * i, orig.data() + 4 * from, 4), 0) << i;
    }
    EXPECT_EQ(halide_device_release_crop(nullptr, &a.buf), 0);
    EXPECT_EQ(halide_device_release_crop(nullptr, &b.buf), 0);
}

TEST_P(CopiesTest, OverlappingCopyInsideOneAllocation) {
    check_overlapping_copy();
}

// Staged copies go in pieces (4 MiB by default). Strided buffers whose rows
// do not divide the piece size: runs split across piece boundaries land
// where they belong. First with the default size (5.5 MB of 4994-byte
// rows, rows reversed), then with the piece size forced down to a few
// hundred bytes, not a multiple of any run or element size, in both
// directions and through the overlapping device-to-device bounce.
TEST_P(CopiesTest, CopiesSplitIntoPieces) {
    {
        TestBuffer big(uint_type(16), {-3, 2}, {2497, 1100}, {}, {1, -1}, 5);
        round_trip(big, 4242);
    }
    struct ResetPiece {
        ~ResetPiece() { hvk::set_staging_piece_bytes(0); }
    } reset;
    for (uint64_t piece : {uint64_t(1000), uint64_t(4096 + 3)}) {
        SCOPED_TRACE(piece);
        hvk::set_staging_piece_bytes(piece);
        TestBuffer a(uint_type(16), {-2, 3}, {97, 41}, {}, {1, -1}, 3);
        round_trip(a, uint32_t(900 + piece));
        TestBuffer b(uint_type(64), {1, 2, 3}, {11, 9, 7}, {2, 0, 1}, {1, -1, 1}, 2);
        round_trip(b, uint32_t(901 + piece));
        check_overlapping_copy();
    }
}

TEST_P(CopiesTest, WrappedBufferAtAnOffsetGoesThroughStaging) {
    constexpr uint64_t kOffset = 256;
    for (int n : {1, 100, 4096 + 3, (1 << 20) + 7, (20 << 20) + 1}) {
        SCOPED_TRACE(n);
        TestVkBuffer vb(kOffset + uint64_t(n) + 512);
        std::memset(vb.map, 0xA5, size_t(vb.size));
        TestBuffer b(uint_type(8), {0}, {n});
        ASSERT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &b.buf, vb.handle(), kOffset), 0);
        b.fill(uint32_t(n));
        ASSERT_EQ(halide_vulkan_copy_to_device(nullptr, &b.buf), 0);
        ASSERT_EQ(halide_vulkan_device_sync(nullptr, &b.buf), 0);
        EXPECT_EQ(std::memcmp(vb.map + kOffset, b.storage.data(), size_t(n)), 0);
        for (uint64_t i = 0; i < kOffset; i++) {
            ASSERT_EQ(vb.map[i], 0xA5) << i;
        }
        for (uint64_t i = kOffset + uint64_t(n); i < vb.size; i++) {
            ASSERT_EQ(vb.map[i], 0xA5) << i;
        }
        // The application writes its buffer; copy_to_host reads it.
        for (int i = 0; i < n; i++) {
            vb.map[kOffset + uint64_t(i)] = uint8_t(i * 7 + 1);
        }
        std::fill(b.storage.begin(), b.storage.end(), 0);
        ASSERT_EQ(halide_vulkan_copy_to_host(nullptr, &b.buf), 0);
        for (int i = 0; i < n; i++) {
            ASSERT_EQ(b.storage[size_t(i)], uint8_t(i * 7 + 1)) << i;
        }
        ASSERT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &b.buf), 0);
    }
}

TEST_P(CopiesTest, WrappedCropAndDeviceToDeviceWithOwned) {
    constexpr uint64_t kOffset = 64;
    TestVkBuffer vb(kOffset + 64 * 48 * 2 + 64);
    std::memset(vb.map, 0, size_t(vb.size));
    TestBuffer wrapped(uint_type(16), {0, 0}, {64, 48});
    ASSERT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &wrapped.buf, vb.handle(), kOffset), 0);
    // Owned -> wrapped crop, by buffer_copy.
    TestBuffer src(uint_type(16), {10, 5}, {20, 30}, {1, 0}, {}, 3);  // transposed layout
    src.fill(9);
    src.buf.set_host_dirty(true);
    ASSERT_EQ(halide_copy_to_device(nullptr, &src.buf, vk()), 0);
    Crop crop(wrapped.buf, {8, 4}, {30, 40});
    ASSERT_EQ(halide_device_crop(nullptr, &wrapped.buf, &crop.buf), 0);
    src.buf.set_device_dirty(true);
    ASSERT_EQ(halide_vulkan_buffer_copy(nullptr, &src.buf, vk(), &crop.buf), 0);
    ASSERT_EQ(halide_vulkan_device_sync(nullptr, nullptr), 0);
    int bad = 0;
    for (int y = 0; y < 48; y++) {
        for (int x = 0; x < 64; x++) {
            uint16_t got;
            std::memcpy(&got, vb.map + kOffset + 2 * (y * 64 + x), 2);
            uint16_t want = 0;
            if (x >= 10 && x < 30 && y >= 5 && y < 35) {
                const int pos[2] = {x, y};
                std::memcpy(&want, src.buf.address_of(pos), 2);
            }
            bad += got != want;
        }
    }
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(halide_device_release_crop(nullptr, &crop.buf), 0);
    ASSERT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &wrapped.buf), 0);
}

// Queued GPU work that reads a buffer must see the old contents even when
// copy_to_device overwrites it before the batch is submitted.
TEST_P(CopiesTest, CopyToDeviceIsOrderedAfterQueuedReads) {
    TestBuffer b(uint_type(32), {0}, {4096});
    std::fill(b.storage.begin(), b.storage.end(), 0x11);
    ASSERT_EQ(halide_vulkan_copy_to_device(nullptr, &b.buf), 0);
    TestVkBuffer out(4 * 4096);
    {
        hvk::ContextScope scope(nullptr, "test");
        ASSERT_TRUE(scope.ok());
        hvk::Device *d = scope.device();
        std::lock_guard<std::recursive_mutex> lock(d->mutex);
        hvk::Submitter *s = nullptr;
        ASSERT_EQ(hvk::ensure_submitter(nullptr, d, &s), 0);
        VkCommandBuffer cb = VK_NULL_HANDLE;
        ASSERT_EQ(s->record(nullptr, &cb), 0);
        hvk::DeviceBufferView view{};
        // As a kernel would: resolve while recording (stamps the root).
        ASSERT_EQ(hvk::resolve_device_buffer(nullptr, d, &b.buf, "test", &view), 0);
        s->record_barrier(cb);
        VkBufferCopy region{view.offset, 0, 4 * 4096};
        d->vk.vkCmdCopyBuffer(cb, view.buffer, out.buffer, 1, &region);
        EXPECT_TRUE(s->has_open_batch());
    }
    std::fill(b.storage.begin(), b.storage.end(), 0x22);
    ASSERT_EQ(halide_vulkan_copy_to_device(nullptr, &b.buf), 0);
    ASSERT_EQ(halide_vulkan_device_sync(nullptr, nullptr), 0);
    for (int i = 0; i < 4 * 4096; i++) {
        ASSERT_EQ(out.map[i], 0x11) << i;
    }
    std::fill(b.storage.begin(), b.storage.end(), 0);
    ASSERT_EQ(halide_vulkan_copy_to_host(nullptr, &b.buf), 0);
    for (uint8_t x : b.storage) {
        ASSERT_EQ(x, 0x22);
    }
}

// Warm copies allocate no host memory, no device memory and no staging.
TEST_P(CopiesTest, WarmCopiesAllocateNothing) {
    TestBuffer b(uint_type(8), {0, 0}, {1000, 300}, {}, {}, 24);  // strided
    TestBuffer c(uint_type(8), {0}, {3 << 20});
    b.fill(1);
    c.fill(2);
    TestVkBuffer vb(1 << 20);
    TestBuffer w(uint_type(8), {0}, {1 << 20});
    ASSERT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &w.buf, vb.handle(), 0), 0);
    auto cycle = [&]() {
        ASSERT_EQ(halide_vulkan_copy_to_device(nullptr, &b.buf), 0);
        ASSERT_EQ(halide_vulkan_copy_to_host(nullptr, &b.buf), 0);
        ASSERT_EQ(halide_vulkan_copy_to_device(nullptr, &c.buf), 0);
        ASSERT_EQ(halide_vulkan_copy_to_host(nullptr, &c.buf), 0);
        ASSERT_EQ(halide_vulkan_copy_to_device(nullptr, &w.buf), 0);
        ASSERT_EQ(halide_vulkan_copy_to_host(nullptr, &w.buf), 0);
    };
    cycle();
    cycle();
    hvk::Device *d = nullptr;
    uint64_t memory_before = 0, realloc_before = 0;
    {
        hvk::ContextScope scope(nullptr, "test");
        d = scope.device();
        memory_before = d->arena->stats().device_allocations_made;
        realloc_before = d->submitter->staging ? d->submitter->staging->reallocations() : 0;
    }
    const hvk::HostAllocStats host_before = hvk::host_alloc_stats();
    for (int i = 0; i < 5; i++) {
        cycle();
    }
    const hvk::HostAllocStats host_after = hvk::host_alloc_stats();
    EXPECT_EQ(host_after.total_allocations, host_before.total_allocations);
    {
        hvk::ContextScope scope(nullptr, "test");
        EXPECT_EQ(d->arena->stats().device_allocations_made, memory_before);
        EXPECT_EQ(d->submitter->staging ? d->submitter->staging->reallocations() : 0, realloc_before);
        if (d->submitter->staging != nullptr) {
            EXPECT_LE(d->submitter->staging->capacity(hvk::StagingDirection::Upload), hvk::Staging::kMaxCapacity);
        }
    }
    ASSERT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &w.buf), 0);
}

INSTANTIATE_TEST_SUITE_P(Paths, CopiesTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool> &info) {
                             return info.param ? std::string("Staged") : std::string("Direct");
                         });

// ---- bad input

class CopyErrorsTest : public ::testing::Test {
protected:
    void SetUp() override { hvk_test::clear_errors(); }
};

// Byte-wise snapshot of a buffer struct, to check "left unchanged".
std::vector<uint8_t> snapshot(const halide_buffer_t &b) {
    std::vector<uint8_t> v(sizeof(b));
    std::memcpy(v.data(), &b, sizeof(b));
    return v;
}

TEST_F(CopyErrorsTest, NullBuffersAndHosts) {
    EXPECT_EQ(halide_vulkan_copy_to_host(nullptr, nullptr), -14);
    EXPECT_EQ(halide_vulkan_copy_to_device(nullptr, nullptr), -15);
    EXPECT_EQ(halide_vulkan_buffer_copy(nullptr, nullptr, vk(), nullptr), -39);
    EXPECT_EQ(hvk_test::errors().size(), 3u);

    TestBuffer b(uint_type(32), {0}, {64});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &b.buf), 0);
    halide_buffer_t nohost = b.buf;
    nohost.host = nullptr;
    const auto before = snapshot(nohost);
    hvk_test::clear_errors();
    EXPECT_EQ(halide_vulkan_copy_to_host(nullptr, &nohost), -14);
    EXPECT_TRUE(hvk_test::error_contains("host"));
    EXPECT_EQ(halide_vulkan_copy_to_device(nullptr, &nohost), -15);
    EXPECT_EQ(snapshot(nohost), before);
}

TEST_F(CopyErrorsTest, NoDeviceAllocation) {
    TestBuffer b(uint_type(32), {0}, {64});
    EXPECT_EQ(halide_vulkan_copy_to_host(nullptr, &b.buf), -14);
    EXPECT_TRUE(hvk_test::error_contains("no device allocation"));
    EXPECT_EQ(b.buf.device, 0u);
    // copy_to_device allocates first, as Halide's does.
    hvk_test::clear_errors();
    EXPECT_EQ(halide_vulkan_copy_to_device(nullptr, &b.buf), 0);
    EXPECT_NE(b.buf.device, 0u);
    EXPECT_TRUE(hvk_test::errors().empty());
}

TEST_F(CopyErrorsTest, StaleAndForeignHandles) {
    TestBuffer b(uint_type(32), {0}, {64});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &b.buf), 0);
    halide_buffer_t stale = b.buf;  // shallow copy
    ASSERT_EQ(halide_vulkan_device_free(nullptr, &b.buf), 0);
    hvk_test::clear_errors();
    const auto before = snapshot(stale);
    EXPECT_EQ(halide_vulkan_copy_to_host(nullptr, &stale), -14);
    EXPECT_EQ(halide_vulkan_copy_to_device(nullptr, &stale), -15);
    EXPECT_EQ(snapshot(stale), before);
    EXPECT_EQ(hvk_test::errors().size(), 2u);

    halide_buffer_t garbage = stale;
    garbage.device = 0x12345678;
    hvk_test::clear_errors();
    EXPECT_EQ(halide_vulkan_copy_to_host(nullptr, &garbage), -14);
    EXPECT_FALSE(hvk_test::errors().empty());
}

TEST_F(CopyErrorsTest, BufferCopyMismatches) {
    TestBuffer a(uint_type(32), {0, 0}, {8, 8});
    TestBuffer one_d(uint_type(32), {0}, {64});
    TestBuffer bytes(uint_type(8), {0, 0}, {8, 8});
    a.buf.set_host_dirty(true);
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &one_d.buf), 0);
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &bytes.buf), 0);
    const auto one_d_before = snapshot(one_d.buf);
    EXPECT_EQ(halide_vulkan_buffer_copy(nullptr, &a.buf, vk(), &one_d.buf), -39);
    EXPECT_TRUE(hvk_test::error_contains("dimensionality"));
    EXPECT_EQ(halide_vulkan_buffer_copy(nullptr, &a.buf, vk(), &bytes.buf), -39);
    EXPECT_TRUE(hvk_test::error_contains("element sizes"));
    EXPECT_EQ(snapshot(one_d.buf), one_d_before);

    // More than 16 destination dimensions: -6.
    std::vector<halide_dimension_t> many(17, halide_dimension_t{0, 1, 1, 0});
    halide_buffer_t big = a.buf;
    big.dimensions = 17;
    big.dim = many.data();
    big.device = 0;
    big.device_interface = nullptr;
    hvk_test::clear_errors();
    EXPECT_EQ(halide_vulkan_buffer_copy(nullptr, &a.buf, nullptr, &big), -6);
    EXPECT_FALSE(hvk_test::errors().empty());
}

TEST_F(CopyErrorsTest, ForeignInterfaces) {
    // A stand-in interface that is not Vulkan's.
    static halide_device_interface_t other = *vk();
    TestBuffer a(uint_type(32), {0}, {64});
    TestBuffer b(uint_type(32), {0}, {64});
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &b.buf), 0);
    a.buf.set_host_dirty(true);
    EXPECT_EQ(halide_vulkan_buffer_copy(nullptr, &a.buf, &other, &b.buf), -39);
    EXPECT_TRUE(hvk_test::error_contains("not Vulkan"));
    // A device-dirty source on another interface: -42 (the generic layer
    // falls back to another route), without an error report.
    halide_buffer_t foreign = a.buf;
    foreign.device = 1;
    foreign.device_interface = &other;
    foreign.flags = halide_buffer_flag_device_dirty;
    hvk_test::clear_errors();
    EXPECT_EQ(halide_vulkan_buffer_copy(nullptr, &foreign, vk(), &b.buf), -42);
    EXPECT_TRUE(hvk_test::errors().empty());
}

TEST_F(CopyErrorsTest, DeviceSyncWithNullBufferAndRecovery) {
    EXPECT_EQ(halide_vulkan_device_sync(nullptr, nullptr), 0);
    // After errors, copies keep working.
    EXPECT_EQ(halide_vulkan_copy_to_host(nullptr, nullptr), -14);
    TestBuffer b(uint_type(16), {0}, {1000});
    hvk_test::clear_errors();
    round_trip(b, 3);
    EXPECT_TRUE(hvk_test::errors().empty());
}

}  // namespace
