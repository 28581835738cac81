#pragma once

// A small blocking HTTP client for foreman's own API, as the command-line
// client uses it.

#include <chrono>
#include <stdexcept>
#include <string>

#include "core/url.hpp"

namespace foreman::net {

struct api_client_options {
  /// foreman's base URL; its path, if any, prefixes every request path
  /// (foreman behind a reverse proxy at /foreman/).
  http_url base;
  /// Sent as `Authorization: Bearer <key>` when not empty.
  std::string api_key;
  /// For connecting, sending, and each wait for the answer.
  std::chrono::milliseconds timeout{30000};
};

struct api_response {
  int status = 0;
  std::string body;
};

/// No whole answer from foreman: refused, reset, timed out.
struct api_unreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class api_client {
public:
  explicit api_client(api_client_options options);

  /// `path` starts with '/' and may carry a query. Any answer, error
  /// statuses included, is returned; throws api_unreachable otherwise.
  api_response get(const std::string& path) const;
  api_response del(const std::string& path) const;

private:
  api_response send(const std::string& method, const std::string& path) const;

  api_client_options options_;
  /// The base URL's path without its trailing slash.
  std::string prefix_;
};

} // namespace foreman::net
