// halide_vk_runtime -- implementation of the reporting helpers (report.h).
#include "common/report.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "HalideRuntime.h"

namespace hvk {

namespace {

// Index i holds the name of code -i.
const char *const kCodeNames[] = {
    "success",                                   // 0
    "generic_error",                             // -1
    "explicit_bounds_too_small",                 // -2
    "bad_type",                                  // -3
    "access_out_of_bounds",                      // -4
    "buffer_allocation_too_large",               // -5
    "buffer_extents_too_large",                  // -6
    "constraints_make_required_region_smaller",  // -7
    "constraint_violated",                       // -8
    "param_too_small",                           // -9
    "param_too_large",                           // -10
    "out_of_memory",                             // -11
    "buffer_argument_is_null",                   // -12
    "debug_to_file_failed",                      // -13
    "copy_to_host_failed",                       // -14
    "copy_to_device_failed",                     // -15
    "device_malloc_failed",                      // -16
    "device_sync_failed",                        // -17
    "device_free_failed",                        // -18
    "no_device_interface",                       // -19
    "unimplemented",                             // -20
    "symbol_not_found",                          // -21
    "internal_error",                            // -22
    "device_run_failed",                         // -23
    "unaligned_host_ptr",                        // -24
    "bad_fold",                                  // -25
    "fold_factor_too_small",                     // -26
    "requirement_failed",                        // -27
    "buffer_extents_negative",                   // -28
    "gpu_device_error",                          // -29
    "trace_failed",                              // -30
    "specialize_fail",                           // -31
    "device_wrap_native_failed",                 // -32
    "device_detach_native_failed",               // -33
    "host_is_null",                              // -34
    "bad_extern_fold",                           // -35
    "device_interface_no_device",                // -36
    "host_and_device_dirty",                     // -37
    "buffer_is_null",                            // -38
    "device_buffer_copy_failed",                 // -39
    "device_crop_unsupported",                   // -40
    "device_crop_failed",                        // -41
    "incompatible_device_interface",             // -42
    "bad_dimensions",                            // -43
    "device_dirty_with_no_device_support",       // -44
    "storage_bound_too_small",                   // -45
    "split_factor_not_positive",                 // -46
    "vscale_invalid",                            // -47
    "cannot_profile_pipeline",                   // -48
    "streaming_vscale_invalid",                  // -49
};

constexpr int kNumCodeNames = int(sizeof(kCodeNames) / sizeof(kCodeNames[0]));
static_assert(kNumCodeNames == 50, "codes 0..-49 must all be named");

// Appends formatted text at buf[*len], never writing past buf[cap-1]; *len
// stays <= cap - 1.
void append_v(char *buf, int cap, int *len, const char *fmt, va_list args) {
    if (*len >= cap - 1) {
        return;
    }
    int n = std::vsnprintf(buf + *len, size_t(cap - *len), fmt, args);
    if (n < 0) {
        buf[*len] = '\0';
        return;
    }
    *len += n;
    if (*len > cap - 1) {
        *len = cap - 1;
    }
}

void append(char *buf, int cap, int *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void append(char *buf, int cap, int *len, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    append_v(buf, cap, len, fmt, args);
    va_end(args);
}

// One line through halide_print: prefix, the formatted text, a newline
// (kept even when the text was truncated).
void print_line_v(void *user_context, const char *prefix, const char *fmt, va_list args) {
    char msg[kMessageBufferSize];
    msg[0] = '\0';
    int len = 0;
    append(msg, kMessageBufferSize, &len, "%s", prefix);
    append_v(msg, kMessageBufferSize, &len, fmt, args);
    if (len > kMessageBufferSize - 2) {
        len = kMessageBufferSize - 2;
    }
    msg[len++] = '\n';
    msg[len] = '\0';
    halide_print(user_context, msg);
}

}  // namespace

const char *error_code_name(int code) {
    if (code <= 0 && code > -kNumCodeNames) {
        return kCodeNames[-code];
    }
    return "unknown_error_code";
}

int report_error(void *user_context, int code, const char *where, const char *fmt, ...) {
    char msg[kMessageBufferSize];
    msg[0] = '\0';
    int len = 0;
    append(msg, kMessageBufferSize, &len, "halide_vk_runtime: %s: ", where ? where : "<nullptr>");
    va_list args;
    va_start(args, fmt);
    append_v(msg, kMessageBufferSize, &len, fmt, args);
    va_end(args);
    append(msg, kMessageBufferSize, &len, " (%s %d)", error_code_name(code), code);
    halide_error(user_context, msg);
    return code;
}

void report_warning(void *user_context, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    print_line_v(user_context, "halide_vk_runtime: warning: ", fmt, args);
    va_end(args);
}

bool debug_enabled() {
    static const bool enabled = [] {
        const char *v = std::getenv("HL_VK_DEBUG");
        return v != nullptr && std::strcmp(v, "1") == 0;
    }();
    return enabled;
}

void log_debug(void *user_context, const char *fmt, ...) {
    if (!debug_enabled()) {
        return;
    }
    va_list args;
    va_start(args, fmt);
    print_line_v(user_context, "halide_vk_runtime: debug: ", fmt, args);
    va_end(args);
}

}  // namespace hvk
