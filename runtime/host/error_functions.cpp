// halide_vk_runtime -- the halide_error_* family called by generated code.
//
// Each function formats one message (in a stack buffer, at most 1023
// characters), calls halide_error once and returns its error code.  The code
// is what the pipeline returns, so it must never be 0.
#include <cinttypes>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "HalideRuntime.h"

namespace {

constexpr int kBufferSize = 1024;

// Error codes as plain ints (the values of halide_error_code_t).
enum : int {
    kExplicitBoundsTooSmall = -2,
    kBadType = -3,
    kAccessOutOfBounds = -4,
    kBufferAllocationTooLarge = -5,
    kBufferExtentsTooLarge = -6,
    kConstraintsMakeRequiredRegionSmaller = -7,
    kConstraintViolated = -8,
    kParamTooSmall = -9,
    kParamTooLarge = -10,
    kOutOfMemory = -11,
    kBufferArgumentIsNull = -12,
    kDebugToFileFailed = -13,
    kNoDeviceInterface = -19,
    kUnalignedHostPtr = -24,
    kBadFold = -25,
    kFoldFactorTooSmall = -26,
    kRequirementFailed = -27,
    kBufferExtentsNegative = -28,
    kSpecializeFail = -31,
    kHostIsNull = -34,
    kBadExternFold = -35,
    kDeviceInterfaceNoDevice = -36,
    kHostAndDeviceDirty = -37,
    kBufferIsNull = -38,
    kDeviceCropFailed = -41,
    kBadDimensions = -43,
    kDeviceDirtyWithNoDeviceSupport = -44,
    kStorageBoundTooSmall = -45,
    kSplitFactorNotPositive = -46,
    kVscaleInvalid = -47,
    kStreamingVscaleInvalid = -49,
};

// A null string prints as "<nullptr>".
inline const char *str(const char *s) {
    return s ? s : "<nullptr>";
}

// Formats into a stack buffer (truncating safely) and reports it.
void emit(void *user_context, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emit(void *user_context, const char *fmt, ...) {
    char msg[kBufferSize];
    va_list args;
    va_start(args, fmt);
    int n = std::vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);
    if (n < 0) {
        msg[0] = '\0';
    }
    halide_error(user_context, msg);
}

// Text of a halide_type_t given as its 4 packed bytes: byte 0 type code,
// byte 1 bits, bytes 2-3 lanes.  E.g. "uint8", "float32", "int32x4".
struct TypeName {
    char text[48];
};

TypeName type_name(uint32_t packed) {
    const unsigned code = packed & 0xffu;
    const unsigned bits = (packed >> 8) & 0xffu;
    const unsigned lanes = (packed >> 16) & 0xffffu;
    static const char *const kCodeNames[] = {"int", "uint", "float", "handle", "bfloat"};
    TypeName t;
    if (code >= sizeof(kCodeNames) / sizeof(kCodeNames[0])) {
        std::snprintf(t.text, sizeof(t.text), "bad_type_code");
        return t;
    }
    // Halide main renamed the lanes field to a reserved 0; only a vector
    // count (lanes > 1) gets the "x<lanes>" suffix.
    if (lanes > 1) {
        std::snprintf(t.text, sizeof(t.text), "%s%ux%u", kCodeNames[code], bits, lanes);
    } else {
        std::snprintf(t.text, sizeof(t.text), "%s%u", kCodeNames[code], bits);
    }
    return t;
}

}  // namespace

