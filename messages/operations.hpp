#pragma once

// What operators see: the events counted for /metrics, and the state and
// health reports behind /status and /readyz.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/job.hpp"

namespace foreman {

// -- events counted by the metrics actor --------------------------------------

/// A job was stored.
struct job_submitted_metric {
  job_kind kind = job_kind::chat;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_submitted_metric& x) {
  return f(caf::meta::type_name("job_submitted_metric"), x.kind);
}

/// A job left the queue for its first attempt after waiting this long.
struct job_started_metric {
  double wait_seconds = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_started_metric& x) {
  return f(caf::meta::type_name("job_started_metric"), x.wait_seconds);
}

/// A job reached a terminal state; `run_seconds` < 0 when it never ran.
struct job_finished_metric {
  job_kind kind = job_kind::chat;
  job_state state = job_state::done;
  double run_seconds = -1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_finished_metric& x) {
  return f(caf::meta::type_name("job_finished_metric"), x.kind, x.state,
           x.run_seconds);
}

/// The worker loaded a model on the target.
struct model_load_metric {
  std::string model_key;
  double seconds = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_load_metric& x) {
  return f(caf::meta::type_name("model_load_metric"), x.model_key, x.seconds);
}

/// A call to the target failed: "connection", "timeout", "http_status" or
/// "invalid_reply".
struct target_error_metric {
  std::string kind;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, target_error_metric& x) {
  return f(caf::meta::type_name("target_error_metric"), x.kind);
}

/// A webhook delivery attempt: "delivered", "failed" (retried later) or
/// "given_up" (the event's last attempt failed).
struct webhook_metric {
  std::string outcome;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, webhook_metric& x) {
  return f(caf::meta::type_name("webhook_metric"), x.outcome);
}

/// An HTTP request answered; `route` is the path's pattern (/jobs/{id}).
struct http_request_metric {
  std::string route;
  int32_t status = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_request_metric& x) {
  return f(caf::meta::type_name("http_request_metric"), x.route, x.status);
}

// -- reports ------------------------------------------------------------------

/// Non-terminal jobs of one model in one state.
struct queue_depth {
  std::string model_key;
  job_state state = job_state::queued;
  int64_t count = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, queue_depth& x) {
  return f(caf::meta::type_name("queue_depth"), x.model_key, x.state, x.count);
}

/// What the worker is doing.
struct worker_status {
  /// "idle", "loading", "working" or "draining" (stopping: no new jobs).
  std::string state = "idle";
  /// The job holding the execution slot; 0 = none.
  int64_t running_job_id = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_status& x) {
  return f(caf::meta::type_name("worker_status"), x.state, x.running_job_id);
}

/// The target as the model inventory last saw it.
struct target_health {
  /// The last read of /api/ps succeeded.
  bool reachable = false;
  /// Why not (or "not checked yet").
  std::string problem;
  /// No embedder is configured, or it is resident.
  bool embedder_pinned = true;
  std::vector<std::string> residents;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, target_health& x) {
  return f(caf::meta::type_name("target_health"), x.reachable, x.problem,
           x.embedder_pinned, x.residents);
}

} // namespace foreman
