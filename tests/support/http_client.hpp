#pragma once

// Minimal blocking HTTP for loopback tests.

#include <chrono>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>

namespace foreman_test {

struct http_response {
  int status = 0;
  std::string content_type;
  std::string body;
  std::map<std::string, std::string> headers; // names as the server sent them
};

/// The connection failed, was reset, or closed without a complete response.
class http_error : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// No answer within the timeout.
class http_timeout : public http_error {
  using http_error::http_error;
};

using http_headers = std::map<std::string, std::string>;

/// Sends one request on a fresh connection and reads the whole response.
/// A non-empty body is sent with Content-Type application/json unless
/// `headers` sets one. Throws http_error / http_timeout.
http_response http_request(const std::string& method, const std::string& url,
                           const std::string& body = "",
                           const http_headers& headers = {},
                           std::chrono::milliseconds timeout
                           = std::chrono::seconds{30});

/// Like http_request, but hands each line of the body to `on_line` as soon
/// as it arrives (for NDJSON streams). `on_line` returns false to stop
/// reading and drop the connection. The returned body is the lines read,
/// each followed by '\n'.
http_response http_stream_lines(const std::string& method, const std::string& url,
                                const std::string& body,
                                const std::function<bool(const std::string&)>& on_line,
                                const http_headers& headers = {},
                                std::chrono::milliseconds timeout
                                = std::chrono::seconds{30});

} // namespace foreman_test
