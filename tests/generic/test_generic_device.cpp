// Tests of the generic device layer against fake backends.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "HalideRuntime.h"
#include "generic/device_interface_impl.h"
#include "common/report.h"
#include "strided_buffer.h"

namespace {

std::vector<std::string> g_errors;
void capture_error(void *, const char *msg) {
    g_errors.emplace_back(msg ? msg : "(null)");
}
bool any_error_contains(const std::string &s) {
    for (const auto &e : g_errors) {
        if (e.find(s) != std::string::npos) {
            return true;
        }
    }
    return false;
}

// "Device memory" of all fakes: handle -> bytes (laid out like the buffer's
// span, starting at begin()).
std::map<uint64_t, std::vector<uint8_t>> g_device_memory;
uint64_t g_next_handle = 0x1000;

// A view of a buffer whose host pointer addresses its device memory.
halide_buffer_t device_view(const halide_buffer_t *buf) {
    halide_buffer_t v = *buf;
    std::vector<uint8_t> &mem = g_device_memory.at(buf->device);
    v.host = mem.data() - buf->begin_offset() * int64_t(buf->type.bytes());
    v.device = 0;
    v.device_interface = nullptr;
    v.flags = 0;
    return v;
}

struct FakeState {
    int use_module = 0, release_module = 0;
    int device_malloc = 0, device_free = 0, device_sync = 0, device_release = 0;
    int copy_to_host = 0, copy_to_device = 0, dh_malloc = 0, dh_free = 0, buffer_copy = 0;
    int crop = 0, slice = 0, release_crop = 0, wrap = 0, detach = 0;
    // Failure switches.
    bool fail_malloc = false, fail_free = false, fail_sync = false, fail_copy_to_host = false;
    bool fail_copy_to_device = false, fail_wrap = false, fail_detach = false, fail_crop = false;
    bool buffer_copy_unhandled = false;
    int sync_result = 0;
};

template<int N>
struct Fake {
    static FakeState s;
    static const halide_device_interface_impl_t impl;
    static const halide_device_interface_t iface;

    static void use_module() { s.use_module++; }
    static void release_module() { s.release_module++; }

