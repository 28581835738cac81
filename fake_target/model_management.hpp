#pragma once

// Model management (ollama-api.md §0, §10): POST /api/pull, /api/push,
// /api/create and /api/copy, DELETE /api/delete, and HEAD|POST
// /api/blobs/:digest. Nothing is downloaded or stored: these change the
// catalogue and the set of uploaded blob digests, and stream the progress
// lines Ollama would.
//
// The simulated registry has every model except names containing
// "notfound", whose pull fails like a missing manifest does.

#include "fake_server.hpp"

#include <Poco/Net/HTTPServerResponse.h>

#include <string>

namespace fake_ollama {

/// Adds an unknown name to the catalogue as a chat model.
void handle_pull(fake_server& server, const std::string& body,
                 Poco::Net::HTTPServerResponse& response);

void handle_push(fake_server& server, const std::string& body,
                 Poco::Net::HTTPServerResponse& response);

/// Installs `model` as a copy of `from`, or as a new chat model made of
/// uploaded blobs (`files`).
void handle_create(fake_server& server, const std::string& body,
                   Poco::Net::HTTPServerResponse& response);

void handle_copy(fake_server& server, const std::string& body,
                 Poco::Net::HTTPServerResponse& response);

/// Also unloads the model once no request uses it.
void handle_delete(fake_server& server, const std::string& body,
                   Poco::Net::HTTPServerResponse& response);

/// HEAD (exists?) or POST (upload) of `/api/blobs/<digest>`.
void handle_blob(fake_server& server, const std::string& method,
                 const std::string& digest, const std::string& body,
                 Poco::Net::HTTPServerResponse& response);

} // namespace fake_ollama
