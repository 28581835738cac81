#pragma once

// Pass-through of requests foreman does not queue (catalogue, model
// management, the pinned embedder) to the Ollama target.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/url.hpp"
#include "net/http_server.hpp"
#include "net/ollama_http.hpp"

namespace foreman::net {

/// Target calls made for callers, so that a stop can cut them all: foreman
/// never waits for a long pull to end. Thread-safe.
class target_call_registry {
public:
  /// Registers how to abort a call; 0 (and `abort` has run) once cut_all()
  /// has.
  uint64_t add(std::function<void()> abort);
  void remove(uint64_t token);
  /// Aborts every call under way and every call registered later.
  void cut_all();

private:
  std::mutex mutex_;
  uint64_t next_token_ = 1;
  bool cut_ = false;
  std::map<uint64_t, std::function<void()>> calls_;
};

/// Sends `req` to the target with the target's own Host header and the path
/// as the caller sent it, and streams the target's answer back as it
/// arrives: NDJSON line by line, anything else whole. A target that cannot
/// be reached gives 502 with an Ollama-style error body. `calls` can cut it.
void proxy_to_target(const http_url& target, const http_request& req,
                     http_exchange& out, std::chrono::milliseconds reply_timeout,
                     target_call_registry& calls);

/// A blocking POST of a JSON body to the target on a kept-alive connection
/// from `pool`: the status and body of its answer, or 502 and an error body
/// when it cannot be reached.
std::pair<int, std::string> post_to_target(const std::shared_ptr<connection_pool>& pool,
                                           const http_url& target,
                                           const std::string& path,
                                           const std::string& body,
                                           std::chrono::milliseconds reply_timeout,
                                           target_call_registry& calls);

/// A blocking GET from the target, likewise.
std::pair<int, std::string> get_from_target(const std::shared_ptr<connection_pool>& pool,
                                            const http_url& target,
                                            const std::string& path,
                                            std::chrono::milliseconds reply_timeout,
                                            target_call_registry& calls);

} // namespace foreman::net
