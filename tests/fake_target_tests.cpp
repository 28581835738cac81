// foreman-fake-ollama, tested as a real process on loopback: the Ollama API
// shapes it promises (ollama-api.md), its residency model, and its /_fake/
// test hooks.

#define BOOST_TEST_MODULE fake_target_tests
#include <boost/test/unit_test.hpp>

#include "child_process.hpp"
#include "fake_target.hpp"
#include "http_client.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/SHA2Engine.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <functional>
#include <future>
#include <regex>
#include <thread>

using namespace foreman_test;
using namespace std::chrono_literals;
using Poco::JSON::Array;
using Poco::JSON::Object;
using steady = std::chrono::steady_clock;

namespace {

// Small, quick models so that loads are visible but cheap.
const std::vector<std::string> quick_models{
  "--models", "alpha:chat:100:50,beta:chat:200:50,gamma:chat:300:50,embedder:embed:10:20",
  "--token-ms", "0"};

std::vector<std::string> with(std::vector<std::string> args,
                              const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

Object::Ptr parse_object(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<Object::Ptr>();
}

http_response post(const fake_target& fake, const std::string& path,
                   const std::string& body) {
  return http_request("POST", fake.url() + path, body);
}

Object::Ptr post_ok(const fake_target& fake, const std::string& path,
                    const std::string& body) {
  const auto response = post(fake, path, body);
  BOOST_TEST_REQUIRE(response.status == 200, path << " " << body << " -> "
                                                  << response.status << " "
                                                  << response.body);
  return parse_object(response.body);
}

std::string error_of(const http_response& response) {
  return parse_object(response.body)->getValue<std::string>("error");
}

std::string chat_body(const std::string& model, const std::string& content,
                      const std::string& extra = "") {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":")"
         + content + "\"}]" + extra + "}";
}

/// Names listed by /api/ps, in its order.
std::vector<std::string> running(const fake_target& fake) {
  const auto ps = parse_object(http_request("GET", fake.url() + "/api/ps").body);
  std::vector<std::string> names;
  const auto models = ps->getArray("models");
  for (std::size_t i = 0; i < models->size(); ++i)
    names.push_back(models->getObject(static_cast<unsigned>(i))->getValue<std::string>("name"));
  return names;
}

using names = std::vector<std::string>;

long long milliseconds_since(steady::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start)
    .count();
}

/// Seconds from now until an RFC 3339 `expires_at` (UTC or with offset).
double seconds_until(const std::string& rfc3339) {
  std::tm parts{};
  const char* rest = strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &parts);
  BOOST_TEST_REQUIRE(rest != nullptr, rfc3339);
  double fraction = 0;
  if (*rest == '.') {
    char* end = nullptr;
    fraction = std::strtod(rest, &end);
    rest = end;
  }
  long offset = 0;
  if (*rest == '+' || *rest == '-') {
    offset = (std::atol(rest + 1) * 3600 + std::atol(rest + 4) * 60) * (*rest == '-' ? -1 : 1);
  }
  const double epoch = static_cast<double>(timegm(&parts)) - static_cast<double>(offset) + fraction;
  const double now = std::chrono::duration<double>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return epoch - now;
}

std::string expires_at(const fake_target& fake, const std::string& name) {
  const auto ps = parse_object(http_request("GET", fake.url() + "/api/ps").body);
  const auto models = ps->getArray("models");
  for (std::size_t i = 0; i < models->size(); ++i) {
    const auto model = models->getObject(static_cast<unsigned>(i));
    if (model->getValue<std::string>("name") == name)
      return model->getValue<std::string>("expires_at");
  }
  BOOST_FAIL(name << " is not in /api/ps");
  return {};
}

const std::regex rfc3339_pattern{
  R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d))"};

} // namespace

// -- catalogue and status endpoints ------------------------------------------

BOOST_AUTO_TEST_SUITE(status_endpoints)

BOOST_AUTO_TEST_CASE(root_answers_get_and_head) {
  fake_target fake(quick_models);
  const auto get = http_request("GET", fake.url() + "/");
  BOOST_TEST(get.status == 200);
  BOOST_TEST(get.body == "Ollama is running");
  BOOST_TEST(get.content_type == "text/plain; charset=utf-8");
  const auto head = http_request("HEAD", fake.url() + "/");
  BOOST_TEST(head.status == 200);
  BOOST_TEST(head.body.empty());
}

BOOST_AUTO_TEST_CASE(tags_and_version_answer_head) {
  fake_target fake(quick_models);
  for (const char* path : {"/api/tags", "/api/version"}) {
    const auto head = http_request("HEAD", fake.url() + path);
    BOOST_TEST(head.status == 200, path);
    BOOST_TEST(head.content_type == "application/json; charset=utf-8", path);
    BOOST_TEST(head.body.empty(), path);
  }
  BOOST_TEST(fake.counters().requests_to("/api/tags") == 1u);
}

BOOST_AUTO_TEST_CASE(version_is_fake) {
  fake_target fake(quick_models);
  const auto response = http_request("GET", fake.url() + "/api/version");
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.content_type == "application/json; charset=utf-8");
  BOOST_TEST(parse_object(response.body)->getValue<std::string>("version")
             == "0.33.0-fake");
}

BOOST_AUTO_TEST_CASE(tags_list_the_default_catalogue) {
  fake_target fake; // default catalogue
  const auto tags = parse_object(http_request("GET", fake.url() + "/api/tags").body);
  const auto models = tags->getArray("models");
  BOOST_TEST_REQUIRE(models->size() == 4u);
  std::map<std::string, std::string> capability;
  for (std::size_t i = 0; i < models->size(); ++i) {
    const auto model = models->getObject(static_cast<unsigned>(i));
    const auto name = model->getValue<std::string>("name");
    BOOST_TEST(model->getValue<std::string>("model") == name);
    BOOST_TEST(std::regex_match(model->getValue<std::string>("digest"),
                                std::regex("[0-9a-f]{64}")));
    BOOST_TEST(std::regex_match(model->getValue<std::string>("modified_at"),
                                rfc3339_pattern));
    BOOST_TEST(model->getValue<uint64_t>("size") > 0u);
    const auto details = model->getObject("details");
    BOOST_TEST_REQUIRE(details);
    BOOST_TEST(details->getValue<std::string>("format") == "gguf");
    BOOST_TEST(details->getArray("families")->size() == 1u);
    BOOST_TEST(details->has("parameter_size"));
    BOOST_TEST(details->has("quantization_level"));
    const auto capabilities = model->getArray("capabilities");
    BOOST_TEST_REQUIRE(capabilities->size() == 1u);
    capability[name] = capabilities->getElement<std::string>(0);
  }
  const std::map<std::string, std::string> expected{
    {"llama3.2:latest", "completion"},
    {"qwen2.5:latest", "completion"},
    {"mistral:latest", "completion"},
    {"all-minilm:latest", "embedding"}};
  BOOST_TEST((capability == expected));
}

BOOST_AUTO_TEST_CASE(show_describes_a_model) {
  fake_target fake(quick_models);
  const auto by_name = post_ok(fake, "/api/show", R"({"name":"Alpha"})");
  BOOST_TEST(by_name->isObject("model_info"));
  BOOST_TEST(by_name->isObject("details"));
  BOOST_TEST(by_name->has("parameters"));
  BOOST_TEST(by_name->getArray("capabilities")->getElement<std::string>(0)
             == "completion");
  BOOST_TEST(std::regex_match(by_name->getValue<std::string>("modified_at"),
                              rfc3339_pattern));
  const auto embedder = post_ok(fake, "/api/show", R"({"model":"embedder:latest"})");
  BOOST_TEST(embedder->getArray("capabilities")->getElement<std::string>(0)
             == "embedding");

  const auto unknown = post(fake, "/api/show", R"({"model":"foo"})");
  BOOST_TEST(unknown.status == 404);
  BOOST_TEST(error_of(unknown) == "model 'foo:latest' not found");
  const auto missing = post(fake, "/api/show", "{}");
  BOOST_TEST(missing.status == 400);
  BOOST_TEST(error_of(missing) == "model is required");
}

