#pragma once

// The job: foreman's unit of durable work, as stored and as passed between
// actors. Plain structs with CAF 0.17 `inspect` so they can cross nodes.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace foreman {

enum class job_kind : uint8_t { chat, generate, embed };

/// queued -> loading -> working -> done | failed; cancelled from any
/// non-terminal state.
enum class job_state : uint8_t { queued, loading, working, done, failed, cancelled };

std::string to_string(job_kind x);
std::optional<job_kind> parse_job_kind(std::string_view text);
std::string to_string(job_state x);
std::optional<job_state> parse_job_state(std::string_view text);
bool is_terminal(job_state x);

/// What a caller asks for: everything needed to create a job.
struct job_spec {
  job_kind kind = job_kind::chat;
  /// The model exactly as the caller wrote it (echoed back in replies).
  std::string model;
  /// The Ollama request body, JSON text.
  std::string payload;
  int32_t priority = 0;
  /// 0 = the worker's configured default.
  int32_t max_attempts = 0;
  std::string state_webhook_url;
  /// Who submitted it (API key name or X-Foreman-Client); clients take
  /// turns. Empty = anonymous.
  std::string client;
  /// The request's load-relevant options in canonical form ("num_ctx=8192");
  /// jobs that differ here need a reload of the same model.
  std::string load_options;
  /// A caller's key for this submission: submitting again with the same key
  /// returns the job first stored under it. Empty = none.
  std::string idempotency_key;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_spec& x) {
  return f(caf::meta::type_name("job_spec"), x.kind, x.model, x.payload,
           x.priority, x.max_attempts, x.state_webhook_url, x.client,
           x.load_options, x.idempotency_key);
}

/// A stored job. Times are Unix milliseconds; 0 means "not yet".
struct job {
  int64_t id = 0;
  job_kind kind = job_kind::chat;
  std::string model;
  job_state state = job_state::queued;
  int32_t priority = 0;
  int32_t attempt = 0;
  int32_t max_attempts = 1;
  std::string payload;
  /// The target's whole final answer, a JSON object (the completion
  /// artifact), once done; empty before.
  std::string result;
  std::string error;
  std::string state_webhook_url;
  std::string client;
  /// Normalised model plus load options: jobs of one group run without a
  /// reload between them.
  std::string group_key;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t started_at_ms = 0;
  int64_t finished_at_ms = 0;
  /// A retry waits until then (backoff); 0 = no wait.
  int64_t not_before_ms = 0;
  /// Its place in the fair order between clients (see job_store::insert).
  int64_t turn = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job& x) {
  return f(caf::meta::type_name("job"), x.id, x.kind, x.model, x.state,
           x.priority, x.attempt, x.max_attempts, x.payload, x.result,
           x.error, x.state_webhook_url, x.client, x.group_key,
           x.created_at_ms, x.updated_at_ms, x.started_at_ms,
           x.finished_at_ms, x.not_before_ms, x.turn);
}

/// A state change requested by the worker; the store applies it in one
/// transaction and answers with the updated job.
struct job_transition {
  int64_t job_id = 0;
  job_state to = job_state::queued;
  /// Set on failed (and on a retry, the error that caused it).
  std::string error;
  /// Counts an attempt when the job starts loading or working.
  bool starts_attempt = false;
  /// Back to queued: not to run before this time (backoff); 0 = at once.
  int64_t not_before_ms = 0;
  /// Back to queued: the interrupted attempt does not count (shutdown).
  bool refunds_attempt = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_transition& x) {
  return f(caf::meta::type_name("job_transition"), x.job_id, x.to, x.error,
           x.starts_attempt, x.not_before_ms, x.refunds_attempt);
}

/// A job's successful end: the completion artifact (the target's whole
/// answer, which is also the job's result), stored with the `done`
/// transition in one transaction.
struct job_completion {
  int64_t job_id = 0;
  std::string artifact_content_type;
  std::string artifact_data;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_completion& x) {
  return f(caf::meta::type_name("job_completion"), x.job_id,
           x.artifact_content_type, x.artifact_data);
}

