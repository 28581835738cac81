#pragma once

#include <chrono>
#include <string>

#include <caf/fwd.hpp>

#include "messages/interfaces.hpp"

namespace foreman {

struct event_hub_config {
  /// The target's URL and the pinned embedder's model key, as target events
  /// name them.
  std::string target_url;
  std::string embed_model;
  /// How often the target's state is read for changes (the worker tells
  /// its own).
  std::chrono::milliseconds poll_interval{std::chrono::milliseconds{500}};
  /// How often every subscriber gets a stats event.
  std::chrono::milliseconds stats_interval{std::chrono::seconds{5}};
};

/// Spawns the EVENT HUB actor: it listens to the store's committed job
/// transitions, the worker's changes and the target client's progress
/// reports of running jobs, reads the target's state, and counts the last
/// minute's jobs and loads; each event goes to every subscriber allowed to
/// see it (actors/event_subscriber.hpp). It holds no connection itself, so
/// a slow subscriber never slows the others.
event_hub_actor spawn_event_hub(caf::actor_system& sys, event_hub_config config,
                                store_actor store, worker_actor worker,
                                inventory_actor inventory, target_client_actor target);

} // namespace foreman
