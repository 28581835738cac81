#pragma once

#include <caf/fwd.hpp>

#include "core/keep_alive.hpp"
#include "core/scheduling_policy.hpp"
#include "messages/interfaces.hpp"

namespace foreman {

struct worker_config {
  /// keep_alive sent with every job's request.
  keep_alive job_keep_alive = keep_alive::forever();
  /// Attempts for jobs submitted without their own max_attempts.
  int32_t default_max_attempts = 3;
  scheduling_rules rules;
};

/// Spawns the WORKER actor: the single execution slot on the target. It runs
/// one job at a time, choosing each with choose_next_job, and fulfils the
/// promises of callers waiting for a job.
worker_actor spawn_worker(caf::actor_system& sys, worker_config config,
                          store_actor store, target_client_actor target,
                          inventory_actor inventory);

} // namespace foreman
