// Command submission for one Device: the queue, command buffers, fences.
//
// Kernels are recorded into an open batch and submitted lazily; anything
// that needs results on the host (copy_to_host, device_sync, a staging
// read) flushes and waits. Every batch has a serial number so that users of
// transient resources (staging and uniform rings) know when the GPU is done
// with them. Thread safety: callers hold Device::mutex for every call,
// including ensure_submitter; the submitter itself takes no lock, and the
// queue (Device::queue) is only ever used with that mutex held.
//
// Ordering: every batch begins with a global memory barrier (earlier
// batches' compute/transfer writes -> this batch's compute/transfer
// accesses) and ends with one that makes all writes available to the host
// (so a fence wait followed by a mapped read is valid). Inside a batch,
// callers record record_barrier() before a command that depends on earlier
// commands of the same batch.
//
// Errors: Vulkan failures are reported with the VkResult name and code -1.
// A failed submission from flush(false) is also remembered and returned
// (once) by the next wait. VK_ERROR_DEVICE_LOST is sticky: every later
// call fails until the Device is torn down (halide_device_release).
#pragma once

#include <cstdint>

#include "vulkan/context/device.h"

namespace hvk {

class Staging;

// HL_VK_SYNC=1: every submission waits for the GPU (debugging aid).
bool sync_mode();

class Submitter {
public:
    // Creates the submitter for `d` (command pool, a few command buffers and
    // fences, created once and recycled). Returns 0 or a reported error code.
    static int create(void *user_context, Device *d, Submitter **out);
    static void destroy(Device *d, Submitter *s);

    // The command buffer of the open batch, beginning one if none is open,
    // with one full memory barrier already recorded: what the caller records
    // next runs after, and sees the writes of, everything recorded or
    // submitted earlier (one barrier, whether the batch is new or not).
    virtual int record(void *user_context, VkCommandBuffer *out) = 0;

    // A full compute+transfer memory barrier in the open batch: writes by
    // earlier dispatches/copies become visible to later ones.
    virtual void record_barrier(VkCommandBuffer cb) = 0;

    // Submits the open batch (if any). With wait, returns after the GPU has
    // finished every batch submitted so far. Returns 0 or a reported code.
    virtual int flush(void *user_context, bool wait) = 0;

    // Serial of the open batch (the one record() adds to); batches are
    // numbered from 1 upwards.
    virtual uint64_t recording_serial() const = 0;
    // Highest serial known to have completed on the GPU (polls fences).
    virtual uint64_t completed_serial() = 0;
    // Waits until batch `serial` has completed, flushing it first if it is
    // still open. Returns 0 or a reported code.
    virtual int wait_for(void *user_context, uint64_t serial) = 0;

    // Number of batches submitted since creation (for tests and stats).
    virtual uint64_t submit_count() const = 0;

    // True when a batch is open (recorded, not yet submitted).
    virtual bool has_open_batch() const = 0;
    // True when nothing is open and every submitted batch has completed
    // (polls fences); host access to any device memory is then safe.
    virtual bool idle() = 0;

    virtual ~Submitter() = default;

    // Staging rings (staging.h) of this device; owned and destroyed by the
    // submitter's teardown, before the submitter itself.
    Staging *staging = nullptr;
};

// The submitter of `d`, created on first use and stored in d->submitter
// (destroyed by the device teardown, order 30, after waiting for the
// queue). Caller holds d->mutex. Returns 0 or a reported error code.
int ensure_submitter(void *user_context, Device *d, Submitter **out);

}  // namespace hvk