    static int device_malloc(void *uc, halide_buffer_t *buf) {
        s.device_malloc++;
        if (s.fail_malloc) {
            return hvk::report_error(uc, -1, "fake_device_malloc", "fake allocation failure");
        }
        if (buf->device != 0) {
            return 0;  // already allocated (big enough)
        }
        buf->device = g_next_handle++;
        g_device_memory[buf->device].assign(buf->size_in_bytes(), 0);
        buf->device_interface = &iface;
        return 0;
    }
    static int device_free(void *uc, halide_buffer_t *buf) {
        s.device_free++;
        if (s.fail_free) {
            return hvk::report_error(uc, -1, "fake_device_free", "fake free failure");
        }
        g_device_memory.erase(buf->device);
        buf->device = 0;
        buf->device_interface = nullptr;
        return 0;
    }
    static int device_sync(void *uc, halide_buffer_t *) {
        s.device_sync++;
        if (s.fail_sync) {
            return hvk::report_error(uc, -1, "fake_device_sync", "fake sync failure");
        }
        return s.sync_result;
    }
    static int device_release(void *) {
        s.device_release++;
        return 0;
    }
    static int copy_to_host(void *uc, halide_buffer_t *buf) {
        s.copy_to_host++;
        if (s.fail_copy_to_host) {
            return hvk::report_error(uc, -1, "fake_copy_to_host", "fake download failure");
        }
        std::vector<uint8_t> &mem = g_device_memory.at(buf->device);
        std::memcpy(buf->begin(), mem.data(), mem.size());
        return 0;
    }
    static int copy_to_device(void *uc, halide_buffer_t *buf) {
        s.copy_to_device++;
        if (s.fail_copy_to_device) {
            return hvk::report_error(uc, -1, "fake_copy_to_device", "fake upload failure");
        }
        std::vector<uint8_t> &mem = g_device_memory.at(buf->device);
        std::memcpy(mem.data(), buf->begin(), mem.size());
        return 0;
    }
    static int dh_malloc(void *uc, halide_buffer_t *buf) {
        s.dh_malloc++;
        return halide_default_device_and_host_malloc(uc, buf, &iface);
    }
    static int dh_free(void *uc, halide_buffer_t *buf) {
        s.dh_free++;
        return halide_default_device_and_host_free(uc, buf, &iface);
    }
    // Handles copies whose source is valid on this device or on the host, to
    // this device or to host memory, by viewing device memory as host memory.
    static int buffer_copy(void *uc, halide_buffer_t *src, const halide_device_interface_t *dst_iface,
                           halide_buffer_t *dst) {
        s.buffer_copy++;
        if (s.buffer_copy_unhandled) {
            return -42;
        }
        if (dst_iface != nullptr && dst_iface != &iface) {
            return -42;
        }
        halide_buffer_t from;
        if (src->device_interface == &iface && !(src->host && src->host_dirty())) {
            from = device_view(src);
        } else if (src->host && !(src->device_dirty() && src->device_interface)) {
            from = *src;
            from.device = 0;
            from.device_interface = nullptr;
            from.flags = 0;
        } else {
            return -42;
        }
        halide_buffer_t to = dst_iface ? device_view(dst) : *dst;
        to.device = 0;
        to.device_interface = nullptr;
        to.flags = 0;
        return halide_buffer_copy_already_locked(uc, &from, nullptr, &to);
    }
    static int device_crop(void *uc, const halide_buffer_t *, halide_buffer_t *dst) {
        s.crop++;
        if (s.fail_crop) {
            return hvk::report_error(uc, -41, "fake_crop", "fake crop failure");
        }
        dst->device = 0xC0000 + uint64_t(s.crop);
        dst->device_interface = &iface;
        return 0;
    }
    static int device_slice(void *, const halide_buffer_t *, int, int, halide_buffer_t *dst) {
        s.slice++;
        dst->device = 0x50000 + uint64_t(s.slice);
        dst->device_interface = &iface;
        return 0;
    }
    static int device_release_crop(void *, halide_buffer_t *) {
        s.release_crop++;
        return 0;
    }
    static int wrap_native(void *uc, halide_buffer_t *buf, uint64_t handle) {
        s.wrap++;
        if (s.fail_wrap) {
            return hvk::report_error(uc, -32, "fake_wrap", "fake wrap failure");
        }
        buf->device = handle;
        return 0;
    }
    static int detach_native(void *uc, halide_buffer_t *buf) {
        s.detach++;
        if (s.fail_detach) {
            return hvk::report_error(uc, -33, "fake_detach", "fake detach failure");
        }
        buf->device = 0;
        buf->device_interface = nullptr;
        return 0;
    }
    static int compute_capability(void *, int *major, int *minor) {
        *major = 1;
        *minor = 0;
        return 0;
    }
};

template<int N>
FakeState Fake<N>::s;

template<int N>
const halide_device_interface_impl_t Fake<N>::impl = {
    &Fake<N>::use_module,   &Fake<N>::release_module, &Fake<N>::device_malloc,       &Fake<N>::device_free,
    &Fake<N>::device_sync,  &Fake<N>::device_release, &Fake<N>::copy_to_host,        &Fake<N>::copy_to_device,
    &Fake<N>::dh_malloc,    &Fake<N>::dh_free,        &Fake<N>::buffer_copy,         &Fake<N>::device_crop,
    &Fake<N>::device_slice, &Fake<N>::device_release_crop, &Fake<N>::wrap_native,   &Fake<N>::detach_native,
};

template<int N>
const halide_device_interface_t Fake<N>::iface = {
    halide_device_malloc,  halide_device_free,         halide_device_sync,         halide_device_release,
    halide_copy_to_host,   halide_copy_to_device,      halide_device_and_host_malloc, halide_device_and_host_free,
    halide_buffer_copy,    halide_device_crop,         halide_device_slice,        halide_device_release_crop,
    halide_device_wrap_native, halide_device_detach_native, &Fake<N>::compute_capability, &Fake<N>::impl,
};

using A = Fake<0>;
using B = Fake<1>;

using TestBuffer = hvk_test::StridedBuffer;

halide_type_t u8() {
    return halide_type_t(halide_type_uint, 8, 1);
}
halide_type_t i32() {
    return halide_type_t(halide_type_int, 32, 1);
}

void fill_pattern(TestBuffer &b, uint32_t seed) {
    std::mt19937 rng(seed);
    for (auto &x : b.storage) {
        x = uint8_t(rng());
    }
}

using hvk_test::for_each_coord;

class GenericDeviceTest : public ::testing::Test {
protected:
    void SetUp() override {
        g_errors.clear();
        prev_ = halide_set_error_handler(capture_error);
        A::s = FakeState{};
        B::s = FakeState{};
    }
    void TearDown() override {
        halide_set_error_handler(prev_);
    }
    halide_error_handler_t prev_ = nullptr;
};

TEST_F(GenericDeviceTest, InterfaceTablesHaveTheAbiLayout) {
    EXPECT_EQ(sizeof(halide_device_interface_impl_t), 128u);
    EXPECT_EQ(sizeof(halide_device_interface_t), 128u);
    EXPECT_EQ(sizeof(halide_device_allocation_pool), 16u);
}

TEST_F(GenericDeviceTest, RoundTripAndDirtyBits) {
    TestBuffer b(i32(), {0, 0}, {8, 4});
    for (int i = 0; i < 32; i++) {
        reinterpret_cast<int32_t *>(b.storage.data())[i] = i * 3;
    }
    b.buf.set_host_dirty(true);
    ASSERT_EQ(halide_copy_to_device(nullptr, &b.buf, &A::iface), 0);
    EXPECT_EQ(A::s.device_malloc, 1);
    EXPECT_EQ(A::s.copy_to_device, 1);
    EXPECT_NE(b.buf.device, 0u);
    EXPECT_EQ(b.buf.device_interface, &A::iface);
    EXPECT_FALSE(b.buf.host_dirty());
    EXPECT_FALSE(b.buf.device_dirty());

    // Not host-dirty: nothing copied; null interface means "the buffer's".
    ASSERT_EQ(halide_copy_to_device(nullptr, &b.buf, nullptr), 0);
    EXPECT_EQ(A::s.copy_to_device, 1);
    EXPECT_EQ(A::s.device_malloc, 1);

    // Not device-dirty: copy_to_host does not call the backend.
    ASSERT_EQ(halide_copy_to_host(nullptr, &b.buf), 0);
    EXPECT_EQ(A::s.copy_to_host, 0);

    // "Kernel" writes the device; mark device-dirty; read back.
    auto &mem = g_device_memory.at(b.buf.device);
    reinterpret_cast<int32_t *>(mem.data())[5] = 12345;
    b.buf.set_device_dirty(true);
    ASSERT_EQ(halide_copy_to_host(nullptr, &b.buf), 0);
    EXPECT_EQ(A::s.copy_to_host, 1);
    EXPECT_FALSE(b.buf.device_dirty());
    EXPECT_FALSE(b.buf.host_dirty());
    EXPECT_EQ(reinterpret_cast<int32_t *>(b.storage.data())[5], 12345);

    // Device-dirty buffers are left alone by copy_to_device.
    b.buf.set_device_dirty(true);
    ASSERT_EQ(halide_copy_to_device(nullptr, &b.buf, &A::iface), 0);
    EXPECT_EQ(A::s.copy_to_device, 1);
    EXPECT_TRUE(b.buf.device_dirty());

    // device_free clears device_dirty.
    ASSERT_EQ(halide_device_free(nullptr, &b.buf), 0);
    EXPECT_EQ(b.buf.device, 0u);
    EXPECT_EQ(b.buf.device_interface, nullptr);
    EXPECT_FALSE(b.buf.device_dirty());
    EXPECT_TRUE(g_errors.empty());
    EXPECT_EQ(A::s.use_module, A::s.release_module);
}

TEST_F(GenericDeviceTest, Validation) {
    // Null buffer: -38 with the routine's name.
    EXPECT_EQ(halide_device_malloc(nullptr, nullptr, &A::iface), -38);
    EXPECT_EQ(halide_device_free(nullptr, nullptr), -38);
    EXPECT_EQ(halide_device_sync(nullptr, nullptr), -38);
    EXPECT_EQ(halide_copy_to_host(nullptr, nullptr), -38);
    EXPECT_EQ(halide_copy_to_device(nullptr, nullptr, &A::iface), -38);
    EXPECT_EQ(halide_device_and_host_malloc(nullptr, nullptr, &A::iface), -38);
    EXPECT_EQ(halide_device_and_host_free(nullptr, nullptr), -38);
    EXPECT_EQ(halide_device_wrap_native(nullptr, nullptr, 1, &A::iface), -38);
    EXPECT_EQ(halide_device_detach_native(nullptr, nullptr), -38);
    EXPECT_EQ(halide_buffer_copy(nullptr, nullptr, nullptr, nullptr), -38);
    EXPECT_EQ(halide_device_crop(nullptr, nullptr, nullptr), -38);
    EXPECT_EQ(g_errors.size(), 11u);
    EXPECT_TRUE(any_error_contains("halide_copy_to_host"));
    EXPECT_TRUE(any_error_contains("halide_device_malloc"));

    TestBuffer b(u8(), {0}, {16});
    // device without interface
    b.buf.device = 77;
    EXPECT_EQ(halide_copy_to_host(nullptr, &b.buf), -19);
    EXPECT_EQ(halide_device_free(nullptr, &b.buf), -19);
    // interface without device
    b.buf.device = 0;
    b.buf.device_interface = &A::iface;
    EXPECT_EQ(halide_copy_to_device(nullptr, &b.buf, &A::iface), -36);
    EXPECT_EQ(halide_device_sync(nullptr, &b.buf), -36);
    // both dirty
    b.buf.device_interface = nullptr;
    b.buf.flags = halide_buffer_flag_host_dirty | halide_buffer_flag_device_dirty;
    EXPECT_EQ(halide_device_malloc(nullptr, &b.buf, &A::iface), -37);
    EXPECT_EQ(A::s.device_malloc, 0);
    // sync with no interface
    b.buf.flags = 0;
    EXPECT_EQ(halide_device_sync(nullptr, &b.buf), -19);
    // copy_to_device with no interface anywhere
    b.buf.set_host_dirty(true);
    EXPECT_EQ(halide_copy_to_device(nullptr, &b.buf, nullptr), -19);
    // User flag bits are preserved.
    b.buf.flags = 0x100 | halide_buffer_flag_host_dirty;
    ASSERT_EQ(halide_copy_to_device(nullptr, &b.buf, &A::iface), 0);
    EXPECT_EQ(b.buf.flags, 0x100u);
    ASSERT_EQ(halide_device_free(nullptr, &b.buf), 0);
}

TEST_F(GenericDeviceTest, BackendFailuresAreCollapsedAfterBeingReported) {
    TestBuffer b(u8(), {0}, {16});
    A::s.fail_malloc = true;
    EXPECT_EQ(halide_device_malloc(nullptr, &b.buf, &A::iface), -16);
    EXPECT_TRUE(any_error_contains("fake allocation failure"));
    b.buf.set_host_dirty(true);
    EXPECT_EQ(halide_copy_to_device(nullptr, &b.buf, &A::iface), -16);  // malloc error unchanged
    A::s.fail_malloc = false;

    g_errors.clear();
    A::s.fail_copy_to_device = true;
    EXPECT_EQ(halide_copy_to_device(nullptr, &b.buf, &A::iface), -15);
    EXPECT_TRUE(any_error_contains("fake upload failure"));
    EXPECT_TRUE(b.buf.host_dirty());  // unchanged on failure
    A::s.fail_copy_to_device = false;
    ASSERT_EQ(halide_copy_to_device(nullptr, &b.buf, &A::iface), 0);

    g_errors.clear();
    A::s.fail_copy_to_host = true;
    b.buf.set_device_dirty(true);
    EXPECT_EQ(halide_copy_to_host(nullptr, &b.buf), -14);
    ASSERT_EQ(g_errors.size(), 1u);
    EXPECT_NE(g_errors[0].find("fake download failure"), std::string::npos);
    EXPECT_TRUE(b.buf.device_dirty());
    A::s.fail_copy_to_host = false;
    b.buf.set_device_dirty(false);

    A::s.fail_sync = true;
    EXPECT_EQ(halide_device_sync(nullptr, &b.buf), -17);
    A::s.fail_sync = false;
    EXPECT_EQ(halide_device_sync(nullptr, &b.buf), 0);

    A::s.fail_free = true;
    EXPECT_EQ(halide_device_free(nullptr, &b.buf), -18);
    EXPECT_NE(b.buf.device, 0u);
    A::s.fail_free = false;
    EXPECT_EQ(halide_device_free(nullptr, &b.buf), 0);
    EXPECT_EQ(A::s.use_module, A::s.release_module);
}

TEST_F(GenericDeviceTest, InterfaceSwitchIsRejected) {
    TestBuffer b(u8(), {0}, {16});
    ASSERT_EQ(halide_device_malloc(nullptr, &b.buf, &A::iface), 0);
    EXPECT_EQ(halide_device_malloc(nullptr, &b.buf, &B::iface), -42);
    EXPECT_EQ(halide_copy_to_device(nullptr, &b.buf, &B::iface), -42);
    EXPECT_EQ(halide_device_and_host_malloc(nullptr, &b.buf, &B::iface), -42);
    EXPECT_EQ(halide_device_wrap_native(nullptr, &b.buf, 5, &B::iface), -42);
    EXPECT_EQ(B::s.device_malloc, 0);
    EXPECT_EQ(g_errors.size(), 4u);
    // Repeated malloc on the same interface is passed on and succeeds.
    uint64_t dev = b.buf.device;
    EXPECT_EQ(halide_device_malloc(nullptr, &b.buf, &A::iface), 0);
    EXPECT_EQ(b.buf.device, dev);
    EXPECT_EQ(A::s.device_malloc, 2);
    EXPECT_EQ(halide_device_free(nullptr, &b.buf), 0);
}

TEST_F(GenericDeviceTest, TwoStageSequence) {
    // spec 03 §3.6: the calls two_stage.o makes on its intermediate.
    TestBuffer in(u8(), {0}, {64});
    in.buf.set_host_dirty(true);
    halide_buffer_t mid{};
    halide_dimension_t mid_dim{0, 64, 1, 0};
    mid.type = u8();
    mid.dimensions = 1;
    mid.dim = &mid_dim;

    void *scratch = halide_malloc(nullptr, 0);
    ASSERT_NE(scratch, nullptr);
    EXPECT_EQ(halide_device_malloc(nullptr, &mid, &A::iface), 0);  // null host
    EXPECT_EQ(halide_copy_to_device(nullptr, &in.buf, &A::iface), 0);
    EXPECT_EQ(halide_device_malloc(nullptr, &mid, &A::iface), 0);  // again
    EXPECT_EQ(halide_copy_to_device(nullptr, &mid, &A::iface), 0);
    EXPECT_EQ(halide_device_free(nullptr, &mid), 0);
    halide_free(nullptr, scratch);
    halide_device_free_as_destructor(nullptr, &mid);  // device already 0
    EXPECT_EQ(halide_device_free(nullptr, &mid), 0);
    EXPECT_EQ(A::s.device_free, 1);
    EXPECT_EQ(halide_device_free(nullptr, &in.buf), 0);
    EXPECT_TRUE(g_errors.empty());
}

TEST_F(GenericDeviceTest, FreeOfUnallocatedBufferClearsDeviceDirty) {
    TestBuffer b(u8(), {0}, {4});
    b.buf.set_device_dirty(true);
    EXPECT_EQ(halide_device_free(nullptr, &b.buf), 0);
    EXPECT_FALSE(b.buf.device_dirty());
    EXPECT_EQ(A::s.device_free, 0);
}

TEST_F(GenericDeviceTest, DeviceAndHostMallocFree) {
    halide_buffer_t b{};
    halide_dimension_t d[2] = {{0, 10, 1, 0}, {0, 3, 10, 0}};
    b.type = i32();
    b.dimensions = 2;
    b.dim = d;
    ASSERT_EQ(halide_device_and_host_malloc(nullptr, &b, &A::iface), 0);
    EXPECT_EQ(A::s.dh_malloc, 1);
    EXPECT_NE(b.host, nullptr);
    EXPECT_NE(b.device, 0u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.host) % 128, 0u);
    b.set_host_dirty(true);
    ASSERT_EQ(halide_device_and_host_free(nullptr, &b), 0);
    EXPECT_EQ(A::s.dh_free, 1);
    EXPECT_EQ(b.host, nullptr);
    EXPECT_EQ(b.device, 0u);
    EXPECT_EQ(b.device_interface, nullptr);
    EXPECT_FALSE(b.host_dirty());
    EXPECT_FALSE(b.device_dirty());

