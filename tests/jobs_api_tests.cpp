#define BOOST_TEST_MODULE jobs_api_tests
#include <boost/test/unit_test.hpp>

// The asynchronous job API over real HTTP (submission, idempotency,
// listing, cancellation, artifacts, validation) and its webhooks, delivered
// to real receivers that go down, come back, hang, and check signatures.

#include <algorithm>
#include <map>
#include <sstream>
#include <thread>

#include <Poco/DigestEngine.h>
#include <Poco/HMACEngine.h>
#include <Poco/SHA2Engine.h>

#include "net/webhook_http.hpp"
#include "service_fixture.hpp"
#include "webhook_receiver.hpp"

using namespace foreman_test;

namespace {

const std::vector<std::string> fast_fake = three_models_two_slots("0");

/// Webhook retries fast enough for tests.
void quick_webhooks(foreman::settings& s) {
  s.webhook_backoff_ms = 50;
  s.webhook_max_attempts = 1000;
}

std::string job_body(const std::string& model, const std::string& extra = "") {
  return R"({"kind":"chat","model":")" + model
         + R"(","payload":{"messages":[{"role":"user","content":"hi"}]})"
         + (extra.empty() ? "" : "," + extra) + "}";
}

std::string hooked_body(const std::string& model, const std::string& url,
                        const std::string& extra = "") {
  return job_body(model, R"("state_webhook_url":")" + url + "\""
                           + (extra.empty() ? "" : "," + extra));
}

/// An object as JSON text, its keys sorted (as the fixture's parser keeps
/// them), for comparing two objects.
std::string json_text(const object_ptr& object) {
  BOOST_REQUIRE(object);
  std::ostringstream out;
  object->stringify(out);
  return out.str();
}

/// Submits a job; its id.
std::string submit(service_fixture& fx, const std::string& body) {
  auto res = fx.post("/jobs", body);
  BOOST_REQUIRE_MESSAGE(res.status == 202, res.status << " " << res.body);
  return std::to_string(parse_json(res.body)->getValue<int64_t>("id"));
}

/// The events a receiver got for one job, parsed, in arrival order.
std::vector<object_ptr> events_for(const webhook_receiver& receiver,
                                   const std::string& job_id) {
  std::vector<object_ptr> result;
  for (auto& x : receiver.received()) {
    auto event = parse_json(x.body);
    if (std::to_string(event->getValue<int64_t>("job_id")) == job_id)
      result.push_back(event);
  }
  return result;
}

std::vector<std::string> states_in(const std::vector<object_ptr>& events) {
  std::vector<std::string> states;
  for (auto& x : events)
    states.push_back(x->getValue<std::string>("state"));
  return states;
}

const std::vector<std::string> full_run = {"queued", "loading", "working", "done"};

/// Every event of the job up to done arrived, in order.
bool delivered_run(const webhook_receiver& receiver, const std::string& job_id) {
  return states_in(events_for(receiver, job_id)) == full_run;
}

std::string hmac_hex(const std::string& secret, const std::string& text) {
  struct sha256 : Poco::SHA2Engine {
    enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
    sha256() : Poco::SHA2Engine(SHA_256) {
    }
  };
  Poco::HMACEngine<sha256> hmac{secret};
  hmac.update(text);
  return Poco::DigestEngine::digestToHex(hmac.digest());
}

} // namespace

