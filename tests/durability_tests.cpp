#define BOOST_TEST_MODULE durability_tests
#include <boost/test/unit_test.hpp>

// foreman killed with SIGKILL, or stopped with SIGTERM, while jobs are
// queued and one is running: after a restart on the same database, every
// accepted job completes and its webhook events arrive in order. Also the
// config file layer as the real binary reads it.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

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
using clock_type = std::chrono::steady_clock;

object_ptr get_job(const std::string& base, int id) {
  auto res = http_request("GET", base + "/jobs/" + std::to_string(id));
  if (res.status != 200)
    return nullptr;
  Poco::JSON::Parser parser;
  return parser.parse(res.body).extract<object_ptr>();
}

std::string state_of(const std::string& base, int id) {
  auto job = get_job(base, id);
  return job ? job->getValue<std::string>("state") : "absent";
}

/// The text of a done chat job's answer, from its result.
std::string answer_of(const object_ptr& job) {
  auto result = job->getObject("result");
  return result ? result->getObject("message")->getValue<std::string>("content")
                : std::string{};
}

/// Polls until `condition` holds; false when `limit` passes first.
template <class Condition>
bool eventually(Condition condition, std::chrono::seconds limit) {
  auto deadline = clock_type::now() + limit;
  while (clock_type::now() < deadline) {
    if (condition())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return condition();
}

std::string words(int job) {
  return "job " + std::to_string(job) + " of the durability test";
}

} // namespace

BOOST_AUTO_TEST_CASE(every_accepted_job_survives_sigkill) {
  constexpr int jobs = 5;
  temp_dir dir;
  // 100 ms per word: a job generates for about a second.
  fake_target target{{"--token-ms", "100"}};
  std::vector<std::string> args{"--ollama-url", target.url(), "--db",
                                dir.file("jobs.db")};
  std::vector<std::thread> callers;
  {
    foreman_process first{args};
    auto base = first.url();
    for (int i = 1; i <= jobs; ++i) {
      callers.emplace_back([base, i] {
        try {
          http_request("POST", base + "/api/chat",
                       R"({"model":"llama3.2","stream":false,"messages":[)"
                       R"({"role":"user","content":")" + words(i) + R"("}]})",
                       {}, std::chrono::seconds{60});
        } catch (const http_error&) {
          // Expected: foreman dies under this caller.
        }
      });
      // Submit in order, so job ids follow the caller numbers.
      BOOST_REQUIRE(eventually([&] { return state_of(base, i) != "absent"; },
                               std::chrono::seconds{10}));
    }
    BOOST_REQUIRE(eventually([&] { return state_of(base, 1) == "working"; },
                             std::chrono::seconds{20}));
    for (int i = 2; i <= jobs; ++i)
      BOOST_TEST(state_of(base, i) == "queued");
    first.process().signal(SIGKILL);
    BOOST_TEST(first.process().wait_exit(std::chrono::seconds{10}).value_or(0)
               == 128 + SIGKILL);
  }
  for (auto& caller : callers)
    caller.join();
  foreman_process second{args};
  auto base = second.url();
  for (int i = 1; i <= jobs; ++i) {
    BOOST_TEST(eventually([&] { return state_of(base, i) == "done"; },
                          std::chrono::seconds{60}),
               "job " << i << " is " << state_of(base, i));
    auto job = get_job(base, i);
    BOOST_REQUIRE(job);
    BOOST_TEST(answer_of(job) == "llama3.2 says: " + words(i));
  }
  // The interrupted job ran again as a second attempt.
  BOOST_TEST(get_job(base, 1)->getValue<int>("attempt") == 2);
}

