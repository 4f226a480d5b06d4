/*
 * HalideRuntime.h -- public C ABI of halide-vk-runtime.
 *
 * This header describes the data structures and entry points that Halide
 * ahead-of-time compiled pipelines share with their runtime. It is written
 * from the ABI description in the project spec (01-c-abi.md and
 * 03-generic-entry-points.md); every layout here is binding because
 * generated object files were compiled against the same layout.
 *
 * The header is valid C99, C11 and C++ (C++11 or later). Everything is
 * declared with C linkage. C++ callers additionally get a few inline helpers
 * on the structs (constructors, comparisons, buffer geometry); they do not
 * change the layout.
 *
 * Only the subset of Halide's runtime API that this library provides is
 * declared: types, print/error/allocation hooks, the halide_error_* family
 * and the generic device API. The thread pool, tracing, profiler,
 * memoization and similar host-only facilities are not part of this library.
 */
#ifndef HALIDE_HALIDERUNTIME_H
#define HALIDE_HALIDERUNTIME_H

#include <stddef.h>
#include <stdint.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

/* ------------------------------------------------------------------------
 * Attribute helpers. Each is guarded so that generated headers (which define
 * some of them too) and user code can predefine them.
 * ------------------------------------------------------------------------ */

#ifndef HALIDE_ALWAYS_INLINE
#ifdef _MSC_VER
#define HALIDE_ALWAYS_INLINE __forceinline
#else
#define HALIDE_ALWAYS_INLINE inline __attribute__((always_inline))
#endif
#endif

#ifndef HALIDE_ATTRIBUTE_ALIGN
#ifdef _MSC_VER
#define HALIDE_ATTRIBUTE_ALIGN(x) __declspec(align(x))
#else
#define HALIDE_ATTRIBUTE_ALIGN(x) __attribute__((aligned(x)))
#endif
#endif

#ifndef HALIDE_MUST_USE_RESULT
#ifdef __has_attribute
#if __has_attribute(nodiscard)
#define HALIDE_MUST_USE_RESULT [[nodiscard]]
#elif __has_attribute(warn_unused_result)
#define HALIDE_MUST_USE_RESULT __attribute__((warn_unused_result))
#else
#define HALIDE_MUST_USE_RESULT
#endif
#else
#define HALIDE_MUST_USE_RESULT
#endif
#endif

/* Generated pipeline headers put this in front of every pipeline function. */
#ifndef HALIDE_FUNCTION_ATTRS
#define HALIDE_FUNCTION_ATTRS
#endif

#ifndef HALIDE_EXPORT_SYMBOL
#ifdef _MSC_VER
#define HALIDE_EXPORT_SYMBOL __declspec(dllexport)
#else
#define HALIDE_EXPORT_SYMBOL __attribute__((visibility("default")))
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Forward declarations, at file scope so that C does not give the structs
 * prototype scope when they first appear in a parameter list. */
struct halide_buffer_t;
struct halide_device_interface_t;
struct halide_device_interface_impl_t; /* backend table; not public */
struct halide_device_allocation_pool;
struct halide_filter_metadata_t;

/* ========================================================================
 * Types
 * ======================================================================== */

/* Kind of scalar held by a buffer element. In C++ the enum is given a
 * one-byte underlying type so that it can be the `code` field itself. */
#ifdef __cplusplus
typedef enum halide_type_code_t : uint8_t
#else
typedef enum halide_type_code_t
#endif
{
    halide_type_int = 0,    /* signed two's-complement integer */
    halide_type_uint = 1,   /* unsigned integer */
    halide_type_float = 2,  /* IEEE-754 binary float */
    halide_type_handle = 3, /* opaque pointer */
    halide_type_bfloat = 4  /* brain float (truncated binary32) */
} halide_type_code_t;

/* Element type: 4 bytes, alignment 2. Generated code reads the whole struct
 * as one uint32_t (code | bits << 8 | lanes << 16 on little-endian), so the
 * packing is part of the ABI. In C, `code` is a plain byte because a C enum
 * is int-sized; store halide_type_code_t values in it. */
