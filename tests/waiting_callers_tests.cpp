#define BOOST_TEST_MODULE waiting_callers_tests
#include <boost/test/unit_test.hpp>

// Thousands of synchronous callers waiting for their jobs at once (issue
// 10): a real foreman process, the fake target holding the running
// generation, and an event-driven load client (loadgen/) keeping every
// caller's connection open on one thread. While they all wait, foreman must
// hold them on a bounded number of threads; once the target lets go, each
// caller gets the answer to its own request.

#include "chat_calls.hpp"
#include "concurrent_callers.hpp"
#include "fake_target.hpp"
#include "foreman_process.hpp"
#include "foreman_waiting_args.hpp"
#include "http_client.hpp"
#include "http_response_reader.hpp"
#include "keep_alive_clients.hpp"
#include "process_readings.hpp"
#include "temp_dir.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace foreman_test;
using namespace foreman_loadgen;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

const std::string model = "llama3.2";

// What an event-driven edge needs whatever the number of waiting callers:
// the actor scheduler, the store, the target client's runners, a few more.
constexpr std::size_t max_threads_while_waiting = 64;

/// A fake target that holds every generation, and foreman in front of it
/// with room for `callers` waiting callers.
struct held_target_and_foreman {
  temp_dir dir;
  fake_target target{{"--token-ms", "0"}};
  std::unique_ptr<foreman_process> foreman;

  explicit held_target_and_foreman(int callers) {
    // foreman inherits the raised limit: it holds a connection per caller.
    raise_open_file_limit();
    target.hold();
    std::vector<std::string> args{"--ollama-url", target.url(), "--db",
                                  dir.file("jobs.db"), "--db-sync", "normal",
                                  "--log-level", "warning"};
    for (auto& arg : foreman_waiting_args(callers))
      args.push_back(arg);
    foreman = std::make_unique<foreman_process>(args);
  }

  uint16_t port() const {
    return static_cast<uint16_t>(std::stoi(foreman->url().substr(foreman->url().rfind(':') + 1)));
  }

  /// GET /status queue.total: jobs queued, loading or working.
  std::size_t jobs_in_queue() const {
    const auto response = http_request("GET", foreman->url() + "/status");
    if (response.status != 200)
      throw std::runtime_error("GET /status: " + std::to_string(response.status));
    Poco::JSON::Parser parser;
    return parser.parse(response.body)
      .extract<Poco::JSON::Object::Ptr>()
      ->getObject("queue")
      ->getValue<std::size_t>("total");
  }

  /// Polls until every caller's job is stored and the first one is held at
  /// the target, or one caller has already ended (refused, say), or 40 s
  /// have passed.
  void wait_until_all_wait(const concurrent_callers& callers, std::size_t count) const {
    const auto deadline = steady::now() + 40s;
    while (steady::now() < deadline) {
      const auto progress = callers.progress();
      if (progress.answered + progress.failed > 0)
        return;
      if (jobs_in_queue() == count && target.counters().held == 1)
        return;
      std::this_thread::sleep_for(20ms);
    }
  }
};

std::string message_of(std::size_t caller) {
  return "caller " + std::to_string(caller) + " waits";
}

std::vector<http_call> chat_calls(std::size_t count, bool stream) {
  std::vector<http_call> calls;
  for (std::size_t i = 0; i < count; ++i)
    calls.push_back(chat_call(model, message_of(i), stream));
  return calls;
}

/// Reports each caller whose answer is not its own 200 (the first few in
/// full); returns how many there are.
std::size_t count_wrong_answers(const std::vector<call_result>& results, bool streamed) {
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto problem
      = chat_answer_problem(results[i], fake_target_reply(model, message_of(i)), streamed);
    if (!problem.empty() && ++wrong <= 5)
      BOOST_TEST_MESSAGE("caller " << i << ": " << problem);
  }
  return wrong;
}

} // namespace

