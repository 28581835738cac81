#pragma once

// Reads one HTTP/1.1 response from bytes as they arrive: the status line,
// headers, and a body framed by Content-Length, chunked transfer coding, or
// the end of the connection.

#include <cstddef>
#include <string>

namespace foreman_loadgen {

class http_response_reader {
public:
  enum class progress { incomplete, complete, malformed };

  /// Takes the next bytes read from the connection.
  progress feed(const char* data, std::size_t size);

  /// The connection has closed: complete when the body runs to its end,
  /// malformed when the response was cut short.
  progress connection_closed();

  int status() const {
    return status_;
  }
  /// The body with any chunk framing removed.
  const std::string& body() const {
    return body_;
  }
  std::string& body() {
    return body_;
  }
  /// Why the response is malformed.
  const std::string& error() const {
    return error_;
  }

private:
  enum class phase {
    headers,
    sized_body,
    chunk_size_line,
    chunk_data,
    chunk_data_end,
    trailers,
    body_until_close,
    done,
    failed
  };

  progress parse();
  bool parse_headers(const std::string& head);
  progress fail(std::string why);
  progress current() const;

  phase phase_ = phase::headers;
  std::string unread_; // bytes received but not parsed yet
  std::size_t remaining_ = 0; // of the sized body or the current chunk
  int status_ = 0;
  std::string body_;
  std::string error_;
};

} // namespace foreman_loadgen
