/*
 * HalideRuntimeVulkan.h -- Vulkan backend API of halide-vk-runtime.
 *
 * Declares every halide_vulkan_* symbol the library exports, with the
 * signatures of Halide PR #9110 (four-argument halide_vulkan_wrap_vk_buffer,
 * halide_vulkan_get_vk_crop_offset). Valid C99, C11 and C++.
 *
 * Vulkan types: this header does not require the Vulkan SDK. If
 * <vulkan/vulkan.h> (or vulkan_core.h) was included first, its definitions
 * are used. Otherwise the few handle types needed here are declared with
 * exactly the definitions Khronos uses, so that including vulkan.h *later*
 * still works in C11 and C++ (identical typedef redefinition). C99 forbids
 * repeating a typedef, so C99 code that needs both must include
 * <vulkan/vulkan.h> before this header.
 */
#ifndef HALIDE_HALIDERUNTIMEVULKAN_H
#define HALIDE_HALIDERUNTIMEVULKAN_H

#include "HalideRuntime.h"

/* ------------------------------------------------------------------------
 * Vulkan handle types, when vulkan.h is absent
 * ------------------------------------------------------------------------ */

#ifndef VK_VERSION_1_0

/* Same 64-bit detection as Khronos, so that non-dispatchable handles have the
 * same type here and in vulkan_core.h. An explicit VK_USE_64_BIT_PTR_DEFINES
 * from the user wins, as it does there. */
#if defined(VK_USE_64_BIT_PTR_DEFINES)
#define HALIDE_VK_HANDLES_ARE_POINTERS (VK_USE_64_BIT_PTR_DEFINES == 1)
#elif defined(__LP64__) || defined(_WIN64) || (defined(__x86_64__) && !defined(__ILP32__)) || \
    defined(_M_X64) || defined(__ia64) || defined(_M_IA64) || defined(__aarch64__) ||      \
    defined(__powerpc64__) || (defined(__riscv) && __riscv_xlen == 64)
#define HALIDE_VK_HANDLES_ARE_POINTERS 1
#else
#define HALIDE_VK_HANDLES_ARE_POINTERS 0
#endif

/* Dispatchable handles are always pointers to incomplete structs. */
typedef struct VkInstance_T *VkInstance;
typedef struct VkPhysicalDevice_T *VkPhysicalDevice;
typedef struct VkDevice_T *VkDevice;
typedef struct VkQueue_T *VkQueue;

/* Non-dispatchable handles: pointers on 64-bit targets, uint64_t otherwise. */
#if HALIDE_VK_HANDLES_ARE_POINTERS
typedef struct VkBuffer_T *VkBuffer;
typedef struct VkCommandPool_T *VkCommandPool;
typedef struct VkDebugUtilsMessengerEXT_T *VkDebugUtilsMessengerEXT;
#else
typedef uint64_t VkBuffer;
typedef uint64_t VkCommandPool;
typedef uint64_t VkDebugUtilsMessengerEXT;
#endif

/* Only ever used through a pointer here. */
struct VkAllocationCallbacks;
typedef struct VkAllocationCallbacks VkAllocationCallbacks;

#elif !defined(VK_EXT_debug_utils)

/* Vulkan headers older than VK_EXT_debug_utils (2018): declare the one
 * extension handle this API uses, matching how those headers define
 * non-dispatchable handles. */
#if defined(VK_USE_64_BIT_PTR_DEFINES) && (VK_USE_64_BIT_PTR_DEFINES == 1)
typedef struct VkDebugUtilsMessengerEXT_T *VkDebugUtilsMessengerEXT;
#elif defined(VK_USE_64_BIT_PTR_DEFINES)
typedef uint64_t VkDebugUtilsMessengerEXT;
#elif defined(__LP64__) || defined(_WIN64) || (defined(__x86_64__) && !defined(__ILP32__)) || \
    defined(_M_X64) || defined(__ia64) || defined(_M_IA64) || defined(__aarch64__) ||        \
    defined(__powerpc64__)
typedef struct VkDebugUtilsMessengerEXT_T *VkDebugUtilsMessengerEXT;
#else
typedef uint64_t VkDebugUtilsMessengerEXT;
#endif

#endif /* VK_VERSION_1_0 */