BOOST_AUTO_TEST_CASE(a_submitted_job_runs_and_its_events_arrive_in_order) {
  webhook_receiver receiver;
  service_fixture fx{fast_fake, quick_webhooks};
  auto res = fx.post("/jobs", hooked_body("llama3.2", receiver.url(),
                                          R"("priority":3,"max_attempts":2)"));
  BOOST_REQUIRE_EQUAL(res.status, 202);
  auto accepted = parse_json(res.body);
  auto id = std::to_string(accepted->getValue<int64_t>("id"));
  BOOST_TEST(res.headers.at("Location") == "/jobs/" + id);
  BOOST_TEST(accepted->getValue<std::string>("state") == "queued");
  BOOST_TEST(accepted->getValue<int>("priority") == 3);
  BOOST_TEST(accepted->getValue<int>("max_attempts") == 2);
  BOOST_REQUIRE(eventually([&] { return delivered_run(receiver, id); }));
  auto events = events_for(receiver, id);
  BOOST_TEST(events[0]->isNull("previous_state"));
  for (size_t i = 1; i < events.size(); ++i)
    BOOST_TEST(events[i]->getValue<std::string>("previous_state") == full_run[i - 1]);
  for (auto& e : events) {
    BOOST_TEST(e->getValue<std::string>("model") == "llama3.2");
    auto stamp = e->getValue<std::string>("timestamp");
    BOOST_TEST(stamp.size() == 24u);
    BOOST_TEST(stamp.back() == 'Z');
    BOOST_TEST(!e->has("error"));
  }
  BOOST_TEST(events[0]->getValue<int>("attempt") == 0);
  auto done = events[3];
  BOOST_TEST(done->getValue<int>("attempt") == 1);
  // The result is the whole answer, as the job shows it.
  BOOST_TEST(json_text(done->getObject("result"))
             == json_text(fx.job(id)->getObject("result")));
  auto artifacts = done->getArray("artifacts");
  BOOST_REQUIRE_EQUAL(artifacts->size(), 1u);
  auto completion = artifacts->getObject(0);
  BOOST_TEST(completion->getValue<std::string>("name") == "completion");
  BOOST_TEST(completion->getValue<std::string>("content_type") == "application/json");
  auto bytes = http_request("GET", fx.base + "/jobs/" + id + "/artifacts/completion");
  BOOST_TEST(completion->getValue<std::string>("data") == bytes.body);
  BOOST_TEST(json_text(parse_json(bytes.body)) == json_text(done->getObject("result")));
  BOOST_TEST(completion->getValue<size_t>("size") == bytes.body.size());
  // The event ids increase, so receivers can drop duplicates.
  auto received = receiver.received();
  for (size_t i = 1; i < received.size(); ++i)
    BOOST_TEST(std::stoll(received[i].headers.at("X-Foreman-Event-Id"))
               > std::stoll(received[i - 1].headers.at("X-Foreman-Event-Id")));
  BOOST_TEST(received[0].headers.count("X-Foreman-Signature") == 0u);
}

BOOST_AUTO_TEST_CASE(every_kind_has_its_whole_answer_as_result) {
  service_fixture fx{fast_fake};
  auto generated = submit(fx, R"({"kind":"generate","model":"qwen2.5",)"
                              R"("payload":{"prompt":"hi"}})");
  auto embedded = submit(fx, R"({"kind":"embed","model":"all-minilm",)"
                             R"("payload":{"input":["a","b"]}})");
  for (auto& id : {generated, embedded})
    BOOST_REQUIRE(eventually([&] { return fx.state_of(id) == "done"; }));
  auto generate_result = fx.job(generated)->getObject("result");
  BOOST_REQUIRE(generate_result);
  BOOST_TEST(!generate_result->getValue<std::string>("response").empty());
  BOOST_TEST(generate_result->has("eval_count"));
  auto embed_result = fx.job(embedded)->getObject("result");
  BOOST_REQUIRE(embed_result);
  BOOST_TEST(embed_result->getArray("embeddings")->size() == 2u);
  // Listings carry the same objects.
  auto listed = parse_json(http_request("GET", fx.base + "/jobs").body)->getArray("jobs");
  BOOST_REQUIRE_EQUAL(listed->size(), 2u);
  BOOST_TEST(json_text(listed->getObject(0)->getObject("result")) == json_text(embed_result));
  BOOST_TEST(json_text(listed->getObject(1)->getObject("result"))
             == json_text(generate_result));
}

BOOST_AUTO_TEST_CASE(a_failed_job_reports_its_error) {
  webhook_receiver receiver;
  service_fixture fx{fast_fake, quick_webhooks};
  fx.target.arm_fault("http500", 1, 0, "/api/generate");
  auto id = submit(fx, R"({"kind":"generate","model":"qwen2.5","payload":{"prompt":"x"},)"
                       R"("state_webhook_url":")" + receiver.url() + "\"}");
  BOOST_REQUIRE(eventually([&] {
    auto states = states_in(events_for(receiver, id));
    return !states.empty() && states.back() == "failed";
  }));
  auto failed = events_for(receiver, id).back();
  BOOST_TEST(!failed->getValue<std::string>("error").empty());
  BOOST_TEST(!failed->has("result"));
  BOOST_TEST(!failed->has("artifacts"));
}