struct halide_type_t {
#ifdef __cplusplus
    halide_type_code_t code;
#else
    uint8_t code; /* halide_type_code_t */
#endif
    uint8_t bits;   /* bits per scalar: 1 (bool), 8, 16, 32, 64 */
    uint16_t lanes; /* vector lanes; 1 for buffer elements */

#ifdef __cplusplus
    HALIDE_ALWAYS_INLINE constexpr halide_type_t(halide_type_code_t c, uint8_t b, uint16_t l = 1)
        : code(c), bits(b), lanes(l) {
    }

    /* All-zero type; lets halide_type_t sit inside default-constructed
     * structs. */
    HALIDE_ALWAYS_INLINE constexpr halide_type_t()
        : code(halide_type_int), bits(0), lanes(0) {
    }

    HALIDE_ALWAYS_INLINE constexpr halide_type_t with_lanes(uint16_t new_lanes) const {
        return halide_type_t(code, bits, new_lanes);
    }

    HALIDE_ALWAYS_INLINE constexpr halide_type_t element_of() const {
        return with_lanes(1);
    }

    /* The 32-bit word generated code compares (e.g. 0x00012002 = float32). */
    HALIDE_ALWAYS_INLINE constexpr uint32_t as_u32() const {
        return static_cast<uint32_t>(static_cast<uint8_t>(code)) |
               (static_cast<uint32_t>(bits) << 8) |
               (static_cast<uint32_t>(lanes) << 16);
    }

    HALIDE_ALWAYS_INLINE constexpr bool operator==(const halide_type_t &other) const {
        return as_u32() == other.as_u32();
    }

    HALIDE_ALWAYS_INLINE constexpr bool operator!=(const halide_type_t &other) const {
        return as_u32() != other.as_u32();
    }

    HALIDE_ALWAYS_INLINE constexpr bool operator<(const halide_type_t &other) const {
        return as_u32() < other.as_u32();
    }

    /* Storage size of one scalar in bytes; a bool takes a whole byte. */
    HALIDE_ALWAYS_INLINE constexpr int bytes() const {
        return (bits + 7) / 8;
    }
#endif
};
typedef struct halide_type_t halide_type_t;

/* One dimension of a buffer: 16 bytes. stride is in elements and may be
 * zero or negative. flags is reserved (no bits defined). */
typedef struct halide_dimension_t {
#ifdef __cplusplus
    int32_t min = 0;
    int32_t extent = 0;
    int32_t stride = 0;
    uint32_t flags = 0;

    HALIDE_ALWAYS_INLINE halide_dimension_t() = default;
    HALIDE_ALWAYS_INLINE halide_dimension_t(int32_t m, int32_t e, int32_t s, uint32_t f = 0)
        : min(m), extent(e), stride(s), flags(f) {
    }

    HALIDE_ALWAYS_INLINE bool operator==(const halide_dimension_t &other) const {
        return min == other.min && extent == other.extent &&
               stride == other.stride && flags == other.flags;
    }

    HALIDE_ALWAYS_INLINE bool operator!=(const halide_dimension_t &other) const {
        return !(*this == other);
    }
#else
    int32_t min;
    int32_t extent;
    int32_t stride;
    uint32_t flags;
#endif
} halide_dimension_t;

/* Bits of halide_buffer_t::flags owned by the runtime. Every other bit
 * belongs to the user and must be preserved. host_dirty and device_dirty are
 * never both set. */
typedef enum halide_buffer_flags
#ifdef __cplusplus
    : uint64_t
#endif
{
    halide_buffer_flag_host_dirty = 1,  /* host copy is newer than device */
    halide_buffer_flag_device_dirty = 2 /* device copy is newer than host */
} halide_buffer_flags;

/* A strided N-D array, possibly with a device-side copy: 56 bytes,
 * alignment 8 (on LP64). The runtime never owns `dim`. */
