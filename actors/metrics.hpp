#pragma once

#include <caf/fwd.hpp>

#include "messages/interfaces.hpp"

namespace foreman {

/// Spawns the METRICS actor: it counts the events the worker, the webhook
/// dispatcher and the HTTP ingress report, and renders them for /metrics
/// with the queue depth read from the store at that moment.
metrics_actor spawn_metrics(caf::actor_system& sys, store_actor store);

} // namespace foreman
