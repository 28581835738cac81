#include "persistence/job_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include "core/model_name.hpp"

namespace foreman {

namespace {

// -- schema --------------------------------------------------------------------

/// Migration N takes the database from user_version N-1 to N.
const char* const migrations[] = {
  // 1: jobs and artifacts
  "CREATE TABLE jobs ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  kind TEXT NOT NULL,"
  "  model TEXT NOT NULL,"
  "  model_key TEXT NOT NULL,"
  "  state TEXT NOT NULL,"
  "  priority INTEGER NOT NULL DEFAULT 0,"
  "  payload TEXT NOT NULL,"
  "  result TEXT NOT NULL DEFAULT '',"
  "  error TEXT NOT NULL DEFAULT '',"
  "  attempt INTEGER NOT NULL DEFAULT 0,"
  "  max_attempts INTEGER NOT NULL DEFAULT 1,"
  "  state_webhook_url TEXT NOT NULL DEFAULT '',"
  "  created_at INTEGER NOT NULL,"
  "  updated_at INTEGER NOT NULL,"
  "  started_at INTEGER NOT NULL DEFAULT 0,"
  "  finished_at INTEGER NOT NULL DEFAULT 0);"
  "CREATE TABLE artifacts ("
  "  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
  "  name TEXT NOT NULL,"
  "  content_type TEXT NOT NULL,"
  "  data BLOB NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  PRIMARY KEY (job_id, name));",
  // 2: indexes for the scheduler; partial, so they hold only queued jobs
  "CREATE INDEX jobs_queue_order ON jobs(priority DESC, id)"
  "  WHERE state = 'queued';"
  "CREATE INDEX jobs_queue_by_model ON jobs(model_key, priority DESC, id)"
  "  WHERE state = 'queued';"
  "CREATE INDEX jobs_queue_age ON jobs(id) WHERE state = 'queued';"
  "CREATE INDEX jobs_by_state ON jobs(state);",
  // 3: fair turns between clients, grouping by load options, retry backoff
  "ALTER TABLE jobs ADD COLUMN client TEXT NOT NULL DEFAULT '';"
  "ALTER TABLE jobs ADD COLUMN group_key TEXT NOT NULL DEFAULT '';"
  "ALTER TABLE jobs ADD COLUMN turn INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE jobs ADD COLUMN not_before INTEGER NOT NULL DEFAULT 0;"
  "UPDATE jobs SET group_key = model_key || '|', turn = id;"
  "DROP INDEX jobs_queue_order;"
  "DROP INDEX jobs_queue_by_model;"
  "CREATE INDEX jobs_queue_order ON jobs(priority DESC, turn, id)"
  "  WHERE state = 'queued';"
  "CREATE INDEX jobs_queue_by_group ON jobs(group_key, priority DESC, turn, id)"
  "  WHERE state = 'queued';"
  "CREATE INDEX jobs_queue_by_client ON jobs(client, turn)"
  "  WHERE state = 'queued';"
  "CREATE INDEX jobs_queue_backoff ON jobs(not_before)"
  "  WHERE state = 'queued' AND not_before > 0;"
  "CREATE TABLE scheduler_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
  "INSERT INTO scheduler_state VALUES ('served_turn',"
  "  (SELECT coalesce(max(turn), 0) FROM jobs WHERE state != 'queued'));",
  // 4: idempotency keys, listing by model, the webhook outbox. An event row
  // lives until it is delivered or given up; seq orders a job's events.
  "ALTER TABLE jobs ADD COLUMN idempotency_key TEXT;"
  "CREATE UNIQUE INDEX jobs_by_idempotency_key ON jobs(idempotency_key)"
  "  WHERE idempotency_key IS NOT NULL;"
  "CREATE INDEX jobs_by_model ON jobs(model_key);"
  "CREATE TABLE webhook_outbox ("
  "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
  "  url TEXT NOT NULL,"
  "  state TEXT NOT NULL,"
  "  previous_state TEXT NOT NULL DEFAULT '',"
  "  attempt INTEGER NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  deliveries INTEGER NOT NULL DEFAULT 0,"
  "  next_attempt_at INTEGER NOT NULL);"
  "CREATE INDEX webhook_outbox_by_job ON webhook_outbox(job_id, seq);",
  // 5: a job's result is its completion artifact, the target's whole answer
  // (read from there, older jobs included), no longer the answer's text.
  "ALTER TABLE jobs DROP COLUMN result;",
  // 6: the event journal behind GET /events: every job's transitions, kept
  // for a while (pruned by count and age) so subscribers can resume.
  "CREATE TABLE event_journal ("
  "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  job_id INTEGER NOT NULL,"
  "  state TEXT NOT NULL,"
  "  previous_state TEXT NOT NULL DEFAULT '',"
  "  attempt INTEGER NOT NULL,"
  "  created_at INTEGER NOT NULL);"
  "CREATE INDEX event_journal_by_time ON event_journal(created_at);",
  // 7: each job's webhook delivery attempts, kept after their outbox event
  // is gone (the newest job_store::delivery_log_size of each job).
  "CREATE TABLE webhook_deliveries ("
  "  id INTEGER PRIMARY KEY,"
  "  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
  "  event_seq INTEGER NOT NULL,"
  "  state TEXT NOT NULL,"
  "  url TEXT NOT NULL,"
  "  attempt INTEGER NOT NULL,"
  "  http_status INTEGER NOT NULL DEFAULT 0,"
  "  error TEXT NOT NULL DEFAULT '',"
  "  outcome TEXT NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  next_attempt_at INTEGER NOT NULL DEFAULT 0);"
  "CREATE INDEX webhook_deliveries_by_job ON webhook_deliveries(job_id, id);",
};

static_assert(sizeof(migrations) / sizeof(migrations[0])
              == job_store::latest_schema_version);

/// A job's result: its completion artifact, found by primary key.
std::string result_of(const std::string& job_id) {
  return "(SELECT data FROM artifacts WHERE job_id = " + job_id
         + " AND name = 'completion')";
}

const std::string job_columns
  = "id, kind, model, state, priority, attempt, max_attempts, payload, "
    + result_of("jobs.id")
    + ", error, state_webhook_url, client, group_key, created_at, "
      "updated_at, started_at, finished_at, not_before, turn";

const std::string begin_sql = "BEGIN IMMEDIATE";
const std::string commit_sql = "COMMIT";
const std::string rollback_sql = "ROLLBACK";
const std::string insert_job_sql
  = "INSERT INTO jobs (kind, model, model_key, state, priority, payload, "
    "max_attempts, state_webhook_url, created_at, updated_at, client, "
    "group_key, turn, idempotency_key) "
    "VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, "
    "NULLIF(?12, ''))";
const std::string job_by_idempotency_key_sql
  = "SELECT id FROM jobs WHERE idempotency_key = ?1";
const std::string select_job_sql
  = "SELECT " + job_columns + " FROM jobs WHERE id = ?1";
const std::string update_state_sql
  = "UPDATE jobs SET state = ?2, error = ?3, attempt = attempt + ?4, "
    "updated_at = ?5, "
    "started_at = CASE WHEN ?6 AND started_at = 0 THEN ?5 ELSE started_at END, "
    "finished_at = CASE WHEN ?7 THEN ?5 ELSE finished_at END, "
    "not_before = ?8 "
    "WHERE id = ?1";
const std::string finish_job_sql
  = "UPDATE jobs SET state = 'done', error = '', updated_at = ?2, "
    "finished_at = ?2 WHERE id = ?1";
const std::string upsert_artifact_sql
  = "INSERT OR REPLACE INTO artifacts (job_id, name, content_type, data, "
    "created_at) VALUES (?1, ?2, ?3, ?4, ?5)";
const std::string select_artifacts_sql
  = "SELECT name, content_type, length(data) FROM artifacts WHERE job_id = ?1 "
    "ORDER BY name";
const std::string select_artifact_sql
  = "SELECT name, content_type, data FROM artifacts WHERE job_id = ?1 AND "
    "name = ?2";
const std::string count_state_sql = "SELECT count(*) FROM jobs WHERE state = ?1";
const std::string queue_depth_sql
  = "SELECT model_key, state, count(*) FROM jobs INDEXED BY jobs_by_state "
    "WHERE state IN ('queued', 'loading', 'working') "
    "GROUP BY model_key, state ORDER BY model_key, state";
const std::string health_probe_sql = "SELECT count(*) FROM sqlite_master";
const std::string requeue_sql
  = "UPDATE jobs SET state = 'queued', updated_at = ?1 "
    "WHERE state IN ('loading', 'working')";
// An interrupted attempt counts: a job that crashed foreman on its last
// attempt fails instead of running again, so it cannot crash it forever.
const std::string fail_exhausted_sql
  = "UPDATE jobs SET state = 'failed', updated_at = ?1, finished_at = ?1, "
    "error = 'interrupted on each of its ' || attempt || ' attempts (foreman "
    "stopped unexpectedly while it ran)' "
    "WHERE state IN ('loading', 'working') AND attempt >= max_attempts";
const std::string fail_exhausted_events_sql
  = "INSERT INTO webhook_outbox (job_id, url, state, previous_state, attempt, "
    "created_at, next_attempt_at) "
    "SELECT id, state_webhook_url, 'failed', state, attempt, ?1, ?1 FROM jobs "
    "WHERE state IN ('loading', 'working') AND attempt >= max_attempts "
    "AND state_webhook_url != ''";

// -- webhook outbox ------------------------------------------------------------

// A new event is due at once (next_attempt_at 0): only the dispatcher sets
// retry times, on its own timeline (core/clock.hpp, due_time_clock).
const std::string insert_event_sql
  = "INSERT INTO webhook_outbox (job_id, url, state, previous_state, attempt, "
    "created_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)";
// The requeue at start is a transition too: one event per job it moves.
const std::string requeue_events_sql
  = "INSERT INTO webhook_outbox (job_id, url, state, previous_state, attempt, "
    "created_at, next_attempt_at) "
    "SELECT id, state_webhook_url, 'queued', state, attempt, ?1, 0 FROM jobs "
    "WHERE state IN ('loading', 'working') AND state_webhook_url != ''";
// Only the oldest event of each job may go out, so a job's events arrive in
// order; of those, the ones whose retry time has come.
const std::string outbox_head
  = " FROM webhook_outbox o JOIN jobs j ON j.id = o.job_id "
    "WHERE o.seq = (SELECT min(seq) FROM webhook_outbox "
    "INDEXED BY webhook_outbox_by_job WHERE job_id = o.job_id) ";
const std::string due_events_sql
  = "SELECT o.seq, o.job_id, o.url, o.state, o.previous_state, o.created_at, "
    "o.attempt, o.deliveries, j.model, " + result_of("j.id") + ", j.error"
    + outbox_head + "AND o.next_attempt_at <= ?1 ORDER BY o.seq LIMIT ?2";
const std::string next_due_sql
  = "SELECT min(o.next_attempt_at)" + outbox_head
    + "AND o.next_attempt_at > ?1";
const std::string event_artifacts_sql
  = "SELECT name, content_type, length(data), length(data) <= ?2, "
    "CASE WHEN length(data) <= ?2 THEN data ELSE '' END "
    "FROM artifacts WHERE job_id = ?1 ORDER BY name";
const std::string delete_event_sql = "DELETE FROM webhook_outbox WHERE seq = ?1";
const std::string postpone_event_sql
  = "UPDATE webhook_outbox SET deliveries = deliveries + 1, "
    "next_attempt_at = ?2 WHERE seq = ?1";
const std::string count_events_sql = "SELECT count(*) FROM webhook_outbox";

// -- webhook delivery log ------------------------------------------------------

const std::string insert_delivery_sql
  = "INSERT INTO webhook_deliveries (job_id, event_seq, state, url, attempt, "
    "http_status, error, outcome, created_at, next_attempt_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
// Everything older than the job's newest ?2 attempts (an index range).
const std::string prune_deliveries_sql
  = "DELETE FROM webhook_deliveries WHERE job_id = ?1 AND id <= "
    "(SELECT id FROM webhook_deliveries WHERE job_id = ?1 "
    "ORDER BY id DESC LIMIT 1 OFFSET ?2)";
const std::string job_deliveries_sql
  = "SELECT event_seq, job_id, state, url, attempt, http_status, error, outcome, "
    "created_at, next_attempt_at FROM webhook_deliveries WHERE job_id = ?1 "
    "ORDER BY id";

// -- event journal -------------------------------------------------------------

const std::string insert_journal_sql
  = "INSERT INTO event_journal (job_id, state, previous_state, attempt, "
    "created_at) VALUES (?1, ?2, ?3, ?4, ?5)";
const std::string fail_exhausted_journal_sql
  = "INSERT INTO event_journal (job_id, state, previous_state, attempt, "
    "created_at) "
    "SELECT id, 'failed', state, attempt, ?1 FROM jobs "
    "WHERE state IN ('loading', 'working') AND attempt >= max_attempts";
const std::string requeue_journal_sql
  = "INSERT INTO event_journal (job_id, state, previous_state, attempt, "
    "created_at) "
    "SELECT id, 'queued', state, attempt, ?1 FROM jobs "
    "WHERE state IN ('loading', 'working')";
// Both bounds are index ranges (the key and created_at).
const std::string prune_journal_sql
  = "DELETE FROM event_journal WHERE seq <= ?1 OR created_at < ?2";
/// True for the jobs of the owner bound to `param` (client equal to it or
/// under it, "owner/..."), and for every job when it is empty.
std::string owned_by(const std::string& param) {
  return "(" + param + " = '' OR j.client = " + param + " OR substr(j.client, 1, length("
         + param + ") + 1) = " + param + " || '/')";
}
const std::string journal_after_sql
  = "SELECT e.seq, e.job_id, e.state, e.previous_state, e.created_at, "
    "e.attempt, j.model, " + result_of("j.id") + ", j.error, j.kind, j.client, j.priority, "
    "j.created_at FROM event_journal e JOIN jobs j ON j.id = e.job_id "
    "WHERE e.seq > ?1 AND " + owned_by("?3") + " ORDER BY e.seq LIMIT ?2";
const std::string journal_oldest_time_sql = "SELECT min(created_at) FROM event_journal";
// Minutes counted back from ?2 (a transition stamped at ?2 is in minute 0),
// through the time index.
const std::string journal_minutes_sql
  = "SELECT max(0, (?2 - created_at) / 60000) AS ago, sum(state = 'queued'), "
    "sum(previous_state = 'queued'), sum(state IN ('done', 'failed', 'cancelled')) "
    "FROM event_journal WHERE created_at >= ?1 GROUP BY ago ORDER BY ago";
// Loads, and starts with the time since the job was created (a first start
// left the queue on attempt 1).
const std::string journal_starts_sql
  = "SELECT e.state = 'loading', e.created_at, j.model, "
    "e.previous_state = 'queued' AND e.attempt = 1, e.created_at - j.created_at "
    "FROM event_journal e JOIN jobs j ON j.id = e.job_id "
    "WHERE e.created_at >= ?1 AND e.seq <= ?2 AND e.state IN ('loading', 'working') "
    "AND " + owned_by("?3") + " ORDER BY e.seq";
const std::string journal_oldest_sql = "SELECT min(seq) FROM event_journal";
const std::string journal_newest_sql
  = "SELECT coalesce((SELECT seq FROM sqlite_sequence "
    "WHERE name = 'event_journal'), 0)";

/// The listing query for the filters a query uses, newest first; each
/// filter is an indexed column, so SQLite walks one index in id order.
std::string list_jobs_sql(const job_query& q) {
  std::string sql = "SELECT " + job_columns + " FROM jobs WHERE 1";
  if (q.by_state)
    sql += " AND state = ?1";
  if (!q.model_key.empty())
    sql += " AND model_key = ?2";
  if (q.before_id > 0)
    sql += " AND id < ?3";
  if (!q.owner.empty())
    sql += " AND (client = ?5 OR substr(client, 1, length(?5) + 1) = ?5 || '/')";
  return sql + " ORDER BY id DESC LIMIT ?4";
}

// Fair turns: a job's turn is one past the later of the turn last served and
// its client's last queued turn, so a client's batch takes consecutive turns
// and another client's job slots in right after the turn being served.
const std::string served_turn_sql
  = "SELECT value FROM scheduler_state WHERE name = 'served_turn'";
const std::string client_last_turn_sql
  = "SELECT max(turn) FROM jobs INDEXED BY jobs_queue_by_client "
    "WHERE state = 'queued' AND client = ?1";
const std::string serve_turn_sql
  = "UPDATE scheduler_state SET value = max(value, "
    "(SELECT turn FROM jobs WHERE id = ?1)) WHERE name = 'served_turn'";

// The queue as the worker's index loads it: queued jobs in id order, one
// page at a time, through the partial index of queued jobs.
const std::string queued_page_sql
  = "SELECT id, group_key, priority, turn, created_at, not_before FROM jobs "
    "INDEXED BY jobs_queue_age WHERE state = 'queued' AND id > ?1 "
    "ORDER BY id LIMIT ?2";
const std::string savepoint_sql = "SAVEPOINT write";
const std::string release_sql = "RELEASE write";
const std::string rollback_to_sql = "ROLLBACK TO write";

// -- statement wrapper ---------------------------------------------------------

class statement {
public:
  statement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK)
      throw store_error{"cannot prepare statement: "
                        + std::string{sqlite3_errmsg(db)}};
  }

