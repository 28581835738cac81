#define BOOST_TEST_MODULE operations_tests
#include <boost/test/unit_test.hpp>

// What an operator relies on, over real HTTP: /healthz, /readyz (and each
// check failing for real), /status, /metrics parsed as Prometheus text, and
// API keys on every route class.

#include <csignal>
#include <filesystem>

#include <Poco/JSON/Array.h>

#include "prometheus_text.hpp"
#include "service_fixture.hpp"
#include "webhook_receiver.hpp"

using namespace foreman_test;

namespace {

/// A job the fake target holds until the test lets it go (or aborts it).
void hold_next_chat(service_fixture& fx) {
  fx.target.arm_fault("hang", 1, 0, "/api/chat");
}

std::string post_job(service_fixture& fx, const std::string& model,
                     const http_headers& headers = {}, const std::string& extra = "") {
  auto res = http_request("POST", fx.base + "/jobs",
                          R"({"kind":"chat","model":")" + model
                            + R"(","payload":{"messages":[{"role":"user","content":"hi"}]})"
                            + extra + "}",
                          headers);
  BOOST_REQUIRE_MESSAGE(res.status == 202, res.status << " " << res.body);
  return res.headers.at("X-Foreman-Job-Id");
}

prometheus_samples metrics_of(service_fixture& fx, const http_headers& headers = {}) {
  auto res = http_request("GET", fx.base + "/metrics", "", headers);
  BOOST_REQUIRE_EQUAL(res.status, 200);
  BOOST_TEST(res.content_type.find("text/plain; version=0.0.4") == 0);
  try {
    return parse_prometheus_text(res.body);
  } catch (const std::exception& e) {
    BOOST_FAIL("/metrics is not Prometheus text: " << e.what() << "\n" << res.body);
  }
  return {};
}

object_ptr get_object(const std::string& url, int expected_status,
                      const http_headers& headers = {}) {
  auto res = http_request("GET", url, "", headers);
  BOOST_REQUIRE_MESSAGE(res.status == expected_status,
                        url << " answered " << res.status << " " << res.body);
  return parse_json(res.body);
}

} // namespace

BOOST_AUTO_TEST_SUITE(health_status_metrics)

BOOST_AUTO_TEST_CASE(a_working_foreman_is_healthy_and_ready) {
  service_fixture fx{three_models_two_slots("1")};
  auto health = http_request("GET", fx.base + "/healthz");
  BOOST_TEST(health.status == 200);
  BOOST_TEST(parse_json(health.body)->getValue<std::string>("status") == "ok");
  BOOST_REQUIRE(eventually([&] {
    return http_request("GET", fx.base + "/readyz").status == 200;
  }));
  auto ready = get_object(fx.base + "/readyz", 200);
  BOOST_TEST(ready->getValue<std::string>("status") == "ready");
  auto checks = ready->getObject("checks");
  BOOST_TEST(checks->getValue<std::string>("database") == "ok");
  BOOST_TEST(checks->getValue<std::string>("target") == "ok");
  BOOST_TEST(checks->getValue<std::string>("embedder") == "ok");
  BOOST_TEST(http_request("POST", fx.base + "/readyz").status == 405);
}

