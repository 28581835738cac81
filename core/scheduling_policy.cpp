#include "core/scheduling_policy.hpp"

#include <algorithm>

namespace foreman {

namespace {

// Ids grow with arrival, so the smaller id is the older job.
bool older(const queued_job& a, const queued_job& b) {
  return a.id < b.id;
}

bool earlier_turn(const queued_job& a, const queued_job& b) {
  return a.turn != b.turn ? a.turn < b.turn : older(a, b);
}

bool is_resident(const queued_job& x, const std::vector<std::string>& groups) {
  return std::find(groups.begin(), groups.end(), x.group_key) != groups.end();
}

} // namespace

std::optional<int64_t>
choose_next_job(const std::vector<queued_job>& candidates,
                const std::vector<std::string>& resident_group_keys,
                int64_t now_ms, const scheduling_rules& rules) {
  if (candidates.empty())
    return std::nullopt;
  auto oldest = std::min_element(candidates.begin(), candidates.end(), older);
  if (rules.max_wait_ms > 0 && now_ms - oldest->created_at_ms >= rules.max_wait_ms)
    return oldest->id;
  auto top_priority
    = std::max_element(candidates.begin(), candidates.end(),
                       [](const queued_job& a, const queued_job& b) {
                         return a.priority < b.priority;
                       })
        ->priority;
  const queued_job* best_resident = nullptr;
  const queued_job* best_any = nullptr;
  for (auto& x : candidates) {
    if (x.priority != top_priority)
      continue;
    if (best_any == nullptr || earlier_turn(x, *best_any))
      best_any = &x;
    if (rules.drain_by_model && is_resident(x, resident_group_keys)
        && (best_resident == nullptr || earlier_turn(x, *best_resident)))
      best_resident = &x;
  }
  return best_resident != nullptr ? best_resident->id : best_any->id;
}

} // namespace foreman
