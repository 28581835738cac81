#pragma once

// POST /api/chat, /api/generate, /api/embed and /api/embeddings.

#include "fake_server.hpp"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <string>

namespace fake_ollama {

enum class completion_api { chat, generate };

/// Answers `<model> says: <last user message | prompt>`, one word per
/// streamed chunk, paced by the server's token time. While a hold is in
/// force (POST /_fake/hold) a generation waits, its model loaded, until
/// released; it is dropped when its client leaves or the server stops.
void handle_completion(fake_server& server, completion_api api,
                       const std::string& body,
                       Poco::Net::HTTPServerRequest& http_request,
                       Poco::Net::HTTPServerResponse& response);

/// /api/embed: deterministic unit vectors, one per input, in input order.
void handle_embed(fake_server& server, const std::string& body,
                  Poco::Net::HTTPServerResponse& response);

/// /api/embeddings (legacy): one vector for `prompt`.
void handle_legacy_embeddings(fake_server& server, const std::string& body,
                              Poco::Net::HTTPServerResponse& response);

} // namespace fake_ollama
