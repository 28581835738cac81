#pragma once

#include <chrono>
#include <string>

#include <caf/fwd.hpp>

#include "core/log.hpp"
#include "messages/interfaces.hpp"

namespace foreman {

struct inventory_config {
  /// Pinned embedder; empty = none.
  std::string embed_model;
  std::chrono::milliseconds poll_interval{std::chrono::seconds{2}};
  logger log;
};

/// Spawns the MODEL INVENTORY actor. It reads /api/ps every poll_interval,
/// takes the worker's word for what it just loaded or unloaded, and keeps the
/// embedder loaded (warming it again whenever /api/ps no longer lists it).
inventory_actor spawn_inventory(caf::actor_system& sys,
                                target_client_actor target,
                                inventory_config config);

} // namespace foreman
