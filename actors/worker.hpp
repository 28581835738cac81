#pragma once

#include <caf/fwd.hpp>

#include "core/clock.hpp"
#include "core/keep_alive.hpp"
#include "core/log.hpp"
#include "core/scheduling_policy.hpp"
#include "messages/interfaces.hpp"

namespace foreman {

struct worker_config {
  /// keep_alive sent with every job's request.
  keep_alive job_keep_alive = keep_alive::forever();
  /// Attempts for jobs submitted without their own max_attempts.
  int32_t default_max_attempts = 3;
  /// The first retry waits up to this long, each further one twice as long.
  int64_t retry_backoff_ms = 1000;
  int64_t max_retry_backoff_ms = 60000;
  /// A call to the target that takes longer is aborted and counts as a failed
  /// attempt; 0 = no limit.
  int64_t job_timeout_ms = 0;
  scheduling_rules rules;
  unload_on_switch unload_mode = unload_on_switch::automatic;
  /// Stamps job starts and times calls; backoffs run on its monotonic time.
  std::shared_ptr<const time_source> clock = system_clock();
  logger log;
};

/// Spawns the WORKER actor: the single execution slot on the target. It runs
/// one job at a time, choosing each with choose_next_job, and fulfils the
/// promises of callers waiting for a job. It reports job, load and target
/// error events to `metrics`.
worker_actor spawn_worker(caf::actor_system& sys, worker_config config,
                          store_actor store, target_client_actor target,
                          inventory_actor inventory, metrics_actor metrics);

} // namespace foreman
