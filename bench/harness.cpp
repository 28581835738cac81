#include "harness.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <set>
#include <iomanip>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace foreman_bench {

double ms_between(steady::time_point from, steady::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// -- failures ------------------------------------------------------------------

failure_log failures;

void failure_log::add(const std::string& phase, const http_result& got) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (++counts_[phase] <= 3) { // the first three of each phase
    auto text = got.status == 0 ? "no answer: " + got.body
                                : "HTTP " + std::to_string(got.status) + ": "
                                    + got.body.substr(0, 200);
    examples_.push_back(phase + ": " + text);
  }
}

int failure_log::count(const std::string& phase) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = counts_.find(phase);
  return it == counts_.end() ? 0 : it->second;
}

int failure_log::total() {
  std::lock_guard<std::mutex> lock(mutex_);
  int sum = 0;
  for (auto& [phase, n] : counts_)
    sum += n;
  return sum;
}

void failure_log::print(std::ostream& out) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [phase, n] : counts_)
    out << "  failed requests in " << phase << ": " << n << "\n";
  for (auto& text : examples_)
    out << "    e.g. " << text << "\n";
}

bool chat_ok(const http_result& got) {
  return got.status == 200 && is_chat_answer(got.body);
}

void add_failed_clients(const std::string& phase,
                        const foreman_loadgen::keep_alive_totals& totals) {
  for (std::size_t i = 0; i < totals.failed; ++i)
    failures.add(phase, http_result{0, i < totals.errors.size() ? totals.errors[i]
                                                                : "connection failed",
                                    {}});
}

// -- statistics ----------------------------------------------------------------

double percentile(std::vector<double> samples, double p) {
  if (samples.empty())
    return std::nan("");
  std::sort(samples.begin(), samples.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * samples.size()));
  rank = std::clamp<std::size_t>(rank, 1, samples.size());
  return samples[rank - 1];
}

double ratio(double numerator, double denominator) {
  return denominator > 0 ? numerator / denominator : std::nan("");
}

std::string fixed(double value, int decimals) {
  if (std::isnan(value))
    return "n/a";
  std::ostringstream out;
  out << std::fixed << std::setprecision(decimals) << value;
  return out.str();
}

namespace {

std::vector<std::pair<std::string, std::string>> results;

} // namespace

void result(const std::string& name, double value, int decimals) {
  results.emplace_back(name, fixed(value, decimals));
}

const std::vector<std::pair<std::string, std::string>>& recorded_results() {
  return results;
}

double megabytes(std::size_t kib) {
  return static_cast<double>(kib) / 1024.0;
}

// -- processes -----------------------------------------------------------------

namespace {

std::mutex temp_dirs_mutex;
std::set<std::filesystem::path> temp_dirs; // not yet removed

} // namespace

temp_dir::temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path()
                         / "foreman-bench-XXXXXX").string();
  if (!mkdtemp(pattern.data()))
    throw std::runtime_error("cannot create a temporary directory");
  path_ = pattern;
  std::lock_guard<std::mutex> lock(temp_dirs_mutex);
  temp_dirs.insert(path_);
}

temp_dir::~temp_dir() {
  std::lock_guard<std::mutex> lock(temp_dirs_mutex);
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
  temp_dirs.erase(path_);
}

void clean_up_on_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (const int signal : {SIGINT, SIGTERM, SIGHUP})
    sigaddset(&signals, signal);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([signals] {
    int received = 0;
    sigwait(&signals, &received);
    std::cerr << "\nforeman-bench: " << strsignal(received)
              << "; stopping the children and removing the temporary files" << std::endl;
    // The children first: a foreman still running would write into what is
    // being removed.
    kill_running_children();
    {
      std::lock_guard<std::mutex> lock(temp_dirs_mutex);
      for (const auto& path : temp_dirs) {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
      }
    }
    _exit(130);
  }).detach();
}

std::string temp_dir::file(const std::string& name) const {
  return (path_ / name).string();
}