BOOST_AUTO_TEST_CASE(unknown_route_is_a_text_404) {
  fake_target fake(quick_models);
  const auto response = http_request("GET", fake.url() + "/api/nothing");
  BOOST_TEST(response.status == 404);
  BOOST_TEST(response.body == "404 page not found");
  BOOST_TEST(http_request("GET", fake.url() + "/api/chat").status == 405);
}

BOOST_AUTO_TEST_SUITE_END()

// -- chat, generate, embeddings ----------------------------------------------

BOOST_AUTO_TEST_SUITE(inference)

BOOST_AUTO_TEST_CASE(chat_streams_one_word_per_chunk) {
  fake_target fake(with(quick_models, {"--token-ms", "40"}));
  std::vector<std::string> lines;
  std::vector<steady::time_point> arrivals;
  const auto response = http_stream_lines(
    "POST", fake.url() + "/api/chat", chat_body("Alpha", "hello big world"),
    [&](const std::string& line) {
      lines.push_back(line);
      arrivals.push_back(steady::now());
      return true;
    });
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.content_type == "application/x-ndjson");
  BOOST_TEST(response.headers.count("Transfer-Encoding") == 1u);
  BOOST_TEST_REQUIRE(lines.size() == 6u); // five words, then the final object
  std::string content;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    const auto chunk = parse_object(lines[i]);
    BOOST_TEST(chunk->getValue<std::string>("model") == "Alpha");
    BOOST_TEST(chunk->getValue<bool>("done") == false);
    BOOST_TEST(chunk->getObject("message")->getValue<std::string>("role") == "assistant");
    content += chunk->getObject("message")->getValue<std::string>("content");
  }
  BOOST_TEST(content == "Alpha says: hello big world");
  const auto final_chunk = parse_object(lines.back());
  BOOST_TEST(final_chunk->getValue<bool>("done") == true);
  BOOST_TEST(final_chunk->getValue<std::string>("done_reason") == "stop");
  BOOST_TEST(final_chunk->getValue<int>("eval_count") == 5);
  BOOST_TEST(final_chunk->getValue<int>("prompt_eval_count") == 3);
  for (const char* metric : {"total_duration", "load_duration",
                             "prompt_eval_duration", "eval_duration"})
    BOOST_TEST(final_chunk->getValue<int64_t>(metric) > 0, metric);
  BOOST_TEST(std::regex_match(final_chunk->getValue<std::string>("created_at"),
                              rfc3339_pattern));
  // Chunks arrive as they are generated, not all at the end.
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(arrivals.back() - arrivals.front()).count() >= 120);
}

BOOST_AUTO_TEST_CASE(chat_without_streaming_answers_once) {
  fake_target fake(quick_models);
  const auto reply = post_ok(
    fake, "/api/chat",
    R"({"model":"alpha","stream":false,"messages":[{"role":"system","content":"be brief"},)"
    R"({"role":"user","content":"first"},{"role":"assistant","content":"ok"},)"
    R"({"role":"user","content":"second   question"}]})");
  BOOST_TEST(reply->getObject("message")->getValue<std::string>("content")
             == "alpha says: second question");
  BOOST_TEST(reply->getValue<bool>("done") == true);
  BOOST_TEST(reply->getValue<std::string>("done_reason") == "stop");
  BOOST_TEST(reply->getValue<int>("eval_count") == 4);
}

BOOST_AUTO_TEST_CASE(num_predict_caps_the_words) {
  fake_target fake(quick_models);
  const auto reply = post_ok(fake, "/api/chat",
                             chat_body("alpha", "a b c d",
                                       R"(,"stream":false,"options":{"num_predict":3})"));
  BOOST_TEST(reply->getObject("message")->getValue<std::string>("content")
             == "alpha says: a");
  BOOST_TEST(reply->getValue<int>("eval_count") == 3);
  BOOST_TEST(reply->getValue<std::string>("done_reason") == "length");
}

BOOST_AUTO_TEST_CASE(generate_streams_and_answers_once) {
  fake_target fake(quick_models);
  std::string content;
  Object::Ptr final_chunk;
  http_stream_lines("POST", fake.url() + "/api/generate",
                    R"({"model":"beta","prompt":"why is the sky blue"})",
                    [&](const std::string& line) {
                      const auto chunk = parse_object(line);
                      content += chunk->getValue<std::string>("response");
                      if (chunk->getValue<bool>("done"))
                        final_chunk = chunk;
                      return true;
                    });
  BOOST_TEST(content == "beta says: why is the sky blue");
  BOOST_TEST_REQUIRE(final_chunk);
  BOOST_TEST(final_chunk->getArray("context")->size() > 0u);
  BOOST_TEST(final_chunk->getValue<int>("eval_count") == 7);

  const auto once = post_ok(fake, "/api/generate",
                            R"({"model":"beta","prompt":"hi","stream":false})");
  BOOST_TEST(once->getValue<std::string>("response") == "beta says: hi");
  BOOST_TEST(once->getValue<std::string>("done_reason") == "stop");
  BOOST_TEST(once->isArray("context"));
}

BOOST_AUTO_TEST_CASE(embed_returns_unit_vectors_in_input_order) {
  fake_target fake(quick_models);
  const auto reply = post_ok(fake, "/api/embed",
                             R"({"model":"embedder","input":["one","two","one"]})");
  BOOST_TEST(reply->getValue<std::string>("model") == "embedder");
  BOOST_TEST(reply->getValue<int>("prompt_eval_count") == 3);
  const auto embeddings = reply->getArray("embeddings");
  BOOST_TEST_REQUIRE(embeddings->size() == 3u);
  std::vector<std::vector<double>> vectors;
  for (std::size_t i = 0; i < embeddings->size(); ++i) {
    const auto vector = embeddings->getArray(static_cast<unsigned>(i));
    std::vector<double> values;
    double norm = 0;
    for (std::size_t j = 0; j < vector->size(); ++j) {
      values.push_back(vector->getElement<double>(static_cast<unsigned>(j)));
      norm += values.back() * values.back();
    }
    BOOST_TEST(values.size() == 8u);
    BOOST_TEST(std::sqrt(norm) == 1.0, boost::test_tools::tolerance(1e-9));
    vectors.push_back(values);
  }
  BOOST_TEST((vectors[0] == vectors[2])); // deterministic
  BOOST_TEST((vectors[0] != vectors[1]));

  const auto single = post_ok(fake, "/api/embed", R"({"model":"embedder","input":"one"})");
  BOOST_TEST(single->getArray("embeddings")->size() == 1u);
  const auto legacy = post_ok(fake, "/api/embeddings", R"({"model":"embedder","prompt":"one"})");
  BOOST_TEST(legacy->getArray("embedding")->size() == 8u);
  // Embedding is not generating.
  BOOST_TEST(fake.counters().generations_started == 0u);
}

BOOST_AUTO_TEST_CASE(embed_without_input_only_loads) {
  fake_target fake(quick_models);
  const auto reply = post_ok(fake, "/api/embed", R"({"model":"embedder"})");
  BOOST_TEST(reply->getArray("embeddings")->size() == 0u);
  BOOST_TEST(fake.counters().loads_of("embedder:latest") == 1u);
  BOOST_TEST((running(fake) == names{"embedder:latest"}));
}

