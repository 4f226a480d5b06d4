// halide_vulkan_initialize_kernels / run / finalize on the test device with
// the project's GLSL kernels (shaders/, packed as Halide blobs) and the
// fixture blobs: results against CPU references, crops and wrapped buffers
// at aligned and unaligned offsets, vector-typed arrays, every scalar type,
// many buffers, shared-memory and work-group specialisation, old and new
// argument-block layouts, the state-slot contract, the pipeline cache,
// the validation policy, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <type_traits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "vulkan/context/context_scope.h"
#include "vulkan/util/host_alloc.h"
#include "vulkan/kernels/kernel_cache.h"
#include "kernel_args.h"
#include "kernel_test_util.h"
#include "test_env.h"
#include "test_kernel_blobs.h"

namespace {

using namespace ktest;

const halide_device_interface_t *vk() {
    return halide_vulkan_device_interface();
}

// A dense 1-D or 2-D host buffer with optional device memory.
template <typename T>
struct Buf {
    std::vector<T> host;
    halide_dimension_t dim[2] = {};
    halide_buffer_t buf{};

    explicit Buf(int width, int height = 0) {
        const int n = width * (height > 0 ? height : 1);
        host.assign(size_t(n), T());
        dim[0] = {0, width, 1, 0};
        dim[1] = {0, height, width, 0};
        buf.host = reinterpret_cast<uint8_t *>(host.data());
        buf.dim = dim;
        buf.dimensions = height > 0 ? 2 : 1;
        buf.type = type_of();
    }
    ~Buf() {
        if (buf.device != 0) {
            halide_device_free(nullptr, &buf);
        }
    }
    Buf(const Buf &) = delete;
    Buf &operator=(const Buf &) = delete;

