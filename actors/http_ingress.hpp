#pragma once

#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "core/api_keys.hpp"
#include "core/url.hpp"
#include "messages/interfaces.hpp"
#include "net/http_server.hpp"
#include "net/jobs_api.hpp"

namespace foreman {

struct http_ingress_config {
  net::http_server_options server;
  /// Synchronous callers that may wait for their jobs at once; beyond this
  /// they get 503.
  int max_waiting_callers = 10000;
  /// Where pass-through and fast-lane requests go.
  http_url target;
  /// The pinned embedder, served in the fast lane; empty = none.
  std::string embed_model;
  /// Which webhook URLs POST /jobs accepts.
  net::webhook_policy webhooks;
  /// FOREMAN_MAX_WAIT, which the dashboard marks queued jobs against.
  int64_t max_wait_ms = 0;
  /// Callers' keys; empty = no authentication.
  std::vector<api_key> api_keys;
};

/// Binds foreman's HTTP server and spawns the HTTP INGRESS actor that owns
/// it. The server's parsing threads check callers' keys and validate
/// requests, then hand each one on without waiting: a synchronous job
/// request to a waiting caller actor (actors/waiting_caller.hpp) that owns
/// the caller's connection, job and health questions to short-lived actors
/// that answer when the store, worker or inventory reply, an event stream
/// to an event subscriber actor fed by `events`. Every request is
/// counted in `metrics`. The server stops when the actor exits. Throws
/// std::runtime_error when the address cannot be bound.
http_ingress_actor spawn_http_ingress(caf::actor_system& sys,
                                      http_ingress_config config,
                                      worker_actor worker, store_actor store,
                                      inventory_actor inventory,
                                      metrics_actor metrics, event_hub_actor events);

} // namespace foreman
