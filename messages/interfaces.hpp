#pragma once

// The typed interface of every foreman actor. Handles are all an actor knows
// of another, so any of them can live on another node.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/typed_actor.hpp>
#include <caf/replies_to.hpp>

#include "messages/job.hpp"
#include "messages/operations.hpp"
#include "messages/target.hpp"
#include "messages/type_ids.hpp"
#include "messages/webhook.hpp"

namespace foreman {

/// Learns that the webhook outbox has new events.
using outbox_listener_actor = caf::typed_actor<caf::reacts_to<wake_atom>>;

/// Learns each job transition once its transaction has committed.
using job_event_listener_actor = caf::typed_actor<caf::reacts_to<job_event>>;

/// The STORE actor interface: the job database; the only owner of SQL.
/// Writes (insert, transitions, completions) answer as soon as they are
/// applied; the writes that arrive while a commit is under way are
/// committed together by the next one (group commit). Whoever acknowledges
/// a write to the outside waits for `durable_atom` first.
using store_actor = caf::typed_actor<
  /// Persists a new queued job (or answers with the job stored earlier under
  /// the spec's idempotency key).
  caf::replies_to<insert_atom, job_spec>::with<job>,
  /// Reads a job; fails with job_not_found.
  caf::replies_to<caf::get_atom, int64_t>::with<job>,
  /// Queued jobs with ids above the given one, in id order, at most the
  /// given number (the worker's queue index is loaded from these pages).
  caf::replies_to<queued_atom, int64_t, int32_t>::with<std::vector<queued_job>>,
  /// Answers once every write this store received before it is durable,
  /// with the number of commits so far.
  caf::replies_to<durable_atom>::with<int64_t>,
  /// INTERNAL: commit the writes applied since the last commit, as one.
  caf::reacts_to<flush_atom>,
  /// Applies a state change in one transaction; fails with
  /// invalid_transition when the job is not in a state that allows it.
  caf::replies_to<job_transition>::with<job>,
  /// Marks a job done, storing its result and completion artifact.
  caf::replies_to<job_completion>::with<job>,
  /// One page of stored jobs, newest first.
  caf::replies_to<list_atom, job_query>::with<job_page>,
  /// A job's artifacts; fails with job_not_found for an unknown job.
  caf::replies_to<artifacts_atom, int64_t>::with<std::vector<artifact_info>>,
  /// One artifact with its bytes; fails with job_not_found when the job or
  /// the artifact does not exist.
  caf::replies_to<artifact_atom, int64_t, std::string>::with<artifact>,
  /// The webhook events due at the given time, at most the given number,
  /// with artifacts up to the given size inline.
  caf::replies_to<outbox_atom, int64_t, int32_t, int64_t>::with<webhook_batch>,
  /// Adds a delivery attempt to its job's delivery log and settles the
  /// event: dropped once delivered or given up, else due again at the
  /// attempt's next_attempt_ms.
  caf::reacts_to<webhook_delivery>,
  /// A job's delivery log, oldest attempt first; fails with job_not_found
  /// for an unknown job.
  caf::replies_to<deliveries_atom, int64_t>::with<std::vector<webhook_delivery>>,
  /// Wake this listener whenever a transaction adds webhook events.
  caf::reacts_to<subscribe_atom, outbox_listener_actor>,
  /// Send this listener every job transition once it is committed.
  caf::reacts_to<subscribe_atom, job_event_listener_actor>,
  /// The journal's events after a sequence number, at most the given number,
  /// of the given owner's jobs only (empty = everyone's; see job_query).
  caf::replies_to<journal_atom, int64_t, int32_t, std::string>::with<journal_page>,
  /// The queue, the recent jobs the query lists and the running job (0 =
  /// none), read at one point of the journal.
  caf::replies_to<snapshot_atom, job_query, int64_t>::with<event_snapshot>,
  /// The journal's history of the last given milliseconds; its loads and
  /// first starts only up to the given sequence number and of the given
  /// owner's jobs (empty = everyone's).
  caf::replies_to<history_atom, int64_t, int64_t, std::string>::with<journal_history>,
  /// Non-terminal jobs counted by model and state.
  caf::replies_to<depth_atom>::with<std::vector<queue_depth>>,
  /// Whether the database answers and its file is in place: "" when
  /// healthy, else the problem.
  caf::replies_to<health_atom>::with<std::string>>;

/// Receives chunks of a running job as the target produces them.
using chunk_sink_actor = caf::typed_actor<caf::reacts_to<job_chunk>>;

/// Receives what the worker tells a waiting caller before the outcome.
using job_sink_actor = caf::typed_actor<
  /// The job was stored; it carries the id, and its queue position.
  caf::reacts_to<accepted_atom, job, int64_t>,
  /// A chunk of the answer (streaming callers only).
  caf::reacts_to<job_chunk>>;

/// A WAITING CALLER: owns one synchronous caller's connection while its job
/// waits and runs. It submits the job; the worker's answer to that request
/// is the caller's answer.
using waiting_caller_actor = job_sink_actor::extend<
  /// INTERNAL: the caller disconnected; its job is cancelled.
  caf::reacts_to<gone_atom>,
  /// INTERNAL: foreman stops; the caller hears so, its job stays queued.
  caf::reacts_to<drain_atom>>;

/// Learns each change of what the worker does.
using worker_status_listener_actor = caf::typed_actor<caf::reacts_to<worker_status>>;

/// The WORKER actor interface: the single execution slot on the target.
using worker_actor = caf::typed_actor<
  /// Stores a job and answers when it reaches a terminal state. The sink (may
  /// be invalid) learns the job as soon as it is stored, and receives its
  /// chunks when the flag asks for streaming.
  caf::replies_to<submit_atom, job_spec, job_sink_actor, bool>::with<
    job_outcome>,
  /// Stores a job for asynchronous execution and answers with it at once
  /// (the job stored earlier under the spec's idempotency key, if any).
  caf::replies_to<enqueue_atom, job_spec>::with<job>,
  /// Cancels a job: a queued one at once, a running one by aborting its
  /// call to the target. Answers with the cancelled job; fails with
  /// invalid_transition when the job has already ended.
  caf::replies_to<cancel_atom, int64_t>::with<job>,
  /// A job with its queue position and estimated start.
  caf::replies_to<position_atom, int64_t>::with<job_status>,
  /// INTERNAL: the running job's call for this attempt took too long.
  caf::reacts_to<timeout_atom, int64_t, int32_t>,
  /// What the worker is doing.
  caf::replies_to<status_atom>::with<worker_status>,
  /// Tell this listener each change of what the worker is doing.
  caf::reacts_to<subscribe_atom, worker_status_listener_actor>,
  /// Stops taking jobs; answers once the slot is free: the running job
  /// finished within the grace period (milliseconds), or was aborted then
  /// and put back in the queue without using up an attempt. The answer is
  /// the id of the job put back, 0 = none.
  caf::replies_to<drain_atom, int64_t>::with<int64_t>,
  /// INTERNAL: the drain's grace period is over.
  caf::reacts_to<drain_atom>,
  /// INTERNAL: look for the next job to run.
  caf::reacts_to<wake_atom>,
  /// INTERNAL: read the queue from the store after this id (at start).
  caf::reacts_to<queued_atom, int64_t>>;

/// Learns how far running jobs' streamed answers have come.
using job_progress_listener_actor = caf::typed_actor<caf::reacts_to<job_progress>>;

/// The TARGET CLIENT actor interface: blocking HTTP to one Ollama target,
/// performed off the scheduler threads.
using target_client_actor = caf::typed_actor<
  /// Performs one inference call. Streamed answers go to the sink (when
  /// valid) line by line as they arrive, straight from the thread reading
  /// them; the reply holds the whole answer as one object.
  caf::replies_to<call_atom, target_request, chunk_sink_actor>::with<
    target_reply>,
  /// Aborts the call made for a job, if one is under way.
  caf::reacts_to<abort_atom, int64_t>,
  /// Tell this listener how far each streamed run has come: at most one
  /// report per job and progress interval, and a final one.
  caf::reacts_to<subscribe_atom, job_progress_listener_actor>,
  /// Reads /api/ps.
  caf::replies_to<ps_atom>::with<std::vector<resident_model>>>;

/// The MODEL INVENTORY actor interface: which models are resident on the
/// target, and the pinned embedder.
using inventory_actor = caf::typed_actor<
  /// The model keys resident now.
  caf::replies_to<residents_atom>::with<std::vector<std::string>>,
  /// The worker just used this model and it stays loaded.
  caf::reacts_to<loaded_atom, std::string>,
  /// The worker's request unloaded this model (keep_alive 0).
  caf::reacts_to<unloaded_atom, std::string>,
  /// INTERNAL: read /api/ps now.
  caf::reacts_to<poll_atom>,
  /// INTERNAL: load the pinned embedder.
  caf::reacts_to<warm_atom>,
  /// The target's reachability, the embedder and the resident models.
  caf::replies_to<health_atom>::with<target_health>>;

/// The WEBHOOK DISPATCHER actor interface: delivers job-state events from the
/// store's durable outbox to callers' URLs.
using webhook_dispatcher_actor = caf::typed_actor<
  /// New events are in the outbox (or a retry is due): read it.
  caf::reacts_to<wake_atom>,
  /// INTERNAL: a delivery runner's outcome.
  caf::reacts_to<webhook_attempt>>;

/// The METRICS actor interface: counts what the other actors report and
/// renders it, with the queue depth, as Prometheus text.
using metrics_actor = caf::typed_actor<
  caf::reacts_to<job_submitted_metric>, caf::reacts_to<job_started_metric>,
  caf::reacts_to<job_finished_metric>, caf::reacts_to<model_load_metric>,
  caf::reacts_to<target_error_metric>, caf::reacts_to<webhook_metric>,
  caf::reacts_to<http_request_metric>,
  /// Every metric in the Prometheus text exposition format 0.0.4.
  caf::replies_to<metrics_atom>::with<std::string>>;

/// An EVENT SUBSCRIBER: owns one GET /events connection.
using event_subscriber_actor = caf::typed_actor<
  /// An event for this subscriber (already filtered to what it may see).
  caf::reacts_to<sse_event>,
  /// INTERNAL: the subscriber disconnected.
  caf::reacts_to<gone_atom>,
  /// INTERNAL: foreman stops; the stream ends.
  caf::reacts_to<drain_atom>>;

/// The EVENT HUB actor interface: fans job transitions, worker and target
/// changes, running jobs' progress and periodic stats out to the event
/// subscribers.
using event_hub_actor = job_event_listener_actor::extend_with<
  worker_status_listener_actor>::extend_with<job_progress_listener_actor>::extend<
  /// Adds a subscriber that sees the jobs of the given owner only (empty =
  /// everyone's); answers with the worker and target as last seen.
  caf::replies_to<subscribe_atom, event_subscriber_actor, std::string>::with<
    live_state>,
  /// INTERNAL: read the target's state; stats when due.
  caf::reacts_to<poll_atom>>;

/// The HTTP INGRESS actor interface: owns foreman's HTTP server, whose
/// handler threads talk to the worker.
using http_ingress_actor = caf::typed_actor<
  /// The port the server listens on.
  caf::replies_to<port_atom>::with<uint16_t>,
  /// Shutdown begins: stop accepting connections and refuse new jobs with
  /// 503; requests under way go on.
  caf::replies_to<drain_atom>::with<bool>>;

} // namespace foreman

