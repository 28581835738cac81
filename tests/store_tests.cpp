#define BOOST_TEST_MODULE store_tests
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/store.hpp"
#include "core/clock.hpp"
#include "core/queue_history.hpp"
#include "core/queue_index.hpp"
#include "messages/add_message_types.hpp"
#include "messages/errors.hpp"
#include "persistence/job_store.hpp"
#include "temp_dir.hpp"

using namespace foreman;
using foreman_test::temp_dir;

namespace {

job_spec chat_spec(const std::string& model, int32_t priority = 0) {
  job_spec spec;
  spec.kind = job_kind::chat;
  spec.model = model;
  spec.payload = R"({"model":")" + model + R"(","messages":[]})";
  spec.priority = priority;
  spec.max_attempts = 3;
  return spec;
}

/// The queue as the worker loads it at start: the store's queued jobs, read
/// in pages (of two, so paging is exercised).
queue_index queue_of(job_store& db) {
  queue_index queue;
  int64_t after_id = 0;
  for (;;) {
    auto page = db.queued_after(after_id, 2);
    for (auto& x : page)
      queue.add(x);
    if (page.size() < 2)
      return queue;
    after_id = page.back().id;
  }
}

/// The id the scheduler picks at `now_ms` (both clocks), 0 when none.
int64_t pick(job_store& db, const std::vector<std::string>& resident, int64_t now_ms) {
  auto chosen = queue_of(db).pick(resident, now_ms, now_ms, {});
  return chosen ? chosen->id : 0;
}

int64_t position_of(job_store& db, int64_t id) {
  return queue_of(db).ahead_of(queued_facts(*db.find(id))).position;
}

struct store_fixture {
  temp_dir dir;
  std::string db_path = dir.file("jobs.db");
  std::unique_ptr<job_store> db = std::make_unique<job_store>(db_path);
};

std::vector<int64_t> ids_of(const std::vector<queued_job>& jobs) {
  std::vector<int64_t> ids;
  for (auto& x : jobs)
    ids.push_back(x.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(job_database, store_fixture)

BOOST_AUTO_TEST_CASE(an_inserted_job_is_queued_with_its_fields) {
  auto spec = chat_spec("Llama3.2", 4);
  spec.state_webhook_url = "http://127.0.0.1:9/h";
  auto stored = db->insert(spec, 1000);
  BOOST_TEST(stored.id > 0);
  BOOST_TEST((stored.state == job_state::queued));
  BOOST_TEST(stored.model == "Llama3.2");
  BOOST_TEST(stored.priority == 4);
  BOOST_TEST(stored.attempt == 0);
  BOOST_TEST(stored.max_attempts == 3);
  BOOST_TEST(stored.payload == spec.payload);
  BOOST_TEST(stored.state_webhook_url == spec.state_webhook_url);
  BOOST_TEST(stored.created_at_ms == 1000);
  BOOST_TEST(db->find(stored.id)->model == "Llama3.2");
  BOOST_TEST(!db->find(stored.id + 100).has_value());
}

BOOST_AUTO_TEST_CASE(a_job_runs_through_its_states) {
  auto id = db->insert(chat_spec("a"), 1000).id;
  auto loading = db->apply({id, job_state::loading, "", true}, 2000);
  BOOST_TEST((loading.state == job_state::loading));
  BOOST_TEST(loading.attempt == 1);
  BOOST_TEST(loading.started_at_ms == 2000);
  auto working = db->apply({id, job_state::working, "", false}, 3000);
  BOOST_TEST(working.attempt == 1);
  BOOST_TEST(working.started_at_ms == 2000);
  auto done = db->complete({id, "application/json", R"({"done":true})"}, 4000);
  BOOST_TEST((done.state == job_state::done));
  BOOST_TEST(done.result == R"({"done":true})");
  BOOST_TEST(done.finished_at_ms == 4000);
  auto listed = db->artifacts(id);
  BOOST_REQUIRE(listed.size() == 1u);
  BOOST_TEST(listed[0].name == "completion");
  BOOST_TEST(listed[0].content_type == "application/json");
  BOOST_TEST(listed[0].size == 13);
  BOOST_TEST(db->find_artifact(id, "completion")->data == R"({"done":true})");
  BOOST_TEST(!db->find_artifact(id, "other").has_value());
}

BOOST_AUTO_TEST_CASE(illegal_transitions_change_nothing) {
  auto id = db->insert(chat_spec("a"), 1000).id;
  BOOST_CHECK_THROW(db->complete({id, "application/json", "{}"}, 2000),
                    invalid_transition_error);
  BOOST_CHECK_THROW(db->apply({id, job_state::done, "", false}, 2000),
                    invalid_transition_error);
  db->apply({id, job_state::failed, "bad", false}, 2000);
  BOOST_CHECK_THROW(db->apply({id, job_state::queued, "", false}, 3000),
                    invalid_transition_error);
  auto x = *db->find(id);
  BOOST_TEST((x.state == job_state::failed));
  BOOST_TEST(x.error == "bad");
  BOOST_TEST(x.finished_at_ms == 2000);
  BOOST_CHECK_THROW(db->apply({id + 1, job_state::loading, "", true}, 3000),
                    job_not_found_error);
}

BOOST_AUTO_TEST_CASE(the_wal_is_checkpointed_while_jobs_are_read_and_written) {
  // 3,000 jobs of 4 KB, read back one row at a time between group commits:
  // a lookup's open row must not pin the WAL, or it grows with every job.
  auto spec = chat_spec("a");
  spec.payload = R"({"model":"a","messages":[{"role":"user","content":")"
                 + std::string(4000, 'x') + R"("}]})";
  for (int batch = 0; batch < 60; ++batch) {
    db->begin_batch();
    for (int i = 0; i < 50; ++i) {
      auto stored = db->insert(spec, 1000 + batch);
      BOOST_REQUIRE(db->find(stored.id));
      db->list(job_query{});
    }
    db->commit_batch();
  }
  auto wal_bytes = std::filesystem::file_size(db_path + "-wal");
  BOOST_TEST_MESSAGE("WAL after 12 MB of jobs: " << wal_bytes << " bytes");
  BOOST_TEST(wal_bytes < 8u * 1024 * 1024);
}

