#pragma once

// Which models are "in memory": loading on first use, a budget of resident
// models with Ollama-like eviction, and keep_alive expiry.

#include "keep_alive.hpp"
#include "model_catalogue.hpp"
#include "test_hooks.hpp"
#include "wire_format.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace fake_ollama {

class residency {
public:
  residency(std::size_t max_loaded, keep_alive default_keep_alive,
            test_hooks& hooks);

  /// Keeps a model resident and busy (not evictable) while a request uses
  /// it; destroying the lease ends the request's use.
  class lease {
  public:
    lease(residency& owner, model_ptr model);
    lease(lease&& other) noexcept;
    lease& operator=(lease&&) = delete;
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease();

  private:
    residency* owner_;
    model_ptr model_;
  };

  /// Makes `model` resident (loading it if needed, which may first wait for
  /// a busy model to become evictable) and marks it in use. `requested`
  /// replaces the model's keep_alive; nullopt keeps it (or the default on
  /// load). Returns nullopt when the server is stopping.
  std::optional<lease> acquire(const model_ptr& model,
                               std::optional<keep_alive> requested);

  /// The unload trick: drop the model as soon as it has no request in flight.
  /// Also used when a model is deleted.
  void unload_when_idle(const model_spec& model);

  struct resident_model {
    model_ptr model;
    wall_time expires_at;
  };

  /// Models resident now (expired ones are dropped first), expiring latest
  /// first, as /api/ps lists them.
  std::vector<resident_model> resident_models();

  /// Wakes every waiting request so it can give up.
  void stop();

private:
  struct entry {
    model_ptr model;
    bool loading = true;
    int in_flight = 0;
    keep_alive keep;
    wall_time idle_since;
  };

  void release(const model_spec& model);
  void drop_expired(wall_time now);
  std::map<std::string, entry>::iterator eviction_candidate();
  static wall_time expiry(const entry& resident, wall_time now);

  const std::size_t max_loaded_;
  const keep_alive default_keep_alive_;
  test_hooks& hooks_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, entry> residents_; // by display name
  bool stopping_ = false;
};

} // namespace fake_ollama
