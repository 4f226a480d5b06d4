// halide_vk_runtime -- error/warning/debug reporting used by all runtime code.
//
// Every message goes through the exported C entry points halide_error /
// halide_print (looked up by name, so an application's own definitions or
// installed handlers are honoured).  Formatting happens in a fixed stack
// buffer: reporting must keep working when the heap is exhausted.
#ifndef HVK_RUNTIME_REPORT_H
#define HVK_RUNTIME_REPORT_H

namespace hvk {

// Size of the stack buffer messages are formatted into (at most
// kMessageBufferSize - 1 characters survive, like Halide's error stream).
constexpr int kMessageBufferSize = 1024;

// Short name of a halide_error_code_t value, e.g. "device_malloc_failed" for
// -16.  Unknown values give "unknown_error_code".
const char *error_code_name(int code);

// Formats "halide_vk_runtime: <where>: <text> (<code name> <code>)", passes it
// to halide_error(user_context, ...) and returns `code` (so callers can write
// `return report_error(...)`).
int report_error(void *user_context, int code, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// Prints "halide_vk_runtime: warning: <text>\n" through halide_print.
void report_warning(void *user_context, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// True when the environment variable HL_VK_DEBUG is "1" (read once).
bool debug_enabled();

// Prints "halide_vk_runtime: debug: <text>\n" through halide_print, only when
// debug_enabled().
void log_debug(void *user_context, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

}  // namespace hvk

#endif  // HVK_RUNTIME_REPORT_H
