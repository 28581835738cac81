#pragma once

#include <memory>

#include <caf/fwd.hpp>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "messages/interfaces.hpp"

namespace foreman {

class job_store;

struct store_config {
  /// Queued jobs beyond which submissions fail with queue_full; 0 = none.
  int64_t max_queue = 0;
  /// Stamps every transition.
  std::shared_ptr<const time_source> clock = system_clock();
  logger log;
  /// Runs on a thread of its own: SQLite blocks, and CAF's scheduler threads
  /// must not. Off only under CAF's deterministic test scheduler, which
  /// cannot run detached actors.
  bool detached = true;
};

/// Spawns the STORE actor over an open database.
store_actor spawn_store(caf::actor_system& sys, std::shared_ptr<job_store> db,
                        store_config config);

} // namespace foreman
