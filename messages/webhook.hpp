#pragma once

// Messages between the store and the webhook dispatcher: job-state events
// waiting in the durable outbox, and the outcome of delivering one.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/job.hpp"

namespace foreman {

/// An artifact as a `done` event carries it: the bytes inline when small
/// enough, otherwise only what it is (the receiver fetches it by URL).
struct event_artifact {
  artifact_info info;
  bool inlined = false;
  std::string data;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_artifact& x) {
  return f(caf::meta::type_name("event_artifact"), x.info, x.inlined, x.data);
}

/// One state transition of a job with a webhook URL, as stored in the outbox
/// in the transaction that made it, plus the job's facts the event reports.
struct webhook_event {
  /// The outbox sequence number: increasing, so a job's events are
  /// delivered in this order. Receivers may use it to drop duplicates.
  int64_t seq = 0;
  int64_t job_id = 0;
  std::string url;
  job_state state = job_state::queued;
  /// False for a job's first event (the transition from nothing to queued).
  bool has_previous = false;
  job_state previous_state = job_state::queued;
  /// When the transition happened, Unix ms.
  int64_t at_ms = 0;
  std::string model;
  int32_t attempt = 0;
  /// Set on done: the job's result, the target's whole answer (JSON).
  std::string result;
  /// Set on failed.
  std::string error;
  /// Set on done.
  std::vector<event_artifact> artifacts;
  /// Delivery attempts made so far.
  int32_t deliveries = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, webhook_event& x) {
  return f(caf::meta::type_name("webhook_event"), x.seq, x.job_id, x.url,
           x.state, x.has_previous, x.previous_state, x.at_ms, x.model,
           x.attempt, x.result, x.error, x.artifacts, x.deliveries);
}

/// The events due for delivery: the oldest undelivered one of each job
/// whose retry time has come.
struct webhook_batch {
  std::vector<webhook_event> events;
  /// When the earliest event not yet due becomes due, Unix ms; 0 = none.
  int64_t next_due_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, webhook_batch& x) {
  return f(caf::meta::type_name("webhook_batch"), x.events, x.next_due_ms);
}

/// What one delivery attempt of an event came to.
struct webhook_attempt {
  int64_t seq = 0;
  int64_t job_id = 0;
  /// The receiver answered 2xx.
  bool delivered = false;
  /// Why not, for the log.
  std::string problem;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, webhook_attempt& x) {
  return f(caf::meta::type_name("webhook_attempt"), x.seq, x.job_id,
           x.delivered, x.problem);
}

} // namespace foreman
