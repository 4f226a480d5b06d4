// Decoder for the kernel blob Halide embeds in a pipeline object (spec 04
// §4.2-4.4): an outer table of kernel modules, each a metadata header
// followed by a SPIR-V module.
//
// The decoder is pure (no Vulkan, no context) and checks every read against
// the blob's size: a truncated or corrupt blob gives an error message, never
// an out-of-bounds read. The blob may be unaligned; words are read with
// memcpy in the host's byte order, as Halide writes them.
//
// The decoded form points into the blob for names and SPIR-V; it is valid
// only while the blob is. The kernel cache copies what it keeps.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vulkan/util/vk.h"

namespace hvk {

struct BlobSpecConstant {
    const char *name;    // NUL-terminated inside the blob (informational)
    uint32_t id;         // specialization constant id
    uint32_t size;       // bytes of the constant's type (4)
};

struct BlobSharedAlloc {
    const char *name;        // informational
    uint32_t spec_id;        // 0: statically sized, else the id of its length constant
    uint32_t element_size;   // bytes per element
    uint32_t array_length;   // elements (default value when dynamic)
};

struct BlobEntryPoint {
    const char *name;                // NUL-terminated inside the blob
    uint32_t module;                 // index of the kernel module holding it
    uint32_t descriptor_set;         // index of its record inside the module (always 0 on Halide main)
    uint32_t uniform_count;          // 0 or 1
    uint32_t storage_count;          // buffer arguments
    uint32_t spec_count;
    const BlobSpecConstant *specs;   // spec_count records
    uint32_t shared_count;
    const BlobSharedAlloc *shared;   // shared_count records
    uint32_t local_size_ids[3];      // all 0: static workgroup size
};

struct BlobModule {
    const char *name;                // outer table name (informational)
    const uint8_t *spirv;            // inside the blob; may be unaligned
    size_t spirv_bytes;              // multiple of 4, >= 20
    uint32_t entry_count;
    const BlobEntryPoint *entries;   // entry_count records
};

// One decoded blob. All arrays live in one allocation owned by this object.
class DecodedBlob {
public:
    DecodedBlob() = default;
    ~DecodedBlob();
    DecodedBlob(const DecodedBlob &) = delete;
    DecodedBlob &operator=(const DecodedBlob &) = delete;

    uint32_t module_count() const { return module_count_; }
    const BlobModule &module(uint32_t i) const { return modules_[i]; }
    uint32_t entry_count() const { return entry_count_; }
    const BlobEntryPoint &entry(uint32_t i) const { return entries_[i]; }

private:
    friend int decode_kernel_blob(const void *, size_t, const VkAllocationCallbacks *, DecodedBlob *, char *, size_t);
    void reset();

    const VkAllocationCallbacks *callbacks_ = nullptr;
    void *storage_ = nullptr;
    uint32_t module_count_ = 0;
    BlobModule *modules_ = nullptr;
    uint32_t entry_count_ = 0;
    BlobEntryPoint *entries_ = nullptr;  // all entry points, module by module
};

// Decodes `size` bytes at `src`. Returns 0, or -1 with a message (no
// prefix, e.g. "kernel module 1: header length 40 words exceeds the module's
// 96 bytes") in `error`, or -11 when host memory runs out. Checks: counts and
// sizes against the remaining bytes, sizes multiple of 4, header length
// within the module and fully consumed, names NUL-terminated within their
// word count, non-empty entry names, no duplicate entry names, U <= 1,
// constant sizes of 4, spec ids referenced by shared memory / workgroup
// size present among the constants, SPIR-V magic and minimum size, no bytes
// after the last module.
int decode_kernel_blob(const void *src, size_t size, const VkAllocationCallbacks *callbacks, DecodedBlob *out,
                       char *error, size_t error_size);

}  // namespace hvk