typedef struct halide_buffer_t {
    /* Backend handle of the device copy; 0 when there is none. For this
     * runtime it is an opaque runtime-owned value, not a VkBuffer. */
    uint64_t device;

    /* Backend that owns `device`. Non-null exactly when device != 0. */
    const struct halide_device_interface_t *device_interface;

    /* Address of the element at the min coordinates (not necessarily the
     * lowest address when some stride is negative). */
    uint8_t *host;

    uint64_t flags; /* halide_buffer_flags plus user bits */

    struct halide_type_t type;

    int32_t dimensions;

    halide_dimension_t *dim; /* `dimensions` entries, not owned */

    void *padding; /* unused; keeps the size a multiple of 8 */

#ifdef __cplusplus
    HALIDE_ALWAYS_INLINE bool get_flag(halide_buffer_flags flag) const {
        return (flags & static_cast<uint64_t>(flag)) != 0;
    }

    HALIDE_ALWAYS_INLINE void set_flag(halide_buffer_flags flag, bool value) {
        if (value) {
            flags |= static_cast<uint64_t>(flag);
        } else {
            flags &= ~static_cast<uint64_t>(flag);
        }
    }

    HALIDE_ALWAYS_INLINE bool host_dirty() const {
        return get_flag(halide_buffer_flag_host_dirty);
    }

    HALIDE_ALWAYS_INLINE bool device_dirty() const {
        return get_flag(halide_buffer_flag_device_dirty);
    }

    HALIDE_ALWAYS_INLINE void set_host_dirty(bool v = true) {
        set_flag(halide_buffer_flag_host_dirty, v);
    }

    HALIDE_ALWAYS_INLINE void set_device_dirty(bool v = true) {
        set_flag(halide_buffer_flag_device_dirty, v);
    }

    /* Product of the extents (not the memory span; see size_in_bytes). */
    HALIDE_ALWAYS_INLINE size_t number_of_elements() const {
        int64_t n = 1;
        for (int32_t i = 0; i < dimensions; i++) {
            n *= static_cast<int64_t>(dim[i].extent);
        }
        return static_cast<size_t>(n);
    }

    /* Element offset, relative to `host`, of the lowest addressed element:
     * the sum of stride * (extent - 1) over dimensions with negative stride.
     * Computed in 64 bits so that large strided buffers do not overflow. */
    HALIDE_ALWAYS_INLINE int64_t begin_offset() const {
        int64_t offset = 0;
        for (int32_t i = 0; i < dimensions; i++) {
            const int64_t stride = dim[i].stride;
            if (stride < 0) {
                offset += stride * (static_cast<int64_t>(dim[i].extent) - 1);
            }
        }
        return offset;
    }

    /* One past the element offset of the highest addressed element:
     * 1 + sum of stride * (extent - 1) over dimensions with positive stride. */
    HALIDE_ALWAYS_INLINE int64_t end_offset() const {
        int64_t offset = 1;
        for (int32_t i = 0; i < dimensions; i++) {
            const int64_t stride = dim[i].stride;
            if (stride > 0) {
                offset += stride * (static_cast<int64_t>(dim[i].extent) - 1);
            }
        }
        return offset;
    }

    /* Lowest and one-past-highest byte touched by the buffer. */
    HALIDE_ALWAYS_INLINE uint8_t *begin() const {
        return host + begin_offset() * static_cast<int64_t>(type.bytes());
    }

    HALIDE_ALWAYS_INLINE uint8_t *end() const {
        return host + end_offset() * static_cast<int64_t>(type.bytes());
    }

    /* Span of memory the buffer touches, in bytes:
     * (end_offset - begin_offset) * element size. This, not
     * number_of_elements() * element size, is the size of every device
     * allocation and staging copy. A degenerate shape (an extent <= 0 that
     * makes the span non-positive) yields 0 instead of a wrapped value. */
    HALIDE_ALWAYS_INLINE size_t size_in_bytes() const {
        const int64_t span = end_offset() - begin_offset();
        return span > 0 ? static_cast<size_t>(span * type.bytes()) : 0;
    }

    /* Address of the element at coordinates pos[0..dimensions). */
    HALIDE_ALWAYS_INLINE uint8_t *address_of(const int *pos) const {
        int64_t index = 0;
        for (int32_t i = 0; i < dimensions; i++) {
            index += static_cast<int64_t>(dim[i].stride) * (static_cast<int64_t>(pos[i]) - dim[i].min);
        }
        return host + index * static_cast<int64_t>(type.bytes());
    }
#endif
} halide_buffer_t;

/* ========================================================================
 * Device interface
 * ======================================================================== */

