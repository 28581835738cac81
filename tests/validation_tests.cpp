#define BOOST_TEST_MODULE validation_tests
#include <boost/test/unit_test.hpp>

// Hostile input over real HTTP: every bad request gets Ollama's status and a
// clear error, nothing of it is stored, and a legitimate job submitted
// beside it still completes.

#include <set>

#include "service_fixture.hpp"
#include "webhook_receiver.hpp"

using namespace foreman_test;

namespace {

/// A few milliseconds per token: the legitimate job is still queued or
/// running while the hostile requests arrive.
const std::vector<std::string> slow_fake = three_models_two_slots("20");

const std::string admin_key = "validation-admin-key-0123";

http_headers bearer() {
  return {{"Authorization", "Bearer " + admin_key}};
}

void with_admin_key(foreman::settings& s) {
  s.api_keys = {{admin_key, foreman::key_scope::admin}};
}

struct hostile_request {
  std::string path;
  std::string body;
  int status;
  /// The whole error text.
  std::string error;
};

/// Sends each request and checks its answer: the status, the error body,
/// and no job id.
void expect_refused(service_fixture& fx, const std::vector<hostile_request>& requests,
                    const http_headers& headers = {}) {
  for (auto& x : requests) {
    auto res = http_request("POST", fx.base + x.path, x.body, headers);
    BOOST_TEST(res.status == x.status, x.path << " " << x.body << " -> " << res.status);
    BOOST_TEST(res.content_type.find("application/json") == 0, x.body);
    BOOST_TEST(parse_json(res.body)->getValue<std::string>("error") == x.error,
               x.path << " " << x.body << " -> " << res.body);
    BOOST_TEST(res.headers.count("X-Foreman-Job-Id") == 0u, x.body);
  }
}

std::string chat_job(const std::string& extra = "") {
  return R"({"kind":"chat","model":"llama3.2","payload":)"
         R"({"messages":[{"role":"user","content":"hi there"}]})"
         + extra + "}";
}

/// Submits a legitimate chat job; its id.
std::string submit(service_fixture& fx, const std::string& body,
                   const http_headers& headers = {}) {
  auto res = http_request("POST", fx.base + "/jobs", body, headers);
  BOOST_REQUIRE_MESSAGE(res.status == 202, res.status << " " << res.body);
  return res.headers.at("X-Foreman-Job-Id");
}

/// The ids GET /jobs lists.
std::set<std::string> listed_ids(service_fixture& fx,
                                 const http_headers& headers = {}) {
  auto page = parse_json(http_request("GET", fx.base + "/jobs", "", headers).body);
  auto jobs = page->getArray("jobs");
  std::set<std::string> ids;
  for (size_t i = 0; i < jobs->size(); ++i)
    ids.insert(std::to_string(
      jobs->getObject(static_cast<unsigned>(i))->getValue<int64_t>("id")));
  return ids;
}

/// The legitimate job ran to the end with the target's answer.
void expect_done(service_fixture& fx, const std::string& id,
                 const http_headers& headers = {}) {
  std::string state;
  BOOST_TEST(eventually([&] {
               auto res = http_request("GET", fx.base + "/jobs/" + id, "", headers);
               state = res.status == 200
                         ? parse_json(res.body)->getValue<std::string>("state")
                         : "";
               return state == "done";
             }),
             "job " << id << " is " << state);
  auto job = parse_json(http_request("GET", fx.base + "/jobs/" + id, "", headers).body);
  auto message = job->getObject("result")->getObject("message");
  BOOST_TEST(message->getValue<std::string>("content") == "llama3.2 says: hi there");
}

const std::string chat_head
  = R"({"model":"llama3.2","messages":[{"role":"user","content":"hi"}])";

std::string chat_with(const std::string& extra) {
  return chat_head + "," + extra + "}";
}

std::string message_with(const std::string& fields) {
  return R"({"model":"llama3.2","messages":[{"role":"user",)" + fields + "}]}";
}

std::string generate_with(const std::string& extra) {
  return R"({"model":"qwen2.5","prompt":"hi",)" + extra + "}";
}

std::string embed_with(const std::string& extra) {
  return R"({"model":"mistral",)" + extra + "}";
}

const std::string bad_format_tail = "; expected \"json\" or a valid JSON Schema object";
const std::string think_levels = R"(("high", "medium", "low", "max", true, or false))";
const std::string image_expectation
  = " must be a base64 string (raw base64, without a data: URL prefix)";
const std::string tool
  = R"({"type":"function","function":{"name":"weather","parameters":)"
    R"({"type":"object","properties":{"city":{"type":"string"}}}}})";

} // namespace

