#include <mutex>

#include "HalideRuntimeVulkan.h"
#include "vulkan/context/context_scope.h"
#include "common/report.h"

namespace hvk {

ContextScope::ContextScope(void *user_context, const char *where, bool create) : user_context_(user_context) {
    struct halide_vulkan_memory_allocator *allocator = nullptr;
    VkPhysicalDevice physical_device = VK_NULL_HANDLE;
    uint32_t queue_family = 0;
    // By name: an application's definition interposes ours.
    int rc = halide_vulkan_acquire_context(user_context, &allocator, &instance_, &vk_device_, &physical_device,
                                           &queue_, &queue_family, &messenger_, create);
    if (rc != 0) {
        // The default acquire has reported why; an override may not have.
        status_ = rc < 0 && rc >= -49 ? rc : -36;
        report_error(user_context, status_, where, "could not acquire the Vulkan context (acquire returned %d)", rc);
        return;
    }
    acquired_ = true;
    if (vk_device_ == VK_NULL_HANDLE) {
        if (create) {
            status_ = report_error(user_context, -36, where,
                                   "halide_vulkan_acquire_context succeeded but returned no VkDevice");
        }
        return;
    }
    // Our default acquire hands its Device out as the allocator; anything
    // else (an override's value, or null) is looked up by VkDevice.
    Device *d = reinterpret_cast<Device *>(allocator);
    if (d == nullptr || !is_registered_device(d) || d->device != vk_device_) {
        d = find_device(vk_device_);
    }
    if (d == nullptr) {
        if (!create) {
            return;
        }
        // An override need not serialise callers: threads whose first calls
        // on a new VkDevice overlap must adopt it once (look again under
        // the lock; adoption registers the Device before it returns).
        static std::mutex adopt_mutex;
        std::lock_guard<std::mutex> lock(adopt_mutex);
        d = find_device(vk_device_);
        if (d == nullptr) {
            int status = 0;
            d = adopt_application_device(user_context, instance_, physical_device, vk_device_, queue_, queue_family,
                                         &status);
            if (d == nullptr) {
                status_ = status != 0 ? status : -36;
                return;
            }
        }
    }
    device_ = d;
}

ContextScope::~ContextScope() {
    if (acquired_) {
        halide_vulkan_release_context(user_context_, instance_, vk_device_, queue_, messenger_);
    }
}

}  // namespace hvk