BOOST_AUTO_TEST_CASE(large_artifacts_are_sent_by_url_and_signatures_verify) {
  webhook_receiver receiver;
  service_fixture fx{fast_fake, [](foreman::settings& s) {
                       quick_webhooks(s);
                       s.webhook_inline_limit = 0;
                       s.webhook_secret = "s3cret";
                     }};
  auto id = submit(fx, hooked_body("mistral", receiver.url()));
  BOOST_REQUIRE(eventually([&] { return delivered_run(receiver, id); }));
  auto completion = events_for(receiver, id).back()->getArray("artifacts")->getObject(0);
  BOOST_TEST(!completion->has("data"));
  auto bytes = http_request("GET", completion->getValue<std::string>("url"));
  BOOST_TEST(bytes.status == 200);
  BOOST_TEST(bytes.body.size() == completion->getValue<size_t>("size"));
  auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  for (auto& x : receiver.received()) {
    auto timestamp = x.headers.at("X-Foreman-Timestamp");
    BOOST_TEST(std::abs(std::stoll(timestamp) - now_s) < 300);
    auto signature = x.headers.at("X-Foreman-Signature");
    BOOST_TEST(signature == "sha256=" + hmac_hex("s3cret", timestamp + "." + x.body));
    auto tampered = x.body;
    tampered.back() = ' ';
    BOOST_TEST(signature != "sha256=" + hmac_hex("s3cret", timestamp + "." + tampered));
    BOOST_TEST(signature != "sha256=" + hmac_hex("other", timestamp + "." + x.body));
    auto later = std::to_string(std::stoll(timestamp) + 1);
    BOOST_TEST(signature != "sha256=" + hmac_hex("s3cret", later + "." + x.body));
  }
}

BOOST_AUTO_TEST_CASE(events_wait_for_a_receiver_that_is_down) {
  webhook_receiver receiver;
  receiver.down();
  service_fixture fx{fast_fake, quick_webhooks};
  auto a = submit(fx, hooked_body("llama3.2", receiver.url()));
  auto b = submit(fx, hooked_body("qwen2.5", receiver.url()));
  BOOST_REQUIRE(eventually([&] { return fx.state_of(b) == "done"; }));
  BOOST_TEST(fx.state_of(a) == "done");
  receiver.up();
  BOOST_TEST(eventually([&] {
    return delivered_run(receiver, a) && delivered_run(receiver, b);
  }));
  BOOST_TEST(receiver.received().size() == 8u);
}

BOOST_AUTO_TEST_CASE(undelivered_events_survive_a_restart) {
  webhook_receiver receiver;
  receiver.down();
  service_fixture fx{fast_fake, quick_webhooks};
  auto id = submit(fx, hooked_body("llama3.2", receiver.url()));
  BOOST_REQUIRE(eventually([&] { return fx.state_of(id) == "done"; }));
  fx.foreman.reset();
  receiver.up();
  BOOST_TEST(receiver.received().empty());
  fx.restart();
  BOOST_TEST(eventually([&] { return delivered_run(receiver, id); }));
  BOOST_TEST(receiver.received().size() == 4u);
}

BOOST_AUTO_TEST_CASE(a_receiver_that_never_answers_holds_up_nothing_else) {
  webhook_receiver stuck;
  webhook_receiver healthy;
  stuck.hang(true);
  service_fixture fx{fast_fake, [](foreman::settings& s) {
                       quick_webhooks(s);
                       s.webhook_timeout_ms = 30000;
                     }};
  auto a = submit(fx, hooked_body("llama3.2", stuck.url()));
  auto b = submit(fx, hooked_body("qwen2.5", healthy.url()));
  // Job execution goes on, synchronous callers too.
  BOOST_TEST(fx.post("/api/chat", chat_body("mistral", "sync")).status == 200);
  BOOST_REQUIRE(eventually([&] { return fx.state_of(b) == "done"; },
                           std::chrono::seconds{10}));
  BOOST_TEST(fx.state_of(a) == "done");
  // Another job's events are delivered while the stuck receiver holds one.
  BOOST_TEST(eventually([&] { return delivered_run(healthy, b); },
                        std::chrono::seconds{10}));
  BOOST_TEST(stuck.hung_requests() == 1);
  stuck.hang(false);
}

