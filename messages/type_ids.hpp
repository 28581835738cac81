#pragma once

// foreman's type-ID block: every message type and atom, registered once by
// foreman::add_message_types so messages can cross nodes.

#include <string>
#include <vector>

#include <caf/type_id.hpp>

#include "messages/events.hpp"
#include "messages/job.hpp"
#include "messages/operations.hpp"
#include "messages/target.hpp"
#include "messages/webhook.hpp"

CAF_BEGIN_TYPE_ID_BLOCK(foreman, caf::first_custom_type_id + 1000)

  CAF_ADD_TYPE_ID(foreman, (foreman::job_spec))
  CAF_ADD_TYPE_ID(foreman, (foreman::job))
  CAF_ADD_TYPE_ID(foreman, (foreman::job_transition))
  CAF_ADD_TYPE_ID(foreman, (foreman::job_completion))
  CAF_ADD_TYPE_ID(foreman, (foreman::job_outcome))
  CAF_ADD_TYPE_ID(foreman, (foreman::job_chunk))
  CAF_ADD_TYPE_ID(foreman, (foreman::queue_ahead))
  CAF_ADD_TYPE_ID(foreman, (foreman::job_status))
  CAF_ADD_TYPE_ID(foreman, (foreman::queued_job))
  CAF_ADD_TYPE_ID(foreman, (std::vector<foreman::queued_job>))
  CAF_ADD_TYPE_ID(foreman, (foreman::target_request))
  CAF_ADD_TYPE_ID(foreman, (foreman::target_reply))
  CAF_ADD_TYPE_ID(foreman, (foreman::resident_model))
  CAF_ADD_TYPE_ID(foreman, (std::vector<foreman::resident_model>))
  CAF_ADD_TYPE_ID(foreman, (std::vector<std::string>))
  CAF_ADD_TYPE_ID(foreman, (foreman::job_query))
  CAF_ADD_TYPE_ID(foreman, (foreman::job_page))
  CAF_ADD_TYPE_ID(foreman, (foreman::artifact_info))
  CAF_ADD_TYPE_ID(foreman, (std::vector<foreman::artifact_info>))
  CAF_ADD_TYPE_ID(foreman, (foreman::artifact))
  CAF_ADD_TYPE_ID(foreman, (foreman::event_artifact))
  CAF_ADD_TYPE_ID(foreman, (foreman::webhook_event))
  CAF_ADD_TYPE_ID(foreman, (foreman::webhook_batch))
  CAF_ADD_TYPE_ID(foreman, (foreman::webhook_attempt))
  CAF_ADD_TYPE_ID(foreman, (foreman::job_submitted_metric))
  CAF_ADD_TYPE_ID(foreman, (foreman::job_started_metric))
  CAF_ADD_TYPE_ID(foreman, (foreman::job_finished_metric))
  CAF_ADD_TYPE_ID(foreman, (foreman::model_load_metric))
  CAF_ADD_TYPE_ID(foreman, (foreman::target_error_metric))
  CAF_ADD_TYPE_ID(foreman, (foreman::webhook_metric))
  CAF_ADD_TYPE_ID(foreman, (foreman::http_request_metric))
  CAF_ADD_TYPE_ID(foreman, (foreman::queue_depth))
  CAF_ADD_TYPE_ID(foreman, (std::vector<foreman::queue_depth>))
  CAF_ADD_TYPE_ID(foreman, (foreman::worker_status))
  CAF_ADD_TYPE_ID(foreman, (foreman::target_health))
  CAF_ADD_TYPE_ID(foreman, (foreman::job_event))
  CAF_ADD_TYPE_ID(foreman, (foreman::journal_page))
  CAF_ADD_TYPE_ID(foreman, (foreman::event_snapshot))
  CAF_ADD_TYPE_ID(foreman, (foreman::live_state))
  CAF_ADD_TYPE_ID(foreman, (foreman::sse_event))
  CAF_ADD_TYPE_ID(foreman, (foreman::job_progress))
  CAF_ADD_TYPE_ID(foreman, (foreman::webhook_delivery))
  CAF_ADD_TYPE_ID(foreman, (std::vector<foreman::webhook_delivery>))
  CAF_ADD_TYPE_ID(foreman, (foreman::minute_activity))
  CAF_ADD_TYPE_ID(foreman, (foreman::model_load))
  CAF_ADD_TYPE_ID(foreman, (foreman::journal_history))

  // Store
  CAF_ADD_ATOM(foreman, foreman, insert_atom, "insert")
  CAF_ADD_ATOM(foreman, foreman, queued_atom, "queued")
  CAF_ADD_ATOM(foreman, foreman, durable_atom, "durable")
  CAF_ADD_ATOM(foreman, foreman, flush_atom, "flush")
  CAF_ADD_ATOM(foreman, foreman, position_atom, "position")
  CAF_ADD_ATOM(foreman, foreman, list_atom, "list_jobs")
  CAF_ADD_ATOM(foreman, foreman, artifacts_atom, "artifacts")
  CAF_ADD_ATOM(foreman, foreman, artifact_atom, "artifact")
  CAF_ADD_ATOM(foreman, foreman, outbox_atom, "outbox")
  CAF_ADD_ATOM(foreman, foreman, deliveries_atom, "deliveries")
  CAF_ADD_ATOM(foreman, foreman, subscribe_atom, "subscribe")
  // Worker
  CAF_ADD_ATOM(foreman, foreman, submit_atom, "submit")
  CAF_ADD_ATOM(foreman, foreman, enqueue_atom, "enqueue")
  CAF_ADD_ATOM(foreman, foreman, accepted_atom, "accepted")
  CAF_ADD_ATOM(foreman, foreman, wake_atom, "wake")
  CAF_ADD_ATOM(foreman, foreman, cancel_atom, "cancel")
  CAF_ADD_ATOM(foreman, foreman, timeout_atom, "timeout")
  // Target client
  CAF_ADD_ATOM(foreman, foreman, call_atom, "call")
  CAF_ADD_ATOM(foreman, foreman, abort_atom, "abort")
  CAF_ADD_ATOM(foreman, foreman, ps_atom, "ps")
  // Model inventory
  CAF_ADD_ATOM(foreman, foreman, residents_atom, "residents")
  CAF_ADD_ATOM(foreman, foreman, loaded_atom, "loaded")
  CAF_ADD_ATOM(foreman, foreman, unloaded_atom, "unloaded")
  CAF_ADD_ATOM(foreman, foreman, poll_atom, "poll")
  CAF_ADD_ATOM(foreman, foreman, warm_atom, "warm")
  // HTTP ingress
  CAF_ADD_ATOM(foreman, foreman, port_atom, "port")
  CAF_ADD_ATOM(foreman, foreman, gone_atom, "gone")
  // Operations
  CAF_ADD_ATOM(foreman, foreman, depth_atom, "depth")
  CAF_ADD_ATOM(foreman, foreman, health_atom, "health")
  CAF_ADD_ATOM(foreman, foreman, status_atom, "status")
  CAF_ADD_ATOM(foreman, foreman, drain_atom, "drain")
  CAF_ADD_ATOM(foreman, foreman, metrics_atom, "metrics")
  // Event stream
  CAF_ADD_ATOM(foreman, foreman, journal_atom, "journal")
  CAF_ADD_ATOM(foreman, foreman, snapshot_atom, "snapshot")
  CAF_ADD_ATOM(foreman, foreman, history_atom, "history")

CAF_END_TYPE_ID_BLOCK(foreman)