    static halide_type_t type_of() {
        if (std::is_floating_point<T>::value) {
            return halide_type_t(halide_type_float, uint8_t(8 * sizeof(T)), 1);
        }
        return halide_type_t(std::is_signed<T>::value ? halide_type_int : halide_type_uint, uint8_t(8 * sizeof(T)),
                             1);
    }
    int upload() {
        buf.flags |= 1;  // host dirty
        return halide_copy_to_device(nullptr, &buf, vk());
    }
    int download() {
        buf.flags |= 2;  // device dirty
        return halide_copy_to_host(nullptr, &buf);
    }
    int alloc() { return halide_device_malloc(nullptr, &buf, vk()); }
};

// A view (crop) of a 1-D parent starting at element `offset`.
template <typename T>
struct Crop {
    halide_dimension_t dim = {};
    halide_buffer_t buf{};
    Crop(Buf<T> &parent, int offset, int extent) {
        buf.type = parent.buf.type;
        buf.dimensions = 1;
        dim = {offset, extent, 1, 0};  // parent coordinates
        buf.dim = &dim;
        buf.host = parent.buf.host + size_t(offset) * sizeof(T);
    }
    int make(Buf<T> &parent) { return halide_device_crop(nullptr, &parent.buf, &buf); }
    ~Crop() {
        if (buf.device != 0) {
            halide_device_release_crop(nullptr, &buf);
        }
    }
};

// One pipeline's state slot plus its blob.
struct Kernels {
    void *slot = nullptr;
    const unsigned char *blob;
    size_t size;
    Kernels(const unsigned char *b, size_t n) : blob(b), size(n) {}
    int init() { return halide_vulkan_initialize_kernels(nullptr, &slot, reinterpret_cast<const char *>(blob), int(size)); }
    void finalize() { halide_vulkan_finalize_kernels(nullptr, slot); }
};

using Args = hvk_test::KernelArgs;

int run(Kernels &k, const char *entry, int bx, int by, int bz, int tx, int ty, int tz, int shared, Args &a) {
    return a.run(k.slot, entry, bx, by, bz, tx, ty, tz, shared);
}

hvk::Device *device() {
    hvk::ContextScope scope(nullptr, "test");
    return scope.device();
}

uint32_t storage_alignment() {
    return uint32_t(device()->properties.limits.minStorageBufferOffsetAlignment);
}

class Dispatch : public ::testing::Test {
protected:
    void SetUp() override { hvk_test::clear_errors(); }
};

TEST_F(Dispatch, ScaleF32) {
    Kernels k(hvk_blob_basic, hvk_blob_basic_size);
    ASSERT_EQ(k.init(), 0) << hvk_test::last_error();
    EXPECT_NE(k.slot, nullptr);
    const int n = 1000;
    Buf<float> in(n), out(n);
    for (int i = 0; i < n; i++) {
        in.host[size_t(i)] = float(i) * 0.5f;
    }
    ASSERT_EQ(in.upload(), 0);
    ASSERT_EQ(out.alloc(), 0);
    Args a;
    a.buffer(&out.buf).buffer(&in.buf).scalar(3.0f).scalar(1.0f).scalar(int32_t(n));
    // Buffers first, then scalars: that is the order Halide passes them.
    Args b;
    b.buffer(&out.buf).buffer(&in.buf).scalar(3.0f).scalar(1.0f).scalar(int32_t(n));
    ASSERT_EQ(run(k, "k_scale_f32", (n + 63) / 64, 1, 1, 64, 1, 1, 0, b), 0) << hvk_test::last_error();
    k.finalize();
    ASSERT_EQ(out.download(), 0);
    for (int i = 0; i < n; i++) {
        ASSERT_FLOAT_EQ(out.host[size_t(i)], float(i) * 0.5f * 3.0f + 1.0f) << i;
    }
}

TEST_F(Dispatch, Saxpy2D) {
    Kernels k(hvk_blob_basic, hvk_blob_basic_size);
    ASSERT_EQ(k.init(), 0);
    const int w = 37, h = 21;
    Buf<float> x(w, h), y(w, h), out(w, h);
    for (int i = 0; i < w * h; i++) {
        x.host[size_t(i)] = float(i);
        y.host[size_t(i)] = float(i % 7);
    }
    ASSERT_EQ(x.upload(), 0);
    ASSERT_EQ(y.upload(), 0);
    ASSERT_EQ(out.alloc(), 0);
    Args a;
    a.buffer(&out.buf).buffer(&x.buf).buffer(&y.buf).scalar(2.5f).scalar(w).scalar(h).scalar(w).scalar(w).scalar(w);
    ASSERT_EQ(run(k, "k_saxpy_f32", (w + 15) / 16, (h + 15) / 16, 1, 16, 16, 1, 0, a), 0) << hvk_test::last_error();
    k.finalize();
    ASSERT_EQ(out.download(), 0);
    for (int i = 0; i < w * h; i++) {
        ASSERT_FLOAT_EQ(out.host[size_t(i)], 2.5f * float(i) + float(i % 7)) << i;
    }
}

// Crops of input and output at aligned and unaligned element offsets:
// the descriptor binds the aligned-down offset, the remainder is the
// element offset in the argument block.
TEST_F(Dispatch, CropsAtAlignedAndUnalignedOffsets) {
    Kernels k(hvk_blob_basic, hvk_blob_basic_size);
    ASSERT_EQ(k.init(), 0);
    const int n = 512;
    const int align_elems = int(storage_alignment() / 4) > 0 ? int(storage_alignment() / 4) : 1;
    const int offsets[] = {0, 1, 3, align_elems, align_elems + 1, 2 * align_elems, 2 * align_elems + 3, 63, 100};
    for (int in_off : offsets) {
        for (int out_off : {0, 5, align_elems}) {
            SCOPED_TRACE("in offset " + std::to_string(in_off) + ", out offset " + std::to_string(out_off));
            Buf<float> in(n), out(n);
            for (int i = 0; i < n; i++) {
                in.host[size_t(i)] = float(i);
                out.host[size_t(i)] = -1.0f;
            }
            ASSERT_EQ(in.upload(), 0);
            ASSERT_EQ(out.upload(), 0);
            const int m = 200;
            Crop<float> cin(in, in_off, m), cout(out, out_off, m);
            ASSERT_EQ(cin.make(in), 0) << hvk_test::last_error();
            ASSERT_EQ(cout.make(out), 0) << hvk_test::last_error();
            Args a;
            a.buffer(&cout.buf).buffer(&cin.buf).scalar(2.0f).scalar(0.25f).scalar(m);
            ASSERT_EQ(run(k, "k_scale_f32", (m + 63) / 64, 1, 1, 64, 1, 1, 0, a), 0) << hvk_test::last_error();
            ASSERT_EQ(out.download(), 0);
            for (int i = 0; i < n; i++) {
                const bool inside = i >= out_off && i < out_off + m;
                const float want = inside ? float(i - out_off + in_off) * 2.0f + 0.25f : -1.0f;
                ASSERT_EQ(out.host[size_t(i)], want) << "element " << i;
            }
        }
    }
    k.finalize();
}

TEST_F(Dispatch, WrappedBuffersAtOffsets) {
    Kernels k(hvk_blob_basic, hvk_blob_basic_size);
    ASSERT_EQ(k.init(), 0);
    const int n = 256;
    Buf<float> in(n), backing(n);
    for (int i = 0; i < n; i++) {
        in.host[size_t(i)] = float(i + 1);
        backing.host[size_t(i)] = 0.0f;
    }
    ASSERT_EQ(in.upload(), 0);
    ASSERT_EQ(backing.upload(), 0);
    const uint64_t vkbuf = halide_vulkan_get_vk_buffer(nullptr, &backing.buf);
    const uint64_t base = halide_vulkan_get_vk_crop_offset(nullptr, &backing.buf);
    ASSERT_NE(vkbuf, 0u);
    const uint32_t align = storage_alignment();
    for (uint64_t byte_off : {uint64_t(align), uint64_t(4), uint64_t(12), uint64_t(align) * 3 + 8}) {
        SCOPED_TRACE("wrap offset " + std::to_string(byte_off));
        const int m = 64;
        Buf<float> view(m);
        ASSERT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &view.buf, vkbuf, base + byte_off), 0) << hvk_test::last_error();
        Args a;
        a.buffer(&view.buf).buffer(&in.buf).scalar(1.0f).scalar(float(byte_off)).scalar(m);
        ASSERT_EQ(run(k, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0, a), 0) << hvk_test::last_error();
        ASSERT_EQ(backing.download(), 0);
        for (int i = 0; i < m; i++) {
            ASSERT_EQ(backing.host[size_t(byte_off / 4) + size_t(i)], float(i + 1) + float(byte_off)) << i;
        }
        EXPECT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &view.buf), 0);
    }
    // 2 bytes into a float array cannot be expressed as an element offset.
    Buf<float> bad(16);
    ASSERT_EQ(halide_vulkan_wrap_vk_buffer(nullptr, &bad.buf, vkbuf, base + 2), 0);
    Args a;
    a.buffer(&bad.buf).buffer(&in.buf).scalar(1.0f).scalar(0.0f).scalar(16);
    hvk_test::clear_errors();
    EXPECT_EQ(run(k, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0, a), -23);
    EXPECT_TRUE(hvk_test::error_contains("not a whole number")) << hvk_test::last_error();
    EXPECT_EQ(halide_vulkan_detach_vk_buffer(nullptr, &bad.buf), 0);
    k.finalize();
}