BOOST_AUTO_TEST_CASE(two_thousand_callers_wait_at_once_on_few_threads) {
  constexpr std::size_t count = 2000;
  held_target_and_foreman fx(static_cast<int>(count));
  concurrent_callers callers({fx.port(), 64, 150s}, chat_calls(count, false));
  fx.wait_until_all_wait(callers, count);

  const auto progress = callers.progress();
  BOOST_TEST_REQUIRE(progress.answered + progress.failed == 0u,
                     "callers ended while the target held the first job: "
                       << progress.answered << " answered, " << progress.failed
                       << " failed");
  BOOST_TEST(progress.sent == count);
  BOOST_TEST_REQUIRE(fx.jobs_in_queue() == count);
  BOOST_TEST(fx.target.counters().held == 1u);
  const auto foreman = read_process(fx.foreman->process().pid());
  BOOST_TEST_MESSAGE("foreman while " << count << " callers wait: " << foreman.threads
                                      << " threads, " << foreman.rss_kib / 1024
                                      << " MiB resident");
  BOOST_TEST(foreman.threads <= max_threads_while_waiting);

  BOOST_TEST(fx.target.release() == 1u);
  BOOST_TEST_REQUIRE(callers.wait_finished(150s));
  BOOST_TEST(count_wrong_answers(callers.results(), false) == 0u);
  BOOST_TEST(callers.progress().answered == count);
  BOOST_TEST(fx.jobs_in_queue() == 0u);
}

BOOST_AUTO_TEST_CASE(streaming_callers_wait_at_once_and_each_reads_its_own_stream) {
  constexpr std::size_t count = 200;
  held_target_and_foreman fx(static_cast<int>(count));
  concurrent_callers callers({fx.port(), 64, 60s}, chat_calls(count, true));
  fx.wait_until_all_wait(callers, count);

  const auto progress = callers.progress();
  BOOST_TEST_REQUIRE(progress.answered + progress.failed == 0u,
                     "callers ended while the target held the first job: "
                       << progress.answered << " answered, " << progress.failed
                       << " failed");
  BOOST_TEST_REQUIRE(fx.jobs_in_queue() == count);

  BOOST_TEST(fx.target.release() == 1u);
  BOOST_TEST_REQUIRE(callers.wait_finished(60s));
  BOOST_TEST(count_wrong_answers(callers.results(), true) == 0u);
}

// -- busy keep-alive clients ----------------------------------------------------

BOOST_AUTO_TEST_CASE(keep_alive_clients_send_until_their_cap_and_see_every_answer) {
  fake_target target{{"--token-ms", "0"}};
  keep_alive_load load;
  load.port = target.port();
  load.connections = 4;
  load.request = {"GET", "/api/version", ""};
  load.duration = 30s;
  load.max_requests = 300;
  std::size_t ok = 0;
  keep_alive_clients clients(load, [&](int status, const std::string& body) {
    if (status == 200 && body.find("\"version\"") != std::string::npos)
      ++ok;
  });
  BOOST_TEST_REQUIRE(clients.wait_finished(30s));
  const auto& totals = clients.totals();
  BOOST_TEST(totals.sent == 300u);
  BOOST_TEST(totals.answered == 300u);
  BOOST_TEST(totals.failed == 0u);
  BOOST_TEST(ok == 300u);
  BOOST_TEST(target.counters().requests_to("/api/version") == 300u);
}

BOOST_AUTO_TEST_CASE(keep_alive_clients_stop_sending_when_their_time_is_up) {
  fake_target target{{"--token-ms", "0"}};
  keep_alive_load load;
  load.port = target.port();
  load.connections = 2;
  load.request = {"GET", "/api/version", ""};
  load.duration = 300ms;
  const auto started = steady::now();
  keep_alive_clients clients(load, [](int, const std::string&) {});
  BOOST_TEST_REQUIRE(clients.wait_finished(10s));
  BOOST_TEST((steady::now() - started < 5s));
  const auto& totals = clients.totals();
  BOOST_TEST(totals.answered == totals.sent);
  BOOST_TEST(totals.failed == 0u);
  BOOST_TEST(totals.answered > 0u);
}

