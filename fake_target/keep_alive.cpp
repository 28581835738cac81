#include "keep_alive.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <utility>

namespace fake_ollama {

namespace {

constexpr uint64_t max_magnitude = uint64_t{1} << 63;

// Go's time.quote: printable ASCII verbatim (with \" and \\), other bytes as
// \xNN, so error texts match Ollama's byte for byte.
std::string go_quote(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string quoted = "\"";
  for (unsigned char c : text) {
    if (c < 0x20 || c >= 0x80) {
      quoted += "\\x";
      quoted += hex[c >> 4];
      quoted += hex[c & 0xF];
    } else {
      if (c == '"' || c == '\\')
        quoted += '\\';
      quoted += static_cast<char>(c);
    }
  }
  return quoted + "\"";
}

std::optional<uint64_t> unit_in_nanoseconds(std::string_view unit) {
  static const std::pair<std::string_view, uint64_t> units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xC2\xB5s", 1000}, // U+00B5 micro sign
    {"\xCE\xBCs", 1000}, // U+03BC Greek mu
    {"ms", 1000000},
    {"s", 1000000000},
    {"m", 60ull * 1000000000},
    {"h", 3600ull * 1000000000},
  };
  for (const auto& [name, nanoseconds] : units)
    if (name == unit)
      return nanoseconds;
  return std::nullopt;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string go_type_name(const Poco::Dynamic::Var& value) {
  if (value.type() == typeid(Poco::JSON::Object::Ptr))
    return "map[string]interface {}";
  if (value.type() == typeid(Poco::JSON::Array::Ptr))
    return "[]interface {}";
  if (value.isBoolean())
    return "bool";
  return "interface {}";
}

keep_alive from_signed(std::chrono::nanoseconds duration) {
  if (duration.count() < 0)
    return keep_alive::never_expires();
  return {false, duration};
}

} // namespace

std::chrono::nanoseconds parse_go_duration(std::string_view text) {
  const std::string original{text};
  auto invalid = [&] {
    return invalid_keep_alive("time: invalid duration " + go_quote(original));
  };
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text == "0")
    return std::chrono::nanoseconds{0};
  if (text.empty())
    throw invalid();
  uint64_t total = 0;
  while (!text.empty()) {
    if (!(text[0] == '.' || is_digit(text[0])))
      throw invalid();
    uint64_t whole = 0;
    size_t pos = 0;
    for (; pos < text.size() && is_digit(text[pos]); ++pos) {
      if (whole > (max_magnitude - 1) / 10)
        throw invalid();
      whole = whole * 10 + static_cast<uint64_t>(text[pos] - '0');
      if (whole > max_magnitude - 1)
        throw invalid();
    }
    const bool has_whole = pos > 0;
    text.remove_prefix(pos);
    // Fraction digits beyond what a double can use are consumed and ignored.
    long double fraction = 0;
    long double scale = 1;
    bool has_fraction = false;
    if (!text.empty() && text[0] == '.') {
      text.remove_prefix(1);
      for (pos = 0; pos < text.size() && is_digit(text[pos]); ++pos) {
        if (scale < 1e18L) {
          fraction = fraction * 10 + (text[pos] - '0');
          scale *= 10;
        }
      }
      has_fraction = pos > 0;
      text.remove_prefix(pos);
    }
    if (!has_whole && !has_fraction)
      throw invalid();
    size_t unit_length = 0;
    while (unit_length < text.size() && text[unit_length] != '.'
           && !is_digit(text[unit_length]))
      ++unit_length;
    if (unit_length == 0)
      throw invalid_keep_alive("time: missing unit in duration "
                               + go_quote(original));
    const std::string_view unit_text = text.substr(0, unit_length);
    text.remove_prefix(unit_length);
    const auto unit = unit_in_nanoseconds(unit_text);
    if (!unit)
      throw invalid_keep_alive("time: unknown unit " + go_quote(unit_text)
                               + " in duration " + go_quote(original));
    if (whole > max_magnitude / *unit)
      throw invalid();
    uint64_t part = whole * *unit;
    part += static_cast<uint64_t>(fraction * (static_cast<long double>(*unit) / scale));
    if (part > max_magnitude || total > max_magnitude - part)
      throw invalid();
    total += part;
  }
  if (negative)
    return std::chrono::nanoseconds{total == max_magnitude
                                      ? std::numeric_limits<int64_t>::min()
                                      : -static_cast<int64_t>(total)};
  if (total > max_magnitude - 1)
    throw invalid();
  return std::chrono::nanoseconds{static_cast<int64_t>(total)};
}

std::optional<keep_alive> keep_alive_from_json(const Poco::Dynamic::Var& value) {
  if (value.isEmpty())
    return std::nullopt;
  if (value.isString())
    return from_signed(parse_go_duration(value.extract<std::string>()));
  if (value.isNumeric() && !value.isBoolean()) {
    const double seconds = value.convert<double>();
    if (seconds < 0)
      return keep_alive::never_expires();
    if (seconds > 9.2e9) // beyond int64 nanoseconds: as good as forever
      return keep_alive::never_expires();
    return keep_alive{false, std::chrono::nanoseconds{
                               static_cast<int64_t>(seconds * 1e9)}};
  }
  throw invalid_keep_alive("Unsupported type: '" + go_type_name(value) + "'");
}

keep_alive keep_alive_from_text(const std::string& text) {
  char* end = nullptr;
  const long long seconds = std::strtoll(text.c_str(), &end, 10);
  if (!text.empty() && *end == '\0')
    return from_signed(std::chrono::seconds{seconds});
  return from_signed(parse_go_duration(text));
}

} // namespace fake_ollama
