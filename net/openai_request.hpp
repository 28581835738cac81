#pragma once

// OpenAI's /v1 requests as Ollama-native job requests, the way Ollama's own
// compatibility layer translates them (ollama-api.md §11). Pure functions.

#include <string>
#include <string_view>
#include <variant>

#include "messages/job.hpp"
#include "net/api_mapping.hpp"

namespace foreman::net::openai {

/// A /v1 request translated to an Ollama-native job request.
struct native_request {
  /// chat (/v1/chat/completions), generate (/v1/completions) or embed
  /// (/v1/embeddings).
  job_kind kind = job_kind::chat;
  /// The model exactly as the caller sent it.
  std::string model;
  /// The Ollama-native JSON body: for chat and generate without keep_alive
  /// and with `stream` set to the caller's wish.
  std::string payload;
  /// OpenAI's default is false.
  bool stream = false;
  /// stream_options.include_usage.
  bool include_usage = false;
  /// encoding_format == "base64" (embeddings only).
  bool base64_embeddings = false;
};

/// Translates a POST /v1/chat/completions body to a native /api/chat request,
/// or says why it is refused (status and message as Ollama gives them).
std::variant<native_request, request_problem> parse_chat_request(std::string_view body);

/// Translates a POST /v1/completions body to a native /api/generate request.
std::variant<native_request, request_problem>
parse_completion_request(std::string_view body);

/// Translates a POST /v1/embeddings body to a native /api/embed request.
std::variant<native_request, request_problem>
parse_embeddings_request(std::string_view body);

} // namespace foreman::net::openai
