#include "vulkan/util/host_alloc.h"

#include <atomic>
#include <cstdlib>

namespace hvk {
namespace {

std::atomic<uint64_t> g_live{0};
std::atomic<uint64_t> g_total{0};
std::atomic<uint64_t> g_failed{0};
std::atomic<uint64_t> g_fail_countdown{0};

bool injected_failure() {
    uint64_t n = g_fail_countdown.load(std::memory_order_relaxed);
    while (n != 0) {
        if (g_fail_countdown.compare_exchange_weak(n, n - 1)) {
            return n == 1;
        }
    }
    return false;
}

}  // namespace

void *host_alloc(const VkAllocationCallbacks *callbacks, size_t size, size_t alignment,
                 VkSystemAllocationScope scope) {
    if (alignment < alignof(std::max_align_t)) {
        alignment = alignof(std::max_align_t);
    }
    if (size == 0) {
        size = 1;
    }
    if (injected_failure()) {
        g_failed.fetch_add(1, std::memory_order_relaxed);
        return nullptr;
    }
    void *ptr = nullptr;
    if (callbacks != nullptr && callbacks->pfnAllocation != nullptr) {
        ptr = callbacks->pfnAllocation(callbacks->pUserData, size, alignment, scope);
    } else {
        size_t rounded = (size + alignment - 1) / alignment * alignment;
        ptr = std::aligned_alloc(alignment, rounded);
    }
    if (ptr == nullptr) {
        g_failed.fetch_add(1, std::memory_order_relaxed);
        return nullptr;
    }
    g_live.fetch_add(1, std::memory_order_relaxed);
    g_total.fetch_add(1, std::memory_order_relaxed);
    return ptr;
}

void host_free(const VkAllocationCallbacks *callbacks, void *ptr) {
    if (ptr == nullptr) {
        return;
    }
    g_live.fetch_sub(1, std::memory_order_relaxed);
    if (callbacks != nullptr && callbacks->pfnFree != nullptr) {
        callbacks->pfnFree(callbacks->pUserData, ptr);
    } else {
        std::free(ptr);
    }
}

HostAllocStats host_alloc_stats() {
    return HostAllocStats{g_live.load(), g_total.load(), g_failed.load()};
}

void host_alloc_fail_nth(uint64_t n) {
    g_fail_countdown.store(n);
}

}  // namespace hvk
