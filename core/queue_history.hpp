#pragma once

#include <cstdint>
#include <vector>

#include "messages/events.hpp"

namespace foreman {

/// The queue as a stats event reports it at one time.
struct queue_sample {
  int64_t at_ms = 0;
  /// Jobs queued then.
  int64_t queued = 0;
  /// Jobs that ended in the minute up to then.
  int64_t jobs_per_minute = 0;
};

/// One sample a minute back from the history's end (the last at its end),
/// as far back as its start, oldest first. The depth a minute back is the
/// depth after it less what entered the queue in that minute, plus what
/// left it.
std::vector<queue_sample> queue_samples(const journal_history& history);

} // namespace foreman
