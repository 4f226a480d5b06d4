// The command submitter on its own: batches, serials, fences, barriers,
// recycling, and no host allocation once warm. GPU work is recorded into
// test-created buffers and checked through their host mapping.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

#include "vulkan/context/context_scope.h"
#include "vulkan/util/host_alloc.h"
#include "vulkan/submit/submitter.h"
#include "test_env.h"
#include "test_vk_buffer.h"

namespace {

using hvk::Device;
using hvk::Submitter;

using hvk_test::TestVkBuffer;

class SubmitterTest : public ::testing::Test {
protected:
    void SetUp() override {
        hvk_test::clear_errors();
        scope_ = new hvk::ContextScope(nullptr, "SubmitterTest");
        ASSERT_TRUE(scope_->ok());
        d_ = scope_->device();
        ASSERT_NE(d_, nullptr);
        lock_ = std::unique_lock<std::recursive_mutex>(d_->mutex);
        ASSERT_EQ(hvk::ensure_submitter(nullptr, d_, &s_), 0);
        ASSERT_NE(s_, nullptr);
        ASSERT_EQ(d_->submitter, s_);
    }
    void TearDown() override {
        if (s_ != nullptr) {
            EXPECT_EQ(s_->flush(nullptr, true), 0);
        }
        lock_ = {};
        delete scope_;
        EXPECT_TRUE(hvk_test::errors().empty()) << hvk_test::last_error();
    }
    hvk::ContextScope *scope_ = nullptr;
    Device *d_ = nullptr;
    Submitter *s_ = nullptr;
    std::unique_lock<std::recursive_mutex> lock_;
};

TEST_F(SubmitterTest, EnsureReturnsTheSameSubmitter) {
    Submitter *again = nullptr;
    ASSERT_EQ(hvk::ensure_submitter(nullptr, d_, &again), 0);
    EXPECT_EQ(again, s_);
}

TEST_F(SubmitterTest, FillThenWait) {
    TestVkBuffer b(d_, 4096);
    const uint64_t serial = s_->recording_serial();
    const uint64_t submits = s_->submit_count();
    EXPECT_FALSE(s_->has_open_batch());
    VkCommandBuffer cb = VK_NULL_HANDLE;
    ASSERT_EQ(s_->record(nullptr, &cb), 0);
    ASSERT_NE(cb, VK_NULL_HANDLE);
    EXPECT_TRUE(s_->has_open_batch());
    EXPECT_EQ(s_->recording_serial(), serial);
    // A second record() continues the same batch.
    VkCommandBuffer cb2 = VK_NULL_HANDLE;
    ASSERT_EQ(s_->record(nullptr, &cb2), 0);
    EXPECT_EQ(cb, cb2);
    d_->vk.vkCmdFillBuffer(cb, b.buffer, 0, 4096, 0xDEADBEEFu);
    EXPECT_FALSE(s_->idle());
    ASSERT_EQ(s_->flush(nullptr, true), 0);
    EXPECT_EQ(s_->submit_count(), submits + 1);
    EXPECT_EQ(s_->recording_serial(), serial + 1);
    EXPECT_GE(s_->completed_serial(), serial);
    EXPECT_TRUE(s_->idle());
    for (size_t i = 0; i < 1024; i++) {
        ASSERT_EQ(b.word(i), 0xDEADBEEFu) << i;
    }
}

TEST_F(SubmitterTest, FlushWithNothingOpenIsANoOp) {
    const uint64_t submits = s_->submit_count();
    const uint64_t serial = s_->recording_serial();
    EXPECT_EQ(s_->flush(nullptr, false), 0);
    EXPECT_EQ(s_->flush(nullptr, true), 0);
    EXPECT_EQ(s_->submit_count(), submits);
    EXPECT_EQ(s_->recording_serial(), serial);
    // Waiting for serials that are done, or that do not exist yet, returns.
    EXPECT_EQ(s_->wait_for(nullptr, 0), 0);
    EXPECT_EQ(s_->wait_for(nullptr, serial + 100), 0);
}

TEST_F(SubmitterTest, WaitForTheOpenBatchSubmitsIt) {
    TestVkBuffer b(d_, 256);
    VkCommandBuffer cb = VK_NULL_HANDLE;
    ASSERT_EQ(s_->record(nullptr, &cb), 0);
    const uint64_t serial = s_->recording_serial();
    d_->vk.vkCmdFillBuffer(cb, b.buffer, 0, 256, 0x01020304u);
    ASSERT_EQ(s_->wait_for(nullptr, serial), 0);
    EXPECT_FALSE(s_->has_open_batch());
    EXPECT_GE(s_->completed_serial(), serial);
    EXPECT_EQ(b.word(63), 0x01020304u);
}

TEST_F(SubmitterTest, BarrierOrdersCommandsInOneBatch) {
    TestVkBuffer a(d_, 1 << 16), b(d_, 1 << 16);
    VkCommandBuffer cb = VK_NULL_HANDLE;
    ASSERT_EQ(s_->record(nullptr, &cb), 0);
    d_->vk.vkCmdFillBuffer(cb, a.buffer, 0, 1 << 16, 0x5A5A5A5Au);
    s_->record_barrier(cb);
    VkBufferCopy region{0, 0, 1 << 16};
    d_->vk.vkCmdCopyBuffer(cb, a.buffer, b.buffer, 1, &region);
    s_->record_barrier(cb);
    d_->vk.vkCmdFillBuffer(cb, a.buffer, 0, 1 << 15, 0u);  // write after read
    ASSERT_EQ(s_->flush(nullptr, true), 0);
    EXPECT_EQ(b.word(0), 0x5A5A5A5Au);
    EXPECT_EQ(b.word((1 << 14) - 1), 0x5A5A5A5Au);
    EXPECT_EQ(a.word(0), 0u);
    EXPECT_EQ(a.word((1 << 14) - 1), 0x5A5A5A5Au);
}

TEST_F(SubmitterTest, BatchesAreOrderedWithoutWaiting) {
    // Batch 1 fills A; batch 2 copies A to B; only then the host waits.
    TestVkBuffer a(d_, 1 << 20), b(d_, 1 << 20);
    VkCommandBuffer cb = VK_NULL_HANDLE;
    ASSERT_EQ(s_->record(nullptr, &cb), 0);
    d_->vk.vkCmdFillBuffer(cb, a.buffer, 0, VK_WHOLE_SIZE, 0x11223344u);
    ASSERT_EQ(s_->flush(nullptr, false), 0);
    ASSERT_EQ(s_->record(nullptr, &cb), 0);
    VkBufferCopy region{0, 0, 1 << 20};
    d_->vk.vkCmdCopyBuffer(cb, a.buffer, b.buffer, 1, &region);
    const uint64_t last = s_->recording_serial();
    ASSERT_EQ(s_->flush(nullptr, false), 0);
    ASSERT_EQ(s_->wait_for(nullptr, last), 0);
    EXPECT_EQ(b.word(0), 0x11223344u);
    EXPECT_EQ(b.word((1 << 18) - 1), 0x11223344u);
}

TEST_F(SubmitterTest, ManyBatchesInFlightRecycleSlots) {
    constexpr int kBatches = 300;  // more than the slot limit
    TestVkBuffer b(d_, kBatches * 4);
    std::vector<uint64_t> serials;
    const uint64_t first = s_->recording_serial();
    const uint64_t submits = s_->submit_count();
    for (int i = 0; i < kBatches; i++) {
        VkCommandBuffer cb = VK_NULL_HANDLE;
        ASSERT_EQ(s_->record(nullptr, &cb), 0);
        serials.push_back(s_->recording_serial());
        d_->vk.vkCmdFillBuffer(cb, b.buffer, VkDeviceSize(i) * 4, 4, uint32_t(i) * 7 + 1);
        ASSERT_EQ(s_->flush(nullptr, false), 0);
    }
    EXPECT_EQ(s_->submit_count(), submits + kBatches);
    for (int i = 0; i < kBatches; i++) {
        EXPECT_EQ(serials[size_t(i)], first + uint64_t(i));
    }
    ASSERT_EQ(s_->wait_for(nullptr, serials.back()), 0);
    EXPECT_GE(s_->completed_serial(), serials.back());
    for (int i = 0; i < kBatches; i++) {
        ASSERT_EQ(b.word(size_t(i)), uint32_t(i) * 7 + 1) << i;
    }
}

TEST_F(SubmitterTest, CompletedSerialIsMonotonic) {
    TestVkBuffer b(d_, 1 << 20);
    uint64_t prev = s_->completed_serial();
    for (int i = 0; i < 20; i++) {
        VkCommandBuffer cb = VK_NULL_HANDLE;
        ASSERT_EQ(s_->record(nullptr, &cb), 0);
        d_->vk.vkCmdFillBuffer(cb, b.buffer, 0, VK_WHOLE_SIZE, uint32_t(i));
        ASSERT_EQ(s_->flush(nullptr, false), 0);
        uint64_t now = s_->completed_serial();
        EXPECT_GE(now, prev);
        EXPECT_LT(now, s_->recording_serial());
        prev = now;
    }
    ASSERT_EQ(s_->flush(nullptr, true), 0);
    EXPECT_EQ(s_->completed_serial(), s_->recording_serial() - 1);
}

TEST_F(SubmitterTest, WarmSubmitsAllocateNothing) {
    TestVkBuffer b(d_, 4096);
    for (int i = 0; i < 10; i++) {  // warm up
        VkCommandBuffer cb = VK_NULL_HANDLE;
        ASSERT_EQ(s_->record(nullptr, &cb), 0);
        d_->vk.vkCmdFillBuffer(cb, b.buffer, 0, 4096, 1u);
        ASSERT_EQ(s_->flush(nullptr, i % 2 == 0), 0);
    }
    ASSERT_EQ(s_->flush(nullptr, true), 0);
    const hvk::HostAllocStats before = hvk::host_alloc_stats();
    for (int i = 0; i < 100; i++) {
        VkCommandBuffer cb = VK_NULL_HANDLE;
        ASSERT_EQ(s_->record(nullptr, &cb), 0);
        d_->vk.vkCmdFillBuffer(cb, b.buffer, 0, 4096, uint32_t(i));
        s_->record_barrier(cb);
        ASSERT_EQ(s_->flush(nullptr, i % 3 == 0), 0);
        (void)s_->completed_serial();
    }
    ASSERT_EQ(s_->flush(nullptr, true), 0);
    const hvk::HostAllocStats after = hvk::host_alloc_stats();
    EXPECT_EQ(after.total_allocations, before.total_allocations);
    EXPECT_EQ(b.word(0), 99u);
}

}  // namespace