    // Without an interface: frees host memory only.
    b.host = static_cast<uint8_t *>(halide_malloc(nullptr, 120));
    halide_device_and_host_free_as_destructor(nullptr, &b);
    EXPECT_EQ(b.host, nullptr);
    halide_device_host_nop_free(nullptr, &b);
    EXPECT_TRUE(g_errors.empty());
}

TEST_F(GenericDeviceTest, WrapAndDetach) {
    TestBuffer b(u8(), {0}, {4});
    A::s.fail_wrap = true;
    EXPECT_EQ(halide_device_wrap_native(nullptr, &b.buf, 0xabc, &A::iface), -16);
    EXPECT_TRUE(any_error_contains("fake wrap failure"));
    // Unlike Halide, the interface is restored so the buffer stays valid.
    EXPECT_EQ(b.buf.device_interface, nullptr);
    EXPECT_EQ(halide_device_free(nullptr, &b.buf), 0);
    A::s.fail_wrap = false;
    ASSERT_EQ(halide_device_wrap_native(nullptr, &b.buf, 0xabc, &A::iface), 0);
    EXPECT_EQ(b.buf.device, 0xabcu);
    EXPECT_EQ(b.buf.device_interface, &A::iface);
    A::s.fail_detach = true;
    EXPECT_EQ(halide_device_detach_native(nullptr, &b.buf), -33);
    A::s.fail_detach = false;
    EXPECT_EQ(halide_device_detach_native(nullptr, &b.buf), 0);
    EXPECT_EQ(b.buf.device, 0u);
    EXPECT_EQ(b.buf.device_interface, nullptr);
    EXPECT_EQ(halide_device_detach_native(nullptr, &b.buf), 0);  // no interface
    EXPECT_EQ(A::s.detach, 2);
}

