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

/// Journal transitions of one minute, counted.
struct minute_activity {
  /// Whole minutes before the history's end: 0 = the minute up to it.
  int64_t minutes_ago = 0;
  /// Transitions into the queue (new jobs, retries) and out of it.
  int64_t entered_queue = 0;
  int64_t left_queue = 0;
  /// Transitions into done, failed or cancelled.
  int64_t ended = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, minute_activity& x) {
  return f(caf::meta::type_name("minute_activity"), x.minutes_ago, x.entered_queue,
           x.left_queue, x.ended);
}

/// A job's model being loaded (its transition to loading).
struct model_load {
  int64_t at_ms = 0;
  std::string model;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_load& x) {
  return f(caf::meta::type_name("model_load"), x.at_ms, x.model);
}

/// What the journal tells of a recent stretch of time, for charts that
/// start with it: queue activity by minute (everyone's, as stats events
/// count it), and the loads and first starts of the jobs a subscriber sees
/// up to the point its snapshot reflects.
struct journal_history {
  /// The stretch asked for, or from the journal's oldest event when that is
  /// later (nothing before it can be rebuilt); Unix ms.
  int64_t from_ms = 0;
  /// When it was read: the end of the stretch.
  int64_t to_ms = 0;
  /// Jobs queued at to_ms.
  int64_t queued_now = 0;
  /// The minutes that had transitions, most recent first.
  std::vector<minute_activity> minutes;
  /// Oldest first.
  std::vector<model_load> loads;
  /// How long each job waited before its first attempt started, oldest
  /// start first.
  std::vector<int64_t> first_waits_ms;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, journal_history& x) {
  return f(caf::meta::type_name("journal_history"), x.from_ms, x.to_ms, x.queued_now,
           x.minutes, x.loads, x.first_waits_ms);
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
