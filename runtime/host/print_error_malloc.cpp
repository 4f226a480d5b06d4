// halide_vk_runtime -- Halide's generic host runtime: print, error, host
// memory and GPU device selection.
//
// All functions are plain extern "C" definitions with default visibility.
// The library is not linked with -Bsymbolic, so an application that defines
// any of these names itself overrides ours, exactly as with Halide's weak
// runtime symbols.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "HalideRuntime.h"

namespace {

// Alignment (and size granularity) of halide_default_malloc.  Halide uses 64
// on x86 and 128 on some targets; 128 satisfies every target's guarantee.
constexpr size_t kHostAlignment = 128;

// Size of the buffer halide_default_error formats "Error: <msg>\n" into.
constexpr size_t kDefaultErrorBufferSize = 4096;

std::atomic<halide_print_t> g_print_handler{&halide_default_print};
std::atomic<halide_error_handler_t> g_error_handler{&halide_default_error};
std::atomic<halide_malloc_t> g_malloc_handler{&halide_default_malloc};
std::atomic<halide_free_t> g_free_handler{&halide_default_free};

std::mutex g_gpu_device_mutex;
int g_gpu_device = -1;
bool g_gpu_device_initialized = false;

}  // namespace

extern "C" {

// ---------------------------------------------------------------- printing

void halide_default_print(void *user_context, const char *msg) {
    (void)user_context;
    if (msg == nullptr) {
        return;
    }
    // Standard output, like Halide's posix runtime.  Going through stdio and
    // flushing keeps the text in order with the application's own output.
    std::fwrite(msg, 1, std::strlen(msg), stdout);
    std::fflush(stdout);
}

halide_print_t halide_set_custom_print(halide_print_t print) {
    return g_print_handler.exchange(print);
}

void halide_print(void *user_context, const char *msg) {
    g_print_handler.load()(user_context, msg);
}

// ------------------------------------------------------------------ errors

void halide_default_error(void *user_context, const char *msg) {
    // Built on the stack: the error may be an out-of-memory report.
    char text[kDefaultErrorBufferSize];
    static const char kPrefix[] = "Error: ";
    size_t len = sizeof(kPrefix) - 1;
    std::memcpy(text, kPrefix, len);
    if (msg == nullptr) {
        msg = "<nullptr>";
    }
    size_t msg_len = std::strlen(msg);
    if (msg_len > kDefaultErrorBufferSize - 1 - len) {
        msg_len = kDefaultErrorBufferSize - 1 - len;
    }
    std::memcpy(text + len, msg, msg_len);
    len += msg_len;
    if (text[len - 1] != '\n' && len < kDefaultErrorBufferSize - 1) {
        text[len++] = '\n';
    }
    text[len] = '\0';
    // Through halide_print, like Halide: the text reaches the current print
    // function (stdout by default), then the process aborts.
    halide_print(user_context, text);
    std::abort();
}

halide_error_handler_t halide_set_error_handler(halide_error_handler_t handler) {
    return g_error_handler.exchange(handler);
}

void halide_error(void *user_context, const char *msg) {
    g_error_handler.load()(user_context, msg);
}

// ------------------------------------------------------------- host memory

void *halide_default_malloc(void *user_context, size_t size) {
    (void)user_context;
    // Round the size up to a whole number of alignment units (never 0), so
    // the block can be read in full vectors and malloc(0) gives a real block.
    if (size > SIZE_MAX - kHostAlignment) {
        return nullptr;
    }
    size_t rounded = (size + kHostAlignment - 1) & ~(kHostAlignment - 1);
    if (rounded == 0) {
        rounded = kHostAlignment;
    }
    void *ptr = nullptr;
    if (posix_memalign(&ptr, kHostAlignment, rounded) != 0) {
        return nullptr;
    }
    return ptr;
}

void halide_default_free(void *user_context, void *ptr) {
    (void)user_context;
    std::free(ptr);  // free(nullptr) is a no-op
}

halide_malloc_t halide_set_custom_malloc(halide_malloc_t user_malloc) {
    return g_malloc_handler.exchange(user_malloc);
}

halide_free_t halide_set_custom_free(halide_free_t user_free) {
    return g_free_handler.exchange(user_free);
}

void *halide_malloc(void *user_context, size_t size) {
    return g_malloc_handler.load()(user_context, size);
}

void halide_free(void *user_context, void *ptr) {
    if (ptr == nullptr) {
        return;
    }
    g_free_handler.load()(user_context, ptr);
}

// ------------------------------------------------------ GPU device selection

void halide_set_gpu_device(int device) {
    std::lock_guard<std::mutex> lock(g_gpu_device_mutex);
    g_gpu_device = device;
    g_gpu_device_initialized = true;
}

int halide_get_gpu_device(void *user_context) {
    (void)user_context;
    std::lock_guard<std::mutex> lock(g_gpu_device_mutex);
    if (!g_gpu_device_initialized) {
        const char *env = std::getenv("HL_GPU_DEVICE");
        g_gpu_device = env ? std::atoi(env) : -1;
        g_gpu_device_initialized = true;
    }
    return g_gpu_device;
}

}  // extern "C"
