#pragma once

#include <caf/fwd.hpp>

#include "net/http_server.hpp"
#include "messages/interfaces.hpp"

namespace foreman {

/// Binds foreman's HTTP server and spawns the HTTP INGRESS actor that owns
/// it; the server stops when the actor exits. Throws std::runtime_error when
/// the address cannot be bound.
http_ingress_actor spawn_http_ingress(caf::actor_system& sys,
                                      const net::http_server_options& options,
                                      worker_actor worker, store_actor store);

} // namespace foreman