/// What a waiting caller receives when its job reaches a terminal state:
/// the job plus the HTTP answer Ollama would have given.
struct job_outcome {
  job record;
  int32_t http_status = 0;
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_outcome& x) {
  return f(caf::meta::type_name("job_outcome"), x.record, x.http_status,
           x.body);
}

/// One NDJSON line the target produced for a running job, passed on as it
/// arrives so streaming callers see it at once.
struct job_chunk {
  int64_t job_id = 0;
  std::string line;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_chunk& x) {
  return f(caf::meta::type_name("job_chunk"), x.job_id, x.line);
}

/// The scheduling-relevant facts of one queued job.
struct queued_job {
  int64_t id = 0;
  /// Model plus load options (see job::group_key).
  std::string group_key;
  int32_t priority = 0;
  /// Its place in the fair order: clients take turns (see job_store).
  int64_t turn = 0;
  int64_t created_at_ms = 0;
  /// A retry waits until then (see job::not_before_ms); 0 = no wait.
  int64_t not_before_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, queued_job& x) {
  return f(caf::meta::type_name("queued_job"), x.id, x.group_key, x.priority,
           x.turn, x.created_at_ms, x.not_before_ms);
}

/// Where a queued job stands: how many queued jobs run before it, by model.
struct queue_ahead {
  int64_t position = 0;
  /// (model key, queued jobs ahead of it for that model).
  std::vector<std::pair<std::string, int64_t>> by_model;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, queue_ahead& x) {
  return f(caf::meta::type_name("queue_ahead"), x.position, x.by_model);
}

/// A job with its place in the queue and the estimated start, for callers.
struct job_status {
  job record;
  /// Jobs ahead of it; -1 when it is not queued.
  int64_t queue_position = -1;
  /// Unix ms; 0 when unknown or not queued.
  int64_t estimated_start_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_status& x) {
  return f(caf::meta::type_name("job_status"), x.record, x.queue_position,
           x.estimated_start_ms);
}

/// Which stored jobs a listing wants: newest first, optionally of one state
/// and one model, after a cursor.
struct job_query {
  /// Only jobs in `state` when set, else any state.
  bool by_state = false;
  job_state state = job_state::queued;
  /// A model key (core/model_name.hpp); empty = any model.
  std::string model_key;
  /// Only jobs with a smaller id (the previous page's cursor); 0 = from the
  /// newest.
  int64_t before_id = 0;
  int32_t limit = 50;
  /// Only this caller's jobs: client equal to it or under it ("owner/...");
  /// empty = everyone's.
  std::string owner;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_query& x) {
  return f(caf::meta::type_name("job_query"), x.by_state, x.state, x.model_key,
           x.before_id, x.limit, x.owner);
}

/// One page of a listing.
struct job_page {
  std::vector<job> jobs;
  /// The before_id of the next page; 0 = this is the last page.
  int64_t next_cursor = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_page& x) {
  return f(caf::meta::type_name("job_page"), x.jobs, x.next_cursor);
}

/// What a job's artifact is, without its bytes.
struct artifact_info {
  std::string name;
  std::string content_type;
  int64_t size = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, artifact_info& x) {
  return f(caf::meta::type_name("artifact_info"), x.name, x.content_type,
           x.size);
}

/// A job's artifact with its bytes.
struct artifact {
  std::string name;
  std::string content_type;
  std::string data;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, artifact& x) {
  return f(caf::meta::type_name("artifact"), x.name, x.content_type, x.data);
}

} // namespace foreman

namespace foreman {

/// True when the job lifecycle allows going from `from` to `to`. A retry
/// goes back from loading or working to queued.
bool is_allowed_transition(job_state from, job_state to);

} // namespace foreman