BOOST_AUTO_TEST_CASE(https_receivers_get_events_only_with_a_trusted_certificate) {
  temp_dir certs;
  auto trusted_tls = make_loopback_certificate(certs.path.string(), "trusted");
  auto untrusted_tls = make_loopback_certificate(certs.path.string(), "untrusted");
  webhook_receiver trusted{trusted_tls};
  webhook_receiver untrusted{untrusted_tls};
  BOOST_REQUIRE(trusted.url().rfind("https://127.0.0.1:", 0) == 0);
  service_fixture fx{fast_fake, [&](foreman::settings& s) {
                       quick_webhooks(s);
                       s.webhook_secret = "s3cret";
                       s.webhook_ca_file = trusted_tls.certificate;
                     }};
  auto rejected = submit(fx, hooked_body("qwen2.5", untrusted.url()));
  auto id = submit(fx, hooked_body("llama3.2", trusted.url()));
  BOOST_REQUIRE(eventually([&] { return delivered_run(trusted, id); }));
  auto received = trusted.received();
  BOOST_TEST(received.size() == 4u);
  for (auto& x : received) {
    BOOST_TEST(x.method == "POST");
    BOOST_TEST(x.path == "/hook");
    auto timestamp = x.headers.at("X-Foreman-Timestamp");
    BOOST_TEST(x.headers.at("X-Foreman-Signature")
               == "sha256=" + hmac_hex("s3cret", timestamp + "." + x.body));
  }
  // The receiver whose certificate nobody vouches for gets nothing while
  // foreman keeps retrying (every 50 ms to at most a few seconds apart).
  BOOST_REQUIRE(eventually([&] { return fx.state_of(rejected) == "done"; }));
  std::this_thread::sleep_for(std::chrono::milliseconds{1500});
  BOOST_TEST(untrusted.received().empty());
}

/// GET /jobs/{id}/webhooks once it lists `count` attempts; null if it never
/// does.
Poco::JSON::Array::Ptr deliveries_once(service_fixture& fx, const std::string& job_id,
                                       size_t count, const http_headers& headers = {}) {
  Poco::JSON::Array::Ptr log;
  auto listed = eventually([&] {
    auto res = http_request("GET", fx.base + "/jobs/" + job_id + "/webhooks", "", headers);
    BOOST_REQUIRE_MESSAGE(res.status == 200, res.status << " " << res.body);
    log = parse_json(res.body)->getArray("deliveries");
    return log->size() >= count;
  });
  return listed ? log : nullptr;
}

BOOST_AUTO_TEST_CASE(a_jobs_webhook_deliveries_are_listed_with_their_outcomes) {
  webhook_receiver receiver;
  // The job's first event is refused once, then delivered on its retry.
  receiver.refuse_next(1, 503);
  service_fixture fx{fast_fake, quick_webhooks};
  auto id = submit(fx, hooked_body("llama3.2", receiver.url()));
  BOOST_REQUIRE(eventually([&] { return delivered_run(receiver, id); }));
  auto log = deliveries_once(fx, id, 5);
  BOOST_REQUIRE(log);
  BOOST_REQUIRE_EQUAL(log->size(), 5u);
  auto refused = log->getObject(0);
  BOOST_TEST(refused->getValue<std::string>("state") == "queued");
  BOOST_TEST(refused->getValue<std::string>("url") == receiver.url());
  BOOST_TEST(refused->getValue<int>("attempt") == 1);
  BOOST_TEST(refused->getValue<std::string>("outcome") == "retrying");
  BOOST_TEST(refused->getValue<int>("http_status") == 503);
  BOOST_TEST(refused->getValue<std::string>("error") == "the receiver answered 503");
  BOOST_TEST(refused->getValue<std::string>("next_attempt_at").size() == 24u);
  auto retried = log->getObject(1);
  BOOST_TEST(retried->getValue<int64_t>("event_id")
             == refused->getValue<int64_t>("event_id"));
  BOOST_TEST(retried->getValue<int>("attempt") == 2);
  BOOST_TEST(retried->getValue<std::string>("outcome") == "delivered");
  BOOST_TEST(retried->getValue<int>("http_status") == 200);
  BOOST_TEST(retried->isNull("error"));
  BOOST_TEST(retried->isNull("next_attempt_at"));
  std::vector<std::string> states;
  for (unsigned i = 1; i < log->size(); ++i) {
    auto x = log->getObject(i);
    states.push_back(x->getValue<std::string>("state"));
    BOOST_TEST(x->getValue<std::string>("outcome") == "delivered");
    BOOST_TEST(x->getValue<std::string>("at") >= refused->getValue<std::string>("at"));
  }
  BOOST_TEST(states == full_run);
  // A job without a webhook has an empty log; a job that does not exist none.
  auto plain = submit(fx, job_body("qwen2.5"));
  auto empty = http_request("GET", fx.base + "/jobs/" + plain + "/webhooks");
  BOOST_TEST(empty.status == 200);
  BOOST_TEST(empty.body == R"({"deliveries":[]})");
  BOOST_TEST(http_request("GET", fx.base + "/jobs/999999/webhooks").status == 404);
  BOOST_TEST(http_request("GET", fx.base + "/jobs/x/webhooks").status == 400);
  BOOST_TEST(http_request("POST", fx.base + "/jobs/" + id + "/webhooks").status == 405);
}

