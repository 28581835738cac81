#pragma once

#include <memory>

#include <caf/fwd.hpp>

#include "messages/interfaces.hpp"

namespace foreman {

class job_store;

struct store_config {
  /// Queued jobs beyond which submissions fail with queue_full; 0 = none.
  int64_t max_queue = 0;
};

/// Spawns the STORE actor over an open database. It runs detached: SQLite
/// blocks, and CAF's scheduler threads must not.
store_actor spawn_store(caf::actor_system& sys, std::shared_ptr<job_store> db,
                        store_config config);

} // namespace foreman
