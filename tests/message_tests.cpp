#define BOOST_TEST_MODULE message_tests
#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message.hpp>
#include <caf/make_message.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/add_message_types.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"

using namespace foreman;

namespace {

struct system_fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  system_fixture() {
    add_message_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  /// Serializes `x` inside a message, as the middleman would, and reads it
  /// back; the result must print the same.
  template <class... Ts>
  void check_roundtrip(Ts... xs) {
    auto original = caf::make_message(xs...);
    caf::binary_serializer::container_type buf;
    caf::binary_serializer sink{*sys, buf};
    BOOST_REQUIRE(!sink(original));
    caf::message copy;
    caf::binary_deserializer source{*sys, buf};
    BOOST_REQUIRE(!source(copy));
    BOOST_TEST(caf::to_string(copy) == caf::to_string(original));
    BOOST_TEST(copy.size() == original.size());
  }
};

job sample_job() {
  job x;
  x.id = 42;
  x.kind = job_kind::generate;
  x.model = "llama3.2";
  x.state = job_state::working;
  x.priority = -3;
  x.attempt = 2;
  x.max_attempts = 5;
  x.payload = R"({"model":"llama3.2","prompt":"hi \u2028"})";
  x.result = "hello";
  x.error = "boom";
  x.state_webhook_url = "https://hooks.example/x";
  x.client = "team-a";
  x.group_key = "llama3.2:latest|num_ctx=8192";
  x.not_before_ms = 5;
  x.created_at_ms = 1;
  x.updated_at_ms = 2;
  x.started_at_ms = 3;
  x.finished_at_ms = 4;
  return x;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(serialization, system_fixture)

BOOST_AUTO_TEST_CASE(job_messages_roundtrip) {
  job_spec spec{job_kind::embed, "all-minilm", R"({"input":"x"})", 7, 3,
                "http://127.0.0.1:9/hook", "team-a", "num_ctx=8192", "key-1"};
  check_roundtrip(insert_atom_v, spec);
  check_roundtrip(sample_job());
  check_roundtrip(job_transition{42, job_state::queued, "no route", true, 99});
  check_roundtrip(job_completion{42, "application/json", "{}"});
  check_roundtrip(job_outcome{sample_job(), 404, R"({"error":"x"})"});
  check_roundtrip(queued_atom_v, int64_t{0}, int32_t{10000});
  check_roundtrip(std::vector<queued_job>{queued_job{1, "a:latest|", 2, 7, 3, 0},
                                          queued_job{4, "b:latest|num_ctx=8", 0, 8, 5, 1234}});
  check_roundtrip(durable_atom_v);
  check_roundtrip(sample_job(), queue_ahead{3, {{"a:latest", 2}, {"b:latest", 1}}});
  check_roundtrip(job_status{sample_job(), 3, 1700000000000});
  check_roundtrip(timeout_atom_v, int64_t{42}, int32_t{2});
  check_roundtrip(position_atom_v, int64_t{42});
  check_roundtrip(caf::get_atom_v, int64_t{42});
  check_roundtrip(cancel_atom_v, int64_t{42});
  check_roundtrip(job_chunk{42, R"({"done":false,"message":{"content":"x"}})"});
}

BOOST_AUTO_TEST_CASE(operations_messages_roundtrip) {
  check_roundtrip(job_submitted_metric{job_kind::embed});
  check_roundtrip(job_started_metric{1.25});
  check_roundtrip(job_finished_metric{job_kind::generate, job_state::failed, 3.5});
  check_roundtrip(model_load_metric{"llama3.2:latest", 0.75});
  check_roundtrip(target_error_metric{"timeout"});
  check_roundtrip(webhook_metric{"given_up"});
  check_roundtrip(http_request_metric{"/jobs/{id}", 403});
  check_roundtrip(std::vector<queue_depth>{{"qwen2.5:latest", job_state::queued, 7}});
  check_roundtrip(worker_status{"draining", 0});
  check_roundtrip(target_health{false, "connection refused", false, {"all-minilm:latest"}});
  check_roundtrip(drain_atom_v, int64_t{30000});
  check_roundtrip(job_transition{4, job_state::queued, "interrupted by shutdown", false, 0,
                                 true});
}

BOOST_AUTO_TEST_CASE(job_api_messages_roundtrip) {
  check_roundtrip(enqueue_atom_v, job_spec{});
  check_roundtrip(list_atom_v, job_query{true, job_state::done, "llama3.2:latest",
                                         17, 20, "key-0123456789ab"});
  check_roundtrip(job_page{{sample_job(), sample_job()}, 41});
  check_roundtrip(artifacts_atom_v, int64_t{42});
  check_roundtrip(std::vector<artifact_info>{{"completion", "application/json", 12}});
  check_roundtrip(artifact_atom_v, int64_t{42}, std::string{"completion"});
  check_roundtrip(artifact{"completion", "application/json", "{\"done\":true}"});
}

BOOST_AUTO_TEST_CASE(webhook_messages_roundtrip) {
  webhook_event event;
  event.seq = 9;
  event.job_id = 42;
  event.url = "http://127.0.0.1:9/hook";
  event.state = job_state::done;
  event.has_previous = true;
  event.previous_state = job_state::working;
  event.at_ms = 1700000000123;
  event.model = "llama3.2";
  event.attempt = 2;
  event.result = "hi";
  event.artifacts = {{{"completion", "application/json", 2}, true, "{}"},
                     {{"big", "application/octet-stream", 1 << 20}, false, ""}};
  event.deliveries = 3;
  check_roundtrip(webhook_batch{{event}, 1700000000999});
  check_roundtrip(outbox_atom_v, int64_t{1700000000000}, int32_t{64},
                  int64_t{65536});
  check_roundtrip(webhook_attempt{9, 42, job_state::done, "http://127.0.0.1:9/hook",
                                  false, 0, "connection refused"});
  auto retried = webhook_delivery{9, 42, job_state::done, "http://127.0.0.1:9/hook", 2,
                                  503, "the receiver answered 503",
                                  delivery_outcome::retrying, 1700000000500,
                                  1700000001000};
  check_roundtrip(retried);
  check_roundtrip(deliveries_atom_v, int64_t{42});
  check_roundtrip(std::vector<webhook_delivery>{retried, retried});
  check_roundtrip(wake_atom_v);
}

BOOST_AUTO_TEST_CASE(event_stream_messages_roundtrip) {
  job_event event;
  event.transition.seq = 12;
  event.transition.job_id = 42;
  event.transition.state = job_state::done;
  event.transition.has_previous = true;
  event.transition.previous_state = job_state::working;
  event.transition.result = "hi";
  event.transition.artifacts = {{{"completion", "application/json", 2}, false, ""}};
  event.kind = job_kind::embed;
  event.client = "key-0123456789ab/agent";
  event.priority = -3;
  event.created_at_ms = 1700000000123;
  check_roundtrip(event);
  check_roundtrip(journal_atom_v, int64_t{11}, int32_t{256}, std::string{"key-0123456789ab"});
  check_roundtrip(journal_page{{event, event}, true, 13});
  check_roundtrip(snapshot_atom_v, job_query{}, int64_t{42});
  check_roundtrip(event_snapshot{13,
                                 {{"qwen2.5:latest", job_state::queued, 7}},
                                 {sample_job()},
                                 {sample_job()}});
  check_roundtrip(live_state{worker_status{"working", 42},
                             target_health{true, "", true, {"all-minilm:latest"}}});
  check_roundtrip(sse_event{12, "job", "{}"});
  check_roundtrip(history_atom_v, int64_t{3600000}, int64_t{13}, std::string{});
  check_roundtrip(journal_history{1700000000000, 1700003600000, 4,
                                  {{0, 2, 1, 1}, {17, 0, 3, 3}},
                                  {{1700000001000, "llama3.2"}},
                                  {250, 1200}});
}

BOOST_AUTO_TEST_CASE(target_messages_roundtrip) {
  check_roundtrip(call_atom_v,
                  target_request{42, target_purpose::load, job_kind::chat, "{}",
                                 "\"15m\"", "key-0123456789ab/agent"},
                  chunk_sink_actor{});
  check_roundtrip(target_reply{target_failure::http_status, 500, "{}"});
  check_roundtrip(std::vector<resident_model>{{"a:latest", 17}, {"b:1b", 0}});
  check_roundtrip(abort_atom_v, int64_t{7});
  check_roundtrip(job_progress{42, "key-0123456789ab/agent", 17, true});
  check_roundtrip(ps_atom_v);
  check_roundtrip(loaded_atom_v, std::string{"a:latest"});
  check_roundtrip(unloaded_atom_v, std::string{"a:latest"});
  check_roundtrip(residents_atom_v);
  check_roundtrip(port_atom_v);
}

BOOST_AUTO_TEST_CASE(errors_roundtrip_with_their_detail) {
  auto err = make_error(foreman_errc::job_not_found, "job 9 not found");
  check_roundtrip(err);
  BOOST_TEST(describe(err) == "job 9 not found");
  BOOST_TEST(has_code(err, foreman_errc::job_not_found));
  BOOST_TEST(!has_code(err, foreman_errc::store_failure));
}

BOOST_AUTO_TEST_CASE(actor_handles_roundtrip) {
  auto sink = sys->spawn([]() -> job_sink_actor::behavior_type {
    return {[](accepted_atom, const job&, int64_t) {}, [](const job_chunk&) {}};
  });
  check_roundtrip(submit_atom_v, job_spec{}, sink, true);
  check_roundtrip(call_atom_v, target_request{}, chunk_sink_actor{sink});
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  auto listener = sys->spawn([]() -> webhook_dispatcher_actor::behavior_type {
    return {[](wake_atom) {}, [](const webhook_attempt&) {}};
  });
  check_roundtrip(subscribe_atom_v, outbox_listener_actor{listener});
  check_roundtrip(listener);
  caf::anon_send_exit(listener, caf::exit_reason::user_shutdown);
  auto subscriber = sys->spawn([]() -> event_subscriber_actor::behavior_type {
    return {[](const sse_event&) {}, [](gone_atom) {}, [](drain_atom) {}};
  });
  check_roundtrip(subscribe_atom_v, subscriber, std::string{"key-0123456789ab"});
  caf::anon_send_exit(subscriber, caf::exit_reason::user_shutdown);
  auto status_listener = sys->spawn([]() -> worker_status_listener_actor::behavior_type {
    return {[](const worker_status&) {}};
  });
  check_roundtrip(subscribe_atom_v, status_listener);
  caf::anon_send_exit(status_listener, caf::exit_reason::user_shutdown);
  auto progress_listener = sys->spawn([]() -> job_progress_listener_actor::behavior_type {
    return {[](const job_progress&) {}};
  });
  check_roundtrip(subscribe_atom_v, progress_listener);
  caf::anon_send_exit(progress_listener, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
