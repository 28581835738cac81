#define BOOST_TEST_MODULE cli_tests
#include <boost/test/unit_test.hpp>

// The command-line client: the real foreman binary run as `foreman jobs ...`
// and `foreman status` against foreman's service (in this process, in front
// of the fake target) over loopback HTTP, judged by its output and exit code.

#include <algorithm>
#include <cctype>
#include <csignal>
#include <map>
#include <sstream>

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include "child_process.hpp"
#include "service_fixture.hpp"
#include "webhook_receiver.hpp"

using namespace foreman_test;

namespace {

const std::vector<std::string> fast_fake = three_models_two_slots("0");

/// Tests leave a job hanging on the target; stopping the service must not
/// wait the shutdown grace period for it.
void no_grace(foreman::settings& s) {
  s.shutdown_grace_ms = 0;
}

struct cli_result {
  int exit_code = -1;
  /// stdout and stderr together, in order.
  std::vector<std::string> lines;

  std::string text() const {
    std::string all;
    for (auto& line : lines)
      all += line + "\n";
    return all;
  }

  bool has_line_starting(const std::string& prefix) const {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
      return line.rfind(prefix, 0) == 0;
    });
  }
};

/// Runs `foreman args...` to its end.
cli_result run(const std::vector<std::string>& args,
               const std::vector<std::string>& environment = {}) {
  child_process child{FOREMAN_BIN, args, environment};
  // Returns once the child has closed its output: every line is read.
  child.wait_for_line([](const std::string&) { return false; },
                      std::chrono::seconds{30});
  auto code = child.wait_exit(std::chrono::seconds{30});
  BOOST_REQUIRE_MESSAGE(code, "foreman " << args.at(0) << " did not exit");
  return cli_result{*code, child.lines()};
}

cli_result run_against(const service_fixture& fx, std::vector<std::string> args) {
  args.push_back("--url=" + fx.base);
  return run(args);
}

std::vector<std::string> words_of(const std::string& line) {
  std::istringstream in{line};
  std::vector<std::string> words;
  for (std::string word; in >> word;)
    words.push_back(word);
  return words;
}

/// The table rows of a listing, as words, by job id (the first column).
std::map<std::string, std::vector<std::string>> rows_by_id(const cli_result& result) {
  std::map<std::string, std::vector<std::string>> rows;
  for (auto& line : result.lines) {
    auto words = words_of(line);
    if (!words.empty() && std::all_of(words[0].begin(), words[0].end(), ::isdigit))
      rows[words[0]] = words;
  }
  return rows;
}

/// The ids of a listing's rows, top to bottom.
std::vector<std::string> ids_listed(const cli_result& result) {
  std::vector<std::string> ids;
  for (auto& line : result.lines) {
    auto words = words_of(line);
    if (!words.empty() && std::all_of(words[0].begin(), words[0].end(), ::isdigit))
      ids.push_back(words[0]);
  }
  return ids;
}

/// The first words of a listing row: id, state, kind, model, client, attempt.
std::vector<std::string> leading(const std::vector<std::string>& row) {
  return {row.begin(), row.begin() + std::min<std::size_t>(6, row.size())};
}

std::string submit(service_fixture& fx, const std::string& body,
                   const std::string& client = "") {
  http_headers headers;
  if (!client.empty())
    headers["X-Foreman-Client"] = client;
  auto res = http_request("POST", fx.base + "/jobs", body, headers);
  BOOST_REQUIRE_MESSAGE(res.status == 202, res.status << " " << res.body);
  return std::to_string(parse_json(res.body)->getValue<int64_t>("id"));
}

std::string chat_job(const std::string& model) {
  return R"({"kind":"chat","model":")" + model
         + R"(","payload":{"messages":[{"role":"user","content":"hi"}]}})";
}

std::string generate_job(const std::string& model) {
  return R"({"kind":"generate","model":")" + model + R"(","payload":{"prompt":"hi"}})";
}

/// A job that stays `loading` (the target never answers its load) and so
/// keeps every later job queued.
std::string stuck_job(service_fixture& fx, const std::string& model) {
  fx.target.arm_fault("hang", 1, 0, "/api/chat");
  auto id = submit(fx, chat_job(model));
  BOOST_REQUIRE(eventually([&] { return fx.state_of(id) == "loading"; }));
  return id;
}

