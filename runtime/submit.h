// Command submission for one Device: the queue, command buffers, fences.
//
// Kernels are recorded into an open batch and submitted lazily; anything
// that needs results on the host (copy_to_host, device_sync, a staging
// read) flushes and waits. Every batch has a serial number so that users of
// transient resources (staging and uniform rings) know when the GPU is done
// with them. Thread safety: callers hold Device::mutex.
#pragma once

#include <cstdint>

#include "device.h"

namespace hvk {

class Submitter {
public:
    // Creates the submitter for `d` (command pool, a few command buffers and
    // fences, created once and recycled). Returns 0 or a reported error code.
    static int create(void *user_context, Device *d, Submitter **out);
    static void destroy(Device *d, Submitter *s);

    // The command buffer of the open batch, beginning one if none is open.
    // Everything recorded into it runs after everything recorded earlier
    // (record_barrier() orders memory between commands).
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

    virtual ~Submitter() = default;
};

}  // namespace hvk