/* Public per-backend function table (128 bytes: 15 function pointers and the
 * backend's private table). Generated code identifies a backend by the
 * address of its table, so a backend always returns the same pointer. The
 * entries are the generic halide_device_* functions declared below, which
 * validate the buffer, keep the dirty bits and dispatch through `impl`;
 * only compute_capability and impl are backend-specific. Field order is ABI. */
typedef struct halide_device_interface_t {
    int (*device_malloc)(void *user_context, struct halide_buffer_t *buf,
                         const struct halide_device_interface_t *device_interface);
    int (*device_free)(void *user_context, struct halide_buffer_t *buf);
    int (*device_sync)(void *user_context, struct halide_buffer_t *buf);
    void (*device_release)(void *user_context,
                           const struct halide_device_interface_t *device_interface);
    int (*copy_to_host)(void *user_context, struct halide_buffer_t *buf);
    int (*copy_to_device)(void *user_context, struct halide_buffer_t *buf,
                          const struct halide_device_interface_t *device_interface);
    int (*device_and_host_malloc)(void *user_context, struct halide_buffer_t *buf,
                                  const struct halide_device_interface_t *device_interface);
    int (*device_and_host_free)(void *user_context, struct halide_buffer_t *buf);
    int (*buffer_copy)(void *user_context, struct halide_buffer_t *src,
                       const struct halide_device_interface_t *dst_device_interface,
                       struct halide_buffer_t *dst);
    int (*device_crop)(void *user_context, const struct halide_buffer_t *src,
                       struct halide_buffer_t *dst);
    int (*device_slice)(void *user_context, const struct halide_buffer_t *src,
                        int slice_dim, int slice_pos, struct halide_buffer_t *dst);
    int (*device_release_crop)(void *user_context, struct halide_buffer_t *buf);
    int (*wrap_native)(void *user_context, struct halide_buffer_t *buf, uint64_t handle,
                       const struct halide_device_interface_t *device_interface);
    int (*detach_native)(void *user_context, struct halide_buffer_t *buf);
    int (*compute_capability)(void *user_context, int *major, int *minor);
    const struct halide_device_interface_impl_t *impl;
} halide_device_interface_t;

/* A cache of device memory that can be asked to give back what it is not
 * using (16 bytes). Registration links the pool into a global list by
 * overwriting `next`; the pool must stay alive for the life of the process. */
typedef struct halide_device_allocation_pool {
    int (*release_unused)(void *user_context);
    struct halide_device_allocation_pool *next;
} halide_device_allocation_pool;

/* ========================================================================
 * Pipeline metadata (only referenced by generated headers; declared so that
 * C callers of the *_metadata() functions can read it)
 * ======================================================================== */

/* A scalar argument value (default/min/max/estimate of a parameter). */
typedef struct halide_scalar_value_t {
    union {
        bool b;
        int8_t i8;
        int16_t i16;
        int32_t i32;
        int64_t i64;
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        float f32;
        double f64;
        void *handle;
    } u;
} halide_scalar_value_t;

typedef enum halide_argument_kind_t {
    halide_argument_kind_input_scalar = 0,
    halide_argument_kind_input_buffer = 1,
    halide_argument_kind_output_buffer = 2
} halide_argument_kind_t;

/* One pipeline argument, as recorded in the pipeline's metadata (version 1). */
typedef struct halide_filter_argument_t {
    const char *name;   /* never null or empty */
    int32_t kind;       /* halide_argument_kind_t */
    int32_t dimensions; /* 0 for scalars */
    struct halide_type_t type;
    /* Scalars only; each may be null when not specified. */
    const struct halide_scalar_value_t *scalar_def;
    const struct halide_scalar_value_t *scalar_min;
    const struct halide_scalar_value_t *scalar_max;
    const struct halide_scalar_value_t *scalar_estimate;
    /* Buffers only; null, or 2 * dimensions pointers (min, extent per
     * dimension), any of which may be null. */
    const int64_t *const *buffer_estimates;
} halide_filter_argument_t;

typedef struct halide_filter_metadata_t {
#ifdef __cplusplus
    static const int32_t VERSION = 1;
#endif
    int32_t version;       /* 1 */
    int32_t num_arguments; /* >= 1 */
    const struct halide_filter_argument_t *arguments;
    const char *target; /* target string the pipeline was compiled for */
    const char *name;   /* pipeline function name */
} halide_filter_metadata_t;

