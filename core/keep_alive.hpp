#pragma once

// FOREMAN_KEEP_ALIVE: how long the target keeps a model after a request.

#include <optional>
#include <string>
#include <string_view>

namespace foreman {

/// A keep_alive value ready to be written into an Ollama request body.
/// Integer texts ("-1", "0", "3600") go out as JSON numbers of seconds;
/// durations ("15m", "1h") go out as JSON strings, because Ollama rejects a
/// bare number inside a string ("-1" is an error, -1 means forever).
class keep_alive {
public:
  /// Parses a setting; nullopt when it is neither an integer nor a Go
  /// duration.
  static std::optional<keep_alive> parse(std::string_view text);

  /// Keep the model loaded forever (the embedder's value, and the default).
  static keep_alive forever();

  /// The JSON fragment: `-1`, `0`, `3600` or `"15m"`.
  const std::string& json() const {
    return json_;
  }

  /// True when the target unloads the model as soon as the request ends.
  bool unloads_immediately() const {
    return unloads_immediately_;
  }

  /// Accepted forms, for error messages.
  static constexpr std::string_view accepted_forms
    = "an integer number of seconds (-1 = forever, 0 = unload after each "
      "request) or a duration such as 15m, 1h, 90s";

private:
  keep_alive(std::string json, bool unloads_immediately)
    : json_(std::move(json)), unloads_immediately_(unloads_immediately) {
  }

  std::string json_;
  bool unloads_immediately_;
};

} // namespace foreman
