#pragma once

// The event stream behind GET /events: job transitions as the store's
// journal keeps them, the views the hub sends its subscribers, and what a
// new subscriber starts from.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/job.hpp"
#include "messages/operations.hpp"
#include "messages/webhook.hpp"

namespace foreman {

/// One job transition from the journal: the webhook event's fields (its
/// `seq` is the journal's, artifacts are never inline) plus who and what.
struct job_event {
  webhook_event transition;
  job_kind kind = job_kind::chat;
  std::string client;
  int32_t priority = 0;
  int64_t created_at_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_event& x) {
  return f(caf::meta::type_name("job_event"), x.transition, x.kind, x.client,
           x.priority, x.created_at_ms);
}

/// Journal events after a sequence number, oldest first.
struct journal_page {
  std::vector<job_event> events;
  /// The journal still holds every event after the number asked for: a
  /// subscriber can resume from it without a gap.
  bool complete = false;
  /// The newest sequence number handed out when the page was read.
  int64_t last_seq = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, journal_page& x) {
  return f(caf::meta::type_name("journal_page"), x.events, x.complete,
           x.last_seq);
}

/// What a subscriber without a usable Last-Event-ID starts from, read at
/// one point of the journal.
struct event_snapshot {
  /// Events up to this sequence number are reflected here.
  int64_t last_seq = 0;
  std::vector<queue_depth> depths;
  /// The most recent jobs, newest first.
  std::vector<job> recent;
  /// The running job, when the caller named one and it exists (0 or 1).
  std::vector<job> running;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_snapshot& x) {
  return f(caf::meta::type_name("event_snapshot"), x.last_seq, x.depths,
           x.recent, x.running);
}

/// The worker and the target as the hub last saw them.
struct live_state {
  worker_status worker;
  target_health target;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, live_state& x) {
  return f(caf::meta::type_name("live_state"), x.worker, x.target);
}

/// One Server-Sent Event as a subscriber writes it.
struct sse_event {
  /// The journal sequence number (the SSE id); 0 = an event without id.
  int64_t seq = 0;
  /// The SSE event name: job, worker, target, stats, snapshot.
  std::string name;
  /// JSON, one line.
  std::string data;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sse_event& x) {
  return f(caf::meta::type_name("sse_event"), x.seq, x.name, x.data);
}

} // namespace foreman
