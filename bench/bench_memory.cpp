// Memory benchmarks (issue 3): a warm device_malloc + device_free pair, and
// copy_to_device / copy_to_host at 4 KiB, 256 KiB, 1 MiB and 64 MiB against
// a plain memcpy of the same size. Copies are timed through the backend
// entry points (halide_vulkan_copy_to_*), each repetition separately; the
// median is reported. "direct" is the default path (the arena's mapping of
// host-visible memory where there is one); "staged" forces the staging
// rings, the path discrete GPUs and wrapped VkBuffers take.
//
// Usage: bench_memory [--quick]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"
#include "staging.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    size_t i = size_t(p * double(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

struct HostBuffer {
    uint8_t *data = nullptr;
    size_t size = 0;
    halide_dimension_t dim{};
    halide_buffer_t buf{};
    explicit HostBuffer(size_t bytes) : size(bytes) {
        data = static_cast<uint8_t *>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
        for (size_t i = 0; i < bytes; i++) {
            data[i] = uint8_t(i * 131 + 7);
        }
        dim = halide_dimension_t{0, int32_t(bytes), 1, 0};
        buf.type = halide_type_t(halide_type_uint, 8, 1);
        buf.dimensions = 1;
        buf.dim = &dim;
        buf.host = data;
    }
    ~HostBuffer() {
        if (buf.device != 0) {
            halide_vulkan_device_free(nullptr, &buf);
        }
        std::free(data);
    }
};

int check(int rc, const char *what) {
    if (rc != 0) {
        std::fprintf(stderr, "bench_memory: %s failed (%d)\n", what, rc);
        std::exit(1);
    }
    return rc;
}

void bench_malloc_free(int reps) {
    HostBuffer b(1 << 20);
    b.buf.host = nullptr;
    for (int i = 0; i < 200; i++) {
        check(halide_vulkan_device_malloc(nullptr, &b.buf), "device_malloc");
        check(halide_vulkan_device_free(nullptr, &b.buf), "device_free");
    }
    std::vector<double> t;
    t.reserve(size_t(reps));
    for (int i = 0; i < reps; i++) {
        auto t0 = Clock::now();
        halide_vulkan_device_malloc(nullptr, &b.buf);
        halide_vulkan_device_free(nullptr, &b.buf);
        t.push_back(seconds_since(t0));
    }
    std::printf("device_malloc+device_free (1 MiB, warm): median %.3f us, p90 %.3f us (%d pairs)\n",
                median(t) * 1e6, percentile(t, 0.9) * 1e6, reps);
}

struct Result {
    double copy_s;
    double memcpy_s;
};

Result bench_copy(size_t bytes, bool to_device, int reps) {
    HostBuffer b(bytes);
    HostBuffer other(bytes);
    check(halide_vulkan_device_malloc(nullptr, &b.buf), "device_malloc");
    auto copy = [&]() {
        return to_device ? halide_vulkan_copy_to_device(nullptr, &b.buf) : halide_vulkan_copy_to_host(nullptr, &b.buf);
    };
    for (int i = 0; i < 3; i++) {
        check(copy(), to_device ? "copy_to_device" : "copy_to_host");
    }
    std::vector<double> tc, tm;
    tc.reserve(size_t(reps));
    tm.reserve(size_t(reps));
    for (int i = 0; i < reps; i++) {
        auto t0 = Clock::now();
        copy();
        tc.push_back(seconds_since(t0));
        auto t1 = Clock::now();
        if (to_device) {
            std::memcpy(other.data, b.data, bytes);
        } else {
            std::memcpy(b.data, other.data, bytes);
        }
        tm.push_back(seconds_since(t1));
    }
    return Result{median(tc), median(tm)};
}

const char *size_name(size_t bytes, char *buf, size_t n) {
    if (bytes >= (1u << 20)) {
        std::snprintf(buf, n, "%zu MiB", bytes >> 20);
    } else {
        std::snprintf(buf, n, "%zu KiB", bytes >> 10);
    }
    return buf;
}

}  // namespace

int main(int argc, char **argv) {
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    char name[256] = {0};
    check(halide_vk_get_selected_device_name(nullptr, name, sizeof(name)), "device selection");
    std::printf("device: %s\n", name);
    bench_malloc_free(quick ? 2000 : 20000);

    const size_t sizes[] = {4u << 10, 256u << 10, 1u << 20, 64u << 20};
    std::printf("%-7s %-15s %-8s %12s %12s %10s %10s %7s\n", "path", "copy", "size", "copy (us)", "memcpy (us)",
                "copy GB/s", "memcpy GB/s", "ratio");
    for (bool staged : {false, true}) {
        hvk::set_copies_force_staging(staged);
        for (bool to_device : {true, false}) {
            for (size_t bytes : sizes) {
                int reps = bytes >= (64u << 20) ? 15 : bytes >= (1u << 20) ? 200 : bytes >= (256u << 10) ? 500 : 5000;
                if (quick) {
                    reps = std::max(5, reps / 10);
                }
                Result r = bench_copy(bytes, to_device, reps);
                char sz[32];
                std::printf("%-7s %-15s %-8s %12.2f %12.2f %10.2f %10.2f %6.1f%%\n", staged ? "staged" : "direct",
                            to_device ? "copy_to_device" : "copy_to_host", size_name(bytes, sz, sizeof(sz)),
                            r.copy_s * 1e6, r.memcpy_s * 1e6, double(bytes) / r.copy_s / 1e9,
                            double(bytes) / r.memcpy_s / 1e9, 100.0 * r.memcpy_s / r.copy_s);
            }
        }
    }
    hvk::set_copies_force_staging(false);
    halide_vulkan_device_release(nullptr);
    return 0;
}
