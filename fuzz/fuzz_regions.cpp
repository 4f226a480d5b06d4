// Fuzz target B: region-table operations driven by the input bytes, checked
// against a shadow model.
//
// The input is a program: a sequence of operations on 8 buffer slots
// (device_malloc, crop, slice, wrap of one of the target's own VkBuffers or
// of a runtime-owned VkBuffer, detach, device_free, release_crop, uploads,
// downloads, device-to-device and device-to-host copies, reallocation,
// stale and foreign handles, handle queries, sync, trimming the cache).
// The model predicts every return code exactly (or, for a few
// shape-mismatch cases, that the call fails) and the contents of every
// byte of device memory the program has written: downloads must match it,
// and the target's own VkBuffers (host-visible, coherent, mapped) are
// compared with it directly. Lifetime rules are those of region_table.h:
// an Owned root freed while crops or wraps of its VkBuffer live keeps its
// memory for them; a Wrapped root with live crops cannot be freed or
// detached; handles are never reused.
//
// Each input starts from an empty table and ends by releasing everything;
// then no region may be left (region_stats, halide_vk_get_memory_stats) and
// the runtime's host allocation count must be back at its value after the
// first input. The Vulkan context is created once per process.
//
// Needs a Vulkan device: run with VK_DRIVER_FILES pointing at lavapipe's
// ICD manifest (fuzz/run.sh does). Validation layers are optional
// (HL_VK_LAYERS); without them an input costs well under a millisecond.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "vulkan/context/context_scope.h"
#include "vulkan/context/device.h"
#include "halide_vk_runtime.h"
#include "vulkan/util/host_alloc.h"
#include "vulkan/memory/region_table.h"

