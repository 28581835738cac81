#define BOOST_TEST_MODULE events_tests
#include <boost/test/unit_test.hpp>

// GET /events over real HTTP: job transitions in order with ids, resuming
// by Last-Event-ID, the snapshot, client keys seeing their own jobs only,
// worker and stats events, and many idle subscribers on few threads.

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>

#include "service_fixture.hpp"

using namespace foreman_test;

namespace {

struct sse_frame {
  std::string id;
  std::string name;
  std::string data;
};

/// Reads GET /events on a thread of its own and keeps every frame.
class sse_reader {
public:
  sse_reader(const std::string& base, const http_headers& headers = {},
             const std::string& query = "") {
    thread_ = std::thread([this, base, headers, query] {
      try {
        auto res = http_stream_lines(
          "GET", base + "/events" + query, "",
          [this](const std::string& line) { return take(line); }, headers,
          std::chrono::seconds{60});
        status_ = res.status;
      } catch (const http_error&) {
        // The test closed the stream or foreman stopped.
      }
      finished_ = true;
    });
  }

  ~sse_reader() {
    stop_ = true;
    thread_.join();
  }

  std::vector<sse_frame> frames() {
    std::lock_guard<std::mutex> guard{mutex_};
    return frames_;
  }

  std::vector<sse_frame> named(const std::string& name) {
    std::vector<sse_frame> result;
    for (auto& frame : frames())
      if (frame.name == name)
        result.push_back(frame);
    return result;
  }

  /// The job events of one job, in arrival order.
  std::vector<object_ptr> job_events(const std::string& job_id) {
    std::vector<object_ptr> result;
    for (auto& frame : named("job")) {
      auto x = parse_json(frame.data);
      if (std::to_string(x->getValue<int64_t>("job_id")) == job_id)
        result.push_back(x);
    }
    return result;
  }

  bool saw_state(const std::string& job_id, const std::string& state) {
    for (auto& x : job_events(job_id))
      if (x->getValue<std::string>("state") == state)
        return true;
    return false;
  }

  bool finished() const {
    return finished_;
  }

private:
  bool take(const std::string& raw) {
    auto line = raw;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    std::lock_guard<std::mutex> guard{mutex_};
    if (line.empty()) {
      if (!pending_.name.empty())
        frames_.push_back(std::exchange(pending_, {}));
    } else if (line.rfind("id: ", 0) == 0) {
      pending_.id = line.substr(4);
    } else if (line.rfind("event: ", 0) == 0) {
      pending_.name = line.substr(7);
    } else if (line.rfind("data: ", 0) == 0) {
      pending_.data += line.substr(6);
    }
    return !stop_;
  }

  std::mutex mutex_;
  std::vector<sse_frame> frames_;
  sse_frame pending_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  int status_ = 0;
  std::thread thread_;
};

std::string post_job(service_fixture& fx, const std::string& model,
                     const http_headers& headers = {},
                     const std::string& message = "hi") {
  auto res = http_request("POST", fx.base + "/jobs",
                          R"({"kind":"chat","model":")" + model
                            + R"(","payload":{"messages":[{"role":"user","content":")"
                            + message + R"("}]}})",
                          headers);
  BOOST_REQUIRE_MESSAGE(res.status == 202, res.status << " " << res.body);
  return res.headers.at("X-Foreman-Job-Id");
}

/// Stats every 100 ms, so an idle stream still sees a line often.
struct events_fixture : service_fixture {
  explicit events_fixture(const std::function<void(foreman::settings&)>& adjust = {})
    : service_fixture(three_models_two_slots("1"), [adjust](foreman::settings& s) {
        s.event_stats_ms = 100;
        if (adjust)
          adjust(s);
      }) {
  }
};

size_t thread_count() {
  size_t n = 0;
  for ([[maybe_unused]] auto& entry :
       std::filesystem::directory_iterator{"/proc/self/task"})
    ++n;
  return n;
}

} // namespace

BOOST_AUTO_TEST_SUITE(event_stream)

