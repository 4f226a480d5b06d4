// Tests of the host runtime (print/error/malloc handlers) and of the
// halide_error_* family.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <unistd.h>
#include <vector>

#include "HalideRuntime.h"
#include "common/report.h"

namespace {

std::vector<std::string> g_errors;
std::vector<std::string> g_prints;

void capture_error(void *, const char *msg) {
    g_errors.emplace_back(msg ? msg : "(null)");
}
void capture_print(void *, const char *msg) {
    g_prints.emplace_back(msg ? msg : "(null)");
}

class ErrorTest : public ::testing::Test {
protected:
    void SetUp() override {
        g_errors.clear();
        g_prints.clear();
        prev_error_ = halide_set_error_handler(capture_error);
        prev_print_ = halide_set_custom_print(capture_print);
    }
    void TearDown() override {
        halide_set_error_handler(prev_error_);
        halide_set_custom_print(prev_print_);
    }
    halide_error_handler_t prev_error_ = nullptr;
    halide_print_t prev_print_ = nullptr;
};

struct ErrorCase {
    const char *name;
    std::function<int()> call;
    int expected_code;
    std::vector<std::string> fragments;  // each must occur in the message
};

uint32_t packed_type(uint8_t code, uint8_t bits, uint16_t lanes) {
    return uint32_t(code) | (uint32_t(bits) << 8) | (uint32_t(lanes) << 16);
}

std::vector<ErrorCase> all_cases() {
    void *uc = nullptr;
    return {
        {"bounds_inference_call_failed", [=] { return halide_error_bounds_inference_call_failed(uc, "ext_a", -77); },
         -77, {"ext_a", "-77"}},
        {"extern_stage_failed", [=] { return halide_error_extern_stage_failed(uc, "ext_b", 5); }, 5, {"ext_b", "5"}},
        {"explicit_bounds_too_small",
         [=] { return halide_error_explicit_bounds_too_small(uc, "varx", "funcf", 0, 255, -3, 299); },
         -2, {"varx", "funcf", "0", "255", "-3", "299"}},
        {"bad_type",
         [=] {
             return halide_error_bad_type(uc, "Input buffer in_y", packed_type(1, 8, 1), packed_type(2, 32, 1));
         },
         -3, {"Input buffer in_y", "uint8", "float32"}},
        {"bad_dimensions", [=] { return halide_error_bad_dimensions(uc, "Input buffer q", 1, 2); }, -43,
         {"Input buffer q", "1", "2"}},
        {"access_out_of_bounds_min",
         [=] { return halide_error_access_out_of_bounds(uc, "Input buffer in_y", 0, 0, 63, 3, 66); }, -4,
         {"Input buffer in_y", "0", "3", "dimension 0"}},
        {"access_out_of_bounds_max",
         [=] { return halide_error_access_out_of_bounds(uc, "Input buffer in_y", 1, 0, 7, 0, 3); }, -4,
         {"Input buffer in_y", "7", "3", "dimension 1"}},
        {"buffer_allocation_too_large",
         [=] { return halide_error_buffer_allocation_too_large(uc, "in_x", 4294967296ull, 2147483647ull); }, -5,
         {"in_x", "4294967296", "2147483647"}},
        {"buffer_allocation_too_large_u64",
         [=] { return halide_error_buffer_allocation_too_large(uc, "big", 18446744073709551615ull, 1); }, -5,
         {"big", "18446744073709551615"}},
        {"buffer_extents_negative", [=] { return halide_error_buffer_extents_negative(uc, "Output buffer out", 1, -3); },
         -28, {"Output buffer out", "1", "-3"}},
        {"buffer_extents_too_large",
         [=] { return halide_error_buffer_extents_too_large(uc, "in_x", 4294967296ll, 2147483647ll); }, -6,
         {"in_x", "4294967296", "2147483647"}},
        {"constraints_make_required_region_smaller",
         [=] { return halide_error_constraints_make_required_region_smaller(uc, "Input buffer c", 1, 10, 19, 5, 40); },
         -7,
         // maxima are passed in the extent slots: printed as is
         {"Input buffer c", "dimension 1", "5 to 40", "10 to 19"}},
        {"constraint_violated", [=] { return halide_error_constraint_violated(uc, "in_x.stride.0", 2, "1", 1); }, -8,
         {"in_x.stride.0", "(2)", "1 (1)"}},
        {"param_too_small_i64", [=] { return halide_error_param_too_small_i64(uc, "p_i", -9000000000ll, -5); }, -9,
         {"p_i", "-9000000000", "-5"}},
        {"param_too_small_u64", [=] { return halide_error_param_too_small_u64(uc, "p_u", 3, 18446744073709551615ull); },
         -9, {"p_u", "3", "18446744073709551615"}},
        {"param_too_small_f64", [=] { return halide_error_param_too_small_f64(uc, "p_f", 0.5, 1.25); }, -9,
         {"p_f", "5.000000e-01", "1.250000e+00"}},
        {"param_too_large_i64", [=] { return halide_error_param_too_large_i64(uc, "q_i", 100, 99); }, -10,
         {"q_i", "100", "99"}},
        {"param_too_large_u64", [=] { return halide_error_param_too_large_u64(uc, "q_u", 18446744073709551615ull, 7); },
         -10, {"q_u", "18446744073709551615", "7"}},
        {"param_too_large_f64", [=] { return halide_error_param_too_large_f64(uc, "q_f", 1e300, -2.0); }, -10,
         {"q_f", "1.000000e+300", "-2.000000e+00"}},
        {"out_of_memory", [=] { return halide_error_out_of_memory(uc); }, -11, {"Out of memory"}},
        {"buffer_argument_is_null", [=] { return halide_error_buffer_argument_is_null(uc, "in_y"); }, -12,
         {"in_y", "null"}},
        {"debug_to_file_failed", [=] { return halide_error_debug_to_file_failed(uc, "fn", "/tmp/f.tiff", 42); }, -13,
         {"fn", "/tmp/f.tiff", "42"}},
        {"unaligned_host_ptr", [=] { return halide_error_unaligned_host_ptr(uc, "bufu", 64); }, -24, {"bufu", "64"}},
        {"host_is_null", [=] { return halide_error_host_is_null(uc, "Input buffer h"); }, -34, {"Input buffer h"}},
        {"bad_fold", [=] { return halide_error_bad_fold(uc, "ff", "vv", "ll"); }, -25, {"ff", "vv", "ll"}},
        {"bad_extern_fold_outside", [=] { return halide_error_bad_extern_fold(uc, "fe", 2, 0, 10, 5, 8); }, -35,
         {"fe", "2", "[0, 9]", "[5, 12]"}},
        {"bad_extern_fold_wrap", [=] { return halide_error_bad_extern_fold(uc, "fe", 3, 6, 4, 4, 8); }, -35,
         {"fe", "3", "[6, 9]", "8"}},
        {"fold_factor_too_small",
         [=] { return halide_error_fold_factor_too_small(uc, "fx", "vy", 4, "loopz", 9); }, -26,
         {"fx", "vy", "4", "loopz", "9"}},
        {"requirement_failed", [=] { return halide_error_requirement_failed(uc, "x > 0", "x must be positive"); },
         -27, {"x > 0", "x must be positive"}},
        {"specialize_fail", [=] { return halide_error_specialize_fail(uc, "no such case"); }, -31, {"no such case"}},
        {"no_device_interface", [=] { return halide_error_no_device_interface(uc); }, -19, {"device interface"}},
        {"device_interface_no_device", [=] { return halide_error_device_interface_no_device(uc); }, -36,
         {"device is 0"}},
        {"host_and_device_dirty", [=] { return halide_error_host_and_device_dirty(uc); }, -37, {"dirty"}},
        {"buffer_is_null", [=] { return halide_error_buffer_is_null(uc, "some_routine"); }, -38, {"some_routine"}},
        {"device_dirty_with_no_device_support",
         [=] { return halide_error_device_dirty_with_no_device_support(uc, "Input buffer dd"); }, -44,
         {"Input buffer dd"}},
        {"storage_bound_too_small", [=] { return halide_error_storage_bound_too_small(uc, "sf", "sv", 3, 11); }, -45,
         {"sf", "sv", "3", "11"}},
        {"device_crop_failed", [=] { return halide_error_device_crop_failed(uc); }, -41, {"cropped"}},
        {"split_factor_not_positive",
         [=] { return halide_error_split_factor_not_positive(uc, "sfn", "x", "xo", "xi", "k*2", -4); }, -46,
         {"sfn", "x", "xo", "xi", "k*2", "-4"}},
        {"vscale_invalid", [=] { return halide_error_vscale_invalid(uc, "vsf", 2, 4); }, -47, {"vsf", "2", "4"}},
        {"streaming_vscale_invalid", [=] { return halide_error_streaming_vscale_invalid(uc, "svf", 3, 8); }, -49,
         {"svf", "3", "8"}},
    };
}

TEST_F(ErrorTest, EveryErrorFunctionReturnsItsCodeAndReportsOnce) {
    for (const ErrorCase &c : all_cases()) {
        SCOPED_TRACE(c.name);
        g_errors.clear();
        EXPECT_EQ(c.call(), c.expected_code);
        ASSERT_EQ(g_errors.size(), 1u);
        for (const std::string &f : c.fragments) {
            EXPECT_NE(g_errors[0].find(f), std::string::npos) << "missing '" << f << "' in: " << g_errors[0];
        }
        EXPECT_LT(g_errors[0].size(), 1024u);
    }
}

TEST_F(ErrorTest, AllThirtySevenFunctionsAreCovered) {
    // 37 functions; two of them appear twice in the table above.
    std::vector<std::string> names;
    for (const ErrorCase &c : all_cases()) {
        names.push_back(c.name);
    }
    EXPECT_EQ(names.size(), 37u + 3u);
}

TEST_F(ErrorTest, NullStringsPrintAsNullptr) {
    EXPECT_EQ(halide_error_buffer_argument_is_null(nullptr, nullptr), -12);
    EXPECT_EQ(halide_error_bad_fold(nullptr, nullptr, "v", nullptr), -25);
    EXPECT_EQ(halide_error_requirement_failed(nullptr, nullptr, nullptr), -27);
    ASSERT_EQ(g_errors.size(), 3u);
    for (const auto &m : g_errors) {
        EXPECT_NE(m.find("<nullptr>"), std::string::npos) << m;
    }
}

TEST_F(ErrorTest, TypePrinting) {
    struct {
        uint32_t given;
        const char *text;
    } cases[] = {
        {packed_type(0, 32, 1), "int32"},   {packed_type(1, 8, 1), "uint8"},
        {packed_type(2, 32, 1), "float32"}, {packed_type(3, 64, 1), "handle64"},
        {packed_type(4, 16, 1), "bfloat16"}, {packed_type(0, 32, 4), "int32x4"},
        {packed_type(9, 8, 1), "bad_type_code"}, {packed_type(1, 1, 1), "uint1"},
    };
    for (const auto &c : cases) {
        g_errors.clear();
        EXPECT_EQ(halide_error_bad_type(nullptr, "f", c.given, packed_type(2, 16, 1)), -3);
        ASSERT_EQ(g_errors.size(), 1u);
        EXPECT_NE(g_errors[0].find(c.text), std::string::npos) << g_errors[0];
        EXPECT_NE(g_errors[0].find("float16"), std::string::npos) << g_errors[0];
    }
    // The expected type is named first, the given one second.
    g_errors.clear();
    halide_error_bad_type(nullptr, "f", packed_type(1, 8, 1), packed_type(2, 32, 1));
    EXPECT_LT(g_errors[0].find("float32"), g_errors[0].find("uint8"));
}

TEST_F(ErrorTest, OutOfMemoryFixedText) {
    EXPECT_EQ(halide_error_out_of_memory(nullptr), -11);
    ASSERT_EQ(g_errors.size(), 1u);
    EXPECT_EQ(g_errors[0], "Out of memory (halide_malloc returned nullptr)");
}

TEST_F(ErrorTest, AccessOutOfBoundsSilentWhenInBounds) {
    EXPECT_EQ(halide_error_access_out_of_bounds(nullptr, "b", 0, 2, 5, 0, 9), -4);
    EXPECT_TRUE(g_errors.empty());
}

TEST_F(ErrorTest, LongStringsAreTruncatedSafely) {
    std::string huge(5000, 'z');
    EXPECT_EQ(halide_error_requirement_failed(nullptr, huge.c_str(), huge.c_str()), -27);
    ASSERT_EQ(g_errors.size(), 1u);
    EXPECT_EQ(g_errors[0].size(), 1023u);
}

TEST_F(ErrorTest, ReportErrorFormat) {
    EXPECT_EQ(hvk::report_error(nullptr, -16, "halide_vulkan_device_malloc", "size %d too big", 12), -16);
    ASSERT_EQ(g_errors.size(), 1u);
    EXPECT_EQ(g_errors[0], "halide_vk_runtime: halide_vulkan_device_malloc: size 12 too big (device_malloc_failed -16)");
    std::string huge(3000, 'q');
    EXPECT_EQ(hvk::report_error(nullptr, -1, "w", "%s", huge.c_str()), -1);
    EXPECT_EQ(g_errors[1].size(), 1023u);
}

TEST_F(ErrorTest, ErrorCodeNames) {
    EXPECT_STREQ(hvk::error_code_name(0), "success");
    EXPECT_STREQ(hvk::error_code_name(-1), "generic_error");
    EXPECT_STREQ(hvk::error_code_name(-14), "copy_to_host_failed");
    EXPECT_STREQ(hvk::error_code_name(-42), "incompatible_device_interface");
    EXPECT_STREQ(hvk::error_code_name(-48), "cannot_profile_pipeline");
    EXPECT_STREQ(hvk::error_code_name(-49), "streaming_vscale_invalid");
    EXPECT_STREQ(hvk::error_code_name(-50), "unknown_error_code");
    EXPECT_STREQ(hvk::error_code_name(3), "unknown_error_code");
    for (int c = 0; c >= -49; c--) {
        EXPECT_STRNE(hvk::error_code_name(c), "unknown_error_code") << c;
    }
    // Spot-check agreement with the header's enum.
    EXPECT_STREQ(hvk::error_code_name(halide_error_code_device_malloc_failed), "device_malloc_failed");
    EXPECT_STREQ(hvk::error_code_name(halide_error_code_host_and_device_dirty), "host_and_device_dirty");
    EXPECT_STREQ(hvk::error_code_name(halide_error_code_streaming_vscale_invalid), "streaming_vscale_invalid");
}

TEST_F(ErrorTest, WarningGoesThroughPrint) {
    hvk::report_warning(nullptr, "thing %d", 7);
    ASSERT_EQ(g_prints.size(), 1u);
    EXPECT_EQ(g_prints[0], "halide_vk_runtime: warning: thing 7\n");
    EXPECT_TRUE(g_errors.empty());
}

TEST_F(ErrorTest, PrintHandlerPlumbing) {
    halide_print(nullptr, "hello");
    ASSERT_EQ(g_prints.size(), 1u);
    EXPECT_EQ(g_prints[0], "hello");
    // The setter returns the previous handler.
    halide_print_t prev = halide_set_custom_print(halide_default_print);
    EXPECT_EQ(prev, &capture_print);
    EXPECT_EQ(halide_set_custom_print(capture_print), &halide_default_print);
}

TEST_F(ErrorTest, ErrorHandlerSetterReturnsPrevious) {
    halide_error_handler_t prev = halide_set_error_handler(halide_default_error);
    EXPECT_EQ(prev, &capture_error);
    EXPECT_EQ(halide_set_error_handler(capture_error), &halide_default_error);
    halide_error(nullptr, "direct");
    ASSERT_EQ(g_errors.size(), 1u);
    EXPECT_EQ(g_errors[0], "direct");
}

// Captures what is written to file descriptor 1 while fn runs.
std::string capture_stdout(const std::function<void()> &fn) {
    std::fflush(stdout);
    int fds[2];
    if (pipe(fds) != 0) {
        return "<pipe failed>";
    }
    int saved = dup(1);
    dup2(fds[1], 1);
    close(fds[1]);
    fn();
    std::fflush(stdout);
    dup2(saved, 1);
    close(saved);
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
        out.append(buf, size_t(n));
    }
    close(fds[0]);
    return out;
}