  ~statement() {
    sqlite3_finalize(stmt_);
  }

  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  /// Resets the statement and binds the arguments to ?1, ?2, ...
  template <class... Ts>
  statement& bind(const Ts&... xs) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    int index = 0;
    (bind_one(++index, xs), ...);
    return *this;
  }

  /// Lets go of the row it holds, if any (see release_read_snapshots).
  void release() {
    if (sqlite3_stmt_busy(stmt_))
      sqlite3_reset(stmt_);
  }

  /// Steps once; true when a row is available.
  bool step() {
    auto rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW)
      return true;
    if (rc == SQLITE_DONE)
      return false;
    throw store_error{"database error: " + std::string{sqlite3_errmsg(db_)}};
  }

  /// Steps to completion, for statements without rows.
  void run() {
    while (step())
      ; // nothing to read
  }

  int64_t integer(int column) const {
    return sqlite3_column_int64(stmt_, column);
  }

  bool is_null(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
  }

  std::string text(int column) const {
    auto data = sqlite3_column_blob(stmt_, column);
    auto size = sqlite3_column_bytes(stmt_, column);
    return data ? std::string{static_cast<const char*>(data),
                              static_cast<size_t>(size)}
                : std::string{};
  }

private:
  void bind_one(int index, int64_t x) {
    sqlite3_bind_int64(stmt_, index, x);
  }
  void bind_one(int index, int32_t x) {
    sqlite3_bind_int64(stmt_, index, x);
  }
  void bind_one(int index, const std::string& x) {
    sqlite3_bind_text(stmt_, index, x.data(), static_cast<int>(x.size()),
                      SQLITE_TRANSIENT);
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

job read_job(const statement& row) {
  job x;
  x.id = row.integer(0);
  x.kind = parse_job_kind(row.text(1)).value_or(job_kind::chat);
  x.model = row.text(2);
  x.state = parse_job_state(row.text(3)).value_or(job_state::failed);
  x.priority = static_cast<int32_t>(row.integer(4));
  x.attempt = static_cast<int32_t>(row.integer(5));
  x.max_attempts = static_cast<int32_t>(row.integer(6));
  x.payload = row.text(7);
  x.result = row.text(8);
  x.error = row.text(9);
  x.state_webhook_url = row.text(10);
  x.client = row.text(11);
  x.group_key = row.text(12);
  x.created_at_ms = row.integer(13);
  x.updated_at_ms = row.integer(14);
  x.started_at_ms = row.integer(15);
  x.finished_at_ms = row.integer(16);
  x.not_before_ms = row.integer(17);
  x.turn = row.integer(18);
  return x;
}

/// Reads an event's state, previous state, time and attempt from the four
/// columns from `first` on, and the job's model, result (kept for done) and
/// error (kept for failed) from the three from `facts` on.
void read_transition(const statement& row, int first, int facts, webhook_event& x) {
  x.state = parse_job_state(row.text(first)).value_or(job_state::failed);
  auto previous = parse_job_state(row.text(first + 1));
  x.has_previous = previous.has_value();
  x.previous_state = previous.value_or(job_state::queued);
  x.at_ms = row.integer(first + 2);
  x.attempt = static_cast<int32_t>(row.integer(first + 3));
  x.model = row.text(facts);
  if (x.state == job_state::done)
    x.result = row.text(facts + 1);
  if (x.state == job_state::failed)
    x.error = row.text(facts + 2);
}

queued_job read_queued(const statement& row) {
  return queued_job{row.integer(0), row.text(1),
                    static_cast<int32_t>(row.integer(2)), row.integer(3),
                    row.integer(4), row.integer(5)};
}

} // namespace

