#define BOOST_TEST_MODULE log_format_tests
#include <boost/test/unit_test.hpp>

// The real binary with FOREMAN_LOG_FORMAT=json through a job's life, a
// retry, a failure, and webhook deliveries that fail and succeed: every
// line it writes to stderr is one JSON object with the event's attributes
// as typed fields.

#include <cctype>
#include <csignal>
#include <functional>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "fake_target.hpp"
#include "foreman_process.hpp"
#include "http_client.hpp"
#include "temp_dir.hpp"
#include "webhook_receiver.hpp"

using namespace foreman_test;

namespace {

using object_ptr = Poco::JSON::Object::Ptr;

constexpr auto wait_limit = std::chrono::seconds{20};

std::string chat_body(const std::string& content) {
  return R"({"model":"llama3.2","stream":false,"messages":[{"role":"user","content":")"
         + content + R"("}]})";
}

/// The first event with this component and message, parsed.
object_ptr find_event(const std::vector<object_ptr>& events,
                      const std::string& component, const std::string& msg) {
  for (auto& event : events)
    if (event->getValue<std::string>("component") == component
        && event->getValue<std::string>("msg") == msg)
      return event;
  return nullptr;
}

/// "2026-01-02T03:04:05.678Z": RFC 3339 in UTC with milliseconds.
bool is_rfc3339_ms(const std::string& text) {
  const std::string shape = "0000-00-00T00:00:00.000Z";
  if (text.size() != shape.size())
    return false;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] == '0' ? !std::isdigit(static_cast<unsigned char>(text[i]))
                        : text[i] != shape[i])
      return false;
  return true;
}

/// A line that is an event with this message, as printed.
std::function<bool(const std::string&)> event_line(const std::string& msg) {
  return [needle = "\"msg\":\"" + msg + "\""](const std::string& line) {
    return line.find(needle) != std::string::npos;
  };
}

} // namespace

BOOST_AUTO_TEST_CASE(every_line_is_a_json_event_with_typed_attributes) {
  temp_dir dir;
  fake_target target{{"--token-ms", "0"}};
  webhook_receiver receiver;
  foreman_process foreman{{"--ollama-url", target.url(), "--db", dir.file("jobs.db"),
                           "--log-level", "debug", "--retry-backoff", "50ms",
                           "--webhook-backoff", "50ms", "--webhook-max-attempts", "2"},
                          {"FOREMAN_LOG_FORMAT=json"}};
  auto& output = foreman.process();
  auto base = foreman.url();
  // A job's life, a retry after a broken connection, and a final HTTP error.
  BOOST_TEST(http_request("POST", base + "/api/chat", chat_body("one")).status == 200);
  target.arm_fault("reset", 1, 0, "/api/chat");
  BOOST_TEST(http_request("POST", base + "/api/chat", chat_body("two")).status == 200);
  target.arm_fault("http500", 1, 0, "/api/chat");
  BOOST_TEST(http_request("POST", base + "/api/chat", chat_body("three")).status == 500);
  // Webhooks: one receiver answers 404 (the fake target is no receiver),
  // the other takes the events.
  auto hooked_job = [&](const std::string& url) {
    return http_request(
             "POST", base + "/jobs",
             R"({"kind":"chat","model":"llama3.2","state_webhook_url":")" + url
               + R"(","payload":{"messages":[{"role":"user","content":"hi"}]}})")
      .status;
  };
  BOOST_TEST(hooked_job(target.url() + "/not-a-receiver") == 202);
  BOOST_TEST(output.wait_for_line(event_line("event given up"), wait_limit).has_value());
  BOOST_TEST(hooked_job(receiver.url()) == 202);
  BOOST_TEST(output.wait_for_line(event_line("event delivered"), wait_limit).has_value());
  output.signal(SIGTERM);
  BOOST_TEST(output.wait_exit(wait_limit).value_or(-1) == 0);

  std::vector<object_ptr> events;
  for (auto& line : output.lines()) {
    // The one line on stdout: where foreman listens, for people and scripts.
    if (line.rfind("foreman listening on ", 0) == 0)
      continue;
    object_ptr event;
    try {
      event = Poco::JSON::Parser{}.parse(line).extract<object_ptr>();
    } catch (const std::exception& e) {
      BOOST_ERROR("not a JSON object: " << line << " (" << e.what() << ")");
      continue;
    }
    for (auto field : {"time", "level", "component", "msg"})
      BOOST_TEST(event->has(field), line);
    BOOST_TEST(is_rfc3339_ms(event->getValue<std::string>("time")), line);
    events.push_back(event);
  }

  auto done = find_event(events, "worker", "job done");
  BOOST_REQUIRE(done);
  BOOST_TEST(done->get("job_id").isInteger());
  BOOST_TEST(done->getValue<int>("job_id") == 1);
  BOOST_TEST(done->getValue<std::string>("model") == "llama3.2");
  BOOST_TEST(done->getValue<std::string>("state") == "done");
  BOOST_TEST(done->get("duration_ms").isInteger());
  BOOST_TEST(done->getValue<std::string>("target") == target.url());

  auto retry = find_event(events, "worker", "job queued for a retry");
  BOOST_REQUIRE(retry);
  BOOST_TEST(retry->getValue<int>("job_id") == 2);
  BOOST_TEST(retry->getValue<int>("attempt") == 1);
  BOOST_TEST(retry->get("backoff_ms").isInteger());
  BOOST_TEST(retry->getValue<std::string>("error").find("target unreachable")
             != std::string::npos);

  auto failed = find_event(events, "worker", "job failed");
  BOOST_REQUIRE(failed);
  BOOST_TEST(failed->getValue<std::string>("level") == "warning");
  BOOST_TEST(failed->getValue<int>("job_id") == 3);
  BOOST_TEST(!failed->getValue<std::string>("error").empty());

  auto webhook_retry
    = find_event(events, "webhook_dispatcher", "event delivery failed, retrying");
  BOOST_REQUIRE(webhook_retry);
  BOOST_TEST(webhook_retry->getValue<int>("job_id") == 4);
  BOOST_TEST(webhook_retry->get("event_id").isInteger());
  BOOST_TEST(webhook_retry->getValue<int>("attempt") == 1);
  BOOST_TEST(webhook_retry->getValue<std::string>("error").find("404")
             != std::string::npos);
  auto given_up = find_event(events, "webhook_dispatcher", "event given up");
  BOOST_REQUIRE(given_up);
  BOOST_TEST(given_up->getValue<std::string>("level") == "warning");
  BOOST_TEST(given_up->getValue<int>("attempt") == 2);
}
