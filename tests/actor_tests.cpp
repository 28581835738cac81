#define BOOST_TEST_MODULE actor_tests
#include <boost/test/unit_test.hpp>

// The worker, the model inventory and the webhook dispatcher, each on CAF's
// deterministic test scheduler against fakes of its neighbours (the store is
// the real one, over SQLite): which job runs next, retries and their
// backoffs, races the scheduler lets a test pin down, the embedder coming
// back after an eviction, and webhook order and retries.

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "actors/inventory.hpp"
#include "actors/store.hpp"
#include "actors/webhook_dispatcher.hpp"
#include "actors/worker.hpp"
#include "deterministic_fixture.hpp"
#include "messages/errors.hpp"
#include "persistence/job_store.hpp"
#include "temp_dir.hpp"

using namespace foreman;
using namespace foreman_test;
using std::chrono::milliseconds;

namespace {

Poco::JSON::Object::Ptr parse_object(const std::string& text) {
  return Poco::JSON::Parser{}.parse(text).extract<Poco::JSON::Object::Ptr>();
}

job_spec chat_spec(const std::string& model, const std::string& webhook_url = "") {
  job_spec spec;
  spec.kind = job_kind::chat;
  spec.model = model;
  spec.payload = R"({"model":")" + model
                 + R"(","messages":[{"role":"user","content":"hi"}]})";
  spec.state_webhook_url = webhook_url;
  return spec;
}

target_reply answered(const std::string& model) {
  return {target_failure::none, 200,
          R"({"model":")" + model
            + R"(","message":{"role":"assistant","content":"hello"},"done":true})",
          false};
}

const target_reply connection_refused{target_failure::connection, 0,
                                      "Connection refused", false};

/// The real store over a fresh SQLite file, run by the test scheduler.
struct store_fixture : deterministic_fixture {
  temp_dir dir;
  store_actor store;

  store_fixture() {
    store_config config;
    config.clock = clock;
    config.log = log;
    config.detached = false;
    store = track(spawn_store(
      sys,
      std::make_shared<job_store>(dir.file("jobs.db"),
                                  job_store::latest_schema_version, false),
      std::move(config)));
  }

  int64_t insert(const job_spec& spec) {
    auto stored = ask<job>(store, insert_atom_v, spec);
    run();
    BOOST_REQUIRE(stored->value);
    return stored->value->id;
  }

  job stored_job(int64_t id) {
    auto found = ask<job>(store, caf::get_atom_v, id);
    run();
    BOOST_REQUIRE(found->value);
    return *found->value;
  }

  void transition(int64_t id, job_state to, std::string error = "") {
    auto changed = ask<job>(store, job_transition{id, to, std::move(error),
                                                  to == job_state::loading});
    run();
    BOOST_REQUIRE(changed->value);
  }
};

// -- worker -------------------------------------------------------------------

struct worker_fixture : store_fixture {
  std::shared_ptr<target_calls> target_log = std::make_shared<target_calls>();
  std::shared_ptr<inventory_notes> inventory_log
    = std::make_shared<inventory_notes>();
  std::shared_ptr<metric_reports> metrics_log = std::make_shared<metric_reports>();
  fake_target_actor target = track(spawn_fake_target(sys, target_log));
  inventory_actor inventory = track(spawn_fake_inventory(sys, inventory_log));
  metrics_actor metrics = track(spawn_fake_metrics(sys, metrics_log));
  worker_config config;
  worker_actor worker;

  worker_fixture() {
    config.retry_backoff_ms = 1000;
    config.default_max_attempts = 3;
    config.clock = clock;
    config.log = log;
  }

  /// Starts the worker, which picks from the jobs stored so far.
  void start_worker() {
    worker = track(spawn_worker(sys, config, store, target, inventory, metrics));
    run();
  }

  std::shared_ptr<answer<job_outcome>> submit(const job_spec& spec) {
    auto outcome = ask<job_outcome>(worker, submit_atom_v, spec, job_sink_actor{},
                                    false);
    run();
    return outcome;
  }

  /// Answers the oldest call the target holds, and runs what follows.
  void reply(const target_reply& answer) {
    caf::anon_send(target, release_atom::value, answer);
    run();
  }

