#pragma once

// Mapping between Ollama's HTTP bodies and foreman's messages: validating
// callers' requests, building the target's requests, reading its replies.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <Poco/JSON/Object.h>

#include "messages/job.hpp"
#include "messages/target.hpp"

namespace foreman::net {

/// A request foreman refuses: the status and Ollama-style message.
struct request_problem {
  int status = 400;
  std::string message;
};

/// A query string's name=value pairs, percent-decoded, in order.
using query_parameters = std::vector<std::pair<std::string, std::string>>;

/// Reads a URL's query string (without the '?'); a 400 when it is malformed.
std::variant<query_parameters, request_problem> parse_query_string(std::string_view query);

/// A valid queued inference request.
struct inference_call {
  job_spec spec;
  /// Whether the caller wants NDJSON (Ollama's default) or one object.
  bool stream = true;
};

/// The native endpoints whose requests can become jobs.
enum class native_endpoint { chat, generate, embed, embeddings };

/// Validates a POST /api/chat, /api/generate, /api/embed or /api/embeddings
/// body (ollama-api.md §6-§8) with Ollama's status codes and texts. Nothing
/// invalid becomes a job. A legacy /api/embeddings body becomes an /api/embed
/// payload. The spec carries the payload's load-relevant options
/// (ollama-api.md §5) in canonical form, e.g. "num_ctx=8192,num_gpu=1":
/// jobs whose forms differ need the model reloaded between them.
std::variant<inference_call, request_problem>
parse_native_request(native_endpoint endpoint, std::string_view body);

/// The same for a body parsed already into `obj`, whose text is `body`.
std::variant<inference_call, request_problem>
check_native_request(native_endpoint endpoint, const Poco::JSON::Object::Ptr& obj,
                     std::string body);

/// `body` (a JSON object) with foreman's keep_alive.
std::string with_keep_alive(std::string_view body, const std::string& keep_alive_json);

/// An /api/embed reply in the legacy /api/embeddings shape: {"embedding":[...]}.
std::string legacy_embedding_reply(std::string_view embed_reply);

/// The job as GET /jobs/{id} shows it, with its queue position and
/// estimated start while it is queued.
std::string job_json(const job_status& x);

/// The body foreman sends to the target for `request`: the job's payload
/// with foreman's keep_alive, streamed for chat and generate; or for a load,
/// an empty request with the job's options so the model loads as the job
/// needs it.
std::string target_body(const target_request& request);

/// The target path for a job kind: /api/chat, /api/generate, /api/embed.
std::string target_path(job_kind kind);

/// Checks that a 2xx reply is the JSON object Ollama sends for `kind`;
/// otherwise says what is wrong.
std::optional<std::string> reply_problem(job_kind kind, std::string_view body);

/// The `error` text of a target's error body, or the body itself.
std::string error_message(std::string_view body);

/// Reads an /api/ps reply; nullopt when it is not one.
std::optional<std::vector<resident_model>> parse_ps_reply(std::string_view body);

} // namespace foreman::net
