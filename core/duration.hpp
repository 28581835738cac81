#pragma once

// Duration texts as Ollama and foreman's settings accept them.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace foreman {

/// Parses a Go `time.ParseDuration` text ("300ms", "1h30m", "-1m", "0") into
/// nanoseconds. Returns nullopt for anything Go would reject, including a bare
/// number other than 0 ("10" has no unit) and overflow.
std::optional<int64_t> parse_go_duration(std::string_view text);

/// Like parse_go_duration, but a text Go rejects gets Go's own error message,
/// which Ollama answers with: `time: missing unit in duration "10"`,
/// `time: unknown unit "d" in duration "1d"`, `time: invalid duration "abc"`.
std::variant<int64_t, std::string> read_go_duration(std::string_view text);

/// Parses a setting that is either plain non-negative seconds ("30") or a Go
/// duration ("30s", "5m"), into milliseconds. Negative values are rejected.
std::optional<int64_t> parse_seconds_or_duration_ms(std::string_view text);

} // namespace foreman