// -- impl ----------------------------------------------------------------------

struct job_store::impl {
  sqlite3* db = nullptr;
  std::string path;
  int version = 0;
  /// Statements by SQL text, prepared on first use.
  std::unordered_map<std::string, std::unique_ptr<statement>> statements;

  explicit impl(const std::string& file) : path(file) {
    auto rc = sqlite3_open_v2(file.c_str(), &db,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                                | SQLITE_OPEN_FULLMUTEX,
                              nullptr);
    if (rc != SQLITE_OK) {
      std::string why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
      sqlite3_close(db);
      throw store_error{"cannot open database '" + file + "': " + why};
    }
    sqlite3_busy_timeout(db, 5000);
  }

  ~impl() {
    statements.clear(); // finalized before the connection closes
    sqlite3_close(db);
  }

  /// Resets every statement that still holds a row (a lookup that read
  /// only its first row): while one does, the connection keeps a read
  /// snapshot, and the checkpoint that follows a commit cannot move the WAL
  /// past it, so the WAL would grow without bound.
  void release_read_snapshots() {
    for (auto& [sql, stmt] : statements)
      stmt->release();
  }

  statement& prepared(const std::string& sql) {
    auto& slot = statements[sql];
    if (!slot)
      slot = std::make_unique<statement>(db, sql);
    return *slot;
  }

