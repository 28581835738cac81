#include "core/duration.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <iterator>
#include <limits>

namespace foreman {

namespace {

struct unit {
  std::string_view name;
  int64_t nanoseconds;
};

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

/// `text` quoted as Go's time package quotes it in errors: bytes outside
/// printable ASCII as \xNN, quotes and backslashes escaped.
std::string go_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x80) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
      continue;
    }
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

} // namespace

std::variant<int64_t, std::string> read_go_duration(std::string_view text) {
  // Go's grammar: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+, or a lone "0".
  const auto invalid = "time: invalid duration " + go_quote(text);
  auto rest = text;
  bool negative = false;
  if (!rest.empty() && (rest.front() == '-' || rest.front() == '+')) {
    negative = rest.front() == '-';
    rest.remove_prefix(1);
  }
  if (rest == "0")
    return int64_t{0};
  if (rest.empty())
    return invalid;
  long double total = 0;
  while (!rest.empty()) {
    if (rest.front() != '.' && !is_digit(rest.front()))
      return invalid;
    // A number with an optional fraction; at least one digit on either side.
    size_t pos = 0;
    long double value = 0;
    bool any_digit = false;
    while (pos < rest.size() && is_digit(rest[pos])) {
      value = value * 10 + (rest[pos] - '0');
      ++pos;
      any_digit = true;
    }
    if (pos < rest.size() && rest[pos] == '.') {
      ++pos;
      long double scale = 0.1L;
      while (pos < rest.size() && is_digit(rest[pos])) {
        value += (rest[pos] - '0') * scale;
        scale /= 10;
        ++pos;
        any_digit = true;
      }
    }
    if (!any_digit)
      return invalid;
    // The unit is everything up to the next number.
    auto unit_end = pos;
    while (unit_end < rest.size() && rest[unit_end] != '.' && !is_digit(rest[unit_end]))
      ++unit_end;
    if (unit_end == pos)
      return "time: missing unit in duration " + go_quote(text);
    auto name = rest.substr(pos, unit_end - pos);
    auto matched = std::find_if(std::begin(units), std::end(units),
                                [&](const unit& u) { return u.name == name; });
    if (matched == std::end(units))
      return "time: unknown unit " + go_quote(name) + " in duration " + go_quote(text);
    total += value * matched->nanoseconds;
    if (total > static_cast<long double>(std::numeric_limits<int64_t>::max()))
      return invalid;
    rest.remove_prefix(unit_end);
  }
  auto result = static_cast<int64_t>(total);
  return negative ? -result : result;
}

std::optional<int64_t> parse_go_duration(std::string_view text) {
  auto parsed = read_go_duration(text);
  if (auto ns = std::get_if<int64_t>(&parsed))
    return *ns;
  return std::nullopt;
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
