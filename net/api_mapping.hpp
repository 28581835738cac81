#pragma once

// Mapping between Ollama's HTTP bodies and foreman's messages: validating
// callers' requests, building the target's requests, reading its replies.

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "messages/job.hpp"
#include "messages/target.hpp"

namespace foreman::net {

/// A request foreman refuses: the status and Ollama-style message.
struct request_problem {
  int status = 400;
  std::string message;
};

/// A valid queued inference request.
struct inference_call {
  job_spec spec;
  /// Whether the caller wants NDJSON (Ollama's default) or one object.
  bool stream = true;
};

/// Validates a POST /api/chat body (ollama-api.md §6). Nothing invalid
/// becomes a job.
std::variant<inference_call, request_problem>
parse_chat_request(std::string_view body);

/// The job as GET /jobs/{id} shows it.
std::string job_json(const job& x);

/// The body foreman sends to the target for `request`: the job's payload
/// with foreman's keep_alive and stream=false, or for a load, an empty
/// request with the job's options so the model loads as the job needs it.
std::string target_body(const target_request& request);

/// The target path for a job kind: /api/chat, /api/generate, /api/embed.
std::string target_path(job_kind kind);

/// Checks that a 2xx reply is the JSON object Ollama sends for `kind`;
/// otherwise says what is wrong.
std::optional<std::string> reply_problem(job_kind kind, std::string_view body);

/// The answer's text for a job's result column: message.content for chat,
/// response for generate, empty for embed.
std::string result_text(job_kind kind, std::string_view reply_body);

/// The `error` text of a target's error body, or the body itself.
std::string error_message(std::string_view body);

/// Reads an /api/ps reply; nullopt when it is not one.
std::optional<std::vector<resident_model>> parse_ps_reply(std::string_view body);

} // namespace foreman::net