#ifdef __cplusplus
extern "C" {
#endif

/* The runtime's device-memory allocator for one context. Opaque; an
 * application that supplies its own context (halide_vulkan_acquire_context)
 * may return null for it and the runtime manages its own. */
struct halide_vulkan_memory_allocator;
typedef struct halide_vulkan_memory_allocator halide_vulkan_memory_allocator;

/* ========================================================================
 * Public API (declared by Halide's own HalideRuntimeVulkan.h)
 * ======================================================================== */

/* The Vulkan backend's interface table. Always the same address: generated
 * code recognises Vulkan buffers by comparing against it. */
extern const struct halide_device_interface_t *halide_vulkan_device_interface(void);

/* Called by generated code at the start of every pipeline invocation with
 * Vulkan kernels. `*state_ptr` is a per-pipeline slot (initially 0) that the
 * runtime fills with an id; `src`/`size` is the embedded kernel blob, which
 * is compiled once per device and cached. 0, or -1 on compilation failure,
 * -36 if the context cannot be acquired. */
extern int halide_vulkan_initialize_kernels(void *user_context, void **state_ptr,
                                            const char *src, int size);

/* Dispatches kernel `entry_name` of the blob identified by `state_ptr` (the
 * value stored by initialize_kernels) over blocksX*Y*Z workgroups of
 * threadsX*Y*Z invocations, with shared_mem_bytes of dynamic shared memory.
 * For a scalar argument args[i] points to its value of arg_sizes[i] bytes;
 * for a buffer argument (arg_is_buffer[i] != 0) args[i] is the
 * halide_buffer_t * itself. The lists end at the first arg_sizes entry that
 * is 0. The dispatch is recorded into the current batch and the call
 * returns at once (Halide's runtime waits for the GPU); copies to the host,
 * halide_device_sync and detach/free of wrapped buffers wait for it.
 * HL_VK_SYNC=1 makes every call wait. */
extern int halide_vulkan_run(void *user_context,
                             void *state_ptr,
                             const char *entry_name,
                             int blocksX, int blocksY, int blocksZ,
                             int threadsX, int threadsY, int threadsZ,
                             int shared_mem_bytes,
                             size_t arg_sizes[],
                             void *args[],
                             int8_t arg_is_buffer[]);

/* Registered by generated code as a destructor of each invocation; receives
 * the slot's value. May be skipped on some early-exit paths, so the runtime
 * frees nothing here. */
extern void halide_vulkan_finalize_kernels(void *user_context, void *state_ptr);

/* Context hooks. Every runtime entry point that touches Vulkan brackets its
 * work with one acquire and one release. An application can define its own
 * strong versions to supply its own instance/device/queue (see also
 * halide_vk_declare_device_capabilities in halide_vk_runtime.h).
 *
 * acquire fills every out-parameter (all non-null) and returns 0, or returns
 * a non-zero error code and the caller does not call release. `create` is
 * false only when the caller wants the existing context, if any, without
 * creating one (device release). `allocator` and `messenger` may be returned
 * as null by an application override. Acquire/release must behave as a
 * critical section or the override must otherwise be safe for concurrent
 * use of the queue it returns. */
extern int halide_vulkan_acquire_context(void *user_context,
                                         halide_vulkan_memory_allocator **allocator,
                                         VkInstance *instance,
                                         VkDevice *device,
                                         VkPhysicalDevice *physical_device,
                                         VkQueue *queue,
                                         uint32_t *queue_family_index,
                                         VkDebugUtilsMessengerEXT *messenger,
                                         bool create);

extern int halide_vulkan_release_context(void *user_context,
                                         VkInstance instance,
                                         VkDevice device,
                                         VkQueue queue,
                                         VkDebugUtilsMessengerEXT messenger);

/* Makes `buf` use an application-owned VkBuffer (passed as its 64-bit handle
 * value), starting `offset` bytes into it. buf must have no device
 * allocation (else -32); vk_buffer must be non-zero (else -32). The
 * application keeps ownership and must keep the VkBuffer, created on the
 * runtime's VkDevice with storage and transfer usage and bound to memory,
 * alive until detach. -11 if the runtime's bookkeeping cannot be
 * allocated. */
extern int halide_vulkan_wrap_vk_buffer(void *user_context, struct halide_buffer_t *buf,
                                        uint64_t vk_buffer, uint64_t offset);

/* Undoes halide_vulkan_wrap_vk_buffer (or releases a view of a wrapped
 * buffer) without destroying the VkBuffer; clears buf->device. 0 if buf has
 * no device allocation; -42 if it is not a Vulkan buffer; -33 if it is not
 * wrapped. */
extern int halide_vulkan_detach_vk_buffer(void *user_context, struct halide_buffer_t *buf);

/* The VkBuffer backing `buf` (runtime-owned or wrapped), as an integer; 0 if
 * none. Does not include any offset: see get_vk_crop_offset. */
extern uintptr_t halide_vulkan_get_vk_buffer(void *user_context, struct halide_buffer_t *buf);

/* Byte offset, inside the VkBuffer returned by get_vk_buffer, of buf's
 * device byte 0: the lowest byte of its span (wrap offset plus crop
 * offset). With non-negative strides that is the element at buf's min
 * coordinates, as in Halide. Returns 0 if buf has no device allocation; a
 * bad buffer is reported through halide_error and also returns 0. */
extern uint64_t halide_vulkan_get_vk_crop_offset(void *user_context, struct halide_buffer_t *buf);

/* Allocation callbacks passed to every Vulkan create/destroy/allocate call
 * and used for the runtime's own host metadata. Null (default) means the
 * system allocator. Read when the context is created; the struct must
 * outlive the context. */
extern void halide_vulkan_set_allocation_callbacks(const VkAllocationCallbacks *callbacks);
extern const VkAllocationCallbacks *halide_vulkan_get_allocation_callbacks(void *user_context);

/* String settings consulted when the context is created, so set them before
 * the first Vulkan call. A getter called before any setter returns the
 * environment variable's value (or ""). Setting null stores "". Values are
 * copied (and truncated if very long).
 *   layer names     HL_VK_LAYERS, else VK_INSTANCE_LAYERS; ':'-separated
 *                   (';' on Windows)
 *   extension names HL_VK_EXTENSIONS
 *   device type     HL_VK_DEVICE_TYPE: "cpu", "integrated-gpu",
 *                   "discrete-gpu", "virtual-gpu" or "gpu"; empty prefers
 *                   a discrete, then integrated, then virtual GPU, then a
 *                   CPU device; anything else is an error
 *   build options   HL_VK_BUILD_OPTIONS */
extern void halide_vulkan_set_layer_names(const char *n);
extern const char *halide_vulkan_get_layer_names(void *user_context);
extern void halide_vulkan_set_extension_names(const char *n);
extern const char *halide_vulkan_get_extension_names(void *user_context);
extern void halide_vulkan_set_device_type(const char *n);
extern const char *halide_vulkan_get_device_type(void *user_context);
extern void halide_vulkan_set_build_options(const char *n);
extern const char *halide_vulkan_get_build_options(void *user_context);

/* ========================================================================
 * Exported but not in Halide's public header. Most are the backend halves
 * of the generic device API: they skip its validation and dirty-bit
 * bookkeeping, so prefer the halide_device_* functions.
 * ======================================================================== */

/* Allocator configuration string (HL_VK_ALLOC_CONFIG); same rules as the
 * settings above. */
extern void halide_vulkan_set_alloc_config(const char *n);
extern const char *halide_vulkan_get_alloc_config(void *user_context);

extern int halide_vulkan_device_malloc(void *user_context, struct halide_buffer_t *buf);
extern int halide_vulkan_device_free(void *user_context, struct halide_buffer_t *buf);
/* `buf` may be null: waits for all of the runtime's work. */
extern int halide_vulkan_device_sync(void *user_context, struct halide_buffer_t *buf);
/* Destroys the runtime-created context and everything it owns (see
 * halide_device_release). Application-supplied handles are never destroyed. */
extern int halide_vulkan_device_release(void *user_context);
extern int halide_vulkan_copy_to_device(void *user_context, struct halide_buffer_t *buf);
extern int halide_vulkan_copy_to_host(void *user_context, struct halide_buffer_t *buf);
extern int halide_vulkan_buffer_copy(void *user_context, struct halide_buffer_t *src,
                                     const struct halide_device_interface_t *dst_device_interface,
                                     struct halide_buffer_t *dst);
extern int halide_vulkan_device_crop(void *user_context, const struct halide_buffer_t *src,
                                     struct halide_buffer_t *dst);
extern int halide_vulkan_device_slice(void *user_context, const struct halide_buffer_t *src,
                                      int slice_dim, int slice_pos, struct halide_buffer_t *dst);
extern int halide_vulkan_device_release_crop(void *user_context, struct halide_buffer_t *buf);
extern int halide_vulkan_device_and_host_malloc(void *user_context, struct halide_buffer_t *buf);
extern int halide_vulkan_device_and_host_free(void *user_context, struct halide_buffer_t *buf);

/* Vulkan API version (major.minor) of the device the runtime would select,
 * without creating the context. Never fails: 0.0 when no device is usable. */
extern int halide_vulkan_compute_capability(void *user_context, int *major, int *minor);

/* Frees cached device memory not used by any live buffer. 0, or -36. */
extern int halide_vulkan_release_unused_device_allocations(void *user_context);

/* True once the runtime holds an instance and a device. */
extern bool halide_vulkan_is_initialized(void);

/* Resolves a Vulkan loader symbol: from HL_VK_LOADER_LIB when set (only
 * that library), else from libvulkan.so.1, then libvulkan.so. Null if not found.
 * Overridable, e.g. for applications that bring their own loader. */
extern void *halide_vulkan_get_symbol(void *user_context, const char *name);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HALIDE_HALIDERUNTIMEVULKAN_H */
