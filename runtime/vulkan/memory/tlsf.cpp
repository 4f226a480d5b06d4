#include "vulkan/memory/tlsf.h"

#include <cstdio>
#include <cstring>

#include "vulkan/util/host_alloc.h"

namespace hvk {

// ---------------------------------------------------------------------------
// TlsfNodePool

TlsfNodePool::~TlsfNodePool() {
    for (uint32_t i = 0; i < chunk_count_; i++) {
        host_free(callbacks_, chunks_[i]);
    }
    host_free(callbacks_, chunks_);
}

bool TlsfNodePool::grow() {
    if (chunk_count_ >= (UINT32_MAX >> kChunkShift)) {
        return false;
    }
    if (chunk_count_ == chunk_capacity_) {
        uint32_t capacity = chunk_capacity_ == 0 ? 8 : chunk_capacity_ * 2;
        auto **table = static_cast<TlsfNode **>(
            host_alloc(callbacks_, sizeof(TlsfNode *) * capacity, alignof(TlsfNode *), VK_SYSTEM_ALLOCATION_SCOPE_OBJECT));
        if (table == nullptr) {
            return false;
        }
        if (chunk_count_ > 0) {
            std::memcpy(table, chunks_, sizeof(TlsfNode *) * chunk_count_);
        }
        host_free(callbacks_, chunks_);
        chunks_ = table;
        chunk_capacity_ = capacity;
    }
    auto *chunk = static_cast<TlsfNode *>(
        host_alloc(callbacks_, sizeof(TlsfNode) * kChunkNodes, alignof(TlsfNode), VK_SYSTEM_ALLOCATION_SCOPE_OBJECT));
    if (chunk == nullptr) {
        return false;
    }
    std::memset(static_cast<void *>(chunk), 0, sizeof(TlsfNode) * kChunkNodes);
    uint32_t base = chunk_count_ * kChunkNodes;
    chunks_[chunk_count_++] = chunk;
    // Thread the new nodes onto the pool's free list, lowest index first.
    // Index 0 (first node of the first chunk) is never handed out.
    uint32_t first = base == 0 ? 1 : base;
    for (uint32_t i = base + kChunkNodes; i-- > first;) {
        TlsfNode &n = node(i);
        n.state = TlsfNodeState::Pooled;
        n.next_free = free_head_;
        free_head_ = i;
    }
    return true;
}

uint32_t TlsfNodePool::acquire() {
    if (free_head_ == kTlsfNil && !grow()) {
        return kTlsfNil;
    }
    uint32_t index = free_head_;
    TlsfNode &n = node(index);
    free_head_ = n.next_free;
    std::memset(static_cast<void *>(&n), 0, sizeof(TlsfNode));
    live_++;
    return index;
}

void TlsfNodePool::release(uint32_t index) {
    TlsfNode &n = node(index);
    n.state = TlsfNodeState::Pooled;
    n.owner = 0;
    n.next_free = free_head_;
    free_head_ = index;
    live_--;
}

// ---------------------------------------------------------------------------
// Tlsf

namespace {

inline int log2_floor(uint64_t v) {
    return 63 - __builtin_clzll(v);
}

inline bool is_pow2(uint64_t v) {
    return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace

void Tlsf::mapping_insert(uint64_t size, int *fl, int *sl) {
    if (size < kSlCount) {
        *fl = 0;
        *sl = static_cast<int>(size);
        return;
    }
    int l = log2_floor(size);
    *fl = l - kSlLog2 + 1;
    *sl = static_cast<int>((size >> (l - kSlLog2)) - kSlCount);
}

// The class whose every member is at least `size` bytes.
bool Tlsf::mapping_search(uint64_t size, int *fl, int *sl) {
    if (size >= kSlCount) {
        uint64_t round = (1ull << (log2_floor(size) - kSlLog2)) - 1;
        if (size > kMaxCapacity) {
            return false;
        }
        size += round;
    }
    mapping_insert(size, fl, sl);
    return *fl < kFlCount;
}

uint32_t Tlsf::find_suitable(int fl, int sl) const {
    uint32_t sl_map = sl_bitmap_[fl] & (~0u << sl);
    if (sl_map == 0) {
        if (fl + 1 >= kFlCount) {
            return kTlsfNil;
        }
        uint64_t fl_map = fl_bitmap_ & (~0ull << (fl + 1));
        if (fl_map == 0) {
            return kTlsfNil;
        }
        fl = __builtin_ctzll(fl_map);
        sl_map = sl_bitmap_[fl];
    }
    sl = __builtin_ctz(sl_map);
    return heads_[fl][sl];
}

void Tlsf::insert_free(uint32_t index) {
    TlsfNode &n = pool_->node(index);
    int fl, sl;
    mapping_insert(n.size, &fl, &sl);
    n.state = TlsfNodeState::Free;
    n.prev_free = kTlsfNil;
    n.next_free = heads_[fl][sl];
    if (n.next_free != kTlsfNil) {
        pool_->node(n.next_free).prev_free = index;
    }
    heads_[fl][sl] = index;
    fl_bitmap_ |= 1ull << fl;
    sl_bitmap_[fl] |= 1u << sl;
    free_node_count_++;
}

void Tlsf::remove_free(uint32_t index) {
    TlsfNode &n = pool_->node(index);
    int fl, sl;
    mapping_insert(n.size, &fl, &sl);
    if (n.prev_free != kTlsfNil) {
        pool_->node(n.prev_free).next_free = n.next_free;
    } else {
        heads_[fl][sl] = n.next_free;
        if (n.next_free == kTlsfNil) {
            sl_bitmap_[fl] &= ~(1u << sl);
            if (sl_bitmap_[fl] == 0) {
                fl_bitmap_ &= ~(1ull << fl);
            }
        }
    }
    if (n.next_free != kTlsfNil) {
        pool_->node(n.next_free).prev_free = n.prev_free;
    }
    n.prev_free = n.next_free = kTlsfNil;
    free_node_count_--;
}

bool Tlsf::init(TlsfNodePool *pool, uint64_t capacity, uint32_t owner_tag) {
    reset();
    if (pool == nullptr || capacity == 0 || capacity > kMaxCapacity || owner_tag == 0) {
        return false;
    }
    uint32_t index = pool->acquire();
    if (index == kTlsfNil) {
        return false;
    }
    pool_ = pool;
    capacity_ = capacity;
    owner_ = owner_tag;
    TlsfNode &n = pool_->node(index);
    n.offset = 0;
    n.size = capacity;
    n.owner = owner_tag;
    first_phys_ = index;
    insert_free(index);
    return true;
}

void Tlsf::reset() {
    if (pool_ != nullptr) {
        uint32_t i = first_phys_;
        while (i != kTlsfNil) {
            uint32_t next = pool_->node(i).next_phys;
            pool_->release(i);
            i = next;
        }
    }
    pool_ = nullptr;
    capacity_ = used_bytes_ = 0;
    owner_ = 0;
    first_phys_ = kTlsfNil;
    allocation_count_ = free_node_count_ = 0;
    fl_bitmap_ = 0;
    std::memset(sl_bitmap_, 0, sizeof(sl_bitmap_));
    std::memset(heads_, 0, sizeof(heads_));
}

// Whether the free node `index` holds `size` bytes at an offset aligned to
// mask + 1; *aligned gets that offset.
inline bool Tlsf::fits(uint32_t index, uint64_t size, uint64_t mask, uint64_t *aligned) const {
    const TlsfNode &n = pool_->node(index);
    uint64_t a = (n.offset + mask) & ~mask;
    *aligned = a;
    return a - n.offset <= n.size && n.size - (a - n.offset) >= size;
}

// A free node that holds `size` bytes aligned to mask + 1, or kTlsfNil.
uint32_t Tlsf::find_free(uint64_t size, uint64_t mask, uint64_t *aligned) const {
    int fl, sl;
    uint32_t found = kTlsfNil;
    if (mapping_search(size, &fl, &sl)) {
        found = find_suitable(fl, sl);
        if (found != kTlsfNil && !fits(found, size, mask, aligned)) {
            found = kTlsfNil;
        }
    }
    if (found == kTlsfNil && mask > 0 && size <= kMaxCapacity - mask) {
        if (mapping_search(size + mask, &fl, &sl)) {
            found = find_suitable(fl, sl);
            if (found != kTlsfNil && !fits(found, size, mask, aligned)) {
                found = kTlsfNil;  // cannot happen: every member of that class holds size + mask
            }
        }
    }
    if (found == kTlsfNil && mapping_search(size, &fl, &sl)) {
        // Good fit rounds the request up to the next class, so a large
        // enough node in the request's own class -- e.g. the arena's new
        // block made exactly as large as the request -- is never found
        // above. Look through that class's list (found by fuzzing/regression
        // tests in issue 6: a 33 MiB + 4 byte device_malloc failed).
        mapping_insert(size, &fl, &sl);
        for (uint32_t i = heads_[fl][sl]; i != kTlsfNil && found == kTlsfNil; i = pool_->node(i).next_free) {
            if (fits(i, size, mask, aligned)) {
                found = i;
            }
        }
    }
    return found;
}

// Splits the `pad` bytes in front of `aligned` off node `index` into the
// free node `pad_node`.
inline void Tlsf::split_front(uint32_t index, uint32_t pad_node, uint64_t aligned) {
    TlsfNode *n = &pool_->node(index);
    const uint64_t pad = aligned - n->offset;
    TlsfNode &p = pool_->node(pad_node);
    p.offset = n->offset;
    p.size = pad;
    p.owner = owner_;
    p.prev_phys = n->prev_phys;
    p.next_phys = index;
    if (p.prev_phys != kTlsfNil) {
        pool_->node(p.prev_phys).next_phys = pad_node;
    } else {
        first_phys_ = pad_node;
    }
    n->prev_phys = pad_node;
    n->offset = aligned;
    n->size -= pad;
    insert_free(pad_node);
}

// Splits what follows the first `size` bytes of node `index` off into the
// free node `tail_node`.
inline void Tlsf::split_back(uint32_t index, uint32_t tail_node, uint64_t size) {
    TlsfNode *n = &pool_->node(index);
    TlsfNode &t = pool_->node(tail_node);
    t.offset = n->offset + size;
    t.size = n->size - size;
    t.owner = owner_;
    t.prev_phys = index;
    t.next_phys = n->next_phys;
    if (t.next_phys != kTlsfNil) {
        pool_->node(t.next_phys).prev_phys = tail_node;
    }
    n->next_phys = tail_node;
    n->size = size;
    insert_free(tail_node);
}

TlsfStatus Tlsf::allocate(uint64_t size, uint64_t alignment, uint32_t *node_out, uint64_t *offset_out) {
    if (size == 0) {
        size = 1;
    }
    if (alignment == 0) {
        alignment = 1;
    }
    if (pool_ == nullptr || !is_pow2(alignment)) {
        return TlsfStatus::InvalidArgument;
    }
    if (size > capacity_ || capacity_ - used_bytes_ < size) {
        return TlsfStatus::NoSpace;
    }
    uint64_t aligned = 0;
    const uint32_t found = find_free(size, alignment - 1, &aligned);
    if (found == kTlsfNil) {
        return TlsfStatus::NoSpace;
    }

    // Take the nodes the split needs before changing anything.
    const TlsfNode &n = pool_->node(found);
    const uint64_t pad = aligned - n.offset;
    const uint64_t tail = n.size - pad - size;
    uint32_t pad_node = kTlsfNil;
    uint32_t tail_node = kTlsfNil;
    if (pad > 0 && (pad_node = pool_->acquire()) == kTlsfNil) {
        return TlsfStatus::OutOfHostMemory;
    }
    if (tail > 0 && (tail_node = pool_->acquire()) == kTlsfNil) {
        if (pad_node != kTlsfNil) {
            pool_->release(pad_node);
        }
        return TlsfStatus::OutOfHostMemory;
    }

    remove_free(found);
    if (pad_node != kTlsfNil) {
        split_front(found, pad_node, aligned);
    }
    if (tail_node != kTlsfNil) {
        split_back(found, tail_node, size);
    }
    TlsfNode &used = pool_->node(found);  // acquire() may have grown the pool (chunks never move, but be plain)
    used.state = TlsfNodeState::Used;
    used_bytes_ += used.size;
    allocation_count_++;
    *node_out = found;
    *offset_out = used.offset;
    return TlsfStatus::Ok;
}

bool Tlsf::owns(uint32_t index) const {
    if (pool_ == nullptr || !pool_->valid(index)) {
        return false;
    }
    const TlsfNode &n = pool_->node(index);
    return n.owner == owner_ && n.state == TlsfNodeState::Used;
}

bool Tlsf::free(uint32_t index) {
    if (!owns(index)) {
        return false;
    }
    TlsfNode *n = &pool_->node(index);
    used_bytes_ -= n->size;
    allocation_count_--;
    // Merge with the free neighbour before...
    uint32_t prev = n->prev_phys;
    if (prev != kTlsfNil && pool_->node(prev).state == TlsfNodeState::Free) {
        remove_free(prev);
        TlsfNode &p = pool_->node(prev);
        n->offset = p.offset;
        n->size += p.size;
        n->prev_phys = p.prev_phys;
        if (n->prev_phys != kTlsfNil) {
            pool_->node(n->prev_phys).next_phys = index;
        } else {
            first_phys_ = index;
        }
        pool_->release(prev);
    }
    // ... and after.
    uint32_t next = n->next_phys;
    if (next != kTlsfNil && pool_->node(next).state == TlsfNodeState::Free) {
        remove_free(next);
        TlsfNode &x = pool_->node(next);
        n->size += x.size;
        n->next_phys = x.next_phys;
        if (n->next_phys != kTlsfNil) {
            pool_->node(n->next_phys).prev_phys = index;
        }
        pool_->release(next);
    }
    insert_free(index);
    return true;
}

uint64_t Tlsf::largest_free_slow() const {
    uint64_t best = 0;
    for (uint32_t i = first_phys_; i != kTlsfNil; i = pool_->node(i).next_phys) {
        const TlsfNode &n = pool_->node(i);
        if (n.state == TlsfNodeState::Free && n.size > best) {
            best = n.size;
        }
    }
    return best;
}

namespace {

// Writes "what (a, b)" into `message`; returns false, for check()'s steps.
bool check_failed(char *message, size_t message_size, const char *what, uint64_t a, uint64_t b) {
    if (message != nullptr && message_size > 0) {
        std::snprintf(message, message_size, "%s (%llu, %llu)", what, static_cast<unsigned long long>(a),
                      static_cast<unsigned long long>(b));
    }
    return false;
}

}  // namespace

// A free node of the physical chain is findable through its class list.
bool Tlsf::check_listed(uint32_t index, char *message, size_t message_size) const {
    const TlsfNode &n = pool_->node(index);
    int fl, sl;
    mapping_insert(n.size, &fl, &sl);
    if (!(fl_bitmap_ & (1ull << fl)) || !(sl_bitmap_[fl] & (1u << sl))) {
        return check_failed(message, message_size, "free node's class bit clear", n.size,
                            static_cast<uint64_t>(fl * kSlCount + sl));
    }
    for (uint32_t j = heads_[fl][sl]; j != kTlsfNil; j = pool_->node(j).next_free) {
        if (j == index) {
            return true;
        }
    }
    return check_failed(message, message_size, "free node missing from its list", index, n.size);
}

// The physical chain: contiguous from 0 to capacity, one owner, no two free
// neighbours, every free node listed; counters match it.
bool Tlsf::check_chain(char *message, size_t message_size) const {
    auto fail = [&](const char *what, uint64_t a, uint64_t b) { return check_failed(message, message_size, what, a, b); };
    uint64_t expect_offset = 0;
    uint64_t used = 0;
    uint32_t allocations = 0;
    uint32_t free_nodes = 0;
    uint32_t prev = kTlsfNil;
    bool prev_free = false;
    uint64_t guard = 0;
    for (uint32_t i = first_phys_; i != kTlsfNil; i = pool_->node(i).next_phys) {
        if (++guard > pool_->capacity()) {
            return fail("physical chain loops", guard, 0);
        }
        const TlsfNode &n = pool_->node(i);
        if (n.owner != owner_) {
            return fail("node of another owner in chain", i, n.owner);
        }
        if (n.prev_phys != prev) {
            return fail("broken prev_phys link", i, n.prev_phys);
        }
        if (n.offset != expect_offset) {
            return fail("gap or overlap at offset", n.offset, expect_offset);
        }
        if (n.size == 0) {
            return fail("empty node", i, n.offset);
        }
        if (n.state == TlsfNodeState::Free) {
            if (prev_free) {
                return fail("two free neighbours not coalesced", i, n.offset);
            }
            if (!check_listed(i, message, message_size)) {
                return false;
            }
            free_nodes++;
            prev_free = true;
        } else if (n.state == TlsfNodeState::Used) {
            used += n.size;
            allocations++;
            prev_free = false;
        } else {
            return fail("pooled node in chain", i, 0);
        }
        expect_offset = n.offset + n.size;
        prev = i;
    }
    if (expect_offset != capacity_) {
        return fail("chain does not cover the range", expect_offset, capacity_);
    }
    if (used != used_bytes_ || allocations != allocation_count_ || free_nodes != free_node_count_) {
        return fail("counters disagree", used, used_bytes_);
    }
    return true;
}

// Every list entry is a free node of the right class; bitmaps match lists.
bool Tlsf::check_lists(char *message, size_t message_size) const {
    auto fail = [&](const char *what, uint64_t a, uint64_t b) { return check_failed(message, message_size, what, a, b); };
    uint32_t listed = 0;
    for (int fl = 0; fl < kFlCount; fl++) {
        bool fl_bit = (fl_bitmap_ >> fl) & 1;
        if (fl_bit != (sl_bitmap_[fl] != 0)) {
            return fail("first-level bit disagrees", static_cast<uint64_t>(fl), sl_bitmap_[fl]);
        }
        for (uint32_t sl = 0; sl < kSlCount; sl++) {
            bool sl_bit = (sl_bitmap_[fl] >> sl) & 1;
            if (sl_bit != (heads_[fl][sl] != kTlsfNil)) {
                return fail("second-level bit disagrees", static_cast<uint64_t>(fl), sl);
            }
            uint32_t back = kTlsfNil;
            for (uint32_t j = heads_[fl][sl]; j != kTlsfNil; j = pool_->node(j).next_free) {
                const TlsfNode &n = pool_->node(j);
                int f, s;
                mapping_insert(n.size, &f, &s);
                if (n.state != TlsfNodeState::Free || f != fl || s != static_cast<int>(sl) || n.owner != owner_) {
                    return fail("list holds a wrong node", j, n.size);
                }
                if (n.prev_free != back) {
                    return fail("broken prev_free link", j, n.prev_free);
                }
                back = j;
                if (++listed > free_node_count_) {
                    return fail("free lists longer than the free node count", listed, free_node_count_);
                }
            }
        }
    }
    if (listed != free_node_count_) {
        return fail("free lists miss nodes", listed, free_node_count_);
    }
    return true;
}

bool Tlsf::check(char *message, size_t message_size) const {
    if (pool_ == nullptr) {
        return check_failed(message, message_size, "not initialised", 0, 0);
    }
    return check_chain(message, message_size) && check_lists(message, message_size);
}

}  // namespace hvk
