// Allocation-failure injection through VkAllocationCallbacks (issue 6
// item 4, last part). The callbacks the application sets with
// halide_vulkan_set_allocation_callbacks reach the runtime's own metadata
// AND the loader, the driver and any layer: a failure can land anywhere,
// including third-party code that does not survive it. So:
//
//  * this test runs WITHOUT the validation layer (its meson test environment
//    has no HL_VK_LAYERS; the 1.3.239 layer itself crashes under some
//    failures), on lavapipe;
//  * every N runs in a forked child (the parent never touches Vulkan), so a
//    crash in third-party code is recorded, not fatal;
//  * a child that survives must have returned an error code (or completed
//    with correct results), released everything, left no runtime host
//    allocation behind (hvk::host_alloc_stats), and then run the workload
//    again successfully with the same callbacks;
//  * a crash whose faulting frame is in the runtime or the test fails the
//    test; one in the loader/driver/libc is counted as third-party (best
//    effort, documented in docs: the loader and lavapipe do not all survive).
//
// The workload makes ~2,000 callback allocations (most of them lavapipe's
// device creation). N = 1..64 are all tried, then every k-th N so that the
// test stays within ~15 s; HVK_FAULTS_VK_FULL=1 tries every N (minutes).
// Leftover allocations the loader/driver did not free are reported, not
// failed.
#include <gtest/gtest.h>

#include <execinfo.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "counting_vk_allocator.h"
#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "faults_workload.h"
#include "halide_vk_runtime.h"
#include "vulkan/util/host_alloc.h"
#include "test_env.h"

