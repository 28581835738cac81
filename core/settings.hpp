#pragma once

// foreman's settings: each one a key in a config file, an environment
// variable FOREMAN_* and a command-line option; the environment beats the
// file and the command line beats both.

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/api_keys.hpp"
#include "core/keep_alive.hpp"
#include "core/log.hpp"
#include "core/scheduling_policy.hpp"
#include "core/url.hpp"

namespace foreman {

struct settings {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 11435;
  http_url ollama_url = *parse_http_url("http://127.0.0.1:11434");
  std::string db_path = "foreman.db";
  /// Every commit synced to disk (survives power loss) or not (survives
  /// crashes only, faster).
  bool db_sync_full = true;
  /// Pinned embedder; empty = none.
  std::string embed_model;
  keep_alive worker_keep_alive = keep_alive::forever();
  int32_t max_attempts = 3;
  int64_t max_wait_ms = 5 * 60 * 1000;
  /// false = plain FIFO within a priority (for comparison runs).
  bool drain_by_model = true;
  unload_on_switch unload_mode = unload_on_switch::automatic;
  /// A call to the target taking longer is aborted (a failed attempt).
  int64_t job_timeout_ms = 10 * 60 * 1000;
  /// The first retry after a connection error waits up to this long.
  int64_t retry_backoff_ms = 1000;
  /// Queued jobs beyond which submissions get 503.
  int32_t max_queue = 512;
  /// Synchronous callers that may wait for their jobs at once; beyond this
  /// they get 503.
  int32_t max_waiting = 10000;
  /// Larger request bodies get 413.
  int64_t max_body_bytes = 64 * 1024 * 1024;
  /// A request whose head and body take longer to arrive gets 408.
  int64_t read_timeout_ms = 30 * 1000;
  /// How often the model inventory reads the target's /api/ps.
  int64_t inventory_poll_ms = 2000;
  /// How often GET /events subscribers get a stats event.
  int64_t event_stats_ms = 5000;
  /// error, warning, info or debug.
  std::string log_level = "info";
  /// text or json.
  std::string log_format = "text";
  /// Signs webhook deliveries (HMAC-SHA256) when not empty.
  std::string webhook_secret;
  /// Delivery attempts per webhook event before it is given up.
  int32_t webhook_max_attempts = 10;
  /// Artifacts up to this many bytes travel inside `done` events.
  int64_t webhook_inline_limit = 64 * 1024;
  /// Hosts webhook URLs may name; empty = any.
  std::vector<std::string> webhook_hosts;
  /// PEM certificates trusted for https webhook receivers besides the
  /// system's CA store; empty = the system's only.
  std::string webhook_ca_file;
  /// The first webhook retry waits up to this long, doubling per attempt.
  int64_t webhook_backoff_ms = 1000;
  /// A webhook receiver silent this long is a failed attempt.
  int64_t webhook_timeout_ms = 10000;
  /// foreman's address as webhook receivers reach it (artifact URLs);
  /// empty = http:// plus the listen address.
  std::string public_url;
  /// Callers' bearer keys; empty = no authentication.
  std::vector<api_key> api_keys;
  /// On SIGTERM the running job may finish within this; then it is aborted
  /// and goes back to the queue.
  int64_t shutdown_grace_ms = 30 * 1000;
  /// The config file the settings were read from; empty = none.
  std::string config_file;
};

/// A rejected setting; the message names it and its accepted forms.
struct settings_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct settings_result {
  settings values;
  bool help_requested = false;
};

using env_lookup = std::function<std::optional<std::string>(const std::string&)>;

/// Reads the config file named by `--config` or FOREMAN_CONFIG (lines of
/// `name = value`, names as the command-line options), then the environment,
/// then the command line (`--name=value` or `--name value`). Throws
/// settings_error on an unknown option, an unreadable file or a bad value.
settings_result parse_settings(const std::vector<std::string>& args,
                               const env_lookup& env);

/// The process environment, for parse_settings.
std::optional<std::string> process_env(const std::string& name);

/// `foreman --help`: every setting with its variable, default and meaning.
std::string settings_help();

/// A logger on stderr with the settings' level and format.
logger configured_logger(const settings& s);

} // namespace foreman
