#include "core/keep_alive.hpp"

#include <charconv>
#include <cstdint>

#include "core/duration.hpp"

namespace foreman {

std::optional<keep_alive> keep_alive::parse(std::string_view text) {
  int64_t seconds = 0;
  auto first = text.data();
  auto last = text.data() + text.size();
  if (!text.empty() && text.front() == '+')
    ++first; // from_chars does not take a leading plus
  auto [end, ec] = std::from_chars(first, last, seconds);
  if (!text.empty() && ec == std::errc{} && end == last)
    return keep_alive{std::to_string(seconds), seconds == 0};
  auto ns = parse_go_duration(text);
  if (!ns)
    return std::nullopt;
  return keep_alive{"\"" + std::string{text} + "\"", *ns == 0};
}

keep_alive keep_alive::forever() {
  return keep_alive{"-1", false};
}

} // namespace foreman
