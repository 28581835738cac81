#define BOOST_TEST_MODULE durability_tests
#include <boost/test/unit_test.hpp>

// foreman killed with SIGKILL while jobs are queued and one is running:
// after a restart on the same database, every accepted job completes.

#include <chrono>
#include <csignal>
#include <thread>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "fake_target.hpp"
#include "foreman_process.hpp"
#include "http_client.hpp"
#include "temp_dir.hpp"

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
    BOOST_TEST(job->getValue<std::string>("result") == "llama3.2 says: " + words(i));
  }
  // The interrupted job ran again as a second attempt.
  BOOST_TEST(get_job(base, 1)->getValue<int>("attempt") == 2);
}
