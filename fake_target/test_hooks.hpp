#pragma once

// State behind the /_fake/ endpoints: request counters that tests assert on,
// faults they arm to make the next requests fail in a chosen way, and a hold
// that keeps generations waiting until released.

#include <Poco/JSON/Object.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace fake_ollama {

enum class fault_kind {
  reset,   // close the connection without answering
  http500, // answer 500 {"error":"injected failure"}
  delay,   // wait, then answer normally
  hang,    // never answer; give up when the client leaves or the server stops
};

/// Parses "reset", "http500", "delay" or "hang".
std::optional<fault_kind> parse_fault_kind(const std::string& text);

struct armed_fault {
  fault_kind kind = fault_kind::http500;
  int remaining = 1;
  std::chrono::milliseconds delay{0};
  std::string path; // empty: any inference path
};

class test_hooks {
public:
  void count_request(const std::string& path);
  void count_load(const std::string& display_name);

  /// Counts one chat/generate request that generates text, for as long as
  /// the object lives.
  class generation_scope {
  public:
    explicit generation_scope(test_hooks& hooks);
    ~generation_scope();
    generation_scope(const generation_scope&) = delete;
    generation_scope& operator=(const generation_scope&) = delete;

  private:
    test_hooks& hooks_;
  };

  /// The /_fake/counters document; `resident` comes from the residency.
  Poco::JSON::Object::Ptr counters_json(const std::vector<std::string>& resident);

  /// Zeroes the counters. Generations still running stay counted as active.
  void reset_counters();

  void arm(armed_fault fault);
  void clear_faults();

  /// Consumes one use of the first fault armed for this path, if any.
  std::optional<armed_fault> take_fault(const std::string& path);

  /// From now on generations wait in wait_while_held() until release().
  void hold();
  /// Lets every waiting generation go, and later ones pass; returns how many
  /// were waiting.
  uint64_t release();

  /// Returns true at once when no hold is in force, else once release() is
  /// called. Returns false when `still_wanted` (asked every `poll_time`,
  /// without the lock) says the generation should end: its client left or
  /// the server is stopping.
  bool wait_while_held(const std::function<bool()>& still_wanted,
                       std::chrono::milliseconds poll_time);

private:
  std::mutex mutex_;
  std::condition_variable released_;
  bool holding_ = false;
  uint64_t releases_ = 0; // a waiter passes once this moves on
  uint64_t held_ = 0;     // generations waiting now
  uint64_t requests_ = 0;
  std::map<std::string, uint64_t> requests_by_path_;
  std::map<std::string, uint64_t> loads_;
  uint64_t total_loads_ = 0;
  uint64_t generations_started_ = 0;
  uint64_t active_generations_ = 0;
  uint64_t max_concurrent_generations_ = 0;
  std::vector<armed_fault> faults_;
};

} // namespace fake_ollama