namespace {

/// Submits a chat job that reports its states to `hook`; its id.
int submit(const std::string& base, int n, const std::string& hook) {
  auto res = http_request(
    "POST", base + "/jobs",
    R"({"kind":"chat","model":"llama3.2","state_webhook_url":")" + hook
      + R"(","payload":{"messages":[{"role":"user","content":")" + words(n) + R"("}]}})");
  BOOST_REQUIRE_MESSAGE(res.status == 202, res.body);
  return std::stoi(res.headers.at("X-Foreman-Job-Id"));
}

/// Each job's webhook events in arrival order, duplicates (same event id)
/// dropped; each must name the previous event's state as its previous_state.
std::map<int, std::vector<std::string>> states_by_job(const webhook_receiver& receiver) {
  std::map<int, std::vector<std::string>> states;
  std::set<std::string> seen;
  for (auto& delivery : receiver.received()) {
    if (!seen.insert(delivery.headers.at("X-Foreman-Event-Id")).second)
      continue;
    Poco::JSON::Parser parser;
    auto event = parser.parse(delivery.body).extract<object_ptr>();
    auto id = event->getValue<int>("job_id");
    auto& list = states[id];
    auto previous = event->isNull("previous_state")
                      ? std::string{}
                      : event->getValue<std::string>("previous_state");
    BOOST_TEST(previous == (list.empty() ? std::string{} : list.back()),
               "job " << id << " event " << event->getValue<std::string>("state")
                      << " follows " << previous);
    list.push_back(event->getValue<std::string>("state"));
  }
  return states;
}

using state_list = std::vector<std::string>;

/// Whether jobs `first` to `last` have all reported `done` (jobs' events
/// arrive independently of each other).
bool all_done(std::map<int, state_list>& states, int first, int last) {
  for (int i = first; i <= last; ++i)
    if (states[i].empty() || states[i].back() != "done")
      return false;
  return true;
}

} // namespace

/// How a foreman stopped with SIGTERM went.
struct stopped_run {
  int exit_code = -1;
  clock_type::duration stop_time{};
  std::vector<std::string> output;
  /// What the caller waiting for job 1 got; status 0 when the connection
  /// broke instead.
  http_response first_caller;
};

/// Runs foreman on `db` in front of `target` with job 1 from a caller
/// waiting for its answer and jobs 2 to `jobs` submitted to the job API
/// reporting to `receiver`, and sends SIGTERM once job 1 is working.
stopped_run sigterm_while_working(const std::string& db, const std::string& grace,
                                  const fake_target& target,
                                  const webhook_receiver& receiver, int jobs) {
  foreman_process first{
    {"--db", db, "--shutdown-grace", grace, "--ollama-url", target.url()}};
  auto base = first.url();
  stopped_run run;
  std::thread caller{[&] {
    try {
      run.first_caller = http_request(
        "POST", base + "/api/chat",
        R"({"model":"llama3.2","stream":false,"messages":[{"role":"user","content":")"
          + words(1) + R"("}]})",
        {}, std::chrono::seconds{60});
    } catch (const http_error& e) {
      run.first_caller.body = e.what();
    }
  }};
  struct join_at_end {
    std::thread& thread;
    ~join_at_end() {
      thread.join();
    }
  } joined{caller};
  BOOST_REQUIRE(eventually([&] { return state_of(base, 1) == "working"; },
                           std::chrono::seconds{20}));
  for (int i = 2; i <= jobs; ++i)
    BOOST_REQUIRE_EQUAL(submit(base, i, receiver.url()), i);
  auto signalled = clock_type::now();
  first.process().signal(SIGTERM);
  run.exit_code = first.process().wait_exit(std::chrono::seconds{60}).value_or(-1);
  run.stop_time = clock_type::now() - signalled;
  run.output = first.process().lines();
  return run;
}

