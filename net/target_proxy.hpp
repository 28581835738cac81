#pragma once

// Pass-through of requests foreman does not queue (catalogue, model
// management, the pinned embedder) to the Ollama target.

#include <chrono>
#include <memory>
#include <string>

#include "core/url.hpp"
#include "net/http_server.hpp"
#include "net/ollama_http.hpp"

namespace foreman::net {

/// Sends `req` (with `body` in place of its own) to the target with the
/// target's own Host header, and streams the target's answer back as it
/// arrives: NDJSON line by line, anything else whole. A target that cannot
/// be reached gives 502 with an Ollama-style error body.
void proxy_to_target(const http_url& target, const http_request& req,
                     const std::string& body, http_responder& out,
                     std::chrono::milliseconds reply_timeout);

/// A blocking POST of a JSON body to the target on a kept-alive connection
/// from `pool`: the status and body of its answer, or 502 and an error body
/// when it cannot be reached.
std::pair<int, std::string> post_to_target(const std::shared_ptr<connection_pool>& pool,
                                           const http_url& target,
                                           const std::string& path,
                                           const std::string& body,
                                           std::chrono::milliseconds reply_timeout);

/// A blocking GET from the target, likewise.
std::pair<int, std::string> get_from_target(const std::shared_ptr<connection_pool>& pool,
                                            const http_url& target,
                                            const std::string& path,
                                            std::chrono::milliseconds reply_timeout);

} // namespace foreman::net
