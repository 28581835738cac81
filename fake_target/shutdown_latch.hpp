#pragma once

// Lets sleeping request threads (token pacing, injected delays, hangs) wake
// up at once when the server stops, so shutdown never waits on them.

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace fake_ollama {

class shutdown_latch {
public:
  void trigger() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      triggered_ = true;
    }
    cv_.notify_all();
  }

  bool triggered() {
    std::lock_guard<std::mutex> lock(mutex_);
    return triggered_;
  }

  /// Sleeps for `duration`; returns false when shutdown cut it short.
  template <class Rep, class Period>
  bool sleep_for(std::chrono::duration<Rep, Period> duration) {
    std::unique_lock<std::mutex> lock(mutex_);
    return !cv_.wait_for(lock, duration, [this] { return triggered_; });
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool triggered_ = false;
};

} // namespace fake_ollama
