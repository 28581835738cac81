#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <caf/fwd.hpp>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/url.hpp"
#include "messages/interfaces.hpp"
#include "net/webhook_http.hpp"

namespace foreman {

/// Delivers one event's body to its receiver; called on a delivery runner.
using webhook_sender = std::function<net::webhook_post_result(
  const http_url& url, const std::string& body, int64_t event_id)>;

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
  /// Backoffs run on its monotonic time; signatures carry its wall time.
  std::shared_ptr<const time_source> clock = system_clock();
  logger log;
  /// Empty = an HTTP POST signed with `secret`, waiting up to `timeout`.
  webhook_sender send;
  /// Each delivery runs on a thread of its own, so no receiver can slow
  /// another. Off only under CAF's deterministic test scheduler, which
  /// cannot run detached actors.
  bool detached_runners = true;
};

/// Spawns the WEBHOOK DISPATCHER actor: it subscribes to the store's outbox
/// and delivers every event at least once, a job's events in order, each
/// POST on a runner actor of its own.
webhook_dispatcher_actor spawn_webhook_dispatcher(caf::actor_system& sys,
                                                  webhook_dispatcher_config config,
                                                  store_actor store);

} // namespace foreman
