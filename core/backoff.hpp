#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace foreman {

/// Exponential backoff with jitter: the n-th retry waits a random time
/// between half and all of first * 2^(n-1), at most `cap`, so retries of
/// many jobs or events that failed together do not arrive in step.
class jittered_backoff {
public:
  jittered_backoff(std::chrono::milliseconds first, std::chrono::milliseconds cap);

  /// The wait before retry number `n` (1 = the first retry).
  std::chrono::milliseconds delay(int32_t n);

  /// The longest wait before retry number `n`.
  std::chrono::milliseconds ceiling(int32_t n) const;

private:
  std::chrono::milliseconds first_;
  std::chrono::milliseconds cap_;
  std::minstd_rand random_;
};

} // namespace foreman