TEST(HostRuntime, DefaultPrintWritesToStdout) {
    halide_print_t prev = halide_set_custom_print(halide_default_print);
    std::string out = capture_stdout([] { halide_print(nullptr, "to stdout\n"); });
    halide_set_custom_print(prev);
    EXPECT_EQ(out, "to stdout\n");
}

TEST(HostRuntimeDeathTest, DefaultErrorPrintsAndAborts) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    // The default handler prints "Error: <msg>\n" through halide_print and
    // aborts.
    EXPECT_EXIT(
        {
            halide_set_custom_print([](void *, const char *msg) {
                std::fputs(msg, stderr);  // make it visible to the matcher
            });
            halide_set_error_handler(halide_default_error);
            halide_error(nullptr, "boom");
        },
        ::testing::KilledBySignal(SIGABRT), "Error: boom");
}

TEST(HostRuntime, MallocAlignmentAndZeroSize) {
    for (size_t size : {size_t(0), size_t(1), size_t(3), size_t(127), size_t(128), size_t(129), size_t(100000)}) {
        void *p = halide_malloc(nullptr, size);
        ASSERT_NE(p, nullptr) << size;
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 128, 0u) << size;
        std::memset(p, 0xab, size);
        halide_free(nullptr, p);
    }
    void *d = halide_default_malloc(nullptr, 0);
    ASSERT_NE(d, nullptr);
    halide_default_free(nullptr, d);
    halide_free(nullptr, nullptr);  // no-op
}

