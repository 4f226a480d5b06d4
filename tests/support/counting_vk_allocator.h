// VkAllocationCallbacks that keep books, for the tests that hand the
// runtime (and through it the loader, the driver and the layers) an
// application's host allocator: what is live (pointer -> size), how many
// allocations, frees and failures there were, whether an alignment was not
// a power of two, whether a free came for a pointer these books never
// handed out. Optionally fails the N-th allocation (fault injection) and
// poisons what is freed (a later use reads garbage).
//
// Usage: one CountingVkBooks per allocator, and
//   VkAllocationCallbacks cb = hvk_test::counting_callbacks(&books);
// pUserData must reach the callbacks: they abort if it is not a books
// object (there is no way to continue without it).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include <vulkan/vulkan.h>

namespace hvk_test {

struct CountingVkBooks {
    static constexpr uint64_t kMagic = 0x626f6f6b73564b31ull;
    uint64_t magic = kMagic;
    std::mutex mutex;
    std::unordered_map<void *, size_t> live;  // pointer -> size asked for
    uint64_t calls = 0;          // allocation attempts, the failed ones too
    uint64_t allocations = 0;    // allocations that succeeded
    uint64_t frees = 0;          // frees of live pointers
    uint64_t largest = 0;        // largest size asked for
    uint64_t bad_alignment = 0;  // alignments of 0 or not a power of two
    uint64_t unknown_frees = 0;  // frees of pointers not live here (never freed)
    uint64_t fail_at = 0;        // the attempt (1-based) that fails; 0: never
    bool failed = false;         // the attempt fail_at came
    bool poison_frees = false;   // fill a block with 0xDD before freeing it

    size_t live_count() {
        std::lock_guard<std::mutex> lock(mutex);
        return live.size();
    }
};

inline CountingVkBooks *counting_books_of(void *user) {
    auto *b = static_cast<CountingVkBooks *>(user);
    if (b == nullptr || b->magic != CountingVkBooks::kMagic) {
        std::abort();  // pUserData was not passed: no way to continue
    }
    return b;
}

inline void *VKAPI_PTR counting_alloc(void *user, size_t size, size_t alignment, VkSystemAllocationScope) {
    CountingVkBooks *b = counting_books_of(user);
    std::lock_guard<std::mutex> lock(b->mutex);
    if (++b->calls == b->fail_at) {
        b->failed = true;
        return nullptr;
    }
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        b->bad_alignment++;
        alignment = 16;
    }
    void *p = nullptr;
    if (posix_memalign(&p, alignment < sizeof(void *) ? sizeof(void *) : alignment, size ? size : 1) != 0) {
        return nullptr;
    }
    b->live[p] = size;
    b->allocations++;
    b->largest = size > b->largest ? size : b->largest;
    return p;
}

inline void VKAPI_PTR counting_free(void *user, void *p) {
    if (p == nullptr) {
        return;
    }
    CountingVkBooks *b = counting_books_of(user);
    std::lock_guard<std::mutex> lock(b->mutex);
    auto it = b->live.find(p);
    if (it == b->live.end()) {
        b->unknown_frees++;
        return;  // not ours: never free it
    }
    if (b->poison_frees) {
        std::memset(p, 0xDD, it->second);
    }
    b->live.erase(it);
    b->frees++;
    std::free(p);
}

inline void *VKAPI_PTR counting_realloc(void *user, void *old, size_t size, size_t alignment,
                                        VkSystemAllocationScope scope) {
    if (old == nullptr) {
        return counting_alloc(user, size, alignment, scope);
    }
    if (size == 0) {
        counting_free(user, old);
        return nullptr;
    }
    size_t old_size = 0;
    {
        CountingVkBooks *b = counting_books_of(user);
        std::lock_guard<std::mutex> lock(b->mutex);
        auto it = b->live.find(old);
        old_size = it != b->live.end() ? it->second : 0;
    }
    void *p = counting_alloc(user, size, alignment, scope);
    if (p != nullptr) {
        std::memcpy(p, old, old_size < size ? old_size : size);
        counting_free(user, old);
    }
    return p;
}

inline VkAllocationCallbacks counting_callbacks(CountingVkBooks *books) {
    return VkAllocationCallbacks{books, counting_alloc, counting_realloc, counting_free, nullptr, nullptr};
}

}  // namespace hvk_test