  /// The (job, purpose) of every call to the target so far.
  std::vector<std::pair<int64_t, target_purpose>> calls() const {
    std::vector<std::pair<int64_t, target_purpose>> result;
    for (auto& call : target_log->calls)
      result.emplace_back(call.job_id, call.purpose);
    return result;
  }
};

constexpr auto load = target_purpose::load;
constexpr auto generate = target_purpose::run;

using call_list = std::vector<std::pair<int64_t, target_purpose>>;

} // namespace

namespace foreman {

std::ostream& operator<<(std::ostream& out, job_state state) {
  return out << to_string(state);
}

std::ostream& operator<<(std::ostream& out, target_purpose purpose) {
  return out << (purpose == target_purpose::load ? "load" : "run");
}

std::ostream& operator<<(std::ostream& out, const std::pair<int64_t, target_purpose>& call) {
  return out << call.first << ":" << call.second;
}

} // namespace foreman

BOOST_AUTO_TEST_SUITE(worker)

BOOST_FIXTURE_TEST_CASE(a_resident_group_drains_before_older_jobs, worker_fixture) {
  inventory_log->residents = {"qwen2.5:latest"};
  auto llama_1 = insert(chat_spec("llama3.2"));
  auto qwen_1 = insert(chat_spec("qwen2.5"));
  auto llama_2 = insert(chat_spec("llama3.2"));
  auto qwen_2 = insert(chat_spec("qwen2.5"));
  start_worker();
  // qwen2.5 is loaded: its jobs run first, without a load, though older
  // llama3.2 work waits.
  BOOST_TEST(calls() == (call_list{{qwen_1, generate}}));
  reply(answered("qwen2.5"));
  BOOST_TEST(calls().back() == std::make_pair(qwen_2, generate));
  reply(answered("qwen2.5"));
  // Then the oldest job, whose model must be loaded first; its group is
  // resident after that.
  BOOST_TEST(calls().back() == std::make_pair(llama_1, load));
  BOOST_TEST(stored_job(llama_1).state == job_state::loading);
  reply(answered("llama3.2"));
  BOOST_TEST(calls().back() == std::make_pair(llama_1, generate));
  reply(answered("llama3.2"));
  BOOST_TEST(calls().back() == std::make_pair(llama_2, generate));
  reply(answered("llama3.2"));
  BOOST_TEST(calls().size() == 5u);
  for (auto id : {llama_1, qwen_1, llama_2, qwen_2})
    BOOST_TEST(stored_job(id).state == job_state::done);
  BOOST_TEST(metrics_log->model_loads == std::vector<std::string>{"llama3.2:latest"});
}

BOOST_FIXTURE_TEST_CASE(a_connection_error_is_retried_after_its_backoff,
                        worker_fixture) {
  inventory_log->residents = {"llama3.2:latest"};
  start_worker();
  auto outcome = submit(chat_spec("llama3.2"));
  BOOST_TEST(calls() == (call_list{{1, generate}}));
  reply(connection_refused);
  auto waiting = stored_job(1);
  BOOST_TEST(waiting.state == job_state::queued);
  BOOST_TEST(waiting.attempt == 1);
  BOOST_TEST(waiting.error == "target unreachable: Connection refused");
  BOOST_TEST(!outcome->arrived());
  // The first retry waits between half and all of the 1 s backoff.
  advance(milliseconds{499});
  BOOST_TEST(calls().size() == 1u);
  advance(milliseconds{501});
  BOOST_TEST(calls() == (call_list{{1, generate}, {1, generate}}));
  reply(answered("llama3.2"));
  BOOST_REQUIRE(outcome->value);
  BOOST_TEST(outcome->value->http_status == 200);
  BOOST_TEST(outcome->value->record.state == job_state::done);
  BOOST_TEST(outcome->value->record.attempt == 2);
  BOOST_TEST(metrics_log->target_errors == std::vector<std::string>{"connection"});
  // The retry is logged with its attributes as fields.
  auto retry_line = std::find_if(log_lines.begin(), log_lines.end(),
                                 [](const std::string& line) {
                                   return line.find("for a retry") != std::string::npos;
                                 });
  BOOST_REQUIRE(retry_line != log_lines.end());
  auto retry = parse_object(*retry_line);
  BOOST_TEST(retry->getValue<int64_t>("job_id") == 1);
  BOOST_TEST(retry->getValue<int>("attempt") == 1);
  BOOST_TEST(retry->getValue<std::string>("state") == "queued");
  BOOST_TEST(retry->getValue<int64_t>("backoff_ms") >= 500);
  BOOST_TEST(retry->getValue<std::string>("error") == waiting.error);
}

