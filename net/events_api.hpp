#pragma once

// GET /events as Server-Sent Events: the frames and the JSON of each event
// (job transitions, worker and target changes, stats, the snapshot).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "messages/events.hpp"
#include "messages/target.hpp"
#include "net/api_mapping.hpp"
#include "net/ops_api.hpp"

namespace foreman::net {

/// One event as it goes on the wire: `id:` (when it has a sequence
/// number), `event:` and one `data:` line, then a blank line.
std::string sse_frame(const sse_event& event);

/// A job transition: the webhook event's fields plus kind, client,
/// priority and created_at; artifacts by URL path.
sse_event job_sse(const job_event& event);

/// {"job_id","tokens","final"}: how far a running job's stream has come.
sse_event progress_sse(const job_progress& progress);

/// {"state","running_job_id"|null}
sse_event worker_sse(const worker_status& worker);

/// {"url","reachable","error","residents","embed_model"}
sse_event target_sse(const target_health& target, const std::string& target_url,
                     const std::string& embed_model);

/// The queue's and the last minute's numbers.
struct event_stats {
  std::vector<queue_depth> depths;
  /// Jobs that ended (done, failed, cancelled) in the last minute.
  int64_t jobs_per_minute = 0;
  /// Transitions to loading (a model load) in the last minute.
  int64_t loads_per_minute = 0;
  int64_t at_ms = 0;
};

/// {"timestamp","queue":{"total","by_model"},"jobs_per_minute","loads_per_minute"}
sse_event stats_sse(const event_stats& stats);

/// {"status": as GET /status, "jobs": [recent jobs as GET /jobs/{id}]},
/// carrying the journal's newest sequence number as its id so a reconnect
/// resumes after it.
sse_event snapshot_sse(const service_status& status, const event_snapshot& snapshot);

/// The queue's samples by minute, the model loads and the waits before
/// first starts of a journal_history (see core/queue_history.hpp):
/// {"from","to","queue":[{"timestamp","queued","jobs_per_minute"}],
///  "loads":[{"timestamp","model"}],"waits_ms":[...]}
sse_event history_sse(const journal_history& history);

/// The Last-Event-ID header's number; nullopt when absent or not one.
std::optional<int64_t> parse_last_event_id(std::string_view header);

/// What a GET /events caller asks for in its query string.
struct events_query {
  /// A history event (the last hour) follows the snapshot.
  bool history = false;
};

/// Validates GET /events' query string: empty, or history=1.
std::variant<events_query, request_problem> parse_events_query(std::string_view query);

} // namespace foreman::net
