// main() for the GoogleTest binaries: installs the recording error handler
// and the validation-message listener, runs the tests, then releases the
// Vulkan context so that teardown (and its validation) is covered too.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"
#include "test_env.h"

namespace hvk_test {
namespace {

std::mutex g_mutex;
std::vector<std::string> g_errors;
bool g_allow_validation = false;

void record_error(void *, const char *msg) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_errors.emplace_back(msg != nullptr ? msg : "");
}

class ValidationListener : public ::testing::EmptyTestEventListener {
public:
    void OnTestStart(const ::testing::TestInfo &) override {
        g_allow_validation = false;
        start_ = halide_vk_get_validation_message_count();
    }
    void OnTestEnd(const ::testing::TestInfo &info) override {
        uint64_t now = halide_vk_get_validation_message_count();
        if (now != start_ && !g_allow_validation) {
            ADD_FAILURE() << info.test_suite_name() << "." << info.name() << ": " << (now - start_)
                          << " Vulkan validation/driver message(s); see standard error";
        }
    }

private:
    uint64_t start_ = 0;
};

}  // namespace

std::vector<std::string> errors() {
    std::lock_guard<std::mutex> lock(g_mutex);
    return g_errors;
}

void clear_errors() {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_errors.clear();
}

std::string last_error() {
    std::lock_guard<std::mutex> lock(g_mutex);
    return g_errors.empty() ? std::string() : g_errors.back();
}

bool error_contains(const char *needle) {
    std::lock_guard<std::mutex> lock(g_mutex);
    for (const std::string &e : g_errors) {
        if (e.find(needle) != std::string::npos) {
            return true;
        }
    }
    return false;
}

void allow_validation_messages() {
    g_allow_validation = true;
}

bool validation_enabled() {
    const char *v = std::getenv("HVK_TEST_VALIDATION");
    return v != nullptr && *v == '1';
}

}  // namespace hvk_test

int main(int argc, char **argv) {
    ::testing::InitGoogleTest(&argc, argv);
    halide_set_error_handler(hvk_test::record_error);
    ::testing::UnitTest::GetInstance()->listeners().Append(new hvk_test::ValidationListener);
    int rc = RUN_ALL_TESTS();
    uint64_t before = halide_vk_get_validation_message_count();
    halide_vulkan_device_release(nullptr);
    if (halide_vk_get_validation_message_count() != before) {
        std::fprintf(stderr, "FAILED: validation messages during context teardown\n");
        rc = 1;
    }
    return rc;
}
