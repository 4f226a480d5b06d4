// HL_VK_ALLOC_CONFIG and HL_VK_ALLOC_CACHE_MB.
//
// HL_VK_ALLOC_CONFIG (Halide's variable, also set by
// halide_vulkan_set_alloc_config): up to five integers separated by ':'
// (';' is accepted too, as Halide uses it on Windows), applied by position:
//
//   1  maximum pool size     MiB    0 = unlimited
//   2  minimum block size    MiB
//   3  maximum block size    MiB    0 = unlimited
//   4  maximum block count   count  0 = unlimited
//   5  nearest multiple      bytes  a power of two >= 1
//
// An empty field keeps its default ("::64" sets only the block ceiling).
// Unlike Halide (atoi, 32-bit int arithmetic, no validation), every field
// must be a plain decimal number, sizes are computed in 64 bits (4096 MiB is
// 4 GiB, not a wrapped negative), and anything else is rejected with a
// message naming the field. The string is applied all or nothing.
//
// HL_VK_ALLOC_CACHE_MB (ours): MiB of empty device-memory blocks that stay
// cached after their last allocation is freed while
// halide_can_reuse_device_allocations() is true; blocks beyond it go back to
// the driver. Default 256 MiB; 0 caches nothing.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "vulkan/memory/arena.h"
#include "common/report.h"
#include "vulkan/context/settings.h"

