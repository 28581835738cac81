#pragma once

#include <chrono>
#include <optional>

namespace foreman {

/// Thins a stream of updates out to at most one per interval: the first
/// goes at once, a later one only when the interval has passed since the
/// last one that went. The caller sends a final update itself, whatever the
/// throttle says, so the last word is never lost.
class update_throttle {
public:
  explicit update_throttle(std::chrono::milliseconds interval) : interval_(interval) {
  }

  /// Whether an update at `now` should go out; if so, it counts as sent.
  bool admit(std::chrono::steady_clock::time_point now) {
    if (last_sent_ && now - *last_sent_ < interval_)
      return false;
    last_sent_ = now;
    return true;
  }

private:
  std::chrono::milliseconds interval_;
  std::optional<std::chrono::steady_clock::time_point> last_sent_;
};

} // namespace foreman