BOOST_FIXTURE_TEST_CASE(a_backoff_ignores_the_wall_clock_being_set_back,
                        worker_fixture) {
  inventory_log->residents = {"llama3.2:latest"};
  start_worker();
  submit(chat_spec("llama3.2"));
  reply(connection_refused);
  clock->set_wall_clock_by(-std::chrono::hours{1});
  advance(milliseconds{1000});
  BOOST_TEST(calls() == (call_list{{1, generate}, {1, generate}}));
}

BOOST_FIXTURE_TEST_CASE(a_backoff_ignores_the_wall_clock_being_set_ahead,
                        worker_fixture) {
  inventory_log->residents = {"llama3.2:latest", "qwen2.5:latest"};
  start_worker();
  submit(chat_spec("llama3.2"));
  reply(connection_refused);
  clock->set_wall_clock_by(std::chrono::hours{1});
  // Another job makes the worker look at the queue before the backoff ends.
  advance(milliseconds{100});
  submit(chat_spec("qwen2.5"));
  reply(answered("qwen2.5"));
  BOOST_TEST(calls() == (call_list{{1, generate}, {2, generate}}));
  advance(milliseconds{900});
  BOOST_TEST(calls() == (call_list{{1, generate}, {2, generate}, {1, generate}}));
}

BOOST_FIXTURE_TEST_CASE(an_http_error_from_the_target_is_final, worker_fixture) {
  inventory_log->residents = {"llama3.2:latest"};
  start_worker();
  auto outcome = submit(chat_spec("llama3.2"));
  reply({target_failure::http_status, 400, R"({"error":"invalid options"})", false});
  BOOST_REQUIRE(outcome->value);
  BOOST_TEST(outcome->value->http_status == 400);
  BOOST_TEST(parse_object(outcome->value->body)->getValue<std::string>("error")
             == "invalid options");
  auto failed = stored_job(1);
  BOOST_TEST(failed.state == job_state::failed);
  BOOST_TEST(failed.attempt == 1);
  BOOST_TEST(failed.error == "invalid options");
  advance(std::chrono::minutes{10});
  BOOST_TEST(calls().size() == 1u);
  BOOST_TEST(metrics_log->target_errors == std::vector<std::string>{"http_status"});
  BOOST_TEST((metrics_log->finished == std::vector<job_state>{job_state::failed}));
}

BOOST_FIXTURE_TEST_CASE(nothing_is_acknowledged_before_the_job_is_durable,
                        worker_fixture) {
  inventory_log->residents = {"llama3.2:latest"};
  start_worker();
  auto stored = ask<job>(worker, enqueue_atom_v, chat_spec("llama3.2"));
  run_all_but(store);
  // The store applies the insert and answers; its commit is the next
  // message in its mailbox.
  run_one_message_of(store);
  run_all_but(store);
  BOOST_TEST(!stored->arrived());
  run();
  BOOST_REQUIRE(stored->value);
  BOOST_TEST(stored->value->id == 1);
}

BOOST_FIXTURE_TEST_CASE(a_waiting_caller_hears_nothing_before_its_job_is_durable,
                        worker_fixture) {
  inventory_log->residents = {"llama3.2:latest"};
  start_worker();
  auto outcome = ask<job_outcome>(worker, submit_atom_v, chat_spec("llama3.2"),
                                  job_sink_actor{}, false);
  run_all_but(store);
  run_one_message_of(store);
  run_all_but(store);
  // The run overlaps the commit; the target answers before it is done.
  BOOST_TEST(calls() == (std::vector<std::pair<int64_t, target_purpose>>{{1, generate}}));
  caf::anon_send(target, release_atom::value, answered("llama3.2"));
  run_all_but(store);
  BOOST_TEST(!outcome->arrived());
  run();
  BOOST_REQUIRE(outcome->value);
  BOOST_TEST(outcome->value->http_status == 200);
  BOOST_TEST(stored_job(1).state == job_state::done);
}