/* ========================================================================
 * Error codes
 *
 * Every runtime entry point and every pipeline returns 0 on success or one
 * of these negative values. Codes -20/-21 had other meanings before Halide
 * 16; the names below are the current ones.
 * ======================================================================== */

typedef enum halide_error_code_t {
    halide_error_code_success = 0,
    halide_error_code_generic_error = -1,
    halide_error_code_explicit_bounds_too_small = -2,
    halide_error_code_bad_type = -3,
    halide_error_code_access_out_of_bounds = -4,
    halide_error_code_buffer_allocation_too_large = -5,
    halide_error_code_buffer_extents_too_large = -6,
    halide_error_code_constraints_make_required_region_smaller = -7,
    halide_error_code_constraint_violated = -8,
    halide_error_code_param_too_small = -9,
    halide_error_code_param_too_large = -10,
    halide_error_code_out_of_memory = -11,
    halide_error_code_buffer_argument_is_null = -12,
    halide_error_code_debug_to_file_failed = -13,
    halide_error_code_copy_to_host_failed = -14,
    halide_error_code_copy_to_device_failed = -15,
    halide_error_code_device_malloc_failed = -16,
    halide_error_code_device_sync_failed = -17,
    halide_error_code_device_free_failed = -18,
    halide_error_code_no_device_interface = -19,
    halide_error_code_unimplemented = -20,
    halide_error_code_symbol_not_found = -21,
    halide_error_code_internal_error = -22,
    halide_error_code_device_run_failed = -23,
    halide_error_code_unaligned_host_ptr = -24,
    halide_error_code_bad_fold = -25,
    halide_error_code_fold_factor_too_small = -26,
    halide_error_code_requirement_failed = -27,
    halide_error_code_buffer_extents_negative = -28,
    halide_error_code_gpu_device_error = -29,
    halide_error_code_trace_failed = -30,
    halide_error_code_specialize_fail = -31,
    halide_error_code_device_wrap_native_failed = -32,
    halide_error_code_device_detach_native_failed = -33,
    halide_error_code_host_is_null = -34,
    halide_error_code_bad_extern_fold = -35,
    halide_error_code_device_interface_no_device = -36,
    halide_error_code_host_and_device_dirty = -37,
    halide_error_code_buffer_is_null = -38,
    halide_error_code_device_buffer_copy_failed = -39,
    halide_error_code_device_crop_unsupported = -40,
    halide_error_code_device_crop_failed = -41,
    halide_error_code_incompatible_device_interface = -42,
    halide_error_code_bad_dimensions = -43,
    halide_error_code_device_dirty_with_no_device_support = -44,
    halide_error_code_storage_bound_too_small = -45,
    halide_error_code_split_factor_not_positive = -46,
    halide_error_code_vscale_invalid = -47,
    halide_error_code_cannot_profile_pipeline = -48,
    halide_error_code_streaming_vscale_invalid = -49
} halide_error_code_t;

/* ========================================================================
 * Printing, error reporting, host allocation
 *
 * All of these go through process-wide function pointers that the setters
 * replace. The setters return the previous function and do not accept null.
 * ======================================================================== */

typedef void (*halide_print_t)(void *user_context, const char *msg);
typedef void (*halide_error_handler_t)(void *user_context, const char *msg);
typedef void *(*halide_malloc_t)(void *user_context, size_t size);
typedef void (*halide_free_t)(void *user_context, void *ptr);

/* Writes `msg` through the current print function. The default writes it
 * unchanged to standard output (file descriptor 1), with no added newline. */
extern void halide_print(void *user_context, const char *msg);
extern void halide_default_print(void *user_context, const char *msg);
extern halide_print_t halide_set_custom_print(halide_print_t print);

/* Reports a runtime error through the current handler. The default handler
 * prints "Error: <msg>" (plus a newline if missing) with halide_print and
 * then aborts the process. A handler that returns lets the failing call
 * return its error code; `msg` is only valid during the call. */
