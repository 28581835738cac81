#pragma once

// The SQLite job database: jobs, their artifacts and the webhook outbox. All
// of foreman's SQL lives behind this class.

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "messages/events.hpp"
#include "messages/job.hpp"
#include "messages/operations.hpp"
#include "messages/webhook.hpp"

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

/// What the start did with jobs a crash left loading or working.
struct interrupted_jobs {
  int requeued = 0;
  /// Their interrupted attempt was their last.
  int failed = 0;
};

/// How much of the event journal is kept: an event goes once either bound
/// passes it.
struct journal_limits {
  int64_t max_events = 10000;
  int64_t max_age_ms = 24 * 60 * 60 * 1000;
};

class job_store {
public:
  /// Schema versions: 1 = jobs and artifacts, 2 = the queue indexes,
  /// 3 = fair turns, load-option groups and retry backoff, 4 = idempotency
  /// keys and the webhook outbox, 5 = the result read from the completion
  /// artifact, 6 = the event journal, 7 = the webhook delivery log.
  static constexpr int latest_schema_version = 7;

  /// A job's delivery log keeps its newest attempts, this many.
  static constexpr int64_t delivery_log_size = 100;

  /// Opens or creates the database at `path` and migrates it up to
  /// `schema_version`. Throws store_error naming the file and the problem.
  /// With `sync_every_commit` (SQLite synchronous=FULL) every commit
  /// reaches the disk before it returns, so no acknowledged job is lost even
  /// to a power cut; without it (NORMAL) commits survive a crash of foreman
  /// but the last ones may be lost to a power cut, for roughly twice the job
  /// throughput.
  explicit job_store(const std::string& path,
                     int schema_version = latest_schema_version,
                     bool sync_every_commit = true);
  /// Commits an open batch.
  ~job_store();

  job_store(const job_store&) = delete;
  job_store& operator=(const job_store&) = delete;

  int schema_version() const;

  void set_journal_limits(const journal_limits& limits);

  /// Puts jobs that a crash left loading or working back in the queue, and
  /// fails those whose interrupted attempt was their last.
  ///
  /// Every transition (this one, insert, apply, complete) writes its event
  /// to the journal in the same transaction, and to the webhook outbox too
  /// when the job has a webhook URL.
  interrupted_jobs requeue_interrupted(int64_t now_ms);

  /// Stores a queued job, giving it the next fair turn of its client. With
  /// `queue_limit` > 0, throws queue_full_error when that many jobs are
  /// queued already. A spec whose idempotency key is already stored gets
  /// that job back, and nothing is written.
  job insert(const job_spec& spec, int64_t now_ms, int64_t queue_limit = 0);

  std::optional<job> find(int64_t id);

  /// Queued jobs with ids above `after_id`, in id order, at most `limit`.
  std::vector<queued_job> queued_after(int64_t after_id, int32_t limit);

  /// Group commit: from begin_batch to commit_batch every write is a
  /// savepoint of one transaction, so one commit (one fsync) makes all of
  /// them durable. A write that fails inside the batch is undone alone.
  /// When the commit fails the whole batch is rolled back and store_error
  /// thrown. Committed events are handed out (take_committed_events) only
  /// once the batch commits.
  void begin_batch();
  void commit_batch();
  bool batch_open() const;

  /// Applies a state change as one write. Throws job_not_found_error
  /// or invalid_transition_error.
  job apply(const job_transition& change, int64_t now_ms);

  /// working -> done with the completion artifact (the job's result), in
  /// one transaction.
  job complete(const job_completion& completion, int64_t now_ms);

  std::vector<artifact_info> artifacts(int64_t job_id);

  std::optional<artifact> find_artifact(int64_t job_id, const std::string& name);

  /// Jobs newest first, filtered by the query, one page at a time.
  job_page list(const job_query& query);

  /// The oldest undelivered event of each job, for those due at `now_ms`,
  /// at most `limit`; artifacts of `done` events carry their bytes when at
  /// most `inline_limit` long.
  webhook_batch due_events(int64_t now_ms, int32_t limit, int64_t inline_limit);

  /// Drops a delivered (or given-up) event.
  void event_delivered(int64_t seq);

  /// Counts a failed delivery and sets when to try again.
  void postpone_event(int64_t seq, int64_t next_attempt_ms);

  /// In one transaction: adds the attempt to its job's delivery log
  /// (dropping the job's attempts beyond delivery_log_size, oldest first)
  /// and settles its event, dropped once delivered or given up, else
  /// postponed to the attempt's next_attempt_ms.
  void record_delivery(const webhook_delivery& attempt);

  /// A job's delivery log, oldest attempt first.
  std::vector<webhook_delivery> deliveries(int64_t job_id);

  /// Events not yet delivered.
  int64_t pending_events();

  /// The journal events of the transactions committed since the last call,
  /// in order (for live subscribers).
  std::vector<job_event> take_committed_events();

  /// Journal events after `after_seq`, oldest first, at most `limit`, of
  /// `owner`'s jobs only (empty = everyone's); no events when the journal
  /// no longer holds all of them (page.complete is false).
  journal_page journal_after(int64_t after_seq, int32_t limit,
                             const std::string& owner);

  /// The queue, the jobs `recent` lists and the running job, with the
  /// journal's newest sequence number.
  event_snapshot snapshot(const job_query& recent, int64_t running_id);

  /// The journal's history from `since_ms` to `now_ms` (see
  /// journal_history): queue activity by minute of every job, loads and
  /// first starts of `owner`'s jobs (empty = everyone's) up to `until_seq`.
  journal_history history(int64_t since_ms, int64_t now_ms, int64_t until_seq,
                          const std::string& owner);

  int64_t count_in_state(job_state state);

  /// Non-terminal jobs counted by model key and state.
  std::vector<queue_depth> queue_depths();

  /// Why the database cannot be relied on (its file removed, or a query
  /// failing); nullopt when healthy.
  std::optional<std::string> health_problem();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace foreman
