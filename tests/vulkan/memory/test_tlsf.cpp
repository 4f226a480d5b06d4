// The TLSF sub-allocator and the HL_VK_ALLOC_CONFIG parser: pure host code,
// no GPU.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "HalideRuntime.h"
#include "HalideRuntimeVulkan.h"
#include "vulkan/memory/arena.h"
#include "vulkan/util/host_alloc.h"
#include "vulkan/memory/tlsf.h"

namespace {

using hvk::Tlsf;
using hvk::TlsfNodePool;
using hvk::TlsfStatus;

#define EXPECT_CONSISTENT(t)                                   \
    do {                                                       \
        char msg_[256] = "";                                   \
        EXPECT_TRUE((t).check(msg_, sizeof(msg_))) << msg_;    \
    } while (0)

TEST(Tlsf, InitCoversWholeRangeAsOneFreeNode) {
    TlsfNodePool pool;
    Tlsf t;
    ASSERT_TRUE(t.init(&pool, 1000, 1));
    EXPECT_EQ(t.capacity(), 1000u);
    EXPECT_EQ(t.free_node_count(), 1u);
    EXPECT_EQ(t.largest_free_slow(), 1000u);
    EXPECT_TRUE(t.empty());
    EXPECT_CONSISTENT(t);
    EXPECT_EQ(pool.live(), 1u);
    t.reset();
    EXPECT_EQ(pool.live(), 0u);
}

TEST(Tlsf, RejectsBadArguments) {
    TlsfNodePool pool;
    Tlsf t;
    EXPECT_FALSE(t.init(&pool, 0, 1));
    EXPECT_FALSE(t.init(&pool, Tlsf::kMaxCapacity + 1, 1));
    EXPECT_FALSE(t.init(&pool, 100, 0));
    EXPECT_FALSE(t.init(nullptr, 100, 1));
    uint32_t node = 0;
    uint64_t offset = 0;
    EXPECT_EQ(t.allocate(8, 1, &node, &offset), TlsfStatus::InvalidArgument);  // not initialised
    ASSERT_TRUE(t.init(&pool, 1024, 1));
    EXPECT_EQ(t.allocate(8, 3, &node, &offset), TlsfStatus::InvalidArgument);
    EXPECT_EQ(t.allocate(8, 48, &node, &offset), TlsfStatus::InvalidArgument);
    EXPECT_EQ(t.allocate(1025, 1, &node, &offset), TlsfStatus::NoSpace);
    EXPECT_EQ(t.allocate(UINT64_MAX, 1, &node, &offset), TlsfStatus::NoSpace);
    EXPECT_EQ(t.allocate(16, 1ull << 62, &node, &offset), TlsfStatus::Ok);  // offset 0 is aligned to anything
    EXPECT_EQ(offset, 0u);
    EXPECT_CONSISTENT(t);
}

TEST(Tlsf, FreeValidatesNodes) {
    TlsfNodePool pool;
    Tlsf a, b;
    ASSERT_TRUE(a.init(&pool, 4096, 1));
    ASSERT_TRUE(b.init(&pool, 4096, 2));
    uint32_t na = 0, nb = 0;
    uint64_t oa = 0, ob = 0;
    ASSERT_EQ(a.allocate(100, 1, &na, &oa), TlsfStatus::Ok);
    ASSERT_EQ(b.allocate(100, 1, &nb, &ob), TlsfStatus::Ok);
    EXPECT_FALSE(a.free(nb));          // another range's node
    EXPECT_FALSE(a.free(hvk::kTlsfNil));
    EXPECT_FALSE(a.free(123456789));   // not a node at all
    EXPECT_TRUE(a.free(na));
    EXPECT_FALSE(a.free(na));          // double free
    EXPECT_TRUE(b.free(nb));
    EXPECT_CONSISTENT(a);
    EXPECT_CONSISTENT(b);
    EXPECT_EQ(a.free_node_count(), 1u);
}

TEST(Tlsf, AlignmentAndPaddingStayFree) {
    TlsfNodePool pool;
    Tlsf t;
    ASSERT_TRUE(t.init(&pool, 1 << 20, 1));
    uint32_t n1 = 0, n2 = 0;
    uint64_t o1 = 0, o2 = 0;
    ASSERT_EQ(t.allocate(10, 1, &n1, &o1), TlsfStatus::Ok);
    EXPECT_EQ(o1, 0u);
    ASSERT_EQ(t.allocate(64, 256, &n2, &o2), TlsfStatus::Ok);
    EXPECT_EQ(o2, 256u);
    EXPECT_EQ(t.used_bytes(), 74u);
    EXPECT_EQ(t.free_node_count(), 2u);  // the 246-byte gap and the tail
    EXPECT_CONSISTENT(t);
    // The gap is reused by a request that fits it.
    uint32_t n3 = 0;
    uint64_t o3 = 0;
    ASSERT_EQ(t.allocate(200, 2, &n3, &o3), TlsfStatus::Ok);
    EXPECT_EQ(o3, 10u);
    EXPECT_TRUE(t.free(n1));
    EXPECT_TRUE(t.free(n3));
    EXPECT_TRUE(t.free(n2));
    EXPECT_EQ(t.free_node_count(), 1u);
    EXPECT_CONSISTENT(t);
}

TEST(Tlsf, ExhaustionAndReuseOfTheFreedHole) {
    TlsfNodePool pool;
    Tlsf t;
    ASSERT_TRUE(t.init(&pool, 64 * 64, 1));
    std::vector<uint32_t> nodes(64);
    for (int i = 0; i < 64; i++) {
        uint64_t offset = 0;
        ASSERT_EQ(t.allocate(64, 64, &nodes[i], &offset), TlsfStatus::Ok) << i;
    }
    EXPECT_EQ(t.used_bytes(), t.capacity());
    EXPECT_EQ(t.free_node_count(), 0u);
    uint32_t n = 0;
    uint64_t offset = 0;
    EXPECT_EQ(t.allocate(1, 1, &n, &offset), TlsfStatus::NoSpace);
    uint64_t freed_offset = hvk::kTlsfNil;
    freed_offset = pool.node(nodes[17]).offset;
    ASSERT_TRUE(t.free(nodes[17]));
    ASSERT_EQ(t.allocate(64, 64, &n, &offset), TlsfStatus::Ok);
    EXPECT_EQ(offset, freed_offset);
    EXPECT_CONSISTENT(t);
}

TEST(Tlsf, FragmentationThenCoalescing) {
    TlsfNodePool pool;
    Tlsf t;
    ASSERT_TRUE(t.init(&pool, 1024, 1));
    uint32_t nodes[64];
    for (auto &node : nodes) {
        uint64_t offset = 0;
        ASSERT_EQ(t.allocate(16, 16, &node, &offset), TlsfStatus::Ok);
    }
    for (int i = 0; i < 64; i += 2) {
        ASSERT_TRUE(t.free(nodes[i]));
    }
    // Half the range is free, in 32 separate 16-byte holes.
    EXPECT_EQ(t.capacity() - t.used_bytes(), 512u);
    EXPECT_EQ(t.free_node_count(), 32u);
    uint32_t n = 0;
    uint64_t offset = 0;
    EXPECT_EQ(t.allocate(32, 1, &n, &offset), TlsfStatus::NoSpace);
    EXPECT_CONSISTENT(t);
    // Freeing node 1 joins holes 0, 1 and 2 into 48 bytes.
    ASSERT_TRUE(t.free(nodes[1]));
    EXPECT_EQ(t.free_node_count(), 31u);
    ASSERT_EQ(t.allocate(48, 16, &n, &offset), TlsfStatus::Ok);
    EXPECT_EQ(offset, 0u);
    ASSERT_TRUE(t.free(n));
    for (int i = 3; i < 64; i += 2) {
        ASSERT_TRUE(t.free(nodes[i]));
    }
    EXPECT_TRUE(t.empty());
    EXPECT_EQ(t.free_node_count(), 1u);
    EXPECT_EQ(t.largest_free_slow(), 1024u);
    EXPECT_CONSISTENT(t);
}

// Random sequences against a shadow model of live intervals.
struct Live {
    uint32_t node;
    uint64_t size;
    uint64_t alignment;
};

void run_random(uint64_t capacity, uint64_t max_size, int steps, uint32_t seed, bool large_alignments) {
    TlsfNodePool pool;
    Tlsf t;
    ASSERT_TRUE(t.init(&pool, capacity, 7));
    std::mt19937_64 rng(seed);
    std::map<uint64_t, Live> live;  // offset -> allocation
    uint64_t live_bytes = 0;
    int no_space = 0;
    for (int step = 0; step < steps; step++) {
        bool do_alloc = live.empty() || (rng() % 100) < 55;
        if (do_alloc) {
            uint64_t size = 1 + rng() % max_size;
            if (rng() % 8 == 0) {
                size = 1 + rng() % 64;  // many small ones too
            }
            uint64_t alignment = 1ull << (rng() % (large_alignments ? 13 : 7));
            uint32_t node = 0;
            uint64_t offset = 0;
            TlsfStatus st = t.allocate(size, alignment, &node, &offset);
            if (st == TlsfStatus::NoSpace) {
                no_space++;
                ASSERT_GT(live_bytes + size, 0u);
                continue;
            }
            ASSERT_EQ(st, TlsfStatus::Ok);
            ASSERT_EQ(offset % alignment, 0u) << "step " << step;
            ASSERT_LE(offset + size, capacity);
            // No overlap with the neighbours in the shadow model.
            auto next = live.lower_bound(offset);
            if (next != live.end()) {
                ASSERT_LE(offset + size, next->first) << "overlaps the next allocation at step " << step;
            }
            if (next != live.begin()) {
                auto prev = std::prev(next);
                ASSERT_LE(prev->first + prev->second.size, offset) << "overlaps the previous allocation at step " << step;
            }
            live[offset] = Live{node, size, alignment};
            live_bytes += size;
        } else {
            auto it = live.begin();
            std::advance(it, static_cast<long>(rng() % live.size()));
            ASSERT_TRUE(t.free(it->second.node));
            live_bytes -= it->second.size;
            live.erase(it);
        }
        ASSERT_EQ(t.used_bytes(), live_bytes);
        ASSERT_EQ(t.allocation_count(), live.size());
        if (step % 97 == 0) {
            char msg[256] = "";
            ASSERT_TRUE(t.check(msg, sizeof(msg))) << "step " << step << ": " << msg;
        }
    }
    EXPECT_GT(no_space, 0) << "the sequence never exhausted the range; make it harder";
    EXPECT_CONSISTENT(t);
    for (auto &kv : live) {
        ASSERT_TRUE(t.free(kv.second.node));
    }
    EXPECT_TRUE(t.empty());
    EXPECT_EQ(t.free_node_count(), 1u);  // everything coalesced back to one range
    EXPECT_EQ(t.largest_free_slow(), capacity);
    EXPECT_CONSISTENT(t);
    t.reset();
    EXPECT_EQ(pool.live(), 0u);
}

TEST(Tlsf, RandomSmall) {
    run_random(1 << 16, 2048, 100000, 1, false);
}

TEST(Tlsf, RandomLargeAlignments) {
    run_random(1 << 22, 100000, 100000, 2, true);
}

TEST(Tlsf, RandomOddCapacity) {
    run_random((1 << 20) + 12345, 30000, 100000, 3, true);
}

TEST(Tlsf, HugeRange) {
    TlsfNodePool pool;
    Tlsf t;
    const uint64_t cap = 1ull << 45;
    ASSERT_TRUE(t.init(&pool, cap, 1));
    uint32_t a = 0, b = 0, c = 0;
    uint64_t oa = 0, ob = 0, oc = 0;
    ASSERT_EQ(t.allocate(5ull << 40, 1 << 16, &a, &oa), TlsfStatus::Ok);
    ASSERT_EQ(t.allocate(3, 1, &b, &ob), TlsfStatus::Ok);
    ASSERT_EQ(t.allocate(1ull << 44, 1ull << 30, &c, &oc), TlsfStatus::Ok);
    EXPECT_EQ(oa, 0u);
    EXPECT_EQ(ob, 5ull << 40);
    EXPECT_EQ(oc % (1ull << 30), 0u);
    EXPECT_CONSISTENT(t);
    EXPECT_TRUE(t.free(b));
    EXPECT_TRUE(t.free(a));
    EXPECT_TRUE(t.free(c));
    EXPECT_EQ(t.free_node_count(), 1u);
}

TEST(TlsfNodePool, GrowsInChunksThroughHostAlloc) {
    uint64_t live_before = hvk::host_alloc_stats().live_allocations;
    uint64_t total_before = hvk::host_alloc_stats().total_allocations;
    {
        TlsfNodePool pool;
        Tlsf t;
        ASSERT_TRUE(t.init(&pool, 1 << 24, 1));
        std::vector<uint32_t> nodes;
        for (int i = 0; i < 10000; i++) {
            uint32_t n = 0;
            uint64_t offset = 0;
            ASSERT_EQ(t.allocate(64, 64, &n, &offset), TlsfStatus::Ok);
            nodes.push_back(n);
        }
        // 10001 nodes: 40 chunks of 256 plus a few table resizes; never one per allocation.
        uint64_t made = hvk::host_alloc_stats().total_allocations - total_before;
        EXPECT_LE(made, 10001u / TlsfNodePool::kChunkNodes + 1 + 8);
        EXPECT_EQ(pool.chunk_count(), (10001u + 1 + TlsfNodePool::kChunkNodes - 1) / TlsfNodePool::kChunkNodes);
        // Freeing and reallocating takes nothing more from the host.
        uint64_t mid = hvk::host_alloc_stats().total_allocations;
        for (uint32_t n : nodes) {
            ASSERT_TRUE(t.free(n));
        }
        for (int i = 0; i < 10000; i++) {
            uint32_t n = 0;
            uint64_t offset = 0;
            ASSERT_EQ(t.allocate(64, 64, &n, &offset), TlsfStatus::Ok);
        }
        EXPECT_EQ(hvk::host_alloc_stats().total_allocations, mid);
        EXPECT_CONSISTENT(t);
    }
    EXPECT_EQ(hvk::host_alloc_stats().live_allocations, live_before);
}

TEST(TlsfNodePool, HostAllocationFailureChangesNothing) {
    TlsfNodePool pool;
    Tlsf t;
    ASSERT_TRUE(t.init(&pool, 1 << 20, 1));
    // Use up the first chunk's nodes (255 usable, one taken by the free range).
    std::vector<uint32_t> nodes;
    while (pool.live() < pool.capacity() - 1) {
        uint32_t n = 0;
        uint64_t offset = 0;
        ASSERT_EQ(t.allocate(16, 16, &n, &offset), TlsfStatus::Ok);
        nodes.push_back(n);
    }
    uint64_t used = t.used_bytes();
    hvk::host_alloc_fail_nth(1);
    uint32_t n = 0;
    uint64_t offset = 0;
    EXPECT_EQ(t.allocate(16, 16, &n, &offset), TlsfStatus::OutOfHostMemory);
    hvk::host_alloc_fail_nth(0);
    EXPECT_EQ(t.used_bytes(), used);
    EXPECT_CONSISTENT(t);
    EXPECT_EQ(t.allocate(16, 16, &n, &offset), TlsfStatus::Ok);
    EXPECT_CONSISTENT(t);
}

// ---------------------------------------------------------------------------
// HL_VK_ALLOC_CONFIG

constexpr uint64_t MiB = 1ull << 20;

struct ConfigCase {
    const char *text;
    bool ok;
    uint64_t pool, min_block, max_block;
    uint32_t count, multiple;
    const char *error_part;  // substring of the message when !ok
};

TEST(AllocConfig, Table) {
    const hvk::ArenaConfig d;
    const ConfigCase cases[] = {
        {"", true, d.maximum_pool_size, d.minimum_block_size, d.maximum_block_size, d.maximum_block_count,
         d.nearest_multiple, nullptr},
        {"1024:16:256:32:64", true, 1024 * MiB, 16 * MiB, 256 * MiB, 32, 64, nullptr},
        {"::64", true, d.maximum_pool_size, d.minimum_block_size, 64 * MiB, d.maximum_block_count,
         d.nearest_multiple, nullptr},
        {"4096", true, 4096 * MiB, d.minimum_block_size, d.maximum_block_size, d.maximum_block_count,
         d.nearest_multiple, nullptr},
        {"4096:2048:8192", true, 4096 * MiB, 2048 * MiB, 8192 * MiB, d.maximum_block_count, d.nearest_multiple,
         nullptr},
        {" 8 : 2 ", true, 8 * MiB, 2 * MiB, d.maximum_block_size, d.maximum_block_count, d.nearest_multiple, nullptr},
        {"1;2;3;4;8", true, 1 * MiB, 2 * MiB, 3 * MiB, 4, 8, nullptr},
        {"0:0:0:0:1", true, 0, 0, 0, 0, 1, nullptr},
        {":::7", true, d.maximum_pool_size, d.minimum_block_size, d.maximum_block_size, 7, d.nearest_multiple,
         nullptr},
        {"1:2:3:4:5:", false, 0, 0, 0, 0, 0, "power of two"},
        {"1:2:3:4:16:", true, 1 * MiB, 2 * MiB, 3 * MiB, 4, 16, nullptr},
        {"1:2:3:4:16:9", false, 0, 0, 0, 0, 0, "more than five"},
        {"abc", false, 0, 0, 0, 0, 0, "field 1 (maximum pool size"},
        {"-1", false, 0, 0, 0, 0, 0, "field 1"},
        {"16:-4", false, 0, 0, 0, 0, 0, "field 2 (minimum block size"},
        {"1.5", false, 0, 0, 0, 0, 0, "not a non-negative decimal integer"},
        {"12MB", false, 0, 0, 0, 0, 0, "\"12MB\""},
        {"::::0", false, 0, 0, 0, 0, 0, "power of two"},
        {"::::48", false, 0, 0, 0, 0, 0, "power of two"},
        {"::::4294967296", false, 0, 0, 0, 0, 0, "power of two"},
        {":::4294967296", false, 0, 0, 0, 0, 0, "field 4 (maximum block count) is \"4294967296\", which is too large"},
        {"99999999999999999999999", false, 0, 0, 0, 0, 0, "too large"},
        {"17592186044416", false, 0, 0, 0, 0, 0, "too large"},  // 2^44 MiB = 2^64 bytes
        {"17592186044415", true, 17592186044415ull * MiB, d.minimum_block_size, d.maximum_block_size,
         d.maximum_block_count, d.nearest_multiple, nullptr},
    };
    for (const ConfigCase &c : cases) {
        hvk::ArenaConfig config;
        char error[256] = "x";
        bool ok = hvk::parse_alloc_config(c.text, &config, error, sizeof(error));
        ASSERT_EQ(ok, c.ok) << "\"" << c.text << "\": " << error;
        if (ok) {
            EXPECT_STREQ(error, "") << c.text;
            EXPECT_EQ(config.maximum_pool_size, c.pool) << c.text;
            EXPECT_EQ(config.minimum_block_size, c.min_block) << c.text;
            EXPECT_EQ(config.maximum_block_size, c.max_block) << c.text;
            EXPECT_EQ(config.maximum_block_count, c.count) << c.text;
            EXPECT_EQ(config.nearest_multiple, c.multiple) << c.text;
        } else {
            EXPECT_NE(std::strstr(error, c.error_part), nullptr) << "\"" << c.text << "\" gave: " << error;
            // All or nothing: a rejected string changes no field.
            EXPECT_EQ(config.maximum_pool_size, d.maximum_pool_size) << c.text;
            EXPECT_EQ(config.minimum_block_size, d.minimum_block_size) << c.text;
            EXPECT_EQ(config.maximum_block_size, d.maximum_block_size) << c.text;
            EXPECT_EQ(config.maximum_block_count, d.maximum_block_count) << c.text;
            EXPECT_EQ(config.nearest_multiple, d.nearest_multiple) << c.text;
        }
        EXPECT_EQ(config.maximum_cached_bytes, d.maximum_cached_bytes) << c.text;
    }
}

TEST(AllocConfig, NullArguments) {
    hvk::ArenaConfig config;
    EXPECT_TRUE(hvk::parse_alloc_config(nullptr, &config, nullptr, 0));
    EXPECT_FALSE(hvk::parse_alloc_config("1", nullptr, nullptr, 0));
    EXPECT_FALSE(hvk::parse_alloc_config("x", &config, nullptr, 0));  // no message buffer: still fails cleanly
}

TEST(AllocConfig, CacheMegabytes) {
    uint64_t bytes = 5;
    char error[128];
    EXPECT_TRUE(hvk::parse_cache_megabytes("", &bytes, error, sizeof(error)));
    EXPECT_EQ(bytes, 5u);
    EXPECT_TRUE(hvk::parse_cache_megabytes("0", &bytes, error, sizeof(error)));
    EXPECT_EQ(bytes, 0u);
    EXPECT_TRUE(hvk::parse_cache_megabytes(" 4096 ", &bytes, error, sizeof(error)));
    EXPECT_EQ(bytes, 4096 * MiB);
    EXPECT_FALSE(hvk::parse_cache_megabytes("-3", &bytes, error, sizeof(error)));
    EXPECT_NE(std::strstr(error, "\"-3\""), nullptr) << error;
    EXPECT_FALSE(hvk::parse_cache_megabytes("lots", &bytes, error, sizeof(error)));
    EXPECT_FALSE(hvk::parse_cache_megabytes("17592186044416", &bytes, error, sizeof(error)));
    EXPECT_EQ(bytes, 4096 * MiB);
}

std::string g_printed;
void capture_print(void *, const char *msg) {
    g_printed += msg;
}

TEST(AllocConfig, FromSettings) {
    halide_print_t old = halide_set_custom_print(capture_print);
    unsetenv("HL_VK_ALLOC_CACHE_MB");
    const hvk::ArenaConfig d;

    halide_vulkan_set_alloc_config("64:8::16:256");
    hvk::ArenaConfig c = hvk::arena_config_from_settings(nullptr);
    EXPECT_EQ(c.maximum_pool_size, 64 * MiB);
    EXPECT_EQ(c.minimum_block_size, 8 * MiB);
    EXPECT_EQ(c.maximum_block_size, d.maximum_block_size);
    EXPECT_EQ(c.maximum_block_count, 16u);
    EXPECT_EQ(c.nearest_multiple, 256u);
    EXPECT_EQ(c.maximum_cached_bytes, d.maximum_cached_bytes);

    g_printed.clear();
    halide_vulkan_set_alloc_config("64:lots");
    setenv("HL_VK_ALLOC_CACHE_MB", "12", 1);
    c = hvk::arena_config_from_settings(nullptr);
    EXPECT_EQ(c.maximum_pool_size, d.maximum_pool_size);
    EXPECT_EQ(c.minimum_block_size, d.minimum_block_size);
    EXPECT_EQ(c.maximum_cached_bytes, 12 * MiB);
    EXPECT_NE(g_printed.find("HL_VK_ALLOC_CONFIG"), std::string::npos) << g_printed;
    EXPECT_NE(g_printed.find("field 2"), std::string::npos) << g_printed;

    g_printed.clear();
    halide_vulkan_set_alloc_config("");
    setenv("HL_VK_ALLOC_CACHE_MB", "many", 1);
    c = hvk::arena_config_from_settings(nullptr);
    EXPECT_EQ(c.maximum_cached_bytes, d.maximum_cached_bytes);
    EXPECT_NE(g_printed.find("HL_VK_ALLOC_CACHE_MB"), std::string::npos) << g_printed;

    unsetenv("HL_VK_ALLOC_CACHE_MB");
    halide_set_custom_print(old);
}

}  // namespace
