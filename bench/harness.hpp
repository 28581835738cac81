#pragma once

// What every part of foreman-bench shares: its options, the failed-request
// log, percentiles and the RESULT lines, the temporary directory, and the
// children it starts (fake targets, foreman) with the few calls it makes to
// them.

#include "child_process.hpp"
#include "http_client.hpp"
#include "keep_alive_clients.hpp"

#include <Poco/JSON/Object.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace foreman_bench {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

double ms_between(steady::time_point from, steady::time_point to);

struct options {
  std::string foreman;
  std::string fake;
  int warmup = 20;                // sequential requests not measured
  int sequential = 300;           // measured sequential requests per path
  int clients = 64;               // concurrent clients
  int concurrent_seconds = 5;       // send for this long per path
  int concurrent_requests = 200000; // but no more requests than this per path
  int swap_per_model = 60;        // requests per chat model in the swap burst
  int swap_stagger_us = 1000;     // submit i goes out i * this after the first
  int swap_timeout_seconds = 150; // per swap request
  int waiting_callers = 10000;    // synchronous callers held waiting at once
  int scale_queued = 1000000;     // queued jobs the scale part fills up to
  int scale_fill_seconds = 600;   // but it stops filling after this long
  int scale_samples = 200;        // sequential requests per scale measurement
  int scale_pick_jobs = 500;      // jobs run to time the worker's pick
  std::string only;               // one part; empty: all
};

// -- failures ------------------------------------------------------------------

/// Every failed request, by phase; the first few described.
class failure_log {
public:
  void add(const std::string& phase, const http_result& got);
  int count(const std::string& phase);
  int total();
  void print(std::ostream& out);

private:
  std::mutex mutex_;
  std::map<std::string, int> counts_;
  std::vector<std::string> examples_;
};

extern failure_log failures;

bool chat_ok(const http_result& got);

/// Counts each client of a keep-alive run whose connection failed as a
/// failed request of `phase`.
void add_failed_clients(const std::string& phase,
                        const foreman_loadgen::keep_alive_totals& totals);

// -- statistics ----------------------------------------------------------------

/// Nearest-rank percentile of unsorted samples; NaN when there are none.
double percentile(std::vector<double> samples, double p);

/// NaN when the denominator is not positive.
double ratio(double numerator, double denominator);

/// `value` with `decimals` decimals; "n/a" for NaN.
std::string fixed(double value, int decimals);

/// Records a `RESULT name=value` line; run() prints them all at the end.
void result(const std::string& name, double value, int decimals);

/// The recorded results, in the order they were recorded.
const std::vector<std::pair<std::string, std::string>>& recorded_results();

double megabytes(std::size_t kib);

// -- processes -----------------------------------------------------------------

/// A fresh directory under the system's temporary directory, removed with
/// everything in it when the object goes, or on a signal (see
/// clean_up_on_signals).
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  std::string file(const std::string& name) const;
  const std::filesystem::path& path() const {
    return path_;
  }

private:
  std::filesystem::path path_;
};

/// From now on SIGINT, SIGTERM and SIGHUP kill the children, remove the
/// temporary directories (a scale run's database takes gigabytes) and end
/// the benchmark with status 130. Call before any other thread starts, so
/// that every thread leaves these signals to the one that waits for them.
void clean_up_on_signals();

struct server {
  std::unique_ptr<child_process> process;
  int port = 0;
};

/// Starts `program` and waits up to `startup` for the line that names its
/// port ("listening on HOST:PORT"); throws when it does not come.
server start(const std::string& label, const std::string& program,
             const std::vector<std::string>& args, milliseconds startup = seconds{20});

/// foreman-fake-ollama on an ephemeral loopback port, with `args` added.
server start_fake(const options& o, const std::string& label,
                  const std::vector<std::string>& args);

/// The foreman arguments start_foreman() uses: loopback, an ephemeral port,
/// the target, the database and warnings only, then `args`.
std::vector<std::string> foreman_args(int target_port, const std::string& db,
                                      const std::vector<std::string>& args);

server start_foreman(const options& o, const std::string& label, int target_port,
                     const std::string& db, const std::vector<std::string>& args);

/// GET `path` as a JSON object; throws unless the answer is 200.
Poco::JSON::Object::Ptr get_json(int port, const std::string& path);

/// POST `body` to `path`; throws unless the answer is 2xx.
void post_or_throw(int port, const std::string& path, const std::string& body);

/// Waits (bounded) until the fake target lists a resident model whose name
/// starts with `model`.
bool wait_resident(int fake_port, const std::string& model, milliseconds timeout);

/// Waits (bounded) until foreman has read the target's models once: its
/// start-up is over.
void wait_inventory_read(int fake_port, milliseconds timeout);

/// GET /status queue.total: foreman's jobs queued, loading or working.
std::size_t jobs_in_queue(int foreman_port);

/// Generations the fake target holds (POST /_fake/hold) right now.
std::size_t held_generations(int fake_port);

/// Waits (bounded) until the fake target holds `count` generations; throws
/// when it does not.
void wait_held(int fake_port, std::size_t count, milliseconds timeout);

// -- foreman's job API -------------------------------------------------------------

/// A POST /jobs body: a chat job for `model` with one user message.
std::string chat_job_body(const std::string& model, const std::string& message);

/// The "id" of a job answer such as POST /jobs' 202; -1 when there is none.
long long job_id_of(const std::string& body);

} // namespace foreman_bench
