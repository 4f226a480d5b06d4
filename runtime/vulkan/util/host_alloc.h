// Host memory for the runtime's own metadata (region table, caches, device
// state). Every byte goes through the context's VkAllocationCallbacks when
// the application set them (halide_vulkan_set_allocation_callbacks), so an
// application that counts or pools host memory sees ours too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

#include "vulkan/util/vk.h"

namespace hvk {

// Allocates through `callbacks` (or the C heap when null). Returns null on
// failure, never throws. Alignment 0 means alignof(max_align_t).
void *host_alloc(const VkAllocationCallbacks *callbacks, size_t size, size_t alignment,
                 VkSystemAllocationScope scope);
void host_free(const VkAllocationCallbacks *callbacks, void *ptr);

template <typename T, typename... Args>
T *host_new(const VkAllocationCallbacks *callbacks, Args &&...args) {
    void *mem = host_alloc(callbacks, sizeof(T), alignof(T), VK_SYSTEM_ALLOCATION_SCOPE_OBJECT);
    if (mem == nullptr) {
        return nullptr;
    }
    return new (mem) T(std::forward<Args>(args)...);
}

template <typename T>
void host_delete(const VkAllocationCallbacks *callbacks, T *obj) {
    if (obj != nullptr) {
        obj->~T();
        host_free(callbacks, obj);
    }
}

// Test hooks for allocation-failure injection and leak counting. They see
// only the runtime's own allocations (not the loader's or the driver's).
struct HostAllocStats {
    uint64_t live_allocations;
    uint64_t total_allocations;
    uint64_t failed_allocations;
};
HostAllocStats host_alloc_stats();
// Fail the n-th runtime host allocation from now (1 = the next one); 0 disables.
void host_alloc_fail_nth(uint64_t n);

}  // namespace hvk