extern void halide_error(void *user_context, const char *msg);
extern void halide_default_error(void *user_context, const char *msg);
extern halide_error_handler_t halide_set_error_handler(halide_error_handler_t handler);

/* Host allocation used by pipelines and by device_and_host_malloc. The
 * default returns blocks aligned for vector access (64 bytes on x86) and
 * accepts size 0. halide_free must not be given null. */
extern void *halide_malloc(void *user_context, size_t size);
extern void halide_free(void *user_context, void *ptr);
extern void *halide_default_malloc(void *user_context, size_t size);
extern void halide_default_free(void *user_context, void *ptr);
extern halide_malloc_t halide_set_custom_malloc(halide_malloc_t user_malloc);
extern halide_free_t halide_set_custom_free(halide_free_t user_free);

/* ========================================================================
 * halide_error_* family
 *
 * Generated code calls these when a check fails. Each formats a message,
 * passes it to halide_error once and returns its (non-zero) code, which the
 * pipeline then returns. Overrides must also return non-zero.
 * ======================================================================== */

/* Return `result` unchanged. */
extern int halide_error_bounds_inference_call_failed(void *user_context, const char *extern_stage_name, int result);
extern int halide_error_extern_stage_failed(void *user_context, const char *extern_stage_name, int result);

/* -2. Generated code passes the Var name as func_name and the Func name as
 * var_name. */
extern int halide_error_explicit_bounds_too_small(void *user_context, const char *func_name, const char *var_name,
                                                  int min_bound, int max_bound, int min_required, int max_required);
/* -3. Both types are halide_type_t words (see halide_type_t::as_u32). */
extern int halide_error_bad_type(void *user_context, const char *func_name,
                                 uint32_t type_given, uint32_t correct_type);
/* -43 */
extern int halide_error_bad_dimensions(void *user_context, const char *func_name,
                                       int32_t dimensions_given, int32_t correct_dimensions);
/* -4. Reports nothing when neither bound is violated, but still returns -4. */
extern int halide_error_access_out_of_bounds(void *user_context, const char *func_name, int dimension,
                                             int min_touched, int max_touched, int min_valid, int max_valid);
/* -5 */
extern int halide_error_buffer_allocation_too_large(void *user_context, const char *buffer_name,
                                                    uint64_t allocation_size, uint64_t max_size);
/* -28 */
extern int halide_error_buffer_extents_negative(void *user_context, const char *buffer_name, int dimension, int extent);
/* -6 */
extern int halide_error_buffer_extents_too_large(void *user_context, const char *buffer_name,
                                                 int64_t actual_size, int64_t max_size);
/* -7 */
extern int halide_error_constraints_make_required_region_smaller(void *user_context, const char *buffer_name,
                                                                 int dimension,
                                                                 int constrained_min, int constrained_extent,
                                                                 int required_min, int required_extent);
/* -8 */
extern int halide_error_constraint_violated(void *user_context, const char *var, int val,
                                            const char *constrained_var, int constrained_val);
/* -9 */
extern int halide_error_param_too_small_i64(void *user_context, const char *param_name, int64_t val, int64_t min_val);
extern int halide_error_param_too_small_u64(void *user_context, const char *param_name, uint64_t val, uint64_t min_val);
extern int halide_error_param_too_small_f64(void *user_context, const char *param_name, double val, double min_val);
/* -10 */
extern int halide_error_param_too_large_i64(void *user_context, const char *param_name, int64_t val, int64_t max_val);
extern int halide_error_param_too_large_u64(void *user_context, const char *param_name, uint64_t val, uint64_t max_val);
extern int halide_error_param_too_large_f64(void *user_context, const char *param_name, double val, double max_val);
/* -11 */
extern int halide_error_out_of_memory(void *user_context);
/* -12 */
extern int halide_error_buffer_argument_is_null(void *user_context, const char *buffer_name);
/* -13 */
extern int halide_error_debug_to_file_failed(void *user_context, const char *func,
                                             const char *filename, int error_code);
/* -24 */
extern int halide_error_unaligned_host_ptr(void *user_context, const char *func_name, int alignment);
/* -34 */
extern int halide_error_host_is_null(void *user_context, const char *func_name);
/* -25 */
extern int halide_error_bad_fold(void *user_context, const char *func_name, const char *var_name,
                                 const char *loop_name);
