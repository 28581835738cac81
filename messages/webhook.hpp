#pragma once

// Messages between the store and the webhook dispatcher: job-state events
// waiting in the durable outbox, the outcome of delivering one, and the
// delivery log kept of each job's attempts.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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
  /// The event's state and where it went, for the job's delivery log.
  job_state state = job_state::queued;
  std::string url;
  /// The receiver answered 2xx.
  bool delivered = false;
  /// The receiver's HTTP status; 0 when it did not answer.
  int32_t http_status = 0;
  /// Why not delivered, for the logs.
  std::string problem;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, webhook_attempt& x) {
  return f(caf::meta::type_name("webhook_attempt"), x.seq, x.job_id, x.state,
           x.url, x.delivered, x.http_status, x.problem);
}

/// What the dispatcher made of a delivery attempt.
enum class delivery_outcome : uint8_t {
  /// The receiver answered 2xx.
  delivered,
  /// It failed; the event goes out again later.
  retrying,
  /// It failed and was the event's last attempt: the event is dropped.
  given_up,
};

std::string to_string(delivery_outcome x);
std::optional<delivery_outcome> parse_delivery_outcome(std::string_view text);

/// One delivery attempt of a webhook event, as a job's delivery log keeps it.
struct webhook_delivery {
  /// The event's outbox sequence number (its event_id).
  int64_t event_seq = 0;
  int64_t job_id = 0;
  /// The job state the event reports.
  job_state state = job_state::queued;
  std::string url;
  /// 1 for the event's first attempt.
  int32_t attempt = 0;
  /// The receiver's HTTP status; 0 when it did not answer.
  int32_t http_status = 0;
  /// Why the attempt failed; empty when delivered.
  std::string error;
  delivery_outcome outcome = delivery_outcome::delivered;
  /// When the attempt ended, Unix ms.
  int64_t at_ms = 0;
  /// When retrying: when the event goes out again (Unix ms); else 0.
  int64_t next_attempt_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, webhook_delivery& x) {
  return f(caf::meta::type_name("webhook_delivery"), x.event_seq, x.job_id,
           x.state, x.url, x.attempt, x.http_status, x.error, x.outcome,
           x.at_ms, x.next_attempt_ms);
}

} // namespace foreman
