#pragma once

// Small JSON helpers shared by foreman's HTTP mapping.

#include <cstdint>
#include <string>
#include <string_view>

namespace foreman::net {

/// `text` as a JSON string literal, quotes included. Escapes control
/// characters and U+2028/U+2029, which line-splitting clients treat as line
/// breaks.
std::string json_quote(std::string_view text);

/// Ollama's error body: {"error":"..."}.
std::string error_json(std::string_view message);

/// `bytes` in standard base64, on one line.
std::string base64(std::string_view bytes);

/// Unix milliseconds as RFC 3339 UTC with milliseconds, e.g.
/// 2026-01-02T03:04:05.678Z.
std::string rfc3339_utc(int64_t unix_ms);

} // namespace foreman::net
