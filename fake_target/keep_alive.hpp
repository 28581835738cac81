#pragma once

// keep_alive values as Ollama reads them (ollama-api.md §4): JSON numbers are
// seconds, strings are Go durations, and both mean "forever" when negative.

#include <Poco/Dynamic/Var.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace fake_ollama {

/// How long a model stays resident after its last request finished.
struct keep_alive {
  bool forever = false;
  std::chrono::nanoseconds duration{0};

  static keep_alive never_expires() {
    return {true, std::chrono::nanoseconds{0}};
  }

  bool unloads_when_idle() const {
    return !forever && duration.count() <= 0;
  }
};

/// Thrown with the exact text Go or Ollama would put in the 400 body.
class invalid_keep_alive : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Go's time.ParseDuration, in nanoseconds. Throws invalid_keep_alive with
/// Go's error text (`time: missing unit in duration "10"`, ...).
std::chrono::nanoseconds parse_go_duration(std::string_view text);

/// Interprets a request's `keep_alive` field; nullopt for absent/null (the
/// runner keeps its current value). Throws invalid_keep_alive.
std::optional<keep_alive> keep_alive_from_json(const Poco::Dynamic::Var& value);

/// Reads a command-line keep_alive: a Go duration or plain seconds.
/// Throws invalid_keep_alive.
keep_alive keep_alive_from_text(const std::string& text);

} // namespace fake_ollama