BOOST_AUTO_TEST_CASE(status_shows_the_running_job_and_the_queue_by_model) {
  service_fixture fx{three_models_two_slots("1")};
  auto idle = get_object(fx.base + "/status", 200);
  BOOST_TEST(idle->getObject("worker")->getValue<std::string>("state") == "idle");
  BOOST_TEST(idle->getObject("worker")->isNull("running_job"));
  BOOST_TEST(idle->getObject("queue")->getValue<int>("total") == 0);
  hold_next_chat(fx);
  auto held = post_job(fx, "llama3.2");
  BOOST_REQUIRE(eventually([&] { return fx.state_of(held) == "loading"; }));
  post_job(fx, "qwen2.5");
  post_job(fx, "qwen2.5");
  post_job(fx, "mistral");
  auto status = get_object(fx.base + "/status", 200);
  auto worker = status->getObject("worker");
  BOOST_TEST(worker->getValue<std::string>("state") == "loading");
  BOOST_TEST(worker->getObject("running_job")->getValue<std::string>("id") == held);
  auto queue = status->getObject("queue");
  BOOST_TEST(queue->getValue<int>("total") == 4);
  std::map<std::string, std::tuple<int, int, int>> by_model;
  auto rows = queue->getArray("by_model");
  for (size_t i = 0; i < rows->size(); ++i) {
    auto row = rows->getObject(static_cast<unsigned>(i));
    by_model[row->getValue<std::string>("model")]
      = {row->getValue<int>("queued"), row->getValue<int>("loading"),
         row->getValue<int>("working")};
  }
  BOOST_TEST((by_model["llama3.2:latest"] == std::tuple<int, int, int>{0, 1, 0}));
  BOOST_TEST((by_model["qwen2.5:latest"] == std::tuple<int, int, int>{2, 0, 0}));
  BOOST_TEST((by_model["mistral:latest"] == std::tuple<int, int, int>{1, 0, 0}));
  BOOST_TEST(status->getValue<std::string>("embed_model") == "all-minilm:latest");
  BOOST_TEST(status->getObject("target")->getValue<bool>("reachable"));
  BOOST_TEST(status->getObject("target")->getValue<std::string>("url") == fx.target.url());
  // The pinned embedder is listed once the inventory has warmed it.
  BOOST_TEST(eventually([&] {
    auto residents = get_object(fx.base + "/status", 200)->getArray("residents");
    for (size_t i = 0; i < residents->size(); ++i)
      if (residents->getElement<std::string>(static_cast<unsigned>(i))
          == "all-minilm:latest")
        return true;
    return false;
  }));
  // While the queue is held, /metrics shows the same depth.
  auto metrics = metrics_of(fx);
  BOOST_TEST(sample(metrics, R"(foreman_queue_depth{model="qwen2.5:latest",state="queued"})")
             == 2);
  BOOST_TEST(sample(metrics, R"(foreman_queue_depth{model="llama3.2:latest",state="loading"})")
             == 1);
  BOOST_TEST(http_request("DELETE", fx.base + "/jobs/" + held).status == 200);
}

