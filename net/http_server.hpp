#pragma once

// foreman's HTTP server: Poco underneath, plain structs above, so the rest of
// foreman never sees Poco types.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace foreman::net {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_request {
  std::string method;
  /// The path without the query, e.g. /api/chat.
  std::string path;
  std::string query;
  header_list headers;
  std::string body;

  /// The first header with this name (case-insensitive), or "".
  std::string header(const std::string& name) const;
};

/// Answers one request: either send() once, or begin_stream() followed by
/// write() calls.
class http_responder {
public:
  virtual ~http_responder() = default;

  virtual void send(int status, const std::string& content_type,
                    const std::string& body, const header_list& extra = {})
    = 0;

  /// Sends the status and headers of a chunked response.
  virtual void begin_stream(int status, const std::string& content_type,
                            const header_list& extra = {})
    = 0;

  /// Sends one chunk at once. False when the client has gone.
  virtual bool write(std::string_view data) = 0;

  /// True once the client has closed its connection.
  virtual bool peer_gone() = 0;

  /// True once the server is stopping: a handler that waits gives up.
  virtual bool server_stopping() const = 0;
};

using http_handler = std::function<void(const http_request&, http_responder&)>;

struct http_server_options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  /// Threads serving requests; each waiting caller holds one.
  int threads = 64;
  /// Connections waiting for a thread before new ones are refused.
  int max_queued = 256;
  /// Larger request bodies get 413.
  size_t max_body_bytes = 64 * 1024 * 1024;
  /// At a stop, requests under way may finish within this; longer ones
  /// (a pull streaming its progress) are cut.
  std::chrono::milliseconds stop_wait{5000};
};

class http_server {
public:
  /// Binds and starts serving; throws std::runtime_error when it cannot bind.
  http_server(const http_server_options& options, http_handler handler);
  ~http_server();

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// The bound port (useful when options.port was 0).
  uint16_t port() const;

  /// Closes the listening socket; requests under way go on.
  void stop_accepting();

  /// Stops accepting, tells waiting handlers to give up, lets requests under
  /// way finish within stop_wait, cuts the rest and waits for every handler
  /// thread to end. Idempotent.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace foreman::net
