#pragma once

// foreman's HTTP server: an event-driven edge. Poco parses requests (on a
// small fixed pool of threads), one event loop (Poco's PollSet) watches every
// connection that is idle between requests or whose answer is still to come,
// and answers are written without blocking, by whichever thread has them. A
// caller waiting for its answer holds no thread. Poco types stay in the .cpp.

#include <chrono>
#include <cstddef>
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
  /// The path without the query, percent-decoded, e.g. /api/chat.
  std::string path;
  /// The path as the client sent it (not decoded), for pass-through.
  std::string raw_path;
  std::string query;
  header_list headers;
  std::string body;

  /// The first header with this name (case-insensitive), or "".
  std::string header(const std::string& name) const;
};

/// One request's answer. Thread-safe: the handler may answer at once, or
/// keep the exchange and answer later from any thread (an actor, typically).
/// Answer with send() once, or with begin_stream(), write() calls and
/// end_stream(). Nothing blocks: bytes the socket cannot take at once wait in
/// the exchange's buffer and the event loop sends them when it can.
class http_exchange {
public:
  virtual ~http_exchange() = default;

  /// Sends a whole answer. Ignored once an answer has begun.
  virtual void send(int status, const std::string& content_type,
                    const std::string& body, const header_list& extra = {})
    = 0;

  /// Sends the status and headers of a chunked answer.
  virtual void begin_stream(int status, const std::string& content_type,
                            const header_list& extra = {})
    = 0;

  /// Sends one chunk. False when the caller has gone, or reads so slowly
  /// that more than the stream buffer limit waits for it (the connection is
  /// then closed: a slow reader is dropped, not buffered without bound).
  virtual bool write(std::string_view data) = 0;

  /// Ends a chunked answer.
  virtual void end_stream() = 0;

  /// Calls `handler` (at most once, on the event loop's thread) when the
  /// caller disconnects before its answer is complete; at once when it
  /// already has.
  virtual void on_caller_gone(std::function<void()> handler) = 0;

  /// Calls `handler` (at most once) when the server begins to stop while the
  /// answer is still to come; at once when it already has. A waiting
  /// caller's owner answers then.
  virtual void on_server_stopping(std::function<void()> handler) = 0;

  /// True once the caller has gone.
  virtual bool caller_gone() const = 0;

  /// The status sent; 0 while none was.
  virtual int status() const = 0;
};

using exchange_ptr = std::shared_ptr<http_exchange>;

/// Called on a parsing thread for each well-formed request. It answers
/// quickly or hands the exchange on; it must not wait for anything slow.
using http_handler = std::function<void(http_request&&, const exchange_ptr&)>;

/// Called once per exchange when it ends: with the status sent, or 499 when
/// the caller left before an answer.
using exchange_observer
  = std::function<void(const http_request& req, int status)>;

struct http_server_options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  /// Threads that parse requests and answer quick ones. Waiting callers and
  /// idle connections hold none.
  int parser_threads = 8;
  /// Larger request bodies get 413: at once when declared, as soon as a
  /// chunked body passes it otherwise.
  size_t max_body_bytes = 64 * 1024 * 1024;
  /// A request whose head or body does not arrive within this gets 408.
  std::chrono::milliseconds read_timeout{30000};
  /// Connections idle between requests longer than this are closed.
  std::chrono::milliseconds idle_timeout{60000};
  /// A streamed answer whose reader falls this far behind is cut.
  size_t max_stream_backlog_bytes = 8 * 1024 * 1024;
  /// At a stop, exchanges under way may finish within this; the rest are
  /// cut.
  std::chrono::milliseconds stop_wait{5000};
};

class http_server {
public:
  /// Binds and starts serving; throws std::runtime_error when it cannot bind.
  http_server(const http_server_options& options, http_handler handler,
              exchange_observer observer = {});
  ~http_server();

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// The bound port (useful when options.port was 0).
  uint16_t port() const;

  /// Closes the listening socket; connections already open go on.
  void stop_accepting();

  /// Stops accepting, tells every exchange still waiting for its answer
  /// that the server stops, lets exchanges under way finish within
  /// stop_wait, closes every connection and ends the server's threads.
  /// Idempotent.
  void stop();

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

} // namespace foreman::net