std::string error_of(const http_response& res) {
  return parse_json(res.body)->getValue<std::string>("error");
}

/// A loopback port nothing listens on.
uint16_t closed_port() {
  Poco::Net::ServerSocket socket{Poco::Net::SocketAddress{"127.0.0.1", 0}};
  auto port = socket.address().port();
  socket.close();
  return port;
}

} // namespace

BOOST_AUTO_TEST_CASE(list_shows_jobs_in_every_state_newest_first_and_filters) {
  service_fixture fx{fast_fake, no_grace};
  auto done = submit(fx, chat_job("llama3.2"), "alice");
  BOOST_REQUIRE(eventually([&] { return fx.state_of(done) == "done"; }));
  fx.target.arm_fault("http500", 1, 0, "/api/generate");
  auto failed = submit(fx, generate_job("qwen2.5"));
  BOOST_REQUIRE(eventually([&] { return fx.state_of(failed) == "failed"; }));
  auto loading = stuck_job(fx, "mistral");
  auto queued = submit(fx, chat_job("qwen2.5"), "bob");
  auto cancelled = submit(fx, chat_job("llama3.2"));
  BOOST_REQUIRE_EQUAL(http_request("DELETE", fx.base + "/jobs/" + cancelled).status, 200);

  auto listed = run_against(fx, {"jobs", "list"});
  BOOST_TEST(listed.exit_code == 0, listed.text());
  BOOST_REQUIRE(!listed.lines.empty());
  BOOST_TEST(words_of(listed.lines[0])
             == (std::vector<std::string>{"ID", "STATE", "KIND", "MODEL", "CLIENT",
                                          "ATTEMPT", "CREATED", "ERROR"}));
  BOOST_TEST(ids_listed(listed)
             == (std::vector<std::string>{cancelled, queued, loading, failed, done}));
  using words = std::vector<std::string>;
  auto rows = rows_by_id(listed);
  BOOST_TEST(leading(rows[done])
             == (words{done, "done", "chat", "llama3.2", "alice", "1/3"}));
  BOOST_TEST(leading(rows[failed])
             == (words{failed, "failed", "generate", "qwen2.5", "-", "1/3"}));
  BOOST_TEST(leading(rows[loading])
             == (words{loading, "loading", "chat", "mistral", "-", "1/3"}));
  BOOST_TEST(leading(rows[queued])
             == (words{queued, "queued", "chat", "qwen2.5", "bob", "0/3"}));
  BOOST_TEST(leading(rows[cancelled])
             == (words{cancelled, "cancelled", "chat", "llama3.2", "-", "0/3"}));
  // CREATED is an age; ERROR the start of the job's error.
  for (auto& [id, row] : rows)
    BOOST_TEST((row.at(6) == "just" || row.at(7) == "ago"), id << ": " << row.at(6));
  auto error = fx.job(failed)->getValue<std::string>("error");
  auto failed_line = std::find_if(
    listed.lines.begin(), listed.lines.end(),
    [&](auto& line) { return line.find(" failed ") != std::string::npos; });
  BOOST_REQUIRE(failed_line != listed.lines.end());
  BOOST_TEST(failed_line->find(error.substr(0, 20)) != std::string::npos, *failed_line);

  auto only_queued = run_against(fx, {"jobs", "list", "--state=queued"});
  BOOST_TEST(only_queued.exit_code == 0);
  BOOST_TEST(ids_listed(only_queued) == (std::vector<std::string>{queued}));
  auto qwen = run_against(fx, {"jobs", "list", "--model", "qwen2.5:latest"});
  BOOST_TEST(ids_listed(qwen) == (std::vector<std::string>{queued, failed}));
  auto qwen_failed
    = run_against(fx, {"jobs", "list", "--model=qwen2.5", "--state", "failed"});
  BOOST_TEST(ids_listed(qwen_failed) == (std::vector<std::string>{failed}));
  auto none = run_against(fx, {"jobs", "list", "--state=working"});
  BOOST_TEST(none.exit_code == 0);
  BOOST_TEST(none.lines == (std::vector<std::string>{"no jobs"}));

  // One page, then every page.
  auto page = run_against(fx, {"jobs", "list", "--limit=2"});
  BOOST_TEST(ids_listed(page) == (std::vector<std::string>{cancelled, queued}));
  BOOST_TEST(page.has_line_starting("more jobs follow"));
  auto all = run_against(fx, {"jobs", "list", "--limit=2", "--all"});
  BOOST_TEST(all.exit_code == 0);
  BOOST_TEST(ids_listed(all)
             == (std::vector<std::string>{cancelled, queued, loading, failed, done}));
  BOOST_TEST(!all.has_line_starting("more jobs follow"));

  // --json: the server's pages, one a line.
  auto json = run_against(fx, {"jobs", "list", "--json"});
  BOOST_TEST(json.exit_code == 0);
  BOOST_REQUIRE_EQUAL(json.lines.size(), 1u);
  BOOST_TEST(parse_json(json.lines[0])->getArray("jobs")->size() == 5u);
  auto pages = run_against(fx, {"jobs", "list", "--json", "--all", "--limit=2"});
  BOOST_REQUIRE_EQUAL(pages.lines.size(), 3u);
  BOOST_TEST(parse_json(pages.lines[2])->isNull("next_cursor"));

  // A failed job's error is shown with it.
  auto shown = run_against(fx, {"jobs", "show", failed});
  BOOST_TEST(shown.exit_code == 0, shown.text());
  BOOST_TEST(shown.has_line_starting("error"));
  BOOST_TEST(shown.text().find(error.substr(0, 20)) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_empty_list_says_no_jobs) {
  service_fixture fx{fast_fake};
  auto listed = run_against(fx, {"jobs", "list"});
  BOOST_TEST(listed.exit_code == 0);
  BOOST_TEST(listed.lines == (std::vector<std::string>{"no jobs"}));
  auto json = run_against(fx, {"jobs", "list", "--json"});
  BOOST_TEST(json.exit_code == 0);
  BOOST_REQUIRE_EQUAL(json.lines.size(), 1u);
  BOOST_TEST(parse_json(json.lines[0])->getArray("jobs")->size() == 0u);
}

BOOST_AUTO_TEST_CASE(show_lists_a_queued_job_with_its_place_in_the_queue) {
  service_fixture fx{fast_fake, no_grace};
  stuck_job(fx, "llama3.2");
  auto queued = submit(fx, chat_job("qwen2.5"), "carol");
  auto shown = run_against(fx, {"jobs", "show", queued});
  BOOST_TEST(shown.exit_code == 0, shown.text());
  for (auto field : {"id", "kind", "model", "state", "priority", "attempt",
                     "max_attempts", "result", "state_webhook_url", "client",
                     "queue_position", "estimated_start_at", "created_at",
                     "updated_at", "started_at", "finished_at", "payload"})
    BOOST_TEST(shown.has_line_starting(std::string{field} + " "), field);
  BOOST_TEST(words_of(shown.lines[0]) == (std::vector<std::string>{"id", queued}));
  BOOST_TEST(shown.has_line_starting("state  "));
  auto state_line = std::find_if(shown.lines.begin(), shown.lines.end(), [](auto& line) {
    return line.rfind("state ", 0) == 0;
  });
  BOOST_TEST(words_of(*state_line)[1] == "queued");
  BOOST_TEST(!shown.has_line_starting("error"));
  BOOST_TEST(shown.has_line_starting("artifacts: none"));
  auto json = run_against(fx, {"jobs", "show", queued, "--json"});
  BOOST_TEST(json.exit_code == 0);
  BOOST_REQUIRE_EQUAL(json.lines.size(), 1u);
  BOOST_TEST(parse_json(json.lines[0])->getValue<std::string>("client") == "carol");
}

BOOST_AUTO_TEST_CASE(show_lists_a_done_job_and_its_artifacts) {
  service_fixture fx{fast_fake};
  auto id = submit(fx, chat_job("llama3.2"));
  BOOST_REQUIRE(eventually([&] { return fx.state_of(id) == "done"; }));
  auto shown = run_against(fx, {"jobs", "show", id});
  BOOST_TEST(shown.exit_code == 0, shown.text());
  BOOST_TEST(!shown.has_line_starting("queue_position"));
  BOOST_TEST(!shown.has_line_starting("estimated_start_at"));
  BOOST_TEST(shown.has_line_starting("finished_at"));
  // The result is the answer's text; --json has the whole answer.
  auto result_line = std::find_if(shown.lines.begin(), shown.lines.end(),
                                  [](auto& line) { return line.rfind("result ", 0) == 0; });
  BOOST_REQUIRE(result_line != shown.lines.end());
  BOOST_TEST(words_of(*result_line)
             == (std::vector<std::string>{"result", "llama3.2", "says:", "hi"}));
  BOOST_TEST(shown.has_line_starting("artifacts:"));
  auto listing = http_request("GET", fx.base + "/jobs/" + id + "/artifacts");
  auto artifact = parse_json(listing.body)->getArray("artifacts")->getObject(0);
  auto size = artifact->getValue<int64_t>("size");
  auto header = std::find_if(shown.lines.begin(), shown.lines.end(),
                             [](auto& line) { return line.rfind("NAME", 0) == 0; });
  BOOST_REQUIRE(header != shown.lines.end());
  BOOST_TEST(words_of(*header)
             == (std::vector<std::string>{"NAME", "CONTENT", "TYPE", "SIZE", "PATH"}));
  BOOST_REQUIRE(header + 1 != shown.lines.end());
  BOOST_TEST(words_of(*(header + 1))
             == (std::vector<std::string>{"completion", "application/json",
                                          std::to_string(size),
                                          "/jobs/" + id + "/artifacts/completion"}));
  auto unknown = run_against(fx, {"jobs", "show", "999"});
  BOOST_TEST(unknown.exit_code == 1);
  BOOST_TEST(unknown.lines
             == (std::vector<std::string>{
               "foreman: " + error_of(http_request("GET", fx.base + "/jobs/999"))}));
}

BOOST_AUTO_TEST_CASE(cancel_ends_a_queued_job_and_refuses_an_ended_one) {
  service_fixture fx{fast_fake, no_grace};
  stuck_job(fx, "llama3.2");
  auto queued = submit(fx, chat_job("qwen2.5"));
  auto cancelled = run_against(fx, {"jobs", "cancel", queued});
  BOOST_TEST(cancelled.exit_code == 0, cancelled.text());
  BOOST_TEST(cancelled.lines
             == (std::vector<std::string>{"job " + queued + " cancelled"}));
  BOOST_TEST(fx.state_of(queued) == "cancelled");

  auto again = run_against(fx, {"jobs", "cancel", queued});
  BOOST_TEST(again.exit_code == 1);
  auto refused = http_request("DELETE", fx.base + "/jobs/" + queued);
  BOOST_REQUIRE_EQUAL(refused.status, 409);
  BOOST_TEST(again.lines == (std::vector<std::string>{"foreman: " + error_of(refused)}));

  auto other = submit(fx, chat_job("qwen2.5"));
  auto json = run_against(fx, {"jobs", "cancel", "--json", other});
  BOOST_TEST(json.exit_code == 0);
  BOOST_REQUIRE_EQUAL(json.lines.size(), 1u);
  BOOST_TEST(parse_json(json.lines[0])->getValue<std::string>("state") == "cancelled");
}

BOOST_AUTO_TEST_CASE(bad_arguments_exit_2_with_a_message_naming_them) {
  // Nothing listens at the URL: every argument is checked before connecting.
  auto url = "--url=http://127.0.0.1:" + std::to_string(closed_port());
  struct bad_case {
    std::vector<std::string> args;
    std::string named;
  };
  for (auto& x : std::vector<bad_case>{
         {{"jobs", "show", "abc", url}, "'abc'"},
         {{"jobs", "cancel", "-1", url}, "'-1'"},
         {{"jobs", "cancel", "0", url}, "'0'"},
         {{"jobs", "show", url}, "job id"},
         {{"jobs", "show", "1", "2", url}, "'2'"},
         {{"jobs", "list", "--colour=red", url}, "--colour"},
         {{"jobs", "list", "--state=sleeping", url}, "sleeping"},
         {{"jobs", "list", "--limit=0", url}, "--limit"},
         {{"jobs", "list", "--limit=201", url}, "--limit"},
         {{"jobs", "list", "--model=a b", url}, "--model"},
         {{"jobs", "list", "--json=yes", url}, "--json"},
         {{"jobs", "list", url, "--state"}, "--state"},
         {{"jobs", "frobnicate", url}, "frobnicate"},
         {{"jobs"}, "subcommand"},
         {{"status", "--all", url}, "--all"},
         {{"status", "--url=ftp://127.0.0.1:1"}, "--url"},
         {{"status", "--url=localhost"}, "--url"},
         {{"status", "--timeout=soon", url}, "--timeout"},
         {{"status", "extra", url}, "'extra'"}}) {
    auto result = run(x.args);
    BOOST_TEST(result.exit_code == 2, x.named << ": " << result.text());
    BOOST_TEST(result.text().find(x.named) != std::string::npos, x.named << ": "
                                                                  << result.text());
  }
  auto from_env = run({"status"}, {"FOREMAN_URL=nonsense"});
  BOOST_TEST(from_env.exit_code == 2);
  BOOST_TEST(from_env.text().find("FOREMAN_URL") != std::string::npos, from_env.text());
}

BOOST_AUTO_TEST_CASE(help_prints_the_usage) {
  for (auto args : std::vector<std::vector<std::string>>{
         {"jobs", "--help"},
         {"jobs", "list", "--help"},
         {"status", "--help"},
         {"status", "-h"}}) {
    auto result = run(args);
    BOOST_TEST(result.exit_code == 0);
    BOOST_REQUIRE(!result.lines.empty());
    BOOST_TEST(result.lines[0].rfind("usage: foreman jobs list", 0) == 0u);
    BOOST_TEST(result.text().find("--api-key") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(an_unreachable_foreman_exits_1) {
  auto url = "http://127.0.0.1:" + std::to_string(closed_port());
  for (auto args : std::vector<std::vector<std::string>>{
         {"jobs", "list", "--url=" + url}, {"status", "--url", url}}) {
    auto result = run(args);
    BOOST_TEST(result.exit_code == 1);
    BOOST_TEST(result.has_line_starting("foreman: cannot reach foreman at " + url + ": "),
               result.text());
  }
  auto from_env = run({"jobs", "show", "1"}, {"FOREMAN_URL=" + url});
  BOOST_TEST(from_env.exit_code == 1);
  BOOST_TEST(from_env.has_line_starting("foreman: cannot reach foreman at " + url),
             from_env.text());
}

BOOST_AUTO_TEST_CASE(a_silent_foreman_times_out) {
  webhook_receiver silent;
  silent.hang(true);
  auto result = run({"status", "--url=" + silent.url(), "--timeout=1"});
  BOOST_TEST(result.exit_code == 1);
  BOOST_TEST(result.has_line_starting("foreman: cannot reach foreman at " + silent.url()),
             result.text());
  silent.hang(false);
}

BOOST_AUTO_TEST_CASE(the_api_key_goes_as_a_bearer_token_under_the_urls_path) {
  // The receiver answers 200 with no body: it records what the client sent.
  webhook_receiver receiver;
  auto flagged = run({"jobs", "list", "--url=" + receiver.url() + "/", "--state=done",
                      "--api-key=0123456789abcdef"});
  auto from_env = run({"jobs", "cancel", "7", "--url=" + receiver.url()},
                      {"FOREMAN_API_KEY=fedcba9876543210"});
  auto anonymous = run({"status", "--url=" + receiver.url()});
  // Not foreman's JSON: an unexpected answer.
  for (auto& result : {flagged, from_env, anonymous}) {
    BOOST_TEST(result.exit_code == 1);
    BOOST_TEST(result.has_line_starting("foreman: unexpected answer"), result.text());
  }
  auto received = receiver.received();
  BOOST_REQUIRE_EQUAL(received.size(), 3u);
  BOOST_TEST(received[0].method == "GET");
  BOOST_TEST(received[0].path == "/hook/jobs?state=done");
  BOOST_TEST(received[0].headers["Authorization"] == "Bearer 0123456789abcdef");
  BOOST_TEST(received[1].method == "DELETE");
  BOOST_TEST(received[1].path == "/hook/jobs/7");
  BOOST_TEST(received[1].headers["Authorization"] == "Bearer fedcba9876543210");
  BOOST_TEST(received[2].path == "/hook/status");
  BOOST_TEST(received[2].headers.count("Authorization") == 0u);
}

BOOST_AUTO_TEST_CASE(status_shows_the_worker_the_target_and_the_queue_by_model) {
  service_fixture fx{fast_fake, no_grace};
  auto idle = run_against(fx, {"status"});
  BOOST_TEST(idle.exit_code == 0, idle.text());
  BOOST_TEST(idle.has_line_starting("worker     idle"), idle.text());
  BOOST_TEST(idle.has_line_starting("total: 0"), idle.text());

  auto running = stuck_job(fx, "llama3.2");
  submit(fx, chat_job("qwen2.5"));
  submit(fx, chat_job("mistral"));
  submit(fx, chat_job("qwen2.5"));
  cli_result status;
  // The inventory reads the residents (the warmed embedder) on its own time.
  BOOST_TEST(eventually([&] {
    status = run_against(fx, {"status"});
    return status.has_line_starting("residents  all-minilm");
  }), status.text());
  BOOST_TEST(status.exit_code == 0);
  BOOST_TEST(status.has_line_starting("worker     loading: job " + running
                                      + " (llama3.2, loading)"),
             status.text());
  BOOST_TEST(status.has_line_starting("target     " + fx.target.url() + " (reachable)"),
             status.text());
  BOOST_TEST(status.has_line_starting("embedder   all-minilm"), status.text());
  using words = std::vector<std::string>;
  auto header = std::find_if(status.lines.begin(), status.lines.end(),
                             [](auto& line) { return line.rfind("MODEL", 0) == 0; });
  BOOST_REQUIRE(header != status.lines.end());
  BOOST_TEST(words_of(*header) == (words{"MODEL", "QUEUED", "LOADING", "WORKING"}));
  std::vector<words> rows;
  for (auto row = header + 1; row != status.lines.end(); ++row)
    if (row->rfind("total", 0) != 0)
      rows.push_back(words_of(*row));
  BOOST_TEST(rows
             == (std::vector<words>{{"llama3.2:latest", "0", "1", "0"},
                                    {"mistral:latest", "1", "0", "0"},
                                    {"qwen2.5:latest", "2", "0", "0"}}));
  BOOST_TEST(status.has_line_starting("total: 4"), status.text());

  auto json = run_against(fx, {"status", "--json"});
  BOOST_TEST(json.exit_code == 0);
  BOOST_REQUIRE_EQUAL(json.lines.size(), 1u);
  auto parsed = parse_json(json.lines[0]);
  BOOST_TEST(parsed->getObject("queue")->getValue<int64_t>("total") == 4);
  auto job = parsed->getObject("worker")->getObject("running_job");
  BOOST_TEST(job->getValue<int64_t>("id") == std::stoll(running));

  // The target gone: status says so, with the reason.
  fx.target.process().signal(SIGKILL);
  BOOST_TEST(eventually([&] {
    status = run_against(fx, {"status"});
    return status.has_line_starting("target     " + fx.target.url() + " (unreachable: ");
  }), status.text());
}

BOOST_AUTO_TEST_CASE(a_foreman_with_api_keys_answers_only_with_the_key) {
  const std::string key = "cli-test-admin-key-0123456789";
  service_fixture fx{fast_fake, [&](foreman::settings& s) {
                       s.api_keys = {foreman::api_key{key, foreman::key_scope::admin}};
                     }};
  auto refused = run_against(fx, {"status"});
  BOOST_TEST(refused.exit_code == 1);
  auto unauthorized = http_request("GET", fx.base + "/status");
  BOOST_REQUIRE_EQUAL(unauthorized.status, 401);
  BOOST_TEST(refused.lines
             == (std::vector<std::string>{"foreman: " + error_of(unauthorized)}));
  auto flagged = run_against(fx, {"jobs", "list", "--api-key=" + key});
  BOOST_TEST(flagged.exit_code == 0, flagged.text());
  BOOST_TEST(flagged.lines == (std::vector<std::string>{"no jobs"}));
  auto from_env = run({"status", "--url=" + fx.base}, {"FOREMAN_API_KEY=" + key});
  BOOST_TEST(from_env.exit_code == 0, from_env.text());
  BOOST_TEST(from_env.has_line_starting("worker     idle"), from_env.text());
}
