#pragma once

#include <chrono>
#include <cstdint>

namespace foreman {

/// Milliseconds since the Unix epoch, now: the time unit of every stored
/// timestamp.
inline int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace foreman
