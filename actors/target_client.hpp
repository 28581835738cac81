#pragma once

#include <chrono>

#include <caf/fwd.hpp>

#include "core/url.hpp"
#include "messages/interfaces.hpp"

namespace foreman {

struct target_client_config {
  http_url target;
  /// How long an inference call may take before it counts as a connection
  /// failure.
  std::chrono::milliseconds call_timeout{std::chrono::hours{1}};
  /// How long /api/ps may take.
  std::chrono::milliseconds ps_timeout{std::chrono::seconds{5}};
};

/// Spawns the TARGET CLIENT actor (detached). Calls run in long-lived
/// detached runner actors (a few, reused from call to call) over kept-alive
/// connections, so the client stays responsive and can abort calls under way.
target_client_actor spawn_target_client(caf::actor_system& sys,
                                        target_client_config config);

} // namespace foreman
