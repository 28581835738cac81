#pragma once

// Messages between the worker, the target client and the model inventory.

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

#include "messages/job.hpp"

namespace foreman {

/// Why a request to load a model or run a job is made.
enum class target_purpose : uint8_t {
  /// Load the model with the job's load-relevant options, generate nothing.
  load,
  /// Run the job's request.
  run,
};

/// One inference call to the target.
struct target_request {
  /// The job it serves; 0 for calls of foreman's own (warming the embedder).
  int64_t job_id = 0;
  target_purpose purpose = target_purpose::run;
  job_kind kind = job_kind::chat;
  /// The job's Ollama request body, JSON text.
  std::string payload;
  /// JSON fragment written as the request's keep_alive: -1, 0 or "15m".
  std::string keep_alive_json;
  /// The job's client: its progress reports name it, so they reach those
  /// allowed to see the job.
  std::string client;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, target_request& x) {
  return f(caf::meta::type_name("target_request"), x.job_id, x.purpose,
           x.kind, x.payload, x.keep_alive_json, x.client);
}

enum class target_failure : uint8_t {
  none,
  /// No answer: refused, reset, timed out. Worth retrying.
  connection,
  /// The target answered with an HTTP error status. Terminal.
  http_status,
  /// The target answered 2xx with a body that is not what Ollama sends.
  invalid_reply,
  /// foreman aborted the request.
  aborted,
};

struct target_reply {
  target_failure failure = target_failure::none;
  int32_t http_status = 0;
  /// The target's body (JSON) when it answered, else a description.
  std::string body;
  /// Some chunks of the answer already went to the caller's sink.
  bool streamed = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, target_reply& x) {
  return f(caf::meta::type_name("target_reply"), x.failure, x.http_status,
           x.body, x.streamed);
}

/// How far the target's streamed answer for a running job has come: the
/// target client's reader reports it (throttled) as the chunks arrive.
struct job_progress {
  int64_t job_id = 0;
  /// The job's client (see target_request).
  std::string client;
  /// Tokens generated so far in this attempt: one per chunk before the
  /// final one (Ollama streams a token a chunk), the target's own eval_count
  /// once the final chunk reports it.
  int64_t tokens = 0;
  /// The attempt's stream has ended (completely or not): no more reports
  /// for it.
  bool final = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_progress& x) {
  return f(caf::meta::type_name("job_progress"), x.job_id, x.client, x.tokens,
           x.final);
}

/// A model loaded on the target, as /api/ps lists it.
struct resident_model {
  /// Normalised name (core/model_name.hpp).
  std::string model_key;
  /// Unix milliseconds; 0 when the target did not say.
  int64_t expires_at_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resident_model& x) {
  return f(caf::meta::type_name("resident_model"), x.model_key,
           x.expires_at_ms);
}

} // namespace foreman
