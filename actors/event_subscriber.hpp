#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <caf/fwd.hpp>

#include "messages/interfaces.hpp"
#include "net/http_server.hpp"

namespace foreman {

struct event_subscriber_config {
  /// Sees only this owner's jobs (a client key's identity); empty = all.
  std::string owner;
  /// The Last-Event-ID the caller sent, if any.
  std::optional<int64_t> last_event_id;
  /// A snapshot is followed by the last hour's history (GET /events?history=1).
  bool history = false;
  /// For the snapshot's status: the target's URL and the pinned embedder.
  std::string target_url;
  std::string embed_model;
};

/// Spawns an EVENT SUBSCRIBER for one GET /events caller: it starts the
/// stream, subscribes to `hub`, replays the journal after the caller's
/// Last-Event-ID (or sends a snapshot, and the history when asked, when there
/// is none or the journal no longer reaches back to it), then writes each
/// event the hub sends. It
/// quits when the caller leaves or falls too far behind, and ends the
/// stream when foreman stops. It holds no thread between events.
event_subscriber_actor spawn_event_subscriber(caf::actor_system& sys,
                                              event_hub_actor hub, store_actor store,
                                              net::exchange_ptr out,
                                              event_subscriber_config config);

} // namespace foreman
