#pragma once

// Ollama-native replies and NDJSON chunks as OpenAI's /v1 objects and SSE
// events, the way Ollama's own compatibility layer writes them
// (ollama-api.md §11); OpenAI's model list and error objects. Pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "messages/job.hpp"

namespace foreman::net::openai {

/// The chat.completion object for the target's final (stream:false-shaped)
/// /api/chat reply. `model` is echoed as the caller sent it. A reply that is
/// not a JSON object reads as an empty one.
std::string chat_response(std::string_view native_reply, const std::string& model,
                          const std::string& id, int64_t created_unix);

/// The text_completion object for the target's final /api/generate reply.
std::string completion_response(std::string_view native_reply, const std::string& model,
                                const std::string& id, int64_t created_unix);

/// The embeddings list for the target's /api/embed reply; with `base64`, each
/// vector is its little-endian float32 bytes, base64-encoded.
std::string embeddings_response(std::string_view native_embed_reply,
                                const std::string& model, bool base64);

/// Turns a streamed native chat or generate answer into OpenAI SSE events
/// ("data: {...}\n\n"), one native NDJSON line at a time.
class stream_translator {
public:
  /// `kind` is chat or generate; every event carries `model`, `id` and
  /// `created_unix`.
  stream_translator(job_kind kind, std::string model, std::string id,
                    int64_t created_unix, bool include_usage);

  /// Zero or more SSE events for one native chunk. A line with an `error`
  /// key, a blank line or one that is not a JSON object gives nothing: on an
  /// error Ollama ends the stream without `[DONE]`, so the caller should end
  /// it there too rather than call finish().
  std::string translate(std::string_view native_chunk_line);

  /// The closing events after the native done:true chunk: the usage event
  /// (`choices: []`) when include_usage was asked for, then "data: [DONE]".
  std::string finish();

private:
  std::string chat_events(const std::string& line);
  std::string completion_events(const std::string& line);
  std::string chunk_head() const;

  job_kind kind_;
  std::string model_;
  std::string id_;
  int64_t created_;
  bool include_usage_;
  bool role_sent_ = false;
  bool tool_calls_sent_ = false;
  int64_t next_tool_index_ = 0;
  int64_t prompt_tokens_ = 0;
  int64_t completion_tokens_ = 0;
};

/// GET /v1/models from an /api/tags reply. `data` is null when no model is
/// installed, as in Ollama.
std::string models_list(std::string_view tags_reply);

/// GET /v1/models/{model} from an /api/tags reply: the entry with `id` as
/// requested, or nullopt when the model is not installed.
std::optional<std::string> model_entry(std::string_view tags_reply,
                                       std::string_view model);

/// OpenAI's error object {"error":{"message","type","param":null,"code":null}}
/// with the type for `status`: 400 invalid_request_error, 404
/// not_found_error, anything else api_error.
std::string error_body(int status, std::string_view message);

/// "chatcmpl-<n>" with n in 0..998 like Ollama's, derived from a job id.
std::string chat_id(int64_t job_id);

/// "cmpl-<n>" with n in 0..998 like Ollama's, derived from a job id.
std::string completion_id(int64_t job_id);

} // namespace foreman::net::openai
