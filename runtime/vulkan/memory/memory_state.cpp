#include "vulkan/memory/memory_state.h"

#include "vulkan/memory/arena.h"
#include "vulkan/memory/region_table.h"
#include "common/report.h"

namespace hvk {
namespace {

void teardown_regions(Device *d) {
    if (d->regions != nullptr) {
        destroy_region_table(d);
    }
}

void teardown_arena(Device *d) {
    if (d->arena != nullptr) {
        Arena::destroy(d, d->arena);
        d->arena = nullptr;
    }
}

// Live regions of a released device become stale handles; their VkBuffers
// go before the arena frees the memory they are bound to.
const TeardownRegistration g_regions_teardown(20, teardown_regions);
const TeardownRegistration g_arena_teardown(40, teardown_arena);

}  // namespace

int ensure_memory_state(void *uc, Device *d) {
    if (d->arena == nullptr) {
        const ArenaConfig config = arena_config_from_settings(uc);
        Arena *arena = nullptr;
        if (int rc = Arena::create(uc, d, config, &arena)) {
            return rc;
        }
        d->arena = arena;
    }
    if (d->regions == nullptr) {
        return create_region_table(uc, d);
    }
    return 0;
}

int ensure_arena(void *uc, Device *d, Arena **out) {
    int rc = ensure_memory_state(uc, d);
    *out = rc == 0 ? d->arena : nullptr;
    return rc;
}

}  // namespace hvk
