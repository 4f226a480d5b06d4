// Concurrency (issue 6 item 5): many threads running the project's kernels
// (shaders/, packed as Halide blobs) through the public C ABI at once, the
// way several threads calling AOT-compiled Halide pipelines do: one shared
// state slot per pipeline, initialize_kernels / run / finalize on every
// call, intermediates allocated and freed per run, copies both ways.
//
//   SeparateBuffers      T threads x R pipeline runs, each thread on its own
//                        buffers; two dependent kernels per run; every
//                        result checked exactly
//   SharedReadOnlyInput  T threads reading one device buffer (and crops of
//                        it made by each thread) into their own outputs
//   CropChurn            one thread creating and releasing crops (and crops
//                        of crops) of two shared roots, running a kernel on
//                        them, while T workers run kernels that read one
//                        root and write their own disjoint crop of the other
//
// Sizes come from the environment so that one binary serves the default
// suite and the 'stress' suite (tests/concurrency/meson.build):
//   HVK_CONC_THREADS (8), HVK_CONC_RUNS (runs per thread, 1000),
//   HVK_CONC_DEADLINE_S (seconds before a test is declared deadlocked, 300).
// A deadlock cannot be joined, so the watchdog prints what each thread had
// done and aborts the process (meson reports the crash).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "f32_kernel_buffer.h"
#include "test_env.h"
#include "test_kernel_blobs.h"

namespace {

using hvk_test::env_int;
using FBuf = hvk_test::F32Buf;

int threads() { return env_int("HVK_CONC_THREADS", 8); }
int runs() { return env_int("HVK_CONC_RUNS", 1000); }
int deadline_s() { return env_int("HVK_CONC_DEADLINE_S", 300); }

const halide_device_interface_t *vk() {
    return halide_vulkan_device_interface();
}

// Like a Halide pipeline object: one state slot for all callers.
void *g_basic_slot = nullptr;

int init_kernels() {
    return halide_vulkan_initialize_kernels(nullptr, &g_basic_slot, reinterpret_cast<const char *>(hvk_blob_basic),
                                            int(hvk_blob_basic_size));
}
void finalize_kernels() {
    halide_vulkan_finalize_kernels(nullptr, g_basic_slot);
}

// k_scale_f32: out[x] = in[x] * scale + bias for x < n (work-group 64).
int run_scale(halide_buffer_t *out, halide_buffer_t *in, float scale, float bias, int n) {
    return hvk_test::run_scale_f32(g_basic_slot, out, in, scale, bias, n);
}

// k_saxpy_f32 on a dense width x height image: out = a * x + y (16 x 16).
int run_saxpy(halide_buffer_t *out, halide_buffer_t *x, halide_buffer_t *y, float a, int width, int height) {
    int32_t w = width, h = height;
    size_t sizes[] = {8, 8, 8, 4, 4, 4, 4, 4, 4, 0};
    void *args[] = {out, x, y, &a, &w, &h, &w, &w, &w, nullptr};
    int8_t is_buffer[] = {1, 1, 1, 0, 0, 0, 0, 0, 0, 0};
    return halide_vulkan_run(nullptr, g_basic_slot, "k_saxpy_f32", (width + 15) / 16, (height + 15) / 16, 1, 16, 16,
                             1, 0, sizes, args, is_buffer);
}

// Failures seen by worker threads (gtest assertions belong on the main
// thread): a count and the first few messages.
class Failures {
public:
    void add(const std::string &what) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (messages_.size() < 10) {
            messages_.push_back(what + (hvk_test::last_error().empty() ? "" : " [" + hvk_test::last_error() + "]"));
        }
        count_++;
    }
    int count() {
        std::lock_guard<std::mutex> lock(mutex_);
        return count_;
    }
    std::string text() {
        std::lock_guard<std::mutex> lock(mutex_);
        std::string s;
        for (const std::string &m : messages_) {
            s += "\n  " + m;
        }
        return s;
    }

private:
    std::mutex mutex_;
    std::vector<std::string> messages_;
    int count_ = 0;
};