bool has_line_with(const std::vector<std::string>& lines, const std::string& text) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
    return line.find(text) != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(sigterm_lets_the_running_job_finish_within_the_grace_period) {
  temp_dir dir;
  webhook_receiver receiver;
  {
    // 150 ms per word: the running job needs about 1.5 s more.
    fake_target slow{{"--token-ms", "150"}};
    auto run = sigterm_while_working(dir.file("jobs.db"), "30s", slow, receiver, 3);
    BOOST_TEST(run.exit_code == 0);
    BOOST_TEST(!has_line_with(run.output, "interrupted"));
    // Its caller got the whole answer before foreman exited.
    BOOST_TEST(run.first_caller.status == 200, run.first_caller.body);
    BOOST_TEST(run.first_caller.body.find("llama3.2 says: " + words(1)) != std::string::npos,
               run.first_caller.body);
  }
  fake_target fast{{"--token-ms", "1"}};
  foreman_process second{{"--db", dir.file("jobs.db"), "--ollama-url", fast.url()}};
  auto base = second.url();
  // Job 1 finished before the exit: done on its first attempt.
  auto first_job = get_job(base, 1);
  BOOST_REQUIRE(first_job);
  BOOST_TEST(first_job->getValue<std::string>("state") == "done");
  BOOST_TEST(first_job->getValue<int>("attempt") == 1);
  BOOST_TEST(answer_of(first_job) == "llama3.2 says: " + words(1));
  for (int i = 2; i <= 3; ++i)
    BOOST_TEST(eventually([&] { return state_of(base, i) == "done"; },
                          std::chrono::seconds{30}),
               "job " << i << " is " << state_of(base, i));
  // The outbox kept every transition: each job's events, in order.
  std::map<int, state_list> states;
  BOOST_TEST(eventually(
    [&] {
      states = states_by_job(receiver);
      return all_done(states, 2, 3);
    },
    std::chrono::seconds{20}));
  // After the restart job 2 loads the model on the new target; job 3 finds
  // it resident.
  BOOST_TEST((states[2] == state_list{"queued", "loading", "working", "done"}));
  BOOST_TEST((states[3] == state_list{"queued", "working", "done"}));
}

BOOST_AUTO_TEST_CASE(sigterm_requeues_a_job_that_outlasts_the_grace_period) {
  temp_dir dir;
  webhook_receiver receiver;
  {
    // A second per word: the running job would need about 10 s.
    fake_target slow{{"--token-ms", "1000"}};
    auto run = sigterm_while_working(dir.file("jobs.db"), "300ms", slow, receiver, 3);
    BOOST_TEST(run.exit_code == 0);
    // Well before the job could have finished.
    BOOST_TEST((run.stop_time < std::chrono::seconds{8}));
    BOOST_TEST(has_line_with(run.output, "a job was interrupted and is queued again job_id=1"));
    // Its caller learns that foreman stops; the job stays stored.
    BOOST_TEST(run.first_caller.status == 503, run.first_caller.body);
    BOOST_TEST(run.first_caller.body.find("foreman is shutting down") != std::string::npos);
    // The call was aborted: the target is idle again.
    BOOST_TEST(eventually([&] { return slow.counters().active_generations == 0; },
                          std::chrono::seconds{5}));
  }
  fake_target fast{{"--token-ms", "1"}};
  foreman_process second{{"--db", dir.file("jobs.db"), "--ollama-url", fast.url()}};
  auto base = second.url();
  for (int i = 1; i <= 3; ++i)
    BOOST_TEST(eventually([&] { return state_of(base, i) == "done"; },
                          std::chrono::seconds{30}),
               "job " << i << " is " << state_of(base, i));
  // The interrupted attempt was given back: job 1 is done on attempt 1.
  auto first_job = get_job(base, 1);
  BOOST_TEST(first_job->getValue<int>("attempt") == 1);
  BOOST_TEST(answer_of(first_job) == "llama3.2 says: " + words(1));
  std::map<int, state_list> states;
  BOOST_TEST(eventually(
    [&] {
      states = states_by_job(receiver);
      return all_done(states, 2, 3);
    },
    std::chrono::seconds{20}));
  // Queued at the shutdown, they run after job 1 on the restarted foreman.
  BOOST_TEST((states[2] == state_list{"queued", "working", "done"}));
  BOOST_TEST((states[3] == state_list{"queued", "working", "done"}));
}

