/* C11 layout checks for the public headers (spec 01-c-abi.md).
 *
 * Everything that can be checked at compile time is a _Static_assert; the
 * few facts that depend on byte order are checked at run time by
 * abi_check_c_sizes(), which the GoogleTest binary calls. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"

int abi_check_c_sizes(void);

#define FIELD_SIZE(type, field) sizeof(((type *)0)->field)
#define CHECK_FIELD(type, field, off, size)                                      \
    _Static_assert(offsetof(type, field) == (off), #type "." #field " offset");  \
    _Static_assert(FIELD_SIZE(type, field) == (size), #type "." #field " size")

/* 1.1 halide_type_t: 4 bytes, alignment 2, one-byte code. */
_Static_assert(sizeof(halide_type_t) == 4, "halide_type_t size");
_Static_assert(_Alignof(halide_type_t) == 2, "halide_type_t alignment");
CHECK_FIELD(halide_type_t, code, 0, 1);
CHECK_FIELD(halide_type_t, bits, 1, 1);
CHECK_FIELD(halide_type_t, lanes, 2, 2);
_Static_assert(halide_type_int == 0 && halide_type_uint == 1 && halide_type_float == 2 &&
                   halide_type_handle == 3 && halide_type_bfloat == 4,
               "halide_type_code_t values");

/* 1.2 halide_dimension_t: 16 bytes, alignment 4. */
_Static_assert(sizeof(halide_dimension_t) == 16, "halide_dimension_t size");
_Static_assert(_Alignof(halide_dimension_t) == 4, "halide_dimension_t alignment");
CHECK_FIELD(halide_dimension_t, min, 0, 4);
CHECK_FIELD(halide_dimension_t, extent, 4, 4);
CHECK_FIELD(halide_dimension_t, stride, 8, 4);
CHECK_FIELD(halide_dimension_t, flags, 12, 4);

_Static_assert(halide_buffer_flag_host_dirty == 1, "host_dirty bit");
_Static_assert(halide_buffer_flag_device_dirty == 2, "device_dirty bit");

/* The pointer-carrying structs are specified for LP64 / LLP64 targets. */
#if UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu

/* 1.3 halide_buffer_t: 56 bytes, alignment 8. */
_Static_assert(sizeof(halide_buffer_t) == 56, "halide_buffer_t size");
_Static_assert(_Alignof(halide_buffer_t) == 8, "halide_buffer_t alignment");
CHECK_FIELD(halide_buffer_t, device, 0, 8);
CHECK_FIELD(halide_buffer_t, device_interface, 8, 8);
CHECK_FIELD(halide_buffer_t, host, 16, 8);
CHECK_FIELD(halide_buffer_t, flags, 24, 8);
CHECK_FIELD(halide_buffer_t, type, 32, 4);
CHECK_FIELD(halide_buffer_t, dimensions, 36, 4);
CHECK_FIELD(halide_buffer_t, dim, 40, 8);
CHECK_FIELD(halide_buffer_t, padding, 48, 8);

/* 1.4 halide_device_interface_t: 15 function pointers + impl. */
_Static_assert(sizeof(halide_device_interface_t) == 128, "halide_device_interface_t size");
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

/* 1.6 halide_device_allocation_pool. */
_Static_assert(sizeof(halide_device_allocation_pool) == 16, "halide_device_allocation_pool size");
CHECK_FIELD(halide_device_allocation_pool, release_unused, 0, 8);
CHECK_FIELD(halide_device_allocation_pool, next, 8, 8);

/* Pipeline metadata (read by users through generated *_metadata()). */
_Static_assert(sizeof(halide_scalar_value_t) == 8, "halide_scalar_value_t size");
_Static_assert(sizeof(halide_filter_argument_t) == 64, "halide_filter_argument_t size");
CHECK_FIELD(halide_filter_argument_t, type, 16, 4);
CHECK_FIELD(halide_filter_argument_t, scalar_def, 24, 8);
CHECK_FIELD(halide_filter_argument_t, buffer_estimates, 56, 8);
_Static_assert(sizeof(halide_filter_metadata_t) == 32, "halide_filter_metadata_t size");

/* Our extension structs. */
_Static_assert(sizeof(halide_vk_memory_stats) == 48, "halide_vk_memory_stats size");
_Static_assert(sizeof(halide_vk_device_capabilities) == 32, "halide_vk_device_capabilities size");
CHECK_FIELD(halide_vk_device_capabilities, enabled_extension_names, 16, 8);
CHECK_FIELD(halide_vk_device_capabilities, enabled_features, 24, 8);

/* Vulkan handles as declared by HalideRuntimeVulkan.h (or vulkan.h). */
_Static_assert(sizeof(VkInstance) == 8 && sizeof(VkDevice) == 8 && sizeof(VkQueue) == 8 &&
                   sizeof(VkPhysicalDevice) == 8 && sizeof(VkDebugUtilsMessengerEXT) == 8,
               "Vulkan handle sizes");

#endif /* 64-bit pointers */