TEST_F(GenericDeviceTest, SyncGlobalAndRelease) {
    EXPECT_EQ(halide_device_sync_global(nullptr, nullptr), -19);
    EXPECT_TRUE(g_errors.empty());
    A::s.sync_result = 7;
    EXPECT_EQ(halide_device_sync_global(nullptr, &A::iface), 7);  // unchanged
    A::s.sync_result = 0;
    EXPECT_EQ(halide_device_sync_global(nullptr, &A::iface), 0);
    halide_device_release(nullptr, &A::iface);
    EXPECT_EQ(A::s.device_release, 1);
    halide_device_release(nullptr, nullptr);  // ignored
}

TEST_F(GenericDeviceTest, CropSliceRelease) {
    TestBuffer parent(u8(), {0, 0}, {8, 8});
    TestBuffer crop(u8(), {2, 2}, {4, 4});
    // No device allocation: nothing to do.
    EXPECT_EQ(halide_device_crop(nullptr, &parent.buf, &crop.buf), 0);
    EXPECT_EQ(A::s.crop, 0);
    ASSERT_EQ(halide_device_malloc(nullptr, &parent.buf, &A::iface), 0);
    const int uses_before = A::s.use_module - A::s.release_module;

    ASSERT_EQ(halide_device_crop(nullptr, &parent.buf, &crop.buf), 0);
    EXPECT_EQ(A::s.crop, 1);
    EXPECT_NE(crop.buf.device, 0u);
    EXPECT_EQ(crop.buf.device_interface, &A::iface);
    EXPECT_EQ(A::s.use_module - A::s.release_module, uses_before + 1);
    // dst already has a device allocation
    EXPECT_EQ(halide_device_crop(nullptr, &parent.buf, &crop.buf), -41);
    ASSERT_EQ(halide_device_release_crop(nullptr, &crop.buf), 0);
    EXPECT_EQ(A::s.release_crop, 1);
    EXPECT_EQ(crop.buf.device, 0u);
    EXPECT_EQ(crop.buf.device_interface, nullptr);
    EXPECT_EQ(A::s.use_module - A::s.release_module, uses_before);
    EXPECT_EQ(halide_device_release_crop(nullptr, &crop.buf), 0);  // nothing to release
    EXPECT_EQ(A::s.release_crop, 1);

    // dimensionality mismatch
    TestBuffer one_d(u8(), {0}, {8});
    EXPECT_EQ(halide_device_crop(nullptr, &parent.buf, &one_d.buf), -41);
    ASSERT_EQ(halide_device_slice(nullptr, &parent.buf, 1, 3, &one_d.buf), 0);
    EXPECT_EQ(A::s.slice, 1);
    EXPECT_EQ(halide_device_release_crop(nullptr, &one_d.buf), 0);
    EXPECT_EQ(halide_device_slice(nullptr, &parent.buf, 1, 3, &crop.buf), -41);

    // A failing backend crop returns its code and does not leak a module use.
    A::s.fail_crop = true;
    EXPECT_EQ(halide_device_crop(nullptr, &parent.buf, &crop.buf), -41);
    EXPECT_EQ(A::s.use_module - A::s.release_module, uses_before);
    A::s.fail_crop = false;
    EXPECT_EQ(halide_device_free(nullptr, &parent.buf), 0);
}