/* -35 */
extern int halide_error_bad_extern_fold(void *user_context, const char *func_name,
                                        int dim, int min, int extent, int valid_min, int fold_factor);
/* -26 */
extern int halide_error_fold_factor_too_small(void *user_context, const char *func_name, const char *var_name,
                                              int fold_factor, const char *loop_name, int required_extent);
/* -27 */
extern int halide_error_requirement_failed(void *user_context, const char *condition, const char *message);
/* -31 */
extern int halide_error_specialize_fail(void *user_context, const char *message);
/* -19, -36, -37, -38: buffer invariant violations found by the runtime. */
extern int halide_error_no_device_interface(void *user_context);
extern int halide_error_device_interface_no_device(void *user_context);
extern int halide_error_host_and_device_dirty(void *user_context);
extern int halide_error_buffer_is_null(void *user_context, const char *routine);
/* -44 */
extern int halide_error_device_dirty_with_no_device_support(void *user_context, const char *buffer_name);
/* -45 */
extern int halide_error_storage_bound_too_small(void *user_context, const char *func_name, const char *var_name,
                                                int provided_size, int required_size);
/* -41 */
extern int halide_error_device_crop_failed(void *user_context);
/* -46 */
extern int halide_error_split_factor_not_positive(void *user_context, const char *func_name, const char *orig,
                                                  const char *outer, const char *inner,
                                                  const char *factor_str, int factor);
/* -47 */
extern int halide_error_vscale_invalid(void *user_context, const char *func_name,
                                       int runtime_vscale, int compiletime_vscale);
/* -49 */
extern int halide_error_streaming_vscale_invalid(void *user_context, const char *func_name,
                                                 int runtime_vscale, int compiletime_vscale);

/* ========================================================================
 * Generic device API
 *
 * These validate the buffer (null -> -38; device without interface -> -19;
 * interface without device -> -36; both dirty bits -> -37), maintain the
 * dirty bits, and call the backend named by the buffer's or the given
 * interface. Asking for a different interface than the one a buffer already
 * uses fails with -42. Backend failures are reported with the fixed code
 * listed per function.
 * ======================================================================== */

/* Allocates device memory for `buf` (no-op if an allocation of sufficient
 * size already exists). Dirty bits untouched. Backend failure -> -16. */
extern int halide_device_malloc(void *user_context, struct halide_buffer_t *buf,
                                const struct halide_device_interface_t *device_interface);

/* Frees the device allocation, if any, and clears device_dirty. A buffer
 * without device memory is a successful no-op. Backend failure -> -18. */
extern int halide_device_free(void *user_context, struct halide_buffer_t *buf);

/* halide_device_free with the result ignored; `obj` is a halide_buffer_t *.
 * Registered by generated code as a destructor. */
extern void halide_device_free_as_destructor(void *user_context, void *obj);

/* Waits until all device work touching `buf` is complete. -19 if buf has no
 * device interface; -17 on backend failure. */
extern int halide_device_sync(void *user_context, struct halide_buffer_t *buf);

/* Waits until all outstanding work of the given backend is complete.
 * -19 if device_interface is null; otherwise the backend's result. */
extern int halide_device_sync_global(void *user_context, const struct halide_device_interface_t *device_interface);

/* Tears down the backend's context and every resource it owns, including
 * memory still referenced by live buffers. Must not run concurrently with
 * pipelines. A later call recreates the context lazily. */
extern void halide_device_release(void *user_context, const struct halide_device_interface_t *device_interface);

/* If device_dirty: copies device -> host and clears device_dirty.
 * Backend failure -> -14. */
extern int halide_copy_to_host(void *user_context, struct halide_buffer_t *buf);

/* Allocates on `device_interface` if needed; if host_dirty: copies host ->
 * device and clears host_dirty. Device-dirty buffers are left alone.
 * Backend failure -> -15 (allocation failure -> -16). */
extern int halide_copy_to_device(void *user_context, struct halide_buffer_t *buf,
                                 const struct halide_device_interface_t *device_interface);

/* Allocates host memory (halide_malloc, size_in_bytes) and device memory
 * together; -16 if either allocation fails (the backend reports which). */