  void exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      std::string why = message ? message : "unknown error";
      sqlite3_free(message);
      throw store_error{"database '" + path + "': " + why};
    }
  }

  int read_user_version() {
    statement q{db, "PRAGMA user_version"};
    q.step();
    return static_cast<int>(q.integer(0));
  }

  void migrate(int target) {
    version = read_user_version();
    if (version > latest_schema_version)
      throw store_error{"database '" + path + "' has schema version "
                        + std::to_string(version)
                        + ", newer than this foreman supports ("
                        + std::to_string(latest_schema_version) + ")"};
    while (version < target) {
      exec("BEGIN IMMEDIATE");
      try {
        exec(migrations[version]);
        exec("PRAGMA user_version = " + std::to_string(version + 1));
        exec("COMMIT");
      } catch (...) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
      }
      ++version;
    }
  }

  /// Runs `body` as one write: its own BEGIN IMMEDIATE ... COMMIT, or,
  /// inside a batch, a savepoint of the batch's transaction. A failing body
  /// leaves nothing behind either way.
  template <class F>
  auto transaction(F body) -> decltype(body()) {
    auto events_before = uncommitted.size();
    prepared(batch_open ? savepoint_sql : begin_sql).bind().run();
    try {
      auto finish = [&] {
        if (batch_open)
          prepared(release_sql).bind().run();
        else
          commit();
      };
      if constexpr (std::is_void_v<decltype(body())>) {
        body();
        finish();
      } else {
        auto result = body();
        finish();
        return result;
      }
    } catch (...) {
      uncommitted.resize(events_before);
      depth_counts.reset();
      if (batch_open) {
        prepared(rollback_to_sql).bind().run();
        prepared(release_sql).bind().run();
      } else {
        prepared(rollback_sql).bind().run();
      }
      throw;
    }
  }

  void commit() {
    release_read_snapshots();
    prepared(commit_sql).bind().run();
    committed.insert(committed.end(), std::make_move_iterator(uncommitted.begin()),
                     std::make_move_iterator(uncommitted.end()));
    uncommitted.clear();
  }

  /// A batch's transaction is open: each write is a savepoint of it.
  bool batch_open = false;
  /// Non-terminal jobs by model key and state, counted once and then kept
  /// by the writes that change them, so neither the queue limit nor a
  /// depth report scans the queue; nullopt = count again.
  std::optional<std::map<std::pair<std::string, job_state>, int64_t>> depth_counts;

  std::map<std::pair<std::string, job_state>, int64_t>& depths() {
    if (!depth_counts) {
      depth_counts.emplace();
      auto& q = prepared(queue_depth_sql).bind();
      while (q.step())
        (*depth_counts)[{q.text(0), parse_job_state(q.text(1)).value_or(job_state::queued)}]
          = q.integer(2);
    }
    return *depth_counts;
  }

  int64_t queued_jobs() {
    int64_t total = 0;
    for (auto& [key, n] : depths())
      if (key.second == job_state::queued)
        total += n;
    return total;
  }

  /// Counts a job's move between states (terminal states are not counted).
  void count_move(const job& x, std::optional<job_state> from, job_state to) {
    if (!depth_counts)
      return;
    auto model = model_key(x.model);
    if (from && !is_terminal(*from) && --(*depth_counts)[{model, *from}] == 0)
      depth_counts->erase({model, *from});
    if (!is_terminal(to))
      ++(*depth_counts)[{model, to}];
  }

  std::optional<job> find(int64_t id) {
    auto& q = prepared(select_job_sql).bind(id);
    if (!q.step())
      return std::nullopt;
    return read_job(q);
  }

  job get(int64_t id) {
    if (auto x = find(id))
      return *x;
    throw job_not_found_error{"job " + std::to_string(id) + " not found"};
  }

  journal_limits limits;
  /// Journal events of the open transaction, handed out once it commits.
  std::vector<job_event> uncommitted;
  std::vector<job_event> committed;

  /// Journals the job's transition (pruning the journal), and puts it into
  /// the webhook outbox when the job has a URL; called inside the
  /// transaction that makes the transition.
  void record_event(const job& after, const std::string& previous_state,
                    int64_t now_ms) {
    prepared(insert_journal_sql)
      .bind(after.id, std::string{to_string(after.state)}, previous_state,
            int64_t{after.attempt}, now_ms)
      .run();
    auto seq = sqlite3_last_insert_rowid(db);
    prune_journal(seq, now_ms);
    uncommitted.push_back(event_of(after, previous_state, now_ms, seq));
    if (after.state_webhook_url.empty())
      return;
    prepared(insert_event_sql)
      .bind(after.id, after.state_webhook_url, to_string(after.state),
            previous_state, after.attempt, now_ms)
      .run();
  }

  void prune_journal(int64_t newest_seq, int64_t now_ms) {
    prepared(prune_journal_sql)
      .bind(newest_seq - limits.max_events, now_ms - limits.max_age_ms)
      .run();
  }

  job_event event_of(const job& after, const std::string& previous_state,
                     int64_t at_ms, int64_t seq) {
    job_event x;
    auto& t = x.transition;
    t.seq = seq;
    t.job_id = after.id;
    t.state = after.state;
    auto previous = parse_job_state(previous_state);
    t.has_previous = previous.has_value();
    t.previous_state = previous.value_or(job_state::queued);
    t.at_ms = at_ms;
    t.model = after.model;
    t.attempt = after.attempt;
    if (after.state == job_state::done) {
      t.result = after.result;
      t.artifacts = listed_artifacts(after.id);
    }
    if (after.state == job_state::failed)
      t.error = after.error;
    x.kind = after.kind;
    x.client = after.client;
    x.priority = after.priority;
    x.created_at_ms = after.created_at_ms;
    return x;
  }

  /// A job's artifacts as an event lists them: by URL, never inline.
  std::vector<event_artifact> listed_artifacts(int64_t job_id) {
    std::vector<event_artifact> result;
    auto& q = prepared(select_artifacts_sql).bind(job_id);
    while (q.step())
      result.push_back(
        event_artifact{artifact_info{q.text(0), q.text(1), q.integer(2)}, false, {}});
    return result;
  }

  int64_t single_integer(const std::string& sql) {
    auto& q = prepared(sql).bind();
    q.step();
    return q.integer(0);
  }
};