BOOST_AUTO_TEST_CASE(errors_use_ollama_statuses_and_texts) {
  fake_target fake(quick_models);
  const auto check = [&](const std::string& path, const std::string& body,
                         int status, const std::string& error) {
    const auto response = post(fake, path, body);
    BOOST_TEST(response.status == status, path << " " << body);
    BOOST_TEST(response.content_type == "application/json; charset=utf-8");
    BOOST_TEST(error_of(response) == error, path << " " << body);
  };
  check("/api/chat", chat_body("foo", "hi"), 404, "model 'foo' not found");
  check("/api/generate", R"({"model":"Foo","prompt":"hi"})", 404, "model 'Foo' not found");
  check("/api/embed", R"({"model":"foo","input":"x"})", 404,
        "model \"foo\" not found, try pulling it first");
  check("/api/embeddings", R"({"model":"foo","prompt":"x"})", 404,
        "model \"foo\" not found, try pulling it first");
  check("/api/chat", chat_body("", "hi"), 400, "model is required");
  check("/api/generate", R"({"model":"","prompt":"hi"})", 404, "model '' not found");
  check("/api/embeddings", R"({"prompt":"hi"})", 400, "model is required");
  check("/api/chat", chat_body("embedder", "hi"), 400,
        "\"embedder\" does not support chat");
  check("/api/generate", R"({"model":"embedder","prompt":"hi"})", 400,
        "\"embedder\" does not support generate");
  check("/api/chat", "", 400, "missing request body");
  const auto malformed = post(fake, "/api/chat", "{not json");
  BOOST_TEST(malformed.status == 400);
  BOOST_TEST(!error_of(malformed).empty());
}

BOOST_AUTO_TEST_CASE(bad_keep_alive_values_are_rejected_like_go) {
  fake_target fake(quick_models);
  const auto check = [&](const std::string& keep_alive, const std::string& error) {
    const auto response = post(fake, "/api/chat",
                               chat_body("alpha", "hi", ",\"keep_alive\":" + keep_alive));
    BOOST_TEST(response.status == 400, keep_alive);
    BOOST_TEST(error_of(response) == error, keep_alive);
  };
  check(R"("10")", R"(time: missing unit in duration "10")");
  check(R"("-1")", R"(time: missing unit in duration "-1")");
  check(R"("1d")", R"(time: unknown unit "d" in duration "1d")");
  check(R"("10min")", R"(time: unknown unit "min" in duration "10min")");
  check(R"("abc")", R"(time: invalid duration "abc")");
  check(R"("")", R"(time: invalid duration "")");
  check(R"(" 5m")", R"(time: invalid duration " 5m")");
  // Go's parser reads " m" as the unit (ollama-api.md §4 lists "5 m" under
  // "invalid duration", but time.ParseDuration says "unknown unit").
  check(R"("5 m")", R"(time: unknown unit " m" in duration "5 m")");
  check("true", "Unsupported type: 'bool'");
  check("{}", "Unsupported type: 'map[string]interface {}'");
  check("[]", "Unsupported type: '[]interface {}'");
  // Valid forms pass.
  for (const std::string valid : {"\"300ms\"", "\"1h30m\"", "\"-1m\"", "\"0\"",
                                  "42.5", "-1", "null"})
    BOOST_TEST(post(fake, "/api/chat",
                    chat_body("alpha", "hi", ",\"stream\":false,\"keep_alive\":" + valid))
                   .status
                 == 200,
               valid);
}

BOOST_AUTO_TEST_SUITE_END()

// -- residency -----------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(residency)

BOOST_AUTO_TEST_CASE(empty_messages_load_the_model_once) {
  fake_target fake(quick_models);
  BOOST_TEST(running(fake).empty());
  const auto reply = post_ok(fake, "/api/chat", R"({"model":"alpha","messages":[]})");
  BOOST_TEST(reply->getValue<std::string>("done_reason") == "load");
  BOOST_TEST(reply->getValue<bool>("done") == true);
  BOOST_TEST(reply->getObject("message")->getValue<std::string>("content").empty());
  const auto generate = post_ok(fake, "/api/generate", R"({"model":"alpha"})");
  BOOST_TEST(generate->getValue<std::string>("done_reason") == "load");
  BOOST_TEST(generate->getValue<std::string>("response").empty());
  BOOST_TEST((running(fake) == names{"alpha:latest"}));
  const auto counters = fake.counters();
  BOOST_TEST(counters.loads_of("alpha:latest") == 1u);
  BOOST_TEST(counters.generations_started == 0u);
  BOOST_TEST((counters.resident == names{"alpha:latest"}));
}

BOOST_AUTO_TEST_CASE(keep_alive_zero_unloads) {
  fake_target fake(quick_models);
  post_ok(fake, "/api/chat", R"({"model":"alpha"})");
  const auto unload = post_ok(fake, "/api/chat", R"({"model":"alpha","keep_alive":0})");
  BOOST_TEST(unload->getValue<std::string>("done_reason") == "unload");
  BOOST_TEST(running(fake).empty());

  // A real request with keep_alive 0 unloads once it has finished.
  post_ok(fake, "/api/chat", chat_body("beta", "hi", R"(,"stream":false,"keep_alive":0)"));
  BOOST_TEST(running(fake).empty());
  BOOST_TEST(fake.counters().loads_of("beta:latest") == 1u);
}

BOOST_AUTO_TEST_CASE(budget_evicts_the_least_recently_used) {
  fake_target fake(with(quick_models, {"--max-loaded", "2"}));
  post_ok(fake, "/api/chat", chat_body("alpha", "1", R"(,"stream":false)"));
  post_ok(fake, "/api/chat", chat_body("beta", "2", R"(,"stream":false)"));
  post_ok(fake, "/api/chat", chat_body("gamma", "3", R"(,"stream":false)"));
  auto now_running = running(fake);
  std::sort(now_running.begin(), now_running.end());
  BOOST_TEST((now_running == names{"beta:latest", "gamma:latest"}));

  post_ok(fake, "/api/chat", chat_body("alpha", "4", R"(,"stream":false)"));
  now_running = running(fake);
  std::sort(now_running.begin(), now_running.end());
  BOOST_TEST((now_running == names{"alpha:latest", "gamma:latest"}));
  const auto counters = fake.counters();
  BOOST_TEST(counters.loads_of("alpha:latest") == 2u);
  BOOST_TEST(counters.total_loads == 4u);
}

BOOST_AUTO_TEST_CASE(budget_evicts_the_shortest_keep_alive_first) {
  fake_target fake(with(quick_models, {"--max-loaded", "2"}));
  post_ok(fake, "/api/chat", chat_body("alpha", "1", R"(,"stream":false,"keep_alive":"1h")"));
  post_ok(fake, "/api/chat", chat_body("beta", "2", R"(,"stream":false,"keep_alive":"10m")"));
  post_ok(fake, "/api/chat", chat_body("gamma", "3", R"(,"stream":false)"));
  auto now_running = running(fake);
  std::sort(now_running.begin(), now_running.end());
  BOOST_TEST((now_running == names{"alpha:latest", "gamma:latest"}));
}