namespace hvk {
namespace {

constexpr int kFieldCount = 5;
constexpr const char *kFieldNames[kFieldCount] = {
    "maximum pool size (MiB)", "minimum block size (MiB)", "maximum block size (MiB)", "maximum block count",
    "nearest multiple (bytes)",
};

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

__attribute__((format(printf, 3, 4))) bool fail(char *error, size_t error_size, const char *fmt, ...) {
    if (error != nullptr && error_size > 0) {
        va_list args;
        va_start(args, fmt);
        std::vsnprintf(error, error_size, fmt, args);
        va_end(args);
    }
    return false;
}

// Parses [begin, end) as a decimal uint64 after trimming blanks.
// Returns 1 for a value, 0 for an empty field, -1 for garbage, -2 for overflow.
int parse_u64(const char *begin, const char *end, uint64_t *out) {
    while (begin < end && is_space(*begin)) {
        begin++;
    }
    while (end > begin && is_space(end[-1])) {
        end--;
    }
    if (begin == end) {
        return 0;
    }
    uint64_t v = 0;
    for (const char *p = begin; p < end; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        uint64_t digit = static_cast<uint64_t>(*p - '0');
        if (v > (UINT64_MAX - digit) / 10) {
            return -2;
        }
        v = v * 10 + digit;
    }
    *out = v;
    return 1;
}

void copy_field(const char *begin, const char *end, char *out, size_t out_size) {
    size_t n = static_cast<size_t>(end - begin);
    if (n > out_size - 1) {
        n = out_size - 1;
    }
    std::memcpy(out, begin, n);
    out[n] = '\0';
}

// Stores the value `v` of field `field` (0-based, < kFieldCount) into
// `result`, checking its range. `shown` is the field's text, for messages.
bool store_field(int field, uint64_t v, const char *shown, ArenaConfig *result, char *error, size_t error_size) {
    bool ok = true;
    switch (field) {
    case 0:
    case 1:
    case 2: {
        ok = v <= (UINT64_MAX >> 20);
        uint64_t bytes = v << 20;
        if (field == 0) {
            result->maximum_pool_size = bytes;
        } else if (field == 1) {
            result->minimum_block_size = bytes;
        } else {
            result->maximum_block_size = bytes;
        }
        break;
    }
    case 3:
        ok = v <= UINT32_MAX;
        result->maximum_block_count = static_cast<uint32_t>(v);
        break;
    case 4:
        if (v == 0 || v > (1ull << 31) || (v & (v - 1)) != 0) {
            return fail(error, error_size, "field 5 (%s) is %s, which is not a power of two between 1 and 2^31",
                        kFieldNames[4], shown);
        }
        result->nearest_multiple = static_cast<uint32_t>(v);
        break;
    }
    if (!ok) {
        return fail(error, error_size, "field %d (%s) is \"%s\", which is too large", field + 1, kFieldNames[field],
                    shown);
    }
    return true;
}

// Parses field number `field` (0-based), the text [begin, end), into
// `result`. Fields past the fifth must be blank.
bool parse_field(int field, const char *begin, const char *end, ArenaConfig *result, char *error,
                 size_t error_size) {
    char shown[64];
    copy_field(begin, end, shown, sizeof(shown));
    if (field >= kFieldCount) {
        // Trailing blank fields ("1:2:3:4:5:") are harmless; values are not.
        uint64_t ignored = 0;
        if (parse_u64(begin, end, &ignored) != 0) {
            return fail(error, error_size, "more than five fields (field %d is \"%s\")", field + 1, shown);
        }
        return true;
    }
    uint64_t v = 0;
    int r = parse_u64(begin, end, &v);
    if (r == -1) {
        return fail(error, error_size, "field %d (%s) is \"%s\", not a non-negative decimal integer", field + 1,
                    kFieldNames[field], shown);
    }
    if (r == -2) {
        return fail(error, error_size, "field %d (%s) is \"%s\", which is too large", field + 1, kFieldNames[field],
                    shown);
    }
    if (r == 1) {
        return store_field(field, v, shown, result, error, error_size);
    }
    return true;  // empty: keeps its default
}

}  // namespace

bool parse_alloc_config(const char *text, ArenaConfig *config, char *error, size_t error_size) {
    if (error != nullptr && error_size > 0) {
        error[0] = '\0';
    }
    if (config == nullptr) {
        return false;
    }
    if (text == nullptr) {
        return true;
    }
    ArenaConfig result = *config;
    const char *p = text;
    for (int field = 0;; field++) {
        const char *end = p;
        while (*end != '\0' && *end != ':' && *end != ';') {
            end++;
        }
        if (!parse_field(field, p, end, &result, error, error_size)) {
            return false;
        }
        if (*end == '\0') {
            break;
        }
        p = end + 1;
    }
    *config = result;
    return true;
}

bool parse_cache_megabytes(const char *text, uint64_t *bytes, char *error, size_t error_size) {
    if (error != nullptr && error_size > 0) {
        error[0] = '\0';
    }
    if (bytes == nullptr) {
        return false;
    }
    if (text == nullptr) {
        return true;
    }
    const char *end = text + std::strlen(text);
    char shown[64];
    copy_field(text, end, shown, sizeof(shown));
    uint64_t v = 0;
    int r = parse_u64(text, end, &v);
    if (r == 0) {
        return true;
    }
    if (r < 0 || v > (UINT64_MAX >> 20)) {
        return fail(error, error_size, "\"%s\" is not a non-negative number of MiB%s", shown,
                    r == -1 ? "" : " that fits in 64 bits");
    }
    *bytes = v << 20;
    return true;
}

ArenaConfig arena_config_from_settings(void *user_context) {
    ArenaConfig config;
    char text[1024];
    char error[256];
    read_setting(Setting::AllocConfig, text, sizeof(text));
    if (text[0] != '\0') {
        ArenaConfig parsed = config;
        if (parse_alloc_config(text, &parsed, error, sizeof(error))) {
            parsed.maximum_cached_bytes = config.maximum_cached_bytes;
            config = parsed;
            log_debug(user_context,
                      "HL_VK_ALLOC_CONFIG: pool %llu, block min %llu max %llu bytes, max blocks %u, multiple %u",
                      static_cast<unsigned long long>(config.maximum_pool_size),
                      static_cast<unsigned long long>(config.minimum_block_size),
                      static_cast<unsigned long long>(config.maximum_block_size), config.maximum_block_count,
                      config.nearest_multiple);
        } else {
            report_warning(user_context, "HL_VK_ALLOC_CONFIG=\"%s\" ignored, using defaults: %s", text, error);
        }
    }
    const char *cache = std::getenv("HL_VK_ALLOC_CACHE_MB");
    if (cache != nullptr && cache[0] != '\0') {
        uint64_t bytes = config.maximum_cached_bytes;
        if (parse_cache_megabytes(cache, &bytes, error, sizeof(error))) {
            config.maximum_cached_bytes = bytes;
        } else {
            report_warning(user_context, "HL_VK_ALLOC_CACHE_MB ignored, keeping %llu MiB: %s",
                           static_cast<unsigned long long>(config.maximum_cached_bytes >> 20), error);
        }
    }
    return config;
}

}  // namespace hvk
