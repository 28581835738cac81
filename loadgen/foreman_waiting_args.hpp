#pragma once

// foreman's command-line arguments that let a number of synchronous callers
// wait for their jobs at once: the one place that knows which settings
// bound them.

#include <string>
#include <vector>

namespace foreman_loadgen {

/// Room for `callers` waiting callers and their queued jobs, with a margin
/// for the few quick requests (e.g. GET /status) a run makes meanwhile.
inline std::vector<std::string> foreman_waiting_args(int callers) {
  const auto room = std::to_string(callers + 100);
  return {"--max-waiting", room, "--max-queue", room};
}

} // namespace foreman_loadgen