BOOST_AUTO_TEST_CASE(ps_lists_latest_expiry_first_and_keep_alive_is_sticky) {
  fake_target fake(with(quick_models, {"--max-loaded", "3", "--default-keep-alive", "5m"}));
  post_ok(fake, "/api/chat", R"({"model":"alpha","keep_alive":"10m"})");
  post_ok(fake, "/api/chat", R"({"model":"beta","keep_alive":-1})");
  post_ok(fake, "/api/chat", R"({"model":"gamma"})"); // default 5m
  BOOST_TEST((running(fake) == names{"beta:latest", "alpha:latest", "gamma:latest"}));
  BOOST_TEST(seconds_until(expires_at(fake, "beta:latest")) > 200.0 * 365 * 86400);
  BOOST_TEST(seconds_until(expires_at(fake, "gamma:latest")) == 300.0,
             boost::test_tools::tolerance(0.05));

  // Without keep_alive the runner keeps its 10m; with one it changes.
  post_ok(fake, "/api/chat", chat_body("alpha", "hi", R"(,"stream":false)"));
  BOOST_TEST(seconds_until(expires_at(fake, "alpha:latest")) == 600.0,
             boost::test_tools::tolerance(0.05));
  post_ok(fake, "/api/chat", chat_body("alpha", "hi", R"(,"stream":false,"keep_alive":"90s")"));
  BOOST_TEST(seconds_until(expires_at(fake, "alpha:latest")) == 90.0,
             boost::test_tools::tolerance(0.05));
  BOOST_TEST((running(fake) == names{"beta:latest", "gamma:latest", "alpha:latest"}));
}

BOOST_AUTO_TEST_CASE(models_expire_after_keep_alive) {
  fake_target fake(quick_models);
  const auto requested = steady::now();
  post_ok(fake, "/api/chat", chat_body("alpha", "hi", R"(,"stream":false,"keep_alive":"400ms")"));
  // Poll /api/ps (bounded) until the model is gone.
  while (!running(fake).empty() && steady::now() - requested < 10s)
    std::this_thread::sleep_for(20ms);
  BOOST_TEST(running(fake).empty());
  BOOST_TEST(milliseconds_since(requested) >= 400);
}

BOOST_AUTO_TEST_CASE(a_load_waits_while_every_resident_model_is_busy) {
  fake_target fake(with(quick_models, {"--max-loaded", "1", "--token-ms", "60"}));
  std::promise<void> alpha_started;
  steady::time_point alpha_finished;
  std::thread alpha([&] {
    bool first = true;
    http_stream_lines("POST", fake.url() + "/api/chat",
                      chat_body("alpha", "one two three four five six"),
                      [&](const std::string& line) {
                        if (first)
                          alpha_started.set_value();
                        first = false;
                        if (parse_object(line)->getValue<bool>("done"))
                          alpha_finished = steady::now();
                        return true;
                      });
  });
  alpha_started.get_future().wait();
  const auto beta = post_ok(fake, "/api/chat", chat_body("beta", "x", R"(,"stream":false)"));
  const auto beta_finished = steady::now();
  alpha.join();
  BOOST_TEST(beta->getValue<bool>("done") == true);
  BOOST_TEST((alpha_finished <= beta_finished));
  // The wait shows in beta's load_duration (queued time counts as loading).
  BOOST_TEST(beta->getValue<int64_t>("load_duration") > 200'000'000);
  const auto counters = fake.counters();
  BOOST_TEST(counters.loads_of("alpha:latest") == 1u);
  BOOST_TEST(counters.loads_of("beta:latest") == 1u);
  BOOST_TEST((counters.resident == names{"beta:latest"}));
}

BOOST_AUTO_TEST_CASE(a_client_leaving_mid_stream_stops_the_generation) {
  fake_target fake(with(quick_models, {"--token-ms", "50"}));
  // 32 words would take 1.6 s; the client reads two chunks and hangs up.
  std::string long_message;
  for (int i = 0; i < 30; ++i)
    long_message += "word ";
  int chunks = 0;
  http_stream_lines("POST", fake.url() + "/api/chat", chat_body("alpha", long_message),
                    [&](const std::string&) { return ++chunks < 2; });
  const auto left = steady::now();
  while (fake.counters().active_generations > 0 && milliseconds_since(left) < 10000)
    std::this_thread::sleep_for(10ms);
  BOOST_TEST(fake.counters().active_generations == 0u);
  BOOST_TEST(milliseconds_since(left) < 1000);
  // The model is idle again, so it serves the next request at once.
  BOOST_TEST(post(fake, "/api/chat", chat_body("alpha", "hi")).status == 200);
}