BOOST_AUTO_TEST_CASE(wrongly_typed_fields_get_ollamas_answer_and_nothing_is_stored) {
  service_fixture fx{slow_fake};
  auto legitimate = submit(fx, chat_job());
  std::vector<hostile_request> requests{
    // keep_alive: seconds or a Go duration, on every queued endpoint.
    {"/api/chat", chat_with(R"("keep_alive":{})"), 400,
     "Unsupported type: 'map[string]interface {}'"},
    {"/api/chat", chat_with(R"("keep_alive":[5])"), 400,
     "Unsupported type: '[]interface {}'"},
    {"/api/chat", chat_with(R"("keep_alive":true)"), 400, "Unsupported type: 'bool'"},
    {"/api/chat", chat_with(R"("keep_alive":"-1")"), 400,
     R"(time: missing unit in duration "-1")"},
    {"/api/chat", chat_with(R"("keep_alive":"1d")"), 400,
     R"(time: unknown unit "d" in duration "1d")"},
    {"/api/generate", generate_with(R"("keep_alive":"forever")"), 400,
     R"(time: invalid duration "forever")"},
    {"/api/embed", embed_with(R"("input":"x","keep_alive":{"m":5})"), 400,
     "Unsupported type: 'map[string]interface {}'"},
    {"/api/embeddings", embed_with(R"("prompt":"x","keep_alive":false)"), 400,
     "Unsupported type: 'bool'"},
    // chat: the model, messages and each message's fields, tools.
    {"/api/chat", R"({"model":["llama3.2"]})", 400, "model must be a string"},
    {"/api/chat", message_with(R"("content":5)"), 400,
     "messages[0].content must be a string"},
    {"/api/chat", message_with(R"("content":[{"type":"text","text":"hi"}])"), 400,
     "messages[0].content must be a string"},
    {"/api/chat", message_with(R"("content":"x","thinking":1)"), 400,
     "messages[0].thinking must be a string"},
    {"/api/chat", message_with(R"("content":"x","images":"aGk=")"), 400,
     "messages[0].images must be an array"},
    {"/api/chat",
     message_with(R"("content":"x","images":["data:image/png;base64,aGk="])"), 400,
     "messages[0].images[0]" + image_expectation},
    {"/api/chat", message_with(R"("content":"x","tool_calls":{"name":"f"})"), 400,
     "messages[0].tool_calls must be an array"},
    {"/api/chat",
     message_with(
       R"("content":"","tool_calls":[{"function":{"name":"f","arguments":"{\"a\":1}"}}])"),
     400, "messages[0].tool_calls[0].function.arguments must be a JSON object"},
    {"/api/chat", message_with(R"("content":"x","tool_name":7)"), 400,
     "messages[0].tool_name must be a string"},
    {"/api/chat", chat_with(R"("tools":{"weather":{}})"), 400,
     "tools must be an array"},
    {"/api/chat",
     chat_with(R"("tools":[)" + tool
               + R"(,{"type":"function","function":{"name":5}}])"),
     400, "tools[1].function.name must be a string"},
    {"/api/chat",
     chat_with(R"("tools":[{"type":"function","function":{"name":"w","parameters":)"
               R"({"type":"object","properties":{"city":{"type":5}}}}}])"),
     400,
     "tools[0].function.parameters.properties.city.type must be a string or an array "
     "of strings"},
    {"/api/chat",
     chat_with(R"("tools":[{"type":"function","function":{"name":"w","parameters":)"
               R"({"type":"object","required":"city"}}}])"),
     400, "tools[0].function.parameters.required must be an array"},
    // Flags, think, top_logprobs, format, options.
    {"/api/chat", chat_with(R"("stream":"false")"), 400,
     "stream must be true or false"},
    {"/api/chat", chat_with(R"("truncate":0)"), 400, "truncate must be true or false"},
    {"/api/chat", chat_with(R"("shift":"no")"), 400, "shift must be true or false"},
    {"/api/chat", chat_with(R"("logprobs":1)"), 400, "logprobs must be true or false"},
    {"/api/chat", chat_with(R"("top_logprobs":"5")"), 400,
     "top_logprobs must be an integer"},
    {"/api/chat", chat_with(R"("top_logprobs":21)"), 400,
     "top_logprobs must be between 0 and 20"},
    {"/api/chat", chat_with(R"("think":"hard")"), 400,
     R"(invalid think value: "hard" (must be )" + think_levels.substr(1)},
    {"/api/chat", chat_with(R"("think":1)"), 400,
     "think must be a boolean or string " + think_levels},
    {"/api/chat", chat_with(R"("format":"xml")"), 500,
     R"(invalid format: "\"xml\"")" + bad_format_tail},
    {"/api/chat", chat_with(R"("format":["json"])"), 500,
     R"(invalid format: "[\"json\"]")" + bad_format_tail},
    {"/api/chat", chat_with(R"("options":[])"), 400, "options must be a JSON object"},
    {"/api/chat", chat_with(R"("options":{"temperature":"hot"})"), 500,
     R"(option "temperature" must be of type float32)"},
    {"/api/chat", chat_with(R"("options":{"num_ctx":"8k"})"), 500,
     R"(option "num_ctx" must be of type integer)"},
    {"/api/chat", chat_with(R"("options":{"use_mmap":1})"), 500,
     R"(option "use_mmap" must be of type boolean)"},
    {"/api/chat", chat_with(R"("options":{"stop":"\n"})"), 500,
     R"(option "stop" must be of type array)"},
    {"/api/chat", chat_with(R"("options":{"stop":["\n",null]})"), 500,
     R"(option "stop" must be of an array of strings)"},
    // generate
    {"/api/generate", R"({"model":"qwen2.5","prompt":5})", 400,
     "prompt must be a string"},
    {"/api/generate", generate_with(R"("suffix":[])"), 400, "suffix must be a string"},
    {"/api/generate", generate_with(R"("system":{})"), 400, "system must be a string"},
    {"/api/generate", generate_with(R"("template":1)"), 400,
     "template must be a string"},
    {"/api/generate", generate_with(R"("context":[1,"2"])"), 400,
     "context[1] must be an integer"},
    {"/api/generate", generate_with(R"("context":[1.5])"), 400,
     "context[0] must be an integer"},
    {"/api/generate", generate_with(R"("raw":"yes")"), 400,
     "raw must be true or false"},
    {"/api/generate", generate_with(R"("raw":true,"system":"be brief")"), 400,
     "raw mode does not support template, system, or context"},
    {"/api/generate", generate_with(R"("images":["not base64!"])"), 400,
     "images[0]" + image_expectation},
    {"/api/generate", generate_with(R"("think":"deep")"), 400,
     R"(invalid think value: "deep" (must be )" + think_levels.substr(1)},
    {"/api/generate", generate_with(R"("format":5)"), 500,
     R"(invalid format: "5")" + bad_format_tail},
    // embed and embeddings
    {"/api/embed", embed_with(R"("input":7)"), 400, "invalid input type"},
    {"/api/embed", embed_with(R"("input":["a",1])"), 400, "invalid input type"},
    {"/api/embed", embed_with(R"("input":"x","dimensions":"8")"), 400,
     "dimensions must be an integer"},
    {"/api/embed", embed_with(R"("input":"x","dimensions":1.5)"), 400,
     "dimensions must be an integer"},
    {"/api/embed", embed_with(R"("input":"x","truncate":"yes")"), 400,
     "truncate must be true or false"},
    {"/api/embed", embed_with(R"("input":"x","options":{"num_ctx":true})"), 500,
     R"(option "num_ctx" must be of type integer)"},
    {"/api/embed", R"({"model":"all-minilm","input":"x","keep_alive":[]})", 400,
     "Unsupported type: '[]interface {}'"},
    {"/api/embeddings", embed_with(R"("prompt":["x"])"), 400,
     "prompt must be a string"},
    {"/api/embeddings", embed_with(R"("prompt":"x","options":"fast")"), 400,
     "options must be a JSON object"},
  };
  expect_refused(fx, requests);
  // The same body without its hostile part is served beside them.
  auto res = fx.post("/api/chat", chat_body("llama3.2", "hi there"));
  BOOST_TEST(res.status == 200);
  expect_done(fx, legitimate);
  BOOST_TEST(
    (listed_ids(fx)
     == std::set<std::string>{legitimate, res.headers.at("X-Foreman-Job-Id")}));
  BOOST_TEST(fx.target.counters().requests_to("/api/generate") == 0u);
}

