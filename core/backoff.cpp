#include "core/backoff.hpp"

#include <algorithm>

namespace foreman {

jittered_backoff::jittered_backoff(std::chrono::milliseconds first,
                                   std::chrono::milliseconds cap)
  : first_(first), cap_(cap), random_(std::random_device{}()) {
}

std::chrono::milliseconds jittered_backoff::ceiling(int32_t n) const {
  auto longest = std::min(first_, cap_);
  // Doubling stops at the cap, so no shift can overflow.
  for (int32_t i = 1; i < n && longest < cap_; ++i)
    longest = std::min(longest * 2, cap_);
  return longest;
}

std::chrono::milliseconds jittered_backoff::delay(int32_t n) {
  auto longest = ceiling(n).count();
  std::uniform_int_distribution<int64_t> pick{longest / 2, longest};
  return std::chrono::milliseconds{pick(random_)};
}

} // namespace foreman
