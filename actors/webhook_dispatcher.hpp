#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/fwd.hpp>

#include "messages/interfaces.hpp"

namespace foreman {

struct webhook_dispatcher_config {
  /// Signs every delivery (HMAC-SHA256) when not empty.
  std::string secret;
  /// Delivery attempts per event before it is given up.
  int32_t max_attempts = 10;
  /// Artifacts up to this many bytes travel inside a `done` event.
  int64_t inline_limit = 64 * 1024;
  /// The first retry waits up to this long, each further one twice as long,
  /// at most max_backoff_ms.
  int64_t backoff_ms = 1000;
  int64_t max_backoff_ms = 10 * 60 * 1000;
  /// A receiver that has not answered within this is a failed attempt.
  std::chrono::milliseconds timeout{10000};
  /// Deliveries under way at once, each on its own thread; one per job.
  int32_t max_in_flight = 64;
  /// Where receivers fetch artifacts too large to inline.
  std::string public_base_url;
  /// Counts each delivery attempt's outcome.
  metrics_actor metrics;
};

/// Spawns the WEBHOOK DISPATCHER actor: it subscribes to the store's outbox
/// and delivers every event at least once, a job's events in order, each
/// POST on a detached runner so no receiver can slow the worker or other
/// jobs' events.
webhook_dispatcher_actor spawn_webhook_dispatcher(caf::actor_system& sys,
                                                  webhook_dispatcher_config config,
                                                  store_actor store);

} // namespace foreman