// vec4 runtime arrays: the element offset counts vectors (ArrayStride 16).
TEST_F(Dispatch, VectorArraysUseTheArrayStride) {
    Kernels k(hvk_blob_basic, hvk_blob_basic_size);
    ASSERT_EQ(k.init(), 0);
    const int n = 1024;
    const uint32_t align = storage_alignment();
    for (int off : {0, 4, 8, 12, int(align / 4), int(align / 4) + 4, 64}) {
        if (off % 4 != 0) {
            continue;
        }
        SCOPED_TRACE("offset " + std::to_string(off));
        Buf<float> in(n), out(n);
        for (int i = 0; i < n; i++) {
            in.host[size_t(i)] = float(i);
        }
        ASSERT_EQ(in.upload(), 0);
        ASSERT_EQ(out.upload(), 0);
        const int m = 256;
        Crop<float> cin(in, off, m), cout(out, off, m);
        ASSERT_EQ(cin.make(in), 0);
        ASSERT_EQ(cout.make(out), 0);
        Args a;
        a.buffer(&cout.buf).buffer(&cin.buf).scalar(3.0f).scalar(m / 4);
        ASSERT_EQ(run(k, "k_scale_vec4", m / 4 / 32 + 1, 1, 1, 32, 1, 1, 0, a), 0) << hvk_test::last_error();
        ASSERT_EQ(out.download(), 0);
        for (int i = off; i < off + m; i++) {
            ASSERT_EQ(out.host[size_t(i)], 3.0f * float(i)) << i;
        }
    }
    // 2 floats (8 bytes) past an aligned offset: not a whole vec4.
    Buf<float> in(n), out(n);
    ASSERT_EQ(in.upload(), 0);
    ASSERT_EQ(out.upload(), 0);
    Crop<float> cin(in, int(align / 4) + 2, 64), cout(out, 0, 64);
    ASSERT_EQ(cin.make(in), 0);
    ASSERT_EQ(cout.make(out), 0);
    Args a;
    a.buffer(&cout.buf).buffer(&cin.buf).scalar(3.0f).scalar(16);
    EXPECT_EQ(run(k, "k_scale_vec4", 1, 1, 1, 32, 1, 1, 0, a), -23);
    EXPECT_TRUE(hvk_test::error_contains("16-byte array elements")) << hvk_test::last_error();
    k.finalize();
}

TEST_F(Dispatch, BrightenU8WithOddCrops) {
    Kernels k(hvk_blob_types, hvk_blob_types_size);
    ASSERT_EQ(k.init(), 0) << hvk_test::last_error();
    const int n = 333;
    for (int off : {0, 1, 7, 17}) {
        Buf<uint8_t> in(n), out(n);
        for (int i = 0; i < n; i++) {
            in.host[size_t(i)] = uint8_t(i * 7);
        }
        ASSERT_EQ(in.upload(), 0);
        ASSERT_EQ(out.upload(), 0);
        const int m = n - 20;
        Crop<uint8_t> cin(in, off, m), cout(out, off + 2, m);
        ASSERT_EQ(cin.make(in), 0);
        ASSERT_EQ(cout.make(out), 0);
        Args a;
        a.buffer(&cout.buf).buffer(&cin.buf).scalar(int32_t(m)).scalar(uint8_t(40));
        ASSERT_EQ(run(k, "k_brighten_u8", (m + 63) / 64, 1, 1, 64, 1, 1, 0, a), 0) << hvk_test::last_error();
        ASSERT_EQ(out.download(), 0);
        for (int i = 0; i < m; i++) {
            const unsigned v = unsigned(in.host[size_t(i + off)]) * 3 / 2 + 40;
            ASSERT_EQ(out.host[size_t(i + off + 2)], uint8_t(v > 255 ? 255 : v)) << i;
        }
    }
    k.finalize();
}

TEST_F(Dispatch, BlurU16SharedMemorySpecialisation) {
    Kernels k(hvk_blob_types, hvk_blob_types_size);
    ASSERT_EQ(k.init(), 0);
    const int n = 250;
    Buf<uint16_t> in(n), out(n);
    for (int i = 0; i < n; i++) {
        in.host[size_t(i)] = uint16_t((i * 131) % 60000);
    }
    ASSERT_EQ(in.upload(), 0);
    ASSERT_EQ(out.alloc(), 0);
    const uint64_t pipelines_before = hvk::kernel_stats().pipelines_created;
    for (int rep = 0; rep < 3; rep++) {
        Args a;
        a.buffer(&out.buf).buffer(&in.buf).scalar(int32_t(n));
        // (64 + 2) uint32 elements of shared memory, passed as bytes.
        ASSERT_EQ(run(k, "k_blur_u16", (n + 63) / 64, 1, 1, 64, 1, 1, 66 * 4, a), 0) << hvk_test::last_error();
    }
    EXPECT_EQ(hvk::kernel_stats().pipelines_created, pipelines_before + 1);
    ASSERT_EQ(out.download(), 0);
    for (int i = 0; i < n; i++) {
        auto at = [&](int j) { return unsigned(in.host[size_t(j < 0 ? 0 : (j >= n ? n - 1 : j))]); };
        ASSERT_EQ(out.host[size_t(i)], uint16_t((at(i - 1) + at(i) + at(i + 1)) / 3)) << i;
    }
    // A larger shared size is another specialisation (still correct).
    Args a;
    a.buffer(&out.buf).buffer(&in.buf).scalar(int32_t(n));
    ASSERT_EQ(run(k, "k_blur_u16", (n + 63) / 64, 1, 1, 64, 1, 1, 80 * 4, a), 0);
    EXPECT_EQ(hvk::kernel_stats().pipelines_created, pipelines_before + 2);
    // Over the device's limit: a clear error.
    Args big;
    big.buffer(&out.buf).buffer(&in.buf).scalar(int32_t(n));
    const int too_much = int(device()->properties.limits.maxComputeSharedMemorySize) + 4;
    EXPECT_EQ(run(k, "k_blur_u16", 1, 1, 1, 64, 1, 1, too_much, big), -42);
    EXPECT_TRUE(hvk_test::error_contains("shared memory")) << hvk_test::last_error();
    k.finalize();
}