server start(const std::string& label, const std::string& program,
             const std::vector<std::string>& args, milliseconds startup) {
  server s;
  s.process = std::make_unique<child_process>(label, program, args);
  const auto line = s.process->wait_for_line("listening on ", startup);
  s.port = line ? port_from_listening_line(*line) : 0;
  if (s.port == 0)
    throw std::runtime_error(label + " (" + program + ") did not report its port:\n"
                             + s.process->tail());
  return s;
}

server start_fake(const options& o, const std::string& label,
                  const std::vector<std::string>& args) {
  std::vector<std::string> all{"--listen", "127.0.0.1:0"};
  all.insert(all.end(), args.begin(), args.end());
  return start(label, o.fake, all);
}

std::vector<std::string> foreman_args(int target_port, const std::string& db,
                                      const std::vector<std::string>& args) {
  std::vector<std::string> all{"--listen", "127.0.0.1:0", "--ollama-url",
                               "http://127.0.0.1:" + std::to_string(target_port),
                               "--db", db, "--log-level", "warning"};
  all.insert(all.end(), args.begin(), args.end());
  return all;
}

server start_foreman(const options& o, const std::string& label, int target_port,
                     const std::string& db, const std::vector<std::string>& args) {
  return start(label, o.foreman, foreman_args(target_port, db, args));
}

Poco::JSON::Object::Ptr get_json(int port, const std::string& path) {
  http_client client(port, seconds{10});
  const auto got = client.request("GET", path);
  if (got.status != 200)
    throw std::runtime_error("GET " + path + " answered " + std::to_string(got.status)
                             + ": " + got.body);
  Poco::JSON::Parser parser;
  return parser.parse(got.body).extract<Poco::JSON::Object::Ptr>();
}

void post_or_throw(int port, const std::string& path, const std::string& body) {
  http_client client(port, seconds{10});
  const auto got = client.request("POST", path, body);
  if (got.status / 100 != 2)
    throw std::runtime_error("POST " + path + " answered " + std::to_string(got.status)
                             + ": " + got.body);
}

bool wait_resident(int fake_port, const std::string& model, milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  while (steady::now() < deadline) {
    const auto counters = get_json(fake_port, "/_fake/counters");
    if (auto resident = counters->getArray("resident"))
      for (std::size_t i = 0; i < resident->size(); ++i)
        if (resident->getElement<std::string>(static_cast<unsigned>(i)).rfind(model, 0) == 0)
          return true;
    std::this_thread::sleep_for(milliseconds{50});
  }
  return false;
}

void wait_inventory_read(int fake_port, milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  while (steady::now() < deadline) {
    const auto by_path = get_json(fake_port, "/_fake/counters")->getObject("requests_by_path");
    if (by_path && by_path->has("/api/ps"))
      return;
    std::this_thread::sleep_for(milliseconds{20});
  }
}

std::size_t jobs_in_queue(int foreman_port) {
  return get_json(foreman_port, "/status")->getObject("queue")->getValue<std::size_t>("total");
}

std::size_t held_generations(int fake_port) {
  return get_json(fake_port, "/_fake/counters")->getValue<std::size_t>("held");
}

void wait_held(int fake_port, std::size_t count, milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  std::size_t held = 0;
  while ((held = held_generations(fake_port)) != count) {
    if (steady::now() >= deadline)
      throw std::runtime_error("the fake target holds " + std::to_string(held)
                               + " generations, not " + std::to_string(count) + ", after "
                               + std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(milliseconds{5});
  }
}

// -- foreman's job API -------------------------------------------------------------

std::string chat_job_body(const std::string& model, const std::string& message) {
  return R"({"kind":"chat","model":")" + model
         + R"(","payload":{"messages":[{"role":"user","content":")" + message + R"("}]}})";
}

long long job_id_of(const std::string& body) {
  // Read without a JSON parser: the scale part's fill reads a million of
  // these on the load generator's one thread. foreman writes "id" first.
  const std::string key = "\"id\":";
  const auto at = body.find(key);
  if (at == std::string::npos)
    return -1;
  char* end = nullptr;
  const auto id = std::strtoll(body.c_str() + at + key.size(), &end, 10);
  return end == body.c_str() + at + key.size() ? -1 : id;
}

} // namespace foreman_bench