BOOST_FIXTURE_TEST_CASE(a_cancel_arriving_while_the_end_is_recorded_is_answered,
                        worker_fixture) {
  inventory_log->residents = {"llama3.2:latest"};
  start_worker();
  auto outcome = submit(chat_spec("llama3.2"));
  // The answer arrives and the worker asks the store to record the job as
  // done; the store has not done so yet when the cancel comes in. The slot
  // is free already, so the cancel goes to the store behind the `done`.
  caf::anon_send(target, release_atom::value, answered("llama3.2"));
  run_all_but(store);
  auto cancel = ask<job>(worker, cancel_atom_v, int64_t{1});
  run_all_but(store);
  BOOST_TEST(!cancel->arrived());
  BOOST_TEST(target_log->aborts.empty());
  run();
  // The job ended done; the cancel learns it came too late.
  BOOST_REQUIRE(cancel->error);
  BOOST_TEST(has_code(*cancel->error, foreman_errc::invalid_transition));
  BOOST_TEST(describe(*cancel->error).find("cannot go from done to cancelled")
             != std::string::npos);
  BOOST_REQUIRE(outcome->value);
  BOOST_TEST(outcome->value->http_status == 200);
  BOOST_TEST(stored_job(1).state == job_state::done);
}

BOOST_FIXTURE_TEST_CASE(a_cancel_arriving_while_a_retry_is_recorded_ends_the_job,
                        worker_fixture) {
  inventory_log->residents = {"llama3.2:latest"};
  start_worker();
  auto outcome = submit(chat_spec("llama3.2"));
  caf::anon_send(target, release_atom::value, connection_refused);
  run_all_but(store);
  auto cancel = ask<job>(worker, cancel_atom_v, int64_t{1});
  run_all_but(store);
  run();
  BOOST_REQUIRE(cancel->value);
  BOOST_TEST(cancel->value->state == job_state::cancelled);
  BOOST_REQUIRE(outcome->value);
  BOOST_TEST(outcome->value->http_status == 499);
  // It never runs again.
  advance(std::chrono::minutes{10});
  BOOST_TEST(calls().size() == 1u);
  BOOST_TEST(stored_job(1).state == job_state::cancelled);
}


namespace {

/// Runs one job of `model` through its load and run, answered by the target.
void run_job_of(worker_fixture& f, const std::string& model) {
  auto outcome = f.submit(chat_spec(model));
  f.reply(answered(model)); // the load
  f.reply(answered(model)); // the run
  BOOST_REQUIRE(outcome->value);
}

/// The model and keep_alive of each unload call (a load with keep_alive 0).
std::vector<std::string> unloads(const target_calls& log) {
  std::vector<std::string> result;
  for (auto& call : log.calls)
    if (call.keep_alive_json == "0")
      result.push_back(parse_object(call.payload)->getValue<std::string>("model"));
  return result;
}

} // namespace

BOOST_FIXTURE_TEST_CASE(always_unloads_the_outgoing_model_before_a_switch, worker_fixture) {
  config.unload_mode = unload_on_switch::always;
  start_worker();
  run_job_of(*this, "a");
  auto outcome = submit(chat_spec("b"));
  // a, the chat model run last, goes first; then b loads and runs.
  BOOST_TEST(unloads(*target_log) == std::vector<std::string>{"a:latest"});
  reply(answered("a"));
  BOOST_TEST((calls().back() == std::pair<int64_t, target_purpose>{2, load}));
  reply(answered("b"));
  reply(answered("b"));
  BOOST_REQUIRE(outcome->value);
  BOOST_TEST(outcome->value->http_status == 200);
  BOOST_TEST(inventory_log->residents == std::vector<std::string>{"b:latest"});
}

