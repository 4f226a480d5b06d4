#!/usr/bin/env python3
"""Checks the dynamic symbol table of libhalide_vk_runtime.so: only halide_*
C symbols are exported (no C++, volk or SPIRV-Tools symbols leak), and every
symbol a no_runtime Halide pipeline or an application needs is there."""
import re
import subprocess
import sys

REQUIRED = """
halide_vulkan_device_interface halide_vulkan_initialize_kernels halide_vulkan_run
halide_vulkan_finalize_kernels halide_vulkan_acquire_context halide_vulkan_release_context
halide_vulkan_wrap_vk_buffer halide_vulkan_detach_vk_buffer halide_vulkan_get_vk_buffer
halide_vulkan_get_vk_crop_offset halide_vulkan_set_allocation_callbacks
halide_vulkan_get_allocation_callbacks halide_vulkan_set_layer_names halide_vulkan_get_layer_names
halide_vulkan_set_extension_names halide_vulkan_get_extension_names halide_vulkan_set_device_type
halide_vulkan_get_device_type halide_vulkan_set_build_options halide_vulkan_get_build_options
halide_vulkan_set_alloc_config halide_vulkan_get_alloc_config halide_vulkan_device_malloc
halide_vulkan_device_free halide_vulkan_device_sync halide_vulkan_device_release
halide_vulkan_copy_to_device halide_vulkan_copy_to_host halide_vulkan_buffer_copy
halide_vulkan_device_crop halide_vulkan_device_slice halide_vulkan_device_release_crop
halide_vulkan_device_and_host_malloc halide_vulkan_device_and_host_free
halide_vulkan_compute_capability halide_vulkan_release_unused_device_allocations
halide_vulkan_is_initialized halide_vulkan_get_symbol
halide_copy_to_device halide_copy_to_host halide_device_malloc halide_device_free
halide_device_free_as_destructor halide_device_and_host_malloc halide_device_and_host_free
halide_device_and_host_free_as_destructor halide_device_host_nop_free halide_buffer_copy
halide_device_sync_global halide_device_sync halide_device_release halide_device_crop
halide_device_slice halide_device_release_crop halide_device_wrap_native
halide_device_detach_native halide_reuse_device_allocations halide_can_reuse_device_allocations
halide_register_device_allocation_pool halide_set_gpu_device halide_get_gpu_device
halide_malloc halide_free halide_default_malloc halide_default_free halide_set_custom_malloc
halide_set_custom_free halide_error halide_default_error halide_set_error_handler halide_print
halide_default_print halide_set_custom_print
halide_error_bounds_inference_call_failed halide_error_extern_stage_failed
halide_error_explicit_bounds_too_small halide_error_bad_type halide_error_bad_dimensions
halide_error_access_out_of_bounds halide_error_buffer_allocation_too_large
halide_error_buffer_extents_negative halide_error_buffer_extents_too_large
halide_error_constraints_make_required_region_smaller halide_error_constraint_violated
halide_error_param_too_small_i64 halide_error_param_too_small_u64 halide_error_param_too_small_f64
halide_error_param_too_large_i64 halide_error_param_too_large_u64 halide_error_param_too_large_f64
halide_error_out_of_memory halide_error_buffer_argument_is_null halide_error_debug_to_file_failed
halide_error_unaligned_host_ptr halide_error_host_is_null halide_error_bad_fold
halide_error_bad_extern_fold halide_error_fold_factor_too_small halide_error_requirement_failed
halide_error_specialize_fail halide_error_no_device_interface halide_error_device_interface_no_device
halide_error_host_and_device_dirty halide_error_buffer_is_null
halide_error_device_dirty_with_no_device_support halide_error_storage_bound_too_small
halide_error_device_crop_failed halide_error_split_factor_not_positive halide_error_vscale_invalid
halide_error_streaming_vscale_invalid
halide_vk_runtime_version halide_vk_runtime_get_config halide_vk_declare_device_capabilities
halide_vk_get_selected_device_name halide_vk_get_memory_stats halide_vk_get_validation_message_count
""".split()


def main():
    lib = sys.argv[1]
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True, text=True).stdout
    exported = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        kind, name = parts[1], parts[2]
        if kind == "A":  # the version node (HALIDE_VK_RUNTIME_0)
            continue
        exported.add(re.sub(r"@.*", "", name))
    bad = sorted(n for n in exported if not n.startswith("halide_"))
    missing = sorted(n for n in REQUIRED if n not in exported)
    print(f"{len(exported)} exported symbols")
    if bad:
        print("exported but not halide_*:", " ".join(bad))
    if missing:
        print("required but not exported:", " ".join(missing))
    # Every exported function must be a function (T), never data leaking out.
    data = sorted(re.sub(r"@.*", "", l.split()[2]) for l in out.splitlines()
                  if len(l.split()) >= 3 and l.split()[1] not in ("T", "W", "A", "i"))
    if data:
        print("exported non-function symbols:", " ".join(data))
    return 1 if bad or missing or data else 0


if __name__ == "__main__":
    sys.exit(main())