BOOST_AUTO_TEST_CASE(the_queue_limit_counts_only_queued_jobs) {
  auto first = db->insert(chat_spec("a"), 1000, 2).id;
  db->insert(chat_spec("a"), 1001, 2);
  BOOST_CHECK_THROW(db->insert(chat_spec("a"), 1002, 2), queue_full_error);
  BOOST_TEST(db->count_in_state(job_state::queued) == 2);
  db->apply({first, job_state::working, "", true}, 1003);
  BOOST_TEST(db->insert(chat_spec("a"), 1004, 2).id > first);
}

BOOST_AUTO_TEST_CASE(a_retry_goes_back_to_the_queue) {
  auto id = db->insert(chat_spec("a"), 1000).id;
  db->apply({id, job_state::working, "", true}, 2000);
  auto requeued = db->apply({id, job_state::queued, "reset", false}, 3000);
  BOOST_TEST((requeued.state == job_state::queued));
  BOOST_TEST(requeued.attempt == 1);
  BOOST_TEST(requeued.error == "reset");
  BOOST_TEST(ids_of(db->queued_after(0, 10)) == std::vector<int64_t>{id});
}

BOOST_AUTO_TEST_CASE(a_backing_off_retry_waits_its_turn) {
  auto id = db->insert(chat_spec("a"), 1000).id;
  db->apply({id, job_state::working, "", true}, 2000);
  auto requeued = db->apply({id, job_state::queued, "reset", false, 5000}, 3000);
  BOOST_TEST(requeued.not_before_ms == 5000);
  auto queue = queue_of(*db);
  BOOST_TEST(!queue.pick({}, 4999, 4999, {}));
  BOOST_TEST(queue.next_retry_at(4999) == 5000);
  BOOST_TEST(queue.pick({}, 5000, 5000, {})->id == id);
  BOOST_TEST(queue.next_retry_at(5000) == 0);
}

BOOST_AUTO_TEST_CASE(clients_get_interleaved_turns) {
  auto spec_for = [](const std::string& client) {
    auto spec = chat_spec("a");
    spec.client = client;
    return spec;
  };
  std::vector<int64_t> batch;
  for (int i = 0; i < 5; ++i)
    batch.push_back(db->insert(spec_for("batch"), 1000 + i).id);
  db->apply({batch[0], job_state::working, "", true}, 2000); // serving turn 1
  auto single = db->insert(spec_for("single"), 2001).id;
  // The single job takes the turn right after the one being served, ahead
  // of the batch's remaining jobs but for the one that shares its turn.
  std::vector<int64_t> order;
  while (auto next = pick(*db, {"a:latest|"}, 3000)) {
    order.push_back(next);
    db->apply({next, job_state::working, "", true}, 3000);
  }
  BOOST_TEST(order == (std::vector<int64_t>{batch[1], single, batch[2], batch[3],
                                            batch[4]}));
}

BOOST_AUTO_TEST_CASE(load_options_make_their_own_group) {
  auto plain = db->insert(chat_spec("a"), 1000);
  auto big = chat_spec("a");
  big.load_options = "num_ctx=8192";
  auto wide = db->insert(big, 1001);
  BOOST_TEST(plain.group_key == "a:latest|");
  BOOST_TEST(wide.group_key == "a:latest|num_ctx=8192");
  BOOST_TEST(pick(*db, {"a:latest|num_ctx=8192"}, 2000) == wide.id);
}

BOOST_AUTO_TEST_CASE(positions_count_the_jobs_ahead_by_model) {
  auto a1 = db->insert(chat_spec("a"), 1000).id;
  auto b1 = db->insert(chat_spec("b"), 1001).id;
  auto a2 = db->insert(chat_spec("a"), 1002).id;
  auto urgent = db->insert(chat_spec("c", 5), 1003).id;
  auto ahead = queue_of(*db).ahead_of(queued_facts(*db->find(a2)));
  BOOST_TEST(ahead.position == 3);
  std::map<std::string, int64_t> by_model(ahead.by_model.begin(), ahead.by_model.end());
  BOOST_TEST(by_model["a:latest"] == 1);
  BOOST_TEST(by_model["b:latest"] == 1);
  BOOST_TEST(by_model["c:latest"] == 1);
  BOOST_TEST(position_of(*db, urgent) == 0);
  BOOST_TEST(position_of(*db, a1) == 1);
  db->apply({b1, job_state::working, "", true}, 2000);
  BOOST_TEST(position_of(*db, a2) == 2);
  BOOST_TEST(!queue_of(*db).contains(b1));
}

