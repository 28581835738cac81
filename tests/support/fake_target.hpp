#pragma once

// Runs foreman-fake-ollama on an ephemeral loopback port for one test.

#include "child_process.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace foreman_test {

/// GET /_fake/counters, parsed.
struct fake_counters {
  uint64_t requests = 0;
  std::map<std::string, uint64_t> requests_by_path;
  std::map<std::string, uint64_t> loads; // by display name, "llama3.2:latest"
  uint64_t total_loads = 0;
  uint64_t generations_started = 0;
  uint64_t active_generations = 0;
  uint64_t max_concurrent_generations = 0;
  bool holding = false;  // POST /_fake/hold in force
  uint64_t held = 0;     // generations waiting for the release
  std::vector<std::string> resident;

  uint64_t requests_to(const std::string& path) const;
  uint64_t loads_of(const std::string& display_name) const;
};

class fake_target {
public:
  /// Starts the fake with `--listen 127.0.0.1:0` and `extra_args` (e.g.
  /// {"--models", "a:chat:10:50", "--token-ms", "0"}). Throws
  /// std::runtime_error if it does not report its port within 10 s.
  explicit fake_target(const std::vector<std::string>& extra_args = {});

  /// Stops the fake with SIGTERM (SIGKILL if it does not exit in 5 s).
  ~fake_target();

  uint16_t port() const {
    return port_;
  }

  /// "http://127.0.0.1:PORT"
  std::string url() const;

  fake_counters counters() const;
  void reset_counters() const;

  /// Arms a fault ("reset", "http500", "delay" or "hang") for the next
  /// `count` requests to `path` (empty: any chat/generate/embed path).
  void arm_fault(const std::string& kind, int count, int delay_ms = 0,
                 const std::string& path = "") const;
  void clear_faults() const;

  /// Generations (chat/generate with a prompt) wait, their model loaded,
  /// until release(); see counters().held.
  void hold() const;
  /// Lets held generations go; returns how many were waiting.
  uint64_t release() const;

  /// The running process, e.g. to signal it or read its output.
  child_process& process() {
    return *process_;
  }

private:
  std::string post_hook(const std::string& method, const std::string& path,
                        const std::string& body) const;

  std::unique_ptr<child_process> process_;
  uint16_t port_ = 0;
};

} // namespace foreman_test
