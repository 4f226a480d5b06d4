#include "vulkan/kernels/kernel_blob.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>

#include "vulkan/util/host_alloc.h"

namespace hvk {
namespace {

constexpr uint32_t kSpirvMagic = 0x07230203u;
constexpr uint32_t kSpirvMagicSwapped = 0x03022307u;

// Reads words from a byte range; every read is checked against the end.
class WordReader {
public:
    WordReader(const uint8_t *begin, size_t bytes) : p_(begin), end_(begin + bytes) {}

    size_t remaining() const { return size_t(end_ - p_); }
    size_t remaining_words() const { return remaining() / 4; }
    const uint8_t *position() const { return p_; }

    bool read(uint32_t *out) {
        if (remaining() < 4) {
            return false;
        }
        std::memcpy(out, p_, 4);
        p_ += 4;
        return true;
    }
    bool skip_words(size_t n) {
        if (n > remaining_words()) {
            return false;
        }
        p_ += 4 * n;
        return true;
    }

private:
    const uint8_t *p_;
    const uint8_t *end_;
};

struct Counts {
    uint32_t modules = 0;
    uint32_t entries = 0;
    uint32_t specs = 0;
    uint32_t shared = 0;
};

// Two passes over the blob with the same code: the first (fill == false)
// validates everything and counts the records, the second fills arrays of
// exactly those sizes.
class Parser {
public:
    Parser(const uint8_t *blob, size_t size, char *error, size_t error_size)
        : blob_(blob), size_(size), error_(error), error_size_(error_size) {}

    BlobModule *modules = nullptr;
    BlobEntryPoint *entries = nullptr;
    BlobSpecConstant *specs = nullptr;
    BlobSharedAlloc *shared = nullptr;
    Counts counts;

