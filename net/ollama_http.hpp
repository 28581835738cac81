#pragma once

// Blocking HTTP exchanges with the Ollama target, abortable from another
// thread.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/url.hpp"
#include "messages/target.hpp"

namespace foreman::net {

/// Receives each line of a streamed (NDJSON) answer as it arrives.
using line_handler = std::function<void(const std::string& line)>;

/// One blocking HTTP exchange. `perform` runs on the calling thread;
/// `abort` may be called from any thread and makes `perform` return
/// target_failure::aborted.
class abortable_call {
public:
  abortable_call();
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