BOOST_AUTO_TEST_CASE(concurrent_generations_are_counted) {
  fake_target fake(with(quick_models, {"--token-ms", "50"}));
  constexpr int clients = 4;
  std::vector<std::thread> threads;
  std::atomic<int> succeeded{0};
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&, i] {
      const auto response = post(fake, "/api/chat",
                                 chat_body("alpha", "request " + std::to_string(i)
                                                      + " with a few words",
                                           R"(,"stream":false)"));
      if (response.status == 200)
        ++succeeded;
    });
  for (auto& thread : threads)
    thread.join();
  BOOST_TEST(succeeded == clients);
  const auto counters = fake.counters();
  BOOST_TEST(counters.generations_started == static_cast<uint64_t>(clients));
  BOOST_TEST(counters.active_generations == 0u);
  BOOST_TEST(counters.max_concurrent_generations >= 2u);
  BOOST_TEST(counters.max_concurrent_generations <= static_cast<uint64_t>(clients));
  BOOST_TEST(counters.loads_of("alpha:latest") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// -- test hooks and faults -------------------------------------------------------

BOOST_AUTO_TEST_SUITE(hooks)

BOOST_AUTO_TEST_CASE(counters_count_and_reset) {
  fake_target fake(quick_models);
  post_ok(fake, "/api/chat", chat_body("alpha", "hi", R"(,"stream":false)"));
  http_request("GET", fake.url() + "/api/tags");
  auto counters = fake.counters();
  BOOST_TEST(counters.requests == 2u);
  BOOST_TEST(counters.requests_to("/api/chat") == 1u);
  BOOST_TEST(counters.requests_to("/api/tags") == 1u);
  BOOST_TEST(counters.total_loads == 1u);
  BOOST_TEST(counters.generations_started == 1u);
  BOOST_TEST(counters.max_concurrent_generations == 1u);
  fake.reset_counters();
  counters = fake.counters();
  BOOST_TEST(counters.requests == 0u);
  BOOST_TEST(counters.requests_by_path.empty());
  BOOST_TEST(counters.loads.empty());
  BOOST_TEST(counters.generations_started == 0u);
  BOOST_TEST((counters.resident == names{"alpha:latest"})); // residency stays
}

BOOST_AUTO_TEST_CASE(reset_fault_drops_the_connection) {
  fake_target fake(quick_models);
  fake.arm_fault("reset", 1);
  BOOST_CHECK_THROW(post(fake, "/api/chat", chat_body("alpha", "hi")), http_error);
  BOOST_TEST(post(fake, "/api/chat", chat_body("alpha", "hi")).status == 200);
  BOOST_TEST(fake.counters().requests_to("/api/chat") == 2u);
}

BOOST_AUTO_TEST_CASE(http500_fault_applies_to_its_path_and_count) {
  fake_target fake(quick_models);
  fake.arm_fault("http500", 2, 0, "/api/generate");
  BOOST_TEST(post(fake, "/api/chat", chat_body("alpha", "hi")).status == 200);
  for (int i = 0; i < 2; ++i) {
    const auto failed = post(fake, "/api/generate", R"({"model":"alpha","prompt":"x"})");
    BOOST_TEST(failed.status == 500);
    BOOST_TEST(error_of(failed) == "injected failure");
  }
  BOOST_TEST(post(fake, "/api/generate", R"({"model":"alpha","prompt":"x"})").status == 200);

  fake.arm_fault("http500", 5);
  fake.clear_faults();
  BOOST_TEST(post(fake, "/api/embed", R"({"model":"embedder","input":"x"})").status == 200);
}

BOOST_AUTO_TEST_CASE(delay_fault_slows_one_request) {
  fake_target fake(quick_models);
  post_ok(fake, "/api/chat", R"({"model":"alpha"})"); // load first
  fake.arm_fault("delay", 1, 400);
  const auto start = steady::now();
  BOOST_TEST(post(fake, "/api/chat", chat_body("alpha", "hi", R"(,"stream":false)")).status
             == 200);
  BOOST_TEST(milliseconds_since(start) >= 400);
}

BOOST_AUTO_TEST_CASE(hang_fault_times_out_without_blocking_the_server) {
  fake_target fake(quick_models);
  fake.arm_fault("hang", 1, 0, "/api/chat");
  BOOST_CHECK_THROW(http_request("POST", fake.url() + "/api/chat",
                                 chat_body("alpha", "hi"), {}, 500ms),
                    http_timeout);
  BOOST_TEST(http_request("GET", fake.url() + "/api/version").status == 200);
  BOOST_TEST(post(fake, "/api/chat", chat_body("alpha", "hi")).status == 200);
}

BOOST_AUTO_TEST_CASE(server_stops_promptly_while_a_request_hangs) {
  fake_target fake(quick_models);
  fake.arm_fault("hang", 1);
  auto hanging = std::async(std::launch::async, [&] {
    try {
      return http_request("POST", fake.url() + "/api/generate",
                          R"({"model":"alpha","prompt":"x"})", {}, 30s)
        .status;
    } catch (const http_error&) {
      return -1;
    }
  });
  // Wait (bounded) until the fake has the hanging request.
  const auto deadline = steady::now() + 10s;
  while (fake.counters().requests_to("/api/generate") == 0 && steady::now() < deadline)
    std::this_thread::sleep_for(10ms);
  BOOST_TEST_REQUIRE(fake.counters().requests_to("/api/generate") == 1u);
  const auto stopping = steady::now();
  fake.process().signal(SIGTERM);
  const auto status = fake.process().wait_exit(5s);
  BOOST_TEST_REQUIRE(status.has_value());
  BOOST_TEST(*status == 0);
  BOOST_TEST(milliseconds_since(stopping) < 3000);
  BOOST_TEST(hanging.get() == -1);
}

namespace {

/// Polls the counters until `done` holds for them or 10 s have passed;
/// returns the last counters read.
fake_counters wait_for_counters(const fake_target& fake,
                                const std::function<bool(const fake_counters&)>& done) {
  const auto deadline = steady::now() + 10s;
  auto counters = fake.counters();
  while (!done(counters) && steady::now() < deadline) {
    std::this_thread::sleep_for(10ms);
    counters = fake.counters();
  }
  return counters;
}

} // namespace

BOOST_AUTO_TEST_CASE(hold_keeps_generations_until_release) {
  fake_target fake(quick_models);
  fake.hold();
  // Loading without a prompt generates nothing, so it is not held.
  post_ok(fake, "/api/chat", R"({"model":"alpha"})");
  constexpr uint64_t callers = 3;
  std::vector<std::future<http_response>> answers;
  for (uint64_t i = 0; i < callers; ++i)
    answers.push_back(std::async(std::launch::async, [&fake, i] {
      return post(fake, "/api/chat",
                  chat_body("alpha", "caller " + std::to_string(i), R"(,"stream":false)"));
    }));
  const auto held = wait_for_counters(
    fake, [&](const fake_counters& c) { return c.held == callers; });
  BOOST_TEST_REQUIRE(held.held == callers);
  BOOST_TEST(held.holding);
  BOOST_TEST(held.active_generations == callers);
  for (auto& answer : answers)
    BOOST_TEST((answer.wait_for(0s) == std::future_status::timeout));

  BOOST_TEST(fake.release() == callers);
  // Each caller gets the answer to its own message.
  for (uint64_t i = 0; i < callers; ++i) {
    const auto response = answers[i].get();
    BOOST_TEST_REQUIRE(response.status == 200);
    BOOST_TEST(parse_object(response.body)->getObject("message")->getValue<std::string>("content")
               == "alpha says: caller " + std::to_string(i));
  }
  const auto released = fake.counters();
  BOOST_TEST(released.held == 0u);
  BOOST_TEST(!released.holding);
  BOOST_TEST(released.generations_started == callers);
  // Once released, later generations pass.
  BOOST_TEST(post(fake, "/api/generate", R"({"model":"alpha","prompt":"x","stream":false})").status
             == 200);
}

BOOST_AUTO_TEST_CASE(a_held_generation_ends_when_its_client_leaves) {
  fake_target fake(quick_models);
  fake.hold();
  auto leaving = std::async(std::launch::async, [&fake] {
    return http_request("POST", fake.url() + "/api/chat", chat_body("alpha", "hi"), {}, 1500ms);
  });
  BOOST_TEST_REQUIRE(
    wait_for_counters(fake, [](const fake_counters& c) { return c.held == 1; }).held == 1u);
  BOOST_CHECK_THROW(leaving.get(), http_timeout);
  const auto left = steady::now();
  const auto after = wait_for_counters(fake, [](const fake_counters& c) {
    return c.held == 0 && c.active_generations == 0;
  });
  BOOST_TEST(after.held == 0u);
  BOOST_TEST(after.active_generations == 0u);
  BOOST_TEST(milliseconds_since(left) < 1000);
  BOOST_TEST(after.holding); // the hold itself stays until released
}

BOOST_AUTO_TEST_CASE(server_stops_promptly_while_a_generation_is_held) {
  fake_target fake(quick_models);
  fake.hold();
  auto held = std::async(std::launch::async, [&] {
    try {
      return http_request("POST", fake.url() + "/api/generate",
                          R"({"model":"alpha","prompt":"x"})", {}, 30s)
        .status;
    } catch (const http_error&) {
      return -1;
    }
  });
  BOOST_TEST_REQUIRE(
    wait_for_counters(fake, [](const fake_counters& c) { return c.held == 1; }).held == 1u);
  const auto stopping = steady::now();
  fake.process().signal(SIGTERM);
  const auto status = fake.process().wait_exit(5s);
  BOOST_TEST_REQUIRE(status.has_value());
  BOOST_TEST(*status == 0);
  BOOST_TEST(milliseconds_since(stopping) < 3000);
  BOOST_TEST(held.get() == -1);
}

BOOST_AUTO_TEST_SUITE_END()

// -- model management -----------------------------------------------------------

BOOST_AUTO_TEST_SUITE(model_management)

namespace {

http_response delete_model(const fake_target& fake, const std::string& body) {
  return http_request("DELETE", fake.url() + "/api/delete", body);
}

/// Names listed by /api/tags, in its order.
names installed(const fake_target& fake) {
  const auto tags = parse_object(http_request("GET", fake.url() + "/api/tags").body);
  names result;
  const auto models = tags->getArray("models");
  for (std::size_t i = 0; i < models->size(); ++i)
    result.push_back(models->getObject(static_cast<unsigned>(i))->getValue<std::string>("name"));
  return result;
}

bool is_installed(const fake_target& fake, const std::string& name) {
  const auto all = installed(fake);
  return std::find(all.begin(), all.end(), name) != all.end();
}

std::string sha256_of(const std::string& data) {
  Poco::SHA2Engine engine;
  engine.update(data);
  return "sha256:" + Poco::DigestEngine::digestToHex(engine.digest());
}

http_response upload_blob(const fake_target& fake, const std::string& digest,
                          const std::string& data) {
  return http_request("POST", fake.url() + "/api/blobs/" + digest, data,
                      {{"Content-Type", "application/octet-stream"}});
}

/// The stream's lines, parsed.
std::vector<Object::Ptr> stream_objects(const fake_target& fake, const std::string& path,
                                        const std::string& body,
                                        http_response* response = nullptr) {
  std::vector<Object::Ptr> objects;
  const auto reply = http_stream_lines("POST", fake.url() + path, body,
                                       [&](const std::string& line) {
                                         objects.push_back(parse_object(line));
                                         return true;
                                       });
  if (response)
    *response = reply;
  return objects;
}

std::string status_of(const Object::Ptr& object) {
  return object->has("status") ? object->getValue<std::string>("status") : "";
}

const std::regex pulling_pattern{"pulling ([0-9a-f]{12})"};
const std::regex pushing_pattern{"pushing ([0-9a-f]{12})"};

/// Checks one `{"status":"<verb> <12 hex>","digest":...,"total":...,"completed":...}`.
void check_transfer(const Object::Ptr& line, const std::regex& pattern) {
  std::smatch match;
  const auto status = status_of(line);
  BOOST_TEST_REQUIRE(std::regex_match(status, match, pattern), status);
  const auto digest = line->getValue<std::string>("digest");
  BOOST_TEST(std::regex_match(digest, std::regex("sha256:[0-9a-f]{64}")), digest);
  BOOST_TEST(digest.substr(7, 12) == match[1].str());
  BOOST_TEST(line->getValue<uint64_t>("total") > 0u);
  BOOST_TEST(line->getValue<uint64_t>("completed") <= line->getValue<uint64_t>("total"));
}

} // namespace

BOOST_AUTO_TEST_CASE(pull_streams_progress_line_by_line) {
  fake_target fake(quick_models);
  std::vector<std::string> lines;
  std::vector<steady::time_point> arrivals;
  const auto response = http_stream_lines(
    "POST", fake.url() + "/api/pull", R"({"name":"newcomer","insecure":false})",
    [&](const std::string& line) {
      lines.push_back(line);
      arrivals.push_back(steady::now());
      return true;
    });
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.content_type == "application/x-ndjson");
  BOOST_TEST(response.headers.count("Transfer-Encoding") == 1u);
  BOOST_TEST_REQUIRE(lines.size() >= 6u);
  BOOST_TEST(lines.front() == R"({"status":"pulling manifest"})");
  std::size_t transfers = 0;
  for (std::size_t i = 1; i + 3 < lines.size(); ++i, ++transfers)
    check_transfer(parse_object(lines[i]), pulling_pattern);
  BOOST_TEST(transfers >= 2u);
  BOOST_TEST(lines[lines.size() - 3] == R"({"status":"verifying sha256 digest"})");
  BOOST_TEST(lines[lines.size() - 2] == R"({"status":"writing manifest"})");
  BOOST_TEST(lines.back() == R"({"status":"success"})");
  // Each line went out on its own, a few milliseconds after the previous one.
  for (std::size_t i = 1; i < arrivals.size(); ++i)
    BOOST_TEST((arrivals[i] > arrivals[i - 1]));
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(arrivals.back() - arrivals.front()).count() >= 30);

  // Installed: listed first (newest), and it answers.
  const auto now_installed = installed(fake);
  BOOST_TEST_REQUIRE(now_installed.size() == 5u);
  BOOST_TEST(now_installed.front() == "newcomer:latest");
  const auto reply = post_ok(fake, "/api/chat", chat_body("newcomer", "hi", R"(,"stream":false)"));
  BOOST_TEST(reply->getObject("message")->getValue<std::string>("content")
             == "newcomer says: hi");
  const auto shown = post_ok(fake, "/api/show", R"({"model":"newcomer"})");
  BOOST_TEST(shown->getArray("capabilities")->getElement<std::string>(0) == "completion");
  BOOST_TEST(fake.counters().requests_to("/api/pull") == 1u);
}

