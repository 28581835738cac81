#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace foreman {

/// The one pending wake-up an actor keeps for the earliest of its due times
/// (backoffs ending): a due time before the pending wake-up needs a new one,
/// a later one is looked at when the pending one comes. Times are on one
/// monotonic timeline (see due_time_clock).
class wake_timer {
public:
  /// The delay after which to wake for `due_ms` (0 = nothing due), or none
  /// when the pending wake-up comes no later.
  std::optional<std::chrono::milliseconds> arm(int64_t due_ms, int64_t now_ms) {
    if (due_ms == 0 || (pending_ms_ != 0 && pending_ms_ <= due_ms))
      return std::nullopt;
    pending_ms_ = due_ms;
    return std::chrono::milliseconds{due_ms > now_ms ? due_ms - now_ms : 0};
  }

  /// A wake-up arrived at `now_ms`: once the pending one's time has come,
  /// any later due time needs a wake-up of its own.
  void woke(int64_t now_ms) {
    if (pending_ms_ <= now_ms)
      pending_ms_ = 0;
  }

private:
  int64_t pending_ms_ = 0;
};

} // namespace foreman