BOOST_FIXTURE_TEST_CASE(auto_unloads_once_the_target_was_seen_evicting, worker_fixture) {
  start_worker();
  run_job_of(*this, "a");
  // The target has no room for two chat models: loading b evicts a.
  target_log->residents = {"b:latest"};
  run_job_of(*this, "b");
  BOOST_TEST(unloads(*target_log).empty());
  auto outcome = submit(chat_spec("c"));
  BOOST_TEST(unloads(*target_log) == std::vector<std::string>{"b:latest"});
  reply(answered("b")); // the unload
  reply(answered("c"));
  reply(answered("c"));
  BOOST_REQUIRE(outcome->value);
}

BOOST_FIXTURE_TEST_CASE(auto_leaves_models_alone_while_the_target_has_room, worker_fixture) {
  start_worker();
  run_job_of(*this, "a");
  target_log->residents = {"a:latest", "b:latest"};
  run_job_of(*this, "b");
  target_log->residents = {"a:latest", "b:latest", "c:latest"};
  run_job_of(*this, "c");
  BOOST_TEST(unloads(*target_log).empty());
}

BOOST_FIXTURE_TEST_CASE(never_unloads_even_when_the_target_evicts, worker_fixture) {
  config.unload_mode = unload_on_switch::never;
  start_worker();
  run_job_of(*this, "a");
  target_log->residents = {"b:latest"};
  run_job_of(*this, "b");
  run_job_of(*this, "c");
  BOOST_TEST(unloads(*target_log).empty());
}

BOOST_AUTO_TEST_SUITE_END()

// -- inventory ----------------------------------------------------------------

namespace {

struct inventory_fixture : deterministic_fixture {
  std::shared_ptr<target_calls> target_log = std::make_shared<target_calls>();
  fake_target_actor target = track(spawn_fake_target(sys, target_log));
  inventory_actor inventory;

  inventory_fixture() {
    inventory_config config;
    config.embed_model = "all-minilm";
    config.poll_interval = std::chrono::seconds{2};
    config.log = log;
    inventory = track(spawn_inventory(sys, target, std::move(config)));
    run();
  }