BOOST_AUTO_TEST_CASE(pull_without_streaming_answers_success_once) {
  fake_target fake(quick_models);
  const auto response = post(fake, "/api/pull", R"({"model":"user/coder:7b","stream":false})");
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.content_type == "application/json; charset=utf-8");
  BOOST_TEST(response.body == R"({"status":"success"})");
  BOOST_TEST(is_installed(fake, "user/coder:7b"));
  // Pulling an installed model succeeds and changes nothing.
  BOOST_TEST(post(fake, "/api/pull", R"({"model":"Alpha","stream":false})").body
             == R"({"status":"success"})");
  BOOST_TEST(installed(fake).size() == 5u);
}

BOOST_AUTO_TEST_CASE(pull_of_a_missing_manifest_fails_like_ollama) {
  fake_target fake(quick_models);
  // Streamed: the error comes after "pulling manifest", with status 200.
  http_response response;
  const auto lines = stream_objects(fake, "/api/pull", R"({"model":"ghost-notfound"})", &response);
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.body
             == "{\"status\":\"pulling manifest\"}\n"
                "{\"error\":\"pull model manifest: file does not exist\"}\n");
  BOOST_TEST(lines.size() == 2u);
  // Not streamed: a plain 500.
  const auto once = post(fake, "/api/pull", R"({"model":"ghost-notfound","stream":false})");
  BOOST_TEST(once.status == 500);
  BOOST_TEST(once.content_type == "application/json; charset=utf-8");
  BOOST_TEST(error_of(once) == "pull model manifest: file does not exist");
  BOOST_TEST(!is_installed(fake, "ghost-notfound:latest"));
  BOOST_TEST(installed(fake).size() == 4u);
}

BOOST_AUTO_TEST_CASE(pull_rejects_invalid_names) {
  fake_target fake(quick_models);
  for (const std::string name : {"", "bad name", "-dash", "a/b/c/d", "ns.x/model",
                                 "model:", "model:bad/tag"}) {
    const auto response = post(fake, "/api/pull", R"({"model":")" + name + "\"}");
    BOOST_TEST(response.status == 400, name);
    BOOST_TEST(response.content_type == "application/json; charset=utf-8", name);
    BOOST_TEST(error_of(response) == "invalid model name", name);
  }
  // Hosts may carry ports and dots; models and tags dots and dashes.
  for (const std::string name : {"myreg.local:5000/team/m:v1", "hf.co/org/repo:Q4_K_M",
                                 "my_model-1.5:q4.0"})
    BOOST_TEST(post(fake, "/api/pull", R"({"model":")" + name + R"(","stream":false})").status
                 == 200,
               name);
  BOOST_TEST(error_of(post(fake, "/api/pull", "")) == "missing request body");
  BOOST_TEST(post(fake, "/api/pull", R"({"model":"m","stream":"yes"})").status == 400);
  BOOST_TEST(http_request("GET", fake.url() + "/api/pull").status == 405);
}

BOOST_AUTO_TEST_CASE(push_streams_progress_for_a_known_model) {
  fake_target fake(quick_models);
  http_response response;
  const auto lines = stream_objects(fake, "/api/push", R"({"name":"alpha"})", &response);
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.content_type == "application/x-ndjson");
  BOOST_TEST_REQUIRE(lines.size() >= 4u);
  BOOST_TEST(status_of(lines.front()) == "retrieving manifest");
  for (std::size_t i = 1; i + 2 < lines.size(); ++i)
    check_transfer(lines[i], pushing_pattern);
  BOOST_TEST(status_of(lines[lines.size() - 2]) == "pushing manifest");
  BOOST_TEST(status_of(lines.back()) == "success");

  const auto once = post(fake, "/api/push", R"({"model":"alpha","stream":false})");
  BOOST_TEST(once.status == 200);
  BOOST_TEST(once.body == R"({"status":"success"})");
}

