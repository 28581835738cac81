#pragma once

// Which queued job runs next: a pure function of the candidates, the groups
// resident on the target and the clock, so it can be tested on its own.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "messages/job.hpp"

namespace foreman {

/// When the worker unloads the chat model it ran last before loading
/// another group, so the target never has to pick a model to evict (and
/// never picks the pinned embedder).
enum class unload_on_switch : uint8_t {
  /// Once the target has been seen evicting a model to make room.
  automatic,
  always,
  never,
};

struct scheduling_rules {
  /// A job that has waited this long goes next whatever its model; 0 = no
  /// bound.
  int64_t max_wait_ms = 0;
  /// Prefer jobs whose group is resident (drain by model); false gives plain
  /// priority-then-turn order, the baseline the benchmarks compare against.
  bool drain_by_model = true;
};

/// Picks among `candidates` (see queue_candidates):
/// 1. the longest-waiting job once it has waited max_wait or more;
/// 2. otherwise, within the highest priority, the job with the earliest turn
///    whose group (model and load options) is resident, so no reload is
///    needed;
/// 3. otherwise the job with the earliest turn of the highest priority.
/// Turns interleave clients, so within a priority and a group clients take
/// turns; ties go to the older job.
std::optional<int64_t>
choose_next_job(const std::vector<queued_job>& candidates,
                const std::vector<std::string>& resident_group_keys,
                int64_t now_ms, const scheduling_rules& rules);

} // namespace foreman