int g_custom_mallocs = 0;
int g_custom_frees = 0;
void *counting_malloc(void *uc, size_t size) {
    g_custom_mallocs++;
    return halide_default_malloc(uc, size);
}
void counting_free(void *uc, void *ptr) {
    g_custom_frees++;
    halide_default_free(uc, ptr);
}

TEST(HostRuntime, CustomMallocAndFreeHooks) {
    halide_malloc_t prev_m = halide_set_custom_malloc(counting_malloc);
    halide_free_t prev_f = halide_set_custom_free(counting_free);
    EXPECT_EQ(prev_m, &halide_default_malloc);
    EXPECT_EQ(prev_f, &halide_default_free);
    void *p = halide_malloc(nullptr, 10);
    halide_free(nullptr, p);
    EXPECT_EQ(g_custom_mallocs, 1);
    EXPECT_EQ(g_custom_frees, 1);
    EXPECT_EQ(halide_set_custom_malloc(prev_m), &counting_malloc);
    EXPECT_EQ(halide_set_custom_free(prev_f), &counting_free);
}

TEST(HostRuntime, GpuDevice) {
    // The first get reads HL_GPU_DEVICE (unset in tests: -1); set overrides.
    int initial = halide_get_gpu_device(nullptr);
    (void)initial;
    halide_set_gpu_device(3);
    EXPECT_EQ(halide_get_gpu_device(nullptr), 3);
    halide_set_gpu_device(-1);
    EXPECT_EQ(halide_get_gpu_device(nullptr), -1);
}

}  // namespace
