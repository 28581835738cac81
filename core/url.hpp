#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace foreman {

/// An absolute http or https URL, split into the parts an HTTP client needs.
struct http_url {
  std::string scheme; // "http" or "https"
  std::string host;   // without brackets for IPv6 literals
  uint16_t port = 0;
  std::string path_and_query; // at least "/"

  /// scheme://host:port, the origin a request goes to.
  std::string origin() const;
};

/// Parses `http(s)://host[:port][/path][?query]`. Rejects other schemes,
/// user info, fragments, empty hosts, bad ports and control characters.
std::optional<http_url> parse_http_url(std::string_view text);

/// Parses `host:port` (port 0 allowed, meaning "any free port").
std::optional<std::pair<std::string, uint16_t>>
parse_host_port(std::string_view text);

/// Whether `host` names this machine only (localhost, 127.0.0.0/8, ::1).
bool is_loopback_host(const std::string& host);

} // namespace foreman