BOOST_AUTO_TEST_CASE(a_jobs_payload_is_checked_as_its_endpoint_checks_it) {
  service_fixture fx{slow_fake};
  auto legitimate = submit(fx, chat_job());
  auto job = [](const std::string& kind, const std::string& payload) {
    return R"({"kind":")" + kind + R"(","model":"llama3.2","payload":)" + payload + "}";
  };
  std::vector<hostile_request> requests{
    {"/jobs", job("chat", chat_with(R"("keep_alive":{})")), 400,
     "payload: Unsupported type: 'map[string]interface {}'"},
    {"/jobs", job("chat", chat_with(R"("keep_alive":"10")")), 400,
     R"(payload: time: missing unit in duration "10")"},
    {"/jobs", job("chat", message_with(R"("content":{"text":"hi"})")), 400,
     "payload: messages[0].content must be a string"},
    {"/jobs", job("chat", chat_with(R"("tools":[{"type":"function","function":[]}])")),
     400, "payload: tools[0].function must be a JSON object"},
    {"/jobs", job("chat", chat_with(R"("think":"max","top_logprobs":-1)")), 400,
     "payload: top_logprobs must be between 0 and 20"},
    // Ollama's 500s are 400s on foreman's own API, like every invalid field.
    {"/jobs", job("chat", chat_with(R"("options":{"temperature":"hot"})")), 400,
     R"(payload: option "temperature" must be of type float32)"},
    {"/jobs", job("chat", chat_with(R"("format":"yaml")")), 400,
     R"(payload: invalid format: "\"yaml\"")" + bad_format_tail},
    {"/jobs", job("generate", R"({"prompt":"hi","context":["a"]})"), 400,
     "payload: context[0] must be an integer"},
    {"/jobs", job("generate", R"({"prompt":"hi","raw":true,"template":"{{.Prompt}}"})"),
     400, "payload: raw mode does not support template, system, or context"},
    {"/jobs", job("embed", R"({"input":"x","dimensions":"8"})"), 400,
     "payload: dimensions must be an integer"},
    {"/jobs", job("embed", R"({"input":{"text":"x"}})"), 400,
     "payload: invalid input type"},
  };
  expect_refused(fx, requests);
  expect_done(fx, legitimate);
  BOOST_TEST((listed_ids(fx) == std::set<std::string>{legitimate}));
}