TEST_F(Dispatch, EveryScalarType) {
    Kernels k(hvk_blob_types, hvk_blob_types_size);
    ASSERT_EQ(k.init(), 0) << hvk_test::last_error();
    Buf<uint32_t> out(20);
    ASSERT_EQ(out.upload(), 0);
    Crop<uint32_t> view(out, 3, 14);
    ASSERT_EQ(view.make(out), 0);
    const double f64 = -1234.5678;
    const int64_t i64 = -0x123456789abcll;
    const uint64_t u64 = 0xfedcba9876543210ull;
    const float f32 = 3.25f;
    const uint16_t f16 = 0x3c00;  // 1.0 as float16 bits
    Args a;
    a.buffer(&view.buf)
        .scalar(f64)
        .scalar(i64)
        .scalar(u64)
        .scalar(f32)
        .scalar(int32_t(-77))
        .scalar(uint32_t(0xdeadbeefu))
        .scalar(f16)
        .scalar(int16_t(-300))
        .scalar(uint16_t(65000))
        .scalar(int8_t(-5))
        .scalar(uint8_t(250));
    ASSERT_EQ(run(k, "k_all_scalars", 1, 1, 1, 1, 1, 1, 0, a), 0) << hvk_test::last_error();
    ASSERT_EQ(out.download(), 0);
    const uint32_t *o = out.host.data() + 3;
    uint64_t bits;
    std::memcpy(&bits, &f64, 8);
    EXPECT_EQ(o[0], uint32_t(bits));
    EXPECT_EQ(o[1], uint32_t(bits >> 32));
    EXPECT_EQ(o[2], uint32_t(uint64_t(i64)));
    EXPECT_EQ(o[3], uint32_t(uint64_t(i64) >> 32));
    EXPECT_EQ(o[4], uint32_t(u64));
    EXPECT_EQ(o[5], uint32_t(u64 >> 32));
    uint32_t fb;
    std::memcpy(&fb, &f32, 4);
    EXPECT_EQ(o[6], fb);
    EXPECT_EQ(int32_t(o[7]), -77);
    EXPECT_EQ(o[8], 0xdeadbeefu);
    EXPECT_EQ(o[9], 0x3c00u);
    EXPECT_EQ(int32_t(o[10]), -300);
    EXPECT_EQ(o[11], 65000u);
    EXPECT_EQ(int32_t(o[12]), -5);
    EXPECT_EQ(o[13], 250u);
    EXPECT_EQ(out.host[0], 0u);  // outside the crop: untouched
    k.finalize();
}

TEST_F(Dispatch, NineBuffers) {
    Kernels k(hvk_blob_basic, hvk_blob_basic_size);
    ASSERT_EQ(k.init(), 0);
    const int n = 300;
    std::vector<std::unique_ptr<Buf<int32_t>>> ins;
    std::vector<std::unique_ptr<Crop<int32_t>>> crops;
    Buf<int32_t> out(n);
    ASSERT_EQ(out.alloc(), 0);
    Args a;
    a.buffer(&out.buf);
    for (int b = 0; b < 8; b++) {
        ins.emplace_back(new Buf<int32_t>(n + 16));
        for (int i = 0; i < n + 16; i++) {
            ins.back()->host[size_t(i)] = i * (b + 1);
        }
        ASSERT_EQ(ins.back()->upload(), 0);
        crops.emplace_back(new Crop<int32_t>(*ins.back(), b, n));
        ASSERT_EQ(crops.back()->make(*ins.back()), 0);
        a.buffer(&crops.back()->buf);
    }
    a.scalar(int32_t(n));
    ASSERT_EQ(run(k, "k_sum8", (n + 63) / 64, 1, 1, 64, 1, 1, 0, a), 0) << hvk_test::last_error();
    ASSERT_EQ(out.download(), 0);
    for (int i = 0; i < n; i++) {
        int want = 0;
        for (int b = 0; b < 8; b++) {
            want += (i + b) * (b + 1);
        }
        ASSERT_EQ(out.host[size_t(i)], want) << i;
    }
    k.finalize();
}

TEST_F(Dispatch, NoScalarKernelAndLegacyLayouts) {
    Kernels basic(hvk_blob_basic, hvk_blob_basic_size);
    Kernels legacy(hvk_blob_legacy, hvk_blob_legacy_size);
    ASSERT_EQ(basic.init(), 0);
    ASSERT_EQ(legacy.init(), 0) << hvk_test::last_error();
    const int n = 100;
    Buf<int32_t> in(n + 8), out(n);
    for (int i = 0; i < n + 8; i++) {
        in.host[size_t(i)] = i * 3;
    }
    ASSERT_EQ(in.upload(), 0);
    ASSERT_EQ(out.alloc(), 0);
    {
        // Current Halide, no scalars: the block holds only the offsets.
        Crop<int32_t> cin(in, 5, n);
        ASSERT_EQ(cin.make(in), 0);
        Args a;
        a.buffer(&out.buf).buffer(&cin.buf);
        ASSERT_EQ(run(basic, "k_add_one_noscalar", (n + 31) / 32, 1, 1, 32, 1, 1, 0, a), 0) << hvk_test::last_error();
        ASSERT_EQ(out.download(), 0);
        for (int i = 0; i < n; i++) {
            ASSERT_EQ(out.host[size_t(i)], (i + 5) * 3 + 1) << i;
        }
    }
    {
        // Pre-offset layout without scalars: U = 0, buffers from binding 0.
        Args a;
        a.buffer(&out.buf).buffer(&in.buf);
        ASSERT_EQ(run(legacy, "k_legacy_noscalar", (n + 31) / 32, 1, 1, 32, 1, 1, 0, a), 0) << hvk_test::last_error();
        ASSERT_EQ(out.download(), 0);
        for (int i = 0; i < n; i++) {
            ASSERT_EQ(out.host[size_t(i)], i * 6) << i;
        }
    }
    {
        // Pre-offset layout with scalars; an aligned crop binds at its byte offset.
        Buf<float> fin(n + 64), fout(n);
        for (int i = 0; i < n + 64; i++) {
            fin.host[size_t(i)] = float(i);
        }
        ASSERT_EQ(fin.upload(), 0);
        ASSERT_EQ(fout.alloc(), 0);
        const int aligned = int(storage_alignment() / 4);
        Crop<float> cin(fin, aligned, n);
        ASSERT_EQ(cin.make(fin), 0);
        Args a;
        a.buffer(&fout.buf).buffer(&cin.buf).scalar(2.0f).scalar(int32_t(n));
        ASSERT_EQ(run(legacy, "k_legacy_scale", (n + 31) / 32, 1, 1, 32, 1, 1, 0, a), 0) << hvk_test::last_error();
        ASSERT_EQ(fout.download(), 0);
        for (int i = 0; i < n; i++) {
            ASSERT_EQ(fout.host[size_t(i)], 2.0f * float(i + aligned)) << i;
        }
        // An unaligned crop cannot be expressed without offsets: clear error.
        Crop<float> odd(fin, 1, n);
        ASSERT_EQ(odd.make(fin), 0);
        Args b;
        b.buffer(&fout.buf).buffer(&odd.buf).scalar(2.0f).scalar(int32_t(n));
        EXPECT_EQ(run(legacy, "k_legacy_scale", 1, 1, 1, 32, 1, 1, 0, b), -23);
        EXPECT_TRUE(hvk_test::error_contains("without per-buffer offsets")) << hvk_test::last_error();
    }
    basic.finalize();
    legacy.finalize();
}

