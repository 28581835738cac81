#pragma once

// foreman assembled: every actor spawned and wired in one actor system. An
// application that embeds foreman creates a service in its own system.

#include <cstdint>
#include <memory>

#include <caf/fwd.hpp>

#include "core/settings.hpp"
#include "messages/interfaces.hpp"

namespace foreman {

class service {
public:
  /// Opens the database (putting jobs a crash interrupted back in the
  /// queue), spawns the actors and starts the HTTP server. Throws
  /// std::runtime_error (or store_error) with a message naming the problem.
  service(caf::actor_system& sys, const settings& config);
  ~service();

  service(const service&) = delete;
  service& operator=(const service&) = delete;

  uint16_t http_port();

  worker_actor worker() const;
  store_actor store() const;

  /// Stops accepting requests, lets the running job finish within the
  /// shutdown grace period (else puts it back in the queue without using up
  /// an attempt), then stops the HTTP server and the actors. Queued jobs stay
  /// stored; the webhook outbox keeps every undelivered event.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace foreman
