#define BOOST_TEST_MODULE core_tests
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <limits>
#include <map>
#include <random>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "core/api_keys.hpp"
#include "core/backoff.hpp"
#include "core/clock.hpp"
#include "core/duration.hpp"
#include "core/keep_alive.hpp"
#include "core/log.hpp"
#include "core/metrics_registry.hpp"
#include "core/model_name.hpp"
#include "core/queue_history.hpp"
#include "core/queue_index.hpp"
#include "core/scheduling_policy.hpp"
#include "core/settings.hpp"
#include "core/update_throttle.hpp"
#include "core/url.hpp"
#include "core/wake_timer.hpp"
#include "net/stream_aggregator.hpp"
#include "net/webhook_policy.hpp"
#include "prometheus_text.hpp"
#include "temp_dir.hpp"

using namespace foreman;

BOOST_AUTO_TEST_SUITE(durations)

BOOST_AUTO_TEST_CASE(go_durations_parse_like_go) {
  BOOST_TEST(*parse_go_duration("300ms") == 300'000'000);
  BOOST_TEST(*parse_go_duration("1h30m") == 5'400'000'000'000);
  BOOST_TEST(*parse_go_duration("1.5h") == 5'400'000'000'000);
  BOOST_TEST(*parse_go_duration("-1m") == -60'000'000'000);
  BOOST_TEST(*parse_go_duration("0") == 0);
  BOOST_TEST(*parse_go_duration("+0") == 0);
  BOOST_TEST(*parse_go_duration("2\xC2\xB5s") == 2000);
}

BOOST_AUTO_TEST_CASE(go_rejects_what_go_rejects) {
  for (auto text : {"", "10", "-1", "1d", "5M", "10min", " 5m", "5 m", "abc",
                    ".s", "99999999999999h"})
    BOOST_TEST(!parse_go_duration(text).has_value(), "accepted " << text);
}

BOOST_AUTO_TEST_CASE(rejections_carry_gos_error_text) {
  // Ollama answers a bad keep_alive with these texts (ollama-api.md §4).
  const std::map<std::string, std::string> expected{
    {"10", R"(time: missing unit in duration "10")"},
    {"-1", R"(time: missing unit in duration "-1")"},
    {"1.5.5h", R"(time: missing unit in duration "1.5.5h")"},
    {"1d", R"(time: unknown unit "d" in duration "1d")"},
    {"5M", R"(time: unknown unit "M" in duration "5M")"},
    {"10min", R"(time: unknown unit "min" in duration "10min")"},
    {"5 m", R"(time: unknown unit " m" in duration "5 m")"},
    {"", R"(time: invalid duration "")"},
    {"abc", R"(time: invalid duration "abc")"},
    {" 5m", R"(time: invalid duration " 5m")"},
    {".s", R"(time: invalid duration ".s")"},
    {"99999999999999h", R"(time: invalid duration "99999999999999h")"},
    {"\"\\\n", R"(time: invalid duration "\"\\\x0a")"},
    {"1\xC3\xA9", R"(time: unknown unit "\xc3\xa9" in duration "1\xc3\xa9")"},
  };
  for (auto& [text, message] : expected) {
    auto parsed = read_go_duration(text);
    BOOST_TEST_REQUIRE(std::holds_alternative<std::string>(parsed), "accepted " << text);
    BOOST_TEST(std::get<std::string>(parsed) == message);
  }
  BOOST_TEST(std::get<int64_t>(read_go_duration("1h30m")) == 5'400'000'000'000);
}

BOOST_AUTO_TEST_CASE(settings_durations_take_seconds_or_units) {
  BOOST_TEST(*parse_seconds_or_duration_ms("30") == 30'000);
  BOOST_TEST(*parse_seconds_or_duration_ms("30s") == 30'000);
  BOOST_TEST(*parse_seconds_or_duration_ms("5m") == 300'000);
  BOOST_TEST(!parse_seconds_or_duration_ms("-5").has_value());
  BOOST_TEST(!parse_seconds_or_duration_ms("-5m").has_value());
  BOOST_TEST(!parse_seconds_or_duration_ms("soon").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(keep_alive_encoding)

BOOST_AUTO_TEST_CASE(integers_go_out_as_json_numbers) {
  BOOST_TEST(keep_alive::parse("-1")->json() == "-1");
  BOOST_TEST(keep_alive::parse("0")->json() == "0");
  BOOST_TEST(keep_alive::parse("3600")->json() == "3600");
  BOOST_TEST(keep_alive::parse("+5")->json() == "5");
  BOOST_TEST(keep_alive::forever().json() == "-1");
}

BOOST_AUTO_TEST_CASE(durations_go_out_as_json_strings) {
  BOOST_TEST(keep_alive::parse("15m")->json() == "\"15m\"");
  BOOST_TEST(keep_alive::parse("1h")->json() == "\"1h\"");
  BOOST_TEST(keep_alive::parse("-1m")->json() == "\"-1m\"");
}

BOOST_AUTO_TEST_CASE(zero_unloads_immediately) {
  BOOST_TEST(keep_alive::parse("0")->unloads_immediately());
  BOOST_TEST(keep_alive::parse("0s")->unloads_immediately());
  BOOST_TEST(!keep_alive::parse("-1")->unloads_immediately());
  BOOST_TEST(!keep_alive::parse("5m")->unloads_immediately());
}

BOOST_AUTO_TEST_CASE(invalid_values_are_rejected) {
  for (auto text : {"", "forever", "1d", "5 m", "1.5", "0x10", "--1"})
    BOOST_TEST(!keep_alive::parse(text).has_value(), "accepted " << text);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(model_names)

BOOST_AUTO_TEST_CASE(keys_match_the_names_ps_lists) {
  BOOST_TEST(model_key("llama3.2") == "llama3.2:latest");
  BOOST_TEST(model_key("Llama3.2:LATEST") == "llama3.2:latest");
  BOOST_TEST(model_key("library/llama3.2:1b") == "llama3.2:1b");
  BOOST_TEST(model_key("registry.ollama.ai/library/llama3.2") == "llama3.2:latest");
  BOOST_TEST(model_key("user/model:7b") == "user/model:7b");
  BOOST_TEST(model_key("myreg:5000/team/m:v1") == "myreg:5000/team/m:v1");
  BOOST_TEST(model_key("myreg:5000/team/m") == "myreg:5000/team/m:latest");
}

BOOST_AUTO_TEST_CASE(validity_follows_ollama) {
  for (auto name : {"llama3.2", "llama3.2:1b", "user/model:7b",
                    "hf.co/org/repo:Q4_K_M", "myreg:5000/team/m:v1", "a_b-c"})
    BOOST_TEST(is_valid_model_name(name), "rejected " << name);
  for (auto name : {"", ":tag", "-bad", "a/b/c/d", "name:", "sp ace", "ns./m",
                    "x:t/ag"})
    BOOST_TEST(!is_valid_model_name(name), "accepted " << name);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(urls)

BOOST_AUTO_TEST_CASE(http_urls_split_into_parts) {
  auto url = parse_http_url("http://127.0.0.1:11434");
  BOOST_REQUIRE(url);
  BOOST_TEST(url->host == "127.0.0.1");
  BOOST_TEST(url->port == 11434);
  BOOST_TEST(url->path_and_query == "/");
  auto hook = parse_http_url("https://hooks.example/x?y=1");
  BOOST_REQUIRE(hook);
  BOOST_TEST(hook->port == 443);
  BOOST_TEST(hook->path_and_query == "/x?y=1");
  BOOST_TEST(parse_http_url("http://[::1]:8080/")->host == "::1");
}

BOOST_AUTO_TEST_CASE(paths_and_hosts_stay_as_written) {
  auto url = parse_http_url("http://Hooks.Example:8080/a%2Fb?c=%20");
  BOOST_REQUIRE(url);
  BOOST_TEST(url->host == "Hooks.Example");
  BOOST_TEST(url->path_and_query == "/a%2Fb?c=%20");
  BOOST_TEST(parse_http_url("http://h?x=1")->path_and_query == "/?x=1");
}

BOOST_AUTO_TEST_CASE(listen_addresses_take_port_zero) {
  auto any = parse_host_port("127.0.0.1:0");
  BOOST_REQUIRE(any);
  BOOST_TEST(any->first == "127.0.0.1");
  BOOST_TEST(any->second == 0);
  BOOST_TEST(parse_host_port("[::1]:11435")->first == "::1");
  for (auto text : {"nowhere", "h:", ":80", "h:65536", "h/x:80", "u@h:80"})
    BOOST_TEST(!parse_host_port(text).has_value(), "accepted " << text);
}

BOOST_AUTO_TEST_CASE(bad_urls_are_rejected) {
  for (auto text : {"ftp://x", "http://", "http://:80", "http://a:99999",
                    "http://u@h/", "http://h/#frag", "http://h /", "localhost:1"})
    BOOST_TEST(!parse_http_url(text).has_value(), "accepted " << text);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(webhook_urls)

using foreman::net::webhook_policy;
using foreman::net::webhook_url_problem;

const webhook_policy keyless{};
const webhook_policy keyed{{}, true};

/// A policy whose FOREMAN_WEBHOOK_HOSTS names the host of `url`.
webhook_policy naming_host_of(const std::string& url, bool keys) {
  return webhook_policy{{parse_http_url(url)->host}, keys};
}

std::string problem_of(const std::string& url, const webhook_policy& policy) {
  return webhook_url_problem(url, policy).value_or("");
}

// Literal addresses need no name service; "localhost" is in /etc/hosts.

BOOST_AUTO_TEST_CASE(unspecified_multicast_and_broadcast_addresses_are_always_refused) {
  for (std::string url :
       {"http://0.0.0.0/", "http://0.1.2.3:8080/", "http://[::]/",
        "http://[::ffff:0.0.0.0]/", "http://0/", "http://224.0.0.1/",
        "http://239.255.255.250:1900/", "http://[ff02::1]/", "http://255.255.255.255/"})
    for (auto& policy :
         {keyless, keyed, naming_host_of(url, false), naming_host_of(url, true)}) {
      auto problem = problem_of(url, policy);
      BOOST_TEST(problem.rfind("state_webhook_url host '", 0) == 0,
                 url << ": " << problem);
      BOOST_TEST(problem.find("no receiver can be reached there") != std::string::npos,
                 url << ": " << problem);
    }
  BOOST_TEST(problem_of("http://[ff02::1]/", keyless)
             == "state_webhook_url host 'ff02::1' is a multicast address; "
                "no receiver can be reached there");
}

BOOST_AUTO_TEST_CASE(link_local_addresses_need_the_host_named) {
  for (std::string url : {"http://169.254.169.254/latest/meta-data/",
                          "http://169.254.0.1/", "http://[fe80::1]:8080/",
                          "http://[febf::1]/", "http://[::ffff:169.254.169.254]/"}) {
    for (auto& policy : {keyless, keyed}) {
      auto problem = problem_of(url, policy);
      BOOST_TEST(problem.find("is a link-local address; ") != std::string::npos,
                 url << ": " << problem);
      BOOST_TEST(problem.find("FOREMAN_WEBHOOK_HOSTS") != std::string::npos);
    }
    BOOST_TEST(!webhook_url_problem(url, naming_host_of(url, false)), url);
    BOOST_TEST(!webhook_url_problem(url, naming_host_of(url, true)), url);
  }
}

BOOST_AUTO_TEST_CASE(
  loopback_and_private_addresses_need_the_host_named_when_keys_are_set) {
  for (std::string url :
       {"http://127.0.0.1:9000/hook", "http://127.8.9.10/", "http://[::1]:9000/",
        "http://[::ffff:127.0.0.1]/", "http://[::127.0.0.1]/", "http://10.1.2.3/",
        "http://172.16.0.1/", "http://172.31.255.255/", "http://192.168.1.1/",
        "http://100.64.0.1/", "http://100.127.255.255/", "https://[fc00::1]/",
        "http://[fd12:3456::1]/", "http://[fec0::1]/", "http://[::ffff:10.0.0.1]/",
        "http://localhost:9000/", "http://LOCALHOST/"}) {
    BOOST_TEST(!webhook_url_problem(url, keyless), url);
    auto problem = problem_of(url, keyed);
    BOOST_TEST(
      problem.find("with API keys configured, loopback and private addresses are "
                   "refused unless FOREMAN_WEBHOOK_HOSTS names the host")
        != std::string::npos,
      url << ": " << problem);
    BOOST_TEST(!webhook_url_problem(url, naming_host_of(url, true)), url);
  }
  BOOST_TEST(problem_of("http://localhost:9000/", keyed)
               .rfind("state_webhook_url host 'localhost' resolves to 127.0.0.1, a "
                      "loopback address; ",
                      0)
             == 0);
  BOOST_TEST(problem_of("http://10.1.2.3/", keyed)
               .rfind("state_webhook_url host '10.1.2.3' is a private address; ", 0)
             == 0);
  // Hosts are compared case-insensitively.
  BOOST_TEST(
    !webhook_url_problem("http://LocalHost/", webhook_policy{{"localhost"}, true}));
}

BOOST_AUTO_TEST_CASE(ordinary_addresses_pass_with_keys) {
  for (auto url :
       {"http://8.8.8.8/", "http://11.0.0.1/", "http://172.15.255.255/",
        "http://172.32.0.1/", "http://192.169.0.1/", "http://100.63.255.255/",
        "http://100.128.0.1/", "http://169.255.0.1/", "http://223.255.255.255/",
        "https://[2001:db8::1]:8443/x", "http://[::ffff:8.8.8.8]/"})
    BOOST_TEST(!webhook_url_problem(url, keyed), url << ": " << problem_of(url, keyed));
}

BOOST_AUTO_TEST_CASE(ipv4_addresses_in_other_notations_are_refused_as_ambiguous) {
  // inet_aton reads each as an address (2130706433 and 0x7f.1 are 127.0.0.1),
  // other URL parsers as names or other addresses.
  for (std::string url : {"http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/",
                          "http://127.1/", "http://01.2.3.4/", "http://0x08080808/"})
    for (auto& policy : {keyless, keyed, naming_host_of(url, true)}) {
      auto problem = problem_of(url, policy);
      BOOST_TEST(
        problem.find("is ambiguous: write an IPv4 address as four decimal numbers")
          != std::string::npos,
        url << ": " << problem);
    }
  BOOST_TEST(
    problem_of("http://2130706433/", keyless)
    == "state_webhook_url host '2130706433' is ambiguous: write an IPv4 address as "
       "four decimal numbers, e.g. 127.0.0.1");
}

BOOST_AUTO_TEST_CASE(names_that_do_not_resolve_are_refused) {
  // A label longer than 63 characters: the resolver refuses it without
  // asking any name server.
  auto url = "http://" + std::string(64, 'a') + ".example/hook";
  for (auto& policy : {keyless, keyed})
    BOOST_TEST(problem_of(url, policy)
               == "state_webhook_url host '" + std::string(64, 'a')
                    + ".example' does not resolve to an address");
}

BOOST_AUTO_TEST_CASE(urls_longer_than_2048_characters_are_refused) {
  auto prefix = std::string{"http://8.8.8.8/"};
  auto longest = prefix + std::string(2048 - prefix.size(), 'p');
  BOOST_TEST(!webhook_url_problem(longest, keyed));
  for (auto size : {2049, 100 * 1024}) {
    auto url = prefix + std::string(size - prefix.size(), 'p');
    BOOST_TEST(problem_of(url, keyless)
               == "state_webhook_url must be at most 2048 characters");
  }
}

BOOST_AUTO_TEST_CASE(malformed_urls_and_hosts_off_the_list_are_refused) {
  BOOST_TEST(problem_of("ftp://8.8.8.8/", keyless)
               .rfind("state_webhook_url must be an absolute http or https URL", 0)
             == 0);
  BOOST_TEST(
    problem_of("http://8.8.4.4/", webhook_policy{{"8.8.8.8"}, false})
    == "state_webhook_url host '8.8.4.4' is not allowed (FOREMAN_WEBHOOK_HOSTS)");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(settings_parsing)

env_lookup env_of(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto i = values.find(name);
    if (i == values.end())
      return std::nullopt;
    return i->second;
  };
}

BOOST_AUTO_TEST_CASE(defaults_match_the_design) {
  auto s = parse_settings({}, env_of({})).values;
  BOOST_TEST(s.listen_host == "127.0.0.1");
  BOOST_TEST(s.listen_port == 11435);
  BOOST_TEST(s.ollama_url.origin() == "http://127.0.0.1:11434");
  BOOST_TEST(s.db_path == "foreman.db");
  BOOST_TEST(s.worker_keep_alive.json() == "-1");
}

BOOST_AUTO_TEST_CASE(command_line_beats_environment) {
  auto s = parse_settings({"--keep-alive=15m", "--listen", "0.0.0.0:9000"},
                          env_of({{"FOREMAN_KEEP_ALIVE", "0"},
                                  {"FOREMAN_DB", "/tmp/x.db"}}))
             .values;
  BOOST_TEST(s.worker_keep_alive.json() == "\"15m\"");
  BOOST_TEST(s.listen_host == "0.0.0.0");
  BOOST_TEST(s.listen_port == 9000);
  BOOST_TEST(s.db_path == "/tmp/x.db");
}

BOOST_AUTO_TEST_CASE(empty_keep_alive_means_the_default) {
  // As in the original Go foreman: set but empty is not an error.
  auto s = parse_settings({}, env_of({{"FOREMAN_KEEP_ALIVE", ""}})).values;
  BOOST_TEST(s.worker_keep_alive.json() == "-1");
  BOOST_TEST(!s.worker_keep_alive.unloads_immediately());
}

BOOST_AUTO_TEST_CASE(invalid_values_name_the_setting_and_the_forms) {
  try {
    parse_settings({}, env_of({{"FOREMAN_KEEP_ALIVE", "forever"}}));
    BOOST_FAIL("accepted FOREMAN_KEEP_ALIVE=forever");
  } catch (const settings_error& e) {
    std::string what = e.what();
    BOOST_TEST(what.find("FOREMAN_KEEP_ALIVE") != std::string::npos);
    BOOST_TEST(what.find("15m") != std::string::npos);
  }
  BOOST_CHECK_THROW(parse_settings({"--max-wait=-3"}, env_of({})), settings_error);
  BOOST_CHECK_THROW(parse_settings({"--ollama-url=ftp://x"}, env_of({})),
                    settings_error);
  BOOST_CHECK_THROW(parse_settings({"--no-such-option=1"}, env_of({})),
                    settings_error);
  BOOST_CHECK_THROW(parse_settings({"--db"}, env_of({})), settings_error);
  BOOST_CHECK_THROW(parse_settings({"--webhook-ca-file=/nonexistent/ca.pem"}, env_of({})),
                    settings_error);
}

BOOST_AUTO_TEST_CASE(webhook_settings_parse_and_name_themselves) {
  auto s = parse_settings({"--webhook-backoff=250ms", "--public-url",
                           "http://foreman.example:8080"},
                          env_of({{"FOREMAN_WEBHOOK_SECRET", "s3cret"},
                                  {"FOREMAN_WEBHOOK_MAX_ATTEMPTS", "7"},
                                  {"FOREMAN_WEBHOOK_INLINE_LIMIT", "0"},
                                  {"FOREMAN_WEBHOOK_HOSTS", "hooks.example, 10.0.0.7,::1"},
                                  {"FOREMAN_WEBHOOK_TIMEOUT", "3s"}}))
             .values;
  BOOST_TEST(s.webhook_secret == "s3cret");
  BOOST_TEST(s.webhook_max_attempts == 7);
  BOOST_TEST(s.webhook_inline_limit == 0);
  BOOST_TEST(s.webhook_hosts
             == (std::vector<std::string>{"hooks.example", "10.0.0.7", "::1"}));
  BOOST_TEST(s.webhook_backoff_ms == 250);
  BOOST_TEST(s.webhook_timeout_ms == 3000);
  BOOST_TEST(s.public_url == "http://foreman.example:8080");
  auto defaults = parse_settings({}, env_of({})).values;
  BOOST_TEST(defaults.webhook_secret.empty());
  BOOST_TEST(defaults.webhook_hosts.empty());
  BOOST_TEST(defaults.webhook_max_attempts == 10);
  for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
         {"FOREMAN_WEBHOOK_MAX_ATTEMPTS", "0"},
         {"FOREMAN_WEBHOOK_INLINE_LIMIT", "-1"},
         {"FOREMAN_WEBHOOK_HOSTS", "a,,b"},
         {"FOREMAN_WEBHOOK_HOSTS", "a/b"},
         {"FOREMAN_WEBHOOK_BACKOFF", "soon"},
         {"FOREMAN_WEBHOOK_TIMEOUT", "0"},
         {"FOREMAN_PUBLIC_URL", "http://x/path"}}) {
    try {
      parse_settings({}, env_of({{name, value}}));
      BOOST_ERROR("accepted " << name << "=" << value);
    } catch (const settings_error& e) {
      BOOST_TEST(std::string{e.what()}.find(name) != std::string::npos, e.what());
    }
  }
}

/// Writes `text` to a file in `dir` and returns its path.
std::string write_file(const foreman_test::temp_dir& dir, const std::string& text) {
  auto path = dir.file("foreman.conf");
  std::ofstream{path} << text;
  return path;
}

BOOST_AUTO_TEST_CASE(config_file_then_environment_then_command_line) {
  foreman_test::temp_dir dir;
  auto path = write_file(dir, "# site settings\n"
                              "max-queue = 100\n"
                              "max-attempts = 5\n"
                              "  db = \"/srv/jobs.db\"  \n"
                              "\n"
                              "log-level=debug\n");
  // The file alone.
  auto from_file = parse_settings({"--config", path}, env_of({})).values;
  BOOST_TEST(from_file.max_queue == 100);
  BOOST_TEST(from_file.max_attempts == 5);
  BOOST_TEST(from_file.db_path == "/srv/jobs.db");
  BOOST_TEST(from_file.log_level == "debug");
  BOOST_TEST(from_file.config_file == path);
  // The environment beats the file, the command line beats both.
  auto s = parse_settings({"--max-queue=300"},
                          env_of({{"FOREMAN_CONFIG", path},
                                  {"FOREMAN_MAX_QUEUE", "200"},
                                  {"FOREMAN_MAX_ATTEMPTS", "7"}}))
             .values;
  BOOST_TEST(s.max_queue == 300);
  BOOST_TEST(s.max_attempts == 7);
  BOOST_TEST(s.db_path == "/srv/jobs.db");
  // --config beats FOREMAN_CONFIG.
  foreman_test::temp_dir other;
  auto other_path = write_file(other, "max-queue = 42\n");
  auto chosen = parse_settings({"--config=" + other_path},
                               env_of({{"FOREMAN_CONFIG", path}}))
                  .values;
  BOOST_TEST(chosen.max_queue == 42);
  BOOST_TEST(chosen.max_attempts == 3);
}

BOOST_AUTO_TEST_CASE(bad_config_files_are_rejected_naming_the_line) {
  foreman_test::temp_dir dir;
  auto rejects = [&](const std::string& text, const std::string& expected) {
    auto path = write_file(dir, text);
    try {
      parse_settings({"--config", path}, env_of({}));
      BOOST_ERROR("accepted config " << text);
    } catch (const settings_error& e) {
      BOOST_TEST(std::string{e.what()}.find(expected) != std::string::npos,
                 e.what() << " lacks " << expected);
    }
  };
  rejects("max-queue = 10\nmax-qeue = 5\n", "foreman.conf:2: unknown setting 'max-qeue'");
  rejects("\nmax-wait = soon\n", "foreman.conf:2 max-wait 'soon'");
  rejects("max-wait = soon\n", "positive duration");
  rejects("listen\n", "foreman.conf:1: expected `name = value`");
  rejects("db = a.db\ndb = b.db\n", "'db' is set twice");
  rejects("config = other.conf\n", "unknown setting 'config'");
  BOOST_CHECK_THROW(parse_settings({"--config", dir.file("missing.conf")}, env_of({})),
                    settings_error);
  BOOST_CHECK_THROW(parse_settings({"--config"}, env_of({})), settings_error);
}

BOOST_AUTO_TEST_CASE(api_keys_take_a_scope_and_reject_weak_entries) {
  auto s = parse_settings({}, env_of({{"FOREMAN_API_KEYS",
                                       "team-key-0123456789, ops-key-0123456789:admin,"
                                       "ci-key-0123456789ab:client"}}))
             .values;
  BOOST_TEST_REQUIRE(s.api_keys.size() == 3u);
  BOOST_TEST(s.api_keys[0].secret == "team-key-0123456789");
  BOOST_TEST((s.api_keys[0].scope == key_scope::client));
  BOOST_TEST((s.api_keys[1].scope == key_scope::admin));
  BOOST_TEST((s.api_keys[2].scope == key_scope::client));
  BOOST_TEST(parse_settings({}, env_of({})).values.api_keys.empty());
  for (auto bad : {"short:admin", "team-key-0123456789:root",
                   "team-key-0123456789,,ops-key-0123456789",
                   "team-key-0123456789,team-key-0123456789",
                   "team key 0123456789"}) {
    try {
      parse_settings({"--api-keys", bad}, env_of({}));
      BOOST_ERROR("accepted --api-keys " << bad);
    } catch (const settings_error& e) {
      BOOST_TEST(std::string{e.what()}.find("--api-keys") != std::string::npos);
      // The keys themselves are secrets; only the entry number is named.
      BOOST_TEST(std::string{e.what()}.find("entry") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(api_keys_are_found_by_exact_match_only) {
  auto keys = std::get<std::vector<api_key>>(
    parse_api_keys("team-key-0123456789,ops-key-0123456789:admin"));
  BOOST_TEST((find_api_key(keys, "ops-key-0123456789")->scope == key_scope::admin));
  BOOST_TEST(find_api_key(keys, "team-key-0123456789").has_value());
  for (auto wrong : {"", "team-key-012345678", "team-key-01234567890",
                     "TEAM-KEY-0123456789", "ops-key-0123456789:admin"})
    BOOST_TEST(!find_api_key(keys, wrong).has_value(), wrong);
}

BOOST_AUTO_TEST_CASE(shutdown_grace_takes_durations) {
  BOOST_TEST(parse_settings({}, env_of({})).values.shutdown_grace_ms == 30000);
  BOOST_TEST(parse_settings({"--shutdown-grace=0"}, env_of({})).values.shutdown_grace_ms
             == 0);
  BOOST_TEST(parse_settings({"--shutdown-grace=2m"}, env_of({})).values.shutdown_grace_ms
             == 120000);
  BOOST_CHECK_THROW(parse_settings({"--shutdown-grace=-1s"}, env_of({})), settings_error);
}

BOOST_AUTO_TEST_CASE(help_lists_every_variable) {
  auto help = settings_help();
  for (auto name : {"FOREMAN_LISTEN", "FOREMAN_OLLAMA_URL", "FOREMAN_DB",
                    "FOREMAN_EMBED_MODEL", "FOREMAN_KEEP_ALIVE",
                    "FOREMAN_MAX_ATTEMPTS", "FOREMAN_MAX_WAIT"})
    BOOST_TEST(help.find(name) != std::string::npos, "missing " << name);
  BOOST_TEST(parse_settings({"--help"}, env_of({})).help_requested);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(metrics_text)

BOOST_AUTO_TEST_CASE(the_registry_renders_valid_prometheus_text) {
  metrics_registry r;
  r.add_counter("t_requests_total", "Requests, by \"route\".\nSecond line.");
  r.add_gauge("t_depth", "Depth.");
  r.add_histogram("t_seconds", "Durations.", {1, 0.1, 10});
  r.start_series("t_requests_total", {{"route", "/a"}});
  r.increment("t_requests_total", {{"route", "say \"hi\"\\\n"}}, 2);
  r.set("t_depth", {{"model", "m"}, {"state", "queued"}}, 3);
  r.clear("t_depth");
  r.set("t_depth", {{"model", "n"}, {"state", "queued"}}, 4);
  for (double x : {0.05, 0.1, 0.5, 20.0})
    r.observe("t_seconds", {{"kind", "chat"}}, x);
  r.start_series("t_seconds", {});
  auto text = r.render();
  auto samples = foreman_test::parse_prometheus_text(text);
  BOOST_TEST(samples.at(R"(t_requests_total{route="/a"})") == 0);
  // Quotes, backslashes and newlines in label values come back intact.
  BOOST_TEST(samples.at("t_requests_total{route=\"say \"hi\"\\\n\"}") == 2);
  BOOST_TEST(samples.count(R"(t_depth{model="m",state="queued"})") == 0u);
  BOOST_TEST(samples.at(R"(t_depth{model="n",state="queued"})") == 4);
  // Buckets are cumulative and bounded as declared (sorted), +Inf = count.
  BOOST_TEST(samples.at(R"(t_seconds_bucket{kind="chat",le="0.1"})") == 2);
  BOOST_TEST(samples.at(R"(t_seconds_bucket{kind="chat",le="1"})") == 3);
  BOOST_TEST(samples.at(R"(t_seconds_bucket{kind="chat",le="10"})") == 3);
  BOOST_TEST(samples.at(R"(t_seconds_bucket{kind="chat",le="+Inf"})") == 4);
  BOOST_TEST(samples.at(R"(t_seconds_count{kind="chat"})") == 4);
  BOOST_TEST(samples.at(R"(t_seconds_sum{kind="chat"})") == 20.65);
  BOOST_TEST(samples.at("t_seconds_count") == 0);
  BOOST_TEST(text.find("# HELP t_requests_total Requests, by \"route\".\\nSecond line.\n")
             != std::string::npos);
  BOOST_CHECK_THROW(r.increment("t_depth", {}), std::logic_error);
  BOOST_CHECK_THROW(r.observe("t_unknown", {}, 1), std::logic_error);
}

BOOST_AUTO_TEST_CASE(the_reader_rejects_what_prometheus_rejects) {
  for (auto bad : {"x 1\n",                                   // no TYPE
                   "# TYPE x counter\nx{a=\"1\" 1\n",        // unterminated labels
                   "# TYPE x counter\nx{a=1} 1\n",           // unquoted value
                   "# TYPE x counter\nx one\n",              // not a number
                   "# TYPE x counter\nx 1\nx 2\n",           // repeated series
                   "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                   "h_count 1\nh_sum 1\n"})                  // not cumulative
    BOOST_CHECK_THROW(foreman_test::parse_prometheus_text(bad), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(loopback_hosts_are_told_apart) {
  for (auto host : {"127.0.0.1", "127.1.2.3", "localhost", "::1"})
    BOOST_TEST(is_loopback_host(host), host);
  for (auto host : {"0.0.0.0", "::", "10.0.0.7", "foreman.example", "128.0.0.1"})
    BOOST_TEST(!is_loopback_host(host), host);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(scheduling)

/// A queued job; its turn defaults to its id (one anonymous client).
queued_job queued(int64_t id, std::string group, int32_t priority = 0,
                  int64_t created_at_ms = 0, int64_t turn = -1) {
  return queued_job{id, std::move(group), priority, turn < 0 ? id : turn,
                    created_at_ms};
}

const scheduling_rules no_bound{0, true};

BOOST_AUTO_TEST_CASE(nothing_queued_means_nothing_to_run) {
  BOOST_TEST(!choose_next_job({}, {"a|"}, 0, no_bound).has_value());
}

BOOST_AUTO_TEST_CASE(earliest_turn_when_nothing_is_resident) {
  auto next = choose_next_job({queued(5, "b|"), queued(3, "a|")}, {}, 0, no_bound);
  BOOST_TEST(*next == 3);
}

BOOST_AUTO_TEST_CASE(a_resident_group_goes_first_even_if_younger) {
  auto next = choose_next_job({queued(3, "a|"), queued(9, "b|"), queued(7, "c|")},
                              {"c|", "b|"}, 0, no_bound);
  BOOST_TEST(*next == 7);
}

BOOST_AUTO_TEST_CASE(the_same_model_with_other_load_options_needs_a_reload) {
  // llama3.2 is loaded with num_ctx=4096; a num_ctx=8192 job would reload
  // it, so the default-options job of a model that is not loaded waits too,
  // and the older job runs.
  auto next = choose_next_job({queued(3, "llama3.2:latest|num_ctx=8192"),
                               queued(4, "llama3.2:latest|num_ctx=4096")},
                              {"llama3.2:latest|num_ctx=4096"}, 0, no_bound);
  BOOST_TEST(*next == 4);
  next = choose_next_job({queued(3, "llama3.2:latest|num_ctx=8192"),
                          queued(4, "llama3.2:latest|")},
                         {"llama3.2:latest|"}, 0, no_bound);
  BOOST_TEST(*next == 4);
}

BOOST_AUTO_TEST_CASE(priority_beats_residency_and_age) {
  auto next = choose_next_job({queued(3, "a|", 0), queued(8, "b|", 5)}, {"a|"}, 0,
                              no_bound);
  BOOST_TEST(*next == 8);
  next = choose_next_job({queued(3, "a|", -2), queued(8, "b|", -1)}, {}, 0,
                         no_bound);
  BOOST_TEST(*next == 8);
}

BOOST_AUTO_TEST_CASE(a_job_waiting_past_max_wait_goes_next) {
  scheduling_rules rules{60'000, true};
  std::vector<queued_job> jobs{queued(1, "a|", 0, 1'000),
                               queued(2, "b|", 0, 50'000)};
  BOOST_TEST(*choose_next_job(jobs, {"b|"}, 60'999, rules) == 2);
  BOOST_TEST(*choose_next_job(jobs, {"b|"}, 61'000, rules) == 1);
  // Even over a higher priority.
  jobs.push_back(queued(3, "b|", 9, 59'000));
  BOOST_TEST(*choose_next_job(jobs, {"b|"}, 61'000, rules) == 1);
  BOOST_TEST(*choose_next_job(jobs, {"b|"}, 60'000, rules) == 3);
}

BOOST_AUTO_TEST_CASE(clients_take_turns_within_a_group) {
  // Client A queued 1000 jobs (turns 1..1000) before client B's single job
  // arrived while turn 1 was being served: B's job got turn 2.
  auto next = choose_next_job({queued(2, "a|", 0, 0, 2),    // A's second
                               queued(1001, "a|", 0, 0, 2)}, // B's first
                              {"a|"}, 0, no_bound);
  BOOST_TEST(*next == 2); // equal turns: the older job
  next = choose_next_job({queued(3, "a|", 0, 0, 3), queued(1001, "a|", 0, 0, 2)},
                         {"a|"}, 0, no_bound);
  BOOST_TEST(*next == 1001);
}

BOOST_AUTO_TEST_CASE(fifo_rules_ignore_residency) {
  scheduling_rules fifo{0, false};
  auto next = choose_next_job({queued(3, "a|"), queued(9, "b|")}, {"b|"}, 0, fifo);
  BOOST_TEST(*next == 3);
}

BOOST_AUTO_TEST_CASE(a_simulated_day_never_starves_anyone) {
  // A stream of jobs for a resident model and one job for another model:
  // drain by model keeps serving the resident model until max_wait passes.
  scheduling_rules rules{30'000, true};
  std::vector<queued_job> queue{queued(1, "other|", 0, 0)};
  int64_t clock = 0;
  int64_t next_id = 2;
  for (; clock < 100'000; clock += 1'000) {
    queue.push_back(queued(next_id++, "busy|", 0, clock));
    auto next = *choose_next_job(queue, {"busy|"}, clock, rules);
    queue.erase(std::remove_if(queue.begin(), queue.end(),
                               [&](const queued_job& x) { return x.id == next; }),
                queue.end());
    if (next == 1)
      break;
  }
  BOOST_TEST(clock == 30'000);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(queue_index_properties)

// The in-memory queue must answer exactly as the policy over a plain list
// of every queued job: the same pick, the same jobs ahead, the same next
// retry, for random queues changed by random additions and removals.

struct random_queue {
  std::mt19937 rng;
  std::vector<queued_job> jobs;
  queue_index index;
  int64_t next_id = 1;

  explicit random_queue(unsigned seed) : rng(seed) {
  }

  int64_t any(int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>{low, high}(rng);
  }

  std::string any_group() {
    static const std::vector<std::string> groups{"a:latest|", "a:latest|num_ctx=8192",
                                                 "b:latest|", "c:7b|"};
    return groups[static_cast<size_t>(any(0, 3))];
  }

  void add_one(int64_t now_ms) {
    queued_job x{next_id++, any_group(), static_cast<int32_t>(any(-1, 2)),
                 any(1, 30), now_ms - any(0, 5000),
                 any(0, 3) == 0 ? now_ms + any(-500, 500) : 0};
    jobs.push_back(x);
    index.add(x);
  }

  void remove_one() {
    if (jobs.empty())
      return;
    auto i = jobs.begin() + any(0, static_cast<int64_t>(jobs.size()) - 1);
    BOOST_REQUIRE(index.remove(i->id));
    jobs.erase(i);
  }

  std::vector<queued_job> eligible(int64_t due_now_ms) const {
    std::vector<queued_job> result;
    for (auto& x : jobs)
      if (x.not_before_ms <= due_now_ms)
        result.push_back(x);
    return result;
  }
};

BOOST_AUTO_TEST_CASE(the_index_picks_as_the_policy_over_the_whole_queue) {
  for (unsigned seed = 1; seed <= 300; ++seed) {
    random_queue q{seed};
    int64_t now = 1'000'000;
    for (int step = 0; step < 60; ++step) {
      now += q.any(0, 200);
      if (q.any(0, 3) == 0)
        q.remove_one();
      else
        q.add_one(now);
      std::vector<std::string> resident;
      for (int i = 0; i < q.any(0, 2); ++i)
        resident.push_back(q.any_group());
      scheduling_rules rules{q.any(0, 1) == 0 ? 0 : q.any(1000, 6000), q.any(0, 4) != 0};
      auto expected = choose_next_job(q.eligible(now), resident, now, rules);
      auto picked = q.index.pick(resident, now, now, rules);
      BOOST_REQUIRE_MESSAGE(expected.has_value() == picked.has_value(),
                            "seed " << seed << " step " << step);
      if (expected)
        BOOST_REQUIRE_MESSAGE(*expected == picked->id,
                              "seed " << seed << " step " << step << ": policy "
                                      << *expected << ", index " << picked->id);
    }
  }
}

BOOST_AUTO_TEST_CASE(the_index_counts_the_jobs_ahead_by_model) {
  for (unsigned seed = 1; seed <= 100; ++seed) {
    random_queue q{seed};
    for (int i = 0; i < 80; ++i)
      q.add_one(1'000'000);
    for (int i = 0; i < 20; ++i)
      q.remove_one();
    BOOST_REQUIRE(q.index.size() == static_cast<int64_t>(q.jobs.size()));
    auto earlier = [](const queued_job& a, const queued_job& b) {
      return std::make_tuple(-a.priority, a.turn, a.id)
             < std::make_tuple(-b.priority, b.turn, b.id);
    };
    for (auto& x : q.jobs) {
      std::map<std::string, int64_t> expected;
      for (auto& y : q.jobs)
        if (earlier(y, x))
          ++expected[model_of_group(y.group_key)];
      auto ahead = q.index.ahead_of(x);
      std::map<std::string, int64_t> got(ahead.by_model.begin(), ahead.by_model.end());
      BOOST_REQUIRE(got == expected);
      int64_t total = 0;
      for (auto& [model, n] : expected)
        total += n;
      BOOST_REQUIRE(ahead.position == total);
    }
  }
}

BOOST_AUTO_TEST_CASE(the_index_knows_the_next_retry) {
  for (unsigned seed = 1; seed <= 100; ++seed) {
    random_queue q{seed};
    for (int i = 0; i < 40; ++i)
      q.add_one(1'000'000);
    for (int i = 0; i < 10; ++i)
      q.remove_one();
    for (int64_t now : {999'000, 1'000'000, 1'000'250, 1'001'000}) {
      int64_t expected = 0;
      for (auto& x : q.jobs)
        if (x.not_before_ms > now && (expected == 0 || x.not_before_ms < expected))
          expected = x.not_before_ms;
      BOOST_REQUIRE(q.index.next_retry_at(now) == expected);
    }
  }
}

BOOST_AUTO_TEST_CASE(adding_a_job_again_replaces_its_facts) {
  queue_index index;
  index.add({1, "a:latest|", 0, 5, 100, 0});
  index.add({1, "b:latest|", 3, 2, 100, 0});
  BOOST_TEST(index.size() == 1);
  BOOST_TEST(index.pick({}, 200, 200, {})->group_key == "b:latest|");
  BOOST_TEST(index.ahead_of({2, "b:latest|", 3, 5, 100, 0}).by_model
             == (std::vector<std::pair<std::string, int64_t>>{{"b:latest", 1}}));
  BOOST_TEST(index.remove(1));
  BOOST_TEST(!index.remove(1));
  BOOST_TEST(!index.pick({}, 200, 200, {}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(structured_logs)

// 2026-01-02T03:04:05.678Z
constexpr int64_t some_time_ms = 1767323045678;

Poco::JSON::Object::Ptr parse_line(const std::string& line) {
  return Poco::JSON::Parser{}.parse(line).extract<Poco::JSON::Object::Ptr>();
}

BOOST_AUTO_TEST_CASE(text_lines_put_the_attributes_after_the_message) {
  auto line = format_log_line(log_format::text, some_time_ms, log_level::warning,
                              "worker", "job failed",
                              {{"job_id", 7},
                               {"model", "llama3.2"},
                               {"error", "target unreachable: refused"},
                               {"note", ""},
                               {"ratio", 0.5}});
  BOOST_TEST(line
             == "2026-01-02T03:04:05.678Z warning worker: job failed job_id=7 "
                "model=llama3.2 error=\"target unreachable: refused\" note=\"\" "
                "ratio=0.5");
}

BOOST_AUTO_TEST_CASE(text_values_never_break_the_line) {
  auto line = format_log_line(log_format::text, some_time_ms, log_level::info,
                              "inventory", "cannot warm the embedder",
                              {{"error", "line one\nline \"two\""}});
  BOOST_TEST(line.find('\n') == std::string::npos);
  BOOST_TEST(line.find(R"(error="line one\nline \"two\"")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(json_lines_carry_the_attributes_as_typed_fields) {
  auto line = format_log_line(log_format::json, some_time_ms, log_level::info,
                              "worker", "job done",
                              {{"job_id", int64_t{7}},
                               {"model", "llama3.2"},
                               {"attempt", 2},
                               {"duration_ms", int64_t{1500}},
                               {"load_seconds", 0.25},
                               {"pinned", true}});
  BOOST_TEST(line
             == R"({"time":"2026-01-02T03:04:05.678Z","level":"info",)"
                R"("component":"worker","msg":"job done","job_id":7,)"
                R"("model":"llama3.2","attempt":2,"duration_ms":1500,)"
                R"("load_seconds":0.25,"pinned":true})");
  auto event = parse_line(line);
  BOOST_TEST(event->get("job_id").isInteger());
  BOOST_TEST(event->getValue<int>("attempt") == 2);
  BOOST_TEST(event->getValue<double>("load_seconds") == 0.25);
  BOOST_TEST(event->getValue<bool>("pinned"));
}

BOOST_AUTO_TEST_CASE(json_lines_parse_whatever_a_value_holds) {
  // A target's error body may hold quotes, control characters and bytes
  // that are not UTF-8.
  std::string nasty = "say \"hi\"\\ \t\r\n\x01 caf\xc3\xa9 \xff\xc3(";
  auto line = format_log_line(log_format::json, some_time_ms, log_level::error,
                              "comp\"onent", nasty,
                              {{"error", nasty},
                               {"nan", std::numeric_limits<double>::quiet_NaN()}});
  BOOST_TEST(line.find('\n') == std::string::npos);
  auto event = parse_line(line);
  auto error = event->getValue<std::string>("error");
  BOOST_TEST(error.substr(0, 13) == "say \"hi\"\\ \t\r\n");
  BOOST_TEST(error.find("caf\xc3\xa9") != std::string::npos);
  BOOST_TEST(error.find("\xef\xbf\xbd") != std::string::npos); // U+FFFD
  BOOST_TEST(event->getValue<std::string>("msg") == error);
  BOOST_TEST(event->getValue<std::string>("component") == "comp\"onent");
  BOOST_TEST(event->isNull("nan"));
}

BOOST_AUTO_TEST_CASE(a_logger_writes_its_levels_with_its_context) {
  std::vector<std::string> lines;
  logger log{log_level::info, log_format::json,
             [&](const std::string& line) { lines.push_back(line); }};
  auto target_log = log.with({{"target", "http://gpu1:11434"}});
  target_log.debug("worker", "not written");
  target_log.info("worker", "job stored", {{"job_id", 3}});
  log.error("store", "no context");
  BOOST_REQUIRE_EQUAL(lines.size(), 2u);
  auto first = parse_line(lines[0]);
  BOOST_TEST(first->getValue<int>("job_id") == 3);
  BOOST_TEST(first->getValue<std::string>("target") == "http://gpu1:11434");
  BOOST_TEST(first->getValue<std::string>("level") == "info");
  BOOST_TEST(!parse_line(lines[1])->has("target"));
}

BOOST_AUTO_TEST_CASE(levels_and_formats_parse_by_name) {
  BOOST_TEST((parse_log_level("warning") == log_level::warning));
  BOOST_TEST(!parse_log_level("verbose"));
  BOOST_TEST((parse_log_format("json") == log_format::json));
  BOOST_TEST(!parse_log_format("JSON"));
  auto s = parse_settings({"--log-format=json"}, [](const std::string&) {
             return std::optional<std::string>{};
           }).values;
  BOOST_TEST(s.log_format == "json");
  try {
    parse_settings({}, [](const std::string& name) {
      return name == "FOREMAN_LOG_FORMAT" ? std::optional<std::string>{"xml"}
                                          : std::nullopt;
    });
    BOOST_FAIL("accepted FOREMAN_LOG_FORMAT=xml");
  } catch (const settings_error& e) {
    std::string what = e.what();
    BOOST_TEST(what.find("FOREMAN_LOG_FORMAT") != std::string::npos);
    BOOST_TEST(what.find("text or json") != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stream_tokens)

BOOST_AUTO_TEST_CASE(tokens_count_chunks_until_the_final_chunk_says_how_many) {
  net::stream_aggregator answer{job_kind::generate};
  BOOST_TEST(answer.tokens() == 0);
  BOOST_TEST(!answer.add(R"({"response":"Hel","done":false})"));
  BOOST_TEST(!answer.add(R"({"response":"lo","done":false})"));
  BOOST_TEST(answer.tokens() == 2);
  // A line that is no chunk counts for nothing.
  BOOST_TEST(answer.add("not json").has_value());
  BOOST_TEST(answer.tokens() == 2);
  // The target's own count is the last word (Ollama may merge pieces).
  BOOST_TEST(!answer.add(R"({"response":"","done":true,"eval_count":3})"));
  BOOST_TEST(answer.tokens() == 3);
  net::stream_aggregator uncounted{job_kind::chat};
  BOOST_TEST(!uncounted.add(R"({"message":{"content":"Hi"},"done":false})"));
  BOOST_TEST(!uncounted.add(R"({"message":{"content":""},"done":true})"));
  BOOST_TEST(uncounted.tokens() == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(queue_history)

BOOST_AUTO_TEST_CASE(the_queue_is_rebuilt_a_minute_at_a_time_back_from_now) {
  journal_history history;
  history.to_ms = 630000;
  history.from_ms = history.to_ms - 200000; // room for three minutes back
  history.queued_now = 5;
  // The last minute: one job queued, two left the queue, three ended; two
  // minutes before it, four queued.
  history.minutes = {{0, 1, 2, 3}, {2, 4, 0, 0}};
  auto samples = queue_samples(history);
  BOOST_REQUIRE_EQUAL(samples.size(), 4u);
  std::vector<int64_t> times, queued, ended;
  for (auto& x : samples) {
    times.push_back(x.at_ms);
    queued.push_back(x.queued);
    ended.push_back(x.jobs_per_minute);
  }
  BOOST_TEST(times == (std::vector<int64_t>{450000, 510000, 570000, 630000}));
  BOOST_TEST(queued == (std::vector<int64_t>{2, 6, 6, 5}));
  BOOST_TEST(ended == (std::vector<int64_t>{0, 0, 0, 3}));
  // A history without a past has the present only.
  history.from_ms = history.to_ms;
  history.minutes.clear();
  BOOST_TEST(queue_samples(history).size() == 1u);
  BOOST_TEST(queue_samples(history).front().queued == 5);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(retry_timing)

using std::chrono::milliseconds;

BOOST_AUTO_TEST_CASE(backoff_doubles_up_to_its_cap_with_jitter) {
  jittered_backoff backoff{milliseconds{1000}, milliseconds{60000}};
  BOOST_TEST(backoff.ceiling(1).count() == 1000);
  BOOST_TEST(backoff.ceiling(2).count() == 2000);
  BOOST_TEST(backoff.ceiling(6).count() == 32000);
  BOOST_TEST(backoff.ceiling(7).count() == 60000);
  BOOST_TEST(backoff.ceiling(100000).count() == 60000);
  for (int32_t n : {1, 3, 7, 40}) {
    auto ceiling = backoff.ceiling(n).count();
    for (int i = 0; i < 200; ++i) {
      auto delay = backoff.delay(n).count();
      BOOST_TEST((delay >= ceiling / 2 && delay <= ceiling), n << ": " << delay);
    }
  }
  // A first delay beyond the cap waits the cap.
  BOOST_TEST(jittered_backoff(milliseconds{5000}, milliseconds{1000}).ceiling(1).count()
             == 1000);
}

BOOST_AUTO_TEST_CASE(a_wake_timer_keeps_one_wake_up_for_the_earliest_due_time) {
  wake_timer timer;
  BOOST_TEST(!timer.arm(0, 1000));
  BOOST_TEST(timer.arm(5000, 1000)->count() == 4000);
  // Later due times wait for the pending wake-up; an earlier one needs its own.
  BOOST_TEST(!timer.arm(7000, 2000));
  BOOST_TEST(timer.arm(3000, 2000)->count() == 1000);
  // An early wake-up (another reason to look) leaves the pending one.
  timer.woke(2500);
  BOOST_TEST(!timer.arm(4000, 2500));
  timer.woke(3000);
  BOOST_TEST(timer.arm(7000, 3000)->count() == 4000);
  timer.woke(7000);
  // Due already: at once.
  BOOST_TEST(timer.arm(6000, 7000)->count() == 0);
}

BOOST_AUTO_TEST_CASE(a_throttle_lets_one_update_through_per_interval) {
  update_throttle throttle{milliseconds{250}};
  auto start = std::chrono::steady_clock::time_point{} + std::chrono::hours{1};
  // The first update goes at once; those within the interval after it do not.
  BOOST_TEST(throttle.admit(start));
  BOOST_TEST(!throttle.admit(start + milliseconds{1}));
  BOOST_TEST(!throttle.admit(start + milliseconds{249}));
  BOOST_TEST(throttle.admit(start + milliseconds{250}));
  // The interval counts from the last update let through, not from the
  // last one asked about.
  BOOST_TEST(!throttle.admit(start + milliseconds{400}));
  BOOST_TEST(throttle.admit(start + milliseconds{500}));
  BOOST_TEST(throttle.admit(start + milliseconds{2000}));
}

/// A clock whose wall time the test sets apart from its monotonic time.
struct settable_clock : time_source {
  int64_t wall = 1767323045678;
  int64_t steady = 42;
  int64_t wall_ms() const override {
    return wall;
  }
  int64_t steady_ms() const override {
    return steady;
  }
};

BOOST_AUTO_TEST_CASE(due_times_move_with_monotonic_time_only) {
  auto source = std::make_shared<settable_clock>();
  due_time_clock due_times{source};
  BOOST_TEST(due_times.now_ms() == source->wall);
  auto start = source->wall;
  source->steady += 250;
  source->wall += 250;
  BOOST_TEST(due_times.now_ms() == start + 250);
  // The wall clock is set back an hour, then two hours ahead.
  source->wall -= 3600000;
  BOOST_TEST(due_times.now_ms() == start + 250);
  source->wall += 7200000;
  source->steady += 50;
  BOOST_TEST(due_times.now_ms() == start + 300);
}

BOOST_AUTO_TEST_SUITE_END()