BOOST_AUTO_TEST_CASE(a_client_key_reads_only_its_own_jobs_deliveries) {
  const std::string alice_key = "alice-key-0123456789";
  const std::string bob_key = "bob-key-0123456789ab";
  const std::string admin_key = "ops-key-0123456789ab";
  auto bearer = [](const std::string& key) {
    return http_headers{{"Authorization", "Bearer " + key}};
  };
  webhook_receiver receiver;
  service_fixture fx{fast_fake, [&](foreman::settings& s) {
                       quick_webhooks(s);
                       s.api_keys = {{alice_key, foreman::key_scope::client},
                                     {bob_key, foreman::key_scope::client},
                                     {admin_key, foreman::key_scope::admin}};
                       // With keys a loopback receiver must be listed.
                       s.webhook_hosts = {"127.0.0.1"};
                     }};
  auto res = http_request("POST", fx.base + "/jobs",
                          hooked_body("llama3.2", receiver.url()), bearer(alice_key));
  BOOST_REQUIRE_MESSAGE(res.status == 202, res.status << " " << res.body);
  auto id = std::to_string(parse_json(res.body)->getValue<int64_t>("id"));
  BOOST_REQUIRE(deliveries_once(fx, id, 4, bearer(alice_key)));
  BOOST_TEST(deliveries_once(fx, id, 4, bearer(admin_key))->size() == 4u);
  // As GET /jobs/{id}: another client's key is refused, an unknown job is 404.
  for (auto path : {"/jobs/" + id, "/jobs/" + id + "/webhooks"}) {
    auto refused = http_request("GET", fx.base + path, "", bearer(bob_key));
    BOOST_TEST(refused.status == 403, path);
    BOOST_TEST(parse_json(refused.body)->getValue<std::string>("error")
                 == "forbidden: job " + id + " belongs to another caller",
               refused.body);
  }
  BOOST_TEST(http_request("GET", fx.base + "/jobs/999999/webhooks", "", bearer(bob_key)).status
             == 404);
  BOOST_TEST(http_request("GET", fx.base + "/jobs/" + id + "/webhooks").status == 401);
}

BOOST_AUTO_TEST_CASE(an_idempotency_key_returns_the_same_job) {
  service_fixture fx{fast_fake};
  auto body = job_body("llama3.2", R"("idempotency_key":"order-17")");
  auto first = submit(fx, body);
  auto second = submit(fx, body);
  BOOST_TEST(first == second);
  BOOST_TEST(submit(fx, job_body("llama3.2")) != first);
  auto page = parse_json(http_request("GET", fx.base + "/jobs").body);
  BOOST_TEST(page->getArray("jobs")->size() == 2u);
}

