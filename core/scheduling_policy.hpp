#pragma once

// Which queued job runs next: a pure function of the candidates, the models
// resident on the target and the clock, so it can be tested on its own.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "messages/job.hpp"

namespace foreman {

struct scheduling_rules {
  /// A job that has waited this long goes next whatever its model; 0 = no
  /// bound.
  int64_t max_wait_ms = 0;
  /// Prefer jobs whose model is resident (drain by model); false gives plain
  /// priority-then-FIFO order, the baseline the benchmarks compare against.
  bool drain_by_model = true;
};

/// Picks among `candidates` (see queue_candidates):
/// 1. the longest-waiting job once it has waited max_wait or more;
/// 2. otherwise, within the highest priority, the oldest job whose model is
///    resident (no reload);
/// 3. otherwise the oldest job of the highest priority.
std::optional<int64_t>
choose_next_job(const std::vector<queued_job>& candidates,
                const std::vector<std::string>& resident_model_keys,
                int64_t now_ms, const scheduling_rules& rules);

} // namespace foreman
