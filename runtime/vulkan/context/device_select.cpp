#include "vulkan/context/device_select.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hvk {
namespace {

// Lower is preferred.
int default_rank(VkPhysicalDeviceType type) {
    switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
    }
}

enum class TypeFilter { Any, Cpu, Gpu, Discrete, Integrated, Virtual, Invalid };

TypeFilter parse_type(const char *type) {
    if (type == nullptr || *type == '\0') return TypeFilter::Any;
    if (std::strcmp(type, "cpu") == 0) return TypeFilter::Cpu;
    if (std::strcmp(type, "gpu") == 0) return TypeFilter::Gpu;
    if (std::strcmp(type, "discrete-gpu") == 0) return TypeFilter::Discrete;
    if (std::strcmp(type, "integrated-gpu") == 0) return TypeFilter::Integrated;
    if (std::strcmp(type, "virtual-gpu") == 0) return TypeFilter::Virtual;
    return TypeFilter::Invalid;
}

bool matches(TypeFilter f, VkPhysicalDeviceType t) {
    switch (f) {
    case TypeFilter::Any: return true;
    case TypeFilter::Cpu: return t == VK_PHYSICAL_DEVICE_TYPE_CPU;
    case TypeFilter::Gpu: return t == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU || t == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
    case TypeFilter::Discrete: return t == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
    case TypeFilter::Integrated: return t == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
    case TypeFilter::Virtual: return t == VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU;
    case TypeFilter::Invalid: return false;
    }
    return false;
}

DeviceChoice none(const char *fmt, const char *a, const char *b = "") {
    DeviceChoice c;
    c.index = -1;
    std::snprintf(c.reason, sizeof(c.reason), fmt, a, b);
    return c;
}

}  // namespace

const char *device_type_name(VkPhysicalDeviceType type) {
    switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete-gpu";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated-gpu";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual-gpu";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

DeviceChoice choose_physical_device(const DeviceCandidate *candidates, size_t count, const char *type,
                                    const char *index) {
    TypeFilter filter = parse_type(type);
    if (filter == TypeFilter::Invalid) {
        return none("HL_VK_DEVICE_TYPE=\"%s\" is not one of cpu, gpu, discrete-gpu, integrated-gpu, virtual-gpu%s",
                    type);
    }
    if (count == 0) {
        return none("the Vulkan loader reports no physical devices%s%s", "", "");
    }
    if (index != nullptr && *index != '\0') {
        char *end = nullptr;
        errno = 0;
        long i = std::strtol(index, &end, 10);
        if (errno != 0 || end == index || *end != '\0' || i < 0) {
            return none("HL_VK_DEVICE_INDEX=\"%s\" is not a non-negative integer%s", index);
        }
        if (static_cast<size_t>(i) >= count) {
            char n[32];
            std::snprintf(n, sizeof(n), "%zu", count);
            return none("HL_VK_DEVICE_INDEX=%s is out of range: the loader reports %s device(s)", index, n);
        }
        const DeviceCandidate &d = candidates[i];
        if (!matches(filter, d.type)) {
            return none("device HL_VK_DEVICE_INDEX=%s is not of HL_VK_DEVICE_TYPE=%s", index, type);
        }
        if (!d.has_compute_queue) {
            return none("device HL_VK_DEVICE_INDEX=%s (%s) has no compute queue", index, d.name);
        }
        DeviceChoice c;
        c.index = static_cast<int>(i);
        std::snprintf(c.reason, sizeof(c.reason), "chosen by HL_VK_DEVICE_INDEX=%s", index);
        return c;
    }
    int best = -1;
    for (size_t i = 0; i < count; i++) {
        const DeviceCandidate &d = candidates[i];
        if (!d.has_compute_queue || !matches(filter, d.type)) {
            continue;
        }
        // Within "gpu", prefer a discrete device as the default order does.
        if (best < 0 || default_rank(d.type) < default_rank(candidates[best].type)) {
            best = static_cast<int>(i);
        }
    }
    if (best < 0) {
        if (filter == TypeFilter::Any) {
            return none("no Vulkan device has a compute queue%s%s", "", "");
        }
        return none("no Vulkan device of HL_VK_DEVICE_TYPE=%s with a compute queue%s", type);
    }
    DeviceChoice c;
    c.index = best;
    if (filter == TypeFilter::Any) {
        std::snprintf(c.reason, sizeof(c.reason),
                      "default preference (discrete, integrated, virtual GPU, then CPU): first %s device with a compute queue",
                      device_type_name(candidates[best].type));
    } else {
        std::snprintf(c.reason, sizeof(c.reason), "first device matching HL_VK_DEVICE_TYPE=%s", type);
    }
    return c;
}

}  // namespace hvk