CAF_BEGIN_TYPE_ID_BLOCK(foreman_handles, caf::first_custom_type_id + 1100)

  CAF_ADD_TYPE_ID(foreman_handles, (foreman::store_actor))
  CAF_ADD_TYPE_ID(foreman_handles, (foreman::chunk_sink_actor))
  CAF_ADD_TYPE_ID(foreman_handles, (foreman::job_sink_actor))
  CAF_ADD_TYPE_ID(foreman_handles, (foreman::waiting_caller_actor))
  CAF_ADD_TYPE_ID(foreman_handles, (foreman::worker_actor))
  CAF_ADD_TYPE_ID(foreman_handles, (foreman::target_client_actor))
  CAF_ADD_TYPE_ID(foreman_handles, (foreman::inventory_actor))
  CAF_ADD_TYPE_ID(foreman_handles, (foreman::http_ingress_actor))
  CAF_ADD_TYPE_ID(foreman_handles, (foreman::outbox_listener_actor))
  CAF_ADD_TYPE_ID(foreman_handles, (foreman::webhook_dispatcher_actor))
  CAF_ADD_TYPE_ID(foreman_handles, (foreman::metrics_actor))
  CAF_ADD_TYPE_ID(foreman_handles, (foreman::job_event_listener_actor))
  CAF_ADD_TYPE_ID(foreman_handles, (foreman::event_subscriber_actor))
  CAF_ADD_TYPE_ID(foreman_handles, (foreman::worker_status_listener_actor))
  CAF_ADD_TYPE_ID(foreman_handles, (foreman::event_hub_actor))
  CAF_ADD_TYPE_ID(foreman_handles, (foreman::job_progress_listener_actor))

CAF_END_TYPE_ID_BLOCK(foreman_handles)
