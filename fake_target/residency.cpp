#include "residency.hpp"

#include <algorithm>
#include <tuple>

namespace fake_ollama {

namespace {

// What Ollama reports for "forever" is now + max int64 nanoseconds.
constexpr std::chrono::hours forever_horizon{24 * 365 * 292};

std::chrono::microseconds to_wall(std::chrono::nanoseconds duration) {
  return std::chrono::duration_cast<std::chrono::microseconds>(duration);
}

} // namespace

residency::residency(std::size_t max_loaded, keep_alive default_keep_alive,
                     test_hooks& hooks)
  : max_loaded_(max_loaded), default_keep_alive_(default_keep_alive),
    hooks_(hooks) {
}

residency::lease::lease(residency& owner, model_ptr model)
  : owner_(&owner), model_(std::move(model)) {
}

residency::lease::lease(lease&& other) noexcept
  : owner_(other.owner_), model_(std::move(other.model_)) {
  other.owner_ = nullptr;
}

residency::lease::~lease() {
  if (owner_)
    owner_->release(*model_);
}

std::optional<residency::lease>
residency::acquire(const model_ptr& model, std::optional<keep_alive> requested) {
  const auto& name = model->display_name;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (stopping_)
      return std::nullopt;
    drop_expired(wall_now());
    if (auto found = residents_.find(name); found != residents_.end()) {
      if (found->second.loading) {
        changed_.wait(lock); // another request is loading it
        continue;
      }
      ++found->second.in_flight;
      if (requested)
        found->second.keep = *requested;
      return lease{*this, model};
    }
    if (residents_.size() >= max_loaded_) {
      auto victim = eviction_candidate();
      if (victim == residents_.end()) {
        changed_.wait(lock); // every resident model is busy
        continue;
      }
      residents_.erase(victim);
    }
    break;
  }
  entry loading{model, true, 1, requested.value_or(default_keep_alive_),
                wall_now()};
  residents_.emplace(name, loading);
  hooks_.count_load(name);
  // "Loading" is a wait on the condition variable, so the mutex is free
  // meanwhile and a stop request ends it early.
  const auto loaded_at = std::chrono::steady_clock::now() + model->load_time;
  const bool stopped = changed_.wait_until(lock, loaded_at,
                                           [this] { return stopping_; });
  auto& resident = residents_.at(name);
  resident.loading = false;
  if (stopped) {
    residents_.erase(name);
    changed_.notify_all();
    return std::nullopt;
  }
  changed_.notify_all();
  return lease{*this, model};
}

void residency::release(const model_spec& model) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = residents_.find(model.display_name);
    if (found == residents_.end())
      return;
    auto& resident = found->second;
    if (--resident.in_flight == 0) {
      resident.idle_since = wall_now();
      if (resident.keep.unloads_when_idle())
        residents_.erase(found);
    }
  }
  changed_.notify_all();
}

void residency::unload_when_idle(const model_spec& model) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = residents_.find(model.display_name);
    if (found == residents_.end())
      return;
    found->second.keep = keep_alive{};
    if (found->second.in_flight == 0)
      residents_.erase(found);
  }
  changed_.notify_all();
}

std::vector<residency::resident_model> residency::resident_models() {
  std::vector<resident_model> result;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = wall_now();
    drop_expired(now);
    for (const auto& [name, resident] : residents_)
      result.push_back({resident.model, expiry(resident, now)});
  }
  std::sort(result.begin(), result.end(), [](const auto& a, const auto& b) {
    return std::tie(b.expires_at, a.model->display_name)
           < std::tie(a.expires_at, b.model->display_name);
  });
  return result;
}

void residency::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
}

void residency::drop_expired(wall_time now) {
  bool dropped = false;
  for (auto it = residents_.begin(); it != residents_.end();) {
    const auto& resident = it->second;
    if (!resident.loading && resident.in_flight == 0 && !resident.keep.forever
        && expiry(resident, now) <= now) {
      it = residents_.erase(it);
      dropped = true;
    } else {
      ++it;
    }
  }
  if (dropped)
    changed_.notify_all();
}

// Like Ollama: among idle models, the shortest keep_alive goes first, and
// the least recently used among equals.
std::map<std::string, residency::entry>::iterator residency::eviction_candidate() {
  auto best = residents_.end();
  auto evicts_before = [](const entry& a, const entry& b) {
    if (a.keep.forever != b.keep.forever)
      return !a.keep.forever;
    if (!a.keep.forever && a.keep.duration != b.keep.duration)
      return a.keep.duration < b.keep.duration;
    return a.idle_since < b.idle_since;
  };
  for (auto it = residents_.begin(); it != residents_.end(); ++it) {
    if (it->second.loading || it->second.in_flight > 0)
      continue;
    if (best == residents_.end() || evicts_before(it->second, best->second))
      best = it;
  }
  return best;
}

wall_time residency::expiry(const entry& resident, wall_time now) {
  if (resident.keep.forever)
    return now + forever_horizon;
  // A busy model's timer has not started: Ollama reports now + keep_alive.
  const auto base = resident.loading || resident.in_flight > 0
                      ? now
                      : resident.idle_since;
  return base + to_wall(resident.keep.duration);
}

} // namespace fake_ollama