TEST_F(GenericDeviceTest, DefaultHelpers) {
    TestBuffer b(u8(), {0}, {4});
    EXPECT_EQ(halide_default_buffer_copy(nullptr, &b.buf, nullptr, &b.buf), -39);
    EXPECT_EQ(halide_default_device_crop(nullptr, &b.buf, &b.buf), -40);
    EXPECT_EQ(halide_default_device_slice(nullptr, &b.buf, 0, 0, &b.buf), -40);
    EXPECT_EQ(halide_default_device_release_crop(nullptr, &b.buf), 0);
    b.buf.device_interface = &A::iface;
    EXPECT_EQ(halide_default_device_wrap_native(nullptr, &b.buf, 99), 0);
    EXPECT_EQ(b.buf.device, 99u);
    EXPECT_EQ(halide_default_device_release_crop(nullptr, &b.buf), -40);
    EXPECT_EQ(halide_default_device_wrap_native(nullptr, &b.buf, 98), -32);
    EXPECT_EQ(halide_default_device_detach_native(nullptr, &b.buf), 0);
    EXPECT_EQ(b.buf.device, 0u);
    EXPECT_EQ(b.buf.device_interface, nullptr);
}

// ---- halide_buffer_copy

// Checks dst against a reference: inside the overlap dst == src, elsewhere
// dst unchanged (== before).
void expect_copied(TestBuffer &src, TestBuffer &dst, const std::vector<uint8_t> &dst_before_storage,
                   TestBuffer &dst_before) {
    (void)dst_before_storage;
    const size_t n = dst.dims.size();
    const int elem = dst.buf.type.bytes();
    std::vector<int> mins, extents;
    for (size_t i = 0; i < n; i++) {
        mins.push_back(dst.dims[i].min);
        extents.push_back(dst.dims[i].extent);
    }
    int mismatches = 0;
    for_each_coord(mins, extents, [&](const std::vector<int> &pos) {
        bool inside = true;
        for (size_t i = 0; i < n; i++) {
            if (pos[i] < src.dims[i].min || pos[i] >= src.dims[i].min + src.dims[i].extent) {
                inside = false;
            }
        }
        const uint8_t *expect = inside ? src.at(pos) : dst_before.at(pos);
        if (std::memcmp(dst.at(pos), expect, size_t(elem)) != 0) {
            mismatches++;
        }
    });
    EXPECT_EQ(mismatches, 0);
}

