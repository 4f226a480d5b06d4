// The bad-input table (issue 6 item 6): one table of distinct bad inputs
// across the public API -- null and foreign buffers, stale handles, bad
// offsets, corrupt blobs, oversized and malformed shapes, wrong interfaces,
// out-of-range crops and slices, unsupported types, bad wrap handles,
// halide_vulkan_run with an unknown state or entry point, unallocated or
// stale buffers, wrong argument lists, a grid / work-group / shared memory
// beyond the device's limits.
//
// Each row asserts the exact code (as the code returns it; docs/api.md's
// error tables list the same codes), that the call reported a message
// through halide_error when it is documented to, that nothing leaked (the
// runtime's host allocations, live device regions, region-table entries),
// and that a complete valid pipeline (malloc, upload, kernel, download)
// works right after.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "generic/device_interface_impl.h"
#include "halide_vk_runtime.h"
#include "kernel_args.h"
#include "vulkan/util/host_alloc.h"
#include "vulkan/memory/region_table.h"
#include "test_env.h"
#include "test_kernel_blobs.h"

namespace {

const halide_device_interface_t *vk() { return halide_vulkan_device_interface(); }

// Another backend's interface: non-null impl, functions never reached.
halide_device_interface_impl_t g_foreign_impl = {};
halide_device_interface_t g_foreign_iface = {};

// A 1-D or 2-D host buffer. Frees its device side (if any, and if still
// valid) on destruction, through the right call for its kind.
struct Buf {
    std::vector<uint8_t> host;
    halide_dimension_t dim[4] = {};
    halide_buffer_t b{};
    Buf(halide_type_t t, int w, int h = 0) {
        host.assign(size_t(w) * size_t(h > 0 ? h : 1) * t.bytes(), 0);
        dim[0] = {0, w, 1, 0};
        dim[1] = {0, h, w, 0};
        b.type = t;
        b.dimensions = h > 0 ? 2 : 1;
        b.dim = dim;
        b.host = host.data();
    }
    Buf(const Buf &) = delete;
    Buf &operator=(const Buf &) = delete;
};

halide_type_t f32() { return halide_type_t(halide_type_float, 32, 1); }
halide_type_t u8() { return halide_type_t(halide_type_uint, 8, 1); }

// Kernel state slots, compiled once (the cache keeps them, so compiling
// inside a row would look like a leak).
void *g_basic = nullptr;
void *g_dynamic = nullptr;

int init_kernels() {
    int rc = halide_vulkan_initialize_kernels(nullptr, &g_basic, reinterpret_cast<const char *>(hvk_blob_basic),
                                              int(hvk_blob_basic_size));
    if (rc == 0) {
        rc = halide_vulkan_initialize_kernels(nullptr, &g_dynamic, reinterpret_cast<const char *>(hvk_blob_dynamic),
                                              int(hvk_blob_dynamic_size));
    }
    return rc;
}

// halide_vulkan_run with Halide's argument arrays (terminated by run()).
using Args = hvk_test::KernelArgs;

// k_scale_f32(out, in; scale, bias, n) with valid buffers of n elements.
struct ScaleSetup {
    Buf in{f32(), 64}, out{f32(), 64};
    int alloc() {
        int rc = halide_vulkan_device_malloc(nullptr, &in.b);
        return rc != 0 ? rc : halide_vulkan_device_malloc(nullptr, &out.b);
    }
    ~ScaleSetup() {
        halide_vulkan_device_free(nullptr, &in.b);
        halide_vulkan_device_free(nullptr, &out.b);
    }
};

// A buffer with a live allocation whose handle is then freed through a
// shallow copy (so b.device is stale).
void make_stale(Buf &x) {
    ASSERT_EQ(halide_vulkan_device_malloc(nullptr, &x.b), 0);
    halide_buffer_t copy = x.b;
    ASSERT_EQ(halide_vulkan_device_free(nullptr, &copy), 0);
}

// A VkBuffer value that is a real, live runtime VkBuffer of `owner`.
uint64_t vk_buffer_of(Buf &owner) {
    return halide_vulkan_get_vk_buffer(nullptr, &owner.b);
}

struct Row {
    const char *name;
    int expected;
    bool reports;  // the call reports through halide_error
    std::function<int()> call;
};

std::vector<Row> rows() {
    std::vector<Row> t;
    // ----- device_malloc -------------------------------------------------
    t.push_back({"device_malloc: null buffer", -38, true, [] { return halide_vulkan_device_malloc(nullptr, nullptr); }});
    t.push_back({"device_malloc: negative dimensions", -16, true, [] {
                     Buf x(f32(), 8);
                     x.b.dimensions = -1;
                     return halide_vulkan_device_malloc(nullptr, &x.b);
                 }});
    t.push_back({"device_malloc: dimensions without a dim array", -16, true, [] {
                     Buf x(f32(), 8);
                     x.b.dim = nullptr;
                     return halide_vulkan_device_malloc(nullptr, &x.b);
                 }});
    t.push_back({"device_malloc: size overflows 64 bits", -16, true, [] {
                     Buf x(f32(), 8);
                     x.b.dimensions = 3;
                     for (int i = 0; i < 3; i++) {
                         x.dim[i] = {0, 0x7fffffff, 0x7fffffff, 0};
                     }
                     return halide_vulkan_device_malloc(nullptr, &x.b);
                 }});
    t.push_back({"device_malloc: oversized (1 TiB)", -16, true, [] {
                     Buf x(u8(), 1);
                     x.b.dimensions = 2;
                     x.dim[0] = {0, 1 << 20, 1, 0};
                     x.dim[1] = {0, 1 << 20, 1 << 20, 0};
                     return halide_vulkan_device_malloc(nullptr, &x.b);
                 }});
    t.push_back({"device_malloc: foreign handle in buf->device", -16, true, [] {
                     Buf x(f32(), 8);
                     x.b.device = 0x12345678;
                     x.b.device_interface = vk();
                     return halide_vulkan_device_malloc(nullptr, &x.b);
                 }});
    t.push_back({"device_malloc: stale handle", -16, true, [] {
                     Buf x(f32(), 8);
                     make_stale(x);
                     return halide_vulkan_device_malloc(nullptr, &x.b);
                 }});
    t.push_back({"device_malloc: a crop too small for its new shape", -16, true, [] {
                     Buf p(f32(), 64), c(f32(), 8);
                     c.dim[0].min = 4;
                     if (halide_vulkan_device_malloc(nullptr, &p.b) != 0 || halide_vulkan_device_crop(nullptr, &p.b, &c.b) != 0) {
                         return 1;
                     }
                     c.dim[0].extent = 200;  // grown past the parent
                     const int rc = halide_vulkan_device_malloc(nullptr, &c.b);
                     c.dim[0].extent = 8;
                     halide_vulkan_device_release_crop(nullptr, &c.b);
                     halide_vulkan_device_free(nullptr, &p.b);
                     return rc;
                 }});
    // ----- device_free / release_crop --------------------------------------
    t.push_back({"device_free: null buffer", -38, true, [] { return halide_vulkan_device_free(nullptr, nullptr); }});
    t.push_back({"device_free: foreign handle", -18, true, [] {
                     Buf x(f32(), 8);
                     x.b.device = 0xdeadbeef;
                     x.b.device_interface = vk();
                     return halide_vulkan_device_free(nullptr, &x.b);
                 }});
    t.push_back({"device_free: stale handle (freed through a shallow copy)", -18, true, [] {
                     Buf x(f32(), 8);
                     make_stale(x);
                     return halide_vulkan_device_free(nullptr, &x.b);
                 }});
    t.push_back({"device_free: wrapped buffer with a live crop", -18, true, [] {
                     Buf owner(f32(), 64), w(f32(), 32), c(f32(), 8);
                     if (halide_vulkan_device_malloc(nullptr, &owner.b) != 0 ||
                         halide_vulkan_wrap_vk_buffer(nullptr, &w.b, vk_buffer_of(owner), 0) != 0 ||
                         halide_vulkan_device_crop(nullptr, &w.b, &c.b) != 0) {
                         return 1;
                     }
                     const int rc = halide_vulkan_device_free(nullptr, &w.b);
                     halide_vulkan_device_release_crop(nullptr, &c.b);
                     halide_vulkan_detach_vk_buffer(nullptr, &w.b);
                     halide_vulkan_device_free(nullptr, &owner.b);
                     return rc;
                 }});
    t.push_back({"device_release_crop: null buffer", -38, true,
                 [] { return halide_vulkan_device_release_crop(nullptr, nullptr); }});
    t.push_back({"device_release_crop: stale handle", -22, true, [] {
                     Buf x(f32(), 8);
                     make_stale(x);
                     return halide_vulkan_device_release_crop(nullptr, &x.b);
                 }});
    // ----- crop / slice ----------------------------------------------------
    t.push_back({"device_crop: null source", -38, true, [] {
                     Buf d(f32(), 8);
                     return halide_vulkan_device_crop(nullptr, nullptr, &d.b);
                 }});
    t.push_back({"device_crop: null destination", -38, true, [] {
                     Buf s(f32(), 8);
                     return halide_vulkan_device_crop(nullptr, &s.b, nullptr);
                 }});
    t.push_back({"device_crop: source without device allocation", -41, true, [] {
                     Buf s(f32(), 8), d(f32(), 4);
                     return halide_vulkan_device_crop(nullptr, &s.b, &d.b);
                 }});
    struct CropCase {
        const char *name;
        std::function<void(Buf &)> edit;
    };
    const CropCase crop_cases[] = {
        {"device_crop: destination already allocated", [](Buf &d) { d.b.device = 0x1; }},
        {"device_crop: dimension count differs", [](Buf &d) { d.b.dimensions = 2; }},
        {"device_crop: min below the parent's", [](Buf &d) { d.dim[0].min = -1; }},
        {"device_crop: extent past the parent's end", [](Buf &d) { d.dim[0].min = 60, d.dim[0].extent = 8; }},
        {"device_crop: element size differs", [](Buf &d) { d.b.type = u8(); }},
        {"device_crop: destination shape overflows", [](Buf &d) { d.dim[0].stride = 0x7fffffff, d.dim[0].extent = 0x7fffffff; }},
    };
    for (const CropCase &cc : crop_cases) {
        auto edit = cc.edit;
        t.push_back({cc.name, -41, true, [edit] {
                         Buf s(f32(), 64), d(f32(), 8);
                         if (halide_vulkan_device_malloc(nullptr, &s.b) != 0) {
                             return 1;
                         }
                         edit(d);
                         const int rc = halide_vulkan_device_crop(nullptr, &s.b, &d.b);
                         halide_vulkan_device_free(nullptr, &s.b);
                         return rc;
                     }});
    }
    t.push_back({"device_crop: stale source handle", -41, true, [] {
                     Buf s(f32(), 64), d(f32(), 8);
                     make_stale(s);
                     return halide_vulkan_device_crop(nullptr, &s.b, &d.b);
                 }});
    t.push_back({"device_slice: negative dimension", -41, true, [] {
                     Buf s(f32(), 8, 8), d(f32(), 8);
                     if (halide_vulkan_device_malloc(nullptr, &s.b) != 0) return 1;
                     const int rc = halide_vulkan_device_slice(nullptr, &s.b, -1, 0, &d.b);
                     halide_vulkan_device_free(nullptr, &s.b);
                     return rc;
                 }});
    t.push_back({"device_slice: dimension past the last", -41, true, [] {
                     Buf s(f32(), 8, 8), d(f32(), 8);
                     if (halide_vulkan_device_malloc(nullptr, &s.b) != 0) return 1;
                     const int rc = halide_vulkan_device_slice(nullptr, &s.b, 2, 0, &d.b);
                     halide_vulkan_device_free(nullptr, &s.b);
                     return rc;
                 }});
    t.push_back({"device_slice: position outside the dimension", -41, true, [] {
                     Buf s(f32(), 8, 8), d(f32(), 8);
                     if (halide_vulkan_device_malloc(nullptr, &s.b) != 0) return 1;
                     const int rc = halide_vulkan_device_slice(nullptr, &s.b, 1, 8, &d.b);
                     halide_vulkan_device_free(nullptr, &s.b);
                     return rc;
                 }});
    // ----- wrap / detach ---------------------------------------------------
    t.push_back({"wrap_vk_buffer: null buffer", -38, true,
                 [] { return halide_vulkan_wrap_vk_buffer(nullptr, nullptr, 1, 0); }});
    t.push_back({"wrap_vk_buffer: VK_NULL_HANDLE", -32, true, [] {
                     Buf x(f32(), 8);
                     return halide_vulkan_wrap_vk_buffer(nullptr, &x.b, 0, 0);
                 }});
    t.push_back({"wrap_vk_buffer: buffer already has a device allocation", -32, true, [] {
                     Buf owner(f32(), 64), x(f32(), 8);
                     if (halide_vulkan_device_malloc(nullptr, &owner.b) != 0 || halide_vulkan_device_malloc(nullptr, &x.b) != 0) {
                         return 1;
                     }
                     const int rc = halide_vulkan_wrap_vk_buffer(nullptr, &x.b, vk_buffer_of(owner), 0);
                     halide_vulkan_device_free(nullptr, &x.b);
                     halide_vulkan_device_free(nullptr, &owner.b);
                     return rc;
                 }});
    t.push_back({"wrap_vk_buffer: offset past the VkBuffer's end", -32, true, [] {
                     Buf owner(f32(), 64), x(f32(), 8);
                     if (halide_vulkan_device_malloc(nullptr, &owner.b) != 0) return 1;
                     const int rc = halide_vulkan_wrap_vk_buffer(nullptr, &x.b, vk_buffer_of(owner), 250);
                     halide_vulkan_device_free(nullptr, &owner.b);
                     return rc;
                 }});
    t.push_back({"wrap_vk_buffer: buffer larger than the VkBuffer", -32, true, [] {
                     Buf owner(f32(), 64), x(f32(), 65);
                     if (halide_vulkan_device_malloc(nullptr, &owner.b) != 0) return 1;
                     const int rc = halide_vulkan_wrap_vk_buffer(nullptr, &x.b, vk_buffer_of(owner), 0);
                     halide_vulkan_device_free(nullptr, &owner.b);
                     return rc;
                 }});
    t.push_back({"wrap_vk_buffer: malformed shape", -32, true, [] {
                     Buf x(f32(), 8);
                     x.b.dimensions = -3;
                     return halide_vulkan_wrap_vk_buffer(nullptr, &x.b, 0x1000, 0);
                 }});
    t.push_back({"wrap_vk_buffer: VkBuffer of a freed runtime allocation", -32, true, [] {
                     Buf owner(f32(), 64), x(f32(), 8);
                     if (halide_vulkan_device_malloc(nullptr, &owner.b) != 0) return 1;
                     const uint64_t vb = vk_buffer_of(owner);
                     halide_vulkan_device_free(nullptr, &owner.b);  // kept in the reuse cache
                     return halide_vulkan_wrap_vk_buffer(nullptr, &x.b, vb, 0);
                 }});
    t.push_back({"detach_vk_buffer: null buffer", -38, true,
                 [] { return halide_vulkan_detach_vk_buffer(nullptr, nullptr); }});
    t.push_back({"detach_vk_buffer: another backend's buffer", -42, true, [] {
                     Buf x(f32(), 8);
                     x.b.device = 0x1234;
                     x.b.device_interface = &g_foreign_iface;
                     return halide_vulkan_detach_vk_buffer(nullptr, &x.b);
                 }});
    t.push_back({"detach_vk_buffer: runtime-owned (not wrapped) buffer", -33, true, [] {
                     Buf x(f32(), 8);
                     if (halide_vulkan_device_malloc(nullptr, &x.b) != 0) return 1;
                     const int rc = halide_vulkan_detach_vk_buffer(nullptr, &x.b);
                     halide_vulkan_device_free(nullptr, &x.b);
                     return rc;
                 }});
    t.push_back({"detach_vk_buffer: wrapped buffer with a live crop", -33, true, [] {
                     Buf owner(f32(), 64), w(f32(), 32), c(f32(), 8);
                     if (halide_vulkan_device_malloc(nullptr, &owner.b) != 0 ||
                         halide_vulkan_wrap_vk_buffer(nullptr, &w.b, vk_buffer_of(owner), 0) != 0 ||
                         halide_vulkan_device_crop(nullptr, &w.b, &c.b) != 0) {
                         return 1;
                     }
                     const int rc = halide_vulkan_detach_vk_buffer(nullptr, &w.b);
                     halide_vulkan_device_release_crop(nullptr, &c.b);
                     halide_vulkan_detach_vk_buffer(nullptr, &w.b);
                     halide_vulkan_device_free(nullptr, &owner.b);
                     return rc;
                 }});
    t.push_back({"detach_vk_buffer: stale handle", -33, true, [] {
                     Buf x(f32(), 8);
                     make_stale(x);
                     x.b.device_interface = vk();
                     return halide_vulkan_detach_vk_buffer(nullptr, &x.b);
                 }});
    t.push_back({"get_vk_buffer: stale handle returns 0", 0, true, [] {
                     Buf x(f32(), 8);
                     make_stale(x);
                     return int(halide_vulkan_get_vk_buffer(nullptr, &x.b) != 0);
                 }});
    t.push_back({"get_vk_crop_offset: foreign handle returns 0", 0, true, [] {
                     Buf x(f32(), 8);
                     x.b.device = 0x77;
                     return int(halide_vulkan_get_vk_crop_offset(nullptr, &x.b) != 0);
                 }});
    // ----- copies ----------------------------------------------------------
    t.push_back({"copy_to_host: stale handle", -14, true, [] {
                     Buf x(f32(), 8);
                     make_stale(x);
                     return halide_vulkan_copy_to_host(nullptr, &x.b);
                 }});
    t.push_back({"copy_to_device: unsupported type (0-bit elements)", -15, true, [] {
                     Buf x(f32(), 8);
                     if (halide_vulkan_device_malloc(nullptr, &x.b) != 0) return 1;
                     x.b.type = halide_type_t(halide_type_uint, 0, 1);
                     const int rc = halide_vulkan_copy_to_device(nullptr, &x.b);
                     x.b.type = f32();
                     halide_vulkan_device_free(nullptr, &x.b);
                     return rc;
                 }});
    t.push_back({"copy_to_device: 17 dimensions", -15, true, [] {
                     Buf x(f32(), 8);
                     if (halide_vulkan_device_malloc(nullptr, &x.b) != 0) return 1;
                     std::vector<halide_dimension_t> dims(17, halide_dimension_t{0, 1, 8, 0});
                     dims[0] = x.dim[0];
                     x.b.dim = dims.data();
                     x.b.dimensions = 17;
                     const int rc = halide_vulkan_copy_to_device(nullptr, &x.b);
                     x.b.dim = x.dim;
                     x.b.dimensions = 1;
                     halide_vulkan_device_free(nullptr, &x.b);
                     return rc;
                 }});
    t.push_back({"copy_to_device: negative extent", -15, true, [] {
                     Buf x(f32(), 8);
                     if (halide_vulkan_device_malloc(nullptr, &x.b) != 0) return 1;
                     x.dim[0].extent = -8;
                     const int rc = halide_vulkan_copy_to_device(nullptr, &x.b);
                     x.dim[0].extent = 8;
                     halide_vulkan_device_free(nullptr, &x.b);
                     return rc;
                 }});
    t.push_back({"buffer_copy: null source", -39, true, [] {
                     Buf d(f32(), 8);
                     return halide_vulkan_buffer_copy(nullptr, nullptr, vk(), &d.b);
                 }});
    t.push_back({"buffer_copy: destination interface is not Vulkan's", -39, true, [] {
                     Buf s(f32(), 8), d(f32(), 8);
                     return halide_vulkan_buffer_copy(nullptr, &s.b, &g_foreign_iface, &d.b);
                 }});
    t.push_back({"buffer_copy: different dimensionality", -39, true, [] {
                     Buf s(f32(), 8), d(f32(), 8, 2);
                     if (halide_vulkan_device_malloc(nullptr, &s.b) != 0 || halide_vulkan_device_malloc(nullptr, &d.b) != 0) return 1;
                     const int rc = halide_vulkan_buffer_copy(nullptr, &s.b, vk(), &d.b);
                     halide_vulkan_device_free(nullptr, &s.b);
                     halide_vulkan_device_free(nullptr, &d.b);
                     return rc;
                 }});
    t.push_back({"buffer_copy: different element sizes", -39, true, [] {
                     Buf s(f32(), 8), d(u8(), 8);
                     if (halide_vulkan_device_malloc(nullptr, &s.b) != 0 || halide_vulkan_device_malloc(nullptr, &d.b) != 0) return 1;
                     const int rc = halide_vulkan_buffer_copy(nullptr, &s.b, vk(), &d.b);
                     halide_vulkan_device_free(nullptr, &s.b);
                     halide_vulkan_device_free(nullptr, &d.b);
                     return rc;
                 }});
    t.push_back({"buffer_copy: destination without device allocation", -39, true, [] {
                     Buf s(f32(), 8), d(f32(), 8);
                     return halide_vulkan_buffer_copy(nullptr, &s.b, vk(), &d.b);
                 }});
    t.push_back({"buffer_copy: to host without host memory", -39, true, [] {
                     Buf s(f32(), 8), d(f32(), 8);
                     if (halide_vulkan_device_malloc(nullptr, &s.b) != 0) return 1;
                     d.b.host = nullptr;
                     const int rc = halide_vulkan_buffer_copy(nullptr, &s.b, nullptr, &d.b);
                     halide_vulkan_device_free(nullptr, &s.b);
                     return rc;
                 }});
    t.push_back({"buffer_copy: stale source handle", -39, true, [] {
                     Buf s(f32(), 8), d(f32(), 8);
                     make_stale(s);
                     s.b.device_interface = vk();
                     return halide_vulkan_buffer_copy(nullptr, &s.b, nullptr, &d.b);
                 }});
    t.push_back({"buffer_copy: destination with 17 dimensions", -6, true, [] {
                     Buf s(f32(), 8), d(f32(), 8);
                     std::vector<halide_dimension_t> dims(17, halide_dimension_t{0, 1, 8, 0});
                     d.b.dim = dims.data();
                     d.b.dimensions = 17;
                     return halide_vulkan_buffer_copy(nullptr, &s.b, nullptr, &d.b);
                 }});
    // ----- the generic layer (halide_device_* with the Vulkan interface) ---
    t.push_back({"halide_device_malloc: null interface", -19, true, [] {
                     Buf x(f32(), 8);
                     return halide_device_malloc(nullptr, &x.b, nullptr);
                 }});
    t.push_back({"halide_device_malloc: interface without a backend table", -19, true, [] {
                     Buf x(f32(), 8);
                     halide_device_interface_t broken = *vk();
                     broken.impl = nullptr;
                     return halide_device_malloc(nullptr, &x.b, &broken);
                 }});
    t.push_back({"halide_device_malloc: buffer belongs to another interface", -42, true, [] {
                     Buf x(f32(), 8);
                     x.b.device = 0x1;
                     x.b.device_interface = &g_foreign_iface;
                     return halide_device_malloc(nullptr, &x.b, vk());
                 }});
    t.push_back({"halide_device_malloc: device handle without an interface", -19, true, [] {
                     Buf x(f32(), 8);
                     x.b.device = 0x1;
                     return halide_device_malloc(nullptr, &x.b, vk());
                 }});
    t.push_back({"halide_device_free: interface without a device handle", -36, true, [] {
                     Buf x(f32(), 8);
                     x.b.device_interface = vk();
                     return halide_device_free(nullptr, &x.b);
                 }});
    t.push_back({"halide_copy_to_host: host and device both dirty", -37, true, [] {
                     Buf x(f32(), 8);
                     if (halide_vulkan_device_malloc(nullptr, &x.b) != 0) return 1;
                     x.b.flags = halide_buffer_flag_host_dirty | halide_buffer_flag_device_dirty;
                     const int rc = halide_copy_to_host(nullptr, &x.b);
                     x.b.flags = 0;
                     halide_vulkan_device_free(nullptr, &x.b);
                     return rc;
                 }});
    t.push_back({"halide_copy_to_device: no interface anywhere", -19, true, [] {
                     Buf x(f32(), 8);
                     x.b.set_host_dirty(true);
                     return halide_copy_to_device(nullptr, &x.b, nullptr);
                 }});
    t.push_back({"halide_device_wrap_native: buffer belongs to another interface", -42, true, [] {
                     Buf x(f32(), 8);
                     x.b.device = 0x1;
                     x.b.device_interface = &g_foreign_iface;
                     return halide_device_wrap_native(nullptr, &x.b, 0x1000, vk());
                 }});
    t.push_back({"halide_device_and_host_malloc: null buffer", -38, true,
                 [] { return halide_device_and_host_malloc(nullptr, nullptr, vk()); }});
    // ----- kernels: initialize --------------------------------------------
    t.push_back({"initialize_kernels: null state slot", -1, true, [] {
                     return halide_vulkan_initialize_kernels(nullptr, nullptr, reinterpret_cast<const char *>(hvk_blob_basic),
                                                             int(hvk_blob_basic_size));
                 }});
    t.push_back({"initialize_kernels: blob size 0", -1, true, [] {
                     void *slot = nullptr;
                     return halide_vulkan_initialize_kernels(nullptr, &slot, reinterpret_cast<const char *>(hvk_blob_basic), 0);
                 }});
    t.push_back({"initialize_kernels: truncated blob", -1, true, [] {
                     void *slot = nullptr;
                     return halide_vulkan_initialize_kernels(nullptr, &slot, reinterpret_cast<const char *>(hvk_blob_basic),
                                                             int(hvk_blob_basic_size / 2));
                 }});
    t.push_back({"initialize_kernels: corrupt module count", -1, true, [] {
                     std::vector<char> blob(hvk_blob_basic, hvk_blob_basic + hvk_blob_basic_size);
                     const uint32_t huge = 0x40000000;
                     std::memcpy(blob.data(), &huge, 4);
                     void *slot = nullptr;
                     return halide_vulkan_initialize_kernels(nullptr, &slot, blob.data(), int(blob.size()));
                 }});
    t.push_back({"initialize_kernels: SPIR-V magic destroyed", -1, true, [] {
                     std::vector<char> blob(hvk_blob_basic, hvk_blob_basic + hvk_blob_basic_size);
                     const uint32_t magic = 0x07230203;
                     for (size_t i = 0; i + 4 <= blob.size(); i += 4) {
                         if (std::memcmp(&blob[i], &magic, 4) == 0) {
                             blob[i] ^= 0x55;
                         }
                     }
                     void *slot = nullptr;
                     return halide_vulkan_initialize_kernels(nullptr, &slot, blob.data(), int(blob.size()));
                 }});
    t.push_back({"initialize_kernels: slot holds a value the runtime never issued", -1, true, [] {
                     void *slot = reinterpret_cast<void *>(uintptr_t(0x7fff0000));
                     return halide_vulkan_initialize_kernels(nullptr, &slot, reinterpret_cast<const char *>(hvk_blob_basic),
                                                             int(hvk_blob_basic_size));
                 }});
    // ----- kernels: run ----------------------------------------------------
    auto scale_row = [](const char *name, int expected, std::function<int(ScaleSetup &, Args &)> f) {
        return Row{name, expected, true, [f] {
                       ScaleSetup s;
                       if (s.alloc() != 0) {
                           return 1;
                       }
                       Args a;
                       return f(s, a);
                   }};
    };
    t.push_back(scale_row("run: state never initialised", -22, [](ScaleSetup &s, Args &a) {
        a.buffer(&s.out.b).buffer(&s.in.b).scalar(1.0f).scalar(0.0f).scalar(64);
        return a.run(reinterpret_cast<void *>(uintptr_t(0x7fff0001)), "k_scale_f32", 1, 1, 1, 64, 1, 1, 0);
    }));
    t.push_back(scale_row("run: unknown entry point", -22, [](ScaleSetup &s, Args &a) {
        a.buffer(&s.out.b).buffer(&s.in.b).scalar(1.0f).scalar(0.0f).scalar(64);
        return a.run(g_basic, "k_no_such_kernel", 1, 1, 1, 64, 1, 1, 0);
    }));
    t.push_back(scale_row("run: null entry point name", -22, [](ScaleSetup &s, Args &a) {
        a.buffer(&s.out.b).buffer(&s.in.b).scalar(1.0f).scalar(0.0f).scalar(64);
        return a.run(g_basic, nullptr, 1, 1, 1, 64, 1, 1, 0);
    }));
    t.push_back(scale_row("run: null argument arrays", -23, [](ScaleSetup &, Args &) {
        return halide_vulkan_run(nullptr, g_basic, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0, nullptr, nullptr, nullptr);
    }));
    t.push_back(scale_row("run: unallocated buffer", -22, [](ScaleSetup &s, Args &a) {
        Buf empty(f32(), 64);
        a.buffer(&s.out.b).buffer(&empty.b).scalar(1.0f).scalar(0.0f).scalar(64);
        return a.run(g_basic, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0);
    }));
    t.push_back(scale_row("run: null buffer argument", -22, [](ScaleSetup &s, Args &a) {
        a.buffer(&s.out.b).buffer(nullptr).scalar(1.0f).scalar(0.0f).scalar(64);
        return a.run(g_basic, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0);
    }));
    t.push_back(scale_row("run: buffer of another interface", -22, [](ScaleSetup &s, Args &a) {
        Buf other(f32(), 64);
        other.b.device = 0x1234;
        other.b.device_interface = &g_foreign_iface;
        a.buffer(&s.out.b).buffer(&other.b).scalar(1.0f).scalar(0.0f).scalar(64);
        return a.run(g_basic, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0);
    }));
    t.push_back(scale_row("run: stale buffer handle", -22, [](ScaleSetup &s, Args &a) {
        Buf stale(f32(), 64);
        make_stale(stale);
        stale.b.device_interface = vk();
        a.buffer(&s.out.b).buffer(&stale.b).scalar(1.0f).scalar(0.0f).scalar(64);
        return a.run(g_basic, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0);
    }));
    t.push_back(scale_row("run: buffer larger than its device region", -22, [](ScaleSetup &s, Args &a) {
        s.in.dim[0].extent = 4096;  // the allocation has 64 elements
        a.buffer(&s.out.b).buffer(&s.in.b).scalar(1.0f).scalar(0.0f).scalar(64);
        const int rc = a.run(g_basic, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0);
        s.in.dim[0].extent = 64;
        return rc;
    }));
    t.push_back(scale_row("run: too many buffers", -23, [](ScaleSetup &s, Args &a) {
        a.buffer(&s.out.b).buffer(&s.in.b).buffer(&s.in.b).scalar(1.0f).scalar(0.0f).scalar(64);
        return a.run(g_basic, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0);
    }));
    t.push_back(scale_row("run: too few buffers", -23, [](ScaleSetup &s, Args &a) {
        a.buffer(&s.out.b).scalar(1.0f).scalar(0.0f).scalar(64);
        return a.run(g_basic, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0);
    }));
    t.push_back(scale_row("run: one scalar too many", -23, [](ScaleSetup &s, Args &a) {
        a.buffer(&s.out.b).buffer(&s.in.b).scalar(1.0f).scalar(0.0f).scalar(64).scalar(5);
        return a.run(g_basic, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0);
    }));
    t.push_back(scale_row("run: scalar wider than its member", -23, [](ScaleSetup &s, Args &a) {
        a.buffer(&s.out.b).buffer(&s.in.b).scalar(1.0).scalar(0.0f).scalar(64);  // double into a float member
        return a.run(g_basic, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0);
    }));
    t.push_back(scale_row("run: negative block count", -23, [](ScaleSetup &s, Args &a) {
        a.buffer(&s.out.b).buffer(&s.in.b).scalar(1.0f).scalar(0.0f).scalar(64);
        return a.run(g_basic, "k_scale_f32", -1, 1, 1, 64, 1, 1, 0);
    }));
    t.push_back(scale_row("run: more work-groups than maxComputeWorkGroupCount", -42, [](ScaleSetup &s, Args &a) {
        a.buffer(&s.out.b).buffer(&s.in.b).scalar(1.0f).scalar(0.0f).scalar(64);
        return a.run(g_basic, "k_scale_f32", 1, 1, 0x7fffffff, 64, 1, 1, 0);
    }));
    t.push_back(scale_row("run: shared memory beyond maxComputeSharedMemorySize", -42, [](ScaleSetup &s, Args &a) {
        a.buffer(&s.out.b).buffer(&s.in.b).scalar(1.0f).scalar(0.0f).scalar(64);
        return a.run(g_basic, "k_scale_f32", 1, 1, 1, 64, 1, 1, 1 << 30);
    }));
    t.push_back(scale_row("run: negative shared memory size", -23, [](ScaleSetup &s, Args &a) {
        a.buffer(&s.out.b).buffer(&s.in.b).scalar(1.0f).scalar(0.0f).scalar(64);
        return a.run(g_basic, "k_scale_f32", 1, 1, 1, 64, 1, 1, -16);
    }));
    t.push_back(scale_row("run: unterminated argument list", -23, [](ScaleSetup &, Args &) {
        std::vector<size_t> sizes(5000, 4);
        std::vector<int32_t> values(5000, 1);
        std::vector<void *> ptrs(5000);
        for (size_t i = 0; i < ptrs.size(); i++) ptrs[i] = &values[i];
        std::vector<int8_t> is_buffer(5000, 0);
        return halide_vulkan_run(nullptr, g_basic, "k_scale_f32", 1, 1, 1, 64, 1, 1, 0, sizes.data(), ptrs.data(),
                                 is_buffer.data());
    }));
    t.push_back({"run: work-group larger than maxComputeWorkGroupSize", -42, true, [] {
                     Buf out(f32(), 64);
                     if (halide_vulkan_device_malloc(nullptr, &out.b) != 0) return 1;
                     Args a;
                     a.buffer(&out.b).scalar(64).scalar(1);
                     const int rc = a.run(g_dynamic, "k_dyn_wg", 1, 1, 1, 1 << 16, 1, 1, 0);
                     halide_vulkan_device_free(nullptr, &out.b);
                     return rc;
                 }});
    t.push_back({"run: zero-sized work-group", -23, true, [] {
                     Buf out(f32(), 64);
                     if (halide_vulkan_device_malloc(nullptr, &out.b) != 0) return 1;
                     Args a;
                     a.buffer(&out.b).scalar(64).scalar(1);
                     const int rc = a.run(g_dynamic, "k_dyn_wg", 1, 1, 1, 0, 1, 1, 0);
                     halide_vulkan_device_free(nullptr, &out.b);
                     return rc;
                 }});
    // ----- our extensions ----------------------------------------------------
    t.push_back({"halide_vk_get_memory_stats: null output", -1, false, [] { return halide_vk_get_memory_stats(nullptr, nullptr); }});
    t.push_back({"halide_vk_get_selected_device_name: null buffer", -1, false,
                 [] { return halide_vk_get_selected_device_name(nullptr, nullptr, 16); }});
    t.push_back({"halide_vk_declare_device_capabilities: null device", -1, false, [] {
                     halide_vk_device_capabilities caps{};
                     caps.struct_size = sizeof(caps);
                     return halide_vk_declare_device_capabilities(nullptr, VK_NULL_HANDLE, &caps);
                 }});
    t.push_back({"halide_vk_declare_device_capabilities: struct_size too small", -1, false, [] {
                     halide_vk_device_capabilities caps{};
                     caps.struct_size = 4;
                     return halide_vk_declare_device_capabilities(nullptr, reinterpret_cast<VkDevice>(uintptr_t(0x10)), &caps);
                 }});
    return t;
}

struct Snapshot {
    uint64_t host_live;
    uint64_t regions;
    uint64_t entries;
};

Snapshot snapshot() {
    halide_vulkan_release_unused_device_allocations(nullptr);
    halide_vk_memory_stats ms{};
    halide_vk_get_memory_stats(nullptr, &ms);
    return Snapshot{hvk::host_alloc_stats().live_allocations, ms.allocation_count,
                    hvk::region_stats(nullptr).live_entries};
}

// A complete valid pipeline: malloc, upload, k_scale_f32, download.
void valid_pipeline() {
    const int n = 100;
    Buf in(f32(), n), out(f32(), n);
    for (int i = 0; i < n; i++) {
        reinterpret_cast<float *>(in.host.data())[i] = float(i);
    }
    in.b.set_host_dirty(true);
    ASSERT_EQ(halide_copy_to_device(nullptr, &in.b, vk()), 0) << hvk_test::last_error();
    ASSERT_EQ(halide_device_malloc(nullptr, &out.b, vk()), 0);
    Args a;
    a.buffer(&out.b).buffer(&in.b).scalar(2.0f).scalar(1.0f).scalar(n);
    ASSERT_EQ(a.run(g_basic, "k_scale_f32", 2, 1, 1, 64, 1, 1, 0), 0) << hvk_test::last_error();
    out.b.set_device_dirty(true);
    ASSERT_EQ(halide_copy_to_host(nullptr, &out.b), 0);
    for (int i = 0; i < n; i++) {
        ASSERT_EQ(reinterpret_cast<float *>(out.host.data())[i], 2.0f * float(i) + 1.0f) << i;
    }
    ASSERT_EQ(halide_device_free(nullptr, &in.b), 0);
    ASSERT_EQ(halide_device_free(nullptr, &out.b), 0);
}

class BadInput : public ::testing::TestWithParam<size_t> {
public:
    static void SetUpTestSuite() {
        g_foreign_iface.impl = &g_foreign_impl;
        ASSERT_EQ(init_kernels(), 0) << hvk_test::last_error();
        valid_pipeline();  // warm: staging, submitter, pipelines
    }
};

const std::vector<Row> &table() {
    static const std::vector<Row> t = rows();
    return t;
}

TEST(BadInputTable, HasAtLeastFortyDistinctRows) {
    EXPECT_GE(table().size(), 40u);
    std::vector<std::string> names;
    for (const Row &r : table()) {
        names.push_back(r.name);
    }
    std::sort(names.begin(), names.end());
    EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end()) << "duplicate row names";
}

