#define BOOST_TEST_MODULE scheduling_tests
#include <boost/test/unit_test.hpp>

// The scheduler over real HTTP: priorities, a hung target that must not
// wedge the worker, retry backoff, queue positions and estimates, and the
// pinned embedder coming back after an eviction.

#include <algorithm>
#include <thread>

#include "service_fixture.hpp"

using namespace foreman_test;

namespace {

const std::vector<std::string> fast_fake = three_models_two_slots("0");

std::string started_at(service_fixture& fx, const std::string& id) {
  return fx.job(id)->getValue<std::string>("started_at");
}

} // namespace

BOOST_AUTO_TEST_CASE(a_hung_target_times_out_and_the_next_job_still_runs) {
  service_fixture fx{fast_fake, [](foreman::settings& s) {
                       s.job_timeout_ms = 1000;
                       s.retry_backoff_ms = 200;
                     }};
  fx.target.arm_fault("hang", 1, 0, "/api/chat");
  http_response first, second;
  std::thread a{[&] { first = fx.post("/api/chat", chat_body("llama3.2", "stuck")); }};
  BOOST_REQUIRE(eventually([&] { return fx.state_of("1") == "loading"; }));
  std::thread b{[&] { second = fx.post("/api/chat", chat_body("qwen2.5", "next")); }};
  a.join();
  b.join();
  BOOST_TEST(second.status == 200);
  BOOST_TEST(fx.state_of("2") == "done");
  // The hung attempt counted; the retry after the backoff succeeded.
  BOOST_TEST(first.status == 200);
  auto stuck = fx.job("1");
  BOOST_TEST(stuck->getValue<std::string>("state") == "done");
  BOOST_TEST(stuck->getValue<int>("attempt") == 2);
}

BOOST_AUTO_TEST_CASE(a_target_that_keeps_hanging_fails_the_job_after_its_attempts) {
  service_fixture fx{fast_fake, [](foreman::settings& s) {
                       s.job_timeout_ms = 300;
                       s.retry_backoff_ms = 50;
                       s.max_attempts = 2;
                     }};
  fx.target.arm_fault("hang", 2, 0, "/api/chat");
  auto res = fx.post("/api/chat", chat_body("llama3.2", "never"));
  BOOST_TEST(res.status == 502);
  auto stuck = fx.job_of(res);
  BOOST_TEST(stuck->getValue<std::string>("state") == "failed");
  BOOST_TEST(stuck->getValue<std::string>("error").find("FOREMAN_JOB_TIMEOUT")
             != std::string::npos);
  BOOST_TEST(fx.post("/api/chat", chat_body("llama3.2", "fine")).status == 200);
}

BOOST_AUTO_TEST_CASE(higher_priority_runs_first) {
  service_fixture fx{fast_fake};
  fx.target.arm_fault("hang", 1, 0, "/api/chat");
  held_request blocker{fx.base, "/api/chat", chat_body("llama3.2", "blocker")};
  BOOST_REQUIRE(eventually([&] { return fx.state_of("1") == "loading"; }));
  held_request low{fx.base, "/api/chat", chat_body("llama3.2", "low")};
  BOOST_REQUIRE(eventually([&] { return fx.state_of("2") == "queued"; }));
  held_request high{fx.base, "/api/chat", chat_body("llama3.2", "high"),
                    "X-Foreman-Priority: 5\r\n"};
  BOOST_REQUIRE(eventually([&] { return fx.state_of("3") == "queued"; }));
  BOOST_TEST(fx.job("3")->getValue<int>("priority") == 5);
  BOOST_TEST(fx.job("3")->getValue<int>("queue_position") == 0);
  BOOST_TEST(fx.job("2")->getValue<int>("queue_position") == 1);
  blocker.close();
  BOOST_REQUIRE(eventually([&] { return fx.state_of("2") == "done"; }));
  BOOST_TEST(fx.state_of("3") == "done");
  BOOST_TEST(started_at(fx, "3") <= started_at(fx, "2"));
  auto bad = http_request("POST", fx.base + "/api/chat", chat_body("llama3.2", "x"),
                          {{"X-Foreman-Priority", "urgent"}});
  BOOST_TEST(bad.status == 400);
  BOOST_TEST(bad.body.find("X-Foreman-Priority") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(retries_wait_for_their_backoff) {
  service_fixture fx{fast_fake, [](foreman::settings& s) { s.retry_backoff_ms = 4000; }};
  fx.target.arm_fault("reset", 1, 0, "/api/chat");
  http_response res;
  std::thread caller{[&] { res = fx.post("/api/chat", chat_body("mistral", "again")); }};
  // After the reset the job waits in the queue, not at once retried.
  BOOST_REQUIRE(eventually([&] {
    auto x = fx.job("1");
    return x && x->getValue<std::string>("state") == "queued"
           && !x->isNull("next_attempt_at");
  }));
  auto waiting = fx.job("1");
  BOOST_TEST(waiting->getValue<int>("attempt") == 1);
  BOOST_TEST(waiting->getValue<std::string>("next_attempt_at")
             > waiting->getValue<std::string>("updated_at"));
  caller.join();
  BOOST_TEST(res.status == 200);
  BOOST_TEST(fx.job("1")->getValue<int>("attempt") == 2);
}

BOOST_AUTO_TEST_CASE(queued_jobs_report_their_position_and_estimated_start) {
  service_fixture fx{fast_fake};
  // One finished job gives the worker a duration to estimate from.
  auto warm = fx.post("/api/chat", chat_body("llama3.2", "warm"));
  BOOST_REQUIRE_EQUAL(warm.status, 200);
  BOOST_TEST(warm.headers.at("X-Foreman-Queue-Position") == "0");
  BOOST_TEST(fx.job("1")->isNull("queue_position"));
  fx.target.arm_fault("hang", 1, 0, "/api/chat");
  held_request blocker{fx.base, "/api/chat", chat_body("llama3.2", "blocker")};
  BOOST_REQUIRE(eventually([&] { return fx.state_of("2") == "working"; }));
  held_request a{fx.base, "/api/chat", chat_body("llama3.2", "a")};
  held_request b{fx.base, "/api/chat", chat_body("llama3.2", "b")};
  BOOST_REQUIRE(eventually([&] { return fx.state_of("4") == "queued"; }));
  auto third = fx.job("3");
  auto fourth = fx.job("4");
  BOOST_TEST(third->getValue<int>("queue_position") == 0);
  BOOST_TEST(fourth->getValue<int>("queue_position") == 1);
  BOOST_REQUIRE(!third->isNull("estimated_start_at"));
  BOOST_TEST(fourth->getValue<std::string>("estimated_start_at")
             >= third->getValue<std::string>("estimated_start_at"));
  for (auto* r : {&b, &a, &blocker})
    r->close();
}

BOOST_AUTO_TEST_CASE(an_evicted_embedder_is_warmed_again) {
  service_fixture fx{fast_fake};
  BOOST_REQUIRE(eventually([&] { return fx.target.counters().loads_of("all-minilm:latest") == 1; }));
  // Two chat models in a budget of two push the embedder out.
  BOOST_REQUIRE_EQUAL(fx.post("/api/chat", chat_body("llama3.2", "one")).status, 200);
  BOOST_REQUIRE_EQUAL(fx.post("/api/chat", chat_body("qwen2.5", "two")).status, 200);
  BOOST_TEST(eventually([&] {
    auto c = fx.target.counters();
    return c.loads_of("all-minilm:latest") >= 2
           && std::count(c.resident.begin(), c.resident.end(), "all-minilm:latest") == 1;
  }));
}
