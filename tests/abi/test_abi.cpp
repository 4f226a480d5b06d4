// C++ view of the ABI checks in abi_check_c.c: the same layout must come
// out of the headers when compiled as C++ (where halide_type_t::code is an
// enum with a uint8_t underlying type and the structs gain member functions).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <gtest/gtest.h>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"

extern "C" int abi_check_c_sizes(void);

#define CHECK_FIELD(type, field, off, size)                                  \
    static_assert(offsetof(type, field) == (off), #type "." #field " offset"); \
    static_assert(sizeof(((type *)nullptr)->field) == (size), #type "." #field " size")

// offsetof on types with constructors is "conditionally supported"; GCC and
// Clang accept it for these standard-layout structs.
static_assert(std::is_standard_layout<halide_type_t>::value, "");
static_assert(std::is_standard_layout<halide_dimension_t>::value, "");
static_assert(std::is_standard_layout<halide_buffer_t>::value, "");
static_assert(std::is_trivially_copyable<halide_type_t>::value, "");
static_assert(std::is_trivially_copyable<halide_dimension_t>::value, "");
static_assert(std::is_trivially_copyable<halide_buffer_t>::value, "");

// 1.1 halide_type_t
static_assert(sizeof(halide_type_t) == 4, "");
static_assert(alignof(halide_type_t) == 2, "");
static_assert(sizeof(halide_type_code_t) == 1, "");
CHECK_FIELD(halide_type_t, code, 0, 1);
CHECK_FIELD(halide_type_t, bits, 1, 1);
CHECK_FIELD(halide_type_t, lanes, 2, 2);
static_assert(halide_type_int == 0 && halide_type_uint == 1 && halide_type_float == 2 &&
                  halide_type_handle == 3 && halide_type_bfloat == 4,
              "");

// 1.2 halide_dimension_t
static_assert(sizeof(halide_dimension_t) == 16, "");
static_assert(alignof(halide_dimension_t) == 4, "");
CHECK_FIELD(halide_dimension_t, min, 0, 4);
CHECK_FIELD(halide_dimension_t, extent, 4, 4);
CHECK_FIELD(halide_dimension_t, stride, 8, 4);
CHECK_FIELD(halide_dimension_t, flags, 12, 4);

static_assert(halide_buffer_flag_host_dirty == 1 && halide_buffer_flag_device_dirty == 2, "");

#if UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
// 1.3 halide_buffer_t
static_assert(sizeof(halide_buffer_t) == 56, "");
static_assert(alignof(halide_buffer_t) == 8, "");
CHECK_FIELD(halide_buffer_t, device, 0, 8);
CHECK_FIELD(halide_buffer_t, device_interface, 8, 8);
CHECK_FIELD(halide_buffer_t, host, 16, 8);
CHECK_FIELD(halide_buffer_t, flags, 24, 8);
CHECK_FIELD(halide_buffer_t, type, 32, 4);
CHECK_FIELD(halide_buffer_t, dimensions, 36, 4);
CHECK_FIELD(halide_buffer_t, dim, 40, 8);
CHECK_FIELD(halide_buffer_t, padding, 48, 8);

// 1.4 halide_device_interface_t
static_assert(sizeof(halide_device_interface_t) == 128, "");
CHECK_FIELD(halide_device_interface_t, device_malloc, 0, 8);
CHECK_FIELD(halide_device_interface_t, device_free, 8, 8);
CHECK_FIELD(halide_device_interface_t, device_sync, 16, 8);
CHECK_FIELD(halide_device_interface_t, device_release, 24, 8);
CHECK_FIELD(halide_device_interface_t, copy_to_host, 32, 8);
CHECK_FIELD(halide_device_interface_t, copy_to_device, 40, 8);
CHECK_FIELD(halide_device_interface_t, device_and_host_malloc, 48, 8);
CHECK_FIELD(halide_device_interface_t, device_and_host_free, 56, 8);
CHECK_FIELD(halide_device_interface_t, buffer_copy, 64, 8);
CHECK_FIELD(halide_device_interface_t, device_crop, 72, 8);
CHECK_FIELD(halide_device_interface_t, device_slice, 80, 8);
CHECK_FIELD(halide_device_interface_t, device_release_crop, 88, 8);
CHECK_FIELD(halide_device_interface_t, wrap_native, 96, 8);
CHECK_FIELD(halide_device_interface_t, detach_native, 104, 8);
CHECK_FIELD(halide_device_interface_t, compute_capability, 112, 8);
CHECK_FIELD(halide_device_interface_t, impl, 120, 8);

// The table's entries must have exactly the generic functions' types.
static_assert(std::is_same<decltype(halide_device_interface_t::device_malloc), decltype(&halide_device_malloc)>::value, "");
static_assert(std::is_same<decltype(halide_device_interface_t::device_free), decltype(&halide_device_free)>::value, "");
static_assert(std::is_same<decltype(halide_device_interface_t::device_sync), decltype(&halide_device_sync)>::value, "");
static_assert(std::is_same<decltype(halide_device_interface_t::device_release), decltype(&halide_device_release)>::value, "");
static_assert(std::is_same<decltype(halide_device_interface_t::copy_to_host), decltype(&halide_copy_to_host)>::value, "");
static_assert(std::is_same<decltype(halide_device_interface_t::copy_to_device), decltype(&halide_copy_to_device)>::value, "");
static_assert(std::is_same<decltype(halide_device_interface_t::device_and_host_malloc), decltype(&halide_device_and_host_malloc)>::value, "");
static_assert(std::is_same<decltype(halide_device_interface_t::device_and_host_free), decltype(&halide_device_and_host_free)>::value, "");
static_assert(std::is_same<decltype(halide_device_interface_t::buffer_copy), decltype(&halide_buffer_copy)>::value, "");
static_assert(std::is_same<decltype(halide_device_interface_t::device_crop), decltype(&halide_device_crop)>::value, "");
static_assert(std::is_same<decltype(halide_device_interface_t::device_slice), decltype(&halide_device_slice)>::value, "");
static_assert(std::is_same<decltype(halide_device_interface_t::device_release_crop), decltype(&halide_device_release_crop)>::value, "");
static_assert(std::is_same<decltype(halide_device_interface_t::wrap_native), decltype(&halide_device_wrap_native)>::value, "");
static_assert(std::is_same<decltype(halide_device_interface_t::detach_native), decltype(&halide_device_detach_native)>::value, "");
static_assert(std::is_same<decltype(halide_device_interface_t::compute_capability), decltype(&halide_vulkan_compute_capability)>::value, "");

// 1.6 halide_device_allocation_pool
static_assert(sizeof(halide_device_allocation_pool) == 16, "");
CHECK_FIELD(halide_device_allocation_pool, release_unused, 0, 8);
CHECK_FIELD(halide_device_allocation_pool, next, 8, 8);

static_assert(sizeof(halide_filter_argument_t) == 64, "");
static_assert(sizeof(halide_filter_metadata_t) == 32, "");
static_assert(sizeof(halide_vk_memory_stats) == 48, "");
static_assert(sizeof(halide_vk_device_capabilities) == 32, "");
#endif

// 1.8 error codes
static_assert(halide_error_code_success == 0, "");
static_assert(halide_error_code_generic_error == -1, "");
static_assert(halide_error_code_explicit_bounds_too_small == -2, "");
static_assert(halide_error_code_bad_type == -3, "");
static_assert(halide_error_code_access_out_of_bounds == -4, "");
static_assert(halide_error_code_buffer_allocation_too_large == -5, "");
static_assert(halide_error_code_buffer_extents_too_large == -6, "");
static_assert(halide_error_code_constraints_make_required_region_smaller == -7, "");
static_assert(halide_error_code_constraint_violated == -8, "");
static_assert(halide_error_code_param_too_small == -9, "");
static_assert(halide_error_code_param_too_large == -10, "");
static_assert(halide_error_code_out_of_memory == -11, "");
static_assert(halide_error_code_buffer_argument_is_null == -12, "");
static_assert(halide_error_code_debug_to_file_failed == -13, "");
static_assert(halide_error_code_copy_to_host_failed == -14, "");
static_assert(halide_error_code_copy_to_device_failed == -15, "");
static_assert(halide_error_code_device_malloc_failed == -16, "");
static_assert(halide_error_code_device_sync_failed == -17, "");
static_assert(halide_error_code_device_free_failed == -18, "");
static_assert(halide_error_code_no_device_interface == -19, "");
static_assert(halide_error_code_unimplemented == -20, "");
static_assert(halide_error_code_symbol_not_found == -21, "");
static_assert(halide_error_code_internal_error == -22, "");
static_assert(halide_error_code_device_run_failed == -23, "");
static_assert(halide_error_code_unaligned_host_ptr == -24, "");
static_assert(halide_error_code_bad_fold == -25, "");
static_assert(halide_error_code_fold_factor_too_small == -26, "");
static_assert(halide_error_code_requirement_failed == -27, "");
static_assert(halide_error_code_buffer_extents_negative == -28, "");
static_assert(halide_error_code_gpu_device_error == -29, "");
static_assert(halide_error_code_trace_failed == -30, "");
static_assert(halide_error_code_specialize_fail == -31, "");
static_assert(halide_error_code_device_wrap_native_failed == -32, "");
static_assert(halide_error_code_device_detach_native_failed == -33, "");
static_assert(halide_error_code_host_is_null == -34, "");
static_assert(halide_error_code_bad_extern_fold == -35, "");
static_assert(halide_error_code_device_interface_no_device == -36, "");
static_assert(halide_error_code_host_and_device_dirty == -37, "");
static_assert(halide_error_code_buffer_is_null == -38, "");
static_assert(halide_error_code_device_buffer_copy_failed == -39, "");
static_assert(halide_error_code_device_crop_unsupported == -40, "");
static_assert(halide_error_code_device_crop_failed == -41, "");
static_assert(halide_error_code_incompatible_device_interface == -42, "");
static_assert(halide_error_code_bad_dimensions == -43, "");
static_assert(halide_error_code_device_dirty_with_no_device_support == -44, "");
static_assert(halide_error_code_storage_bound_too_small == -45, "");
static_assert(halide_error_code_split_factor_not_positive == -46, "");
static_assert(halide_error_code_vscale_invalid == -47, "");
static_assert(halide_error_code_cannot_profile_pipeline == -48, "");
static_assert(halide_error_code_streaming_vscale_invalid == -49, "");

// constexpr helpers are usable at compile time.
static_assert(halide_type_t(halide_type_float, 32).as_u32() == 0x00012002u, "");
static_assert(halide_type_t(halide_type_uint, 8).as_u32() == 0x00010801u, "");
static_assert(halide_type_t(halide_type_float, 16).bytes() == 2, "");
static_assert(halide_type_t(halide_type_uint, 1).bytes() == 1, "");

TEST(Abi, CLayoutMatches) {
    EXPECT_EQ(abi_check_c_sizes(), 0);
}

TEST(Abi, TypeWordMatchesMemoryImage) {
    const halide_type_t f32(halide_type_float, 32);
    EXPECT_EQ(f32.as_u32(), 0x00012002u);
    EXPECT_EQ(f32.lanes, 1);
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t word = 0;
    std::memcpy(&word, &f32, sizeof(word));
    EXPECT_EQ(word, 0x00012002u);
#endif
}

TEST(Abi, TypeHelpers) {
    const halide_type_t u8(halide_type_uint, 8);
    EXPECT_EQ(u8.bytes(), 1);
    EXPECT_EQ(u8.with_lanes(4).lanes, 4);
    EXPECT_EQ(u8.with_lanes(4).element_of(), u8);
    EXPECT_NE(u8, halide_type_t(halide_type_int, 8));
    const halide_type_t zero;
    EXPECT_EQ(zero.as_u32(), 0u);
}

TEST(Abi, DimensionHelpers) {
    halide_dimension_t d;
    EXPECT_EQ(d.min, 0);
    EXPECT_EQ(d.extent, 0);
    EXPECT_EQ(d.stride, 0);
    EXPECT_EQ(d.flags, 0u);
    EXPECT_EQ(halide_dimension_t(1, 2, 3), halide_dimension_t(1, 2, 3, 0));
    EXPECT_NE(halide_dimension_t(1, 2, 3), halide_dimension_t(1, 2, 4));
}

TEST(Abi, BufferGeometry) {
    // 10 x 4 float32, row stride 16 elements: span = 3 * 16 + 10 elements.
    halide_dimension_t dims[2] = {halide_dimension_t(0, 10, 1), halide_dimension_t(5, 4, 16)};
    float storage[64] = {};
    halide_buffer_t b{};
    b.host = reinterpret_cast<uint8_t *>(storage);
    b.type = halide_type_t(halide_type_float, 32);
    b.dimensions = 2;
    b.dim = dims;
    EXPECT_EQ(b.number_of_elements(), 40u);
    EXPECT_EQ(b.begin_offset(), 0);
    EXPECT_EQ(b.end_offset(), 1 + 9 + 48);
    EXPECT_EQ(b.size_in_bytes(), 58u * 4u);
    EXPECT_EQ(b.begin(), b.host);
    EXPECT_EQ(b.end(), b.host + 58 * 4);
    const int pos[2] = {2, 6};
    EXPECT_EQ(b.address_of(pos), b.host + (2 + 16) * 4);

    // Negative stride in dimension 1: host points at row 0, which is the
    // highest addressed row.
    dims[1].stride = -16;
    b.host = reinterpret_cast<uint8_t *>(storage + 48);
    EXPECT_EQ(b.begin_offset(), -48);
    EXPECT_EQ(b.end_offset(), 10);
    EXPECT_EQ(b.size_in_bytes(), 58u * 4u);
    EXPECT_EQ(b.begin(), reinterpret_cast<uint8_t *>(storage));

    // Zero stride (broadcast) contributes nothing; a 0-D buffer is one element.
    dims[1].stride = 0;
    EXPECT_EQ(b.size_in_bytes(), 10u * 4u);
    b.dimensions = 0;
    EXPECT_EQ(b.size_in_bytes(), 4u);
    EXPECT_EQ(b.number_of_elements(), 1u);

    // 64-bit arithmetic: 2^16 x 2^16 x 8-byte elements does not wrap.
    halide_dimension_t big[2] = {halide_dimension_t(0, 65536, 1), halide_dimension_t(0, 65536, 65536)};
    b.dim = big;
    b.dimensions = 2;
    b.type = halide_type_t(halide_type_float, 64);
    EXPECT_EQ(b.end_offset(), int64_t(1) << 32);
    if (sizeof(size_t) == 8) {
        EXPECT_EQ(static_cast<uint64_t>(b.size_in_bytes()), uint64_t(1) << 35);
    }
}

TEST(Abi, BufferFlags) {
    halide_buffer_t b{};
    b.flags = uint64_t(1) << 40;  // a user bit
    EXPECT_FALSE(b.host_dirty());
    b.set_host_dirty();
    EXPECT_TRUE(b.host_dirty());
    EXPECT_FALSE(b.device_dirty());
    b.set_host_dirty(false);
    b.set_device_dirty(true);
    EXPECT_EQ(b.flags, (uint64_t(1) << 40) | 2u);
    b.set_flag(halide_buffer_flag_device_dirty, false);
    EXPECT_EQ(b.flags, uint64_t(1) << 40);
}

TEST(Abi, Versions) {
    EXPECT_EQ(HALIDE_VK_RUNTIME_VERSION_MAJOR, 0);
    EXPECT_EQ(HALIDE_VK_RUNTIME_VERSION_MINOR, 1);
    EXPECT_EQ(HALIDE_VK_RUNTIME_VERSION_PATCH, 0);
}
