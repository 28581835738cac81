#pragma once

// Log events: a level, the component that logs (an actor's name), a short
// message and the event's attributes as typed fields (job_id, model, state,
// error, ...). One line per event, as text (`key=value` after the message)
// or as one JSON object.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace foreman {

enum class log_level { error = 0, warning = 1, info = 2, debug = 3 };

enum class log_format { text, json };

/// "error", "warning", "info" or "debug".
std::optional<log_level> parse_log_level(std::string_view name);

/// "text" or "json".
std::optional<log_format> parse_log_format(std::string_view name);

/// One attribute of an event. Integers and reals stay numbers in JSON;
/// everything else is text.
class log_field {
public:
  using value_type = std::variant<std::string, int64_t, double, bool>;

  template <class T>
  log_field(std::string_view name, const T& value) : name_(name) {
    if constexpr (std::is_same_v<T, bool>)
      value_ = value;
    else if constexpr (std::is_integral_v<T>)
      value_ = static_cast<int64_t>(value);
    else if constexpr (std::is_floating_point_v<T>)
      value_ = static_cast<double>(value);
    else
      value_ = std::string{std::string_view{value}};
  }

  const std::string& name() const {
    return name_;
  }

  const value_type& value() const {
    return value_;
  }

private:
  std::string name_;
  value_type value_;
};

/// An event's attributes in the order they are written. Their names must
/// differ from time, level, component and msg.
using log_fields = std::vector<log_field>;

/// One event as a line without its newline. Text:
/// `2026-01-02T03:04:05.678Z info    worker: job done job_id=7 model=llama3.2`
/// (values with spaces, quotes or `=` in double quotes); JSON:
/// `{"time":"2026-01-02T03:04:05.678Z","level":"info","component":"worker",
/// "msg":"job done","job_id":7,"model":"llama3.2"}`.
std::string format_log_line(log_format format, int64_t unix_ms, log_level level,
                            std::string_view component, std::string_view msg,
                            const log_fields& fields);

/// Where and how events are written: the most verbose level written, the
/// format, and the sink taking each line. Copies share the sink; a logger
/// may be used from any thread.
class logger {
public:
  /// Takes one line (without its newline); called from any thread.
  using sink = std::function<void(const std::string& line)>;

  /// Text lines at info and above on stderr.
  logger();

  logger(log_level max_level, log_format format, sink write_line);

  /// Writes each line to stderr in a single call, so lines of concurrent
  /// events never interleave.
  static sink stderr_sink();

  bool enabled(log_level level) const {
    return level <= max_level_;
  }

  /// A logger writing to the same sink that adds `context` (e.g. the
  /// target a worker serves) to every event after the event's own fields.
  logger with(log_fields context) const;

  void write(log_level level, std::string_view component, std::string_view msg,
             const log_fields& fields = {}) const;

  void error(std::string_view component, std::string_view msg,
             const log_fields& fields = {}) const {
    write(log_level::error, component, msg, fields);
  }

  void warning(std::string_view component, std::string_view msg,
               const log_fields& fields = {}) const {
    write(log_level::warning, component, msg, fields);
  }

  void info(std::string_view component, std::string_view msg,
            const log_fields& fields = {}) const {
    write(log_level::info, component, msg, fields);
  }

  void debug(std::string_view component, std::string_view msg,
             const log_fields& fields = {}) const {
    write(log_level::debug, component, msg, fields);
  }

private:
  log_level max_level_;
  log_format format_;
  std::shared_ptr<const sink> sink_;
  log_fields context_;
};

/// The logger of code that no service instance hands one (main, and the
/// free functions below). Set it before other threads log.
const logger& process_logger();
void set_process_logger(logger x);

inline void log_error(std::string_view component, std::string_view msg,
                      const log_fields& fields = {}) {
  process_logger().error(component, msg, fields);
}

inline void log_warning(std::string_view component, std::string_view msg,
                        const log_fields& fields = {}) {
  process_logger().warning(component, msg, fields);
}

inline void log_info(std::string_view component, std::string_view msg,
                     const log_fields& fields = {}) {
  process_logger().info(component, msg, fields);
}

inline void log_debug(std::string_view component, std::string_view msg,
                      const log_fields& fields = {}) {
  process_logger().debug(component, msg, fields);
}

} // namespace foreman
