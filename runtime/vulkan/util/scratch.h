// A fixed-size temporary array on the runtime's host allocator, for the few
// cold paths (context creation, enumeration) that need a variable count.
// Never throws: check ok() after construction.
#pragma once

#include <cstddef>
#include <cstring>

#include "vulkan/util/host_alloc.h"

namespace hvk {

template <typename T>
class ScratchArray {
public:
    ScratchArray(const VkAllocationCallbacks *callbacks, size_t count) : callbacks_(callbacks), count_(count) {
        if (count_ > 0) {
            data_ = static_cast<T *>(
                host_alloc(callbacks_, sizeof(T) * count_, alignof(T), VK_SYSTEM_ALLOCATION_SCOPE_COMMAND));
            if (data_ != nullptr) {
                std::memset(static_cast<void *>(data_), 0, sizeof(T) * count_);
            }
        }
    }
    ~ScratchArray() { host_free(callbacks_, data_); }
    ScratchArray(const ScratchArray &) = delete;
    ScratchArray &operator=(const ScratchArray &) = delete;

    bool ok() const { return count_ == 0 || data_ != nullptr; }
    T *data() { return data_; }
    size_t size() const { return count_; }
    T &operator[](size_t i) { return data_[i]; }

private:
    const VkAllocationCallbacks *callbacks_;
    size_t count_;
    T *data_ = nullptr;
};

}  // namespace hvk
