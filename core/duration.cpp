#include "core/duration.hpp"

#include <cctype>
#include <charconv>
#include <limits>

namespace foreman {

namespace {

struct unit {
  std::string_view suffix;
  int64_t nanoseconds;
};

// Longest suffixes first so "ms" is not read as "m" followed by garbage.
constexpr unit units[] = {
  {"ns", 1},
  {"us", 1000},
  {"\xC2\xB5s", 1000}, // U+00B5 micro sign
  {"\xCE\xBCs", 1000}, // U+03BC Greek mu
  {"ms", 1000000},
  {"s", 1000000000},
  {"m", 60LL * 1000000000},
  {"h", 3600LL * 1000000000},
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

} // namespace

std::optional<int64_t> parse_go_duration(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text == "0")
    return 0;
  if (text.empty())
    return std::nullopt;
  long double total = 0;
  while (!text.empty()) {
    // A number with an optional fraction; at least one digit on either side.
    size_t pos = 0;
    long double value = 0;
    bool any_digit = false;
    while (pos < text.size() && is_digit(text[pos])) {
      value = value * 10 + (text[pos] - '0');
      ++pos;
      any_digit = true;
    }
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      long double scale = 0.1L;
      while (pos < text.size() && is_digit(text[pos])) {
        value += (text[pos] - '0') * scale;
        scale /= 10;
        ++pos;
        any_digit = true;
      }
    }
    if (!any_digit)
      return std::nullopt;
    text.remove_prefix(pos);
    const unit* matched = nullptr;
    for (auto& u : units) {
      if (text.substr(0, u.suffix.size()) == u.suffix
          && (matched == nullptr || u.suffix.size() > matched->suffix.size()))
        matched = &u;
    }
    if (matched == nullptr)
      return std::nullopt; // missing or unknown unit
    total += value * matched->nanoseconds;
    if (total > static_cast<long double>(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
    text.remove_prefix(matched->suffix.size());
  }
  auto result = static_cast<int64_t>(total);
  return negative ? -result : result;
}

std::optional<int64_t> parse_seconds_or_duration_ms(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(),
                                   seconds);
  if (ec == std::errc{} && end == text.data() + text.size()) {
    if (seconds < 0 || seconds > std::numeric_limits<int64_t>::max() / 1000)
      return std::nullopt;
    return seconds * 1000;
  }
  auto ns = parse_go_duration(text);
  if (!ns || *ns < 0)
    return std::nullopt;
  return *ns / 1000000;
}

} // namespace foreman