extern "C" {

int halide_error_bounds_inference_call_failed(void *user_context, const char *extern_stage_name, int result) {
    emit(user_context, "The bounds inference call to extern stage %s returned non-zero value %d",
         str(extern_stage_name), result);
    return result;
}

int halide_error_extern_stage_failed(void *user_context, const char *extern_stage_name, int result) {
    emit(user_context, "The call to extern stage %s returned non-zero value %d",
         str(extern_stage_name), result);
    return result;
}

// Note on argument order: every compiler call site passes the Var name as the
// second argument and the Func name as the third (the reverse of the
// parameter names).  The message therefore uses the second argument as the
// dimension (Var) and the third as the function, so the text reads correctly
// for generated code.
int halide_error_explicit_bounds_too_small(void *user_context, const char *func_name, const char *var_name,
                                           int min_bound, int max_bound, int min_required, int max_required) {
    const char *var = func_name;   // what call sites actually pass here
    const char *func = var_name;   // ditto
    emit(user_context,
         "The explicit bounds of %s in %s, [%d, %d], do not cover the required region [%d, %d]",
         str(var), str(func), min_bound, max_bound, min_required, max_required);
    return kExplicitBoundsTooSmall;
}

int halide_error_bad_type(void *user_context, const char *func_name, uint32_t type_given, uint32_t correct_type) {
    TypeName given = type_name(type_given);
    TypeName correct = type_name(correct_type);
    emit(user_context, "%s has type %s, but the buffer passed in has type %s",
         str(func_name), correct.text, given.text);
    return kBadType;
}

int halide_error_bad_dimensions(void *user_context, const char *func_name, int32_t dimensions_given,
                                int32_t correct_dimensions) {
    emit(user_context, "%s requires a buffer of exactly %d dimensions, but the buffer passed in has %d",
         str(func_name), int(correct_dimensions), int(dimensions_given));
    return kBadDimensions;
}

int halide_error_access_out_of_bounds(void *user_context, const char *func_name, int dimension,
                                      int min_touched, int max_touched, int min_valid, int max_valid) {
    if (min_touched < min_valid) {
        emit(user_context, "%s is accessed at %d, which is before the min (%d) in dimension %d",
             str(func_name), min_touched, min_valid, dimension);
    } else if (max_touched > max_valid) {
        emit(user_context, "%s is accessed at %d, which is beyond the max (%d) in dimension %d",
             str(func_name), max_touched, max_valid, dimension);
    }
    // Neither bound violated: no message, but still a failure code.
    return kAccessOutOfBounds;
}

int halide_error_buffer_allocation_too_large(void *user_context, const char *buffer_name,
                                             uint64_t allocation_size, uint64_t max_size) {
    emit(user_context, "The total allocation for buffer %s is %" PRIu64 ", which exceeds the maximum of %" PRIu64,
         str(buffer_name), allocation_size, max_size);
    return kBufferAllocationTooLarge;
}

int halide_error_buffer_extents_negative(void *user_context, const char *buffer_name, int dimension, int extent) {
    emit(user_context, "The extent of buffer %s in dimension %d is negative (%d)",
         str(buffer_name), dimension, extent);
    return kBufferExtentsNegative;
}

int halide_error_buffer_extents_too_large(void *user_context, const char *buffer_name, int64_t actual_size,
                                          int64_t max_size) {
    emit(user_context, "The product of the extents of buffer %s is %" PRId64 ", which exceeds the maximum of %" PRId64,
         str(buffer_name), actual_size, max_size);
    return kBufferExtentsTooLarge;
}

// Note on arguments: the only call site (AddImageChecks, bounds-query mode)
// passes the constrained and required *maxima* in the slots named
// constrained_extent and required_extent.  Deriving "min + extent - 1" from
// them, as the parameter names suggest, would print wrong upper bounds, so the
// 4th and 6th integer arguments are printed directly as the upper bounds.
int halide_error_constraints_make_required_region_smaller(void *user_context, const char *buffer_name,
                                                          int dimension, int constrained_min,
                                                          int constrained_extent, int required_min,
                                                          int required_extent) {
    const int constrained_max = constrained_extent;  // a maximum at every call site
    const int required_max = required_extent;        // ditto
    emit(user_context,
         "Applying the constraints on %s made the required region smaller in dimension %d: "
         "required range %d to %d, constrained range %d to %d",
         str(buffer_name), dimension, required_min, required_max, constrained_min, constrained_max);
    return kConstraintsMakeRequiredRegionSmaller;
}

int halide_error_constraint_violated(void *user_context, const char *var, int val, const char *constrained_var,
                                     int constrained_val) {
    emit(user_context, "Constraint violated: %s (%d) == %s (%d)",
         str(var), val, str(constrained_var), constrained_val);
    return kConstraintViolated;
}

int halide_error_param_too_small_i64(void *user_context, const char *param_name, int64_t val, int64_t min_val) {
    emit(user_context, "Parameter %s is %" PRId64 " but must be at least %" PRId64, str(param_name), val, min_val);
    return kParamTooSmall;
}

int halide_error_param_too_small_u64(void *user_context, const char *param_name, uint64_t val, uint64_t min_val) {
    emit(user_context, "Parameter %s is %" PRIu64 " but must be at least %" PRIu64, str(param_name), val, min_val);
    return kParamTooSmall;
}

int halide_error_param_too_small_f64(void *user_context, const char *param_name, double val, double min_val) {
    emit(user_context, "Parameter %s is %e but must be at least %e", str(param_name), val, min_val);
    return kParamTooSmall;
}

int halide_error_param_too_large_i64(void *user_context, const char *param_name, int64_t val, int64_t max_val) {
    emit(user_context, "Parameter %s is %" PRId64 " but must be at most %" PRId64, str(param_name), val, max_val);
    return kParamTooLarge;
}

int halide_error_param_too_large_u64(void *user_context, const char *param_name, uint64_t val, uint64_t max_val) {
    emit(user_context, "Parameter %s is %" PRIu64 " but must be at most %" PRIu64, str(param_name), val, max_val);
    return kParamTooLarge;
}

int halide_error_param_too_large_f64(void *user_context, const char *param_name, double val, double max_val) {
    emit(user_context, "Parameter %s is %e but must be at most %e", str(param_name), val, max_val);
    return kParamTooLarge;
}

int halide_error_out_of_memory(void *user_context) {
    // Fixed text, nothing formatted: we may be out of memory.
    halide_error(user_context, "Out of memory (halide_malloc returned nullptr)");
    return kOutOfMemory;
}

int halide_error_buffer_argument_is_null(void *user_context, const char *buffer_name) {
    emit(user_context, "Buffer argument %s is nullptr", str(buffer_name));
    return kBufferArgumentIsNull;
}

int halide_error_debug_to_file_failed(void *user_context, const char *func, const char *filename,
                                      int error_code) {
    emit(user_context, "Dumping function %s to file %s failed with error %d", str(func), str(filename), error_code);
    return kDebugToFileFailed;
}

int halide_error_unaligned_host_ptr(void *user_context, const char *func_name, int alignment) {
    emit(user_context, "The host pointer of %s is not aligned to a %d-byte boundary", str(func_name), alignment);
    return kUnalignedHostPtr;
}

int halide_error_host_is_null(void *user_context, const char *func_name) {
    emit(user_context, "The host pointer of %s is null, but the pipeline will access it on the host",
         str(func_name));
    return kHostIsNull;
}

int halide_error_bad_fold(void *user_context, const char *func_name, const char *var_name, const char *loop_name) {
    emit(user_context, "The folded storage dimension %s of %s was accessed out of order by loop %s",
         str(var_name), str(func_name), str(loop_name));
    return kBadFold;
}

int halide_error_bad_extern_fold(void *user_context, const char *func_name, int dim, int min, int extent,
                                 int valid_min, int fold_factor) {
    // 64-bit arithmetic so that extreme values cannot overflow.
    const int64_t last = int64_t(min) + extent - 1;
    if (min < valid_min || int64_t(min) + extent > int64_t(valid_min) + fold_factor) {
        emit(user_context,
             "Cannot fold dimension %d of %s because an extern stage accesses [%d, %" PRId64
             "], which is outside the currently valid range [%d, %" PRId64 "]",
             dim, str(func_name), min, last, valid_min, int64_t(valid_min) + fold_factor - 1);
    } else {
        emit(user_context,
             "Cannot fold dimension %d of %s because an extern stage accesses [%d, %" PRId64
             "], which wraps around the fold boundary (at multiples of %d)",
             dim, str(func_name), min, last, fold_factor);
    }
    return kBadExternFold;
}

int halide_error_fold_factor_too_small(void *user_context, const char *func_name, const char *var_name,
                                       int fold_factor, const char *loop_name, int required_extent) {
    emit(user_context,
         "The fold factor (%d) of dimension %s of %s is too small for the region accessed by loop %s (%d)",
         fold_factor, str(var_name), str(func_name), str(loop_name), required_extent);
    return kFoldFactorTooSmall;
}

int halide_error_requirement_failed(void *user_context, const char *condition, const char *message) {
    emit(user_context, "Requirement failed: (%s) %s", str(condition), str(message));
    return kRequirementFailed;
}

int halide_error_specialize_fail(void *user_context, const char *message) {
    emit(user_context, "A schedule branch specialized with specialize_fail() was chosen: %s", str(message));
    return kSpecializeFail;
}

int halide_error_no_device_interface(void *user_context) {
    halide_error(user_context, "Buffer has a non-zero device but no device interface.\n");
    return kNoDeviceInterface;
}

int halide_error_device_interface_no_device(void *user_context) {
    halide_error(user_context, "Buffer has a non-null device_interface but device is 0.\n");
    return kDeviceInterfaceNoDevice;
}

int halide_error_host_and_device_dirty(void *user_context) {
    halide_error(user_context, "Buffer has both the host and the device dirty bits set.\n");
    return kHostAndDeviceDirty;
}

int halide_error_buffer_is_null(void *user_context, const char *routine) {
    emit(user_context, "The buffer pointer passed to %s is null.\n", str(routine));
    return kBufferIsNull;
}

int halide_error_device_dirty_with_no_device_support(void *user_context, const char *buffer_name) {
    emit(user_context,
         "Buffer %s is dirty on the device, but this pipeline was compiled without support for "
         "device to host copies",
         str(buffer_name));
    return kDeviceDirtyWithNoDeviceSupport;
}

int halide_error_storage_bound_too_small(void *user_context, const char *func_name, const char *var_name,
                                         int provided_size, int required_size) {
    emit(user_context,
         "The explicit allocation bound (%d) of dimension %s of %s is too small for the required region (%d)",
         provided_size, str(var_name), str(func_name), required_size);
    return kStorageBoundTooSmall;
}

int halide_error_device_crop_failed(void *user_context) {
    halide_error(user_context, "Buffer could not be cropped (runtime error or unimplemented device option).\n");
    return kDeviceCropFailed;
}

int halide_error_split_factor_not_positive(void *user_context, const char *func_name, const char *orig,
                                           const char *outer, const char *inner, const char *factor_str,
                                           int factor) {
    emit(user_context,
         "In the schedule of func %s, the factor that splits %s into %s and %s is %s, which evaluated to %d, "
         "which is not strictly positive. Consider using max(%s, 1) instead.",
         str(func_name), str(orig), str(outer), str(inner), str(factor_str), factor, str(factor_str));
    return kSplitFactorNotPositive;
}

int halide_error_vscale_invalid(void *user_context, const char *func_name, int runtime_vscale,
                                int compiletime_vscale) {
    emit(user_context,
         "Function %s was compiled for a scalable vector vscale of %d, but the vscale detected at run time is %d",
         str(func_name), compiletime_vscale, runtime_vscale);
    return kVscaleInvalid;
}

int halide_error_streaming_vscale_invalid(void *user_context, const char *func_name, int runtime_vscale,
                                          int compiletime_vscale) {
    emit(user_context,
         "Function %s was compiled for a streaming-mode vscale of %d, but the streaming vscale detected at run "
         "time is %d",
         str(func_name), compiletime_vscale, runtime_vscale);
    return kStreamingVscaleInvalid;
}

}  // extern "C"
