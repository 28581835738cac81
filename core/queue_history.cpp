#include "core/queue_history.hpp"

#include <algorithm>
#include <map>

namespace foreman {

std::vector<queue_sample> queue_samples(const journal_history& history) {
  constexpr int64_t minute_ms = 60 * 1000;
  std::map<int64_t, minute_activity> by_minutes_ago;
  for (auto& x : history.minutes)
    by_minutes_ago[x.minutes_ago] = x;
  std::vector<queue_sample> samples;
  auto depth = history.queued_now;
  for (int64_t ago = 0; history.to_ms - ago * minute_ms >= history.from_ms; ++ago) {
    auto minute = by_minutes_ago[ago];
    samples.push_back({history.to_ms - ago * minute_ms, depth, minute.ended});
    depth -= minute.entered_queue - minute.left_queue;
  }
  std::reverse(samples.begin(), samples.end());
  return samples;
}

} // namespace foreman