// -- job_store -----------------------------------------------------------------

job_store::job_store(const std::string& path, int schema_version,
                     bool sync_every_commit)
  : impl_(std::make_unique<impl>(path)) {
  // WAL lets readers proceed during writes; with FULL every acknowledged job
  // survives a power loss, not only a crash.
  impl_->exec("PRAGMA journal_mode = WAL");
  impl_->exec(sync_every_commit ? "PRAGMA synchronous = FULL"
                                : "PRAGMA synchronous = NORMAL");
  impl_->exec("PRAGMA foreign_keys = ON");
  impl_->migrate(std::min(schema_version, latest_schema_version));
}

job_store::~job_store() {
  // Writes of an open batch were never acknowledged, but keeping them is
  // what a clean stop should do.
  try {
    commit_batch();
  } catch (const store_error&) {
  }
}

int job_store::schema_version() const {
  return impl_->version;
}

void job_store::set_journal_limits(const journal_limits& limits) {
  impl_->limits = limits;
}

interrupted_jobs job_store::requeue_interrupted(int64_t now_ms) {
  return impl_->transaction([&] {
    interrupted_jobs outcome;
    impl_->prepared(fail_exhausted_events_sql).bind(now_ms).run();
    impl_->prepared(fail_exhausted_journal_sql).bind(now_ms).run();
    impl_->prepared(fail_exhausted_sql).bind(now_ms).run();
    outcome.failed = sqlite3_changes(impl_->db);
    impl_->prepared(requeue_events_sql).bind(now_ms).run();
    impl_->prepared(requeue_journal_sql).bind(now_ms).run();
    impl_->prune_journal(sqlite3_last_insert_rowid(impl_->db), now_ms);
    impl_->prepared(requeue_sql).bind(now_ms).run();
    outcome.requeued = sqlite3_changes(impl_->db);
    impl_->depth_counts.reset();
    return outcome;
  });
}