BOOST_FIXTURE_TEST_CASE(job_transitions_arrive_in_order_with_increasing_ids,
                        events_fixture) {
  sse_reader events{base};
  // A stream without Last-Event-ID starts with the worker, the target and a
  // snapshot.
  BOOST_REQUIRE(eventually([&] { return !events.named("snapshot").empty(); }));
  auto first = events.frames();
  BOOST_TEST(first.at(0).name == "worker");
  BOOST_TEST(first.at(1).name == "target");
  BOOST_TEST(first.at(2).name == "snapshot");
  auto snapshot = parse_json(first.at(2).data);
  BOOST_TEST(snapshot->getObject("status")->getObject("worker")->getValue<std::string>("state")
             == "idle");
  BOOST_TEST(snapshot->getArray("jobs")->size() == 0u);

  auto id = post_job(*this, "llama3.2", {{"X-Foreman-Client", "alice"}});
  BOOST_REQUIRE(eventually([&] { return events.saw_state(id, "done"); }));
  std::vector<std::string> states;
  std::string previous = "null";
  for (auto& x : events.job_events(id)) {
    states.push_back(x->getValue<std::string>("state"));
    auto before = x->get("previous_state");
    BOOST_TEST((before.isEmpty() ? std::string{"null"} : before.convert<std::string>())
               == previous);
    previous = states.back();
    BOOST_TEST(x->getValue<std::string>("kind") == "chat");
    BOOST_TEST(x->getValue<std::string>("client") == "alice");
    BOOST_TEST(x->getValue<std::string>("model") == "llama3.2");
    BOOST_TEST(x->has("timestamp"));
  }
  BOOST_TEST((states == std::vector<std::string>{"queued", "loading", "working", "done"}));
  auto done = events.job_events(id).back();
  BOOST_TEST(done->getObject("result")->size() > 0u);
  auto artifact = done->getArray("artifacts")->getObject(0);
  BOOST_TEST(artifact->getValue<std::string>("url") == "/jobs/" + id + "/artifacts/completion");
  int64_t last = 0;
  for (auto& frame : events.named("job")) {
    BOOST_REQUIRE(!frame.id.empty());
    auto seq = std::stoll(frame.id);
    BOOST_TEST(seq > last);
    BOOST_TEST(parse_json(frame.data)->getValue<int64_t>("event_id") == seq);
    last = seq;
  }
  // The worker's changes and the periodic stats come too.
  BOOST_TEST(eventually([&] {
    for (auto& frame : events.named("worker"))
      if (parse_json(frame.data)->getValue<std::string>("state") != "idle")
        return true;
    return false;
  }));
  BOOST_REQUIRE(eventually([&] {
    for (auto& frame : events.named("stats"))
      if (parse_json(frame.data)->getValue<int64_t>("jobs_per_minute") >= 1)
        return true;
    return false;
  }));
  auto stats = parse_json(events.named("stats").back().data);
  BOOST_TEST(stats->getObject("queue")->has("by_model"));
}

