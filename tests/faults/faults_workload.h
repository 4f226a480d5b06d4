// The representative workload the allocation-failure tests run again and
// again: context creation, device_malloc, upload, crop, wrap of a
// runtime-owned VkBuffer, two kernels (one reading the crop), a
// device-to-device copy through the wrapped view, downloads with checked
// results, then crop release, detach, frees and finalize.
//
// run() stops at the first failing call and returns its code; cleanup()
// always undoes whatever exists (it must never fail) and releases the
// context, so that every host allocation the runtime made is gone.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"
#include "test_kernel_blobs.h"

namespace faults {

inline const halide_device_interface_t *vk() { return halide_vulkan_device_interface(); }

// A dense 1-D host buffer.
struct Vec {
    std::vector<uint8_t> host;
    halide_dimension_t dim{};
    halide_buffer_t b{};
    Vec(halide_type_t t, int n, int min = 0) {
        host.assign(size_t(n) * t.bytes(), 0);
        dim = halide_dimension_t{min, n, 1, 0};
        b.type = t;
        b.dimensions = 1;
        b.dim = &dim;
        b.host = host.data();
    }
    template <typename T>
    T *as() { return reinterpret_cast<T *>(host.data()); }
};

inline halide_type_t f32() { return halide_type_t(halide_type_float, 32, 1); }
inline halide_type_t i32() { return halide_type_t(halide_type_int, 32, 1); }

struct Workload {
    static constexpr int kN = 256;
    static constexpr int kCropMin = 64;
    static constexpr int kCropN = 128;
    // Larger buffers make each device allocation its own block in the
    // device-memory test; the host test keeps them small.
    explicit Workload(int n = kN) : n(n), a(f32(), n), b(f32(), n), c(f32(), kCropN, kCropMin), w(f32(), n),
                                    ib(i32(), kCropN), d(f32(), n) {}

    int n;
    Vec a, b, c, w, ib, d;
    void *slot = nullptr;
    bool kernels_initialized = false;
    std::string step;  // the step that failed

    int fail(const char *what, int rc) {
        step = what;
        return rc;
    }

    static int run_kernel(void *slot, const char *entry, int blocks, int threads, std::vector<size_t> sizes,
                          std::vector<void *> args, std::vector<int8_t> is_buffer) {
        sizes.push_back(0);
        args.push_back(nullptr);
        is_buffer.push_back(0);
        return halide_vulkan_run(nullptr, slot, entry, blocks, 1, 1, threads, 1, 1, 0, sizes.data(), args.data(),
                                 is_buffer.data());
    }

    int run() {
        for (int i = 0; i < n; i++) {
            a.as<float>()[i] = float(i) * 0.5f;
        }
        // Context, malloc, upload.
        if (int rc = halide_device_malloc(nullptr, &a.b, vk())) return fail("malloc a", rc);
        a.b.set_host_dirty(true);
        if (int rc = halide_copy_to_device(nullptr, &a.b, vk())) return fail("upload a", rc);
        if (int rc = halide_device_malloc(nullptr, &b.b, vk())) return fail("malloc b", rc);
        if (int rc = halide_device_malloc(nullptr, &ib.b, vk())) return fail("malloc ib", rc);
        // Crop of a: elements [64, 192).
        c.b.host = a.b.host + kCropMin * 4;
        if (int rc = halide_device_crop(nullptr, &a.b, &c.b)) return fail("crop", rc);
        // Kernels.
        if (int rc = halide_vulkan_initialize_kernels(nullptr, &slot, reinterpret_cast<const char *>(hvk_blob_basic),
                                                      int(hvk_blob_basic_size))) {
            return fail("initialize_kernels", rc);
        }
        kernels_initialized = true;
        float scale = 3.0f, bias = 1.0f;
        int32_t count = n;
        if (int rc = run_kernel(slot, "k_scale_f32", (n + 63) / 64, 64, {8, 8, 4, 4, 4},
                                {&b.b, &a.b, &scale, &bias, &count}, {1, 1, 0, 0, 0})) {
            return fail("run k_scale_f32", rc);
        }
        if (int rc = run_kernel(slot, "k_add_one_noscalar", kCropN / 32, 32, {8, 8}, {&ib.b, &c.b}, {1, 1})) {
            return fail("run k_add_one_noscalar", rc);
        }
        // Wrap b's VkBuffer and copy through the wrapped view.
        const uint64_t vb = halide_vulkan_get_vk_buffer(nullptr, &b.b);
        if (vb == 0) return fail("get_vk_buffer", -1);
        if (int rc = halide_device_wrap_native(nullptr, &w.b, vb, vk())) return fail("wrap", rc);
        if (int rc = halide_device_malloc(nullptr, &d.b, vk())) return fail("malloc d", rc);
        if (int rc = halide_buffer_copy(nullptr, &w.b, vk(), &d.b)) return fail("device copy", rc);
        // Downloads.
        d.b.set_device_dirty(true);
        if (int rc = halide_copy_to_host(nullptr, &d.b)) return fail("download d", rc);
        ib.b.set_device_dirty(true);
        if (int rc = halide_copy_to_host(nullptr, &ib.b)) return fail("download ib", rc);
        return 0;
    }

    // Results of a complete run.
    void check_results() {
        for (int i = 0; i < n; i++) {
            ASSERT_FLOAT_EQ(d.as<float>()[i], float(i) * 0.5f * 3.0f + 1.0f) << i;
        }
        for (int i = 0; i < kCropN; i++) {
            int32_t bits;
            const float v = float(i + kCropMin) * 0.5f;
            std::memcpy(&bits, &v, 4);
            ASSERT_EQ(ib.as<int32_t>()[i], bits + 1) << i;
        }
    }

    // Undoes everything; each call must succeed whatever state run() left.
    void cleanup(bool release = true) {
        EXPECT_EQ(halide_device_free(nullptr, &d.b), 0);
        EXPECT_EQ(halide_device_detach_native(nullptr, &w.b), 0);
        EXPECT_EQ(halide_device_release_crop(nullptr, &c.b), 0);
        EXPECT_EQ(halide_device_free(nullptr, &ib.b), 0);
        EXPECT_EQ(halide_device_free(nullptr, &b.b), 0);
        EXPECT_EQ(halide_device_free(nullptr, &a.b), 0);
        if (kernels_initialized) {
            halide_vulkan_finalize_kernels(nullptr, slot);
        }
        if (release) {
            halide_device_release(nullptr, vk());
            EXPECT_FALSE(halide_vulkan_is_initialized());
        }
    }
};

}  // namespace faults
