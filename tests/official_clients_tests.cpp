#define BOOST_TEST_MODULE official_clients_tests
#include <boost/test/unit_test.hpp>

// foreman driven by the official clients: the `ollama` and `openai` npm
// packages, run by the Node.js scripts in tests/clients/ against a foreman
// child process that fronts the fake Ollama target. Each script prints one
// line per check and exits non-zero when any check fails.
//
// The packages come from tests/clients/package-lock.json; the install
// script runs `npm ci --prefix tests/clients`. Without them the tests fail
// (they are never skipped silently).

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "child_process.hpp"
#include "fake_target.hpp"
#include "foreman_process.hpp"
#include "temp_dir.hpp"

#ifndef FOREMAN_CLIENTS_DIR
#error "FOREMAN_CLIENTS_DIR must name the tests/clients directory"
#endif

using namespace foreman_test;
namespace fs = std::filesystem;

namespace {

constexpr std::chrono::seconds script_limit{120};

const fs::path clients_dir{FOREMAN_CLIENTS_DIR};

/// The node binary: FOREMAN_NODE_BIN when the build names one, otherwise the
/// first executable `node` on PATH (what `/usr/bin/env node` would run).
std::optional<std::string> find_node() {
#ifdef FOREMAN_NODE_BIN
  if (std::string{FOREMAN_NODE_BIN}.size() > 0)
    return std::string{FOREMAN_NODE_BIN};
#endif
  const char* path = std::getenv("PATH");
  std::istringstream entries{path ? path : "/usr/local/bin:/usr/bin:/bin"};
  for (std::string entry; std::getline(entries, entry, ':');) {
    if (entry.empty())
      continue;
    auto candidate = fs::path{entry} / "node";
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate.string();
  }
  return std::nullopt;
}

/// Fails the test, telling how to install them, unless the npm packages
/// the scripts import are present.
void require_clients_installed() {
  for (const char* package : {"ollama", "openai"}) {
    auto manifest = clients_dir / "node_modules" / package / "package.json";
    BOOST_REQUIRE_MESSAGE(
      fs::exists(manifest),
      "the npm package '" << package << "' is not installed (" << manifest.string()
        << " is missing): run the install script ./deploy/install-deps.sh, or by hand "
           "from the repository root: npm ci --prefix tests/clients");
  }
}

/// The fake target and a foreman child process in front of it.
struct foreman_fixture {
  temp_dir dir;
  fake_target target{{"--token-ms", "1"}};
  foreman_process foreman{{"--ollama-url", target.url(), "--db", dir.file("jobs.db"),
                           "--embed-model", "all-minilm"}};
};

/// Runs `node tests/clients/<script> <foreman url>` and requires that every
/// check passed.
void run_client_script(const std::string& script, const std::string& foreman_url) {
  require_clients_installed();
  const auto node = find_node();
  BOOST_REQUIRE_MESSAGE(node, "node is not on PATH: install Node.js 20 or newer "
                              "(./deploy/install-deps.sh)");
  const auto script_path = (clients_dir / script).string();
  BOOST_REQUIRE_MESSAGE(fs::exists(script_path), script_path << " is missing");

  BOOST_TEST_MESSAGE("running " << *node << ' ' << script_path << ' ' << foreman_url);
  child_process client{*node, {script_path, foreman_url}};
  const auto status = client.wait_exit(script_limit);
  if (!status) {
    client.signal(SIGKILL);
    client.wait_exit(std::chrono::seconds{5});
    BOOST_FAIL(script << " did not finish within " << script_limit.count()
                      << " s (its output is above)");
  }
  // Let the reader thread take the last lines before looking for the summary.
  const auto summary = client.wait_for_line(
    [](const std::string& line) {
      const std::string tail = " checks passed";
      return line.rfind("all ", 0) == 0 && line.size() > tail.size()
             && line.compare(line.size() - tail.size(), tail.size(), tail) == 0;
    },
    std::chrono::seconds{5});
  BOOST_TEST(*status == 0, script << " exited with status " << *status
                                  << " (the failing checks are above)");
  BOOST_TEST(summary.has_value(),
             script << " did not print its \"all N checks passed\" line");
}

} // namespace

BOOST_FIXTURE_TEST_CASE(ollama_js_client_works_against_foreman, foreman_fixture) {
  run_client_script("ollama_client.mjs", foreman.url());
}

BOOST_FIXTURE_TEST_CASE(openai_node_client_works_against_foreman, foreman_fixture) {
  run_client_script("openai_client.mjs", foreman.url());
}
