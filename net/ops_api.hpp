#pragma once

// foreman's operational endpoints as JSON: /status and /readyz, and the
// route names /metrics counts requests under.

#include <optional>
#include <string>
#include <vector>

#include "messages/job.hpp"
#include "messages/operations.hpp"

namespace foreman::net {

/// Everything GET /status shows.
struct service_status {
  worker_status worker;
  /// The running job, when there is one.
  std::optional<job> running;
  std::vector<queue_depth> depths;
  target_health target;
  std::string target_url;
  /// The pinned embedder's model key; empty = none.
  std::string embed_model;
};

std::string status_json(const service_status& status);

/// {"total":N,"by_model":[{"model","queued","loading","working"}]}
std::string queue_json(const std::vector<queue_depth>& depths);

/// One readiness check: its name and its problem, empty when it passes.
struct readiness_check {
  std::string name;
  std::string problem;
  /// Not configured, so not checked (the embedder without one).
  bool skipped = false;
};

/// 200 with every check "ok" or 503 with `error` naming the failing ones.
struct readiness_answer {
  int status = 200;
  std::string body;
};

readiness_answer readiness_json(const std::vector<readiness_check>& checks);

/// The route pattern of a path for the HTTP request counter: fixed paths
/// as they are, ids and names as placeholders (/jobs/{id}), anything
/// unknown as "other", so callers cannot grow the label set.
std::string metrics_route(const std::string& path);

} // namespace foreman::net