TEST_F(GenericDeviceTest, HostToHostCopyMatchesReference) {
    struct Case {
        std::vector<int> smin, sext, sorder, ssign;
        int spad;
        std::vector<int> dmin, dext, dorder, dsign;
        int dpad;
        int bits;
    };
    std::vector<Case> cases = {
        // identical dense 2-D
        {{0, 0}, {16, 8}, {}, {}, 0, {0, 0}, {16, 8}, {}, {}, 0, 32},
        // dst is a crop of src's box
        {{0, 0}, {16, 8}, {}, {}, 0, {3, 2}, {5, 4}, {}, {}, 0, 8},
        // src is a crop inside dst
        {{4, 1}, {4, 3}, {}, {}, 2, {0, 0}, {16, 8}, {}, {}, 0, 16},
        // partial overlap, negative strides in src
        {{-3, 2}, {10, 9}, {}, {-1, 1}, 1, {0, 0}, {12, 6}, {}, {1, -1}, 0, 32},
        // transposed layouts, 3-D, negative strides, padding
        {{0, 0, 0}, {7, 5, 3}, {2, 0, 1}, {1, -1, 1}, 3, {1, -1, 0}, {6, 7, 3}, {0, 1, 2}, {-1, 1, -1}, 2, 8},
        // 64-bit elements, 4-D
        {{0, 0, 0, 0}, {3, 4, 2, 5}, {}, {}, 0, {1, 1, 0, 2}, {2, 3, 2, 2}, {3, 2, 1, 0}, {}, 0, 64},
        // no overlap at all
        {{0, 0}, {4, 4}, {}, {}, 0, {10, 10}, {4, 4}, {}, {}, 0, 8},
        // 1-D, reversed dst
        {{0}, {100}, {}, {}, 0, {5}, {50}, {}, {-1}, 0, 16},
    };
    int idx = 0;
    for (const Case &c : cases) {
        SCOPED_TRACE(idx++);
        halide_type_t t(halide_type_uint, uint8_t(c.bits), 1);
        TestBuffer src(t, c.smin, c.sext, c.sorder, c.ssign, c.spad);
        TestBuffer dst(t, c.dmin, c.dext, c.dorder, c.dsign, c.dpad);
        TestBuffer before(t, c.dmin, c.dext, c.dorder, c.dsign, c.dpad);
        fill_pattern(src, 1);
        fill_pattern(dst, 2);
        fill_pattern(before, 2);
        src.buf.set_host_dirty(true);
        ASSERT_EQ(halide_buffer_copy(nullptr, &src.buf, nullptr, &dst.buf), 0);
        expect_copied(src, dst, before.storage, before);
        EXPECT_TRUE(dst.buf.host_dirty());
        EXPECT_FALSE(dst.buf.device_dirty());
    }
    EXPECT_TRUE(g_errors.empty());
    EXPECT_EQ(A::s.buffer_copy, 0);
}