BOOST_AUTO_TEST_CASE(webhooks_nobody_can_receive_are_refused_without_keys) {
  webhook_receiver receiver;
  service_fixture fx{slow_fake};
  // Without keys a loopback receiver is fine: foreman trusts its callers.
  auto legitimate
    = submit(fx, chat_job(R"(,"state_webhook_url":")" + receiver.url() + "\""));
  auto hooked = [](const std::string& url) {
    return chat_job(R"(,"state_webhook_url":")" + url + "\"");
  };
  const std::string unreachable = "; no receiver can be reached there";
  const std::string link_local
    = "; link-local addresses (such as cloud metadata services) "
      "are refused unless FOREMAN_WEBHOOK_HOSTS names the host";
  const std::string ambiguous
    = "is ambiguous: write an IPv4 address as four decimal numbers, "
      "e.g. ";
  auto long_url = [](size_t size) {
    std::string url = "http://hooks.example/";
    return url + std::string(size - url.size(), 'x');
  };
  auto unresolvable = std::string(64, 'x') + ".example";
  std::vector<hostile_request> requests{
    {"/jobs", hooked("http://0.0.0.0/"), 400,
     "state_webhook_url host '0.0.0.0' is an unspecified address" + unreachable},
    {"/jobs", hooked("http://[::]:8080/hook"), 400,
     "state_webhook_url host '::' resolves to ::, an unspecified address"
       + unreachable},
    {"/jobs", hooked("http://224.0.0.1/"), 400,
     "state_webhook_url host '224.0.0.1' is a multicast address" + unreachable},
    {"/jobs", hooked("http://[ff02::1]/"), 400,
     "state_webhook_url host 'ff02::1' is a multicast address" + unreachable},
    {"/jobs", hooked("http://169.254.169.254/latest/meta-data/"), 400,
     "state_webhook_url host '169.254.169.254' is a link-local address" + link_local},
    {"/jobs", hooked("http://[fe80::1]/"), 400,
     "state_webhook_url host 'fe80::1' is a link-local address" + link_local},
    {"/jobs", hooked("http://2130706433/"), 400,
     "state_webhook_url host '2130706433' " + ambiguous + "127.0.0.1"},
    {"/jobs", hooked("http://0x7f.1/"), 400,
     "state_webhook_url host '0x7f.1' " + ambiguous + "127.0.0.1"},
    {"/jobs", hooked("http://" + unresolvable + "/"), 400,
     "state_webhook_url host '" + unresolvable + "' does not resolve to an address"},
    {"/jobs", hooked(long_url(2049)), 400,
     "state_webhook_url must be at most 2048 characters"},
    {"/jobs", hooked(long_url(100 * 1024)), 400,
     "state_webhook_url must be at most 2048 characters"},
  };
  expect_refused(fx, requests);
  expect_done(fx, legitimate);
  BOOST_TEST((listed_ids(fx) == std::set<std::string>{legitimate}));
  BOOST_TEST(eventually([&] { return receiver.received().size() == 4u; }));
}

