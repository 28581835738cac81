#pragma once

// Small helpers for writing Ollama-shaped JSON and timestamps.

#include <Poco/JSON/Object.h>

#include <chrono>
#include <string>

namespace fake_ollama {

/// A wall-clock instant with microsecond resolution: wide enough for the
/// "forever" expiry (centuries ahead) without overflow.
using wall_time
  = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

wall_time wall_now();

/// RFC 3339 with fractional seconds, trailing zeros removed like Go does.
/// `local_zone` writes the server's UTC offset (as Ollama does for
/// modified_at/expires_at); otherwise the instant is written in UTC ("Z").
std::string format_rfc3339(wall_time instant, bool local_zone);

/// A JSON object that keeps keys in insertion order, like Go's structs.
Poco::JSON::Object::Ptr ordered_object();

/// Compact single-line JSON text.
std::string to_json(const Poco::JSON::Object::Ptr& object);

} // namespace fake_ollama