TEST_F(GenericDeviceTest, HostToHostCopyRejectsMismatchedShapes) {
    TestBuffer a(u8(), {0, 0}, {4, 4});
    TestBuffer b(u8(), {0}, {16});
    TestBuffer c(i32(), {0, 0}, {4, 4});
    EXPECT_EQ(halide_buffer_copy(nullptr, &a.buf, nullptr, &b.buf), -39);
    EXPECT_EQ(halide_buffer_copy(nullptr, &a.buf, nullptr, &c.buf), -39);
    EXPECT_FALSE(g_errors.empty());
}

TEST_F(GenericDeviceTest, BufferCopyDevicePaths) {
    TestBuffer src(i32(), {0, 0}, {8, 4});
    fill_pattern(src, 5);
    src.buf.set_host_dirty(true);
    // host -> device (A): direct through A's buffer_copy.
    TestBuffer dst(i32(), {0, 0}, {8, 4});
    ASSERT_EQ(halide_buffer_copy(nullptr, &src.buf, &A::iface, &dst.buf), 0);
    EXPECT_EQ(dst.buf.device_interface, &A::iface);
    EXPECT_TRUE(dst.buf.device_dirty());
    EXPECT_FALSE(dst.buf.host_dirty());
    ASSERT_EQ(halide_copy_to_host(nullptr, &dst.buf), 0);
    EXPECT_EQ(dst.storage, src.storage);

    // device (A) -> host of another buffer: through A's buffer_copy.
    TestBuffer dev(i32(), {0, 0}, {8, 4});
    fill_pattern(dev, 9);
    dev.buf.set_host_dirty(true);
    ASSERT_EQ(halide_copy_to_device(nullptr, &dev.buf, &A::iface), 0);
    std::vector<uint8_t> expected = dev.storage;
    std::fill(dev.storage.begin(), dev.storage.end(), 0);  // host copy stale
    dev.buf.set_device_dirty(true);
    TestBuffer out(i32(), {0, 0}, {8, 4});
    ASSERT_EQ(halide_buffer_copy(nullptr, &dev.buf, nullptr, &out.buf), 0);
    EXPECT_EQ(out.storage, expected);
    EXPECT_TRUE(out.buf.host_dirty());

    // Same, with the backend declining (-42): the generic layer copies the
    // source to its host first, then copies host to host.
    A::s.buffer_copy_unhandled = true;
    TestBuffer out2(i32(), {0, 0}, {8, 4});
    ASSERT_EQ(halide_buffer_copy(nullptr, &dev.buf, nullptr, &out2.buf), 0);
    EXPECT_EQ(out2.storage, expected);
    EXPECT_FALSE(dev.buf.device_dirty());  // source was brought to host
    A::s.buffer_copy_unhandled = false;

    // device (A) -> device (B) via dst host memory (B declines foreign src).
    dev.buf.set_device_dirty(true);
    std::fill(dev.storage.begin(), dev.storage.end(), 0);
    TestBuffer bdst(i32(), {0, 0}, {8, 4});
    ASSERT_EQ(halide_buffer_copy(nullptr, &dev.buf, &B::iface, &bdst.buf), 0);
    EXPECT_EQ(bdst.buf.device_interface, &B::iface);
    EXPECT_TRUE(bdst.buf.device_dirty());
    std::fill(bdst.storage.begin(), bdst.storage.end(), 0);
    ASSERT_EQ(halide_copy_to_host(nullptr, &bdst.buf), 0);
    EXPECT_EQ(bdst.storage, expected);

    // Destination host copy requested but dst has no host: -34.
    halide_buffer_t nohost = out.buf;
    nohost.host = nullptr;
    nohost.flags = 0;
    EXPECT_EQ(halide_buffer_copy(nullptr, &dev.buf, nullptr, &nohost), -34);

    // Neither side has host memory, different devices: -42.
    halide_buffer_t a_only{}, b_only{};
    halide_dimension_t d1{0, 16, 1, 0}, d2{0, 16, 1, 0};
    a_only.type = b_only.type = u8();
    a_only.dimensions = b_only.dimensions = 1;
    a_only.dim = &d1;
    b_only.dim = &d2;
    ASSERT_EQ(halide_device_malloc(nullptr, &a_only, &A::iface), 0);
    g_errors.clear();
    EXPECT_EQ(halide_buffer_copy(nullptr, &a_only, &B::iface, &b_only), -42);
    EXPECT_FALSE(g_errors.empty());
    // dst on A already, asked for B: -42.
    EXPECT_EQ(halide_buffer_copy(nullptr, &src.buf, &B::iface, &dst.buf), -42);

    for (halide_buffer_t *b : {&dst.buf, &dev.buf, &bdst.buf, &a_only, &b_only}) {
        EXPECT_EQ(halide_device_free(nullptr, b), 0);
    }
    EXPECT_EQ(A::s.use_module, A::s.release_module);
    EXPECT_EQ(B::s.use_module, B::s.release_module);
}

