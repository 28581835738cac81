#pragma once

// The SQLite job database: jobs and their artifacts. All of foreman's SQL
// lives behind this class.

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "messages/job.hpp"

namespace foreman {

struct store_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct job_not_found_error : store_error {
  using store_error::store_error;
};

struct invalid_transition_error : store_error {
  using store_error::store_error;
};

struct queue_full_error : store_error {
  using store_error::store_error;
};

struct artifact_info {
  std::string name;
  std::string content_type;
  int64_t size = 0;
};

struct artifact {
  std::string name;
  std::string content_type;
  std::string data;
};

class job_store {
public:
  /// Schema versions: 1 = jobs and artifacts, 2 = the queue indexes,
  /// 3 = fair turns, load-option groups and retry backoff.
  static constexpr int latest_schema_version = 3;

  /// Opens or creates the database at `path` and migrates it up to
  /// `schema_version`. Throws store_error naming the file and the problem.
  explicit job_store(const std::string& path,
                     int schema_version = latest_schema_version);
  ~job_store();

  job_store(const job_store&) = delete;
  job_store& operator=(const job_store&) = delete;

  int schema_version() const;

  /// Puts jobs that a crash left loading or working back in the queue.
  /// Returns how many.
  int requeue_interrupted(int64_t now_ms);

  /// Stores a queued job, giving it the next fair turn of its client. With
  /// `queue_limit` > 0, throws queue_full_error when that many jobs are
  /// queued already.
  job insert(const job_spec& spec, int64_t now_ms, int64_t queue_limit = 0);

  std::optional<job> find(int64_t id);

  /// The queued jobs the scheduler chooses from (see queue_candidates), each
  /// read through an index.
  queue_candidates candidates(const std::vector<std::string>& resident_group_keys,
                              int64_t now_ms);

  /// A job and, when it is queued, the queued jobs ahead of it in priority
  /// and turn order, by model. Throws job_not_found_error.
  std::pair<job, queue_ahead> position(int64_t id);

  /// Applies a state change in one transaction. Throws job_not_found_error
  /// or invalid_transition_error.
  job apply(const job_transition& change, int64_t now_ms);

  /// working -> done with result and completion artifact, in one transaction.
  job complete(const job_completion& completion, int64_t now_ms);

  std::vector<artifact_info> artifacts(int64_t job_id);

  std::optional<artifact> find_artifact(int64_t job_id, const std::string& name);

  int64_t count_in_state(job_state state);

  /// EXPLAIN QUERY PLAN of each scheduling query, for tests and diagnostics.
  std::vector<std::string> candidate_query_plans();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace foreman