job job_store::insert(const job_spec& spec, int64_t now_ms, int64_t queue_limit) {
  return impl_->transaction([&] {
    if (!spec.idempotency_key.empty()) {
      auto& earlier
        = impl_->prepared(job_by_idempotency_key_sql).bind(spec.idempotency_key);
      if (earlier.step())
        return impl_->get(earlier.integer(0));
    }
    if (queue_limit > 0 && impl_->queued_jobs() >= queue_limit)
      throw queue_full_error{std::to_string(queue_limit) + " jobs are queued"};
    auto& served = impl_->prepared(served_turn_sql).bind();
    served.step();
    auto served_turn = served.integer(0);
    auto& client_last = impl_->prepared(client_last_turn_sql).bind(spec.client);
    client_last.step();
    auto turn = std::max(served_turn, client_last.integer(0)) + 1;
    auto key = model_key(spec.model);
    impl_->prepared(insert_job_sql)
      .bind(std::string{to_string(spec.kind)}, spec.model, key, spec.priority,
            spec.payload, spec.max_attempts, spec.state_webhook_url, now_ms,
            spec.client, key + "|" + spec.load_options, turn,
            spec.idempotency_key)
      .run();
    auto stored = impl_->get(sqlite3_last_insert_rowid(impl_->db));
    impl_->record_event(stored, "", now_ms);
    impl_->count_move(stored, std::nullopt, job_state::queued);
    return stored;
  });
}

std::optional<job> job_store::find(int64_t id) {
  return impl_->find(id);
}

std::vector<queued_job> job_store::queued_after(int64_t after_id, int32_t limit) {
  std::vector<queued_job> page;
  auto& q = impl_->prepared(queued_page_sql).bind(after_id, int64_t{limit});
  while (q.step())
    page.push_back(read_queued(q));
  return page;
}

