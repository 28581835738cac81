#pragma once

// Blocking HTTP exchanges with the Ollama target, abortable from another
// thread, optionally over kept-alive connections.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "core/url.hpp"
#include "messages/target.hpp"

namespace foreman::net {

/// Receives each line of a streamed (NDJSON) answer as it arrives.
using line_handler = std::function<void(const std::string& line)>;

/// Idle keep-alive connections to targets, shared by the calls made with it;
/// thread-safe. A connection goes back to the pool only after an exchange
/// that completed cleanly (whole answer read, the target keeps the
/// connection open); one that failed or was aborted is closed, never reused.
class connection_pool {
public:
  /// Keeps at most `max_idle` idle connections, each for at most
  /// `max_idle_time` (targets close idle connections on their own schedule).
  explicit connection_pool(std::size_t max_idle = 4,
                           std::chrono::milliseconds max_idle_time
                           = std::chrono::seconds{5});
  ~connection_pool();

  connection_pool(const connection_pool&) = delete;
  connection_pool& operator=(const connection_pool&) = delete;

private:
  friend class abortable_call;
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// One blocking HTTP exchange. `perform` runs on the calling thread;
/// `abort` may be called from any thread and makes `perform` return
/// target_failure::aborted.
class abortable_call {
public:
  /// Uses a new connection, closed after the exchange.
  abortable_call();
  /// Takes a kept-alive connection from `pool` when one is idle and gives it
  /// back after a clean exchange. When the target closed the reused
  /// connection before answering anything, the exchange is sent once more
  /// on a new connection.
  explicit abortable_call(std::shared_ptr<connection_pool> pool);
  ~abortable_call();

  abortable_call(const abortable_call&) = delete;
  abortable_call& operator=(const abortable_call&) = delete;

  /// Sends `body` (JSON) with `method` to `path` on `target`, with the
  /// target's own Host header, and reads the whole answer. Connection
  /// problems come back as target_failure::connection, any answer as its
  /// status and body (HTTP error statuses as target_failure::http_status).
  /// With `on_line`, a 2xx answer is read line by line into it instead of
  /// into the reply's body.
  target_reply perform(const http_url& target, const std::string& method,
                       const std::string& path, const std::string& body,
                       std::chrono::milliseconds reply_timeout,
                       const line_handler& on_line = {});

  void abort();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace foreman::net