TEST_P(BadInput, ExactCodeNoLeakThenValidCallWorks) {
    const Row &row = table()[GetParam()];
    SCOPED_TRACE(row.name);
    const Snapshot before = snapshot();
    hvk_test::clear_errors();
    const int rc = row.call();
    EXPECT_EQ(rc, row.expected) << row.name << ": " << hvk_test::last_error();
    if (std::getenv("HVK_BAD_INPUT_VERBOSE") != nullptr) {
        std::printf("| %s | %d | %s |\n", row.name, rc, hvk_test::last_error().c_str());
    }
    if (row.reports && row.expected != 0) {
        EXPECT_FALSE(hvk_test::errors().empty()) << row.name << ": no message through halide_error";
    }
    const Snapshot after = snapshot();
    EXPECT_EQ(after.host_live, before.host_live) << row.name << ": runtime host allocations leaked";
    EXPECT_EQ(after.regions, before.regions) << row.name << ": device regions leaked";
    EXPECT_EQ(after.entries, before.entries) << row.name << ": region table entries leaked";
    valid_pipeline();
}

std::string row_name(const ::testing::TestParamInfo<size_t> &info) {
    std::string s = std::to_string(info.param) + "_";
    for (const char *p = table()[info.param].name; *p != '\0'; p++) {
        s += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
    }
    return s;
}

INSTANTIATE_TEST_SUITE_P(Table, BadInput, ::testing::Range<size_t>(0, table().size()), row_name);

}  // namespace