BOOST_AUTO_TEST_CASE(a_bad_config_file_stops_startup_naming_the_line) {
  temp_dir dir;
  auto config = dir.file("foreman.conf");
  std::ofstream{config} << "# team box\nmax-queue = 100\nmax-wait = soon\n";
  child_process bad{FOREMAN_BIN, {"--config", config, "--listen", "127.0.0.1:0"}};
  BOOST_TEST(bad.wait_exit(std::chrono::seconds{10}).value_or(-1) == 2);
  BOOST_TEST(bad
               .wait_for_line(
                 [&](const std::string& line) {
                   return line.find(config + ":3 max-wait 'soon'") != std::string::npos;
                 },
                 std::chrono::seconds{0})
               .has_value());
}

BOOST_AUTO_TEST_CASE(a_config_file_configures_and_the_environment_overrides_it) {
  temp_dir dir;
  fake_target target{{"--token-ms", "1"}};
  auto config = dir.file("foreman.conf");
  std::ofstream{config} << "db = " << dir.file("from-file.db")
                        << "\nollama-url = http://127.0.0.1:1\n"
                           "listen = 0.0.0.0:0\n";
  // The environment names the real target over the file's; the command line
  // listens beyond loopback, and without keys foreman says so.
  foreman_process from_file{{"--config", config, "--listen", "0.0.0.0:0"},
                            {"FOREMAN_OLLAMA_URL=" + target.url()}};
  auto listening = from_file.process().wait_for_line("foreman listening",
                                                    std::chrono::seconds{0});
  BOOST_REQUIRE(listening);
  BOOST_TEST(listening->find("target " + target.url()) != std::string::npos, *listening);
  BOOST_TEST(listening->find("database " + dir.file("from-file.db")) != std::string::npos,
             *listening);
  BOOST_TEST(listening->find("config " + config) != std::string::npos, *listening);
  BOOST_TEST(from_file.process()
               .wait_for_line(
                 [](const std::string& line) {
                   return line.find("without FOREMAN_API_KEYS") != std::string::npos;
                 },
                 std::chrono::seconds{5})
               .has_value());
  BOOST_TEST(std::filesystem::exists(dir.file("from-file.db")));
}

BOOST_AUTO_TEST_CASE(sigterm_never_waits_for_a_pass_through_call) {
  temp_dir dir;
  fake_target target{{"--token-ms", "1"}};
  // The target takes the pull and never answers it.
  target.arm_fault("hang", 1, 0, "/api/pull");
  foreman_process fm{{"--db", dir.file("jobs.db"), "--shutdown-grace", "1s",
                      "--ollama-url", target.url()}};
  http_response pull;
  std::thread puller{[&] {
    try {
      pull = http_request("POST", fm.url() + "/api/pull", R"({"model":"llama3.2"})", {},
                          std::chrono::seconds{60});
    } catch (const http_error& e) {
      pull.body = e.what();
    }
  }};
  struct join_at_end {
    std::thread& thread;
    ~join_at_end() {
      thread.join();
    }
  } joined{puller};
  BOOST_REQUIRE(eventually([&] { return target.counters().requests_to("/api/pull") == 1; },
                           std::chrono::seconds{20}));
  auto signalled = clock_type::now();
  fm.process().signal(SIGTERM);
  auto exit_code = fm.process().wait_exit(std::chrono::seconds{30});
  auto stop_time = clock_type::now() - signalled;
  BOOST_REQUIRE(exit_code.has_value());
  BOOST_TEST(*exit_code == 0);
  // The grace period (1 s) plus a margin, not the pull's hour.
  BOOST_TEST((stop_time < std::chrono::seconds{8}));
  BOOST_TEST(pull.status != 200, pull.body);
}