BOOST_FIXTURE_TEST_CASE(last_event_id_resumes_after_that_event, events_fixture) {
  std::string first_id, second_id;
  std::string resume_after;
  {
    sse_reader events{base};
    BOOST_REQUIRE(eventually([&] { return !events.named("snapshot").empty(); }));
    first_id = post_job(*this, "llama3.2");
    BOOST_REQUIRE(eventually([&] { return events.saw_state(first_id, "done"); }));
    // Resume from the first job's "working" event.
    for (auto& frame : events.named("job"))
      if (parse_json(frame.data)->getValue<std::string>("state") == "working")
        resume_after = frame.id;
  }
  BOOST_REQUIRE(!resume_after.empty());
  // Meanwhile another job runs.
  second_id = post_job(*this, "qwen2.5");
  BOOST_REQUIRE(eventually([&] { return state_of(second_id) == "done"; }));

  sse_reader resumed{base, {{"Last-Event-ID", resume_after}}};
  BOOST_REQUIRE(eventually([&] { return resumed.saw_state(second_id, "done"); }));
  BOOST_TEST(resumed.named("snapshot").empty());
  auto jobs = resumed.named("job");
  BOOST_REQUIRE(!jobs.empty());
  // First comes the event right after the one resumed from: job 1's done.
  BOOST_TEST(std::stoll(jobs.front().id) == std::stoll(resume_after) + 1);
  BOOST_TEST(resumed.job_events(first_id).size() == 1u);
  BOOST_TEST(resumed.job_events(first_id).front()->getValue<std::string>("state") == "done");
  BOOST_TEST(resumed.job_events(second_id).size() == 4u);

  // An id the journal never handed out starts over with a snapshot.
  sse_reader unknown{base, {{"Last-Event-ID", "999999"}}};
  BOOST_REQUIRE(eventually([&] { return !unknown.named("snapshot").empty(); }));
  auto snapshot = unknown.named("snapshot").front();
  BOOST_TEST(std::stoll(snapshot.id) == std::stoll(jobs.back().id));
  BOOST_TEST(parse_json(snapshot.data)->getArray("jobs")->size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_streamed_job_reports_its_growing_token_count) {
  // 40 ms a token: the stream lasts long enough for several reports.
  service_fixture fx{three_models_two_slots("40")};
  sse_reader events{fx.base};
  BOOST_REQUIRE(eventually([&] { return !events.named("snapshot").empty(); }));
  // The fake answers "llama3.2 says:" and the message: 22 tokens, streamed
  // over about 0.9 s.
  std::string twenty_words;
  for (int i = 0; i < 20; ++i)
    twenty_words += (i > 0 ? " w" : "w") + std::to_string(i);
  auto id = post_job(fx, "llama3.2", {}, twenty_words);
  BOOST_REQUIRE(eventually([&] { return events.saw_state(id, "done"); }));
  std::vector<int64_t> counts;
  std::vector<bool> finals;
  for (auto& frame : events.named("progress")) {
    auto x = parse_json(frame.data);
    BOOST_TEST(frame.id.empty());
    if (std::to_string(x->getValue<int64_t>("job_id")) != id)
      continue;
    counts.push_back(x->getValue<int64_t>("tokens"));
    finals.push_back(x->getValue<bool>("final"));
  }
  BOOST_REQUIRE(counts.size() >= 3u);
  // The count grows while the job streams and ends at the right number,
  // reported once as final before the job is done.
  BOOST_TEST(counts.back() == 22);
  BOOST_TEST(finals.back());
  BOOST_TEST(std::count(finals.begin(), finals.end(), true) == 1);
  BOOST_TEST(std::is_sorted(counts.begin(), counts.end()));
  BOOST_TEST(counts.front() > 0);
  BOOST_TEST(counts.front() < 22);
  // At most one report per 250 ms: far fewer reports than tokens.
  BOOST_TEST(counts.size() <= 8u);
}

BOOST_FIXTURE_TEST_CASE(a_history_after_the_snapshot_counts_what_ran_before,
                        events_fixture) {
  auto before = post_job(*this, "llama3.2");
  BOOST_REQUIRE(eventually([&] { return state_of(before) == "done"; }));
  sse_reader events{base, {}, "?history=1"};
  BOOST_REQUIRE(eventually([&] { return !events.named("history").empty(); }));
  auto opening = events.frames();
  BOOST_REQUIRE(opening.size() >= 4u);
  BOOST_TEST(opening.at(2).name == "snapshot");
  BOOST_TEST(opening.at(3).name == "history");
  BOOST_TEST(opening.at(3).id.empty());
  auto history = parse_json(opening.at(3).data);
  // The job that ran before the stream opened: queued and ended within the
  // last minute, its model loaded once, its wait before starting counted.
  auto queue = history->getArray("queue");
  BOOST_REQUIRE(queue->size() >= 1u);
  auto now = queue->getObject(static_cast<unsigned>(queue->size() - 1));
  BOOST_TEST(now->getValue<std::string>("timestamp") == history->getValue<std::string>("to"));
  BOOST_TEST(now->getValue<int64_t>("queued") == 0);
  BOOST_TEST(now->getValue<int64_t>("jobs_per_minute") == 1);
  BOOST_TEST(history->getValue<std::string>("from") <= history->getValue<std::string>("to"));
  auto loads = history->getArray("loads");
  BOOST_REQUIRE_EQUAL(loads->size(), 1u);
  BOOST_TEST(loads->getObject(0)->getValue<std::string>("model") == "llama3.2");
  auto waits = history->getArray("waits_ms");
  BOOST_REQUIRE_EQUAL(waits->size(), 1u);
  BOOST_TEST(waits->getElement<int64_t>(0) >= 0);
  // A job after the snapshot comes live only: one history per stream.
  auto after = post_job(*this, "qwen2.5");
  BOOST_REQUIRE(eventually([&] { return events.saw_state(after, "done"); }));
  BOOST_TEST(events.named("history").size() == 1u);
  BOOST_TEST(events.job_events(before).empty());
  // Without asking there is none; anything else in the query is refused.
  sse_reader plain{base};
  BOOST_REQUIRE(eventually([&] { return !plain.named("snapshot").empty(); }));
  BOOST_TEST(plain.named("history").empty());
  for (auto query : {"?history=2", "?since=0", "?history=1&x=1"})
    BOOST_TEST(http_request("GET", base + "/events" + query).status == 400, query);
}

const std::string alice_key = "alice-key-0123456789";
const std::string bob_key = "bob-key-0123456789ab";
const std::string admin_key = "ops-key-0123456789ab";

http_headers bearer(const std::string& key) {
  return {{"Authorization", "Bearer " + key}};
}

BOOST_AUTO_TEST_CASE(a_client_key_sees_only_its_own_jobs) {
  events_fixture fx{[](foreman::settings& s) {
    s.api_keys = {{alice_key, foreman::key_scope::client},
                  {bob_key, foreman::key_scope::client},
                  {admin_key, foreman::key_scope::admin}};
  }};
  BOOST_TEST(http_request("GET", fx.base + "/events").status == 401);
  sse_reader alice{fx.base, bearer(alice_key)};
  sse_reader admin{fx.base, bearer(admin_key)};
  BOOST_REQUIRE(eventually([&] {
    return !alice.named("snapshot").empty() && !admin.named("snapshot").empty();
  }));
  auto bobs = post_job(fx, "llama3.2", bearer(bob_key));
  auto alices = post_job(fx, "llama3.2", bearer(alice_key));
  BOOST_REQUIRE(eventually([&] {
    return admin.saw_state(bobs, "done") && admin.saw_state(alices, "done")
           && alice.saw_state(alices, "done");
  }));
  BOOST_TEST(alice.job_events(bobs).empty());
  // So is every job's progress: the admin sees both, Alice her own.
  auto progress_of = [](sse_reader& reader, const std::string& job_id) {
    for (auto& frame : reader.named("progress"))
      if (std::to_string(parse_json(frame.data)->getValue<int64_t>("job_id")) == job_id)
        return true;
    return false;
  };
  BOOST_TEST(progress_of(admin, bobs));
  BOOST_TEST(progress_of(admin, alices));
  BOOST_TEST(progress_of(alice, alices));
  BOOST_TEST(!progress_of(alice, bobs));
  // Resumed and snapshot streams are filtered the same way.
  sse_reader alice_again{fx.base, {{"Authorization", "Bearer " + alice_key},
                                   {"Last-Event-ID", "0"}}};
  BOOST_REQUIRE(eventually([&] { return alice_again.saw_state(alices, "done"); }));
  BOOST_TEST(alice_again.job_events(bobs).empty());
  sse_reader alice_fresh{fx.base, bearer(alice_key)};
  BOOST_REQUIRE(eventually([&] { return !alice_fresh.named("snapshot").empty(); }));
  auto listed = parse_json(alice_fresh.named("snapshot").front().data)->getArray("jobs");
  BOOST_REQUIRE_EQUAL(listed->size(), 1u);
  BOOST_TEST(std::to_string(listed->getObject(0)->getValue<int64_t>("id")) == alices);
}

BOOST_FIXTURE_TEST_CASE(many_idle_subscribers_hold_no_thread_each, events_fixture) {
  constexpr int subscribers = 300;
  auto threads_before = thread_count();
  auto port = static_cast<uint16_t>(std::stoi(base.substr(base.rfind(':') + 1)));
  std::vector<Poco::Net::StreamSocket> sockets(subscribers);
  for (auto& socket : sockets) {
    socket.connect(Poco::Net::SocketAddress{"127.0.0.1", port});
    std::string request = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    socket.sendBytes(request.data(), static_cast<int>(request.size()));
    socket.setReceiveTimeout(Poco::Timespan{20, 0});
  }
  auto id = post_job(*this, "llama3.2");
  auto done_marker = "\"job_id\":" + id + ",\"state\":\"done\"";
  for (auto& socket : sockets) {
    std::string seen;
    char buffer[4096];
    while (seen.find(done_marker) == std::string::npos) {
      auto n = socket.receiveBytes(buffer, sizeof(buffer));
      BOOST_REQUIRE(n > 0);
      seen.append(buffer, static_cast<size_t>(n));
    }
  }
  // The event loop and the actor scheduler serve them all.
  BOOST_TEST(thread_count() < threads_before + 8);
  for (auto& socket : sockets)
    socket.close();
}

BOOST_AUTO_TEST_SUITE_END()