BOOST_AUTO_TEST_CASE(listing_filters_and_pages_newest_first) {
  service_fixture fx{fast_fake};
  for (auto model : {"llama3.2", "qwen2.5", "llama3.2", "llama3.2:latest", "qwen2.5"})
    submit(fx, job_body(model));
  BOOST_REQUIRE(eventually([&] { return fx.state_of("5") == "done"; }));
  BOOST_REQUIRE(http_request("DELETE", fx.base + "/jobs/5").status == 409);
  std::vector<int64_t> ids;
  std::string cursor;
  int pages = 0;
  do {
    auto res = http_request("GET", fx.base + "/jobs?limit=2"
                                     + (cursor.empty() ? "" : "&cursor=" + cursor));
    BOOST_REQUIRE_EQUAL(res.status, 200);
    auto page = parse_json(res.body);
    auto jobs = page->getArray("jobs");
    BOOST_TEST(jobs->size() <= 2u);
    for (size_t i = 0; i < jobs->size(); ++i)
      ids.push_back(jobs->getObject(static_cast<unsigned>(i))->getValue<int64_t>("id"));
    cursor = page->isNull("next_cursor") ? "" : page->getValue<std::string>("next_cursor");
    ++pages;
  } while (!cursor.empty() && pages < 10);
  BOOST_TEST(pages == 3);
  BOOST_TEST(ids == (std::vector<int64_t>{5, 4, 3, 2, 1}));
  auto llama = parse_json(
    http_request("GET", fx.base + "/jobs?model=llama3.2&state=done").body);
  auto jobs = llama->getArray("jobs");
  BOOST_REQUIRE_EQUAL(jobs->size(), 3u);
  BOOST_TEST(jobs->getObject(0)->getValue<int64_t>("id") == 4);
  BOOST_TEST(jobs->getObject(2)->getValue<int64_t>("id") == 1);
  auto none = parse_json(http_request("GET", fx.base + "/jobs?state=queued").body);
  BOOST_TEST(none->getArray("jobs")->size() == 0u);
  for (auto [query, field] : std::vector<std::pair<std::string, std::string>>{
         {"limit=0", "limit"}, {"limit=201", "limit"}, {"limit=x", "limit"},
         {"state=sleeping", "state"}, {"cursor=-3", "cursor"},
         {"model=%20", "model"}, {"colour=red", "colour"}}) {
    auto res = http_request("GET", fx.base + "/jobs?" + query);
    BOOST_TEST(res.status == 400, query);
    BOOST_TEST(res.body.find(field) != std::string::npos, query << ": " << res.body);
  }
}

BOOST_AUTO_TEST_CASE(delete_cancels_queued_and_running_jobs_and_refuses_ended_ones) {
  webhook_receiver receiver;
  service_fixture fx{fast_fake, quick_webhooks};
  fx.target.arm_fault("hang", 1, 0, "/api/chat");
  auto running = submit(fx, hooked_body("llama3.2", receiver.url()));
  BOOST_REQUIRE(eventually([&] { return fx.state_of(running) == "loading"; }));
  auto queued = submit(fx, job_body("llama3.2"));
  auto cancelled = http_request("DELETE", fx.base + "/jobs/" + queued);
  BOOST_TEST(cancelled.status == 200);
  BOOST_TEST(parse_json(cancelled.body)->getValue<std::string>("state") == "cancelled");
  auto aborted = http_request("DELETE", fx.base + "/jobs/" + running);
  BOOST_TEST(aborted.status == 200);
  BOOST_TEST(parse_json(aborted.body)->getValue<std::string>("state") == "cancelled");
  BOOST_TEST(fx.state_of(running) == "cancelled");
  auto again = http_request("DELETE", fx.base + "/jobs/" + running);
  BOOST_TEST(again.status == 409);
  BOOST_TEST(again.body.find("cancelled") != std::string::npos);
  BOOST_TEST(http_request("DELETE", fx.base + "/jobs/999").status == 404);
  BOOST_TEST(http_request("DELETE", fx.base + "/jobs/x").status == 400);
  BOOST_TEST(http_request("PUT", fx.base + "/jobs/1").status == 405);
  // The slot is free again.
  auto next = submit(fx, job_body("qwen2.5"));
  BOOST_TEST(eventually([&] { return fx.state_of(next) == "done"; }));
  BOOST_TEST(eventually([&] {
    auto states = states_in(events_for(receiver, running));
    return states == std::vector<std::string>{"queued", "loading", "cancelled"};
  }));
}