#define CHECK_RC(expr, ...)                                                                      \
    do {                                                                                         \
        int rc_ = (expr);                                                                        \
        if (rc_ != 0) {                                                                          \
            char where_[128], what_[256];                                                        \
            std::snprintf(where_, sizeof(where_), __VA_ARGS__);                                  \
            std::snprintf(what_, sizeof(what_), "%s returned %d: %s", #expr, rc_, where_);       \
            failures.add(what_);                                                                 \
            return;                                                                              \
        }                                                                                        \
    } while (0)

// Runs `body(i)` on `n` threads plus, optionally, `extra` on one more, all
// released at once; aborts the process if they are not done by the
// deadline. `progress[i]` is what thread i reports having done.
void run_threads(int n, const std::function<void(int)> &body, const std::function<void()> &extra,
                 std::vector<std::atomic<int>> &progress) {
    std::mutex m;
    std::condition_variable cv;
    int done = 0;
    bool go = false;
    const int total = n + (extra ? 1 : 0);
    std::vector<std::thread> pool;
    auto wrap = [&](std::function<void()> f) {
        return [&, f] {
            {
                std::unique_lock<std::mutex> lock(m);
                cv.wait(lock, [&] { return go; });
            }
            f();
            std::lock_guard<std::mutex> lock(m);
            done++;
            cv.notify_all();
        };
    };
    for (int i = 0; i < n; i++) {
        pool.emplace_back(wrap([&body, i] { body(i); }));
    }
    if (extra) {
        pool.emplace_back(wrap(extra));
    }
    {
        std::unique_lock<std::mutex> lock(m);
        go = true;
        cv.notify_all();
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(deadline_s());
        if (!cv.wait_until(lock, deadline, [&] { return done == total; })) {
            std::fprintf(stderr, "DEADLOCK? %d of %d threads still running after %d s; progress:", total - done,
                         total, deadline_s());
            for (size_t i = 0; i < progress.size(); i++) {
                std::fprintf(stderr, " %d", progress[i].load());
            }
            std::fprintf(stderr, "\n");
            std::abort();
        }
    }
    for (std::thread &t : pool) {
        t.join();
    }
}

class Concurrency : public ::testing::Test {
protected:
    void SetUp() override { hvk_test::clear_errors(); }
};

// T threads x R pipeline runs on separate buffers. One run, as a Halide
// pipeline with an intermediate does it: upload the input, initialize the
// kernels (shared slot), allocate the intermediate, tmp = 2 * in + b,
// out = 0.5 * tmp + in (a second kernel that depends on the first), free
// the intermediate, finalize, download and check out = 2 * in + b / 2
// exactly (every value is a small multiple of 1/4).
TEST_F(Concurrency, SeparateBuffers) {
    // Start from no context: the first calls race to create it.
    halide_device_release(nullptr, vk());
    const int nt = threads(), nr = runs();
    const int w = 16, h = 4, n = w * h;
    Failures failures;
    std::vector<std::atomic<int>> progress(static_cast<size_t>(nt));
    auto t0 = std::chrono::steady_clock::now();
    run_threads(
        nt,
        [&](int t) {
            FBuf in(n), out(n);
            CHECK_RC(halide_device_malloc(nullptr, &out.buf, vk()), "thread %d", t);
            for (int r = 0; r < nr; r++) {
                const float b = float(r % 7);
                for (int i = 0; i < n; i++) {
                    in.data()[i] = float(t * 1000 + r % 1000) + float(i) * 0.25f;
                }
                CHECK_RC(in.upload(), "thread %d run %d", t, r);
                CHECK_RC(init_kernels(), "thread %d run %d", t, r);
                FBuf tmp(n);
                CHECK_RC(halide_device_malloc(nullptr, &tmp.buf, vk()), "thread %d run %d", t, r);
                CHECK_RC(run_scale(&tmp.buf, &in.buf, 2.0f, b, n), "thread %d run %d", t, r);
                CHECK_RC(run_saxpy(&out.buf, &tmp.buf, &in.buf, 0.5f, w, h), "thread %d run %d", t, r);
                CHECK_RC(halide_device_free(nullptr, &tmp.buf), "thread %d run %d", t, r);
                finalize_kernels();
                CHECK_RC(out.download(), "thread %d run %d", t, r);
                for (int i = 0; i < n; i++) {
                    const float want = 2.0f * in.data()[i] + b * 0.5f;
                    if (out.data()[i] != want) {
                        char what[160];
                        std::snprintf(what, sizeof(what), "thread %d run %d: out[%d] = %g, want %g", t, r, i,
                                      double(out.data()[i]), double(want));
                        failures.add(what);
                        return;
                    }
                }
                progress[size_t(t)].store(r + 1);
            }
        },
        nullptr, progress);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("SeparateBuffers: %d threads x %d runs in %.2f s (%.1f us per run)\n", nt, nr, s,
                1e6 * s / (double(nt) * nr));
    EXPECT_EQ(failures.count(), 0) << failures.text();
}

// One input uploaded once, read by every thread (whole, and through crops
// each thread makes of it) into each thread's own outputs.
TEST_F(Concurrency, SharedReadOnlyInput) {
    const int nt = threads(), nr = runs();
    const int n = 256, cn = 64;
    FBuf src(n);
    for (int i = 0; i < n; i++) {
        src.data()[i] = float(i) * 0.5f;
    }
    ASSERT_EQ(src.upload(), 0) << hvk_test::last_error();
    Failures failures;
    std::vector<std::atomic<int>> progress(static_cast<size_t>(nt));
    auto t0 = std::chrono::steady_clock::now();
    run_threads(
        nt,
        [&](int t) {
            FBuf out(n), out2(cn);
            for (int r = 0; r < nr; r++) {
                const float scale = float(1 + (t + r) % 5);
                CHECK_RC(init_kernels(), "thread %d run %d", t, r);
                if (out.buf.device == 0) {
                    CHECK_RC(halide_device_malloc(nullptr, &out.buf, vk()), "thread %d", t);
                }
                CHECK_RC(run_scale(&out.buf, &src.buf, scale, float(t), n), "thread %d run %d", t, r);
                // A crop of the shared input at an odd element offset.
                const int off = (t * 8 + r) % (n - cn);
                FBuf crop(src.buf, off, cn);
                CHECK_RC(halide_device_crop(nullptr, &src.buf, &crop.buf), "thread %d run %d", t, r);
                if (out2.buf.device == 0) {
                    CHECK_RC(halide_device_malloc(nullptr, &out2.buf, vk()), "thread %d", t);
                }
                CHECK_RC(run_scale(&out2.buf, &crop.buf, 1.0f, float(r), cn), "thread %d run %d", t, r);
                finalize_kernels();
                CHECK_RC(out.download(), "thread %d run %d", t, r);
                CHECK_RC(out2.download(), "thread %d run %d", t, r);
                for (int i = 0; i < n; i++) {
                    const float want = float(i) * 0.5f * scale + float(t);
                    if (out.data()[i] != want) {
                        char what[160];
                        std::snprintf(what, sizeof(what), "thread %d run %d: out[%d] = %g, want %g", t, r, i,
                                      double(out.data()[i]), double(want));
                        failures.add(what);
                        return;
                    }
                }
                for (int i = 0; i < cn; i++) {
                    const float want = float(off + i) * 0.5f + float(r);
                    if (out2.data()[i] != want) {
                        char what[160];
                        std::snprintf(what, sizeof(what), "thread %d run %d: crop out[%d] = %g, want %g", t, r, i,
                                      double(out2.data()[i]), double(want));
                        failures.add(what);
                        return;
                    }
                }
                progress[size_t(t)].store(r + 1);
            }
        },
        nullptr, progress);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("SharedReadOnlyInput: %d threads x %d runs in %.2f s\n", nt, nr, s);
    EXPECT_EQ(failures.count(), 0) << failures.text();
}

// Two shared roots: `in` (read by everyone) and `out` (each worker writes
// its own disjoint crop). A churn thread keeps creating and releasing crops
// and crops of crops of both, running a kernel from an `in` crop into its
// own buffer and checking it, until the workers are done.
TEST_F(Concurrency, CropChurn) {
    const int nt = threads(), nr = runs();
    const int seg = 64, n = nt * seg;
    FBuf in(n), out(n);
    for (int i = 0; i < n; i++) {
        in.data()[i] = float(i);
    }
    ASSERT_EQ(in.upload(), 0) << hvk_test::last_error();
    ASSERT_EQ(halide_device_malloc(nullptr, &out.buf, vk()), 0) << hvk_test::last_error();
    Failures failures;
    std::atomic<int> workers_left{nt};
    std::atomic<int> churned{0};
    std::vector<std::atomic<int>> progress(static_cast<size_t>(nt) + 1);
    auto t0 = std::chrono::steady_clock::now();
    run_threads(
        nt,
        [&](int t) {
            struct Leave {
                std::atomic<int> &left;
                ~Leave() { left--; }
            } leave{workers_left};
            FBuf mine(out.buf, t * seg, seg);
            CHECK_RC(halide_device_crop(nullptr, &out.buf, &mine.buf), "thread %d", t);
            for (int r = 0; r < nr; r++) {
                const float bias = float(r % 11);
                CHECK_RC(init_kernels(), "thread %d run %d", t, r);
                // Reads the whole shared `in` root from offset 0 of the
                // worker's segment: in[t * seg + x].
                FBuf src(in.buf, t * seg, seg);
                CHECK_RC(halide_device_crop(nullptr, &in.buf, &src.buf), "thread %d run %d", t, r);
                CHECK_RC(run_scale(&mine.buf, &src.buf, 3.0f, bias, seg), "thread %d run %d", t, r);
                finalize_kernels();
                CHECK_RC(mine.download(), "thread %d run %d", t, r);
                for (int i = 0; i < seg; i++) {
                    const float want = float(t * seg + i) * 3.0f + bias;
                    if (mine.data()[i] != want) {
                        char what[160];
                        std::snprintf(what, sizeof(what), "thread %d run %d: out[%d] = %g, want %g", t, r,
                                      t * seg + i, double(mine.data()[i]), double(want));
                        failures.add(what);
                        return;
                    }
                }
                progress[size_t(t)].store(r + 1);
            }
        },
        [&] {
            FBuf result(32);
            CHECK_RC(halide_device_malloc(nullptr, &result.buf, vk()), "churn");
            int k = 0;
            while (workers_left.load() > 0) {
                const int off = (k * 7) % (n - 64);
                FBuf c_in(in.buf, off, 64);
                CHECK_RC(halide_device_crop(nullptr, &in.buf, &c_in.buf), "churn %d", k);
                // A crop of the crop, at an odd offset inside it.
                FBuf cc(c_in.buf, 3, 32);
                CHECK_RC(halide_device_crop(nullptr, &c_in.buf, &cc.buf), "churn %d", k);
                // And a crop of the shared output root, never written here.
                FBuf c_out(out.buf, (k * 13) % (n - 16), 16);
                CHECK_RC(halide_device_crop(nullptr, &out.buf, &c_out.buf), "churn %d", k);
                if (k % 4 == 0) {
                    CHECK_RC(init_kernels(), "churn %d", k);
                    CHECK_RC(run_scale(&result.buf, &cc.buf, -1.0f, 0.0f, 32), "churn %d", k);
                    finalize_kernels();
                    CHECK_RC(result.download(), "churn %d", k);
                    for (int i = 0; i < 32; i++) {
                        if (result.data()[i] != -float(off + 3 + i)) {
                            char what[160];
                            std::snprintf(what, sizeof(what), "churn %d: result[%d] = %g, want %g", k, i,
                                          double(result.data()[i]), double(-float(off + 3 + i)));
                            failures.add(what);
                            return;
                        }
                    }
                }
                // Release in an order other than creation's.
                CHECK_RC(halide_device_release_crop(nullptr, &c_out.buf), "churn %d", k);
                c_out.buf.device = 0;
                CHECK_RC(halide_device_release_crop(nullptr, &cc.buf), "churn %d", k);
                cc.buf.device = 0;
                k++;
                churned.store(k);
                progress[size_t(nt)].store(k);
            }
        },
        progress);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("CropChurn: %d workers x %d runs, %d crop rounds in %.2f s\n", nt, nr, churned.load(), s);
    EXPECT_EQ(failures.count(), 0) << failures.text();
    EXPECT_GT(churned.load(), 0);
}

}  // namespace
