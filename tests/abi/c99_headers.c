/* Compile-only check: the three public headers are valid strict C99
 * (built with -std=c99 -pedantic -Werror -Wall -Wextra). Touches each kind
 * of declaration so that a header error cannot hide behind laziness. */
#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"

/* Each header again: include guards must make this harmless. */
#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"

int c99_headers_check(void);

int c99_headers_check(void) {
    halide_dimension_t dim[1];
    halide_buffer_t buf;
    halide_vk_memory_stats stats;
    halide_vk_device_capabilities caps;
    halide_device_allocation_pool pool;
    const halide_device_interface_t *(*iface_fn)(void) = halide_vulkan_device_interface;
    int (*acquire)(void *, halide_vulkan_memory_allocator **, VkInstance *, VkDevice *,
                   VkPhysicalDevice *, VkQueue *, uint32_t *, VkDebugUtilsMessengerEXT *,
                   bool) = halide_vulkan_acquire_context;
    int (*wrap)(void *, halide_buffer_t *, uint64_t, uint64_t) = halide_vulkan_wrap_vk_buffer;
    const VkAllocationCallbacks *(*get_cb)(void *) = halide_vulkan_get_allocation_callbacks;
    halide_print_t print = halide_default_print;
    halide_error_handler_t err = halide_default_error;
    halide_malloc_t m = halide_default_malloc;
    halide_free_t f = halide_default_free;
    enum halide_error_code_t code = halide_error_code_streaming_vscale_invalid;

    dim[0].min = 0;
    dim[0].extent = 1;
    dim[0].stride = 1;
    dim[0].flags = 0;
    buf.device = 0;
    buf.device_interface = 0;
    buf.host = 0;
    buf.flags = (uint64_t)halide_buffer_flag_host_dirty;
    buf.type.code = (halide_type_code_t)halide_type_float;
    buf.type.bits = 32;
    buf.type.lanes = 1;
    buf.dimensions = 1;
    buf.dim = dim;
    buf.padding = 0;
    stats.block_count = 0;
    caps.struct_size = (uint32_t)sizeof(caps);
    pool.release_unused = halide_vulkan_release_unused_device_allocations;
    pool.next = 0;

    return (int)code + (int)buf.type.bits + (int)stats.block_count + (int)caps.struct_size +
           (iface_fn != 0) + (acquire != 0) + (wrap != 0) + (get_cb != 0) + (print != 0) +
           (err != 0) + (m != 0) + (f != 0) + (pool.next != 0) + HALIDE_VK_RUNTIME_VERSION_MINOR;
}

int main(void) {
    return 0;
}