BOOST_AUTO_TEST_CASE(artifacts_are_listed_and_served_with_their_type) {
  service_fixture fx{fast_fake};
  auto id = submit(fx, job_body("llama3.2"));
  BOOST_REQUIRE(eventually([&] { return fx.state_of(id) == "done"; }));
  auto listed = http_request("GET", fx.base + "/jobs/" + id + "/artifacts");
  BOOST_REQUIRE_EQUAL(listed.status, 200);
  auto list = parse_json(listed.body)->getArray("artifacts");
  BOOST_REQUIRE_EQUAL(list->size(), 1u);
  auto entry = list->getObject(0);
  BOOST_TEST(entry->getValue<std::string>("name") == "completion");
  auto bytes = http_request("GET", fx.base + entry->getValue<std::string>("url"));
  BOOST_TEST(bytes.status == 200);
  BOOST_TEST(bytes.content_type == "application/json");
  BOOST_TEST(bytes.body.size() == entry->getValue<size_t>("size"));
  BOOST_TEST(parse_json(bytes.body)->getValue<bool>("done"));
  BOOST_TEST(http_request("GET", fx.base + "/jobs/" + id + "/artifacts/other").status == 404);
  BOOST_TEST(http_request("GET", fx.base + "/jobs/99/artifacts").status == 404);
  BOOST_TEST(http_request("GET", fx.base + "/jobs/" + id + "/elsewhere").status == 404);
  BOOST_TEST(http_request("POST", fx.base + "/jobs/" + id + "/artifacts", "{}").status == 405);
}

BOOST_AUTO_TEST_CASE(invalid_submissions_get_400_naming_the_field) {
  service_fixture fx{fast_fake, [](foreman::settings& s) {
                       s.webhook_hosts = {"127.0.0.1"};
                     }};
  const std::string payload = R"("payload":{"messages":[]})";
  std::vector<std::pair<std::string, std::string>> cases{
    {"{}", "kind"},
    {R"({"kind":"summarize","model":"a",)" + payload + "}", "kind"},
    {R"({"kind":"chat",)" + payload + "}", "model"},
    {R"({"kind":"chat","model":"bad model!",)" + payload + "}", "model"},
    {R"({"kind":"chat","model":"a","payload":"hi"})", "payload"},
    {R"({"kind":"chat","model":"a","payload":{"messages":"hi"}})", "payload: messages"},
    {R"({"kind":"chat","model":"a","payload":{"model":"b","messages":[]}})", "payload.model"},
    {R"({"kind":"embed","model":"a","payload":{"input":7}})", "payload"},
    {R"({"kind":"chat","model":"a",)" + payload + R"(,"priority":"high"})", "priority"},
    {R"({"kind":"chat","model":"a",)" + payload + R"(,"max_attempts":-1})", "max_attempts"},
    {R"({"kind":"chat","model":"a",)" + payload + R"(,"max_attempts":1.5})", "max_attempts"},
    {R"({"kind":"chat","model":"a",)" + payload + R"(,"state_webhook_url":"ftp://127.0.0.1/x"})",
     "state_webhook_url"},
    {R"({"kind":"chat","model":"a",)" + payload + R"(,"state_webhook_url":"not a url"})",
     "state_webhook_url"},
    {R"({"kind":"chat","model":"a",)" + payload
       + R"(,"state_webhook_url":"https://localhost:1/x"})",
     "FOREMAN_WEBHOOK_HOSTS"},
    {R"({"kind":"chat","model":"a",)" + payload
       + R"(,"state_webhook_url":"http://localhost:1/x"})",
     "FOREMAN_WEBHOOK_HOSTS"},
    {R"({"kind":"chat","model":"a",)" + payload + R"(,"idempotency_key":""})", "idempotency_key"},
    {R"({"kind":"chat","model":"a",)" + payload + R"(,"colour":"red"})", "colour"},
    {"[1]", "JSON object"},
    {"{nope", "invalid JSON"},
  };
  for (auto& [body, field] : cases) {
    auto res = fx.post("/jobs", body);
    BOOST_TEST(res.status == 400, body);
    BOOST_TEST(parse_json(res.body)->getValue<std::string>("error").find(field)
                 != std::string::npos,
               body << " -> " << res.body);
  }
  auto page = parse_json(http_request("GET", fx.base + "/jobs").body);
  BOOST_TEST(page->getArray("jobs")->size() == 0u);
  // The allowed host is accepted, over http or https.
  submit(fx, hooked_body("llama3.2", "http://127.0.0.1:1/hook"));
  submit(fx, hooked_body("llama3.2", "https://127.0.0.1:1/hook"));
}

BOOST_AUTO_TEST_CASE(the_signature_is_hmac_sha256_of_timestamp_dot_body) {
  // Reference value from an independent HMAC-SHA256 (Python's hmac module).
  BOOST_TEST(foreman::net::webhook_signature("s3cret", "1767323045", R"({"a":1})")
             == "19deeee1dbf3e68132db6a4db41cfe324ecf01ea3d30e68ce4b483b0d0980d5c");
}