    int run(bool fill);

private:
    int fail(const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    // Reads a name of `words` words; checks for a NUL inside it.
    int read_name(WordReader &r, const char *what, const char **out);

    // The outer table (run's steps, in order).
    int read_module_count(WordReader &r, uint32_t *k);
    int check_module_table(WordReader &r, uint32_t k);
    int parse_modules(WordReader table, WordReader &r, uint32_t k, bool fill);
    int check_unique_entry_names();

    // One kernel module (parse_module's steps, in order).
    int parse_module(uint32_t index, const uint8_t *bytes, size_t size, bool fill);
    int read_module_header(const uint8_t *bytes, size_t size, uint32_t *h, uint32_t *d);
    int parse_entry_point(WordReader &r, uint32_t index, uint32_t e, bool fill);
    int read_spec_constants(WordReader &r, uint32_t c, BlobEntryPoint *ep, bool fill);
    int read_shared_allocs(WordReader &r, BlobEntryPoint *ep, bool fill);
    int read_local_size_ids(WordReader &r, BlobEntryPoint *ep);
    int check_spec_references(const BlobEntryPoint &ep);
    int check_spirv_part(const uint8_t *spirv, size_t spirv_bytes);

    const uint8_t *blob_;
    size_t size_;
    char *error_;
    size_t error_size_;
    char context_[64] = "";
};

int Parser::fail(const char *fmt, ...) {
    if (error_ != nullptr && error_size_ > 0) {
        int n = std::snprintf(error_, error_size_, "%s", context_);
        size_t used = n > 0 ? size_t(n) : 0;
        if (used < error_size_) {
            va_list args;
            va_start(args, fmt);
            std::vsnprintf(error_ + used, error_size_ - used, fmt, args);
            va_end(args);
        }
    }
    return -1;
}

int Parser::read_name(WordReader &r, const char *what, const char **out) {
    uint32_t words = 0;
    if (!r.read(&words)) {
        return fail("truncated before the length of %s", what);
    }
    if (words == 0) {
        return fail("%s has length 0 words (a name always has a terminating NUL)", what);
    }
    if (words > r.remaining_words()) {
        return fail("%s length of %u words exceeds the %zu bytes left", what, words, r.remaining());
    }
    const char *name = reinterpret_cast<const char *>(r.position());
    if (std::memchr(name, 0, size_t(words) * 4) == nullptr) {
        return fail("%s is not NUL-terminated within its %u words", what, words);
    }
    r.skip_words(words);
    *out = name;
    return 0;
}

int Parser::run(bool fill) {
    counts = Counts{};
    context_[0] = '\0';
    if (blob_ == nullptr) {
        return fail("no blob (null pointer)");
    }
    if (size_ < 4) {
        return fail("blob of %zu bytes is too small to hold a kernel count", size_);
    }
    WordReader r(blob_, size_);
    uint32_t k = 0;
    if (int rc = read_module_count(r, &k)) {
        return rc;
    }
    const uint8_t *table = r.position();
    if (int rc = check_module_table(r, k)) {
        return rc;
    }
    if (int rc = parse_modules(WordReader(table, size_t(r.position() - table)), r, k, fill)) {
        return rc;
    }
    counts.modules = k;
    return fill ? check_unique_entry_names() : 0;
}

int Parser::read_module_count(WordReader &r, uint32_t *k) {
    r.read(k);  // run() checked that the blob holds 4 bytes
    if (*k == 0) {
        return fail("blob declares 0 kernel modules");
    }
    // Each table entry takes at least three words (size, length, one name word).
    if (size_t(*k) > r.remaining_words() / 3) {
        return fail("blob declares %u kernel modules but its %zu bytes cannot hold that many table entries", *k,
                    size_);
    }
    return 0;
}

// Checks the table's k entries (size, name) and that the modules' sizes add
// up to exactly the bytes after the table. Leaves `r` at the first module.
int Parser::check_module_table(WordReader &r, uint32_t k) {
    uint64_t total = 0;
    for (uint32_t i = 0; i < k; i++) {
        std::snprintf(context_, sizeof(context_), "kernel table entry %u: ", i);
        uint32_t bytes = 0;
        if (!r.read(&bytes)) {
            return fail("truncated before the module size");
        }
        if (bytes % 4 != 0) {
            return fail("module size %u bytes is not a multiple of 4", bytes);
        }
        const char *name = nullptr;
        if (int rc = read_name(r, "kernel name", &name)) {
            return rc;
        }
        total += bytes;
    }
    context_[0] = '\0';
    if (total > r.remaining()) {
        return fail("kernel modules need %llu bytes but only %zu bytes follow the table (blob truncated?)",
                    (unsigned long long)total, r.remaining());
    }
    if (total < r.remaining()) {
        return fail("%zu unexpected bytes after the last kernel module (blob size %zu, modules end at %llu)",
                    r.remaining() - size_t(total), size_, (unsigned long long)(size_ - (r.remaining() - total)));
    }
    return 0;
}

// Walks the (already checked) table again and parses each module it sizes;
// `r` advances over the modules.
int Parser::parse_modules(WordReader table, WordReader &r, uint32_t k, bool fill) {
    for (uint32_t i = 0; i < k; i++) {
        uint32_t bytes = 0;
        table.read(&bytes);
        const char *name = nullptr;
        read_name(table, "kernel name", &name);  // validated by check_module_table
        const uint8_t *mod = r.position();
        if (fill) {
            modules[i].name = name;
        }
        std::snprintf(context_, sizeof(context_), "kernel module %u: ", i);
        if (int rc = parse_module(i, mod, bytes, fill)) {
            return rc;
        }
        r.skip_words(bytes / 4);
    }
    context_[0] = '\0';
    return 0;
}

// Entry point names must be unique across the blob: run() finds kernels by name.
int Parser::check_unique_entry_names() {
    for (uint32_t a = 0; a < counts.entries; a++) {
        for (uint32_t b = a + 1; b < counts.entries; b++) {
            if (std::strcmp(entries[a].name, entries[b].name) == 0) {
                return fail("duplicate entry point name \"%s\" (kernel modules %u and %u)", entries[a].name,
                            entries[a].module, entries[b].module);
            }
        }
    }
    return 0;
}

int Parser::parse_module(uint32_t index, const uint8_t *bytes, size_t size, bool fill) {
    uint32_t h = 0, d = 0;
    if (int rc = read_module_header(bytes, size, &h, &d)) {
        return rc;
    }
    // Records are read within the header only.
    WordReader r(bytes + 8, size_t(h) * 4 - 8);
    // A record takes at least 9 words (name length + 1 name word, U, B, C, M, 3 ids).
    if (size_t(d) > r.remaining_words() / 9) {
        return fail("header declares %u entry points but its %u words cannot hold them", d, h);
    }
    const uint32_t first_entry = counts.entries;
    for (uint32_t e = 0; e < d; e++) {
        if (int rc = parse_entry_point(r, index, e, fill)) {
            return rc;
        }
    }
    if (r.remaining() != 0) {
        return fail("header length %u words but its records end after %zu words", h,
                    size_t(h) - r.remaining_words());
    }
    // SPIR-V: the rest of the module.
    const uint8_t *spirv = bytes + size_t(h) * 4;
    const size_t spirv_bytes = size - size_t(h) * 4;
    if (int rc = check_spirv_part(spirv, spirv_bytes)) {
        return rc;
    }
    if (fill) {
        BlobModule &mod = modules[index];
        mod.spirv = spirv;
        mod.spirv_bytes = spirv_bytes;
        mod.entry_count = d;
        mod.entries = entries + first_entry;
    }
    return 0;
}

// The module's first two words: header length `h` (words, including these
// two) and entry point count `d`.
int Parser::read_module_header(const uint8_t *bytes, size_t size, uint32_t *h, uint32_t *d) {
    if (size < 8) {
        return fail("module of %zu bytes cannot hold a header", size);
    }
    WordReader whole(bytes, size);
    whole.read(h);
    whole.read(d);
    if (*h < 2) {
        return fail("header length %u words is less than 2", *h);
    }
    if (uint64_t(*h) * 4 > size) {
        return fail("header length %u words exceeds the module's %zu bytes", *h, size);
    }
    if (*d == 0) {
        return fail("header describes 0 entry points");
    }
    return 0;
}

// One entry point record: name, U, B, C, C constants, M, M shared memory
// allocations, 3 workgroup size constant ids.
int Parser::parse_entry_point(WordReader &r, uint32_t index, uint32_t e, bool fill) {
    BlobEntryPoint ep{};
    ep.module = index;
    ep.descriptor_set = e;
    const char *name = nullptr;
    if (int rc = read_name(r, "entry point name", &name)) {
        return rc;
    }
    if (name[0] == '\0') {
        return fail("entry point %u has an empty name", e);
    }
    ep.name = name;
    uint32_t c = 0;
    if (!r.read(&ep.uniform_count) || !r.read(&ep.storage_count) || !r.read(&c)) {
        return fail("entry point \"%s\": header truncated in its buffer counts", name);
    }
    if (ep.uniform_count > 1) {
        return fail("entry point \"%s\": %u uniform buffers (Halide declares at most 1)", name, ep.uniform_count);
    }
    if (int rc = read_spec_constants(r, c, &ep, fill)) {
        return rc;
    }
    if (int rc = read_shared_allocs(r, &ep, fill)) {
        return rc;
    }
    if (int rc = read_local_size_ids(r, &ep)) {
        return rc;
    }
    if (fill) {
        if (int rc = check_spec_references(ep)) {
            return rc;
        }
        entries[counts.entries] = ep;
    }
    counts.entries++;
    return 0;
}

int Parser::read_spec_constants(WordReader &r, uint32_t c, BlobEntryPoint *ep, bool fill) {
    const char *name = ep->name;
    // Each constant record: name length, >= 1 name word, id, size.
    if (size_t(c) > r.remaining_words() / 4) {
        return fail("entry point \"%s\": %u specialization constants do not fit in the header", name, c);
    }
    ep->spec_count = c;
    BlobSpecConstant *my_specs = fill ? specs + counts.specs : nullptr;
    ep->specs = my_specs;
    for (uint32_t i = 0; i < c; i++) {
        BlobSpecConstant sc{};
        if (int rc = read_name(r, "specialization constant name", &sc.name)) {
            return rc;
        }
        if (!r.read(&sc.id) || !r.read(&sc.size)) {
            return fail("entry point \"%s\": header truncated in specialization constant %u", name, i);
        }
        if (sc.size != 4) {
            return fail("entry point \"%s\": specialization constant %u (id %u) has a %u-byte type; only 4-byte "
                        "constants are supported",
                        name, i, sc.id, sc.size);
        }
        if (sc.id == 0) {
            // Halide numbers from 1, and 0 means "none" elsewhere in the header.
            return fail("entry point \"%s\": specialization constant %u has id 0", name, i);
        }
        for (uint32_t j = 0; j < i; j++) {
            if (fill && my_specs[j].id == sc.id) {
                return fail("entry point \"%s\": specialization constant id %u declared twice", name, sc.id);
            }
        }
        if (fill) {
            my_specs[i] = sc;
        }
        counts.specs++;
    }
    return 0;
}

int Parser::read_shared_allocs(WordReader &r, BlobEntryPoint *ep, bool fill) {
    const char *name = ep->name;
    uint32_t m = 0;
    if (!r.read(&m)) {
        return fail("entry point \"%s\": header truncated before the shared memory count", name);
    }
    if (size_t(m) > r.remaining_words() / 5) {
        return fail("entry point \"%s\": %u shared memory allocations do not fit in the header", name, m);
    }
    ep->shared_count = m;
    BlobSharedAlloc *my_shared = fill ? shared + counts.shared : nullptr;
    ep->shared = my_shared;
    for (uint32_t i = 0; i < m; i++) {
        BlobSharedAlloc sa{};
        if (int rc = read_name(r, "shared memory name", &sa.name)) {
            return rc;
        }
        if (!r.read(&sa.spec_id) || !r.read(&sa.element_size) || !r.read(&sa.array_length)) {
            return fail("entry point \"%s\": header truncated in shared memory allocation %u", name, i);
        }
        if (sa.element_size == 0) {
            return fail("entry point \"%s\": shared memory allocation %u has element size 0", name, i);
        }
        if (fill) {
            my_shared[i] = sa;
        }
        counts.shared++;
    }
    return 0;
}

int Parser::read_local_size_ids(WordReader &r, BlobEntryPoint *ep) {
    for (uint32_t &id : ep->local_size_ids) {
        if (!r.read(&id)) {
            return fail("entry point \"%s\": header truncated in the workgroup size constant ids", ep->name);
        }
    }
    const bool any = ep->local_size_ids[0] | ep->local_size_ids[1] | ep->local_size_ids[2];
    const bool all = ep->local_size_ids[0] && ep->local_size_ids[1] && ep->local_size_ids[2];
    if (any && !all) {
        return fail("entry point \"%s\": workgroup size constant ids %u %u %u are neither all 0 nor all set",
                    ep->name, ep->local_size_ids[0], ep->local_size_ids[1], ep->local_size_ids[2]);
    }
    return 0;
}

// The spec ids that the workgroup size and shared memory refer to must be
// among the entry point's constants (second pass only: needs the filled
// records).
int Parser::check_spec_references(const BlobEntryPoint &ep) {
    auto declared = [&](uint32_t id) {
        for (uint32_t j = 0; j < ep.spec_count; j++) {
            if (ep.specs[j].id == id) {
                return true;
            }
        }
        return false;
    };
    for (uint32_t id : ep.local_size_ids) {
        if (id != 0 && !declared(id)) {
            return fail("entry point \"%s\": workgroup size constant id %u is not among its specialization "
                        "constants",
                        ep.name, id);
        }
    }
    for (uint32_t i = 0; i < ep.shared_count; i++) {
        if (ep.shared[i].spec_id != 0 && !declared(ep.shared[i].spec_id)) {
            return fail("entry point \"%s\": shared memory allocation %u refers to specialization constant "
                        "id %u, which is not declared",
                        ep.name, i, ep.shared[i].spec_id);
        }
    }
    return 0;
}

int Parser::check_spirv_part(const uint8_t *spirv, size_t spirv_bytes) {
    if (spirv_bytes < 20) {
        return fail("SPIR-V part of %zu bytes is shorter than a SPIR-V header (20 bytes)", spirv_bytes);
    }
    uint32_t magic = 0;
    std::memcpy(&magic, spirv, 4);
    if (magic != kSpirvMagic) {
        if (magic == kSpirvMagicSwapped) {
            return fail("SPIR-V is in the other byte order than this host");
        }
        return fail("SPIR-V part does not start with the SPIR-V magic number (found 0x%08x)", magic);
    }
    return 0;
}

}  // namespace

DecodedBlob::~DecodedBlob() {
    reset();
}

void DecodedBlob::reset() {
    host_free(callbacks_, storage_);
    storage_ = nullptr;
    module_count_ = entry_count_ = 0;
    modules_ = nullptr;
    entries_ = nullptr;
}

int decode_kernel_blob(const void *src, size_t size, const VkAllocationCallbacks *callbacks, DecodedBlob *out,
                       char *error, size_t error_size) {
    if (error != nullptr && error_size > 0) {
        error[0] = '\0';
    }
    out->reset();
    Parser p(static_cast<const uint8_t *>(src), size, error, error_size);
    if (int rc = p.run(false)) {
        return rc;
    }
    const Counts c = p.counts;
    const size_t bytes = sizeof(BlobModule) * c.modules + sizeof(BlobEntryPoint) * c.entries +
                         sizeof(BlobSpecConstant) * c.specs + sizeof(BlobSharedAlloc) * c.shared;
    void *mem = host_alloc(callbacks, bytes, 0, VK_SYSTEM_ALLOCATION_SCOPE_OBJECT);
    if (mem == nullptr) {
        if (error != nullptr && error_size > 0) {
            std::snprintf(error, error_size, "out of host memory decoding the kernel blob");
        }
        return -11;
    }
    std::memset(mem, 0, bytes);
    uint8_t *q = static_cast<uint8_t *>(mem);
    p.modules = reinterpret_cast<BlobModule *>(q);
    q += sizeof(BlobModule) * c.modules;
    p.entries = reinterpret_cast<BlobEntryPoint *>(q);
    q += sizeof(BlobEntryPoint) * c.entries;
    p.specs = reinterpret_cast<BlobSpecConstant *>(q);
    q += sizeof(BlobSpecConstant) * c.specs;
    p.shared = reinterpret_cast<BlobSharedAlloc *>(q);
    if (int rc = p.run(true)) {
        host_free(callbacks, mem);
        return rc;
    }
    out->callbacks_ = callbacks;
    out->storage_ = mem;
    out->module_count_ = c.modules;
    out->modules_ = p.modules;
    out->entry_count_ = c.entries;
    out->entries_ = p.entries;
    return 0;
}

}  // namespace hvk
