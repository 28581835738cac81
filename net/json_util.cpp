#include "net/json_util.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include <Poco/Base64Encoder.h>
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Timestamp.h>

namespace foreman::net {

using Poco::Dynamic::Var;

// -- reading ------------------------------------------------------------------

json_type type_of(const Var& value) {
  if (value.isEmpty())
    return json_type::null;
  if (value.type() == typeid(object_ptr))
    return json_type::object;
  if (value.type() == typeid(array_ptr))
    return json_type::array;
  // Checked before the numeric tests: Poco counts bool as an integer.
  if (value.isBoolean())
    return json_type::boolean;
  if (value.isString())
    return json_type::string;
  if (value.isInteger())
    return json_type::integer;
  return json_type::number;
}

bool is_number(const Var& value) {
  auto type = type_of(value);
  return type == json_type::integer || type == json_type::number;
}

bool is_base64(std::string_view text) {
  std::string data;
  for (char c : text)
    if (c != '\r' && c != '\n')
      data += c;
  if (data.size() % 4 != 0)
    return false;
  size_t padding = 0;
  while (padding < 2 && padding < data.size() && data[data.size() - 1 - padding] == '=')
    ++padding;
  return std::all_of(data.begin(), data.end() - static_cast<std::ptrdiff_t>(padding),
                     [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '+'
                              || c == '/';
                     });
}

Var parse_json(std::string_view text) {
  Poco::JSON::Parser parser{new Poco::JSON::ParseHandler(true)};
  return parser.parse(std::string{text});
}

object_ptr parse_object(std::string_view text, std::string* why) {
  try {
    auto value = parse_json(text);
    if (type_of(value) == json_type::object)
      return value.extract<object_ptr>();
    if (why)
      *why = "request body must be a JSON object";
  } catch (const Poco::Exception& e) {
    if (why)
      *why = "invalid JSON: " + e.message();
  }
  return nullptr;
}

Var field(const object_ptr& obj, const std::string& key) {
  return obj ? obj->get(key) : Var{};
}

std::string string_field(const object_ptr& obj, const std::string& key) {
  auto value = field(obj, key);
  return type_of(value) == json_type::string ? value.extract<std::string>()
                                             : std::string{};
}

int64_t int_field(const object_ptr& obj, const std::string& key) {
  auto value = field(obj, key);
  return is_number(value) ? value.convert<int64_t>() : 0;
}

bool bool_field(const object_ptr& obj, const std::string& key) {
  auto value = field(obj, key);
  return type_of(value) == json_type::boolean && value.extract<bool>();
}

object_ptr object_field(const object_ptr& obj, const std::string& key) {
  auto value = field(obj, key);
  return type_of(value) == json_type::object ? value.extract<object_ptr>()
                                             : nullptr;
}

array_ptr array_field(const object_ptr& obj, const std::string& key) {
  auto value = field(obj, key);
  return type_of(value) == json_type::array ? value.extract<array_ptr>()
                                            : nullptr;
}

// -- writing ------------------------------------------------------------------

std::string json_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else if (c == 0xE2 && i + 2 < text.size()
                   && static_cast<unsigned char>(text[i + 1]) == 0x80
                   && (static_cast<unsigned char>(text[i + 2]) == 0xA8
                       || static_cast<unsigned char>(text[i + 2]) == 0xA9)) {
          out += static_cast<unsigned char>(text[i + 2]) == 0xA8 ? "\\u2028"
                                                                  : "\\u2029";
          i += 2;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string format_double(double x) {
  if (!std::isfinite(x))
    return "null";
  char text[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(text, sizeof text, "%.*g", precision, x);
    if (std::strtod(text, nullptr) == x)
      break;
  }
  return text;
}

namespace {

// Written by hand rather than with Poco's stringify so that strings are
// escaped like everything else foreman writes (json_quote).
void write_json(const Var& value, std::string& out) {
  switch (type_of(value)) {
    case json_type::null:
      out += "null";
      break;
    case json_type::boolean:
      out += value.extract<bool>() ? "true" : "false";
      break;
    case json_type::integer:
      out += value.convert<std::string>();
      break;
    case json_type::number:
      out += format_double(value.convert<double>());
      break;
    case json_type::string:
      out += json_quote(value.extract<std::string>());
      break;
    case json_type::object: {
      auto obj = value.extract<object_ptr>();
      out += '{';
      bool first = true;
      for (const auto& name : obj->getNames()) {
        if (!first)
          out += ',';
        first = false;
        out += json_quote(name);
        out += ':';
        write_json(obj->get(name), out);
      }
      out += '}';
      break;
    }
    case json_type::array: {
      auto array = value.extract<array_ptr>();
      out += '[';
      for (size_t i = 0; i < array->size(); ++i) {
        if (i > 0)
          out += ',';
        write_json(array->get(static_cast<unsigned>(i)), out);
      }
      out += ']';
      break;
    }
  }
}

} // namespace

std::string to_json(const Var& value) {
  std::string out;
  write_json(value, out);
  return out;
}

object_writer& object_writer::add(std::string_view key,
                                  std::string_view json_value) {
  if (text_.size() > 1) // past the opening brace
    text_ += ',';
  text_ += json_quote(key);
  text_ += ':';
  text_ += json_value;
  return *this;
}

object_writer& object_writer::add_string(std::string_view key,
                                         std::string_view value) {
  return add(key, json_quote(value));
}

std::string object_writer::done() const {
  return text_ + "}";
}

std::string json_or_null(const std::string& json) {
  return json.empty() ? std::string{"null"} : json;
}

std::string join_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0)
      out += ',';
    out += items[i];
  }
  return out + "]";
}

std::string error_json(std::string_view message) {
  return "{\"error\":" + json_quote(message) + "}";
}

std::string base64(std::string_view bytes) {
  std::ostringstream out;
  Poco::Base64Encoder encoder{out};
  encoder.rdbuf()->setLineLength(0);
  encoder.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  encoder.close();
  return out.str();
}

// -- times --------------------------------------------------------------------

std::string rfc3339_utc(int64_t unix_ms) {
  return Poco::DateTimeFormatter::format(Poco::Timestamp{unix_ms * 1000},
                                         "%Y-%m-%dT%H:%M:%S.%iZ");
}

std::optional<int64_t> parse_rfc3339_ms(const std::string& text) {
  Poco::DateTime parsed;
  int zone_seconds = 0;
  // The parse that detects the format, not the one given a format: that one
  // reads any text as some time.
  if (!Poco::DateTimeParser::tryParse(text, parsed, zone_seconds))
    return std::nullopt;
  return parsed.timestamp().epochMicroseconds() / 1000
         - int64_t{zone_seconds} * 1000;
}

} // namespace foreman::net
