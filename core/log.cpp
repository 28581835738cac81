#include "core/log.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "core/clock.hpp"

namespace foreman {

namespace {

constexpr log_level all_levels[] = {log_level::error, log_level::warning,
                                    log_level::info, log_level::debug};

const char* level_name(log_level level) {
  switch (level) {
    case log_level::error:
      return "error";
    case log_level::warning:
      return "warning";
    case log_level::info:
      return "info";
    default:
      return "debug";
  }
}

std::string rfc3339_ms(int64_t unix_ms) {
  auto seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[40];
  auto n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ",
                static_cast<int>(unix_ms % 1000));
  return stamp;
}

std::string number_text(double x) {
  char digits[32];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, x);
  return ec == std::errc{} ? std::string{digits, end} : std::string{"0"};
}

/// The length of the well-formed UTF-8 sequence starting at `i`, 0 when
/// the bytes there are not one.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto lead = byte(i);
  size_t n = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3
                             : (lead >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size() || (n == 2 && lead < 0xC2))
    return 0;
  for (size_t k = 1; k < n; ++k)
    if ((byte(i + k) >> 6) != 0x2)
      return 0;
  return n;
}

/// `s` as a JSON string. Bytes that are not UTF-8 (a target's error text
/// may hold anything) become U+FFFD, so every line stays valid JSON.
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else if (c >= 0x80) {
      auto n = utf8_sequence_length(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
        continue;
      }
      out.append(s.substr(i, n));
      i += n;
      continue;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  out += '"';
}

/// A text value as `key=value` writes it: bare when it is one plain word,
/// else quoted with the escapes of JSON (so the line stays one line).
void append_text_value(std::string& out, std::string_view s) {
  auto plain = !s.empty();
  for (auto c : s)
    if (c == ' ' || c == '"' || c == '=' || c == '\\'
        || static_cast<unsigned char>(c) < 0x21 || c == 0x7F)
      plain = false;
  if (plain)
    out.append(s);
  else
    append_json_string(out, s);
}

struct field_value_writer {
  std::string& out;
  bool json;

  void operator()(const std::string& text) const {
    if (json)
      append_json_string(out, text);
    else
      append_text_value(out, text);
  }
  void operator()(int64_t n) const {
    out += std::to_string(n);
  }
  void operator()(double x) const {
    // JSON has no infinities or NaN.
    out += std::isfinite(x) ? number_text(x) : json ? "null" : "nan";
  }
  void operator()(bool b) const {
    out += b ? "true" : "false";
  }
};

logger& process_logger_instance() {
  static logger instance;
  return instance;
}

} // namespace

std::optional<log_level> parse_log_level(std::string_view name) {
  for (auto level : all_levels)
    if (name == level_name(level))
      return level;
  return std::nullopt;
}

std::optional<log_format> parse_log_format(std::string_view name) {
  if (name == "text")
    return log_format::text;
  if (name == "json")
    return log_format::json;
  return std::nullopt;
}

std::string format_log_line(log_format format, int64_t unix_ms, log_level level,
                            std::string_view component, std::string_view msg,
                            const log_fields& fields) {
  std::string out;
  auto json = format == log_format::json;
  if (json) {
    out += "{\"time\":\"" + rfc3339_ms(unix_ms) + "\",\"level\":\"";
    out += level_name(level);
    out += "\",\"component\":";
    append_json_string(out, component);
    out += ",\"msg\":";
    append_json_string(out, msg);
  } else {
    char level_column[16];
    std::snprintf(level_column, sizeof level_column, " %-7s ", level_name(level));
    out += rfc3339_ms(unix_ms) + level_column;
    out.append(component);
    out += ": ";
    out.append(msg);
  }
  for (auto& field : fields) {
    if (json) {
      out += ',';
      append_json_string(out, field.name());
      out += ':';
    } else {
      out += ' ' + field.name() + '=';
    }
    std::visit(field_value_writer{out, json}, field.value());
  }
  if (json)
    out += '}';
  return out;
}

logger::logger() : logger(log_level::info, log_format::text, stderr_sink()) {
}

logger::logger(log_level max_level, log_format format, sink write_line)
  : max_level_(max_level),
    format_(format),
    sink_(std::make_shared<const sink>(std::move(write_line))) {
}

logger::sink logger::stderr_sink() {
  return [](const std::string& line) {
    auto text = line + '\n';
    std::fwrite(text.data(), 1, text.size(), stderr);
  };
}

logger logger::with(log_fields context) const {
  auto result = *this;
  result.context_.insert(result.context_.end(), context.begin(), context.end());
  return result;
}

void logger::write(log_level level, std::string_view component,
                   std::string_view msg, const log_fields& fields) const {
  if (!enabled(level))
    return;
  if (context_.empty())
    return (*sink_)(format_log_line(format_, now_unix_ms(), level, component,
                                    msg, fields));
  auto all = fields;
  all.insert(all.end(), context_.begin(), context_.end());
  (*sink_)(format_log_line(format_, now_unix_ms(), level, component, msg, all));
}

const logger& process_logger() {
  return process_logger_instance();
}

void set_process_logger(logger x) {
  process_logger_instance() = std::move(x);
}

} // namespace foreman