BOOST_AUTO_TEST_CASE(with_api_keys_loopback_and_private_webhooks_are_refused) {
  service_fixture fx{slow_fake, with_admin_key};
  auto legitimate = submit(fx, chat_job(), bearer());
  auto hooked = [](const std::string& url) {
    return chat_job(R"(,"state_webhook_url":")" + url + "\"");
  };
  const std::string keyed
    = "; with API keys configured, loopback and private addresses "
      "are refused unless FOREMAN_WEBHOOK_HOSTS names the host";
  std::vector<hostile_request> requests{
    {"/jobs", hooked("http://127.0.0.1:9/hook"), 400,
     "state_webhook_url host '127.0.0.1' is a loopback address" + keyed},
    {"/jobs", hooked("http://localhost:9/hook"), 400,
     "state_webhook_url host 'localhost' resolves to 127.0.0.1, a loopback address"
       + keyed},
    {"/jobs", hooked("http://[::1]:9/hook"), 400,
     "state_webhook_url host '::1' is a loopback address" + keyed},
    {"/jobs", hooked("http://[::ffff:127.0.0.1]/"), 400,
     "state_webhook_url host '::ffff:127.0.0.1' is a loopback address" + keyed},
    {"/jobs", hooked("http://10.0.0.8/"), 400,
     "state_webhook_url host '10.0.0.8' is a private address" + keyed},
    {"/jobs", hooked("http://172.20.1.1/"), 400,
     "state_webhook_url host '172.20.1.1' is a private address" + keyed},
    {"/jobs", hooked("https://192.168.0.10/"), 400,
     "state_webhook_url host '192.168.0.10' is a private address" + keyed},
    {"/jobs", hooked("http://100.64.0.1/"), 400,
     "state_webhook_url host '100.64.0.1' is a private address" + keyed},
    {"/jobs", hooked("http://[fd00::1]/"), 400,
     "state_webhook_url host 'fd00::1' is a private address" + keyed},
  };
  expect_refused(fx, requests, bearer());
  expect_done(fx, legitimate, bearer());
  BOOST_TEST((listed_ids(fx, bearer()) == std::set<std::string>{legitimate}));
}

BOOST_AUTO_TEST_CASE(with_api_keys_a_listed_loopback_receiver_gets_events) {
  webhook_receiver receiver;
  service_fixture fx{slow_fake, [](foreman::settings& s) {
                       with_admin_key(s);
                       s.webhook_hosts = {"127.0.0.1"};
                     }};
  auto id = submit(fx, chat_job(R"(,"state_webhook_url":")" + receiver.url() + "\""),
                   bearer());
  expect_done(fx, id, bearer());
  BOOST_TEST(eventually([&] { return receiver.received().size() == 4u; }));
  // A loopback name the list does not hold is still refused.
  expect_refused(
    fx,
    {{"/jobs", chat_job(R"(,"state_webhook_url":"http://localhost:9/")"), 400,
      "state_webhook_url host 'localhost' is not allowed (FOREMAN_WEBHOOK_HOSTS)"}},
    bearer());
  BOOST_TEST((listed_ids(fx, bearer()) == std::set<std::string>{id}));
}