  bool embedder_pinned() {
    auto health = ask<target_health>(inventory, health_atom_v);
    run();
    BOOST_REQUIRE(health->value);
    return health->value->embedder_pinned;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(inventory)

BOOST_FIXTURE_TEST_CASE(an_evicted_embedder_is_warmed_again, inventory_fixture) {
  // At start the embedder is loaded with keep_alive -1, once.
  BOOST_REQUIRE_EQUAL(target_log->calls.size(), 1u);
  auto& warm = target_log->calls[0];
  BOOST_TEST((warm.purpose == target_purpose::load));
  BOOST_TEST((warm.kind == job_kind::embed));
  BOOST_TEST(parse_object(warm.payload)->getValue<std::string>("model") == "all-minilm");
  BOOST_TEST(warm.keep_alive_json == "-1");
  BOOST_TEST(!embedder_pinned());
  caf::anon_send(target, release_atom::value, answered("all-minilm"));
  run();
  BOOST_TEST(embedder_pinned());
  // While /api/ps lists it, nothing more happens.
  target_log->residents = {"all-minilm:latest"};
  advance(std::chrono::seconds{2});
  advance(std::chrono::seconds{2});
  BOOST_TEST(target_log->calls.size() == 1u);
  // Evicted: the next poll notices and warms it again.
  target_log->residents.clear();
  advance(std::chrono::seconds{2});
  BOOST_TEST(!embedder_pinned());
  BOOST_REQUIRE_EQUAL(target_log->calls.size(), 2u);
  BOOST_TEST((target_log->calls[1].purpose == target_purpose::load));
  BOOST_TEST(target_log->calls[1].keep_alive_json == "-1");
  // Polls during the warm-up start no second one.
  advance(std::chrono::seconds{2});
  BOOST_TEST(target_log->calls.size() == 2u);
  caf::anon_send(target, release_atom::value, answered("all-minilm"));
  run();
  BOOST_TEST(embedder_pinned());
}

BOOST_AUTO_TEST_SUITE_END()

// -- webhook dispatcher -------------------------------------------------------

namespace {

/// One delivery the fake sender was asked for.
struct delivery {
  int64_t job_id;
  int64_t event_id;
  std::string state;
};

struct dispatcher_fixture : store_fixture {
  std::shared_ptr<metric_reports> metrics_log = std::make_shared<metric_reports>();
  metrics_actor metrics = track(spawn_fake_metrics(sys, metrics_log));
  std::vector<delivery> deliveries;
  /// Event ids whose next delivery fails.
  std::vector<int64_t> failing;
  webhook_dispatcher_config config;

  dispatcher_fixture() {
    config.backoff_ms = 1000;
    config.max_attempts = 3;
    config.public_base_url = "http://foreman.test";
    config.metrics = metrics;
    config.clock = clock;
    config.log = log;
    config.detached_runners = false;
    config.send = [this](const http_url&, const std::string& body, int64_t event_id) {
      auto event = parse_object(body);
      deliveries.push_back({event->getValue<int64_t>("job_id"), event_id,
                            event->getValue<std::string>("state")});
      auto fails = std::find(failing.begin(), failing.end(), event_id);
      if (fails == failing.end())
        return net::webhook_post_result{true, "", 200};
      failing.erase(fails);
      return net::webhook_post_result{false, "the receiver answered 503", 503};
    };
  }

  void start_dispatcher() {
    track(spawn_webhook_dispatcher(sys, config, store));
    run();
  }

  /// The states delivered for `job_id`, in order.
  std::vector<std::string> states_of(int64_t job_id) const {
    std::vector<std::string> states;
    for (auto& x : deliveries)
      if (x.job_id == job_id)
        states.push_back(x.state);
    return states;
  }
};

using states = std::vector<std::string>;

} // namespace

BOOST_AUTO_TEST_SUITE(webhook_dispatcher)

BOOST_FIXTURE_TEST_CASE(a_failed_delivery_is_retried_and_holds_back_its_jobs_later_events,
                        dispatcher_fixture) {
  auto first = insert(chat_spec("llama3.2", "http://hooks.test/a"));
  transition(first, job_state::loading);
  transition(first, job_state::working);
  transition(first, job_state::failed, "boom");
  auto second = insert(chat_spec("qwen2.5", "http://hooks.test/b"));
  transition(second, job_state::cancelled, "cancelled");
  // The first job's queued event (event 1) fails once.
  failing = {1};
  start_dispatcher();
  BOOST_TEST(states_of(first) == states{"queued"});
  BOOST_TEST(states_of(second) == (states{"queued", "cancelled"}));
  // The retry waits between half and all of the 1 s backoff; the job's later
  // events wait for it.
  advance(milliseconds{499});
  BOOST_TEST(states_of(first) == states{"queued"});
  advance(milliseconds{501});
  BOOST_TEST(states_of(first)
             == (states{"queued", "queued", "loading", "working", "failed"}));
  std::vector<int64_t> event_ids;
  for (auto& x : deliveries)
    if (x.job_id == first)
      event_ids.push_back(x.event_id);
  BOOST_TEST(event_ids == (std::vector<int64_t>{1, 1, 2, 3, 4}));
  BOOST_TEST(metrics_log->webhook_outcomes.front() == "failed");
  BOOST_TEST(metrics_log->webhook_outcomes.size() == 7u);
}

BOOST_FIXTURE_TEST_CASE(events_of_a_job_created_while_it_delivers_go_out_in_order,
                        dispatcher_fixture) {
  start_dispatcher();
  auto id = insert(chat_spec("llama3.2", "http://hooks.test/a"));
  transition(id, job_state::loading);
  transition(id, job_state::working);
  transition(id, job_state::cancelled, "cancelled");
  BOOST_TEST(states_of(id) == (states{"queued", "loading", "working", "cancelled"}));
}

BOOST_FIXTURE_TEST_CASE(an_event_given_up_lets_the_next_one_go, dispatcher_fixture) {
  auto id = insert(chat_spec("llama3.2", "http://hooks.test/a"));
  transition(id, job_state::cancelled, "cancelled");
  failing = {1, 1, 1};
  start_dispatcher();
  advance(milliseconds{1000});
  advance(milliseconds{2000});
  // Three attempts (max_attempts), then the next event.
  BOOST_TEST(states_of(id) == (states{"queued", "queued", "queued", "cancelled"}));
  BOOST_TEST(metrics_log->webhook_outcomes
             == (states{"failed", "failed", "given_up", "delivered"}));
}

BOOST_AUTO_TEST_SUITE_END()