#define FUZZ_CHECK(cond, ...)                                                 \
    do {                                                                      \
        if (!(cond)) {                                                        \
            std::fprintf(stderr, "fuzz_regions: check failed: %s: ", #cond);  \
            std::fprintf(stderr, __VA_ARGS__);                                \
            std::fprintf(stderr, "\n");                                       \
            std::abort();                                                     \
        }                                                                     \
    } while (0)

namespace {

constexpr int kSlots = 8;
constexpr int kForeign = 2;
constexpr VkDeviceSize kForeignBytes = 4096;
constexpr int kMaxOps = 96;

const halide_device_interface_t *vk() {
    return halide_vulkan_device_interface();
}

// ---------------------------------------------------------------------------
// Input reader: bytes past the end read as 0.

struct Reader {
    const uint8_t *p;
    size_t n;
    uint8_t byte() {
        if (n == 0) {
            return 0;
        }
        n--;
        return *p++;
    }
    uint32_t u16() { return uint32_t(byte()) | (uint32_t(byte()) << 8); }
};

// ---------------------------------------------------------------------------
// Model.

struct Mem {
    std::vector<uint8_t> val;
    std::vector<uint8_t> known;
    VkBuffer buffer = VK_NULL_HANDLE;  // the VkBuffer this memory is (byte 0 = VkBuffer byte 0)
    int foreign = -1;                  // index of the target's own VkBuffer, or -1
    explicit Mem(size_t n) : val(n, 0), known(n, 0) {}
};

enum class Kind { Empty, Owned, Crop, Wrapped };

struct Slot {
    Kind kind = Kind::Empty;
    halide_buffer_t b{};
    halide_dimension_t dim[2] = {};
    std::vector<uint8_t> host;
    std::shared_ptr<Mem> mem;
    uint64_t base = 0;      // device byte 0 of this buffer inside mem
    int root_id = 0;        // the root region it views (itself for roots)
    Kind root_kind = Kind::Empty;
};

struct Foreign {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    uint8_t *map = nullptr;
    VkDeviceSize size = 0;  // vkGetBufferMemoryRequirements size (what wrap checks against)
};

struct World {
    bool ready = false;
    Foreign foreign[kForeign];
    uint64_t host_baseline = 0;
    int inputs = 0;
};
World g_world;

// FUZZ_REGIONS_TRACE=1: print each operation (for reading a reproducer).
bool trace() {
    static const bool on = [] {
        const char *v = std::getenv("FUZZ_REGIONS_TRACE");
        return v != nullptr && v[0] == '1';
    }();
    return on;
}

int elem_bytes(const Slot &s) {
    return s.b.type.bytes();
}

uint64_t span_bytes(const Slot &s) {
    int64_t last = 0;
    for (int i = 0; i < s.b.dimensions; i++) {
        last += int64_t(s.dim[i].extent - 1) * s.dim[i].stride;
    }
    return uint64_t(last + 1) * uint64_t(elem_bytes(s));
}

// Calls f(byte offset from device byte 0, coordinates) for each element.
template <typename F>
void for_each_element(const Slot &s, F f) {
    const int e = elem_bytes(s);
    if (s.b.dimensions == 0) {
        int c[2] = {0, 0};
        f(uint64_t(0), c);
        return;
    }
    const int e1 = s.b.dimensions > 1 ? s.dim[1].extent : 1;
    for (int y = 0; y < e1; y++) {
        for (int x = 0; x < s.dim[0].extent; x++) {
            int64_t off = int64_t(x) * s.dim[0].stride;
            if (s.b.dimensions > 1) {
                off += int64_t(y) * s.dim[1].stride;
            }
            int c[2] = {s.dim[0].min + x, s.b.dimensions > 1 ? s.dim[1].min + y : 0};
            f(uint64_t(off) * uint64_t(e), c);
        }
    }
}

// Byte offset of the element at coordinates c inside s (relative to its device byte 0).
uint64_t offset_of(const Slot &s, const int c[2]) {
    int64_t off = 0;
    for (int i = 0; i < s.b.dimensions; i++) {
        off += int64_t(c[i] - s.dim[i].min) * s.dim[i].stride;
    }
    return uint64_t(off) * uint64_t(elem_bytes(s));
}

bool contains(const Slot &s, const int c[2]) {
    for (int i = 0; i < s.b.dimensions; i++) {
        if (c[i] < s.dim[i].min || c[i] >= s.dim[i].min + s.dim[i].extent) {
            return false;
        }
    }
    return true;
}

void set_host_pointer(Slot &s) {
    s.host.assign(size_t(span_bytes(s)), 0);
    s.b.host = s.host.data();
    s.b.dim = s.b.dimensions > 0 ? s.dim : nullptr;
}

// A random dense-or-padded shape with non-negative strides.
void gen_shape(Reader &r, Slot &s) {
    const uint8_t a = r.byte();
    const uint8_t bx = r.byte();
    const uint8_t by = r.byte();
    static const uint8_t kBits[3] = {8, 16, 32};
    s.b = halide_buffer_t{};
    s.b.type = halide_type_t(halide_type_uint, kBits[a % 3], 1);
    s.b.dimensions = 1 + ((a >> 2) & 1);
    s.dim[0] = halide_dimension_t{int8_t(a) >> 4, 1 + bx % 40, 1, 0};
    const int pad = (by >> 4) & 3;
    s.dim[1] = halide_dimension_t{(by >> 6) - 1, 1 + by % 6, s.dim[0].extent + pad, 0};
    set_host_pointer(s);
}

int g_next_root = 1;
std::vector<uint64_t> g_stale;

void remember_stale(uint64_t h) {
    if (g_stale.size() < 32) {
        g_stale.push_back(h);
    }
}

int live_crops_of(const Slot *slots, int root_id) {
    int n = 0;
    for (int i = 0; i < kSlots; i++) {
        if (slots[i].kind == Kind::Crop && slots[i].root_id == root_id) {
            n++;
        }
    }
    return n;
}

void clear_slot(Slot &s) {
    s.kind = Kind::Empty;
    s.mem.reset();
    s.b.device = 0;
    s.b.device_interface = nullptr;
    s.root_id = 0;
    s.root_kind = Kind::Empty;
}

// Checks every known byte of the target's VkBuffers against their memory.
void check_foreign(const std::shared_ptr<Mem> *foreign_mem) {
    FUZZ_CHECK(halide_vulkan_device_sync(nullptr, nullptr) == 0, "device_sync failed");
    for (int k = 0; k < kForeign; k++) {
        const Mem &m = *foreign_mem[k];
        for (size_t i = 0; i < m.val.size(); i++) {
            if (m.known[i]) {
                FUZZ_CHECK(g_world.foreign[k].map[i] == m.val[i], "VkBuffer %d byte %zu: %u, model %u", k, i,
                           g_world.foreign[k].map[i], m.val[i]);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// One-time setup: the context and two VkBuffers of our own.

void quiet_error(void *, const char *) {}

bool setup_world() {
    if (g_world.ready) {
        return true;
    }
    hvk::ContextScope scope(nullptr, "fuzz_regions");
    FUZZ_CHECK(scope.ok() && scope.device() != nullptr,
               "no Vulkan context (set VK_DRIVER_FILES to lavapipe's ICD manifest)");
    hvk::Device *d = scope.device();
    std::lock_guard<std::recursive_mutex> lock(d->mutex);
    for (Foreign &f : g_world.foreign) {
        VkBufferCreateInfo info{};
        info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
        info.size = kForeignBytes;
        info.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
                     VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
        info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
        FUZZ_CHECK(d->vk.vkCreateBuffer(d->device, &info, nullptr, &f.buffer) == VK_SUCCESS, "vkCreateBuffer");
        VkMemoryRequirements req{};
        d->vk.vkGetBufferMemoryRequirements(d->device, f.buffer, &req);
        f.size = req.size;
        const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        uint32_t type = UINT32_MAX;
        for (uint32_t i = 0; i < d->memory_properties.memoryTypeCount && type == UINT32_MAX; i++) {
            if ((req.memoryTypeBits & (1u << i)) && (d->memory_properties.memoryTypes[i].propertyFlags & want) == want) {
                type = i;
            }
        }
        FUZZ_CHECK(type != UINT32_MAX, "no host-visible coherent memory type");
        VkMemoryAllocateInfo ai{};
        ai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
        ai.allocationSize = req.size;
        ai.memoryTypeIndex = type;
        FUZZ_CHECK(d->vk.vkAllocateMemory(d->device, &ai, nullptr, &f.memory) == VK_SUCCESS, "vkAllocateMemory");
        FUZZ_CHECK(d->vk.vkBindBufferMemory(d->device, f.buffer, f.memory, 0) == VK_SUCCESS, "vkBindBufferMemory");
        void *p = nullptr;
        FUZZ_CHECK(d->vk.vkMapMemory(d->device, f.memory, 0, VK_WHOLE_SIZE, 0, &p) == VK_SUCCESS, "vkMapMemory");
        f.map = static_cast<uint8_t *>(p);
    }
    g_world.ready = true;
    return true;
}

}  // namespace

// Destroys the target's VkBuffers (the corpus replay test calls it before
// the context is released).
extern "C" void hvk_fuzz_cleanup() {
    if (!g_world.ready) {
        return;
    }
    hvk::ContextScope scope(nullptr, "fuzz_regions");
    if (scope.ok() && scope.device() != nullptr) {
        hvk::Device *d = scope.device();
        std::lock_guard<std::recursive_mutex> lock(d->mutex);
        d->vk.vkDeviceWaitIdle(d->device);
        for (Foreign &f : g_world.foreign) {
            d->vk.vkDestroyBuffer(d->device, f.buffer, nullptr);
            d->vk.vkFreeMemory(d->device, f.memory, nullptr);
            f = Foreign{};
        }
    }
    g_world.ready = false;
}

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    halide_set_error_handler(quiet_error);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup_world();
    Reader r{data, size};
    Slot slots[kSlots];
    std::shared_ptr<Mem> foreign_mem[kForeign];
    for (int k = 0; k < kForeign; k++) {
        foreign_mem[k] = std::make_shared<Mem>(size_t(g_world.foreign[k].size));
        foreign_mem[k]->buffer = g_world.foreign[k].buffer;
        foreign_mem[k]->foreign = k;
        std::memset(g_world.foreign[k].map, 0, size_t(g_world.foreign[k].size));
        std::fill(foreign_mem[k]->known.begin(), foreign_mem[k]->known.end(), 1);
    }
    g_stale.clear();
    // Half the inputs run with allocation reuse off (frees go straight back to the arena).
    const bool reuse = (r.byte() & 1) == 0;
    halide_reuse_device_allocations(nullptr, reuse);

    for (int op_index = 0; op_index < kMaxOps && r.n > 0; op_index++) {
        const uint8_t op = r.byte();
        Slot &s = slots[(op >> 4) & 7];
        Slot &t = slots[r.byte() & 7];
        if (trace()) {
            std::fprintf(stderr, "op %d: %d on slot %d (kind %d), other slot %d (kind %d)\n", op_index, op % 16,
                         int(&s - slots), int(s.kind), int(&t - slots), int(t.kind));
        }
        switch (op % 16) {
        case 0:    // device_malloc of a new buffer
        case 1: {
            if (s.kind != Kind::Empty) {
                break;
            }
            gen_shape(r, s);
            const int rc = (op & 0x80) ? halide_device_malloc(nullptr, &s.b, vk())
                                       : halide_vulkan_device_malloc(nullptr, &s.b);
            FUZZ_CHECK(rc == 0, "device_malloc returned %d", rc);
            FUZZ_CHECK(s.b.device != 0 && s.b.device_interface == vk(), "malloc left no handle");
            s.kind = Kind::Owned;
            s.mem = std::make_shared<Mem>(size_t(span_bytes(s)));
            s.mem->buffer = reinterpret_cast<VkBuffer>(halide_vulkan_get_vk_buffer(nullptr, &s.b));
            FUZZ_CHECK(s.mem->buffer != VK_NULL_HANDLE, "no VkBuffer");
            s.base = 0;
            s.root_id = g_next_root++;
            s.root_kind = Kind::Owned;
            break;
        }
        case 2: {  // upload
            if (s.kind == Kind::Empty && (elem_bytes(s) == 0 || s.b.host == nullptr)) {
                const int rc = halide_vulkan_copy_to_device(nullptr, &s.b);
                FUZZ_CHECK(rc != 0, "copy_to_device of a buffer without a shape succeeded");
                break;
            }
            const uint8_t seed = r.byte();
            for (size_t i = 0; i < s.host.size(); i++) {
                s.host[i] = uint8_t(seed + i * 7 + (i >> 5));
            }
            const bool allocates = s.kind == Kind::Empty;  // as Halide: copy_to_device allocates first
            const int rc = halide_vulkan_copy_to_device(nullptr, &s.b);
            FUZZ_CHECK(rc == 0, "copy_to_device returned %d", rc);
            if (allocates) {
                FUZZ_CHECK(s.b.device != 0 && s.b.device_interface == vk(), "copy_to_device did not allocate");
                s.kind = Kind::Owned;
                s.mem = std::make_shared<Mem>(size_t(span_bytes(s)));
                s.mem->buffer = reinterpret_cast<VkBuffer>(halide_vulkan_get_vk_buffer(nullptr, &s.b));
                s.base = 0;
                s.root_id = g_next_root++;
                s.root_kind = Kind::Owned;
            }
            const int e = elem_bytes(s);
            for_each_element(s, [&](uint64_t off, const int *) {
                for (int k = 0; k < e; k++) {
                    s.mem->val[size_t(s.base + off + k)] = s.host[size_t(off + k)];
                    s.mem->known[size_t(s.base + off + k)] = 1;
                }
            });
            break;
        }
        case 3: {  // download
            if (s.kind == Kind::Empty) {
                break;
            }
            std::fill(s.host.begin(), s.host.end(), uint8_t(0xCD));
            const int rc = halide_vulkan_copy_to_host(nullptr, &s.b);
            FUZZ_CHECK(rc == 0, "copy_to_host returned %d", rc);
            const int e = elem_bytes(s);
            for_each_element(s, [&](uint64_t off, const int *c) {
                for (int k = 0; k < e; k++) {
                    const size_t m = size_t(s.base + off + k);
                    if (s.mem->known[m]) {
                        FUZZ_CHECK(s.host[size_t(off + k)] == s.mem->val[m],
                                   "download: element (%d,%d) byte %d is %u, model %u", c[0], c[1], k,
                                   s.host[size_t(off + k)], s.mem->val[m]);
                    }
                }
            });
            break;
        }
        case 4: {  // crop of t into s
            if (s.kind != Kind::Empty || &s == &t) {
                break;
            }
            const uint8_t a = r.byte(), b = r.byte();
            Slot c;
            c.b = t.b;
            c.b.device = 0;
            c.b.device_interface = nullptr;
            std::memcpy(c.dim, t.dim, sizeof(c.dim));
            bool inside = t.kind != Kind::Empty;
            const uint8_t ab[2] = {a, b};
            for (int i = 0; i < c.b.dimensions; i++) {
                const int ext = t.dim[i].extent;
                const int lo = ab[i] % (ext + 1) - ((ab[i] & 0x80) ? 1 : 0);  // -1 .. ext
                int n = 1 + (ab[i] >> 3) % ext;
                if (lo + n > ext) {
                    n = (ab[i] & 0x40) ? n : ext - lo;  // mostly inside
                }
                if (n < 1) {
                    n = 1;
                }
                c.dim[i].min = t.dim[i].min + lo;
                c.dim[i].extent = n;
                inside = inside && lo >= 0 && lo + n <= ext;
            }
            set_host_pointer(c);
            const int rc = halide_vulkan_device_crop(nullptr, &t.b, &c.b);
            if (!inside) {
                FUZZ_CHECK(rc == -41, "out-of-range crop returned %d", rc);
                FUZZ_CHECK(c.b.device == 0, "failed crop left a handle");
                break;
            }
            FUZZ_CHECK(rc == 0, "crop returned %d", rc);
            int zero[2] = {c.dim[0].min, c.b.dimensions > 1 ? c.dim[1].min : 0};
            s.b = c.b;
            std::memcpy(s.dim, c.dim, sizeof(s.dim));
            s.host = std::move(c.host);
            s.b.host = s.host.data();
            s.b.dim = s.dim;
            s.kind = Kind::Crop;
            s.mem = t.mem;
            s.base = t.base + offset_of(t, zero);
            s.root_id = t.root_id;
            s.root_kind = t.root_kind;
            break;
        }
        case 5: {  // slice of t into s
            if (s.kind != Kind::Empty || &s == &t || t.b.dimensions == 0) {
                break;
            }
            const uint8_t a = r.byte();
            const int dim = a & 1;
            if (dim >= t.b.dimensions) {
                break;
            }
            const int ext = t.dim[dim].extent;
            const int lo = int((a >> 1) % (ext + 2)) - 1;  // -1 .. ext
            const int pos = t.dim[dim].min + lo;
            const bool ok = t.kind != Kind::Empty && lo >= 0 && lo < ext;
            Slot c;
            c.b = t.b;
            c.b.device = 0;
            c.b.device_interface = nullptr;
            c.b.dimensions = t.b.dimensions - 1;
            if (c.b.dimensions == 1) {
                c.dim[0] = t.dim[1 - dim];
            }
            set_host_pointer(c);
            const int rc = halide_vulkan_device_slice(nullptr, &t.b, dim, pos, &c.b);
            if (!ok) {
                FUZZ_CHECK(rc == -41, "bad slice returned %d", rc);
                break;
            }
            FUZZ_CHECK(rc == 0, "slice returned %d", rc);
            s.b = c.b;
            std::memcpy(s.dim, c.dim, sizeof(s.dim));
            s.host = std::move(c.host);
            s.b.host = s.host.data();
            s.b.dim = s.b.dimensions > 0 ? s.dim : nullptr;
            s.kind = Kind::Crop;
            s.mem = t.mem;
            s.base = t.base + uint64_t(int64_t(lo) * t.dim[dim].stride) * uint64_t(elem_bytes(t));
            s.root_id = t.root_id;
            s.root_kind = t.root_kind;
            break;
        }
        case 6: {  // wrap one of our VkBuffers
            if (s.kind != Kind::Empty) {
                break;
            }
            gen_shape(r, s);
            const int k = r.byte() & 1;
            const uint64_t offset = uint64_t(r.u16()) % (kForeignBytes + 256);
            const uint64_t span = span_bytes(s);
            const bool fits = offset + span <= g_world.foreign[k].size;
            const int rc = halide_vulkan_wrap_vk_buffer(nullptr, &s.b, uint64_t(uintptr_t(g_world.foreign[k].buffer)),
                                                        offset);
            if (!fits) {
                FUZZ_CHECK(rc == -32, "wrap past the end returned %d", rc);
                FUZZ_CHECK(s.b.device == 0, "failed wrap left a handle");
                break;
            }
            FUZZ_CHECK(rc == 0, "wrap returned %d", rc);
            s.kind = Kind::Wrapped;
            s.mem = foreign_mem[k];
            s.base = offset;
            s.root_id = g_next_root++;
            s.root_kind = Kind::Wrapped;
            break;
        }
        case 7: {  // wrap the VkBuffer of a runtime-owned buffer t
            if (s.kind != Kind::Empty || t.kind != Kind::Owned) {
                break;
            }
            const uint64_t vb = halide_vulkan_get_vk_buffer(nullptr, &t.b);
            FUZZ_CHECK(vb == uint64_t(uintptr_t(t.mem->buffer)), "get_vk_buffer of an owned buffer changed");
            gen_shape(r, s);
            const uint64_t span = span_bytes(s);
            const uint64_t owner = span_bytes(t);
            if (span > owner) {
                clear_slot(s);
                break;
            }
            const uint64_t offset = uint64_t(r.byte()) % (owner - span + 1);
            const int rc = halide_vulkan_wrap_vk_buffer(nullptr, &s.b, vb, offset);
            FUZZ_CHECK(rc == 0, "wrap of a runtime-owned VkBuffer returned %d", rc);
            s.kind = Kind::Wrapped;
            s.mem = t.mem;
            s.base = offset;
            s.root_id = g_next_root++;
            s.root_kind = Kind::Wrapped;
            break;
        }
        case 8: {  // device_free
            const uint64_t h = s.b.device;
            int want = 0;
            if (s.kind == Kind::Wrapped && live_crops_of(slots, s.root_id) > 0) {
                want = -18;
            }
            const int rc = halide_vulkan_device_free(nullptr, &s.b);
            FUZZ_CHECK(rc == want, "device_free of kind %d returned %d, expected %d", int(s.kind), rc, want);
            if (rc == 0 && s.kind != Kind::Empty) {
                remember_stale(h);
                clear_slot(s);
            }
            break;
        }
        case 9: {  // release_crop
            const uint64_t h = s.b.device;
            int want = 0;
            if (s.kind == Kind::Wrapped && live_crops_of(slots, s.root_id) > 0) {
                want = -22;
            }
            const int rc = halide_vulkan_device_release_crop(nullptr, &s.b);
            FUZZ_CHECK(rc == want, "release_crop of kind %d returned %d, expected %d", int(s.kind), rc, want);
            if (rc == 0 && s.kind != Kind::Empty) {
                remember_stale(h);
                clear_slot(s);
            }
            break;
        }
        case 10: {  // detach
            const uint64_t h = s.b.device;
            int want = 0;
            if (s.kind == Kind::Owned || (s.kind == Kind::Crop && s.root_kind == Kind::Owned) ||
                (s.kind == Kind::Wrapped && live_crops_of(slots, s.root_id) > 0)) {
                want = -33;
            }
            const int rc = halide_vulkan_detach_vk_buffer(nullptr, &s.b);
            FUZZ_CHECK(rc == want, "detach of kind %d (root kind %d) returned %d, expected %d", int(s.kind),
                       int(s.root_kind), rc, want);
            if (rc == 0 && s.kind != Kind::Empty) {
                remember_stale(h);
                clear_slot(s);
            }
            break;
        }
        case 11: {  // device -> device copy t -> s
            if (s.kind == Kind::Empty || t.kind == Kind::Empty) {
                break;
            }
            const bool compatible = s.b.dimensions == t.b.dimensions && elem_bytes(s) == elem_bytes(t);
            const int rc = halide_vulkan_buffer_copy(nullptr, &t.b, vk(), &s.b);
            if (!compatible) {
                FUZZ_CHECK(rc != 0, "copy between incompatible shapes succeeded");
                break;
            }
            FUZZ_CHECK(rc == 0, "buffer_copy device->device returned %d", rc);
            const int e = elem_bytes(s);
            struct Write {
                size_t at;
                uint8_t v, k;
            };
            std::vector<Write> writes;
            for_each_element(s, [&](uint64_t off, const int *c) {
                if (!contains(t, c)) {
                    return;
                }
                const uint64_t from = t.base + offset_of(t, c);
                for (int k = 0; k < e; k++) {
                    writes.push_back(Write{size_t(s.base + off + k), t.mem->val[size_t(from + k)],
                                           t.mem->known[size_t(from + k)]});
                }
            });
            for (const Write &w : writes) {
                s.mem->val[w.at] = w.v;
                s.mem->known[w.at] = w.k;
            }
            break;
        }
        case 12: {  // device -> host copy of t into s's host memory
            if (t.kind == Kind::Empty || s.b.dimensions != t.b.dimensions || s.host.empty()) {
                break;
            }
            std::fill(s.host.begin(), s.host.end(), uint8_t(0xA5));
            const int rc = halide_vulkan_buffer_copy(nullptr, &t.b, nullptr, &s.b);
            if (elem_bytes(s) != elem_bytes(t)) {
                FUZZ_CHECK(rc != 0, "copy between element sizes succeeded");
                break;
            }
            FUZZ_CHECK(rc == 0, "buffer_copy device->host returned %d", rc);
            const int e = elem_bytes(s);
            for_each_element(s, [&](uint64_t off, const int *c) {
                for (int k = 0; k < e; k++) {
                    const uint8_t got = s.host[size_t(off + k)];
                    if (!contains(t, c)) {
                        FUZZ_CHECK(got == 0xA5, "device->host copy wrote outside the intersection");
                        continue;
                    }
                    const size_t m = size_t(t.base + offset_of(t, c) + k);
                    if (t.mem->known[m]) {
                        FUZZ_CHECK(got == t.mem->val[m], "device->host copy: (%d,%d) byte %d is %u, model %u", c[0],
                                   c[1], k, got, t.mem->val[m]);
                    }
                }
            });
            break;
        }
        case 13: {  // stale or foreign handles: every entry point must refuse them
            uint64_t h;
            const uint8_t a = r.byte();
            if ((a & 1) && !g_stale.empty()) {
                h = g_stale[(a >> 1) % g_stale.size()];
            } else {
                h = uint64_t(r.u16()) << 40 | uint64_t(r.u16()) << 8 | r.byte();
                if (h == 0) {
                    h = 1;
                }
            }
            bool live = false;
            for (const Slot &x : slots) {
                live = live || (x.kind != Kind::Empty && x.b.device == h);
            }
            if (live) {
                break;  // the fuzzer guessed a live handle: nothing to test
            }
            halide_dimension_t dim = {0, 4, 1, 0};
            uint8_t host[4] = {};
            halide_buffer_t x{};
            x.type = halide_type_t(halide_type_uint, 8, 1);
            x.dimensions = 1;
            x.dim = &dim;
            x.host = host;
            x.device = h;
            x.device_interface = vk();
            int rc = 0;
            switch ((a >> 2) % 8) {
            case 0: rc = halide_vulkan_device_free(nullptr, &x); FUZZ_CHECK(rc == -18, "free: %d", rc); break;
            case 1: rc = halide_vulkan_device_release_crop(nullptr, &x); FUZZ_CHECK(rc == -22, "release_crop: %d", rc); break;
            case 2: rc = halide_vulkan_detach_vk_buffer(nullptr, &x); FUZZ_CHECK(rc == -33, "detach: %d", rc); break;
            case 3: FUZZ_CHECK(halide_vulkan_get_vk_buffer(nullptr, &x) == 0, "get_vk_buffer of a dead handle"); break;
            case 4: FUZZ_CHECK(halide_vulkan_get_vk_crop_offset(nullptr, &x) == 0, "crop offset of a dead handle"); break;
            case 5: rc = halide_vulkan_copy_to_host(nullptr, &x); FUZZ_CHECK(rc != 0, "copy_to_host of a dead handle"); break;
            case 6: rc = halide_vulkan_copy_to_device(nullptr, &x); FUZZ_CHECK(rc != 0, "copy_to_device of a dead handle"); break;
            default: {
                halide_dimension_t cd = {1, 2, 1, 0};
                halide_buffer_t c{};
                c.type = x.type;
                c.dimensions = 1;
                c.dim = &cd;
                rc = halide_vulkan_device_crop(nullptr, &x, &c);
                FUZZ_CHECK(rc == -41 && c.device == 0, "crop of a dead handle: %d", rc);
                break;
            }
            }
            FUZZ_CHECK(x.device == h, "a refused call changed buf->device");
            break;
        }
        case 14: {  // grow an owned buffer and device_malloc it again
            if (s.kind != Kind::Owned) {
                break;
            }
            const uint64_t old_span = span_bytes(s);
            const int grow = 1 + r.byte() % 64;
            s.dim[0].extent += grow;
            if (s.b.dimensions > 1) {
                s.dim[1].stride += grow;
            }
            const uint64_t span = span_bytes(s);
            std::vector<uint8_t> host(size_t(span), 0);
            s.host.swap(host);
            s.b.host = s.host.data();
            const uint64_t h = s.b.device;
            const int rc = halide_vulkan_device_malloc(nullptr, &s.b);
            FUZZ_CHECK(rc == 0, "device_malloc to grow returned %d", rc);
            const VkBuffer now = reinterpret_cast<VkBuffer>(halide_vulkan_get_vk_buffer(nullptr, &s.b));
            if (s.b.device != h) {
                // Reallocated: a new root; the old one lives on for its aliases.
                remember_stale(h);
                s.mem = std::make_shared<Mem>(size_t(span));
                s.mem->buffer = now;
                s.root_id = g_next_root++;
            } else {
                // Big enough already: same memory, same VkBuffer.
                FUZZ_CHECK(now == s.mem->buffer, "same handle, different VkBuffer");
                if (s.mem->val.size() < span) {
                    s.mem->val.resize(size_t(span), 0);
                    s.mem->known.resize(size_t(span), 0);
                }
            }
            (void)old_span;
            break;
        }
        default: {  // queries, sync, cache trim
            if (s.kind != Kind::Empty) {
                const uint64_t vb = halide_vulkan_get_vk_buffer(nullptr, &s.b);
                FUZZ_CHECK(vb == uint64_t(uintptr_t(s.mem->buffer)), "get_vk_buffer: wrong VkBuffer");
                const uint64_t off = halide_vulkan_get_vk_crop_offset(nullptr, &s.b);
                FUZZ_CHECK(off == s.base, "get_vk_crop_offset %llu, model %llu", (unsigned long long)off,
                           (unsigned long long)s.base);
            }
            if (op & 0x80) {
                FUZZ_CHECK(halide_vulkan_release_unused_device_allocations(nullptr) == 0, "release_unused");
            } else {
                check_foreign(foreign_mem);
            }
            break;
        }
        }
    }

    check_foreign(foreign_mem);
    // Release everything: crops first (wrapped roots refuse while they have crops).
    for (int pass = 0; pass < 2; pass++) {
        for (Slot &s : slots) {
            if (s.kind == Kind::Empty || (pass == 0 && s.kind != Kind::Crop)) {
                continue;
            }
            const int rc = s.kind == Kind::Wrapped ? halide_vulkan_detach_vk_buffer(nullptr, &s.b)
                                                   : halide_vulkan_device_free(nullptr, &s.b);
            FUZZ_CHECK(rc == 0, "final release of kind %d returned %d", int(s.kind), rc);
            clear_slot(s);
        }
    }
    halide_reuse_device_allocations(nullptr, true);
    FUZZ_CHECK(halide_vulkan_release_unused_device_allocations(nullptr) == 0, "release_unused");
    halide_vk_memory_stats ms{};
    FUZZ_CHECK(halide_vk_get_memory_stats(nullptr, &ms) == 0, "memory stats");
    FUZZ_CHECK(ms.allocation_count == 0 && ms.allocated_bytes == 0 && ms.cached_free_bytes == 0,
               "%llu region(s) of %llu bytes left after releasing everything", (unsigned long long)ms.allocation_count,
               (unsigned long long)ms.allocated_bytes);
    const hvk::RegionStats rs = hvk::region_stats(nullptr);
    FUZZ_CHECK(rs.live_entries == 0, "%llu region table entries left", (unsigned long long)rs.live_entries);
    // The runtime's own host allocations: the first inputs create the lazily
    // made parts (staging, submitter, node pools); after that the count may
    // only move within a small bound (node pools), so a per-input leak shows
    // up as steady growth.
    const uint64_t live = hvk::host_alloc_stats().live_allocations;
    if (g_world.inputs++ < 16) {
        g_world.host_baseline = live > g_world.host_baseline ? live : g_world.host_baseline;
    } else {
        FUZZ_CHECK(live <= g_world.host_baseline + 64, "runtime host allocations grew from %llu to %llu",
                   (unsigned long long)g_world.host_baseline, (unsigned long long)live);
    }
    return 0;
}