namespace {

using faults::Workload;

// ---------------------------------------------------------------------------
// Failing callbacks (in the child).

hvk_test::CountingVkBooks g_books;  // the child sets fail_at
VkAllocationCallbacks g_callbacks = hvk_test::counting_callbacks(&g_books);

// ---------------------------------------------------------------------------
// The child: one N.

int g_report_fd = -1;

// Failed assertions of the running test so far (a forked child inherits the
// parent's, so it compares counts rather than asking HasFailure()).
int failures() {
    const ::testing::TestResult *r = ::testing::UnitTest::GetInstance()->current_test_info()->result();
    int n = 0;
    for (int i = 0; i < r->total_part_count(); i++) {
        n += r->GetTestPartResult(i).failed() ? 1 : 0;
    }
    return n;
}

void crash_handler(int sig) {
    char line[64];
    int len = std::snprintf(line, sizeof(line), "signal %d\n", sig);
    (void)!write(g_report_fd, line, size_t(len));
    void *frames[48];
    const int n = backtrace(frames, 48);
    backtrace_symbols_fd(frames, n, g_report_fd);
    _exit(100 + sig);
}

// Runs the workload with the N-th callback allocation failing, then again
// without failures; writes one result line to fd.
[[noreturn]] void child(uint64_t n, int fd) {
    g_report_fd = fd;
    void *warm[4];
    (void)backtrace(warm, 4);  // loads libgcc now: backtrace is not async-signal-safe on its first call
    signal(SIGSEGV, crash_handler);
    signal(SIGBUS, crash_handler);
    signal(SIGABRT, crash_handler);
    signal(SIGFPE, crash_handler);
    signal(SIGILL, crash_handler);
    signal(SIGALRM, crash_handler);  // a hang: the main thread's stack says where
    alarm(30);
    halide_vulkan_set_allocation_callbacks(&g_callbacks);
    g_books.fail_at = n;
    int rc;
    std::string step;
    bool results_ok = true;
    bool cleanup_ok = true;
    const int inherited = failures();
    {
        Workload w;
        rc = w.run();
        step = w.step;
        {
            std::lock_guard<std::mutex> lock(g_books.mutex);
            g_books.fail_at = 0;
        }
        if (rc == 0) {
            w.check_results();
            results_ok = failures() == inherited;
        }
        const int before_cleanup = failures();
        w.cleanup();
        cleanup_ok = failures() == before_cleanup;
    }
    // Whether the failed allocation was one of the runtime's own (host_alloc
    // counts the callbacks' null returns) or the loader's/driver's.
    const bool runtime_hit = hvk::host_alloc_stats().failed_allocations > 0;
    const uint64_t runtime_live = hvk::host_alloc_stats().live_allocations;
    size_t cb_live;
    uint64_t calls;
    {
        std::lock_guard<std::mutex> lock(g_books.mutex);
        cb_live = g_books.live.size();
        calls = g_books.calls;
    }
    // The runtime works afterwards, with the same callbacks.
    int again;
    bool again_ok = true;
    {
        const int before = failures();
        Workload w;
        again = w.run();
        if (again == 0) {
            w.check_results();
        }
        w.cleanup();
        again_ok = failures() == before;
    }
    char line[512];
    const int len = std::snprintf(line, sizeof(line),
                                  "result rc=%d injected=%d runtime_hit=%d runtime_live=%llu cb_live=%zu calls=%llu "
                                  "again=%d results_ok=%d cleanup_ok=%d again_ok=%d step=%s\n",
                                  rc, g_books.failed ? 1 : 0, runtime_hit ? 1 : 0, (unsigned long long)runtime_live,
                                  cb_live, (unsigned long long)calls, again, results_ok, cleanup_ok, again_ok,
                                  step.c_str());
    (void)!write(fd, line, size_t(len));
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(0);
}

struct Outcome {
    bool crashed = false;
    bool third_party = false;
    std::string crash_frame;
    int rc = 0;
    bool injected = false;
    uint64_t runtime_live = 0;
    uint64_t cb_live = 0;
    uint64_t calls = 0;
    int again = -999;
    bool runtime_hit = false;
    bool results_ok = false;
    bool cleanup_ok = false;
    bool again_ok = false;
    std::string step;
    std::string raw;
};

// Where a crash happened: the first frame past the handler and libc.
void classify(Outcome *o) {
    size_t pos = o->raw.find("signal ");
    std::string rest = pos == std::string::npos ? o->raw : o->raw.substr(pos);
    std::vector<std::string> frames;
    size_t start = rest.find('\n');
    while (start != std::string::npos && start + 1 < rest.size()) {
        const size_t end = rest.find('\n', start + 1);
        frames.push_back(rest.substr(start + 1, end == std::string::npos ? std::string::npos : end - start - 1));
        start = end;
    }
    // The trace starts with the handler's own frames (the test binary, and
    // libasan/libtsan/libubsan frames in sanitized builds; a repeated
    // "signal N" line when a second signal arrived), then the kernel's
    // signal-return frame in libc, then the crash site.
    auto is_noise = [](const std::string &f) {
        return f.rfind("signal ", 0) == 0 || f.find("libasan") != std::string::npos ||
               f.find("libtsan") != std::string::npos || f.find("libubsan") != std::string::npos ||
               f.find("crash_handler") != std::string::npos;
    };
    size_t first = 0;
    for (size_t i = 0; i < frames.size(); i++) {
        if (frames[i].find("libc.so") != std::string::npos) {
            first = i + 1;  // just after the signal-return frame
            break;
        }
    }
    for (size_t i = first; i < frames.size(); i++) {
        const std::string &f = frames[i];
        if (f.empty() || is_noise(f) || f.find("libc.so") != std::string::npos) {
            continue;
        }
        o->crash_frame = f;
        // A frame without a module is code in no mapped file: lavapipe's
        // JIT-compiled shaders.
        o->third_party = f[0] == '[' || f.find("libvulkan") != std::string::npos || f.find("lvp") != std::string::npos ||
                         f.find("VkLayer") != std::string::npos || f.find("libLLVM") != std::string::npos ||
                         f.find("libstdc++") != std::string::npos || f.find("ld-linux") != std::string::npos ||
                         f.find("libgallium") != std::string::npos || f.find("libvulkan_lvp") != std::string::npos;
        return;
    }
    o->third_party = true;  // only libc frames: e.g. abort() inside a driver's assert
    o->crash_frame = frames.empty() ? "?" : frames.back();
}

Outcome run_child(uint64_t n) {
    int fds[2];
    Outcome o;
    if (pipe(fds) != 0) {
        o.raw = "pipe failed";
        return o;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child(n, fds[1]);
    }
    close(fds[1]);
    char buf[4096];
    ssize_t k;
    while ((k = read(fds[0], buf, sizeof(buf))) > 0) {
        o.raw.append(buf, size_t(k));
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    const size_t r = o.raw.find("result ");
    if (r == std::string::npos) {
        o.crashed = true;
        classify(&o);
        return o;
    }
    int injected = 0, hit = 0, rok = 0, cok = 0, aok = 0;
    unsigned long long rl = 0, calls = 0;
    size_t cl = 0;
    char step[256] = "";
    std::sscanf(o.raw.c_str() + r,
                "result rc=%d injected=%d runtime_hit=%d runtime_live=%llu cb_live=%zu calls=%llu again=%d "
                "results_ok=%d cleanup_ok=%d again_ok=%d step=%255[^\n]",
                &o.rc, &injected, &hit, &rl, &cl, &calls, &o.again, &rok, &cok, &aok, step);
    o.injected = injected != 0;
    o.runtime_hit = hit != 0;
    o.runtime_live = rl;
    o.cb_live = cl;
    o.calls = calls;
    o.results_ok = rok != 0;
    o.cleanup_ok = cok != 0;
    o.again_ok = aok != 0;
    o.step = step;
    return o;
}

TEST(FaultsVkCallbacks, FailNthCallbackAllocation) {
    ASSERT_FALSE(halide_vulkan_is_initialized()) << "the parent must not create a Vulkan context before forking";
    // N = 0: no failure; how many callback allocations does the workload make?
    const Outcome clean = run_child(0);
    ASSERT_FALSE(clean.crashed) << clean.raw;
    ASSERT_EQ(clean.rc, 0) << clean.step << "\n" << clean.raw;
    ASSERT_EQ(clean.again, 0);
    ASSERT_TRUE(clean.results_ok && clean.cleanup_ok && clean.again_ok) << clean.raw;
    ASSERT_EQ(clean.runtime_live, 0u);
    const uint64_t total = clean.calls;
    ASSERT_GT(total, 100u);

    // HVK_FAULTS_VK_N=n: just that N, with the child's report (for debugging).
    if (const char *one = std::getenv("HVK_FAULTS_VK_N")) {
        const Outcome o = run_child(std::strtoull(one, nullptr, 10));
        std::printf("N=%s: %s\n%s\n", one, o.crashed ? "crashed" : "survived", o.raw.c_str());
        return;
    }
    const bool full = std::getenv("HVK_FAULTS_VK_FULL") != nullptr && std::getenv("HVK_FAULTS_VK_FULL")[0] == '1';
    const auto start = std::chrono::steady_clock::now();
    const double budget_s = full ? 1e9 : 15.0;
    uint64_t tried = 0, survived = 0, third_party_crashes = 0, leaky = 0, completed = 0, runtime_hits = 0,
             wrong_results = 0;
    std::map<std::string, int> crash_sites;
    uint64_t step = 1;
    for (uint64_t n = 1; n <= total; n += step) {
        const Outcome o = run_child(n);
        tried++;
        if (o.crashed) {
            if (o.third_party) {
                third_party_crashes++;
                crash_sites[o.crash_frame]++;
            } else {
                ADD_FAILURE() << "N=" << n << ": crash in the runtime or the test:\n" << o.raw;
            }
        } else {
            // Whoever's allocation failed, the runtime must release
            // everything (cleanup calls succeed, none of its own allocations
            // left) and work afterwards.
            EXPECT_TRUE(o.cleanup_ok) << "N=" << n << ": a cleanup call failed\n" << o.raw;
            EXPECT_EQ(o.runtime_live, 0u) << "N=" << n << " (" << o.step << ", rc " << o.rc
                                          << "): runtime host allocations leaked";
            EXPECT_TRUE(o.again == 0 && o.again_ok) << "N=" << n << ": the runtime did not work afterwards\n" << o.raw;
            if (o.rc != 0) {
                EXPECT_LT(o.rc, 0) << "N=" << n;
                if (o.runtime_hit) {
                    runtime_hits++;
                }
            } else if (o.results_ok) {
                completed++;  // the failure was absorbed (by the loader, say) and the results were right
            } else if (o.runtime_hit) {
                ADD_FAILURE() << "N=" << n << ": the runtime's own allocation failed, it reported success and the "
                              << "results are wrong\n" << o.raw;
            } else {
                wrong_results++;  // a driver that lost a command without reporting it (lavapipe, see above)
            }
            if (o.cb_live != 0) {
                leaky++;
            }
            survived++;
        }
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (elapsed > budget_s) {
            break;
        }
        // Every N up to 64, then spread the rest of the budget over the range.
        if (!full && n >= 64) {
            const double per = elapsed / double(tried);
            const double left = budget_s - elapsed;
            const double runs_left = left / per;
            step = runs_left > 1 ? uint64_t(double(total - n) / runs_left) + 1 : total;
        }
    }
    std::printf("VkAllocationCallbacks: %llu allocations per workload; tried %llu values of N, survived %llu "
                "(%llu failures in the runtime's own allocations returned an error; %llu completed correctly "
                "despite the failure; %llu completed with wrong results after a driver allocation failed), "
                "%llu crashes in third-party code, %llu runs left loader/driver allocations unfreed\n",
                (unsigned long long)total, (unsigned long long)tried, (unsigned long long)survived,
                (unsigned long long)runtime_hits, (unsigned long long)completed, (unsigned long long)wrong_results,
                (unsigned long long)third_party_crashes, (unsigned long long)leaky);
    for (const auto &site : crash_sites) {
        std::printf("  third-party crash site (%d): %s\n", site.second, site.first.c_str());
    }
}

}  // namespace