/* 1.8 error codes. */
_Static_assert(halide_error_code_success == 0, "");
_Static_assert(halide_error_code_generic_error == -1, "");
_Static_assert(halide_error_code_explicit_bounds_too_small == -2, "");
_Static_assert(halide_error_code_bad_type == -3, "");
_Static_assert(halide_error_code_access_out_of_bounds == -4, "");
_Static_assert(halide_error_code_buffer_allocation_too_large == -5, "");
_Static_assert(halide_error_code_buffer_extents_too_large == -6, "");
_Static_assert(halide_error_code_constraints_make_required_region_smaller == -7, "");
_Static_assert(halide_error_code_constraint_violated == -8, "");
_Static_assert(halide_error_code_param_too_small == -9, "");
_Static_assert(halide_error_code_param_too_large == -10, "");
_Static_assert(halide_error_code_out_of_memory == -11, "");
_Static_assert(halide_error_code_buffer_argument_is_null == -12, "");
_Static_assert(halide_error_code_debug_to_file_failed == -13, "");
_Static_assert(halide_error_code_copy_to_host_failed == -14, "");
_Static_assert(halide_error_code_copy_to_device_failed == -15, "");
_Static_assert(halide_error_code_device_malloc_failed == -16, "");
_Static_assert(halide_error_code_device_sync_failed == -17, "");
_Static_assert(halide_error_code_device_free_failed == -18, "");
_Static_assert(halide_error_code_no_device_interface == -19, "");
_Static_assert(halide_error_code_unimplemented == -20, "");
_Static_assert(halide_error_code_symbol_not_found == -21, "");
_Static_assert(halide_error_code_internal_error == -22, "");
_Static_assert(halide_error_code_device_run_failed == -23, "");
_Static_assert(halide_error_code_unaligned_host_ptr == -24, "");
_Static_assert(halide_error_code_bad_fold == -25, "");
_Static_assert(halide_error_code_fold_factor_too_small == -26, "");
_Static_assert(halide_error_code_requirement_failed == -27, "");
_Static_assert(halide_error_code_buffer_extents_negative == -28, "");
_Static_assert(halide_error_code_gpu_device_error == -29, "");
_Static_assert(halide_error_code_trace_failed == -30, "");
_Static_assert(halide_error_code_specialize_fail == -31, "");
_Static_assert(halide_error_code_device_wrap_native_failed == -32, "");
_Static_assert(halide_error_code_device_detach_native_failed == -33, "");
_Static_assert(halide_error_code_host_is_null == -34, "");
_Static_assert(halide_error_code_bad_extern_fold == -35, "");
_Static_assert(halide_error_code_device_interface_no_device == -36, "");
_Static_assert(halide_error_code_host_and_device_dirty == -37, "");
_Static_assert(halide_error_code_buffer_is_null == -38, "");
_Static_assert(halide_error_code_device_buffer_copy_failed == -39, "");
_Static_assert(halide_error_code_device_crop_unsupported == -40, "");
_Static_assert(halide_error_code_device_crop_failed == -41, "");
_Static_assert(halide_error_code_incompatible_device_interface == -42, "");
_Static_assert(halide_error_code_bad_dimensions == -43, "");
_Static_assert(halide_error_code_device_dirty_with_no_device_support == -44, "");
_Static_assert(halide_error_code_storage_bound_too_small == -45, "");
_Static_assert(halide_error_code_split_factor_not_positive == -46, "");
_Static_assert(halide_error_code_vscale_invalid == -47, "");
_Static_assert(halide_error_code_cannot_profile_pipeline == -48, "");
_Static_assert(halide_error_code_streaming_vscale_invalid == -49, "");

/* Returns 0 when the byte-level layout matches what generated code assumes,
 * otherwise the number of failed checks. */
int abi_check_c_sizes(void) {
    int failures = 0;
    halide_type_t t;
    uint32_t word;
    halide_buffer_t buf;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    /* The word values below are the little-endian ones. */
    return 0;
#endif
    /* Generated code compares types as one 32-bit word (little-endian:
     * code | bits << 8 | lanes << 16); float32 is 0x00012002. */
    memset(&t, 0, sizeof(t));
    t.code = (uint8_t)halide_type_float;
    t.bits = 32;
    t.lanes = 1;
    memcpy(&word, &t, sizeof(word));
    if (word != 0x00012002u) failures++;

    t.code = (uint8_t)halide_type_uint;
    t.bits = 8;
    memcpy(&word, &t, sizeof(word));
    if (word != 0x00010801u) failures++;

    /* A buffer's type sits at byte 32 as the same word. */
    memset(&buf, 0, sizeof(buf));
    buf.type.code = (uint8_t)halide_type_int;
    buf.type.bits = 16;
    buf.type.lanes = 1;
    memcpy(&word, (const unsigned char *)&buf + offsetof(halide_buffer_t, type), sizeof(word));
    if (word != 0x00011000u) failures++;

    /* Harness-style assignment of the enum into the one-byte field. */
    buf.type.code = (halide_type_code_t)halide_type_bfloat;
    if (buf.type.code != 4) failures++;

    return failures;
}
