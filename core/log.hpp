#pragma once

// One line per event on stderr: time, level, the component, then key=value
// facts (job id, model, state).

#include <string>
#include <string_view>

namespace foreman {

enum class log_level { error = 0, warning = 1, info = 2, debug = 3 };

/// Sets the most verbose level written; "error", "warning", "info", "debug".
void set_log_level(std::string_view name);

bool log_enabled(log_level level);

void log_line(log_level level, std::string_view component, std::string_view text);

inline void log_error(std::string_view component, std::string_view text) {
  log_line(log_level::error, component, text);
}

inline void log_warning(std::string_view component, std::string_view text) {
  log_line(log_level::warning, component, text);
}

inline void log_info(std::string_view component, std::string_view text) {
  log_line(log_level::info, component, text);
}

inline void log_debug(std::string_view component, std::string_view text) {
  log_line(log_level::debug, component, text);
}

} // namespace foreman
