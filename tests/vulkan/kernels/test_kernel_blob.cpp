// The kernel blob decoder (pure, no GPU): the fixture blobs and the
// project's own test blobs decode; every kind of bad input is a clear
// error; every truncation and random corruption of real blobs is handled
// without a crash or an over-read (run under ASan/valgrind to be sure).
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "vulkan/kernels/kernel_blob.h"
#include "kernel_test_util.h"
#include "test_kernel_blobs.h"

namespace {

using namespace ktest;

struct Decoded {
    int rc;
    std::string error;
};

// Decoded blobs point into their bytes: keep every decoded copy alive.
std::vector<std::unique_ptr<std::vector<uint8_t>>> g_keep;

Decoded decode(const std::vector<uint8_t> &blob, hvk::DecodedBlob *out = nullptr) {
    hvk::DecodedBlob local;
    char err[512];
    // Exact-size heap copy so any over-read is caught by ASan/valgrind.
    std::vector<uint8_t> scratch;
    std::vector<uint8_t> &copy = out != nullptr ? *g_keep.emplace_back(new std::vector<uint8_t>(blob)) : scratch;
    if (out == nullptr) {
        scratch = blob;
    }
    int rc = hvk::decode_kernel_blob(copy.empty() ? nullptr : copy.data(), copy.size(), nullptr,
                                     out != nullptr ? out : &local, err, sizeof(err));
    return {rc, err};
}

Kernel simple_kernel(const std::string &name = "kernel_f") {
    Kernel k;
    k.entry = name;
    k.uniform = 1;
    k.storage = 2;
    k.spirv = fake_spirv();
    return k;
}

TEST(KernelBlob, FixtureBlobsDecode) {
    for (const char *name : kFixtureNames) {
        SCOPED_TRACE(name);
        std::vector<uint8_t> blob = fixture_blob(name);
        ASSERT_FALSE(blob.empty()) << "missing " << data_dir() << "/" << name << ".blob";
        hvk::DecodedBlob d;
        Decoded r = decode(blob, &d);
        ASSERT_EQ(r.rc, 0) << r.error;
        EXPECT_GE(d.module_count(), 1u);
        EXPECT_EQ(d.entry_count(), d.module_count());
        for (uint32_t m = 0; m < d.module_count(); m++) {
            const hvk::BlobModule &mod = d.module(m);
            EXPECT_STREQ(mod.name, mod.entries[0].name);
            EXPECT_EQ(mod.entries[0].uniform_count, 1u);
            EXPECT_GE(mod.entries[0].storage_count, 2u);
            EXPECT_EQ(mod.spirv_bytes % 4, 0u);
            uint32_t magic;
            std::memcpy(&magic, mod.spirv, 4);
            EXPECT_EQ(magic, 0x07230203u);
        }
    }
}

TEST(KernelBlob, FixtureDetails) {
    hvk::DecodedBlob d;
    ASSERT_EQ(decode(fixture_blob("blur3x3_u16"), &d).rc, 0);
    ASSERT_EQ(d.entry_count(), 1u);
    const hvk::BlobEntryPoint &e = d.entry(0);
    EXPECT_STREQ(e.name, "_kernel_output_s0_y_yo_block_id_y");
    EXPECT_EQ(e.storage_count, 2u);
    ASSERT_EQ(e.spec_count, 1u);
    EXPECT_EQ(e.specs[0].id, 1u);
    EXPECT_EQ(e.specs[0].size, 4u);
    ASSERT_EQ(e.shared_count, 1u);
    EXPECT_EQ(e.shared[0].spec_id, 1u);
    EXPECT_EQ(e.shared[0].element_size, 4u);
    EXPECT_EQ(e.shared[0].array_length, 16u);
    EXPECT_EQ(e.local_size_ids[0], 0u);

    hvk::DecodedBlob t;
    ASSERT_EQ(decode(fixture_blob("two_stage"), &t).rc, 0);
    ASSERT_EQ(t.module_count(), 2u);
    EXPECT_STREQ(t.entry(0).name, "_kernel_stage1_s0_y_yo_block_id_y");
    EXPECT_STREQ(t.entry(1).name, "_kernel_out_s0_y_yo_block_id_y");
    EXPECT_EQ(t.entry(1).module, 1u);

    hvk::DecodedBlob s;
    ASSERT_EQ(decode(fixture_blob("saxpy"), &s).rc, 0);
    EXPECT_EQ(s.entry(0).storage_count, 3u);
}

TEST(KernelBlob, ProjectBlobsDecode) {
    struct {
        const unsigned char *data;
        size_t size;
        uint32_t modules;
    } blobs[] = {{hvk_blob_basic, hvk_blob_basic_size, 5},
                 {hvk_blob_types, hvk_blob_types_size, 3},
                 {hvk_blob_dynamic, hvk_blob_dynamic_size, 1},
                 {hvk_blob_legacy, hvk_blob_legacy_size, 2}};
    for (const auto &b : blobs) {
        hvk::DecodedBlob d;
        Decoded r = decode(std::vector<uint8_t>(b.data, b.data + b.size), &d);
        ASSERT_EQ(r.rc, 0) << r.error;
        EXPECT_EQ(d.module_count(), b.modules);
    }
    hvk::DecodedBlob d;
    ASSERT_EQ(decode(std::vector<uint8_t>(hvk_blob_dynamic, hvk_blob_dynamic + hvk_blob_dynamic_size), &d).rc, 0);
    EXPECT_EQ(d.entry(0).local_size_ids[0], 1u);
    EXPECT_EQ(d.entry(0).local_size_ids[2], 3u);
}

TEST(KernelBlob, WorkedExampleOfSpec) {
    // Spec 04 §4.11: one kernel "kernel_f", U=1, B=2, static workgroup.
    std::vector<uint8_t> blob = build_blob({simple_kernel()});
    Words w(blob.size() / 4);
    std::memcpy(w.data(), blob.data(), blob.size());
    EXPECT_EQ(w[0], 1u);
    EXPECT_EQ(w[2], 3u);
    EXPECT_EQ(w[6], 13u);  // H
    EXPECT_EQ(w[7], 1u);   // D
    EXPECT_EQ(w[19], 0x07230203u);
    EXPECT_EQ(w[1], 52u + 4u * uint32_t(fake_spirv().size()));
    hvk::DecodedBlob d;
    Decoded r = decode(blob, &d);
    ASSERT_EQ(r.rc, 0) << r.error;
    EXPECT_STREQ(d.entry(0).name, "kernel_f");
    EXPECT_EQ(d.module(0).spirv_bytes, fake_spirv().size() * 4);
}

TEST(KernelBlob, UnalignedBlob) {
    std::vector<uint8_t> blob = fixture_blob("saxpy");
    std::vector<uint8_t> shifted(blob.size() + 1);
    std::memcpy(shifted.data() + 1, blob.data(), blob.size());
    hvk::DecodedBlob d;
    char err[256];
    EXPECT_EQ(hvk::decode_kernel_blob(shifted.data() + 1, blob.size(), nullptr, &d, err, sizeof(err)), 0) << err;
}

// Mutators of the words of a one-kernel blob built from simple_kernel().
struct BadCase {
    const char *what;
    std::vector<uint8_t> blob;
    const char *expect;  // substring of the error message
};

std::vector<BadCase> bad_cases() {
    std::vector<BadCase> cases;
    auto words_of = [](const std::vector<uint8_t> &b) {
        Words w(b.size() / 4);
        std::memcpy(w.data(), b.data(), w.size() * 4);
        return w;
    };
    const std::vector<uint8_t> good = build_blob({simple_kernel()});
    const Words gw = words_of(good);
    auto with = [&](size_t index, uint32_t value) {
        Words w = gw;
        w[index] = value;
        return to_bytes(w);
    };
    // Word indices in the good blob: 0 K, 1 S0, 2 name len, 3-5 name,
    // 6 H, 7 D, 8 entry len, 9-11 entry, 12 U, 13 B, 14 C, 15 M, 16-18 ids.
    cases.push_back({"empty", {}, "no blob"});
    cases.push_back({"3 bytes", {1, 0, 0}, "too small"});
    cases.push_back({"zero modules", to_bytes({0}), "0 kernel modules"});
    cases.push_back({"huge module count", with(0, 0xffffffffu), "cannot hold"});
    cases.push_back({"module size not multiple of 4", with(1, gw[1] + 2), "multiple of 4"});
    cases.push_back({"module size past end", with(1, gw[1] + 4), "truncated"});
    cases.push_back({"module size smaller (trailing bytes)", with(1, gw[1] - 4), "unexpected bytes"});
    cases.push_back({"name length 0", with(2, 0), "length 0"});
    cases.push_back({"name length past end", with(2, 100000), "exceeds"});
    {
        Words w = gw;
        w[5] = 0x41414141u;  // "kernel_f" + "AAAA": no NUL in 3 words
        cases.push_back({"kernel name without NUL", to_bytes(w), "not NUL-terminated"});
    }
    cases.push_back({"H < 2", with(6, 1), "less than 2"});
    cases.push_back({"H past module", with(6, 1000), "exceeds the module"});
    cases.push_back({"H eats SPIR-V", with(6, gw[6] + 2), "header length"});
    cases.push_back({"D = 0", with(7, 0), "0 entry points"});
    cases.push_back({"D huge", with(7, 5000), "cannot hold"});
    cases.push_back({"entry name past header", with(8, 200), "exceeds"});
    {
        Words w = gw;
        w[11] = 0x42424242u;
        cases.push_back({"entry name without NUL", to_bytes(w), "not NUL-terminated"});
    }
    {
        Words w = gw;
        w[9] = 0;  // first byte NUL: empty name
        cases.push_back({"empty entry name", to_bytes(w), "empty name"});
    }
    cases.push_back({"U = 2", with(12, 2), "uniform buffers"});
    cases.push_back({"C huge", with(14, 1000), "do not fit"});
    cases.push_back({"M huge", with(15, 1000), "do not fit"});
    cases.push_back({"local ids partial", with(16, 1), "neither all 0 nor all set"});
    {
        Words w = gw;
        w[19] = 0x03022307u;
        cases.push_back({"swapped SPIR-V", to_bytes(w), "byte order"});
    }
    cases.push_back({"bad SPIR-V magic", with(19, 0x12345678u), "magic"});
    {
        Kernel k = simple_kernel();
        k.spirv = Words{0x07230203u, 0x00010000u};
        cases.push_back({"SPIR-V shorter than header", build_blob({k}), "shorter than a SPIR-V header"});
    }
    {
        Words w = gw;
        w.push_back(0);
        cases.push_back({"trailing bytes", to_bytes(w), "unexpected bytes"});
    }
    {
        std::vector<uint8_t> b = good;
        b.pop_back();
        cases.push_back({"size not multiple of 4", b, "truncated"});
    }
    cases.push_back({"duplicate entry points", build_blob({simple_kernel("dup"), simple_kernel("dup")}),
                     "duplicate entry point"});
    {
        Kernel k = simple_kernel();
        k.specs = {{"c", 1, 8}};
        cases.push_back({"constant of 8 bytes", build_blob({k}), "4-byte"});
    }
    {
        Kernel k = simple_kernel();
        k.specs = {{"c", 0}};
        cases.push_back({"constant id 0", build_blob({k}), "id 0"});
    }
    {
        Kernel k = simple_kernel();
        k.specs = {{"c", 2}, {"d", 2}};
        cases.push_back({"duplicate constant id", build_blob({k}), "declared twice"});
    }
    {
        Kernel k = simple_kernel();
        k.local_ids[0] = 1;
        k.local_ids[1] = 2;
        k.local_ids[2] = 3;
        cases.push_back({"workgroup ids undeclared", build_blob({k}), "not among"});
    }
    {
        Kernel k = simple_kernel();
        k.shared = {{"s", 4, 4, 16}};
        cases.push_back({"shared id undeclared", build_blob({k}), "not declared"});
    }
    {
        Kernel k = simple_kernel();
        k.shared = {{"s", 0, 0, 16}};
        cases.push_back({"shared element size 0", build_blob({k}), "element size 0"});
    }
    return cases;
}

TEST(KernelBlob, BadInputTable) {
    for (const BadCase &c : bad_cases()) {
        SCOPED_TRACE(c.what);
        Decoded r = decode(c.blob);
        EXPECT_EQ(r.rc, -1);
        EXPECT_NE(r.error.find(c.expect), std::string::npos) << "message: " << r.error;
    }
}

TEST(KernelBlob, EveryTruncationOfFixturesFails) {
    for (const char *name : kFixtureNames) {
        std::vector<uint8_t> blob = fixture_blob(name);
        ASSERT_FALSE(blob.empty());
        for (size_t n = 0; n < blob.size(); n++) {
            Decoded r = decode(std::vector<uint8_t>(blob.begin(), blob.begin() + long(n)));
            ASSERT_EQ(r.rc, -1) << name << " truncated to " << n << " bytes decoded";
            ASSERT_FALSE(r.error.empty());
        }
    }
}

TEST(KernelBlob, RandomCorruptionNeverCrashes) {
    std::mt19937 rng(1234);
    int rejected = 0, accepted = 0;
    for (const char *name : kFixtureNames) {
        const std::vector<uint8_t> blob = fixture_blob(name);
        // Corrupt only the tables and headers (first 256 bytes of each module
        // area) where it matters, plus anywhere at random.
        for (int iter = 0; iter < 400; iter++) {
            std::vector<uint8_t> b = blob;
            const int flips = 1 + int(rng() % 3);
            for (int f = 0; f < flips; f++) {
                const size_t limit = (iter % 2 == 0) ? std::min<size_t>(b.size(), 256) : b.size();
                const size_t pos = rng() % limit;
                const uint32_t kind = rng() % 3;
                if (kind == 0) {
                    b[pos] ^= uint8_t(1u << (rng() % 8));
                } else if (kind == 1) {
                    b[pos] = 0xff;
                } else {
                    b[pos] = 0;
                }
            }
            Decoded r = decode(b);
            (r.rc == 0 ? accepted : rejected)++;
        }
    }
    EXPECT_GT(rejected, 0);
    std::printf("random corruptions: %d rejected, %d accepted (harmless bytes)\n", rejected, accepted);
}

}  // namespace
