// A two-level segregated-fit (TLSF) sub-allocator over an abstract range of
// bytes [0, capacity). It knows nothing about Vulkan: it hands out offsets.
//
// * allocate and free are O(1): a first-level bitmap (one bit per power of
//   two) and per-class second-level bitmaps (32 linear subdivisions of each
//   power of two) find a non-empty free list with two bit scans.
// * free() coalesces the range with its free physical neighbours at once, so
//   a range whose allocations are all freed is again one free node.
// * alignment: any power of two. The head of the first free list that can
//   hold `size` is tried first; if its start does not align, a list that can
//   hold `size + alignment - 1` is used, which always fits. The padding in
//   front of an aligned allocation stays a free node of its own.
//
// Node metadata lives in a TlsfNodePool shared by many ranges: nodes are
// indices into chunks of kChunkNodes records that grow through host_alloc
// (the application's VkAllocationCallbacks), with an intrusive free list, so
// no allocate or free touches the heap except when the pool must grow by a
// whole chunk. Index 0 is never a valid node.
//
// Not thread safe: the owner serialises calls.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vulkan/util/vk.h"

namespace hvk {

constexpr uint32_t kTlsfNil = 0;  // "no node"

enum class TlsfNodeState : uint8_t { Pooled, Free, Used };

struct TlsfNode {
    uint64_t offset;
    uint64_t size;
    uint32_t prev_phys;  // physical neighbours inside the owning range
    uint32_t next_phys;
    uint32_t prev_free;  // free-list links (free nodes); next_free also links pooled nodes
    uint32_t next_free;
    uint32_t owner;  // tag of the owning Tlsf, for validating handles
    TlsfNodeState state;
};

class TlsfNodePool {
public:
    static constexpr uint32_t kChunkShift = 8;
    static constexpr uint32_t kChunkNodes = 1u << kChunkShift;  // nodes per host allocation

    explicit TlsfNodePool(const VkAllocationCallbacks *callbacks = nullptr) : callbacks_(callbacks) {}
    ~TlsfNodePool();
    TlsfNodePool(const TlsfNodePool &) = delete;
    TlsfNodePool &operator=(const TlsfNodePool &) = delete;

    // A fresh node (fields zeroed), or kTlsfNil when host memory ran out.
    uint32_t acquire();
    void release(uint32_t index);

    bool valid(uint32_t index) const { return index != kTlsfNil && index < chunk_count_ * kChunkNodes; }
    TlsfNode &node(uint32_t index) { return chunks_[index >> kChunkShift][index & (kChunkNodes - 1)]; }
    const TlsfNode &node(uint32_t index) const { return chunks_[index >> kChunkShift][index & (kChunkNodes - 1)]; }

    uint32_t live() const { return live_; }                   // nodes handed out
    uint32_t capacity() const { return chunk_count_ * kChunkNodes; }  // including index 0
    uint32_t chunk_count() const { return chunk_count_; }

private:
    bool grow();

    const VkAllocationCallbacks *callbacks_;
    TlsfNode **chunks_ = nullptr;
    uint32_t chunk_count_ = 0;
    uint32_t chunk_capacity_ = 0;
    uint32_t free_head_ = kTlsfNil;
    uint32_t live_ = 0;
};

enum class TlsfStatus { Ok, NoSpace, OutOfHostMemory, InvalidArgument };

class Tlsf {
public:
    static constexpr int kSlLog2 = 5;
    static constexpr uint32_t kSlCount = 1u << kSlLog2;
    static constexpr int kFlCount = 58;  // sizes below 2^62
    static constexpr uint64_t kMaxCapacity = (1ull << 62) - 1;

    Tlsf() = default;
    ~Tlsf() { reset(); }
    Tlsf(const Tlsf &) = delete;
    Tlsf &operator=(const Tlsf &) = delete;

    // Manages [0, capacity) with nodes from `pool`; `owner_tag` (non-zero)
    // marks this range's nodes. False when capacity is 0 or too large, or
    // the pool cannot supply a node.
    bool init(TlsfNodePool *pool, uint64_t capacity, uint32_t owner_tag);
    // Returns every node to the pool; the object can be init()ed again.
    void reset();

    // Finds `size` bytes (0 counts as 1) at an offset that is a multiple of
    // `alignment` (a power of two; 0 counts as 1).
    TlsfStatus allocate(uint64_t size, uint64_t alignment, uint32_t *node_out, uint64_t *offset_out);
    // False (and nothing changes) when `node` is not a live allocation of this range.
    bool free(uint32_t node);
    bool owns(uint32_t node) const;

    uint64_t capacity() const { return capacity_; }
    uint64_t used_bytes() const { return used_bytes_; }
    uint32_t allocation_count() const { return allocation_count_; }
    uint32_t free_node_count() const { return free_node_count_; }
    bool empty() const { return allocation_count_ == 0; }
    bool initialised() const { return pool_ != nullptr; }

    // Walks the whole range and checks every invariant (physical chain
    // contiguous and complete, no two free neighbours, free lists and
    // bitmaps agree, counters exact). O(nodes); for tests and debugging.
    bool check(char *message, size_t message_size) const;
    // Size of the largest free node. O(nodes); for tests.
    uint64_t largest_free_slow() const;

private:
    static void mapping_insert(uint64_t size, int *fl, int *sl);
    static bool mapping_search(uint64_t size, int *fl, int *sl);
    uint32_t find_suitable(int fl, int sl) const;
    void insert_free(uint32_t index);
    void remove_free(uint32_t index);
    // allocate()'s steps.
    bool fits(uint32_t index, uint64_t size, uint64_t mask, uint64_t *aligned) const;
    uint32_t find_free(uint64_t size, uint64_t mask, uint64_t *aligned) const;
    void split_front(uint32_t index, uint32_t pad_node, uint64_t aligned);
    void split_back(uint32_t index, uint32_t tail_node, uint64_t size);
    // check()'s steps.
    bool check_listed(uint32_t index, char *message, size_t message_size) const;
    bool check_chain(char *message, size_t message_size) const;
    bool check_lists(char *message, size_t message_size) const;

    TlsfNodePool *pool_ = nullptr;
    uint64_t capacity_ = 0;
    uint64_t used_bytes_ = 0;
    uint32_t owner_ = 0;
    uint32_t first_phys_ = kTlsfNil;
    uint32_t allocation_count_ = 0;
    uint32_t free_node_count_ = 0;
    uint64_t fl_bitmap_ = 0;
    uint32_t sl_bitmap_[kFlCount] = {};
    uint32_t heads_[kFlCount][kSlCount] = {};
};

}  // namespace hvk