TEST_F(Dispatch, DynamicWorkgroupSize) {
    Kernels k(hvk_blob_dynamic, hvk_blob_dynamic_size);
    ASSERT_EQ(k.init(), 0) << hvk_test::last_error();
    const int w = 50, h = 13;
    Buf<int32_t> out(w * h);
    ASSERT_EQ(out.alloc(), 0);
    const uint64_t before = hvk::kernel_stats().pipelines_created;
    const int shapes[][2] = {{8, 4}, {16, 2}, {8, 4}, {32, 1}, {16, 2}};
    for (const auto &s : shapes) {
        std::fill(out.host.begin(), out.host.end(), -1);
        ASSERT_EQ(out.upload(), 0);
        Args a;
        a.buffer(&out.buf).scalar(w).scalar(h);
        ASSERT_EQ(run(k, "k_dyn_wg", (w + s[0] - 1) / s[0], (h + s[1] - 1) / s[1], 1, s[0], s[1], 1, 0, a), 0)
            << hvk_test::last_error();
        ASSERT_EQ(out.download(), 0);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                ASSERT_EQ(out.host[size_t(x + y * w)], x + 1000 * y);
            }
        }
    }
    EXPECT_EQ(hvk::kernel_stats().pipelines_created, before + 3);  // three distinct shapes
    // Larger than the device allows.
    Args a;
    a.buffer(&out.buf).scalar(w).scalar(h);
    const int too_big = int(device()->properties.limits.maxComputeWorkGroupSize[0]) + 1;
    EXPECT_EQ(run(k, "k_dyn_wg", 1, 1, 1, too_big, 1, 1, 0, a), -42);
    EXPECT_TRUE(hvk_test::error_contains("maxComputeWorkGroupSize")) << hvk_test::last_error();
    Args b;
    b.buffer(&out.buf).scalar(w).scalar(h);
    EXPECT_EQ(run(k, "k_dyn_wg", 1, 1, 1, 1024, 1024, 1, 0, b), -42);
    k.finalize();
}

TEST_F(Dispatch, LocalSizeIdNeedsMaintenance4) {
    Kernels k(hvk_blob_dynamic_id, hvk_blob_dynamic_id_size);
    const hvk::DeviceCaps caps = device()->caps;
    const int rc = k.init();
    if (!caps.maintenance4 || VK_API_VERSION_MINOR(caps.api_version) < 3) {
        EXPECT_EQ(rc, -1);
        EXPECT_TRUE(hvk_test::error_contains("maintenance4") || hvk_test::error_contains("SPIR-V 1.6"))
            << hvk_test::last_error();
        return;
    }
    ASSERT_EQ(rc, 0) << hvk_test::last_error();
    const int w = 40, h = 9;
    Buf<int32_t> out(w * h);
    ASSERT_EQ(out.alloc(), 0);
    Args a;
    a.buffer(&out.buf).scalar(w).scalar(h);
    ASSERT_EQ(run(k, "k_dyn_wg_id", (w + 7) / 8, (h + 3) / 4, 1, 8, 4, 1, 0, a), 0) << hvk_test::last_error();
    ASSERT_EQ(out.download(), 0);
    for (int i = 0; i < w * h; i++) {
        ASSERT_EQ(out.host[size_t(i)], (i % w) + 1000 * (i / w));
    }
    k.finalize();
}

// A warm dispatch creates no Vulkan object and allocates no host memory
// in the runtime.
TEST_F(Dispatch, WarmDispatchCreatesNothing) {
    Kernels k(hvk_blob_basic, hvk_blob_basic_size);
    ASSERT_EQ(k.init(), 0);
    const int n = 256;
    Buf<float> in(n), out(n);
    ASSERT_EQ(in.upload(), 0);
    ASSERT_EQ(out.alloc(), 0);
    auto once = [&] {
        Args a;
        a.buffer(&out.buf).buffer(&in.buf).scalar(1.0f).scalar(2.0f).scalar(n);
        return run(k, "k_scale_f32", n / 64, 1, 1, 64, 1, 1, 0, a);
    };
    ASSERT_EQ(once(), 0);
    ASSERT_EQ(halide_device_sync(nullptr, &out.buf), 0);
    const hvk::KernelStats s0 = hvk::kernel_stats();
    const uint64_t host0 = hvk::host_alloc_stats().total_allocations;
    for (int i = 0; i < 2000; i++) {  // more than one batch, wraps the argument ring
        ASSERT_EQ(once(), 0);
    }
    const uint64_t host1 = hvk::host_alloc_stats().total_allocations;
    const hvk::KernelStats s1 = hvk::kernel_stats();
    EXPECT_EQ(host1, host0);
    EXPECT_EQ(s1.pipelines_created, s0.pipelines_created);
    EXPECT_EQ(s1.shader_modules_created, s0.shader_modules_created);
    EXPECT_EQ(s1.descriptor_pools_created, s0.descriptor_pools_created);
    EXPECT_EQ(s1.uniform_rings_created, s0.uniform_rings_created);
    EXPECT_EQ(s1.host_allocations, s0.host_allocations);
    EXPECT_EQ(s1.dispatches_recorded, s0.dispatches_recorded + 2000);
    k.finalize();
    ASSERT_EQ(out.download(), 0);
    for (int i = 0; i < n; i++) {
        ASSERT_EQ(out.host[size_t(i)], 2.0f);
    }
}