BOOST_AUTO_TEST_CASE(push_of_an_unknown_model_fails_like_ollama) {
  fake_target fake(quick_models);
  // Ollama cannot read the manifest; the error follows two status lines.
  http_response response;
  const auto lines = stream_objects(fake, "/api/push", R"({"model":"foo"})", &response);
  BOOST_TEST(response.status == 200);
  BOOST_TEST_REQUIRE(lines.size() == 3u);
  BOOST_TEST(status_of(lines[0]) == "retrieving manifest");
  BOOST_TEST(status_of(lines[1]) == "couldn't retrieve manifest");
  BOOST_TEST(lines[2]->getValue<std::string>("error")
             == "open /usr/share/ollama/.ollama/models/manifests/registry.ollama.ai/"
                "library/foo/latest: no such file or directory");
  const auto once = post(fake, "/api/push", R"({"model":"foo","stream":false})");
  BOOST_TEST(once.status == 500);
  BOOST_TEST(error_of(once).find("no such file or directory") != std::string::npos);
  const auto missing = post(fake, "/api/push", "{}");
  BOOST_TEST(missing.status == 400);
  BOOST_TEST(error_of(missing) == "model is required");
}

BOOST_AUTO_TEST_CASE(create_copies_from_a_model) {
  fake_target fake(quick_models);
  http_response response;
  const auto lines = stream_objects(
    fake, "/api/create", R"({"model":"terse","from":"alpha","system":"be terse"})", &response);
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.content_type == "application/x-ndjson");
  BOOST_TEST_REQUIRE(lines.size() >= 3u);
  BOOST_TEST(status_of(lines.front()).rfind("using existing layer sha256:", 0) == 0u);
  BOOST_TEST(status_of(lines[lines.size() - 2]) == "writing manifest");
  BOOST_TEST(status_of(lines.back()) == "success");
  BOOST_TEST(installed(fake).front() == "terse:latest");
  BOOST_TEST(post_ok(fake, "/api/chat", chat_body("terse", "hi", R"(,"stream":false)"))
               ->getObject("message")
               ->getValue<std::string>("content")
             == "terse says: hi");

  // It copies the kind too.
  const auto once = post(fake, "/api/create",
                         R"({"model":"vectors","from":"embedder","stream":false})");
  BOOST_TEST(once.status == 200);
  BOOST_TEST(once.body == R"({"status":"success"})");
  BOOST_TEST(post_ok(fake, "/api/show", R"({"model":"vectors"})")
               ->getArray("capabilities")
               ->getElement<std::string>(0)
             == "embedding");
  BOOST_TEST(post_ok(fake, "/api/embed", R"({"model":"vectors","input":"x"})")
               ->getArray("embeddings")
               ->size()
             == 1u);
}

BOOST_AUTO_TEST_CASE(create_reports_errors_like_ollama) {
  fake_target fake(quick_models);
  // An unknown `from` is pulled first, and that pull fails.
  http_response response;
  const auto lines = stream_objects(fake, "/api/create", R"({"model":"x","from":"nowhere"})",
                                    &response);
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.body
             == "{\"status\":\"pulling manifest\"}\n"
                "{\"error\":\"pull model manifest: file does not exist\"}\n");
  const auto once = post(fake, "/api/create", R"({"model":"x","from":"nowhere","stream":false})");
  BOOST_TEST(once.status == 500);
  BOOST_TEST(error_of(once) == "pull model manifest: file does not exist");
  BOOST_TEST(!is_installed(fake, "x:latest"));

  const auto check = [&](const std::string& body, int status, const std::string& error) {
    const auto failed = post(fake, "/api/create", body);
    BOOST_TEST(failed.status == status, body);
    BOOST_TEST(failed.content_type == "application/json; charset=utf-8", body);
    BOOST_TEST(error_of(failed) == error, body);
  };
  check(R"({"model":"x"})", 400, "neither 'from' or 'files' was specified");
  check(R"({"model":"x","files":{}})", 400, "no files provided to convert");
  check(R"({"model":"bad name","from":"alpha"})", 400, "invalid model name");
  check(R"({"model":"x","from":"bad name"})", 400, "invalid model name");
  check(R"({"model":"x","files":{"m.gguf":"sha256:123"}})", 400, "invalid digest format");
  check(R"({"model":"x","files":["m.gguf"]})", 400,
        "json: cannot unmarshal array into Go struct field CreateRequest.files of type "
        "map[string]string");
  check("", 400, "missing request body");
  BOOST_TEST(installed(fake).size() == 4u);
}

BOOST_AUTO_TEST_CASE(create_from_uploaded_blobs) {
  fake_target fake(quick_models);
  const std::string weights = "GGUF fake weights";
  const auto digest = sha256_of(weights);
  const auto body = R"({"model":"homemade:v1","stream":false,"files":{"model.gguf":")" + digest
                    + "\"}}";
  const auto before_upload = post(fake, "/api/create", body);
  BOOST_TEST(before_upload.status == 400);
  BOOST_TEST(error_of(before_upload).find(digest.substr(7)) != std::string::npos);

  BOOST_TEST(upload_blob(fake, digest, weights).status == 201);
  const auto created = post(fake, "/api/create", body);
  BOOST_TEST(created.status == 200);
  BOOST_TEST(created.body == R"({"status":"success"})");
  BOOST_TEST(is_installed(fake, "homemade:v1"));
  BOOST_TEST(post(fake, "/api/chat", chat_body("homemade:v1", "hi")).status == 200);
}

BOOST_AUTO_TEST_CASE(copy_installs_a_second_name) {
  fake_target fake(quick_models);
  const auto copied = post(fake, "/api/copy", R"({"source":"alpha","destination":"Alpha-Copy:v2"})");
  BOOST_TEST(copied.status == 200);
  BOOST_TEST(copied.body.empty());
  BOOST_TEST(installed(fake).front() == "alpha-copy:v2");
  BOOST_TEST(is_installed(fake, "alpha:latest"));
  BOOST_TEST(post(fake, "/api/chat", chat_body("alpha-copy:v2", "hi")).status == 200);
  // Copying over an installed name replaces it.
  BOOST_TEST(post(fake, "/api/copy", R"({"source":"embedder","destination":"beta"})").status
             == 200);
  BOOST_TEST(installed(fake).size() == 5u);
  BOOST_TEST(post_ok(fake, "/api/show", R"({"model":"beta"})")
               ->getArray("capabilities")
               ->getElement<std::string>(0)
             == "embedding");

  const auto unknown = post(fake, "/api/copy", R"({"source":"foo","destination":"bar"})");
  BOOST_TEST(unknown.status == 404);
  BOOST_TEST(error_of(unknown) == "model \"foo\" not found");
  const auto bad_source = post(fake, "/api/copy", R"({"source":"","destination":"bar"})");
  BOOST_TEST(bad_source.status == 400);
  BOOST_TEST(error_of(bad_source) == "source \"\" is invalid");
  const auto bad_destination = post(fake, "/api/copy", R"({"source":"alpha","destination":"a b"})");
  BOOST_TEST(bad_destination.status == 400);
  BOOST_TEST(error_of(bad_destination) == "destination \"a b\" is invalid");
}

BOOST_AUTO_TEST_CASE(delete_uninstalls_and_unloads) {
  fake_target fake(quick_models);
  post_ok(fake, "/api/chat", chat_body("alpha", "hi", R"(,"stream":false)"));
  BOOST_TEST((running(fake) == names{"alpha:latest"}));

  const auto deleted = delete_model(fake, R"({"model":"alpha"})");
  BOOST_TEST(deleted.status == 200);
  BOOST_TEST(deleted.body.empty());
  BOOST_TEST(running(fake).empty());
  BOOST_TEST(!is_installed(fake, "alpha:latest"));
  const auto chat = post(fake, "/api/chat", chat_body("alpha", "hi"));
  BOOST_TEST(chat.status == 404);
  BOOST_TEST(error_of(chat) == "model 'alpha' not found");

  const auto again = delete_model(fake, R"({"model":"alpha"})");
  BOOST_TEST(again.status == 404);
  BOOST_TEST(again.content_type == "application/json; charset=utf-8");
  BOOST_TEST(error_of(again) == "model 'alpha' not found");
  // The deprecated `name` works too (ollama-js sends it).
  BOOST_TEST(delete_model(fake, R"({"name":"Beta:latest"})").status == 200);
  BOOST_TEST((installed(fake) == names{"gamma:latest", "embedder:latest"}));
  const auto invalid = delete_model(fake, R"({"model":"a b"})");
  BOOST_TEST(invalid.status == 400);
  BOOST_TEST(error_of(invalid) == "name \"a b\" is invalid");
  BOOST_TEST(error_of(delete_model(fake, "")) == "missing request body");
  BOOST_TEST(post(fake, "/api/delete", R"({"model":"gamma"})").status == 405);
  BOOST_TEST(fake.counters().requests_to("/api/delete") == 6u); // the POST too
}

