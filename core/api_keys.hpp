#pragma once

// Callers' API keys (FOREMAN_API_KEYS): who may call foreman, and with which
// scope.

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace foreman {

enum class key_scope {
  /// Runs jobs and reads its own.
  client,
  /// Everything: model management, every caller's jobs, metrics.
  admin,
};

struct api_key {
  std::string secret;
  key_scope scope = key_scope::client;
};

/// Shortest key accepted: shorter ones are guessable.
constexpr size_t min_api_key_length = 16;

/// Parses `key` or `key:scope` entries separated by commas; the problem
/// (naming the entry) when one is malformed.
std::variant<std::vector<api_key>, std::string> parse_api_keys(const std::string& text);

/// The configured key equal to `presented`, compared in constant time (every
/// key is compared in full, whatever matches).
std::optional<api_key> find_api_key(const std::vector<api_key>& keys,
                                    const std::string& presented);

} // namespace foreman