TEST_F(Dispatch, BatchedDispatchesAreOrdered) {
    // A chain of dependent dispatches in one batch: out = ((in*2)*2)... .
    Kernels k(hvk_blob_basic, hvk_blob_basic_size);
    ASSERT_EQ(k.init(), 0);
    const int n = 128;
    Buf<float> a(n), b(n);
    for (int i = 0; i < n; i++) {
        a.host[size_t(i)] = float(i);
    }
    ASSERT_EQ(a.upload(), 0);
    ASSERT_EQ(b.alloc(), 0);
    for (int step = 0; step < 10; step++) {
        Buf<float> &src = step % 2 == 0 ? a : b;
        Buf<float> &dst = step % 2 == 0 ? b : a;
        Args args;
        args.buffer(&dst.buf).buffer(&src.buf).scalar(1.0f).scalar(1.0f).scalar(n);
        ASSERT_EQ(run(k, "k_scale_f32", n / 64, 1, 1, 64, 1, 1, 0, args), 0);
    }
    k.finalize();
    ASSERT_EQ(a.download(), 0);
    for (int i = 0; i < n; i++) {
        ASSERT_EQ(a.host[size_t(i)], float(i) + 10.0f);
    }
}

// Descriptor sets from pools (no push descriptors), recycled by serial.
TEST_F(Dispatch, DescriptorPoolPath) {
    halide_device_release(nullptr, vk());
    hvk::kernel_cache_set_force_descriptor_pools(true);
    {
        Kernels k(hvk_blob_basic, hvk_blob_basic_size);
        ASSERT_EQ(k.init(), 0);
        const int n = 64;
        Buf<float> in(n), out(n);
        for (int i = 0; i < n; i++) {
            in.host[size_t(i)] = float(i);
        }
        ASSERT_EQ(in.upload(), 0);
        ASSERT_EQ(out.alloc(), 0);
        const hvk::KernelStats s0 = hvk::kernel_stats();
        for (int rep = 0; rep < 1000; rep++) {
            Args a;
            a.buffer(&out.buf).buffer(&in.buf).scalar(float(rep)).scalar(0.0f).scalar(n);
            ASSERT_EQ(run(k, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0, a), 0) << hvk_test::last_error();
            if (rep % 100 == 99) {
                k.finalize();  // submits the batch; its sets get recycled later
                ASSERT_EQ(k.init(), 0);
            }
        }
        k.finalize();
        const hvk::KernelStats s1 = hvk::kernel_stats();
        EXPECT_EQ(s1.pushed_dispatches, s0.pushed_dispatches);
        EXPECT_EQ(s1.descriptor_sets_allocated, s0.descriptor_sets_allocated + 1000);
        EXPECT_LE(s1.descriptor_pools_created - s0.descriptor_pools_created, 8u);
        ASSERT_EQ(out.download(), 0);
        for (int i = 0; i < n; i++) {
            ASSERT_EQ(out.host[size_t(i)], 999.0f * float(i));
        }
    }
    halide_device_release(nullptr, vk());
    hvk::kernel_cache_set_force_descriptor_pools(false);
}

// The state slot holds an id; after halide_device_release the old id is
// accepted and compiles again.
TEST_F(Dispatch, StateSlotContract) {
    Kernels k(hvk_blob_basic, hvk_blob_basic_size);
    ASSERT_EQ(k.init(), 0);
    void *const id = k.slot;
    ASSERT_TRUE(hvk::kernels_is_issued_id(id));
    EXPECT_LT(reinterpret_cast<uintptr_t>(id), uintptr_t(1) << 32);  // an integer, not a pointer
    // Initialise again without finalize (a skipped destructor): fine.
    ASSERT_EQ(k.init(), 0);
    EXPECT_EQ(k.slot, id);
    const uint64_t compiles = hvk::kernel_stats().blob_compilations;
    ASSERT_EQ(k.init(), 0);
    EXPECT_EQ(hvk::kernel_stats().blob_compilations, compiles);  // cached

    halide_device_release(nullptr, vk());
    // After release, run with the old id before init: clear error.
    {
        Buf<float> in(64), out(64);
        ASSERT_EQ(in.upload(), 0);
        ASSERT_EQ(out.alloc(), 0);
        Args a;
        a.buffer(&out.buf).buffer(&in.buf).scalar(1.0f).scalar(0.0f).scalar(64);
        EXPECT_EQ(run(k, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0, a), -22);
        EXPECT_TRUE(hvk_test::error_contains("no compiled kernels")) << hvk_test::last_error();
    }
    ASSERT_EQ(k.init(), 0) << hvk_test::last_error();
    EXPECT_EQ(k.slot, id);
    EXPECT_EQ(hvk::kernel_stats().blob_compilations, compiles + 1);
    Buf<float> in(64), out(64);
    for (int i = 0; i < 64; i++) {
        in.host[size_t(i)] = float(i);
    }
    ASSERT_EQ(in.upload(), 0);
    ASSERT_EQ(out.alloc(), 0);
    Args a;
    a.buffer(&out.buf).buffer(&in.buf).scalar(2.0f).scalar(0.0f).scalar(64);
    ASSERT_EQ(run(k, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0, a), 0) << hvk_test::last_error();
    k.finalize();
    k.finalize();  // extra finalize: harmless
    ASSERT_EQ(out.download(), 0);
    EXPECT_EQ(out.host[10], 20.0f);

    // A slot holding a value this runtime never issued is refused.
    void *bogus = reinterpret_cast<void *>(uintptr_t(0x7fff0000));
    EXPECT_EQ(halide_vulkan_initialize_kernels(nullptr, &bogus, reinterpret_cast<const char *>(hvk_blob_basic),
                                               int(hvk_blob_basic_size)),
              -1);
    EXPECT_TRUE(hvk_test::error_contains("not an id this runtime handed out")) << hvk_test::last_error();
    halide_vulkan_finalize_kernels(nullptr, bogus);  // ignored
}

