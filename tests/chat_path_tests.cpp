#define BOOST_TEST_MODULE chat_path_tests
#include <boost/test/unit_test.hpp>

// The queued chat path end to end, over real HTTP on loopback: foreman's
// service in this process, the fake Ollama target as a child process.

#include <thread>

#include "service_fixture.hpp"

using namespace foreman_test;

namespace {

struct chat_fixture : service_fixture {
  chat_fixture() : service_fixture(three_models_two_slots("1")) {
  }

  http_response chat(const std::string& body) {
    return post("/api/chat", body);
  }
};

std::string content_of(const std::string& reply) {
  return parse_json(reply)->getObject("message")->getValue<std::string>("content");
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(queued_chat, chat_fixture)

BOOST_AUTO_TEST_CASE(a_chat_is_stored_run_and_answered) {
  auto res = chat(chat_body("llama3.2", "hello there"));
  BOOST_REQUIRE_EQUAL(res.status, 200);
  BOOST_TEST(res.content_type.find("application/json") == 0);
  auto reply = parse_json(res.body);
  BOOST_TEST(reply->getValue<std::string>("model") == "llama3.2");
  BOOST_TEST(reply->getValue<bool>("done"));
  BOOST_TEST(content_of(res.body) == "llama3.2 says: hello there");
  auto stored = job_of(res);
  BOOST_TEST(stored->getValue<std::string>("state") == "done");
  BOOST_TEST(stored->getValue<std::string>("kind") == "chat");
  // The job's result is the whole answer, statistics included.
  auto result = stored->getObject("result");
  BOOST_REQUIRE(result);
  BOOST_TEST(result->getObject("message")->getValue<std::string>("content")
             == "llama3.2 says: hello there");
  BOOST_TEST(result->getValue<std::string>("done_reason") == "stop");
  BOOST_TEST(result->has("eval_count"));
  BOOST_TEST(stored->getValue<int>("attempt") == 1);
  // The completion artifact holds the reply the caller got.
  auto counters = target.counters();
  BOOST_TEST(counters.loads_of("llama3.2:latest") == 1u);
  BOOST_TEST(counters.max_concurrent_generations == 1u);
}



BOOST_AUTO_TEST_CASE(invalid_requests_get_400_and_store_nothing) {
  struct bad_case {
    std::string body;
    std::string error;
  };
  std::vector<bad_case> cases{
    {"", "missing request body"},
    {"{", "invalid JSON"},
    {"[1,2]", "request body must be a JSON object"},
    {R"({"messages":[]})", "model is required"},
    {R"({"model":""})", "model is required"},
    {R"({"model":7})", "model must be a string"},
    {R"({"model":"bad name!"})", "invalid model name"},
    {R"({"model":"llama3.2","messages":"hi"})", "messages must be an array"},
    {R"({"model":"llama3.2","messages":[{"content":"x"}]})",
     "messages[0].role must be a string"},
    {R"({"model":"llama3.2","stream":"yes"})", "stream must be true or false"},
    {R"({"model":"llama3.2","options":[]})", "options must be a JSON object"},
  };
  for (auto& c : cases) {
    auto res = chat(c.body);
    BOOST_TEST(res.status == 400, c.body);
    BOOST_TEST(res.content_type.find("application/json") == 0);
    auto message = parse_json(res.body)->getValue<std::string>("error");
    BOOST_TEST(message.find(c.error) == 0, c.body << " -> " << message);
    BOOST_TEST(res.headers.count("X-Foreman-Job-Id") == 0u);
  }
  BOOST_TEST(http_request("GET", base + "/jobs/1").status == 404);
  BOOST_TEST(target.counters().requests_to("/api/chat") == 0u);
}

BOOST_AUTO_TEST_CASE(unknown_models_fail_with_the_targets_answer) {
  auto res = chat(chat_body("nope", "anyone?"));
  BOOST_TEST(res.status == 404);
  BOOST_TEST(parse_json(res.body)->getValue<std::string>("error")
             == "model 'nope' not found");
  auto stored = job_of(res);
  BOOST_TEST(stored->getValue<std::string>("state") == "failed");
  BOOST_TEST(stored->getValue<std::string>("error") == "model 'nope' not found");
}

BOOST_AUTO_TEST_CASE(http_errors_are_terminal) {
  target.arm_fault("http500", 1, 0, "/api/chat");
  auto res = chat(chat_body("llama3.2", "fail once"));
  BOOST_TEST(res.status == 500);
  BOOST_TEST(parse_json(res.body)->getValue<std::string>("error") == "injected failure");
  auto stored = job_of(res);
  BOOST_TEST(stored->getValue<std::string>("state") == "failed");
  BOOST_TEST(stored->getValue<int>("attempt") == 1);
}

BOOST_AUTO_TEST_CASE(connection_errors_are_retried) {
  target.arm_fault("reset", 1, 0, "/api/chat");
  auto res = chat(chat_body("mistral", "try again"));
  BOOST_REQUIRE_EQUAL(res.status, 200);
  BOOST_TEST(content_of(res.body) == "mistral says: try again");
  auto stored = job_of(res);
  BOOST_TEST(stored->getValue<std::string>("state") == "done");
  BOOST_TEST(stored->getValue<int>("attempt") == 2);
}

BOOST_AUTO_TEST_CASE(retries_stop_at_max_attempts) {
  target.arm_fault("reset", 100, 0, "/api/chat");
  auto res = chat(chat_body("mistral", "never", R"("stream":false)"));
  BOOST_TEST(res.status == 502);
  auto stored = job_of(res);
  BOOST_TEST(stored->getValue<std::string>("state") == "failed");
  BOOST_TEST(stored->getValue<int>("attempt") == 3);
  BOOST_TEST(stored->getValue<int>("max_attempts") == 3);
  target.clear_faults();
}

BOOST_AUTO_TEST_CASE(every_job_request_carries_foremans_keep_alive) {
  // The fake treats keep_alive 0 as "unload now"; foreman's default -1 keeps
  // the model, so a caller's own keep_alive 0 must not unload it.
  auto res = chat(chat_body("llama3.2", "stay", R"("stream":false,"keep_alive":0)"));
  BOOST_REQUIRE_EQUAL(res.status, 200);
  auto resident = target.counters().resident;
  BOOST_TEST((std::find(resident.begin(), resident.end(), "llama3.2:latest")
              != resident.end()));
}

BOOST_AUTO_TEST_CASE(thirty_callers_over_three_models_drain_by_model) {
  constexpr int callers = 30;
  const std::vector<std::string> models{"llama3.2", "qwen2.5", "mistral"};
  target.reset_counters();
  std::vector<std::string> answers(callers);
  std::vector<int> statuses(callers, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < callers; ++i)
    threads.emplace_back([&, i] {
      auto model = models[i % models.size()];
      auto res = http_request("POST", base + "/api/chat",
                              chat_body(model, "caller " + std::to_string(i)),
                              {}, std::chrono::seconds{120});
      statuses[i] = res.status;
      if (res.status == 200)
        answers[i] = content_of(res.body);
    });
  for (auto& t : threads)
    t.join();
  for (int i = 0; i < callers; ++i) {
    BOOST_TEST(statuses[i] == 200, "caller " << i);
    BOOST_TEST(answers[i]
                 == models[i % models.size()] + " says: caller " + std::to_string(i),
               "caller " << i);
  }
  auto counters = target.counters();
  auto chat_loads = counters.loads_of("llama3.2:latest")
                    + counters.loads_of("qwen2.5:latest")
                    + counters.loads_of("mistral:latest");
  BOOST_TEST_MESSAGE("30 callers: " << chat_loads << " chat model loads ("
                     << double(chat_loads) / callers << " per request), "
                     << counters.loads_of("all-minilm:latest")
                     << " embedder loads, max concurrent generations "
                     << counters.max_concurrent_generations);
  BOOST_TEST(counters.max_concurrent_generations == 1u);
  // Arrival order interleaves the three models; draining by model needs one
  // load per model, plus at most one more for a caller whose request landed
  // after its model had been drained.
  BOOST_TEST(chat_loads <= 6u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(job_lookup)

BOOST_FIXTURE_TEST_CASE(job_ids_are_validated, chat_fixture) {
  BOOST_TEST(http_request("GET", base + "/jobs/abc").status == 400);
  BOOST_TEST(http_request("GET", base + "/jobs/-1").status == 400);
  BOOST_TEST(http_request("GET", base + "/jobs/999").status == 404);
  BOOST_TEST(http_request("POST", base + "/jobs/1").status == 405);
  BOOST_TEST(http_request("GET", base + "/nowhere").status == 404);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(keep_alive_zero_loads_each_model_once_per_job) {
  // FOREMAN_KEEP_ALIVE=0: the run loads the model and unloads it after. A
  // separate load request would carry keep_alive 0 too, which Ollama reads
  // as "unload", so it is not sent: one request, one load.
  service_fixture fx{three_models_two_slots("1"), [](foreman::settings& s) {
                       s.worker_keep_alive = *foreman::keep_alive::parse("0");
                     }};
  fx.target.reset_counters();
  auto res = fx.post("/api/chat", chat_body("llama3.2", "once"));
  BOOST_REQUIRE_EQUAL(res.status, 200);
  BOOST_TEST(fx.job_of(res)->getValue<std::string>("state") == "done");
  auto counters = fx.target.counters();
  BOOST_TEST(counters.requests_to("/api/chat") == 1u);
  BOOST_TEST(counters.loads_of("llama3.2:latest") == 1u);
  BOOST_TEST(eventually([&] {
    auto resident = fx.target.counters().resident;
    return std::find(resident.begin(), resident.end(), "llama3.2:latest")
           == resident.end();
  }));
}
