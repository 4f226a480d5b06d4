// Host memory accounting: with VkAllocationCallbacks set before the first
// Vulkan call, every allocation made for the context (ours, the loader's,
// the driver's, the layers') is returned once the context is released.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include <vulkan/vulkan.h>

#include "HalideRuntimeVulkan.h"
#include "halide_vk_runtime.h"
#include "test_env.h"

namespace {

struct Counter {
    std::mutex mutex;
    std::unordered_map<void *, size_t> live;
    uint64_t total = 0;
};
Counter g_counter;

void *VKAPI_PTR count_alloc(void *user, size_t size, size_t alignment, VkSystemAllocationScope) {
    auto *c = static_cast<Counter *>(user);
    size_t rounded = (size + alignment - 1) / alignment * alignment;
    void *p = std::aligned_alloc(alignment, rounded == 0 ? alignment : rounded);
    if (p != nullptr) {
        std::lock_guard<std::mutex> lock(c->mutex);
        c->live[p] = size;
        c->total++;
    }
    return p;
}

void VKAPI_PTR count_free(void *user, void *p) {
    if (p == nullptr) {
        return;
    }
    auto *c = static_cast<Counter *>(user);
    {
        std::lock_guard<std::mutex> lock(c->mutex);
        c->live.erase(p);
    }
    std::free(p);
}

void *VKAPI_PTR count_realloc(void *user, void *orig, size_t size, size_t alignment, VkSystemAllocationScope scope) {
    if (orig == nullptr) {
        return count_alloc(user, size, alignment, scope);
    }
    if (size == 0) {
        count_free(user, orig);
        return nullptr;
    }
    size_t old_size;
    {
        auto *c = static_cast<Counter *>(user);
        std::lock_guard<std::mutex> lock(c->mutex);
        old_size = c->live[orig];
    }
    void *p = count_alloc(user, size, alignment, scope);
    if (p != nullptr) {
        std::memcpy(p, orig, old_size < size ? old_size : size);
        count_free(user, orig);
    }
    return p;
}

VkAllocationCallbacks g_callbacks = {&g_counter, count_alloc, count_realloc, count_free, nullptr, nullptr};

size_t live_count() {
    std::lock_guard<std::mutex> lock(g_counter.mutex);
    return g_counter.live.size();
}

TEST(AllocationCallbacks, ContextLifetimeReturnsEveryHostAllocation) {
    halide_vulkan_set_allocation_callbacks(&g_callbacks);
    EXPECT_EQ(halide_vulkan_get_allocation_callbacks(nullptr), &g_callbacks);
    for (int round = 0; round < 2; round++) {
        char name[256];
        ASSERT_EQ(halide_vk_get_selected_device_name(nullptr, name, sizeof(name)), 0) << hvk_test::last_error();
        EXPECT_GT(g_counter.total, 0u);
        EXPECT_GT(live_count(), 0u) << "the context's objects should be allocated through the callbacks";
        EXPECT_EQ(halide_vulkan_device_release(nullptr), 0);
        EXPECT_EQ(live_count(), 0u) << "round " << round << ": host allocations leaked";
    }
}

}  // namespace