TEST_F(Dispatch, BadInputIsAClearErrorAndTheRuntimeKeepsWorking) {
    Kernels k(hvk_blob_basic, hvk_blob_basic_size);
    ASSERT_EQ(k.init(), 0);
    const int n = 64;
    Buf<float> in(n), out(n);
    for (int i = 0; i < n; i++) {
        in.host[size_t(i)] = float(i);
    }
    ASSERT_EQ(in.upload(), 0);
    ASSERT_EQ(out.alloc(), 0);
    struct Case {
        const char *what;
        int expect;
        const char *message;
        std::function<int()> call;
    };
    Buf<float> no_device(n);
    halide_device_interface_t foreign_iface = *vk();
    halide_buffer_t foreign = in.buf;
    foreign.device_interface = &foreign_iface;
    halide_buffer_t stale = in.buf;
    stale.device ^= 0x5a5a;
    std::vector<Case> cases = {
        {"unknown entry point", -22, "no kernel named", [&] {
             Args a;
             a.buffer(&out.buf).buffer(&in.buf).scalar(1.0f).scalar(0.0f).scalar(n);
             return run(k, "k_nope", 1, 1, 1, 64, 1, 1, 0, a);
         }},
        {"never-initialised state", -22, "never initialised", [&] {
             Args a;
             a.buffer(&out.buf).buffer(&in.buf).scalar(1.0f).scalar(0.0f).scalar(n);
             a.terminate();
             return halide_vulkan_run(nullptr, reinterpret_cast<void *>(uintptr_t(0x7ffffff0)), "k_scale_f32", 1, 1, 1,
                                      64, 1, 1, 0, a.sizes.data(), a.ptrs.data(), a.is_buffer.data());
         }},
        {"buffer without device allocation", -22, "no device allocation", [&] {
             Args a;
             a.buffer(&out.buf).buffer(&no_device.buf).scalar(1.0f).scalar(0.0f).scalar(n);
             return run(k, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0, a);
         }},
        {"foreign buffer", -22, "another device interface", [&] {
             Args a;
             a.buffer(&out.buf).buffer(&foreign).scalar(1.0f).scalar(0.0f).scalar(n);
             return run(k, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0, a);
         }},
        {"stale handle", -22, "", [&] {
             Args a;
             a.buffer(&out.buf).buffer(&stale).scalar(1.0f).scalar(0.0f).scalar(n);
             return run(k, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0, a);
         }},
        {"more buffers than declared", -23, "declares 2 buffer arguments but was passed 3", [&] {
             Args a;
             a.buffer(&out.buf).buffer(&in.buf).buffer(&in.buf).scalar(1.0f).scalar(0.0f).scalar(n);
             return run(k, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0, a);
         }},
        {"wrong scalar count", -23, "fits neither", [&] {
             Args a;
             a.buffer(&out.buf).buffer(&in.buf).scalar(1.0f);
             return run(k, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0, a);
         }},
        {"oversized scalar", -23, "does not fit", [&] {
             Args a;
             a.buffer(&out.buf).buffer(&in.buf).scalar(1.0).scalar(0.0f).scalar(n);
             return run(k, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0, a);
         }},
        {"too many work-groups", -42, "maxComputeWorkGroupCount", [&] {
             Args a;
             a.buffer(&out.buf).buffer(&in.buf).scalar(1.0f).scalar(0.0f).scalar(n);
             const uint32_t max_y = device()->properties.limits.maxComputeWorkGroupCount[1];
             return run(k, "k_scale_f32", 1, int(std::min<uint32_t>(max_y, 0x7ffffffe) + 1), 1, 64, 1, 1, 0, a);
         }},
        {"negative grid", -23, "negative block count", [&] {
             Args a;
             a.buffer(&out.buf).buffer(&in.buf).scalar(1.0f).scalar(0.0f).scalar(n);
             return run(k, "k_scale_f32", -1, 1, 1, 64, 1, 1, 0, a);
         }},
    };
    for (Case &c : cases) {
        SCOPED_TRACE(c.what);
        hvk_test::clear_errors();
        EXPECT_EQ(c.call(), c.expect);
        EXPECT_FALSE(hvk_test::errors().empty());
        EXPECT_TRUE(hvk_test::error_contains(c.message)) << hvk_test::last_error();
        // Still works.
        Args a;
        a.buffer(&out.buf).buffer(&in.buf).scalar(2.0f).scalar(0.0f).scalar(n);
        ASSERT_EQ(run(k, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0, a), 0) << hvk_test::last_error();
    }
    // A zero-sized grid is a successful no-op.
    const uint64_t d0 = hvk::kernel_stats().dispatches_recorded;
    hvk_test::clear_errors();
    Args z;
    z.buffer(&out.buf).buffer(&in.buf).scalar(5.0f).scalar(0.0f).scalar(n);
    EXPECT_EQ(run(k, "k_scale_f32", 0, 1, 1, 64, 1, 1, 0, z), 0);
    EXPECT_TRUE(hvk_test::errors().empty());
    EXPECT_EQ(hvk::kernel_stats().dispatches_recorded, d0);
    k.finalize();
    ASSERT_EQ(out.download(), 0);
    EXPECT_EQ(out.host[7], 14.0f);
}

