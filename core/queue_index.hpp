#pragma once

// The scheduler's view of the queue, held in memory by the worker: every
// queued job's scheduling facts, grouped and ordered so that the next pick,
// a job's place in the queue and the queue's depth cost O(groups x log n)
// however long the queue grows. It answers exactly as choose_next_job over
// the whole queue would (property-tested against it).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/scheduling_policy.hpp"
#include "messages/job.hpp"

namespace foreman {

class queue_index {
public:
  queue_index();
  ~queue_index();
  queue_index(queue_index&&) noexcept;
  queue_index& operator=(queue_index&&) noexcept;

  /// Adds a queued job; adding one already there replaces its facts.
  void add(const queued_job& x);

  /// Removes a job; false when it is not queued here.
  bool remove(int64_t id);

  bool contains(int64_t id) const;

  /// Queued jobs, backing-off ones included.
  int64_t size() const;

  /// The job choose_next_job would choose among all queued jobs whose
  /// backoff is over at `due_now_ms` (on the due-time clock); max wait is
  /// measured on the wall clock, from each job's creation.
  std::optional<queued_job> pick(const std::vector<std::string>& resident_group_keys,
                                 int64_t wall_now_ms, int64_t due_now_ms,
                                 const scheduling_rules& rules) const;

  /// When the earliest job still backing off at `due_now_ms` may run;
  /// 0 when none waits.
  int64_t next_retry_at(int64_t due_now_ms) const;

  /// The queued jobs ahead of `x` in priority-and-turn order (backing-off
  /// ones included), by model key in name order.
  queue_ahead ahead_of(const queued_job& x) const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The scheduling facts of a stored job.
queued_job queued_facts(const job& x);

/// The model key part of a group key ("llama3.2:latest|num_ctx=8192").
std::string model_of_group(const std::string& group_key);

} // namespace foreman