BOOST_AUTO_TEST_CASE(depths_kept_by_the_writes_match_a_fresh_count) {
  auto depth_map = [](const std::vector<queue_depth>& depths) {
    std::map<std::pair<std::string, job_state>, int64_t> result;
    for (auto& d : depths)
      result[{d.model_key, d.state}] = d.count;
    return result;
  };
  std::vector<int64_t> ids;
  for (int i = 0; i < 6; ++i)
    ids.push_back(db->insert(chat_spec(i % 2 == 0 ? "a" : "b"), 1000 + i).id);
  BOOST_TEST(db->queue_depths().size() == 2u);
  db->apply({ids[0], job_state::loading, "", true}, 2000);
  db->apply({ids[0], job_state::working, "", false}, 2001);
  db->complete({ids[0], "application/json", "{}"}, 2002);
  db->apply({ids[1], job_state::working, "", true}, 2003);
  db->apply({ids[1], job_state::queued, "retry", false, 5000}, 2004);
  db->apply({ids[2], job_state::cancelled, "cancelled", false}, 2005);
  db->apply({ids[3], job_state::working, "", true}, 2006);
  BOOST_CHECK_THROW(db->apply({ids[2], job_state::working, "", true}, 2007),
                    invalid_transition_error);
  // A batch whose write fails keeps the counts right too.
  db->begin_batch();
  db->apply({ids[4], job_state::working, "", true}, 2008);
  BOOST_CHECK_THROW(db->apply({ids[0], job_state::working, "", true}, 2009),
                    invalid_transition_error);
  db->commit_batch();
  auto kept = depth_map(db->queue_depths());
  db.reset();
  job_store reopened{db_path};
  BOOST_TEST((kept == depth_map(reopened.queue_depths())));
  BOOST_TEST((kept[{"b:latest", job_state::working}] == 1));
  BOOST_TEST((kept[{"a:latest", job_state::working}] == 1));
  BOOST_TEST((kept[{"b:latest", job_state::queued}] == 2));
}

BOOST_AUTO_TEST_CASE(the_loaded_queue_picks_as_the_policy_says) {
  auto a1 = db->insert(chat_spec("a"), 1000).id;
  auto b1 = db->insert(chat_spec("b"), 1001).id;
  db->insert(chat_spec("a"), 1002);
  auto c1 = db->insert(chat_spec("c"), 1003).id;
  auto b2 = db->insert(chat_spec("b", 2), 1004).id;
  // The highest priority goes first, resident or not.
  BOOST_TEST(pick(*db, {"c:latest|"}, 2000) == b2);
  db->apply({b2, job_state::working, "", true}, 2000);
  // Same priority now: the resident model's job beats the older a1 and b1.
  BOOST_TEST(pick(*db, {"c:latest|"}, 2000) == c1);
  BOOST_TEST(pick(*db, {"b:latest|"}, 2000) == b1);
  BOOST_TEST(pick(*db, {}, 2000) == a1);
}

BOOST_AUTO_TEST_CASE(interrupted_jobs_are_requeued_at_start) {
  auto loading = db->insert(chat_spec("a"), 1000).id;
  auto working = db->insert(chat_spec("b"), 1000).id;
  auto done = db->insert(chat_spec("c"), 1000).id;
  db->apply({loading, job_state::loading, "", true}, 2000);
  db->apply({working, job_state::working, "", true}, 2000);
  db->apply({done, job_state::working, "", true}, 2000);
  db->complete({done, "application/json", "{}"}, 3000);
  db.reset(); // the crash
  job_store reopened{db_path};
  BOOST_TEST(reopened.requeue_interrupted(4000).requeued == 2);
  BOOST_TEST((reopened.find(loading)->state == job_state::queued));
  BOOST_TEST((reopened.find(working)->state == job_state::queued));
  BOOST_TEST((reopened.find(done)->state == job_state::done));
  BOOST_TEST(reopened.count_in_state(job_state::queued) == 2);
}

