// Helpers for the kernel tests: building kernel blobs word by word (so bad
// blobs can be made precisely), loading the fixture blobs from tests/data,
// and editing SPIR-V.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace ktest {

using Words = std::vector<uint32_t>;

// Encodes a string as spec 04 §4.4: the word count, then floor(L/4)+1 words.
inline Words encode_string(const std::string &s) {
    const size_t n = s.size() / 4 + 1;
    Words w(n + 1, 0);
    w[0] = uint32_t(n);
    std::memcpy(&w[1], s.data(), s.size());
    return w;
}

inline void append(Words &dst, const Words &src) {
    dst.insert(dst.end(), src.begin(), src.end());
}

struct SpecConst {
    std::string name;
    uint32_t id;
    uint32_t size = 4;
};
struct SharedAlloc {
    std::string name;
    uint32_t spec_id;
    uint32_t element_size;
    uint32_t length;
};
struct Kernel {
    std::string entry;
    Words spirv;
    uint32_t uniform = 1;
    uint32_t storage = 0;
    std::vector<SpecConst> specs;
    std::vector<SharedAlloc> shared;
    uint32_t local_ids[3] = {0, 0, 0};
};

// The kernel module (header + SPIR-V) words.
inline Words encode_module(const Kernel &k) {
    Words rec = encode_string(k.entry);
    rec.push_back(k.uniform);
    rec.push_back(k.storage);
    rec.push_back(uint32_t(k.specs.size()));
    for (const SpecConst &s : k.specs) {
        append(rec, encode_string(s.name));
        rec.push_back(s.id);
        rec.push_back(s.size);
    }
    rec.push_back(uint32_t(k.shared.size()));
    for (const SharedAlloc &s : k.shared) {
        append(rec, encode_string(s.name));
        rec.push_back(s.spec_id);
        rec.push_back(s.element_size);
        rec.push_back(s.length);
    }
    rec.insert(rec.end(), k.local_ids, k.local_ids + 3);
    Words mod = {uint32_t(2 + rec.size()), 1};
    append(mod, rec);
    append(mod, k.spirv);
    return mod;
}

inline std::vector<uint8_t> to_bytes(const Words &w) {
    std::vector<uint8_t> b(w.size() * 4);
    std::memcpy(b.data(), w.data(), b.size());
    return b;
}

inline std::vector<uint8_t> build_blob(const std::vector<Kernel> &kernels) {
    std::vector<Words> mods;
    Words out = {uint32_t(kernels.size())};
    for (const Kernel &k : kernels) {
        mods.push_back(encode_module(k));
        out.push_back(uint32_t(mods.back().size() * 4));
        append(out, encode_string(k.entry));
    }
    for (const Words &m : mods) {
        append(out, m);
    }
    return to_bytes(out);
}

// A minimal valid-looking SPIR-V header plus padding (for decoder tests).
inline Words fake_spirv(size_t extra_words = 3) {
    Words w = {0x07230203u, 0x00010000u, 0, 16, 0};
    w.resize(5 + extra_words, 0);
    return w;
}

inline std::vector<uint8_t> read_file(const std::string &path) {
    std::vector<uint8_t> data;
    FILE *f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        return data;
    }
    uint8_t buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
        data.insert(data.end(), buf, buf + n);
    }
    std::fclose(f);
    return data;
}

inline std::string data_dir() {
    return HVK_TEST_DATA_DIR;
}

inline std::vector<uint8_t> fixture_blob(const char *name) {
    return read_file(data_dir() + "/" + name + ".blob");
}

inline const char *const kFixtureNames[] = {"blur3x3_u16", "brighten_u8", "offset_window",
                                            "saxpy",       "scale_f16",   "two_stage"};

// Kernel modules of a (valid) blob, split without the runtime's decoder:
// entry name and SPIR-V words of each.
struct RawModule {
    std::string entry;
    Words header;  // the metadata header words
    Words spirv;
};
inline std::vector<RawModule> split_blob(const std::vector<uint8_t> &blob) {
    std::vector<RawModule> out;
    Words w(blob.size() / 4);
    std::memcpy(w.data(), blob.data(), w.size() * 4);
    size_t p = 0;
    const uint32_t k = w[p++];
    std::vector<uint32_t> sizes;
    for (uint32_t i = 0; i < k; i++) {
        sizes.push_back(w[p++]);
        p += 1 + w[p];
    }
    for (uint32_t i = 0; i < k; i++) {
        const size_t words = sizes[i] / 4;
        const uint32_t h = w[p];
        RawModule m;
        m.header.assign(w.begin() + long(p), w.begin() + long(p + h));
        m.spirv.assign(w.begin() + long(p + h), w.begin() + long(p + words));
        // Entry name: after H, D, name length.
        const uint32_t nw = w[p + 2];
        m.entry = std::string(reinterpret_cast<const char *>(&w[p + 3]), nw * 4).c_str();
        out.push_back(m);
        p += words;
    }
    return out;
}

// Reassembles a blob from raw modules (headers kept as they are).
inline std::vector<uint8_t> join_blob(const std::vector<RawModule> &mods) {
    Words out = {uint32_t(mods.size())};
    for (const RawModule &m : mods) {
        out.push_back(uint32_t((m.header.size() + m.spirv.size()) * 4));
        append(out, encode_string(m.entry));
    }
    for (const RawModule &m : mods) {
        append(out, m.header);
        append(out, m.spirv);
    }
    return to_bytes(out);
}

// SPIR-V editing: removes every instruction for which `drop` returns true.
template <typename F>
Words filter_spirv(const Words &in, F drop) {
    Words out(in.begin(), in.begin() + 5);
    for (size_t i = 5; i < in.size();) {
        const uint32_t n = in[i] >> 16;
        if (n == 0) {
            break;
        }
        Words inst(in.begin() + long(i), in.begin() + long(i + n));
        if (!drop(inst)) {
            append(out, inst);
        }
        i += n;
    }
    return out;
}

inline std::string literal(const Words &inst, size_t first) {
    std::string s;
    for (size_t i = first; i < inst.size(); i++) {
        for (int b = 0; b < 4; b++) {
            const char c = char((inst[i] >> (8 * b)) & 0xff);
            if (c == 0) {
                return s;
            }
            s.push_back(c);
        }
    }
    return s;
}

constexpr uint32_t kOpExtension = 10;
constexpr uint32_t kOpEntryPoint = 15;
constexpr uint32_t kOpCapability = 17;

}  // namespace ktest