BOOST_AUTO_TEST_CASE(metrics_count_jobs_loads_errors_webhooks_and_requests) {
  service_fixture fx{three_models_two_slots("1")};
  webhook_receiver receiver;
  auto before = metrics_of(fx);
  BOOST_TEST(sample(before, R"(foreman_jobs_finished_total{kind="chat",state="done"})") == 0);
  BOOST_TEST(before.count(R"(foreman_target_errors_total{kind="connection"})") == 1u);
  BOOST_TEST(before.count("foreman_queue_wait_seconds_count") == 1u);
  // Two chats done (one with a webhook), one failed by the target (unknown
  // model), one cancelled while queued behind a held job.
  BOOST_TEST(fx.post("/api/chat", chat_body("llama3.2", "one")).status == 200);
  auto hooked = post_job(fx, "llama3.2", {},
                         R"(,"state_webhook_url":")" + receiver.url() + R"(")");
  BOOST_REQUIRE(eventually([&] { return fx.state_of(hooked) == "done"; }));
  BOOST_TEST(fx.post("/api/chat", chat_body("no-such-model", "two")).status == 404);
  hold_next_chat(fx);
  auto held = post_job(fx, "qwen2.5");
  BOOST_REQUIRE(eventually([&] { return fx.state_of(held) == "loading"; }));
  auto queued = post_job(fx, "mistral");
  BOOST_TEST(http_request("DELETE", fx.base + "/jobs/" + queued).status == 200);
  BOOST_TEST(http_request("DELETE", fx.base + "/jobs/" + held).status == 200);
  BOOST_TEST(http_request("GET", fx.base + "/jobs/999999").status == 404);
  BOOST_REQUIRE(eventually([&] { return receiver.received().size() >= 3; }));
  prometheus_samples after;
  // Webhook outcomes are counted as their runners report back.
  BOOST_REQUIRE(eventually([&] {
    after = metrics_of(fx);
    return sample(after, R"(foreman_webhook_deliveries_total{outcome="delivered"})")
           >= static_cast<double>(receiver.received().size());
  }));
  BOOST_TEST(sample(after, R"(foreman_jobs_submitted_total{kind="chat"})") == 5);
  BOOST_TEST(sample(after, R"(foreman_jobs_finished_total{kind="chat",state="done"})") == 2);
  BOOST_TEST(sample(after, R"(foreman_jobs_finished_total{kind="chat",state="failed"})") == 1);
  BOOST_TEST(sample(after, R"(foreman_jobs_finished_total{kind="chat",state="cancelled"})")
             == 2);
  BOOST_TEST(sample(after, R"(foreman_model_loads_total{model="llama3.2:latest"})") == 1);
  BOOST_TEST(sample(after, "foreman_model_load_seconds_count") >= 1);
  BOOST_TEST(sample(after, R"(foreman_target_errors_total{kind="http_status"})") == 1);
  // Jobs that started: the two chats, the failed one's attempt, the held one.
  BOOST_TEST(sample(after, "foreman_queue_wait_seconds_count") == 4);
  BOOST_TEST(sample(after, R"(foreman_job_run_seconds_count{kind="chat"})") == 4);
  BOOST_TEST(sample(after, R"(foreman_http_requests_total{route="/api/chat",status="200"})")
             == 1);
  BOOST_TEST(sample(after, R"(foreman_http_requests_total{route="/api/chat",status="404"})")
             == 1);
  BOOST_TEST(sample(after, R"(foreman_http_requests_total{route="/jobs",status="202"})") == 3);
  BOOST_TEST(sample(after, R"(foreman_http_requests_total{route="/jobs/{id}",status="404"})")
             == 1);
  BOOST_TEST(sample(after, R"(foreman_http_requests_total{route="/metrics",status="200"})")
             >= 1);
  BOOST_TEST(sample(after, "foreman_start_time_seconds") > 1.7e9);
  // No queue left: no depth series.
  for (auto& [key, value] : after)
    BOOST_TEST(key.rfind("foreman_queue_depth{", 0) != 0, key << " = " << value);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(readiness_failures)

BOOST_AUTO_TEST_CASE(an_embedder_the_target_lacks_fails_the_embedder_check) {
  service_fixture fx{three_models_two_slots("1"),
                     [](foreman::settings& s) { s.embed_model = "nomic-embed-text"; }};
  object_ptr ready;
  BOOST_REQUIRE(eventually([&] {
    auto res = http_request("GET", fx.base + "/readyz");
    ready = parse_json(res.body);
    return res.status == 503 && ready->getObject("checks")->getValue<std::string>("target")
                                  == "ok";
  }));
  auto error = ready->getValue<std::string>("error");
  BOOST_TEST(error.find("embedder: nomic-embed-text is not loaded") != std::string::npos,
             error);
  BOOST_TEST(ready->getObject("checks")->getValue<std::string>("database") == "ok");
  BOOST_TEST(ready->getObject("checks")->getValue<std::string>("embedder") != "ok");
}

BOOST_AUTO_TEST_CASE(a_removed_database_and_a_dead_target_are_named) {
  service_fixture fx{three_models_two_slots("1")};
  BOOST_REQUIRE(eventually([&] {
    return http_request("GET", fx.base + "/readyz").status == 200;
  }));
  std::filesystem::remove(fx.dir.file("jobs.db"));
  auto res = http_request("GET", fx.base + "/readyz");
  BOOST_TEST(res.status == 503);
  auto body = parse_json(res.body);
  BOOST_TEST(body->getValue<std::string>("error").find("database: the database file")
               != std::string::npos,
             body->getValue<std::string>("error"));
  BOOST_TEST(body->getObject("checks")->getValue<std::string>("target") == "ok");
  fx.target.process().signal(SIGKILL);
  BOOST_REQUIRE(eventually([&] {
    body = parse_json(http_request("GET", fx.base + "/readyz").body);
    return body->getObject("checks")->getValue<std::string>("target") != "ok";
  }));
  auto error = body->getValue<std::string>("error");
  BOOST_TEST(error.find("database: ") != std::string::npos, error);
  BOOST_TEST(error.find("target: " + fx.target.url() + " unreachable") != std::string::npos,
             error);
  // /healthz only says the process is up.
  BOOST_TEST(http_request("GET", fx.base + "/healthz").status == 200);
  auto status = get_object(fx.base + "/status", 200);
  BOOST_TEST(!status->getObject("target")->getValue<bool>("reachable"));
  BOOST_TEST(!status->getObject("target")->isNull("error"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(api_keys)

const std::string alice_key = "alice-key-0123456789";
const std::string bob_key = "bob-key-0123456789ab";
const std::string admin_key = "ops-key-0123456789ab";

http_headers bearer(const std::string& key) {
  return {{"Authorization", "Bearer " + key}};
}

struct keyed_fixture : service_fixture {
  keyed_fixture()
    : service_fixture(three_models_two_slots("1"), [](foreman::settings& s) {
        s.api_keys = {{alice_key, foreman::key_scope::client},
                      {bob_key, foreman::key_scope::client},
                      {admin_key, foreman::key_scope::admin}};
      }) {
  }

  int status_of(const std::string& method, const std::string& path,
                const http_headers& headers, const std::string& body = "") {
    return http_request(method, base + path, body, headers).status;
  }
};

BOOST_FIXTURE_TEST_CASE(callers_without_a_valid_key_get_401, keyed_fixture) {
  BOOST_TEST(status_of("GET", "/healthz", {}) == 200);
  for (auto path : {"/api/tags", "/api/version", "/readyz", "/status", "/jobs", "/metrics"}) {
    auto res = http_request("GET", base + path);
    BOOST_TEST(res.status == 401, path);
    BOOST_TEST(res.headers["WWW-Authenticate"] == "Bearer", path);
    BOOST_TEST(parse_json(res.body)->getValue<std::string>("error").find("unauthorized")
                 == 0,
               res.body);
  }
  auto chat = http_request("POST", base + "/api/chat", chat_body("llama3.2", "hi"));
  BOOST_TEST(chat.status == 401);
  auto wrong = http_request("GET", base + "/api/tags", "", bearer("not-a-key-0123456789"));
  BOOST_TEST(wrong.status == 401);
  BOOST_TEST(parse_json(wrong.body)->getValue<std::string>("error")
             == "unauthorized: unknown API key");
  BOOST_TEST(status_of("GET", "/api/tags", {{"Authorization", "Basic " + alice_key}}) == 401);
  BOOST_TEST(status_of("GET", "/api/tags", bearer(alice_key + "x")) == 401);
  // OpenAI clients get OpenAI's error shape.
  auto openai = http_request("GET", base + "/v1/models");
  BOOST_TEST(openai.status == 401);
  BOOST_TEST(parse_json(openai.body)->getObject("error")->getValue<std::string>("message")
               .find("unauthorized")
             == 0);
  // Nothing was stored by the refused calls.
  auto jobs = get_object(base + "/jobs", 200, bearer(admin_key));
  BOOST_TEST(jobs->getArray("jobs")->size() == 0u);
}

BOOST_FIXTURE_TEST_CASE(client_keys_run_jobs_but_admin_routes_need_admin, keyed_fixture) {
  auto chat = http_request("POST", base + "/api/chat", chat_body("llama3.2", "hi"),
                           bearer(alice_key));
  BOOST_TEST(chat.status == 200);
  auto openai = http_request("POST", base + "/v1/chat/completions",
                             R"({"model":"llama3.2","messages":[{"role":"user","content":"hi"}]})",
                             bearer(alice_key));
  BOOST_TEST(openai.status == 200);
  BOOST_TEST(status_of("GET", "/api/tags", bearer(alice_key)) == 200);
  BOOST_TEST(status_of("GET", "/v1/models", bearer(alice_key)) == 200);
  BOOST_TEST(status_of("GET", "/status", bearer(alice_key)) == 200);
  BOOST_TEST(eventually([&] { return status_of("GET", "/readyz", bearer(alice_key)) == 200; }));
  struct admin_route {
    std::string method, path, body;
  };
  std::vector<admin_route> admin_routes{
    {"GET", "/metrics", ""},
    {"POST", "/api/pull", R"({"model":"llama3.2","stream":false})"},
    {"POST", "/api/copy", R"({"source":"llama3.2","destination":"copy"})"},
    {"DELETE", "/api/delete", R"({"model":"llama3.2"})"},
    {"POST", "/api/create", R"({"model":"x","from":"llama3.2"})"},
    {"POST", "/api/push", R"({"model":"llama3.2"})"},
    {"HEAD", "/api/blobs/sha256:0123", ""}};
  for (auto& route : admin_routes) {
    auto res = http_request(route.method, base + route.path, route.body, bearer(alice_key));
    BOOST_TEST(res.status == 403, route.method << " " << route.path);
    if (route.method != "HEAD")
      BOOST_TEST(parse_json(res.body)->getValue<std::string>("error")
                   == "forbidden: " + route.path + " needs an admin key",
                 res.body);
  }
  // The admin key passes the same routes through to the target.
  BOOST_TEST(status_of("GET", "/metrics", bearer(admin_key)) == 200);
  BOOST_TEST(status_of("POST", "/api/copy", bearer(admin_key),
                       R"({"source":"llama3.2","destination":"copy"})")
             == 200);
  BOOST_TEST(status_of("DELETE", "/api/delete", bearer(admin_key), R"({"model":"copy"})")
             == 200);
}

BOOST_FIXTURE_TEST_CASE(jobs_belong_to_the_key_that_submitted_them, keyed_fixture) {
  hold_next_chat(*this);
  auto headers = bearer(alice_key);
  headers["X-Foreman-Client"] = "agent-7";
  auto alices = post_job(*this, "llama3.2", headers);
  auto bobs = post_job(*this, "qwen2.5", bearer(bob_key));
  auto stored = get_object(base + "/jobs/" + alices, 200, bearer(alice_key));
  auto client = stored->getValue<std::string>("client");
  // The key's identity (not the key), then the caller's own client name.
  BOOST_TEST(client.rfind("key-", 0) == 0);
  BOOST_TEST(client.find(alice_key) == std::string::npos);
  BOOST_TEST(client.substr(client.size() - 8) == "/agent-7");
  // Bob can neither read nor cancel Alice's job, nor its artifacts.
  for (auto path : {"/jobs/" + alices, "/jobs/" + alices + "/artifacts"}) {
    auto res = http_request("GET", base + path, "", bearer(bob_key));
    BOOST_TEST(res.status == 403, path);
    BOOST_TEST(parse_json(res.body)->getValue<std::string>("error")
                 == "forbidden: job " + alices + " belongs to another caller",
               res.body);
  }
  BOOST_TEST(status_of("DELETE", "/jobs/" + alices, bearer(bob_key)) == 403);
  BOOST_TEST(status_of("GET", "/jobs/999999", bearer(bob_key)) == 404);
  // Listings show each client key its own jobs, and the admin everyone's.
  auto ids_listed = [&](const std::string& key) {
    auto page = get_object(base + "/jobs", 200, bearer(key))->getArray("jobs");
    std::set<std::string> ids;
    for (size_t i = 0; i < page->size(); ++i)
      ids.insert(std::to_string(
        page->getObject(static_cast<unsigned>(i))->getValue<int64_t>("id")));
    return ids;
  };
  BOOST_TEST((ids_listed(alice_key) == std::set<std::string>{alices}));
  BOOST_TEST((ids_listed(bob_key) == std::set<std::string>{bobs}));
  BOOST_TEST((ids_listed(admin_key) == std::set<std::string>{alices, bobs}));
  // The admin may act on anyone's job; Alice on hers.
  BOOST_TEST(status_of("GET", "/jobs/" + bobs, bearer(admin_key)) == 200);
  BOOST_TEST(status_of("DELETE", "/jobs/" + bobs, bearer(admin_key)) == 200);
  BOOST_TEST(status_of("DELETE", "/jobs/" + alices, bearer(alice_key)) == 200);
}

BOOST_AUTO_TEST_SUITE_END()