void job_store::begin_batch() {
  if (impl_->batch_open)
    return;
  impl_->prepared(begin_sql).bind().run();
  impl_->batch_open = true;
}

void job_store::commit_batch() {
  if (!impl_->batch_open)
    return;
  impl_->batch_open = false;
  try {
    impl_->commit();
  } catch (...) {
    impl_->uncommitted.clear();
    impl_->depth_counts.reset();
    sqlite3_exec(impl_->db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

bool job_store::batch_open() const {
  return impl_->batch_open;
}

job job_store::apply(const job_transition& change, int64_t now_ms) {
  return impl_->transaction([&] {
    auto current = impl_->get(change.job_id);
    if (!is_allowed_transition(current.state, change.to))
      throw invalid_transition_error{
        "job " + std::to_string(change.job_id) + " cannot go from "
        + to_string(current.state) + " to " + to_string(change.to)};
    auto starts = change.to == job_state::loading
                  || change.to == job_state::working;
    if (change.refunds_attempt && change.to != job_state::queued)
      throw invalid_transition_error{"only a job going back to the queue gets "
                                     "its attempt back"};
    impl_->prepared(update_state_sql)
      .bind(change.job_id, std::string{to_string(change.to)}, change.error,
            int64_t{change.starts_attempt ? 1 : change.refunds_attempt ? -1 : 0},
            now_ms,
            int64_t{starts ? 1 : 0}, int64_t{is_terminal(change.to) ? 1 : 0},
            change.to == job_state::queued ? change.not_before_ms : int64_t{0})
      .run();
    if (current.state == job_state::queued && starts)
      impl_->prepared(serve_turn_sql).bind(change.job_id).run();
    auto changed = impl_->get(change.job_id);
    impl_->record_event(changed, to_string(current.state), now_ms);
    impl_->count_move(changed, current.state, changed.state);
    return changed;
  });
}

job job_store::complete(const job_completion& completion, int64_t now_ms) {
  return impl_->transaction([&] {
    auto current = impl_->get(completion.job_id);
    if (!is_allowed_transition(current.state, job_state::done))
      throw invalid_transition_error{
        "job " + std::to_string(completion.job_id) + " cannot go from "
        + to_string(current.state) + " to done"};
    impl_->prepared(finish_job_sql).bind(completion.job_id, now_ms).run();
    impl_->prepared(upsert_artifact_sql)
      .bind(completion.job_id, std::string{"completion"},
             completion.artifact_content_type, completion.artifact_data, now_ms)
      .run();
    auto done = impl_->get(completion.job_id);
    impl_->record_event(done, to_string(current.state), now_ms);
    impl_->count_move(done, current.state, job_state::done);
    return done;
  });
}

std::vector<artifact_info> job_store::artifacts(int64_t job_id) {
  std::vector<artifact_info> result;
  auto& q = impl_->prepared(select_artifacts_sql).bind(job_id);
  while (q.step())
    result.push_back(artifact_info{q.text(0), q.text(1), q.integer(2)});
  return result;
}

std::optional<artifact> job_store::find_artifact(int64_t job_id,
                                                 const std::string& name) {
  auto& q = impl_->prepared(select_artifact_sql).bind(job_id, name);
  if (!q.step())
    return std::nullopt;
  return artifact{q.text(0), q.text(1), q.text(2)};
}

job_page job_store::list(const job_query& query) {
  job_page page;
  // One row more than asked tells whether another page follows.
  auto& q = impl_->prepared(list_jobs_sql(query))
              .bind(to_string(query.state), query.model_key, query.before_id,
                    int64_t{query.limit} + 1, query.owner);
  while (q.step())
    page.jobs.push_back(read_job(q));
  if (page.jobs.size() > static_cast<size_t>(query.limit)) {
    page.jobs.pop_back();
    page.next_cursor = page.jobs.back().id;
  }
  return page;
}

webhook_batch job_store::due_events(int64_t now_ms, int32_t limit,
                                    int64_t inline_limit) {
  webhook_batch batch;
  auto& q = impl_->prepared(due_events_sql).bind(now_ms, int64_t{limit});
  while (q.step()) {
    webhook_event x;
    x.seq = q.integer(0);
    x.job_id = q.integer(1);
    x.url = q.text(2);
    read_transition(q, 3, 8, x);
    x.deliveries = static_cast<int32_t>(q.integer(7));
    batch.events.push_back(std::move(x));
  }
  for (auto& x : batch.events) {
    if (x.state != job_state::done)
      continue;
    auto& a = impl_->prepared(event_artifacts_sql).bind(x.job_id, inline_limit);
    while (a.step())
      x.artifacts.push_back(event_artifact{
        artifact_info{a.text(0), a.text(1), a.integer(2)}, a.integer(3) != 0,
        a.text(4)});
  }
  auto& next = impl_->prepared(next_due_sql).bind(now_ms);
  next.step();
  batch.next_due_ms = next.integer(0);
  return batch;
}

void job_store::event_delivered(int64_t seq) {
  impl_->prepared(delete_event_sql).bind(seq).run();
}

void job_store::postpone_event(int64_t seq, int64_t next_attempt_ms) {
  impl_->prepared(postpone_event_sql).bind(seq, next_attempt_ms).run();
}

void job_store::record_delivery(const webhook_delivery& attempt) {
  impl_->transaction([&] {
    impl_->prepared(insert_delivery_sql)
      .bind(attempt.job_id, attempt.event_seq, to_string(attempt.state), attempt.url,
            attempt.attempt, attempt.http_status, attempt.error,
            to_string(attempt.outcome), attempt.at_ms, attempt.next_attempt_ms)
      .run();
    impl_->prepared(prune_deliveries_sql).bind(attempt.job_id, delivery_log_size).run();
    if (attempt.outcome == delivery_outcome::retrying)
      postpone_event(attempt.event_seq, attempt.next_attempt_ms);
    else
      event_delivered(attempt.event_seq);
  });
}

std::vector<webhook_delivery> job_store::deliveries(int64_t job_id) {
  std::vector<webhook_delivery> log;
  auto& q = impl_->prepared(job_deliveries_sql).bind(job_id);
  while (q.step()) {
    webhook_delivery x;
    x.event_seq = q.integer(0);
    x.job_id = q.integer(1);
    x.state = parse_job_state(q.text(2)).value_or(job_state::failed);
    x.url = q.text(3);
    x.attempt = static_cast<int32_t>(q.integer(4));
    x.http_status = static_cast<int32_t>(q.integer(5));
    x.error = q.text(6);
    x.outcome = parse_delivery_outcome(q.text(7)).value_or(delivery_outcome::given_up);
    x.at_ms = q.integer(8);
    x.next_attempt_ms = q.integer(9);
    log.push_back(std::move(x));
  }
  return log;
}

int64_t job_store::pending_events() {
  auto& q = impl_->prepared(count_events_sql).bind();
  q.step();
  return q.integer(0);
}

std::vector<job_event> job_store::take_committed_events() {
  return std::exchange(impl_->committed, {});
}

journal_page job_store::journal_after(int64_t after_seq, int32_t limit,
                                      const std::string& owner) {
  journal_page page;
  page.last_seq = impl_->single_integer(journal_newest_sql);
  auto& oldest = impl_->prepared(journal_oldest_sql).bind();
  oldest.step();
  auto journal_empty = oldest.is_null(0);
  auto oldest_seq = oldest.integer(0);
  // Nothing after `after_seq` was pruned: either nothing came after it, or
  // the oldest event kept is the one right after it (or older).
  page.complete = after_seq >= 0 && after_seq <= page.last_seq
                  && (after_seq == page.last_seq
                      || (!journal_empty && oldest_seq <= after_seq + 1));
  if (!page.complete)
    return page;
  auto& q = impl_->prepared(journal_after_sql).bind(after_seq, int64_t{limit}, owner);
  while (q.step()) {
    job_event x;
    auto& t = x.transition;
    t.seq = q.integer(0);
    t.job_id = q.integer(1);
    read_transition(q, 2, 6, t);
    x.kind = parse_job_kind(q.text(9)).value_or(job_kind::chat);
    x.client = q.text(10);
    x.priority = static_cast<int32_t>(q.integer(11));
    x.created_at_ms = q.integer(12);
    page.events.push_back(std::move(x));
  }
  for (auto& x : page.events)
    if (x.transition.state == job_state::done)
      x.transition.artifacts = impl_->listed_artifacts(x.transition.job_id);
  return page;
}

event_snapshot job_store::snapshot(const job_query& recent, int64_t running_id) {
  event_snapshot result;
  result.last_seq = impl_->single_integer(journal_newest_sql);
  result.depths = queue_depths();
  result.recent = list(recent).jobs;
  if (running_id > 0)
    if (auto x = impl_->find(running_id))
      result.running.push_back(std::move(*x));
  return result;
}

journal_history job_store::history(int64_t since_ms, int64_t now_ms, int64_t until_seq,
                                   const std::string& owner) {
  journal_history result;
  result.to_ms = now_ms;
  result.queued_now = count_in_state(job_state::queued);
  auto& oldest = impl_->prepared(journal_oldest_time_sql).bind();
  oldest.step();
  result.from_ms = oldest.is_null(0) ? now_ms : std::max(since_ms, oldest.integer(0));
  auto& minutes = impl_->prepared(journal_minutes_sql).bind(result.from_ms, now_ms);
  while (minutes.step())
    result.minutes.push_back(minute_activity{minutes.integer(0), minutes.integer(1),
                                             minutes.integer(2), minutes.integer(3)});
  auto& starts = impl_->prepared(journal_starts_sql).bind(result.from_ms, until_seq, owner);
  while (starts.step()) {
    if (starts.integer(0) != 0)
      result.loads.push_back(model_load{starts.integer(1), starts.text(2)});
    if (starts.integer(3) != 0)
      result.first_waits_ms.push_back(starts.integer(4));
  }
  return result;
}

int64_t job_store::count_in_state(job_state state) {
  auto& q = impl_->prepared(count_state_sql).bind(std::string{to_string(state)});
  q.step();
  return q.integer(0);
}

std::vector<queue_depth> job_store::queue_depths() {
  std::vector<queue_depth> depths;
  for (auto& [key, n] : impl_->depths())
    depths.push_back({key.first, key.second, n});
  return depths;
}

std::optional<std::string> job_store::health_problem() {
  std::error_code ec;
  if (impl_->path != ":memory:" && !std::filesystem::exists(impl_->path, ec))
    return "the database file " + impl_->path
           + " is gone (jobs written now would be lost at the next start)";
  try {
    auto& q = impl_->prepared(health_probe_sql).bind();
    q.step();
    q.integer(0);
  } catch (const store_error& e) {
    return std::string{"the database does not answer: "} + e.what();
  }
  return std::nullopt;
}

} // namespace foreman
