// Staging memory for copies between host memory and device memory that the
// host cannot (or should not) map directly.
//
// Two persistent rings per Device, one per direction, each a single
// VkBuffer over host-visible arena memory (MemoryUsage::Upload: prefers
// coherent; MemoryUsage::Readback: prefers HOST_CACHED), created on first
// use and grown geometrically (to at most kMaxCapacity) when a request does
// not fit. A span handed out by acquire() belongs to the batch that commit()
// names; it becomes reusable once that batch's serial has completed. When
// the ring is full, acquire() waits for the oldest batch still holding
// space (flushing it first if it is the open batch). Warm, a copy creates
// no Vulkan object and allocates nothing.
//
// Copies larger than max_piece() are split into pieces, so at most
// kMaxCapacity bytes of staging exist per direction and the host's memcpy
// of one piece overlaps the GPU's copy of the previous one.
//
// Thread safety: callers hold Device::mutex.
#pragma once

#include <cstdint>

#include "vulkan/memory/arena.h"
#include "vulkan/context/device.h"
#include "vulkan/submit/submitter.h"

namespace hvk {

enum class StagingDirection : uint8_t { Upload = 0, Readback = 1 };

struct StagingSpan {
    VkBuffer buffer = VK_NULL_HANDLE;  // the ring's VkBuffer
    VkDeviceSize offset = 0;           // of the span inside `buffer`
    VkDeviceSize size = 0;
    uint8_t *host = nullptr;           // mapped address of `offset`
    StagingDirection direction = StagingDirection::Upload;
};

class Staging {
public:
    static constexpr VkDeviceSize kMaxCapacity = 64ull << 20;
    // 4 MiB: on an H200 (NVIDIA 580) 64 MiB copies in 4 MiB pieces beat
    // 16 MiB pieces (download 0.73x vs 0.93x of a raw serial copy's time,
    // upload 0.86x vs 0.92x), while pieces of 512 KiB or less lose: every
    // vkQueueSubmit behind a busy queue costs tens of microseconds there
    // (a raw program in 128 KiB chunks is 2x slower than unchunked).
    static constexpr VkDeviceSize kMaxPiece = 4ull << 20;
    static constexpr VkDeviceSize kInitialCapacity = 1ull << 20;
    // VkBufferCopy entries per vkCmdCopyBuffer (preallocated, reused).
    static constexpr uint32_t kRegionCapacity = 256;

    // Makes the ring at least `bytes` (<= kMaxCapacity) big, reallocating it
    // (after waiting for every batch using it) if needed. A copy reserves
    // room for all the pieces it keeps in flight before acquiring any, so
    // that no span it holds is moved by a reallocation.
    virtual int reserve(void *user_context, StagingDirection dir, VkDeviceSize bytes) = 0;
    // Reserves `size` (1 .. kMaxCapacity, normally <= kMaxPiece; a readback
    // takes 2 * kMaxPiece and manages the halves itself) bytes. May wait
    // for older batches. The span is busy until commit()'s batch completes:
    // a user that also reads the span on the host after that batch must do
    // so before its next acquire() of the same direction.
    virtual int acquire(void *user_context, StagingDirection dir, VkDeviceSize size, StagingSpan *out) = 0;
    // `span` is used by batch `serial` (normally recording_serial()); it is
    // not handed out again before that batch has completed.
    virtual void commit(const StagingSpan &span, uint64_t serial) = 0;
    // Makes host writes to [offset, offset+size) of the span visible to the
    // device / device writes visible to the host (no-ops on coherent memory).
    virtual int flush_writes(void *user_context, const StagingSpan &span, VkDeviceSize offset,
                             VkDeviceSize size) = 0;
    virtual int invalidate_reads(void *user_context, const StagingSpan &span, VkDeviceSize offset,
                                 VkDeviceSize size) = 0;

    // Scratch array for vkCmdCopyBuffer regions (kRegionCapacity entries).
    virtual VkBufferCopy *regions() = 0;

    // Current ring capacities (bytes), for tests and statistics.
    virtual VkDeviceSize capacity(StagingDirection dir) const = 0;
    // Times a ring buffer was (re)allocated since creation.
    virtual uint64_t reallocations() const = 0;

    virtual ~Staging() = default;
};

// Test hook: when set, copies never use the direct mapping of host-visible
// Owned regions (they go through staging as for wrapped buffers), so the
// staging paths can be tested on devices where all memory is host visible.
void set_copies_force_staging(bool on);
bool copies_force_staging();
// Benchmark hook: the piece size of staged copies (0: the default policy).
void set_staging_piece_bytes(uint64_t bytes);

// The staging rings of `d` (stored in s->staging; destroyed with the
// submitter). `arena` supplies the memory. Caller holds d->mutex.
int ensure_staging(void *user_context, Device *d, Submitter *s, Arena *arena, Staging **out);
// Waits for nothing: the caller has waited for the queue. Frees the rings.
void destroy_staging(Device *d, Staging *staging);

}  // namespace hvk
