#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

namespace foreman {

/// Milliseconds since the Unix epoch, now: the time unit of every stored
/// timestamp.
inline int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// The time as actors read it: wall time for timestamps that are stored or
/// shown, monotonic time for durations and delays. Actors take one so tests
/// can drive it along with the deterministic scheduler's simulated time.
class time_source {
public:
  virtual ~time_source() = default;

  /// Milliseconds since the Unix epoch.
  virtual int64_t wall_ms() const = 0;

  /// Milliseconds on a clock that never jumps; its zero means nothing.
  virtual int64_t steady_ms() const = 0;
};

/// The system's clocks.
std::shared_ptr<const time_source> system_clock();

/// Due times (retry backoffs) are stored as Unix milliseconds, so a restart
/// still honours them, but within a run they are set and compared on this
/// timeline: the wall time when it was made plus the monotonic time since.
/// Setting the wall clock during the run then moves no due time.
class due_time_clock {
public:
  explicit due_time_clock(std::shared_ptr<const time_source> source)
    : source_(std::move(source)),
      wall_at_start_(source_->wall_ms()),
      steady_at_start_(source_->steady_ms()) {
  }

  int64_t now_ms() const {
    return wall_at_start_ + (source_->steady_ms() - steady_at_start_);
  }

private:
  std::shared_ptr<const time_source> source_;
  int64_t wall_at_start_;
  int64_t steady_at_start_;
};

} // namespace foreman