BOOST_AUTO_TEST_CASE(delete_during_a_generation_unloads_when_it_ends) {
  fake_target fake(with(quick_models, {"--token-ms", "40"}));
  std::promise<void> started;
  bool first = true;
  std::string content;
  bool done = false;
  std::thread chat([&] {
    http_stream_lines("POST", fake.url() + "/api/chat",
                      chat_body("alpha", "one two three four five"),
                      [&](const std::string& line) {
                        if (first)
                          started.set_value();
                        first = false;
                        const auto chunk = parse_object(line);
                        content += chunk->getObject("message")->getValue<std::string>("content");
                        done = chunk->getValue<bool>("done");
                        return true;
                      });
  });
  started.get_future().wait();
  BOOST_TEST(delete_model(fake, R"({"model":"alpha"})").status == 200);
  BOOST_TEST((running(fake) == names{"alpha:latest"})); // still busy
  chat.join();
  BOOST_TEST(done);
  BOOST_TEST(content == "alpha says: one two three four five");
  BOOST_TEST(running(fake).empty());
}

BOOST_AUTO_TEST_CASE(blob_upload_checks_the_digest) {
  fake_target fake(quick_models);
  const std::string data = std::string("binary\0data\xff", 12);
  const auto digest = sha256_of(data);
  const auto head = [&](const std::string& which) {
    return http_request("HEAD", fake.url() + "/api/blobs/" + which);
  };
  BOOST_TEST(head(digest).status == 404);

  const auto wrong = sha256_of("something else");
  const auto mismatch = upload_blob(fake, wrong, data);
  BOOST_TEST(mismatch.status == 400);
  BOOST_TEST(mismatch.content_type == "application/json; charset=utf-8");
  BOOST_TEST(error_of(mismatch)
             == "digest mismatch, expected \"" + wrong + "\", got \"" + digest + "\"");
  BOOST_TEST(head(wrong).status == 404);

  const auto created = upload_blob(fake, digest, data);
  BOOST_TEST(created.status == 201);
  BOOST_TEST(created.body.empty());
  const auto found = head(digest);
  BOOST_TEST(found.status == 200);
  BOOST_TEST(found.body.empty());
  BOOST_TEST(upload_blob(fake, digest, data).status == 200); // already there
  // Ollama names blob files sha256-<hex>, so HEAD finds that form too.
  BOOST_TEST(head("sha256-" + digest.substr(7)).status == 200);

  const auto invalid = upload_blob(fake, "sha256:1234", data);
  BOOST_TEST(invalid.status == 400);
  BOOST_TEST(error_of(invalid) == "invalid digest format");
  BOOST_TEST(head("md5:0123").status == 400);
  BOOST_TEST(http_request("GET", fake.url() + "/api/blobs/" + digest).status == 405);
  BOOST_TEST(fake.counters().requests_to("/api/blobs/" + digest) == 5u);
}

BOOST_AUTO_TEST_CASE(management_and_inference_run_concurrently) {
  fake_target fake(with(quick_models, {"--token-ms", "1", "--max-loaded", "3"}));
  constexpr int workers = 4;
  constexpr int rounds = 5;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w)
    threads.emplace_back([&, w] {
      const auto name = "worker" + std::to_string(w);
      for (int round = 0; round < rounds; ++round) {
        const auto expect = [&](const http_response& response, int status) {
          if (response.status != status)
            ++failures;
        };
        expect(post(fake, "/api/pull", R"({"model":")" + name + R"(","stream":false})"), 200);
        expect(post(fake, "/api/chat", chat_body(name, "hello there")), 200);
        expect(post(fake, "/api/copy",
                    R"({"source":")" + name + R"(","destination":")" + name + "-copy\"}"),
               200);
        expect(delete_model(fake, R"({"model":")" + name + "\"}"), 200);
        expect(post(fake, "/api/chat", chat_body(name + "-copy", "again", R"(,"stream":false)")),
               200);
        expect(delete_model(fake, R"({"model":")" + name + "-copy\"}"), 200);
      }
    });
  threads.emplace_back([&] {
    for (int i = 0; i < workers * rounds; ++i) {
      if (post(fake, "/api/chat", chat_body("alpha", "steady", R"(,"stream":false)")).status
          != 200)
        ++failures;
      http_request("GET", fake.url() + "/api/tags");
      http_request("GET", fake.url() + "/api/ps");
    }
  });
  for (auto& thread : threads)
    thread.join();
  BOOST_TEST(failures == 0);
  BOOST_TEST(installed(fake).size() == 4u);
  BOOST_TEST(fake.counters().requests_to("/api/pull") == static_cast<uint64_t>(workers * rounds));
}

BOOST_AUTO_TEST_SUITE_END()

// -- the process -------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(process)

BOOST_AUTO_TEST_CASE(bad_arguments_exit_with_2) {
  for (const auto& args : std::vector<std::vector<std::string>>{
         {"--bogus"},
         {"--max-loaded", "0"},
         {"--models", "alpha:chat"},
         {"--models", "alpha:text:1:1"},
         {"--default-keep-alive", "10min"},
         {"--listen", "nowhere"},
         {"--token-ms"}}) {
    child_process child(FOREMAN_FAKE_TARGET_BIN, args);
    const auto status = child.wait_exit(10s);
    BOOST_TEST_REQUIRE(status.has_value(), args.front());
    BOOST_TEST(*status == 2, args.front());
    BOOST_TEST(child.wait_for_line("foreman-fake-ollama: ", 5s).has_value());
  }
}

BOOST_AUTO_TEST_CASE(sigint_stops_it_cleanly) {
  fake_target fake(quick_models);
  fake.process().signal(SIGINT);
  const auto status = fake.process().wait_exit(5s);
  BOOST_TEST_REQUIRE(status.has_value());
  BOOST_TEST(*status == 0);
}

BOOST_AUTO_TEST_CASE(model_names_may_carry_tags) {
  fake_target fake({"--models", "llama3.2:latest:chat:10:0,user/coder:7b:chat:10:0",
                    "--token-ms", "0"});
  const auto tags = parse_object(http_request("GET", fake.url() + "/api/tags").body);
  const auto models = tags->getArray("models");
  BOOST_TEST_REQUIRE(models->size() == 2u);
  BOOST_TEST(models->getObject(0)->getValue<std::string>("name") == "llama3.2:latest");
  BOOST_TEST(models->getObject(1)->getValue<std::string>("name") == "user/coder:7b");
  const auto reply = post_ok(fake, "/api/chat",
                             chat_body("LLAMA3.2", "hi", R"(,"stream":false)"));
  BOOST_TEST(reply->getValue<std::string>("model") == "LLAMA3.2");
  BOOST_TEST(post(fake, "/api/chat", chat_body("user/coder", "hi")).status == 404);
  BOOST_TEST(post(fake, "/api/chat", chat_body("user/coder:7b", "hi")).status == 200);
}

BOOST_AUTO_TEST_SUITE_END()
