// Shared by every GoogleTest binary: an error handler that records instead
// of aborting, and a listener that fails any test during which the Vulkan
// validation layer (or driver) reported a warning or error.
#pragma once

#include <string>
#include <vector>

namespace hvk_test {

// Messages passed to halide_error since the last clear(), in order.
std::vector<std::string> errors();
void clear_errors();
// The last message, or "" when none.
std::string last_error();
// True if any recorded message contains `needle`.
bool error_contains(const char *needle);

// Lets the current test end with validation messages (for tests that
// trigger one on purpose to prove the messenger works).
void allow_validation_messages();

// True when the suite runs with the validation layer (-Dvalidation=true).
bool validation_enabled();

}  // namespace hvk_test
