#include "core/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace foreman {

namespace {

std::atomic<int> max_level{static_cast<int>(log_level::info)};

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

} // namespace

void set_log_level(std::string_view name) {
  for (auto level : {log_level::error, log_level::warning, log_level::info,
                     log_level::debug})
    if (name == level_name(level))
      max_level = static_cast<int>(level);
}

bool log_enabled(log_level level) {
  return static_cast<int>(level) <= max_level.load();
}

void log_line(log_level level, std::string_view component, std::string_view text) {
  if (!log_enabled(level))
    return;
  auto now = std::chrono::system_clock::now();
  auto seconds = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                  now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  // One fprintf per line so concurrent lines never interleave.
  std::fprintf(stderr, "%s.%03dZ %-7s %.*s: %.*s\n", stamp,
               static_cast<int>(millis), level_name(level),
               static_cast<int>(component.size()), component.data(),
               static_cast<int>(text.size()), text.data());
}

} // namespace foreman
