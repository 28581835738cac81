#pragma once

// Who is calling: the bearer key of a request (FOREMAN_API_KEYS), and what
// each route asks of the caller.

#include <string>
#include <variant>
#include <vector>

#include "core/api_keys.hpp"
#include "net/http_server.hpp"

namespace foreman::net {

/// A caller foreman let in.
struct caller {
  /// May manage models, read /metrics and act on every caller's jobs.
  bool admin = false;
  /// The fairness client its jobs are stored under: the key's identity
  /// (plus "/" and X-Foreman-Client when sent), or X-Foreman-Client alone
  /// without keys configured.
  std::string client;
  /// The key's identity ("key-" and a digest prefix); empty without keys.
  std::string identity;

  /// Whether a job stored under `job_client` is this caller's.
  bool owns(const std::string& job_client) const;
};

/// Why a request was refused: 400 (malformed X-Foreman-Client), 401 (no or
/// an unknown key) or 403 (a client key on an admin route).
struct auth_refusal {
  int status = 401;
  std::string message;
};

/// What a route needs.
enum class route_access {
  /// Anyone, even with keys configured (/healthz).
  open,
  /// Any configured key.
  client,
  /// An admin key: model management and /metrics.
  admin,
};

route_access access_of(const std::string& method, const std::string& path);

/// The caller of `req`, or why it is refused. With no keys configured every
/// caller is an admin.
std::variant<caller, auth_refusal> authenticate(const http_request& req,
                                                const std::vector<api_key>& keys);

/// The caller's identity for a key: stable, and not the key.
std::string key_identity(const std::string& secret);

} // namespace foreman::net
