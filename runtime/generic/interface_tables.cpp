// halide_vulkan_device_interface(): the table generated code and
// Halide::Runtime::Buffer use to reach this backend. Slots 0-13 are the
// generic halide_* functions (generic_device.cpp), slot 14 the compute
// capability query, slot 15 the backend table, in Halide's order.
#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "generic/device_interface_impl.h"

namespace {

// Modules are never unloaded (the runtime is not JIT-reloaded), so there
// is nothing to count.
void use_module() {}
void release_module() {}

// halide_device_wrap_native has no offset argument.
int wrap_native(void *user_context, halide_buffer_t *buf, uint64_t handle) {
    return halide_vulkan_wrap_vk_buffer(user_context, buf, handle, 0);
}

const halide_device_interface_impl_t g_impl = {
    use_module,
    release_module,
    halide_vulkan_device_malloc,
    halide_vulkan_device_free,
    halide_vulkan_device_sync,
    halide_vulkan_device_release,
    halide_vulkan_copy_to_host,
    halide_vulkan_copy_to_device,
    halide_vulkan_device_and_host_malloc,
    halide_vulkan_device_and_host_free,
    halide_vulkan_buffer_copy,
    halide_vulkan_device_crop,
    halide_vulkan_device_slice,
    halide_vulkan_device_release_crop,
    wrap_native,
    halide_vulkan_detach_vk_buffer,
};

const halide_device_interface_t g_interface = {
    halide_device_malloc,
    halide_device_free,
    halide_device_sync,
    halide_device_release,
    halide_copy_to_host,
    halide_copy_to_device,
    halide_device_and_host_malloc,
    halide_device_and_host_free,
    halide_buffer_copy,
    halide_device_crop,
    halide_device_slice,
    halide_device_release_crop,
    halide_device_wrap_native,
    halide_device_detach_native,
    halide_vulkan_compute_capability,
    &g_impl,
};

// halide_reuse_device_allocations(false) drains every registered pool.
halide_device_allocation_pool g_pool = {halide_vulkan_release_unused_device_allocations, nullptr};

struct PoolRegistration {
    PoolRegistration() { halide_register_device_allocation_pool(&g_pool); }
} g_pool_registration;

}  // namespace

extern "C" const halide_device_interface_t *halide_vulkan_device_interface(void) {
    return &g_interface;
}