extern int halide_device_and_host_malloc(void *user_context, struct halide_buffer_t *buf,
                                         const struct halide_device_interface_t *device_interface);

/* Frees what halide_device_and_host_malloc allocated, nulls `host` and clears
 * the dirty bits. Backend failure -> -18. */
extern int halide_device_and_host_free(void *user_context, struct halide_buffer_t *buf);

/* Destructor forms used by generated code; errors ignored. The nop variant
 * does nothing (the host half is freed with the device half). */
extern void halide_device_and_host_free_as_destructor(void *user_context, void *obj);
extern void halide_device_host_nop_free(void *user_context, void *obj);

/* Makes `buf` refer to an existing native device object (`handle` is
 * backend-specific; for Vulkan a VkBuffer, wrapped at offset 0). The caller
 * keeps ownership of the native object. Backend failure -> -16; interface
 * switch -> -42. */
extern int halide_device_wrap_native(void *user_context, struct halide_buffer_t *buf, uint64_t handle,
                                     const struct halide_device_interface_t *device_interface);

/* Undoes halide_device_wrap_native without destroying the native object.
 * Backend failure -> -33; device still set afterwards -> -22. */
extern int halide_device_detach_native(void *user_context, struct halide_buffer_t *buf);

/* Copies the overlapping region of src into dst, between any combination of
 * host and device memory, and marks dst dirty on the side written.
 * dst_device_interface may be null for a host-only destination; otherwise dst
 * is allocated on it if needed. Returns -34 for a host destination without
 * host memory, -42 for conflicting interfaces or when no copy path exists,
 * or the backend's error (e.g. -39). */
extern int halide_buffer_copy(void *user_context, struct halide_buffer_t *src,
                              const struct halide_device_interface_t *dst_device_interface,
                              struct halide_buffer_t *dst);

/* Makes dst's device field a view of src's device memory matching dst's
 * shape (which the caller has already set to a sub-window of src). Release
 * with halide_device_release_crop. A src without device memory is a no-op.
 * -41 if dst already has device memory or the dimensions differ; otherwise
 * the backend's result (-41 on its failures). */
extern int halide_device_crop(void *user_context, const struct halide_buffer_t *src, struct halide_buffer_t *dst);

/* As halide_device_crop, for dst = src with dimension slice_dim fixed at
 * slice_pos (dst has one dimension less). -41 on failure. */
extern int halide_device_slice(void *user_context, const struct halide_buffer_t *src,
                               int slice_dim, int slice_pos, struct halide_buffer_t *dst);

/* Releases a view made by crop/slice (never the parent's memory) and always
 * clears dst's device fields. Returns the backend's result. */
extern int halide_device_release_crop(void *user_context, struct halide_buffer_t *buf);

/* Whether freed device memory is kept for reuse (default true). Passing
 * false also asks every registered pool to give back its unused memory and
 * returns the last non-zero result of those calls. */
extern int halide_reuse_device_allocations(void *user_context, bool flag);
extern bool halide_can_reuse_device_allocations(void *user_context);

/* Adds `pool` to the list that halide_reuse_device_allocations(false)
 * drains. Overwrites pool->next. */
extern void halide_register_device_allocation_pool(struct halide_device_allocation_pool *pool);

/* GPU device index for backends that select by index (first read from
 * HL_GPU_DEVICE, default -1). The Vulkan backend ignores it and selects by
 * HL_VK_DEVICE_TYPE instead. */
extern void halide_set_gpu_device(int n);
extern int halide_get_gpu_device(void *user_context);

#ifdef __cplusplus
} /* extern "C" */
#endif

#ifdef __cplusplus
/* Layout guards (C++ only; C99 has no static assertions). */
static_assert(sizeof(halide_type_t) == 4, "halide_type_t must be 4 bytes");
static_assert(alignof(halide_type_t) == 2, "halide_type_t must be 2-byte aligned");
static_assert(sizeof(halide_dimension_t) == 16, "halide_dimension_t must be 16 bytes");
static_assert(sizeof(halide_buffer_flags) == 8, "halide_buffer_flags must be 64-bit in C++");
#endif

#endif /* HALIDE_HALIDERUNTIME_H */