BOOST_AUTO_TEST_CASE(a_keep_alive_client_whose_server_goes_away_fails_with_a_reason) {
  auto target = std::make_unique<fake_target>(std::vector<std::string>{"--token-ms", "0"});
  target->hold();
  keep_alive_load load;
  load.port = target->port();
  load.connections = 1;
  // A chat the held target keeps waiting; then the target is gone.
  load.request = chat_call(model, "held");
  load.max_requests = 1;
  keep_alive_clients clients(load, [](int, const std::string&) {});
  std::this_thread::sleep_for(300ms);
  target.reset();
  BOOST_TEST_REQUIRE(clients.wait_finished(20s));
  const auto& totals = clients.totals();
  BOOST_TEST(totals.answered == 0u);
  BOOST_TEST(totals.failed == 1u);
  BOOST_TEST_REQUIRE(totals.errors.size() == 1u);
  BOOST_TEST_MESSAGE("the client's error: " << totals.errors.front());
}

// -- the load client's reading of responses ------------------------------------

BOOST_AUTO_TEST_SUITE(response_reader)

namespace {

using progress = http_response_reader::progress;

/// Feeds `response` split at `split`; what the reader says after the second
/// part.
progress feed_in_two(http_response_reader& reader, const std::string& response,
                     std::size_t split) {
  reader.feed(response.data(), split);
  return reader.feed(response.data() + split, response.size() - split);
}

} // namespace

BOOST_AUTO_TEST_CASE(a_sized_body_completes_with_its_last_byte) {
  const std::string response
    = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 11\r\n\r\n"
      "{\"a\":\"bc\"}\n";
  http_response_reader reader;
  for (std::size_t i = 0; i + 1 < response.size(); ++i)
    BOOST_TEST_REQUIRE((reader.feed(&response[i], 1) == progress::incomplete), "byte " << i);
  BOOST_TEST((reader.feed(&response.back(), 1) == progress::complete));
  BOOST_TEST(reader.status() == 200);
  BOOST_TEST(reader.body() == "{\"a\":\"bc\"}\n");
}

BOOST_AUTO_TEST_CASE(a_chunked_body_is_joined_wherever_it_is_split) {
  const std::string response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "5;name=value\r\nhello\r\n6\r\n world\r\nA\r\n, chunked!\r\n"
                               "0\r\nX-Trailer: yes\r\n\r\n";
  for (std::size_t split = 0; split <= response.size(); ++split) {
    http_response_reader reader;
    BOOST_TEST_REQUIRE((feed_in_two(reader, response, split) == progress::complete),
                       "split at " << split);
    BOOST_TEST_REQUIRE(reader.body() == "hello world, chunked!", "split at " << split);
  }
}

BOOST_AUTO_TEST_CASE(a_body_without_framing_ends_with_the_connection) {
  const std::string response = "HTTP/1.0 503 Service Unavailable\r\n\r\nbusy";
  http_response_reader reader;
  BOOST_TEST((reader.feed(response.data(), response.size()) == progress::incomplete));
  BOOST_TEST((reader.connection_closed() == progress::complete));
  BOOST_TEST(reader.status() == 503);
  BOOST_TEST(reader.body() == "busy");
}

BOOST_AUTO_TEST_CASE(an_interim_response_is_skipped) {
  const std::string response
    = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
  http_response_reader reader;
  BOOST_TEST((reader.feed(response.data(), response.size()) == progress::complete));
  BOOST_TEST(reader.status() == 204);
}

BOOST_AUTO_TEST_CASE(a_response_cut_short_or_garbled_is_malformed) {
  const std::vector<std::string> cut_short{
    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    "HTTP/1.1 200 OK\r\nContent-"};
  for (const auto& response : cut_short) {
    http_response_reader reader;
    BOOST_TEST((reader.feed(response.data(), response.size()) == progress::incomplete));
    BOOST_TEST((reader.connection_closed() == progress::malformed), response);
    BOOST_TEST(!reader.error().empty());
  }
  const std::vector<std::string> garbled{
    "SMTP ready\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n",
    "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY"};
  for (const auto& response : garbled) {
    http_response_reader reader;
    BOOST_TEST((reader.feed(response.data(), response.size()) == progress::malformed), response);
  }
}

BOOST_AUTO_TEST_SUITE_END()
