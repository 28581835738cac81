#pragma once

// foreman's command-line arguments that let a number of synchronous callers
// wait for their jobs at once: the one place that knows which settings
// bound them.

#include <algorithm>
#include <string>
#include <vector>

namespace foreman_loadgen {

/// Room for `callers` waiting callers and their queued jobs, with a margin
/// for the few quick requests (e.g. GET /status) a run makes meanwhile.
inline std::vector<std::string> foreman_waiting_args(int callers) {
  const int margin = 100;
  // foreman accepts --http-threads up to 10000: one HTTP thread per caller.
  const int threads = std::min(callers + margin, 10000);
  return {"--http-threads", std::to_string(threads), "--max-queue",
          std::to_string(callers + margin)};
}

} // namespace foreman_loadgen
