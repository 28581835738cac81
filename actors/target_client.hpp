#pragma once

#include <chrono>

#include <caf/fwd.hpp>

#include "core/log.hpp"
#include "core/url.hpp"
#include "messages/interfaces.hpp"

namespace foreman {

struct target_client_config {
  http_url target;
  /// How long an inference call may wait for each read from (or write to)
  /// the target's socket before it counts as a connection failure; the
  /// whole call is bounded by the worker's job timeout.
  std::chrono::milliseconds read_timeout{std::chrono::hours{1}};
  /// How long /api/ps may take.
  std::chrono::milliseconds ps_timeout{std::chrono::seconds{5}};
  /// A streamed run's progress listeners hear of it at most this often
  /// (and once more when its stream ends).
  std::chrono::milliseconds progress_interval{250};
  logger log;
};

/// Spawns the TARGET CLIENT actor (detached). Calls run in long-lived
/// detached runner actors (a few, reused from call to call) over kept-alive
/// connections, so the client stays responsive and can abort calls under way.
target_client_actor spawn_target_client(caf::actor_system& sys,
                                        target_client_config config);

} // namespace foreman
