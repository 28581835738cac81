#include "test_hooks.hpp"

#include "wire_format.hpp"

#include <Poco/JSON/Array.h>

#include <algorithm>

namespace fake_ollama {

namespace {

bool is_inference_path(const std::string& path) {
  return path == "/api/chat" || path == "/api/generate" || path == "/api/embed"
         || path == "/api/embeddings";
}

template <class Map>
Poco::JSON::Object::Ptr map_to_json(const Map& values) {
  auto object = ordered_object();
  for (const auto& [key, value] : values)
    object->set(key, value);
  return object;
}

} // namespace

std::optional<fault_kind> parse_fault_kind(const std::string& text) {
  if (text == "reset")
    return fault_kind::reset;
  if (text == "http500")
    return fault_kind::http500;
  if (text == "delay")
    return fault_kind::delay;
  if (text == "hang")
    return fault_kind::hang;
  return std::nullopt;
}

void test_hooks::count_request(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_;
  ++requests_by_path_[path];
}

void test_hooks::count_load(const std::string& display_name) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++loads_[display_name];
  ++total_loads_;
}

test_hooks::generation_scope::generation_scope(test_hooks& hooks) : hooks_(hooks) {
  std::lock_guard<std::mutex> lock(hooks_.mutex_);
  ++hooks_.generations_started_;
  ++hooks_.active_generations_;
  hooks_.max_concurrent_generations_
    = std::max(hooks_.max_concurrent_generations_, hooks_.active_generations_);
}

test_hooks::generation_scope::~generation_scope() {
  std::lock_guard<std::mutex> lock(hooks_.mutex_);
  --hooks_.active_generations_;
}

Poco::JSON::Object::Ptr
test_hooks::counters_json(const std::vector<std::string>& resident) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto counters = ordered_object();
  counters->set("requests", requests_);
  counters->set("requests_by_path", map_to_json(requests_by_path_));
  counters->set("loads", map_to_json(loads_));
  counters->set("total_loads", total_loads_);
  counters->set("generations_started", generations_started_);
  counters->set("active_generations", active_generations_);
  counters->set("max_concurrent_generations", max_concurrent_generations_);
  counters->set("holding", holding_);
  counters->set("held", held_);
  Poco::JSON::Array::Ptr names = new Poco::JSON::Array;
  for (const auto& name : resident)
    names->add(name);
  counters->set("resident", names);
  return counters;
}

void test_hooks::reset_counters() {
  std::lock_guard<std::mutex> lock(mutex_);
  requests_ = 0;
  requests_by_path_.clear();
  loads_.clear();
  total_loads_ = 0;
  generations_started_ = 0;
  max_concurrent_generations_ = active_generations_;
}

void test_hooks::arm(armed_fault fault) {
  std::lock_guard<std::mutex> lock(mutex_);
  faults_.push_back(std::move(fault));
}

void test_hooks::clear_faults() {
  std::lock_guard<std::mutex> lock(mutex_);
  faults_.clear();
}

std::optional<armed_fault> test_hooks::take_fault(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto matches = [&](const armed_fault& fault) {
    return fault.path.empty() ? is_inference_path(path) : fault.path == path;
  };
  auto found = std::find_if(faults_.begin(), faults_.end(), matches);
  if (found == faults_.end())
    return std::nullopt;
  armed_fault taken = *found;
  if (--found->remaining <= 0)
    faults_.erase(found);
  return taken;
}

void test_hooks::hold() {
  std::lock_guard<std::mutex> lock(mutex_);
  holding_ = true;
}

uint64_t test_hooks::release() {
  uint64_t waiting = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    holding_ = false;
    ++releases_;
    waiting = held_;
  }
  released_.notify_all();
  return waiting;
}

bool test_hooks::wait_while_held(const std::function<bool()>& still_wanted,
                                 std::chrono::milliseconds poll_time) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!holding_)
    return true;
  const auto arrived_before = releases_;
  ++held_;
  for (;;) {
    if (released_.wait_for(lock, poll_time, [&] { return releases_ != arrived_before; })) {
      --held_;
      return true;
    }
    lock.unlock();
    const bool wanted = still_wanted();
    lock.lock();
    if (!wanted) {
      --held_;
      return false;
    }
  }
}

} // namespace fake_ollama
