/*
 * halide_vk_runtime.h -- extensions specific to halide-vk-runtime.
 *
 * Everything here is additional to Halide's runtime API and carries the
 * halide_vk_ prefix. Code that must also link against Halide's own runtime
 * should test HALIDE_VK_RUNTIME_VERSION_MAJOR before using it. Valid C99,
 * C11 and C++. All functions return 0 or a halide_error_code_t value unless
 * stated otherwise; none of them aborts through halide_error on bad
 * arguments (they just return the code).
 */
#ifndef HALIDE_VK_RUNTIME_H
#define HALIDE_VK_RUNTIME_H

#include "HalideRuntimeVulkan.h"

#define HALIDE_VK_RUNTIME_VERSION_MAJOR 0
#define HALIDE_VK_RUNTIME_VERSION_MINOR 1
#define HALIDE_VK_RUNTIME_VERSION_PATCH 0

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the library actually loaded, "MAJOR.MINOR.PATCH" (may differ
 * from the macros above if the header and library are mismatched). Static
 * string; never null. */
extern const char *halide_vk_runtime_version(void);

/* Writes a human-readable, multi-line summary of the configuration in effect
 * (settings from the halide_vulkan_set_* functions or their environment
 * variables, loader, debug flags, allocation callbacks, library version) into buf,
 * snprintf-style: at most size - 1 characters plus a terminating NUL, nothing
 * written when size is 0 (buf may then be null). Returns the length of the
 * full summary, excluding the NUL, so a return >= size means truncation.
 * Does not create the Vulkan context. */
extern int halide_vk_runtime_get_config(char *buf, size_t size);

/* ------------------------------------------------------------------------
 * Application-supplied contexts
 *
 * An application that defines its own halide_vulkan_acquire_context hands
 * the runtime a VkDevice it created. The runtime cannot find out which API
 * version, extensions and features were enabled on that device, so by
 * default it assumes Vulkan 1.1 core with no optional extensions or
 * features, and refuses kernels that need more. Declaring the device's
 * capabilities lifts that restriction.
 * ------------------------------------------------------------------------ */

typedef struct halide_vk_device_capabilities {
    /* sizeof(halide_vk_device_capabilities); lets the struct grow. */
    uint32_t struct_size;
    /* VkApplicationInfo.apiVersion the instance was created with, which the
     * physical device also supports (VK_MAKE_API_VERSION encoding). */
    uint32_t api_version;
    /* Device extensions enabled in vkCreateDevice. */
    uint32_t enabled_extension_count;
    const char *const *enabled_extension_names;
    /* Optional: the VkPhysicalDeviceFeatures2 chain passed as pNext of
     * VkDeviceCreateInfo. Null means no optional feature is enabled (only
     * what api_version makes mandatory). */
    const void *enabled_features;
} halide_vk_device_capabilities;

/* Records what `device` (created by the application, returned by its
 * acquire_context override) has enabled. Call it before the first pipeline
 * or buffer operation on that device; calling again replaces the earlier
 * declaration. The runtime copies what it needs during the call (names and
 * the recognised structs of the feature chain), so none of the pointers has
 * to stay valid afterwards. Does not acquire the context.
 * Returns 0; -1 (generic_error) if device or caps is null or
 * caps->struct_size is smaller than the version-0.1 struct; -11 if more
 * than 16 distinct devices have been declared. */
extern int halide_vk_declare_device_capabilities(void *user_context, VkDevice device,
                                                 const halide_vk_device_capabilities *caps);

/* Copies the name of the physical device in use
 * (VkPhysicalDeviceProperties::deviceName) into buf, truncated to size - 1
 * characters and NUL-terminated. Acquires the context, so it creates the
 * default one if none exists yet. Returns 0; -1 if buf is null or size is 0;
 * otherwise the code of the failed context creation (-36 no usable device or
 * layer, -21 no Vulkan loader, -11 out of host memory). */
extern int halide_vk_get_selected_device_name(void *user_context, char *buf, size_t size);

/* Device-memory accounting of the runtime's allocator, all in bytes except
 * the counts. */
typedef struct halide_vk_memory_stats {
    uint64_t block_count;       /* VkDeviceMemory blocks currently allocated */
    uint64_t block_bytes;       /* total size of those blocks */
    uint64_t allocated_bytes;   /* bytes in regions used by live buffers */
    uint64_t allocation_count;  /* live regions (device allocations) */
    uint64_t cached_free_bytes; /* released regions kept for reuse */
    uint64_t peak_block_bytes;  /* highest block_bytes since context creation */
} halide_vk_memory_stats;

/* Fills *out with a consistent snapshot. Does not create the context: with
 * no context every field is 0. Returns 0, or -1 if out is null. */
extern int halide_vk_get_memory_stats(void *user_context, halide_vk_memory_stats *out);

/* Number of warning and error messages the Vulkan debug messenger has
 * received since the process started (validation layer, driver). Each
 * message is also written verbatim to standard error. Tests use the count
 * to fail on any validation message. */
extern uint64_t halide_vk_get_validation_message_count(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HALIDE_VK_RUNTIME_H */