BOOST_AUTO_TEST_CASE(a_job_interrupted_on_its_last_attempt_fails_at_start) {
  auto spec = chat_spec("a");
  spec.max_attempts = 2;
  spec.state_webhook_url = "http://127.0.0.1:9/hook";
  auto id = db->insert(spec, 1000).id;
  // Each crash interrupts an attempt; the second was its last.
  db->apply({id, job_state::working, "", true}, 2000);
  db.reset();
  auto first = std::make_unique<job_store>(db_path);
  BOOST_TEST(first->requeue_interrupted(3000).requeued == 1);
  first->apply({id, job_state::working, "", true}, 4000);
  first.reset();
  job_store second{db_path};
  auto outcome = second.requeue_interrupted(5000);
  BOOST_TEST(outcome.requeued == 0);
  BOOST_TEST(outcome.failed == 1);
  auto failed = *second.find(id);
  BOOST_TEST((failed.state == job_state::failed));
  BOOST_TEST(failed.attempt == 2);
  BOOST_TEST(failed.error.find("interrupted on each of its 2 attempts") != std::string::npos,
             failed.error);
  // Its webhook hears the end like any other, after its earlier events.
  std::vector<job_state> heard;
  for (int i = 0; i < 10; ++i) {
    auto due = second.due_events(5000, 100, 0);
    if (due.events.empty())
      break;
    heard.push_back(due.events.front().state);
    second.event_delivered(due.events.front().seq);
  }
  BOOST_REQUIRE(!heard.empty());
  BOOST_TEST((heard.back() == job_state::failed));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(schema)

BOOST_AUTO_TEST_CASE(a_database_from_schema_version_2_migrates_with_its_jobs) {
  // tests/data/foreman-schema-v2.db was written by foreman at schema 2: job 1
  // done with its completion artifact, job 2 interrupted while working,
  // job 3 queued.
  temp_dir dir;
  auto path = dir.file("old.db");
  std::filesystem::copy_file(FOREMAN_TEST_DATA "/foreman-schema-v2.db", path);
  job_store current{path};
  BOOST_TEST(current.schema_version() == job_store::latest_schema_version);
  auto done = *current.find(1);
  BOOST_TEST((done.state == job_state::done));
  // Its result is now the whole answer, the completion artifact, no longer
  // the answer's text that schema 2 stored.
  BOOST_TEST(done.result == R"({"done":true})");
  BOOST_TEST(current.find_artifact(1, "completion")->data == R"({"done":true})");
  BOOST_TEST(current.find(2)->state_webhook_url == "http://127.0.0.1:9/hook");
  BOOST_TEST(current.find(3)->group_key == "mistral:latest|");
  BOOST_TEST(current.requeue_interrupted(1800000000000).requeued == 1);
  // Job 2 has priority 5; job 3 waits behind it.
  BOOST_TEST(pick(current, {}, 1800000000000) == 2);
  BOOST_TEST(position_of(current, 3) == 1);
  // New jobs take turns after the migrated ones.
  auto fresh = current.insert(chat_spec("a"), 1800000000001);
  BOOST_TEST(position_of(current, fresh.id) == 2);
}

BOOST_AUTO_TEST_CASE(a_version_1_database_migrates_to_the_latest) {
  temp_dir dir;
  auto path = dir.file("v1.db");
  { job_store v1{path, 1}; }
  job_store current{path};
  BOOST_TEST(current.schema_version() == job_store::latest_schema_version);
  BOOST_TEST(current.insert(chat_spec("a"), 1000).id == 1);
}

BOOST_AUTO_TEST_CASE(a_newer_database_is_refused) {
  temp_dir dir;
  auto path = dir.file("new.db");
  { job_store current{path}; }
  // A later foreman's database: bump user_version in SQLite's file header
  // (big-endian at offset 60) without going through the store.
  {
    std::fstream f{path, std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(60);
    const char version[4] = {0, 0, 0, 99};
    f.write(version, 4);
  }
  try {
    job_store newer{path};
    BOOST_FAIL("opened a database of schema version 99");
  } catch (const store_error& e) {
    BOOST_TEST(std::string{e.what()}.find("schema version 99") != std::string::npos,
               e.what());
  }
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_a_database_is_refused_by_name) {
  temp_dir dir;
  auto path = dir.file("notes.txt");
  {
    std::ofstream f{path};
    f << "these are not the bytes you are looking for, not at all, no. "
         "SQLite reads a 100-byte header, so write more than that........";
  }
  try {
    job_store db{path};
    BOOST_FAIL("opened a text file as a database");
  } catch (const store_error& e) {
    BOOST_TEST(std::string{e.what()}.find(path) != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(store_actor_messages)

BOOST_AUTO_TEST_CASE(the_actor_answers_with_jobs_and_named_errors) {
  temp_dir dir;
  caf::actor_system_config cfg;
  add_message_types(cfg);
  caf::actor_system sys{cfg};
  store_config config;
  config.max_queue = 2;
  auto store = spawn_store(sys, std::make_shared<job_store>(dir.file("a.db")),
                           config);
  caf::scoped_actor self{sys};
  job stored;
  self->request(store, std::chrono::seconds{10}, insert_atom_v, chat_spec("m"))
    .receive([&](const job& x) { stored = x; },
             [&](const caf::error& err) { BOOST_FAIL(describe(err)); });
  BOOST_TEST(stored.id > 0);
  self->request(store, std::chrono::seconds{10}, caf::get_atom_v, stored.id + 1)
    .receive([&](const job&) { BOOST_FAIL("found a job that does not exist"); },
             [&](const caf::error& err) {
               BOOST_TEST(has_code(err, foreman_errc::job_not_found));
             });
  self->request(store, std::chrono::seconds{10},
                job_completion{stored.id, "application/json", "{}"})
    .receive([&](const job&) { BOOST_FAIL("completed a queued job"); },
             [&](const caf::error& err) {
               BOOST_TEST(has_code(err, foreman_errc::invalid_transition));
               BOOST_TEST(describe(err).find("queued") != std::string::npos);
             });
  self->request(store, std::chrono::seconds{10}, insert_atom_v, chat_spec("m"))
    .receive([](const job&) {},
             [&](const caf::error& err) { BOOST_FAIL(describe(err)); });
  self->request(store, std::chrono::seconds{10}, insert_atom_v, chat_spec("m"))
    .receive([&](const job&) { BOOST_FAIL("queued beyond max_queue"); },
             [&](const caf::error& err) {
               BOOST_TEST(has_code(err, foreman_errc::queue_full));
             });
  self->send_exit(store, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(job_api_and_outbox, store_fixture)

job_spec hooked_spec(const std::string& model) {
  auto spec = chat_spec(model);
  spec.state_webhook_url = "http://127.0.0.1:9/hook";
  return spec;
}

std::vector<std::string> states_of(const webhook_batch& batch) {
  std::vector<std::string> states;
  for (auto& x : batch.events)
    states.push_back(to_string(x.state));
  return states;
}

BOOST_AUTO_TEST_CASE(an_idempotency_key_returns_the_first_job) {
  auto spec = chat_spec("a");
  spec.idempotency_key = "order-17";
  auto first = db->insert(spec, 1000);
  auto again = db->insert(spec, 2000);
  BOOST_TEST(again.id == first.id);
  BOOST_TEST(again.created_at_ms == 1000);
  BOOST_TEST(db->count_in_state(job_state::queued) == 1);
  // A full queue does not refuse the replay: nothing new is stored.
  BOOST_TEST(db->insert(spec, 3000, 1).id == first.id);
  // Jobs without a key never collide.
  BOOST_TEST(db->insert(chat_spec("a"), 1000).id != db->insert(chat_spec("a"), 1000).id);
}

BOOST_AUTO_TEST_CASE(every_transition_writes_an_event_in_its_transaction) {
  BOOST_TEST(db->insert(chat_spec("plain"), 1000).id == 1);
  auto id = db->insert(hooked_spec("a"), 1000).id;
  db->apply({id, job_state::loading, "", true}, 2000);
  db->apply({id, job_state::working, "", false}, 3000);
  db->complete({id, "application/json", R"({"done":true})"}, 4000);
  // Jobs without a webhook URL write nothing.
  BOOST_TEST(db->pending_events() == 4);
  // Only the oldest event of a job is due at a time.
  auto batch = db->due_events(5000, 10, 1024);
  BOOST_REQUIRE_EQUAL(batch.events.size(), 1u);
  auto& first = batch.events[0];
  BOOST_TEST(first.job_id == id);
  BOOST_TEST((first.state == job_state::queued));
  BOOST_TEST(!first.has_previous);
  BOOST_TEST(first.at_ms == 1000);
  BOOST_TEST(first.url == "http://127.0.0.1:9/hook");
  std::vector<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    auto next = db->due_events(5000, 10, 1024);
    BOOST_REQUIRE_EQUAL(next.events.size(), 1u);
    seen.push_back(to_string(next.events[0].previous_state) + ">"
                   + to_string(next.events[0].state));
    if (next.events[0].state == job_state::done) {
      auto& done = next.events[0];
      BOOST_TEST(done.result == R"({"done":true})");
      BOOST_TEST(done.attempt == 1);
      BOOST_REQUIRE_EQUAL(done.artifacts.size(), 1u);
      BOOST_TEST(done.artifacts[0].inlined);
      BOOST_TEST(done.artifacts[0].data == R"({"done":true})");
    }
    db->event_delivered(next.events[0].seq);
  }
  BOOST_TEST(seen[1] == "queued>loading");
  BOOST_TEST(seen[2] == "loading>working");
  BOOST_TEST(seen[3] == "working>done");
  BOOST_TEST(db->pending_events() == 0);
}

BOOST_AUTO_TEST_CASE(a_failed_transition_writes_no_event) {
  auto id = db->insert(hooked_spec("a"), 1000).id;
  BOOST_CHECK_THROW(db->complete({id, "application/json", "{}"}, 2000),
                    invalid_transition_error);
  BOOST_TEST(db->pending_events() == 1);
}

BOOST_AUTO_TEST_CASE(large_artifacts_are_not_inlined) {
  auto id = db->insert(hooked_spec("a"), 1000).id;
  db->apply({id, job_state::working, "", true}, 2000);
  db->complete({id, "application/json", std::string(100, 'x')}, 3000);
  for (int i = 0; i < 2; ++i)
    db->event_delivered(db->due_events(4000, 10, 99).events.at(0).seq);
  auto done = db->due_events(4000, 10, 99).events.at(0);
  BOOST_TEST(!done.artifacts.at(0).inlined);
  BOOST_TEST(done.artifacts.at(0).data.empty());
  BOOST_TEST(done.artifacts.at(0).info.size == 100);
}

BOOST_AUTO_TEST_CASE(a_postponed_event_holds_back_its_job_only) {
  auto a = db->insert(hooked_spec("a"), 1000).id;
  auto b = db->insert(hooked_spec("b"), 1000).id;
  db->apply({a, job_state::cancelled, "cancelled", false}, 1500);
  auto batch = db->due_events(2000, 10, 0);
  BOOST_REQUIRE_EQUAL(batch.events.size(), 2u);
  BOOST_TEST(batch.events[0].job_id == a);
  db->postpone_event(batch.events[0].seq, 9000);
  batch = db->due_events(2000, 10, 0);
  BOOST_REQUIRE_EQUAL(batch.events.size(), 1u);
  BOOST_TEST(batch.events[0].job_id == b);
  BOOST_TEST(batch.next_due_ms == 9000);
  batch = db->due_events(9000, 10, 0);
  BOOST_TEST(states_of(batch) == (std::vector<std::string>{"queued", "queued"}));
  BOOST_TEST(batch.events[0].deliveries == 1);
}

BOOST_AUTO_TEST_CASE(the_requeue_at_start_is_an_event_and_events_survive_reopening) {
  auto id = db->insert(hooked_spec("a"), 1000).id;
  db->apply({id, job_state::working, "", true}, 2000);
  db.reset(); // the crash
  job_store reopened{db_path};
  BOOST_TEST(reopened.requeue_interrupted(3000).requeued == 1);
  BOOST_TEST(reopened.pending_events() == 3);
  for (int i = 0; i < 2; ++i)
    reopened.event_delivered(reopened.due_events(4000, 10, 0).events.at(0).seq);
  auto requeued = reopened.due_events(4000, 10, 0).events.at(0);
  BOOST_TEST((requeued.previous_state == job_state::working));
  BOOST_TEST((requeued.state == job_state::queued));
}

/// The record of one attempt at the oldest due event of a job.
webhook_delivery attempt_at(const webhook_event& event, int32_t number,
                            delivery_outcome outcome, int64_t at_ms) {
  webhook_delivery x{event.seq, event.job_id, event.state, event.url, number, 0, "",
                     outcome, at_ms, 0};
  if (outcome != delivery_outcome::delivered) {
    x.http_status = 503;
    x.error = "the receiver answered 503";
  }
  if (outcome == delivery_outcome::retrying)
    x.next_attempt_ms = at_ms + 1000;
  return x;
}

BOOST_AUTO_TEST_CASE(delivery_attempts_are_logged_and_settle_their_events) {
  auto id = db->insert(hooked_spec("a"), 1000).id;
  db->apply({id, job_state::cancelled, "cancelled", false}, 1500);
  auto queued = db->due_events(2000, 10, 0).events.at(0);
  db->record_delivery(attempt_at(queued, 1, delivery_outcome::retrying, 2000));
  // A retried event waits for its next attempt, holding back the job's next.
  BOOST_TEST(db->due_events(2500, 10, 0).events.empty());
  BOOST_TEST(db->due_events(2500, 10, 0).next_due_ms == 3000);
  db->record_delivery(attempt_at(db->due_events(3000, 10, 0).events.at(0), 2,
                                 delivery_outcome::delivered, 3000));
  auto cancelled = db->due_events(3000, 10, 0).events.at(0);
  BOOST_TEST((cancelled.state == job_state::cancelled));
  db->record_delivery(attempt_at(cancelled, 1, delivery_outcome::given_up, 3100));
  BOOST_TEST(db->pending_events() == 0);
  auto log = db->deliveries(id);
  BOOST_REQUIRE_EQUAL(log.size(), 3u);
  BOOST_TEST(log[0].event_seq == queued.seq);
  BOOST_TEST((log[0].state == job_state::queued));
  BOOST_TEST(log[0].url == "http://127.0.0.1:9/hook");
  BOOST_TEST(log[0].attempt == 1);
  BOOST_TEST(log[0].http_status == 503);
  BOOST_TEST(log[0].error == "the receiver answered 503");
  BOOST_TEST((log[0].outcome == delivery_outcome::retrying));
  BOOST_TEST(log[0].at_ms == 2000);
  BOOST_TEST(log[0].next_attempt_ms == 3000);
  BOOST_TEST(log[1].attempt == 2);
  BOOST_TEST((log[1].outcome == delivery_outcome::delivered));
  BOOST_TEST(log[1].error.empty());
  BOOST_TEST((log[2].state == job_state::cancelled));
  BOOST_TEST((log[2].outcome == delivery_outcome::given_up));
  BOOST_TEST(db->deliveries(id + 1).empty());
}

BOOST_AUTO_TEST_CASE(a_jobs_delivery_log_keeps_its_newest_attempts) {
  auto id = db->insert(hooked_spec("a"), 1000).id;
  auto other = db->insert(hooked_spec("b"), 1000).id;
  auto event = db->due_events(2000, 10, 0).events.at(0);
  db->record_delivery(attempt_at(db->due_events(2000, 10, 0).events.at(1), 1,
                                 delivery_outcome::delivered, 2000));
  auto kept = job_store::delivery_log_size;
  for (int32_t n = 1; n <= kept + 5; ++n)
    db->record_delivery(attempt_at(event, n, delivery_outcome::retrying, 2000 + n));
  auto log = db->deliveries(id);
  BOOST_REQUIRE_EQUAL(log.size(), static_cast<size_t>(kept));
  BOOST_TEST(log.front().attempt == 6);
  BOOST_TEST(log.back().attempt == kept + 5);
  // Another job's log is its own.
  BOOST_TEST(db->deliveries(other).size() == 1u);
}

BOOST_AUTO_TEST_CASE(listing_filters_newest_first_in_pages) {
  for (int i = 0; i < 5; ++i)
    db->insert(chat_spec(i % 2 == 0 ? "llama3.2" : "qwen2.5"), 1000 + i);
  db->apply({1, job_state::cancelled, "cancelled", false}, 2000);
  job_query all;
  all.limit = 2;
  auto page = db->list(all);
  BOOST_REQUIRE_EQUAL(page.jobs.size(), 2u);
  BOOST_TEST(page.jobs[0].id == 5);
  BOOST_TEST(page.jobs[1].id == 4);
  BOOST_TEST(page.next_cursor == 4);
  all.before_id = page.next_cursor;
  page = db->list(all);
  BOOST_TEST(page.jobs.at(0).id == 3);
  all.before_id = page.next_cursor;
  page = db->list(all);
  BOOST_TEST(page.jobs.size() == 1u);
  BOOST_TEST(page.next_cursor == 0);
  job_query llama;
  llama.model_key = "llama3.2:latest";
  llama.by_state = true;
  llama.state = job_state::queued;
  page = db->list(llama);
  BOOST_REQUIRE_EQUAL(page.jobs.size(), 2u);
  BOOST_TEST(page.jobs[0].id == 5);
  BOOST_TEST(page.jobs[1].id == 3);
}

BOOST_AUTO_TEST_CASE(the_actor_wakes_its_listener_and_serves_artifacts) {
  caf::actor_system_config cfg;
  add_message_types(cfg);
  caf::actor_system sys{cfg};
  auto store = spawn_store(sys, std::make_shared<job_store>(dir.file("b.db")),
                           store_config{});
  caf::scoped_actor self{sys};
  self->send(store, subscribe_atom_v,
             caf::actor_cast<outbox_listener_actor>(self));
  auto ask = [&](auto... xs) {
    bool ok = false;
    self->request(store, std::chrono::seconds{10}, xs...)
      .receive([&](const job&) { ok = true; },
               [&](const caf::error& err) { BOOST_FAIL(describe(err)); });
    return ok;
  };
  BOOST_REQUIRE(ask(insert_atom_v, hooked_spec("m")));
  self->receive([](wake_atom) {},
                caf::after(std::chrono::seconds{10}) >> [] { BOOST_FAIL("no wake"); });
  BOOST_REQUIRE(ask(job_transition{1, job_state::working, "", true}));
  BOOST_REQUIRE(ask(job_completion{1, "application/json", "{}"}));
  self->request(store, std::chrono::seconds{10}, artifacts_atom_v, int64_t{1})
    .receive(
      [&](const std::vector<artifact_info>& list) {
        BOOST_REQUIRE_EQUAL(list.size(), 1u);
        BOOST_TEST(list[0].name == "completion");
        BOOST_TEST(list[0].size == 2);
      },
      [&](const caf::error& err) { BOOST_FAIL(describe(err)); });
  self->request(store, std::chrono::seconds{10}, artifact_atom_v, int64_t{1},
                std::string{"completion"})
    .receive([&](const artifact& x) { BOOST_TEST(x.data == "{}"); },
             [&](const caf::error& err) { BOOST_FAIL(describe(err)); });
  for (auto [id, name] : {std::pair{int64_t{2}, "completion"},
                          std::pair{int64_t{1}, "nope"}})
    self->request(store, std::chrono::seconds{10}, artifact_atom_v, id,
                  std::string{name})
      .receive([&](const artifact&) { BOOST_FAIL("found a missing artifact"); },
               [&](const caf::error& err) {
                 BOOST_TEST(has_code(err, foreman_errc::job_not_found));
               });
  self->request(store, std::chrono::seconds{10}, artifacts_atom_v, int64_t{2})
    .receive([&](const std::vector<artifact_info>&) { BOOST_FAIL("no job 2"); },
             [&](const caf::error& err) {
               BOOST_TEST(has_code(err, foreman_errc::job_not_found));
             });
  webhook_batch batch;
  self->request(store, std::chrono::seconds{10}, outbox_atom_v, now_unix_ms(),
                int32_t{10}, int64_t{0})
    .receive([&](const webhook_batch& b) { batch = b; },
             [&](const caf::error& err) { BOOST_FAIL(describe(err)); });
  BOOST_REQUIRE_EQUAL(batch.events.size(), 1u);
  // An attempt sent in is in the job's log when the next request is answered.
  self->send(store, attempt_at(batch.events[0], 1, delivery_outcome::delivered, 5000));
  self->request(store, std::chrono::seconds{10}, deliveries_atom_v, int64_t{1})
    .receive(
      [&](const std::vector<webhook_delivery>& log) {
        BOOST_REQUIRE_EQUAL(log.size(), 1u);
        BOOST_TEST(log[0].event_seq == batch.events[0].seq);
      },
      [&](const caf::error& err) { BOOST_FAIL(describe(err)); });
  self->request(store, std::chrono::seconds{10}, deliveries_atom_v, int64_t{2})
    .receive([&](const std::vector<webhook_delivery>&) { BOOST_FAIL("no job 2"); },
             [&](const caf::error& err) {
               BOOST_TEST(has_code(err, foreman_errc::job_not_found));
             });
  self->send_exit(store, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(event_journal, store_fixture)

BOOST_AUTO_TEST_CASE(every_job_transition_is_journaled_and_handed_out_once_committed) {
  auto plain = chat_spec("plain");
  plain.client = "alice";
  auto id = db->insert(plain, 1000).id;
  db->apply({id, job_state::working, "", true}, 2000);
  BOOST_CHECK_THROW(db->apply({id, job_state::loading, "", true}, 2500),
                    invalid_transition_error);
  db->complete({id, "application/json", R"({"done":true})"}, 3000);
  auto committed = db->take_committed_events();
  BOOST_REQUIRE_EQUAL(committed.size(), 3u);
  BOOST_TEST(db->take_committed_events().empty());
  auto page = db->journal_after(0, 10, "");
  BOOST_TEST(page.complete);
  BOOST_TEST(page.last_seq == 3);
  BOOST_REQUIRE_EQUAL(page.events.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    BOOST_TEST(page.events[i].transition.seq == committed[i].transition.seq);
    BOOST_TEST((page.events[i].transition.state == committed[i].transition.state));
    BOOST_TEST(page.events[i].client == "alice");
  }
  auto& done = page.events[2].transition;
  BOOST_TEST((done.state == job_state::done));
  BOOST_TEST((done.previous_state == job_state::working));
  BOOST_TEST(done.result == R"({"done":true})");
  BOOST_TEST(done.at_ms == 3000);
  BOOST_REQUIRE_EQUAL(done.artifacts.size(), 1u);
  BOOST_TEST(!done.artifacts[0].inlined);
  // Another owner's view holds none of alice's jobs, yet stays complete.
  auto bobs = db->journal_after(0, 10, "bob");
  BOOST_TEST(bobs.complete);
  BOOST_TEST(bobs.events.empty());
  BOOST_TEST(db->journal_after(1, 10, "alice").events.size() == 2u);
  // The journal never handed out a later id.
  BOOST_TEST(!db->journal_after(4, 10, "").complete);
}

BOOST_AUTO_TEST_CASE(the_history_counts_the_queue_by_minute_and_the_starts_seen) {
  auto alices = chat_spec("llama3.2");
  alices.client = "alice";
  auto a = db->insert(alices, 1000).id;
  auto b = db->insert(chat_spec("qwen2.5"), 2000).id;
  db->apply({a, job_state::loading, "", true}, 61000);
  db->apply({a, job_state::working, "", false}, 62000);
  db->complete({a, "application/json", "{}"}, 63000);
  db->apply({b, job_state::working, "", true}, 130000);
  auto all = db->history(0, 150000, 6, "");
  BOOST_TEST(all.from_ms == 1000); // the journal's oldest event
  BOOST_TEST(all.to_ms == 150000);
  BOOST_TEST(all.queued_now == 0);
  BOOST_REQUIRE_EQUAL(all.loads.size(), 1u);
  BOOST_TEST(all.loads[0].at_ms == 61000);
  BOOST_TEST(all.loads[0].model == "llama3.2");
  BOOST_TEST(all.first_waits_ms == (std::vector<int64_t>{60000, 128000}));
  // Back from 150 s a minute at a time: both queued at 30 s, one at 90 s
  // (the other ended within the minute before), none now.
  std::vector<int64_t> times, queued, ended;
  for (auto& x : queue_samples(all)) {
    times.push_back(x.at_ms);
    queued.push_back(x.queued);
    ended.push_back(x.jobs_per_minute);
  }
  BOOST_TEST(times == (std::vector<int64_t>{30000, 90000, 150000}));
  BOOST_TEST(queued == (std::vector<int64_t>{2, 1, 0}));
  BOOST_TEST(ended == (std::vector<int64_t>{0, 1, 0}));
  // Starts after the snapshot's point and other owners' starts are left
  // out; the queue's minutes are everyone's.
  BOOST_TEST(db->history(0, 150000, 5, "").first_waits_ms
             == (std::vector<int64_t>{60000}));
  auto alice = db->history(0, 150000, 6, "alice");
  BOOST_TEST(alice.first_waits_ms == (std::vector<int64_t>{60000}));
  BOOST_TEST(alice.minutes.size() == all.minutes.size());
  auto bob = db->history(0, 150000, 6, "bob");
  BOOST_TEST(bob.loads.empty());
  BOOST_TEST(bob.first_waits_ms.empty());
  // A shorter stretch starts later.
  auto recent = db->history(100000, 150000, 6, "");
  BOOST_TEST(recent.from_ms == 100000);
  BOOST_TEST(recent.loads.empty());
  BOOST_TEST(queue_samples(recent).size() == 1u);
}

BOOST_AUTO_TEST_CASE(the_journal_is_pruned_by_count_and_age) {
  db->set_journal_limits({5, 60 * 1000});
  for (int i = 0; i < 4; ++i)
    db->insert(chat_spec("m"), 1000 + i);
  BOOST_TEST(db->journal_after(0, 10, "").complete);
  for (int i = 0; i < 4; ++i)
    db->insert(chat_spec("m"), 2000 + i);
  // Eight events, five kept: resuming after 3 (or later) has no gap.
  BOOST_TEST(!db->journal_after(2, 10, "").complete);
  auto page = db->journal_after(3, 10, "");
  BOOST_TEST(page.complete);
  BOOST_TEST(page.events.size() == 5u);
  // A minute later the old ones are gone too.
  db->insert(chat_spec("m"), 70000);
  BOOST_TEST(!db->journal_after(7, 10, "").complete);
  BOOST_TEST(db->journal_after(8, 10, "").events.size() == 1u);
  BOOST_TEST(db->journal_after(9, 10, "").complete);
  BOOST_TEST(db->journal_after(9, 10, "").events.empty());
}

BOOST_AUTO_TEST_SUITE_END()