TEST_F(Dispatch, BadBlobsAreRefusedAtInitialisation) {
    // Truncated blob.
    void *slot = nullptr;
    EXPECT_EQ(halide_vulkan_initialize_kernels(nullptr, &slot, reinterpret_cast<const char *>(hvk_blob_basic), 100),
              -1);
    EXPECT_TRUE(hvk_test::error_contains("malformed kernel blob")) << hvk_test::last_error();
    // Header declares more storage buffers than the SPIR-V has: fine (unused
    // bindings); a header that puts the argument block nowhere: error.
    std::vector<RawModule> mods = split_blob(std::vector<uint8_t>(hvk_blob_basic, hvk_blob_basic + hvk_blob_basic_size));
    ASSERT_FALSE(mods.empty());
    RawModule m = mods[0];
    // Word layout: H, D, name len, name..., U, B, ... -> set U = 0.
    const uint32_t nw = m.header[2];
    m.header[3 + nw] = 0;
    std::vector<uint8_t> bad = join_blob({m});
    void *slot2 = nullptr;
    hvk_test::clear_errors();
    EXPECT_EQ(halide_vulkan_initialize_kernels(nullptr, &slot2, reinterpret_cast<const char *>(bad.data()),
                                               int(bad.size())),
              -1);
    EXPECT_TRUE(hvk_test::error_contains("binding 0")) << hvk_test::last_error();
}

TEST_F(Dispatch, ValidationPolicyAndRepairOfFixtureModules) {
    // scale_f16's module lacks an OpExtension; it is repaired, so even the
    // strict policy accepts it and nothing is logged.
    setenv("HL_VK_SPIRV_VALIDATION", "strict", 1);
    std::vector<uint8_t> f16 = fixture_blob("scale_f16");
    const hvk::KernelStats s0 = hvk::kernel_stats();
    void *slot = nullptr;
    EXPECT_EQ(halide_vulkan_initialize_kernels(nullptr, &slot, reinterpret_cast<const char *>(f16.data()),
                                               int(f16.size())),
              0)
        << hvk_test::last_error();
    EXPECT_GT(hvk::kernel_stats().modules_repaired, s0.modules_repaired);
    EXPECT_EQ(hvk::kernel_stats().validation_warnings, s0.validation_warnings);
    halide_vulkan_finalize_kernels(nullptr, slot);

    // A module the validator rejects and repair cannot fix: an input
    // variable missing from OpEntryPoint's interface list.
    std::vector<RawModule> mods = split_blob(std::vector<uint8_t>(hvk_blob_basic, hvk_blob_basic + hvk_blob_basic_size));
    RawModule m = mods[0];
    m.spirv = filter_spirv(m.spirv, [](const Words &) { return false; });
    for (size_t i = 5; i < m.spirv.size();) {
        const uint32_t n = m.spirv[i] >> 16;
        if ((m.spirv[i] & 0xffff) == kOpEntryPoint) {
            // Drop the last interface id.
            m.spirv[i] = ((n - 1) << 16) | kOpEntryPoint;
            m.spirv.erase(m.spirv.begin() + long(i + n - 1));
            break;
        }
        i += n;
    }
    std::vector<uint8_t> invalid = join_blob({m});
    void *slot2 = nullptr;
    hvk_test::clear_errors();
    EXPECT_EQ(halide_vulkan_initialize_kernels(nullptr, &slot2, reinterpret_cast<const char *>(invalid.data()),
                                               int(invalid.size())),
              -1);
    EXPECT_TRUE(hvk_test::error_contains("SPIR-V validation failed (HL_VK_SPIRV_VALIDATION=strict)"))
        << hvk_test::last_error();
    unsetenv("HL_VK_SPIRV_VALIDATION");
    if (hvk_test::validation_enabled()) {
        // Under "warn" the module would reach vkCreateShaderModule, where the
        // validation layer reports it (and fails this test): stop here.
        return;
    }
    const uint64_t warnings = hvk::kernel_stats().validation_warnings;
    void *slot3 = nullptr;
    EXPECT_EQ(halide_vulkan_initialize_kernels(nullptr, &slot3, reinterpret_cast<const char *>(invalid.data()),
                                               int(invalid.size())),
              0)
        << hvk_test::last_error();
    EXPECT_EQ(hvk::kernel_stats().validation_warnings, warnings + 1);
    setenv("HL_VK_SPIRV_VALIDATION", "off", 1);
    void *slot4 = nullptr;
    EXPECT_EQ(halide_vulkan_initialize_kernels(nullptr, &slot4, reinterpret_cast<const char *>(invalid.data()),
                                               int(invalid.size())),
              0);
    EXPECT_EQ(hvk::kernel_stats().validation_warnings, warnings + 1);
    unsetenv("HL_VK_SPIRV_VALIDATION");
}

TEST_F(Dispatch, FixtureBlobsCompileAndReuse) {
    for (const char *name : kFixtureNames) {
        SCOPED_TRACE(name);
        std::vector<uint8_t> blob = fixture_blob(name);
        void *slot = nullptr;
        ASSERT_EQ(halide_vulkan_initialize_kernels(nullptr, &slot, reinterpret_cast<const char *>(blob.data()),
                                                   int(blob.size())),
                  0)
            << hvk_test::last_error();
        const uint64_t c = hvk::kernel_stats().blob_compilations;
        for (int i = 0; i < 5; i++) {
            ASSERT_EQ(halide_vulkan_initialize_kernels(nullptr, &slot, reinterpret_cast<const char *>(blob.data()),
                                                       int(blob.size())),
                      0);
            halide_vulkan_finalize_kernels(nullptr, slot);
        }
        EXPECT_EQ(hvk::kernel_stats().blob_compilations, c);
    }
}

}  // namespace