// ---- allocation reuse

int g_pool1_calls = 0, g_pool2_calls = 0;
int pool1_release(void *) {
    g_pool1_calls++;
    return 0;
}
int pool2_release(void *) {
    g_pool2_calls++;
    return -5;
}

TEST_F(GenericDeviceTest, ReuseFlagDrainsRegisteredPools) {
    EXPECT_TRUE(halide_can_reuse_device_allocations(nullptr));  // default
    static halide_device_allocation_pool p1{pool1_release, nullptr};
    static halide_device_allocation_pool p2{pool2_release, nullptr};
    halide_register_device_allocation_pool(&p1);
    halide_register_device_allocation_pool(&p2);
    halide_register_device_allocation_pool(&p1);  // repeat is ignored
    EXPECT_EQ(halide_reuse_device_allocations(nullptr, false), -5);
    EXPECT_FALSE(halide_can_reuse_device_allocations(nullptr));
    EXPECT_EQ(g_pool1_calls, 1);
    EXPECT_EQ(g_pool2_calls, 1);
    EXPECT_EQ(halide_reuse_device_allocations(nullptr, true), 0);
    EXPECT_TRUE(halide_can_reuse_device_allocations(nullptr));
    EXPECT_EQ(g_pool1_calls, 1);
    EXPECT_EQ(g_pool2_calls, 1);
}

}  // namespace
