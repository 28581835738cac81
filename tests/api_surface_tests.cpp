#define BOOST_TEST_MODULE api_surface_tests
#include <boost/test/unit_test.hpp>

// The drop-in surface over real HTTP: streaming through the queue,
// cancellation when callers leave, backpressure, the other inference
// endpoints, OpenAI's dialect and the pass-through endpoints.

#include <atomic>
#include <chrono>
#include <thread>

#include "service_fixture.hpp"
#include "webhook_receiver.hpp"

using namespace foreman_test;

namespace {

const std::string busy_body
  = R"({"error":"server busy, please try again.  maximum pending requests exceeded"})";

std::string many_words(int n) {
  std::string text;
  for (int i = 0; i < n; ++i)
    text += (i ? " w" : "w") + std::to_string(i);
  return text;
}

struct slow_tokens : service_fixture {
  // 20 ms per word: long answers take a while to stream.
  slow_tokens() : service_fixture(three_models_two_slots("20")) {
  }
};

struct fast_tokens : service_fixture {
  fast_tokens() : service_fixture(three_models_two_slots("0")) {
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(streaming_through_the_queue, slow_tokens)

BOOST_AUTO_TEST_CASE(chunks_reach_the_caller_while_the_job_runs) {
  auto words = many_words(30);
  std::vector<std::string> lines;
  std::string job_id;
  auto res = http_stream_lines("POST", base + "/api/chat",
                               chat_body("llama3.2", words, ""),
                               [&](const std::string& line) {
                                 lines.push_back(line);
                                 return true;
                               });
  BOOST_REQUIRE_EQUAL(res.status, 200);
  BOOST_TEST(res.content_type == "application/x-ndjson");
  job_id = res.headers.at("X-Foreman-Job-Id");
  BOOST_REQUIRE(lines.size() > 2u);
  std::string content;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto chunk = parse_json(lines[i]);
    BOOST_TEST(chunk->getValue<bool>("done") == (i + 1 == lines.size()));
    content += chunk->getObject("message")->getValue<std::string>("content");
  }
  BOOST_TEST(content == "llama3.2 says: " + words);
  auto last = parse_json(lines.back());
  BOOST_TEST(last->getValue<std::string>("done_reason") == "stop");
  BOOST_TEST(last->has("eval_count"));
  // The whole answer is still the job's completion.
  auto stored = job(job_id);
  BOOST_TEST(stored->getValue<std::string>("state") == "done");
  auto result = stored->getObject("result");
  BOOST_REQUIRE(result);
  BOOST_TEST(result->getObject("message")->getValue<std::string>("content")
             == "llama3.2 says: " + words);
  BOOST_TEST(result->has("eval_count"));
}

BOOST_AUTO_TEST_CASE(the_first_chunk_arrives_before_the_job_is_done) {
  std::string state_at_first_chunk;
  std::string id;
  // The job id is only known from the response headers, which arrive with
  // the first chunk; the only job in this fixture is job 1.
  http_stream_lines("POST", base + "/api/chat",
                    chat_body("qwen2.5", many_words(40), ""),
                    [&](const std::string&) {
                      if (state_at_first_chunk.empty())
                        state_at_first_chunk = state_of("1");
                      return true;
                    });
  BOOST_TEST(state_at_first_chunk == "working");
  BOOST_TEST(state_of("1") == "done");
}

BOOST_AUTO_TEST_CASE(a_caller_who_leaves_mid_stream_cancels_the_job) {
  int seen = 0;
  try {
    http_stream_lines("POST", base + "/api/chat",
                      chat_body("mistral", many_words(100), ""),
                      [&](const std::string&) { return ++seen < 2; });
  } catch (const http_error&) {
    // hanging up may surface as an error
  }
  BOOST_TEST(eventually([&] { return state_of("1") == "cancelled"; }));
  // The upstream generation was aborted: the fake target is idle again long
  // before 100 words at 20 ms could have been generated.
  BOOST_TEST(eventually([&] { return target.counters().active_generations == 0; },
                        std::chrono::milliseconds{1500}));
}

BOOST_AUTO_TEST_CASE(openai_streams_sse_events_through_the_queue) {
  auto res = http_request(
    "POST", base + "/v1/chat/completions",
    R"({"model":"llama3.2","stream":true,"stream_options":{"include_usage":true},)"
    R"("messages":[{"role":"user","content":"sse please"}]})");
  BOOST_REQUIRE_EQUAL(res.status, 200);
  BOOST_TEST(res.content_type.find("text/event-stream") == 0);
  const std::string done_event = "data: [DONE]\n\n";
  BOOST_REQUIRE(res.body.size() > done_event.size());
  BOOST_TEST(res.body.substr(res.body.size() - done_event.size()) == done_event);
  std::string content;
  bool usage_seen = false;
  size_t start = 0;
  while (start < res.body.size()) {
    auto end = res.body.find("\n\n", start);
    BOOST_REQUIRE(end != std::string::npos);
    auto event = res.body.substr(start, end - start);
    start = end + 2;
    BOOST_REQUIRE(event.rfind("data: ", 0) == 0);
    if (event == "data: [DONE]")
      continue;
    auto chunk = parse_json(event.substr(6));
    BOOST_TEST(chunk->getValue<std::string>("object") == "chat.completion.chunk");
    auto choices = chunk->getArray("choices");
    if (choices->size() == 0) {
      usage_seen = chunk->has("usage");
      continue;
    }
    auto delta = choices->getObject(0)->getObject("delta");
    if (delta->has("content"))
      content += delta->getValue<std::string>("content");
  }
  BOOST_TEST(content == "llama3.2 says: sse please");
  BOOST_TEST(usage_seen);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(endpoints, fast_tokens)

BOOST_AUTO_TEST_CASE(generate_is_queued_in_both_framings) {
  auto whole = post("/api/generate",
                    R"({"model":"qwen2.5","prompt":"hi there","stream":false})");
  BOOST_REQUIRE_EQUAL(whole.status, 200);
  BOOST_TEST(parse_json(whole.body)->getValue<std::string>("response")
             == "qwen2.5 says: hi there");
  BOOST_TEST(job_of(whole)->getValue<std::string>("kind") == "generate");
  auto streamed = post("/api/generate", R"({"model":"qwen2.5","prompt":"a b c"})");
  BOOST_REQUIRE_EQUAL(streamed.status, 200);
  BOOST_TEST(streamed.content_type == "application/x-ndjson");
  BOOST_TEST(std::count(streamed.body.begin(), streamed.body.end(), '\n') > 2);
  auto missing = post("/api/generate", R"({"prompt":"x"})");
  BOOST_TEST(missing.status == 404);
  BOOST_TEST(parse_json(missing.body)->getValue<std::string>("error")
             == "model '' not found");
}

BOOST_AUTO_TEST_CASE(the_pinned_embedder_takes_the_fast_lane) {
  target.reset_counters();
  auto res = post("/api/embed", R"({"model":"all-minilm","input":["a","b"],"keep_alive":0})");
  BOOST_REQUIRE_EQUAL(res.status, 200);
  BOOST_TEST(parse_json(res.body)->getArray("embeddings")->size() == 2u);
  BOOST_TEST(res.headers.count("X-Foreman-Job-Id") == 0u);
  // foreman sent keep_alive -1, so the caller's 0 did not unload the embedder.
  auto resident = target.counters().resident;
  BOOST_TEST((std::find(resident.begin(), resident.end(), "all-minilm:latest")
              != resident.end()));
  auto legacy = post("/api/embeddings", R"({"model":"all-minilm","prompt":"a"})");
  BOOST_REQUIRE_EQUAL(legacy.status, 200);
  BOOST_TEST(parse_json(legacy.body)->getArray("embedding")->size() == 8u);
}

BOOST_AUTO_TEST_CASE(other_embedding_models_are_queued_jobs) {
  // llama3.2 embeds in the fake target too; it is not the pinned embedder.
  auto res = post("/api/embed", R"({"model":"llama3.2","input":"x"})");
  BOOST_REQUIRE_EQUAL(res.status, 200);
  BOOST_TEST(job_of(res)->getValue<std::string>("kind") == "embed");
  BOOST_TEST(parse_json(res.body)->getArray("embeddings")->size() == 1u);
  auto legacy = post("/api/embeddings", R"({"model":"llama3.2","prompt":"x"})");
  BOOST_REQUIRE_EQUAL(legacy.status, 200);
  BOOST_TEST(parse_json(legacy.body)->getArray("embedding")->size() == 8u);
  auto openai = post("/v1/embeddings", R"({"model":"llama3.2","input":["x","y"]})");
  BOOST_REQUIRE_EQUAL(openai.status, 200);
  BOOST_TEST(parse_json(openai.body)->getArray("data")->size() == 2u);
}

BOOST_AUTO_TEST_CASE(openai_answers_and_errors_in_its_own_shape) {
  auto res = post("/v1/chat/completions",
                  R"({"model":"llama3.2","messages":[{"role":"user","content":"hey"}]})");
  BOOST_REQUIRE_EQUAL(res.status, 200);
  auto reply = parse_json(res.body);
  BOOST_TEST(reply->getValue<std::string>("object") == "chat.completion");
  BOOST_TEST(reply->getArray("choices")->getObject(0)->getObject("message")
               ->getValue<std::string>("content")
             == "llama3.2 says: hey");
  auto completion = post("/v1/completions", R"({"model":"qwen2.5","prompt":"p q"})");
  BOOST_REQUIRE_EQUAL(completion.status, 200);
  BOOST_TEST(parse_json(completion.body)->getArray("choices")->getObject(0)
               ->getValue<std::string>("text")
             == "qwen2.5 says: p q");
  auto unknown = post("/v1/chat/completions",
                      R"({"model":"nope","messages":[{"role":"user","content":"x"}]})");
  BOOST_TEST(unknown.status == 404);
  auto error = parse_json(unknown.body)->getObject("error");
  BOOST_TEST(error->getValue<std::string>("type") == "not_found_error");
  BOOST_TEST(error->getValue<std::string>("message") == "model 'nope' not found");
  auto empty = post("/v1/chat/completions", R"({"model":"llama3.2","messages":[]})");
  BOOST_TEST(empty.status == 400);
  BOOST_TEST(parse_json(empty.body)->getObject("error")->getValue<std::string>("type")
             == "invalid_request_error");
  auto models = http_request("GET", base + "/v1/models");
  BOOST_REQUIRE_EQUAL(models.status, 200);
  BOOST_TEST(models.body.find("\"llama3.2:latest\"") != std::string::npos);
  BOOST_TEST(http_request("GET", base + "/v1/models/llama3.2").status == 200);
  BOOST_TEST(http_request("GET", base + "/v1/models/nope").status == 404);
}

BOOST_AUTO_TEST_CASE(catalogue_endpoints_pass_through) {
  auto root = http_request("GET", base + "/");
  BOOST_TEST(root.status == 200);
  BOOST_TEST(root.body == "Ollama is running");
  BOOST_TEST(http_request("HEAD", base + "/").status == 200);
  auto version = http_request("GET", base + "/api/version");
  BOOST_TEST(parse_json(version.body)->has("version"));
  auto tags = http_request("GET", base + "/api/tags");
  BOOST_TEST(parse_json(tags.body)->getArray("models")->size() == 4u);
  auto show = post("/api/show", R"({"model":"llama3.2"})");
  BOOST_TEST(show.status == 200);
  BOOST_TEST(parse_json(show.body)->has("model_info"));
  auto show_unknown = post("/api/show", R"({"model":"nope"})");
  BOOST_TEST(show_unknown.status == 404);
  BOOST_TEST(http_request("GET", base + "/api/ps").status == 200);
  BOOST_TEST(http_request("GET", base + "/api/chat").status == 405);
  BOOST_TEST(http_request("GET", base + "/api/nothing").status == 404);
  // foreman sends the target's own Host header, not the caller's.
  auto counted = target.counters().requests_to("/api/tags");
  BOOST_TEST(counted >= 1u);
}

BOOST_AUTO_TEST_CASE(model_management_passes_through) {
  // A pull streams its progress line by line through foreman.
  std::vector<std::string> progress;
  auto pull = http_stream_lines("POST", base + "/api/pull", R"({"name":"phi3"})",
                                [&](const std::string& line) {
                                  progress.push_back(line);
                                  return true;
                                });
  BOOST_TEST(pull.status == 200);
  BOOST_TEST(pull.content_type == "application/x-ndjson");
  BOOST_REQUIRE(progress.size() > 2u);
  BOOST_TEST(parse_json(progress.front())->getValue<std::string>("status")
             == "pulling manifest");
  BOOST_TEST(parse_json(progress.back())->getValue<std::string>("status") == "success");
  BOOST_TEST(http_request("GET", base + "/api/tags").body.find("phi3:latest")
             != std::string::npos);
  auto failed = post("/api/pull", R"({"model":"notfound-model"})");
  BOOST_TEST(failed.body.find("file does not exist") != std::string::npos);
  BOOST_TEST(post("/api/copy", R"({"source":"phi3","destination":"phi3-copy"})").status
             == 200);
  BOOST_TEST(post("/api/copy", R"({"source":"nope","destination":"x"})").status == 404);
  auto created = post("/api/create", R"({"model":"mine","from":"llama3.2","stream":false})");
  BOOST_TEST(created.status == 200);
  BOOST_TEST(post("/api/push", R"({"model":"mine","stream":false})").status == 200);
  auto removed = http_request("DELETE", base + "/api/delete", R"({"model":"phi3-copy"})");
  BOOST_TEST(removed.status == 200);
  BOOST_TEST(http_request("DELETE", base + "/api/delete", R"({"model":"phi3-copy"})").status
             == 404);
  // Blobs: a digest that does not match the bytes is refused by the target.
  const std::string digest
    = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
  BOOST_TEST(http_request("HEAD", base + "/api/blobs/" + digest).status == 404);
  auto upload = http_request("POST", base + "/api/blobs/" + digest, "bytes",
                             {{"Content-Type", "application/octet-stream"}});
  BOOST_TEST(upload.status == 400);
  BOOST_TEST(upload.body.find("digest mismatch") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(backpressure)

BOOST_AUTO_TEST_CASE(a_queued_caller_who_leaves_cancels_its_job) {
  service_fixture fx{three_models_two_slots("0")};
  fx.target.arm_fault("hang", 1, 0, "/api/chat");
  held_request first{fx.base, "/api/chat", chat_body("llama3.2", "first")};
  BOOST_REQUIRE(eventually([&] { return fx.state_of("1") == "loading"; }));
  held_request second{fx.base, "/api/chat", chat_body("llama3.2", "second")};
  BOOST_REQUIRE(eventually([&] { return fx.state_of("2") == "queued"; }));
  second.close();
  BOOST_TEST(eventually([&] { return fx.state_of("2") == "cancelled"; }));
  BOOST_TEST(fx.state_of("1") == "loading");
  first.close();
  BOOST_TEST(eventually([&] { return fx.state_of("1") == "cancelled"; }));
  // Nothing ran for either caller.
  BOOST_TEST(fx.target.counters().generations_started == 0u);
}

BOOST_AUTO_TEST_CASE(a_full_queue_answers_503_like_ollama) {
  service_fixture fx{three_models_two_slots("0"),
                     [](foreman::settings& s) { s.max_queue = 2; }};
  fx.target.arm_fault("hang", 1, 0, "/api/chat");
  held_request running{fx.base, "/api/chat", chat_body("llama3.2", "1")};
  BOOST_REQUIRE(eventually([&] { return fx.state_of("1") == "loading"; }));
  held_request queued_a{fx.base, "/api/chat", chat_body("llama3.2", "2")};
  held_request queued_b{fx.base, "/api/chat", chat_body("llama3.2", "3")};
  BOOST_REQUIRE(eventually([&] { return fx.state_of("3") == "queued"; }));
  auto refused = fx.post("/api/chat", chat_body("llama3.2", "4"));
  BOOST_TEST(refused.status == 503);
  BOOST_TEST(refused.body == busy_body);
  BOOST_TEST(refused.headers.count("Retry-After") == 1u);
  auto refused_openai = fx.post(
    "/v1/chat/completions",
    R"({"model":"llama3.2","messages":[{"role":"user","content":"x"}]})");
  BOOST_TEST(refused_openai.status == 503);
  BOOST_TEST(parse_json(refused_openai.body)->getObject("error")
               ->getValue<std::string>("type")
             == "api_error");
  BOOST_TEST(fx.state_of("4") == "absent");
  for (auto* r : {&queued_b, &queued_a, &running})
    r->close();
  BOOST_TEST(eventually([&] { return fx.state_of("1") == "cancelled"; }));
}

BOOST_AUTO_TEST_CASE(five_hundred_callers_wait_at_once) {
  constexpr int callers = 500;
  service_fixture fx{three_models_two_slots("0"),
                     [](foreman::settings& s) { s.max_waiting = callers + 1; }};
  fx.target.arm_fault("hang", 1, 0, "/api/chat");
  held_request blocker{fx.base, "/api/chat", chat_body("llama3.2", "blocker")};
  BOOST_REQUIRE(eventually([&] { return fx.state_of("1") == "loading"; }));
  std::vector<int> statuses(callers, 0);
  std::vector<std::string> answers(callers);
  std::vector<std::thread> threads;
  for (int i = 0; i < callers; ++i)
    threads.emplace_back([&, i] {
      try {
        auto res = http_request("POST", fx.base + "/api/chat",
                                chat_body("llama3.2", "caller " + std::to_string(i)),
                                {}, std::chrono::seconds{120});
        statuses[i] = res.status;
        if (res.status == 200)
          answers[i] = parse_json(res.body)->getObject("message")
                         ->getValue<std::string>("content");
      } catch (const http_error& e) {
        answers[i] = e.what();
      }
    });
  // All 500 are stored and waiting while the first job holds the target.
  BOOST_TEST(eventually([&] { return fx.state_of("501") == "queued"; },
                        std::chrono::seconds{60}));
  BOOST_TEST(fx.state_of("1") == "loading");
  // Every waiting slot is taken: the next caller hears 503 at once.
  auto refused = fx.post("/api/chat", chat_body("llama3.2", "one too many"));
  BOOST_TEST(refused.status == 503);
  BOOST_TEST(refused.body == busy_body);
  blocker.close();
  for (auto& t : threads)
    t.join();
  int ok = 0;
  for (int i = 0; i < callers; ++i)
    if (statuses[i] == 200 && answers[i] == "llama3.2 says: caller " + std::to_string(i))
      ++ok;
    else
      BOOST_TEST_MESSAGE("caller " << i << ": " << statuses[i] << " " << answers[i]);
  BOOST_TEST(ok == callers);
  BOOST_TEST(fx.state_of("1") == "cancelled");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pass_through)

BOOST_AUTO_TEST_CASE(paths_reach_the_target_as_the_caller_sent_them) {
  // A recording server stands in for the target, to see the request line.
  webhook_receiver recorder;
  service_fixture fx{three_models_two_slots("0"), [&](foreman::settings& s) {
                       s.ollama_url = *foreman::parse_http_url(recorder.url());
                       s.embed_model.clear();
                     }};
  const std::string path = "/api/blobs/sha256%3A" + std::string(64, '0');
  // Written by hand: an HTTP client library would normalize the path itself.
  Poco::Net::StreamSocket socket{
    Poco::Net::SocketAddress{"127.0.0.1", fx.foreman->http_port()}};
  socket.setReceiveTimeout(Poco::Timespan{20, 0});
  auto request = "HEAD " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 + "Connection: close\r\n\r\n";
  socket.sendBytes(request.data(), static_cast<int>(request.size()));
  // foreman answers after the target did, so the recorder has the request.
  char answer[1024];
  while (socket.receiveBytes(answer, sizeof answer) > 0)
    continue;
  auto received = recorder.received();
  BOOST_TEST(std::any_of(received.begin(), received.end(),
                         [&](const received_request& x) { return x.path == path; }));
}

BOOST_AUTO_TEST_SUITE_END()
