// foreman-bench: what foreman costs and what it buys, each figure against a
// baseline measured in the same run (see bench/README.md).
//
//  1. queue overhead: one client, sequential non-streamed chats, directly to
//     the fake target, through a serializing proxy (HAProxy, maxconn 1, when
//     installed) and through foreman (latency p50/p99); then many concurrent
//     clients the same three ways (requests/s); the fast lane; POST /jobs
//     from many clients (jobs/s, submit_throughput.cpp).
//  2. swap workload: three chat models, interleaved requests all submitted at
//     once, a two-model memory budget with the embedder holding one slot;
//     foreman with --scheduling drain-by-model against --scheduling fifo
//     (model loads, makespan, waits).
//  3. waiting callers: thousands of synchronous callers held waiting at once
//     (the fake target holds the running generation); foreman's memory and
//     threads idle and while they wait, against fixed targets, and every
//     caller's own answer once released.
//  4. scale: submit, GET /jobs/{id}, the worker's pick and memory at 1,000
//     and at a million queued jobs (scale.cpp).
//
// Everything runs on loopback: the benchmark starts its own fake targets and
// foreman processes (temporary database, ephemeral ports) and stops them.

#include "chat_calls.hpp"
#include "concurrent_callers.hpp"
#include "foreman_waiting_args.hpp"
#include "harness.hpp"
#include "keep_alive_clients.hpp"
#include "parts.hpp"
#include "process_readings.hpp"
#include "reverse_proxy.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#ifndef FOREMAN_BIN
#define FOREMAN_BIN "foreman"
#endif
#ifndef FOREMAN_FAKE_TARGET_BIN
#define FOREMAN_FAKE_TARGET_BIN "foreman-fake-ollama"
#endif

namespace foreman_bench {
namespace {

// -- command line ------------------------------------------------------------

const char* const usage = R"(usage: foreman-bench [options]

Starts foreman-fake-ollama and foreman on loopback (ephemeral ports, a
temporary database) and prints each figure against a baseline from the same
run; see bench/README.md. Exits 1 when any request failed, 2 on a setup error.

  --foreman PATH              foreman binary (default: the one built beside)
  --fake PATH                 foreman-fake-ollama binary (likewise)
  --warmup N                  unmeasured sequential requests per path (20)
  --sequential N              measured sequential requests per path (300)
  --clients N                 concurrent clients (64)
  --concurrent-seconds N      concurrent clients send for N s per path (5)
  --concurrent-requests N     at most N requests per path, all clients
                              together (200000)
  --swap-per-model N          requests per chat model in the swap burst (60)
  --swap-stagger-us N         gap between consecutive swap submits (1000)
  --waiting-callers N         synchronous callers held waiting at once (10000)
  --scale-queued N            queued jobs the scale part fills up to (1000000)
  --scale-fill-seconds N      but it stops filling after N s (600)
  --scale-samples N           sequential requests per scale measurement (200)
  --scale-pick-jobs N         jobs the worker runs to time its pick (500)
  --only overhead|swap|waiting|scale  run one part only
  --help                      this text
)";

// Every caller holds a connection to foreman's one port: well below the
// loopback's ephemeral ports (about 28,000), and foreman holds as many
// descriptors.
constexpr int max_waiting_callers = 20000;

// foreman's --max-queue goes up to 10,000,000; while foreman runs, a
// million jobs take about 4 GB of disk (mostly its write-ahead log).
constexpr int max_scale_queued = 5000000;

int parse_count(const std::string& option, const std::string& text, int minimum,
                int maximum) {
  try {
    std::size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used == text.size() && value >= minimum && value <= maximum)
      return value;
  } catch (const std::exception&) {
  }
  throw std::invalid_argument(option + " expects an integer from "
                              + std::to_string(minimum) + " to "
                              + std::to_string(maximum) + ", not '" + text + "'");
}

std::optional<options> parse_options(int argc, char** argv) {
  options o;
  o.foreman = FOREMAN_BIN;
  o.fake = FOREMAN_FAKE_TARGET_BIN;
  for (int i = 1; i < argc; ++i) {
    std::string name = argv[i];
    if (name == "--help" || name == "-h") {
      std::cout << usage;
      return std::nullopt;
    }
    std::string value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.erase(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      throw std::invalid_argument("option '" + name + "' is unknown or lacks its value");
    }
    if (name == "--foreman")
      o.foreman = value;
    else if (name == "--fake")
      o.fake = value;
    else if (name == "--warmup")
      o.warmup = parse_count(name, value, 0, 100000);
    else if (name == "--sequential")
      o.sequential = parse_count(name, value, 1, 100000);
    else if (name == "--clients")
      o.clients = parse_count(name, value, 1, 120);
    else if (name == "--concurrent-requests")
      o.concurrent_requests = parse_count(name, value, 1, 1000000);
    else if (name == "--concurrent-seconds")
      o.concurrent_seconds = parse_count(name, value, 1, 600);
    else if (name == "--swap-per-model")
      o.swap_per_model = parse_count(name, value, 1, 150);
    else if (name == "--swap-stagger-us")
      o.swap_stagger_us = parse_count(name, value, 0, 100000);
    else if (name == "--waiting-callers")
      o.waiting_callers = parse_count(name, value, 1, max_waiting_callers);
    else if (name == "--scale-queued")
      o.scale_queued = parse_count(name, value, 2000, max_scale_queued);
    else if (name == "--scale-fill-seconds")
      o.scale_fill_seconds = parse_count(name, value, 10, 7200);
    else if (name == "--scale-samples")
      o.scale_samples = parse_count(name, value, 10, 100000);
    else if (name == "--scale-pick-jobs")
      o.scale_pick_jobs = parse_count(name, value, 10, 10000);
    else if (name == "--only"
             && (value == "overhead" || value == "swap" || value == "waiting"
                 || value == "scale"))
      o.only = value;
    else
      throw std::invalid_argument("unknown option '" + name + "' (or bad value '"
                                  + value + "')");
  }
  return o;
}

// -- part 1: queue overhead ------------------------------------------------------

const std::string overhead_model = "llama3.2";

const std::string fast_lane_model = "all-minilm";

bool embed_ok(const http_result& got) {
  return got.status == 200 && got.body.find("\"embeddings\"") != std::string::npos;
}

/// Latencies (ms) of `count` sequential POSTs of `body` to `path` on one
/// kept-alive connection, after `warmup` unmeasured ones.
std::vector<double> sequential_latencies(int port, int warmup, int count,
                                         const std::string& phase,
                                         const std::string& path = "/api/chat",
                                         const std::string& body
                                         = chat_body(overhead_model, "hi"),
                                         bool (*answered_ok)(const http_result&)
                                         = chat_ok) {
  http_client client(port, seconds{30});
  std::vector<double> latencies;
  for (int i = 0; i < warmup + count; ++i) {
    const auto sent = steady::now();
    const auto got = client.request("POST", path, body);
    const auto answered = steady::now();
    if (!answered_ok(got)) {
      failures.add(phase, got);
      continue;
    }
    if (i >= warmup)
      latencies.push_back(ms_between(sent, answered));
  }
  return latencies;
}

struct throughput {
  int completed = 0;
  int failed = 0;
  double seconds = 0;
  bool hit_cap = false;
  double rps() const {
    return seconds > 0 ? completed / seconds : std::nan("");
  }
};

/// `clients` keep-alive connections (foreman_loadgen::keep_alive_clients,
/// one thread for all) send chats back to back for `limit` (or until `total`
/// have been sent). Time runs from the common start to the last answer, so
/// requests still in flight at the limit count, and their time too.
throughput concurrent_throughput(int port, int clients, int total, seconds limit,
                                 const std::string& phase) {
  foreman_loadgen::keep_alive_load load;
  load.port = static_cast<uint16_t>(port);
  load.connections = static_cast<std::size_t>(clients);
  load.request = {"POST", "/api/chat", chat_body(overhead_model, "hi")};
  load.duration = limit;
  load.max_requests = static_cast<std::size_t>(total);
  throughput measured;
  // A substring test, not a JSON parser: the loop's one thread reads tens
  // of thousands of answers a second and must not be what limits them.
  foreman_loadgen::keep_alive_clients senders(load, [&](int status, const std::string& body) {
    if (status == 200 && body.find("\"done\":true") != std::string::npos)
      ++measured.completed;
    else {
      ++measured.failed;
      failures.add(phase, http_result{status, body, {}});
    }
  });
  if (!senders.wait_finished(limit + load.answer_timeout + seconds{10}))
    throw std::runtime_error(phase + ": the clients did not finish");
  const auto& totals = senders.totals();
  add_failed_clients(phase, totals);
  measured.failed += static_cast<int>(totals.failed);
  measured.seconds = ms_between(totals.started, totals.last_answer) / 1000.0;
  measured.hit_cap = totals.sent >= load.max_requests;
  return measured;
}

void run_overhead(const options& o, const temp_dir& dir) {
  std::cout << "\n== 1. queue overhead (fake target --token-ms 0, " << overhead_model
            << " resident) ==\n" << std::flush;
  auto fake = start_fake(o, "fake-overhead",
                         {"--models", "llama3.2:chat:2000:200,all-minilm:embed:50:20",
                          "--max-loaded", "2", "--token-ms", "0"});
  auto foreman = start_foreman(o, "foreman-overhead", fake.port,
                               dir.file("overhead.db"),
                               {"--embed-model", fast_lane_model});
  // The baseline foreman's queue is held against: a proxy that serializes
  // the calls to the same target, and does nothing else.
  const auto haproxy = find_on_path("haproxy");
  std::optional<server> proxy;
  if (haproxy.empty())
    std::cout << "    haproxy is not on PATH: the serializing proxy baseline is skipped "
                 "(n/a); deploy/install-deps.sh installs it\n" << std::flush;
  else
    proxy = start_serializing_proxy(haproxy, dir, fake.port);
  {
    // Load the model once (200 ms), so that neither path pays for it.
    http_client warm(fake.port, seconds{30});
    const auto got = warm.request("POST", "/api/chat", chat_body(overhead_model, "warm"));
    if (!chat_ok(got))
      failures.add("overhead warm-up", got);
  }

  const auto direct = sequential_latencies(fake.port, o.warmup, o.sequential,
                                           "sequential direct");
  const auto proxied = proxy ? sequential_latencies(proxy->port, o.warmup, o.sequential,
                                                    "sequential via haproxy")
                             : std::vector<double>{};
  const auto queued = sequential_latencies(foreman.port, o.warmup, o.sequential,
                                           "sequential via foreman");
  const double d50 = percentile(direct, 50), d99 = percentile(direct, 99);
  const double p50 = percentile(proxied, 50), p99 = percentile(proxied, 99);
  const double f50 = percentile(queued, 50), f99 = percentile(queued, 99);

  auto latency_row = [](const char* name, double direct_ms, double proxy_ms,
                        double foreman_ms) {
    std::ostringstream out;
    out << "    " << std::left << std::setw(8) << name << std::right << std::setw(10)
        << fixed(direct_ms, 3) << std::setw(10) << fixed(proxy_ms, 3) << std::setw(10)
        << fixed(foreman_ms, 3) << std::setw(12) << fixed(proxy_ms - direct_ms, 3)
        << std::setw(14) << fixed(foreman_ms - direct_ms, 3) << std::setw(10)
        << fixed(ratio(foreman_ms, direct_ms), 2) << "\n";
    return out.str();
  };
  std::cout << "\n(a) one client, " << o.sequential << " sequential POST /api/chat "
            << "stream:false after " << o.warmup << " warm-up, keep-alive connection\n"
            << "    latency ms  direct     proxy   foreman  proxy added  foreman added"
               "  foreman/direct\n"
            << latency_row("p50", d50, p50, f50) << latency_row("p99", d99, p99, f99)
            << "    samples " << std::setw(10) << direct.size() << std::setw(10)
            << proxied.size() << std::setw(10) << queued.size() << "\n" << std::flush;
  result("overhead_direct_p50_ms", d50, 3);
  result("overhead_proxy_p50_ms", p50, 3);
  result("overhead_foreman_p50_ms", f50, 3);
  result("overhead_proxy_added_p50_ms", p50 - d50, 3);
  result("overhead_added_p50_ms", f50 - d50, 3);
  result("overhead_p50_ratio", ratio(f50, d50), 2);
  result("overhead_direct_p99_ms", d99, 3);
  result("overhead_proxy_p99_ms", p99, 3);
  result("overhead_foreman_p99_ms", f99, 3);
  result("overhead_proxy_added_p99_ms", p99 - d99, 3);
  result("overhead_added_p99_ms", f99 - d99, 3);
  result("overhead_p99_ratio", ratio(f99, d99), 2);

  const seconds limit{o.concurrent_seconds};
  const auto direct_t = concurrent_throughput(fake.port, o.clients, o.concurrent_requests,
                                              limit, "concurrent direct");
  const auto proxy_t = proxy ? concurrent_throughput(proxy->port, o.clients,
                                                     o.concurrent_requests, limit,
                                                     "concurrent via haproxy")
                             : throughput{};
  const auto queued_t = concurrent_throughput(foreman.port, o.clients,
                                              o.concurrent_requests, limit,
                                              "concurrent via foreman");
  auto row = [](const char* name, const throughput& t) {
    std::ostringstream out;
    out << "    " << std::left << std::setw(12) << name << std::right << std::setw(10)
        << t.completed << std::setw(8) << t.failed << std::setw(10)
        << fixed(t.seconds, 2) << std::setw(12) << fixed(t.rps(), 1)
        << (t.hit_cap ? "   (stopped at the request cap)" : "") << "\n";
    return out.str();
  };
  std::cout << "\n(b) " << o.clients << " concurrent clients sending back to back for "
            << o.concurrent_seconds << " s per path, one keep-alive connection each\n"
            << "    path         completed  failed   seconds  requests/s\n"
            << row("direct", direct_t) << (proxy ? row("proxy", proxy_t) : "")
            << row("foreman", queued_t)
            << "    ratio foreman/direct                        "
            << fixed(ratio(queued_t.rps(), direct_t.rps()), 3) << "\n"
            << "    ratio foreman/proxy                         "
            << fixed(ratio(queued_t.rps(), proxy_t.rps()), 3) << "\n" << std::flush;
  result("throughput_direct_rps", direct_t.rps(), 1);
  result("throughput_proxy_rps", proxy_t.rps(), 1);
  result("throughput_foreman_rps", queued_t.rps(), 1);
  result("throughput_ratio", ratio(queued_t.rps(), direct_t.rps()), 3);
  result("throughput_foreman_vs_proxy", ratio(queued_t.rps(), proxy_t.rps()), 3);
  result("throughput_direct_completed", direct_t.completed, 0);
  result("throughput_proxy_completed", proxy ? proxy_t.completed : std::nan(""), 0);
  result("throughput_foreman_completed", queued_t.completed, 0);

  // The pinned embedder skips the queue: what foreman adds is its HTTP hop.
  if (!wait_resident(fake.port, fast_lane_model, milliseconds{10000}))
    failures.add("fast lane", http_result{0, fast_lane_model + " never became resident", {}});
  const auto embed_body
    = R"({"model":")" + fast_lane_model + R"(","input":"a sentence to embed"})";
  const auto embed_direct = sequential_latencies(fake.port, o.warmup, o.sequential,
                                                 "embed direct", "/api/embed",
                                                 embed_body, embed_ok);
  const auto embed_foreman = sequential_latencies(foreman.port, o.warmup, o.sequential,
                                                  "embed via foreman's fast lane",
                                                  "/api/embed", embed_body, embed_ok);
  const double e50 = percentile(embed_direct, 50), ef50 = percentile(embed_foreman, 50);
  const double e99 = percentile(embed_direct, 99), ef99 = percentile(embed_foreman, 99);
  std::cout << "\n(c) one client, " << o.sequential << " sequential POST /api/embed for "
            << "the pinned embedder (fast lane, not queued)\n"
            << "    latency ms      direct   foreman     added\n"
            << "    p50         " << std::setw(10) << fixed(e50, 3) << std::setw(10)
            << fixed(ef50, 3) << std::setw(10) << fixed(ef50 - e50, 3) << "\n"
            << "    p99         " << std::setw(10) << fixed(e99, 3) << std::setw(10)
            << fixed(ef99, 3) << std::setw(10) << fixed(ef99 - e99, 3) << "\n"
            << std::flush;
  result("fastlane_direct_p50_ms", e50, 3);
  result("fastlane_foreman_p50_ms", ef50, 3);
  result("fastlane_added_p50_ms", ef50 - e50, 3);
  result("fastlane_added_p99_ms", ef99 - e99, 3);
}

// -- part 2: swap workload ---------------------------------------------------------

const std::vector<std::string> swap_models{"llama3.2", "qwen2.5", "mistral"};
const std::string swap_embedder = "all-minilm";

struct swap_outcome {
  int requests = 0;
  int failed = 0;
  int chat_loads = 0;
  int embedder_loads = 0;
  double makespan_ms = 0;
  double wait_p50_ms = 0;
  double wait_max_ms = 0;
  int arrival_same_model_pairs = -1; // adjacent job ids sharing a model
  int execution_switches = -1;       // model changes in started_at order
};

/// One burst against a fresh fake target and foreman. Execution order is
/// read back from the jobs' started_at (RFC 3339 UTC with milliseconds, which
/// sorts as text).
swap_outcome run_swap_once(const options& o, const temp_dir& dir,
                           const std::string& scheduling) {
  const std::string phase = "swap " + scheduling;
  auto fake = start_fake(o, "fake-" + scheduling,
                         {"--models",
                          "llama3.2:chat:2000:200,qwen2.5:chat:2000:200,"
                          "mistral:chat:2000:200,all-minilm:embed:50:200",
                          "--max-loaded", "2", "--token-ms", "2"});
  auto foreman = start_foreman(o, "foreman-" + scheduling, fake.port,
                               dir.file("swap-" + scheduling + ".db"),
                               {"--embed-model", swap_embedder, "--scheduling",
                                scheduling});
  if (!wait_resident(fake.port, swap_embedder, milliseconds{15000}))
    throw std::runtime_error("foreman did not warm " + swap_embedder + ":\n"
                             + foreman.process->tail());
  post_or_throw(fake.port, "/_fake/reset", "");

  const int count = o.swap_per_model * static_cast<int>(swap_models.size());
  struct call {
    std::string model;
    steady::time_point submitted, answered;
    bool ok = false;
    long job_id = -1;
  };
  std::vector<call> calls(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i)
    calls[static_cast<std::size_t>(i)].model = swap_models[static_cast<std::size_t>(i) % swap_models.size()];

  std::mutex mutex;
  std::condition_variable cv;
  bool go = false;
  steady::time_point start;
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i)
    threads.emplace_back([&, i] {
      auto& mine = calls[static_cast<std::size_t>(i)];
      http_client client(foreman.port, seconds{o.swap_timeout_seconds});
      const auto body = chat_body(mine.model, "request " + std::to_string(i));
      {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] { return go; });
      }
      // Staggered so that the queue receives them interleaved, a,b,c,a,...
      std::this_thread::sleep_until(start + std::chrono::microseconds{
                                              static_cast<long>(i) * o.swap_stagger_us});
      mine.submitted = steady::now();
      const auto got = client.request("POST", "/api/chat", body, "X-Foreman-Job-Id");
      mine.answered = steady::now();
      mine.ok = chat_ok(got);
      if (!mine.ok)
        failures.add(phase, got);
      if (auto it = got.headers.find("X-Foreman-Job-Id"); it != got.headers.end())
        mine.job_id = std::atol(it->second.c_str());
    });
  // Give every thread time to block on the start signal (bounded, 2 s).
  std::this_thread::sleep_for(milliseconds{std::min(2000, 200 + count * 5)});
  {
    std::lock_guard<std::mutex> lock(mutex);
    start = steady::now() + milliseconds{20};
    go = true;
  }
  cv.notify_all();
  for (auto& t : threads)
    t.join();

  swap_outcome out;
  out.requests = count;
  auto first_submit = calls.front().submitted;
  auto last_answer = calls.front().answered;
  std::vector<double> waits;
  for (auto& c : calls) {
    first_submit = std::min(first_submit, c.submitted);
    last_answer = std::max(last_answer, c.answered);
    if (c.ok)
      waits.push_back(ms_between(c.submitted, c.answered));
    else
      ++out.failed;
  }
  out.makespan_ms = ms_between(first_submit, last_answer);
  out.wait_p50_ms = percentile(waits, 50);
  out.wait_max_ms = waits.empty() ? std::nan("") : *std::max_element(waits.begin(), waits.end());

  const auto counters = get_json(fake.port, "/_fake/counters");
  if (auto loads = counters->getObject("loads"))
    for (const auto& [name, value] : *loads) {
      const int n = value.convert<int>();
      if (name.rfind(swap_embedder, 0) == 0)
        out.embedder_loads += n;
      else
        out.chat_loads += n;
    }

  // Arrival order (job ids) and execution order (started_at), from foreman.
  std::vector<std::pair<long, std::string>> by_id;
  std::vector<std::pair<std::string, std::string>> by_start;
  for (auto& c : calls) {
    if (c.job_id < 0)
      continue;
    by_id.emplace_back(c.job_id, c.model);
    try {
      const auto job = get_json(foreman.port, "/jobs/" + std::to_string(c.job_id));
      if (job->has("started_at") && !job->isNull("started_at"))
        by_start.emplace_back(job->getValue<std::string>("started_at"), c.model);
    } catch (const std::exception& error) {
      std::cerr << "foreman-bench: cannot read job " << c.job_id << ": " << error.what()
                << "\n";
    }
  }
  std::sort(by_id.begin(), by_id.end());
  std::stable_sort(by_start.begin(), by_start.end(),
                   [](auto& a, auto& b) { return a.first < b.first; });
  if (by_id.size() == calls.size()) {
    out.arrival_same_model_pairs = 0;
    for (std::size_t i = 1; i < by_id.size(); ++i)
      out.arrival_same_model_pairs += by_id[i].second == by_id[i - 1].second;
  }
  if (by_start.size() == calls.size()) {
    out.execution_switches = 0;
    for (std::size_t i = 1; i < by_start.size(); ++i)
      out.execution_switches += by_start[i].second != by_start[i - 1].second;
  }
  return out;
}

void run_swap(const options& o, const temp_dir& dir) {
  const int count = o.swap_per_model * static_cast<int>(swap_models.size());
  std::cout << "\n== 2. swap workload: " << swap_models.size() << " chat models x "
            << o.swap_per_model << " requests, interleaved, " << count
            << " concurrent callers ==\n"
            << "   fake target --max-loaded 2 (the embedder " << swap_embedder
            << " holds one slot), load 200 ms, --token-ms 2\n" << std::flush;
  const auto drain = run_swap_once(o, dir, "drain-by-model");
  const auto fifo = run_swap_once(o, dir, "fifo");

  auto line = [](const std::string& name, const std::string& a, const std::string& b,
                 const std::string& r) {
    std::ostringstream out;
    out << "    " << std::left << std::setw(34) << name << std::right << std::setw(16)
        << a << std::setw(10) << b << std::setw(12) << r << "\n";
    return out.str();
  };
  auto num = [](double v, int d) { return fixed(v, d); };
  std::cout << "\n" << line("figure", "drain-by-model", "fifo", "drain/fifo")
            << line("chat model loads", num(drain.chat_loads, 0), num(fifo.chat_loads, 0),
                    num(ratio(drain.chat_loads, fifo.chat_loads), 3))
            << line("makespan s (first submit..last)", num(drain.makespan_ms / 1000, 2),
                    num(fifo.makespan_ms / 1000, 2),
                    num(ratio(drain.makespan_ms, fifo.makespan_ms), 3))
            << line("wait p50 s (answer - submit)", num(drain.wait_p50_ms / 1000, 2),
                    num(fifo.wait_p50_ms / 1000, 2),
                    num(ratio(drain.wait_p50_ms, fifo.wait_p50_ms), 3))
            << line("wait max s", num(drain.wait_max_ms / 1000, 2),
                    num(fifo.wait_max_ms / 1000, 2),
                    num(ratio(drain.wait_max_ms, fifo.wait_max_ms), 3))
            << line("embedder loads (re-warms)", num(drain.embedder_loads, 0),
                    num(fifo.embedder_loads, 0), "")
            << line("model switches, execution order", num(drain.execution_switches, 0),
                    num(fifo.execution_switches, 0), "")
            << line("arrival: adjacent same-model jobs", num(drain.arrival_same_model_pairs, 0),
                    num(fifo.arrival_same_model_pairs, 0), "")
            << line("failed requests", num(drain.failed, 0), num(fifo.failed, 0), "")
            << "    (switches and arrival come from foreman's job ids and started_at;\n"
               "     a perfectly interleaved arrival has 0 adjacent same-model jobs)\n"
            << std::flush;
  for (auto& [name, x] : {std::pair<std::string, const swap_outcome*>{"drain", &drain},
                          {"fifo", &fifo}}) {
    result("swap_" + name + "_chat_loads", x->chat_loads, 0);
    result("swap_" + name + "_makespan_s", x->makespan_ms / 1000, 3);
    result("swap_" + name + "_wait_p50_s", x->wait_p50_ms / 1000, 3);
    result("swap_" + name + "_wait_max_s", x->wait_max_ms / 1000, 3);
    result("swap_" + name + "_embedder_loads", x->embedder_loads, 0);
    result("swap_" + name + "_execution_switches", x->execution_switches, 0);
  }
  result("swap_loads_ratio", ratio(drain.chat_loads, fifo.chat_loads), 3);
  result("swap_makespan_ratio", ratio(drain.makespan_ms, fifo.makespan_ms), 3);
  result("swap_wait_p50_ratio", ratio(drain.wait_p50_ms, fifo.wait_p50_ms), 3);
  result("swap_wait_max_ratio", ratio(drain.wait_max_ms, fifo.wait_max_ms), 3);
}

// -- part 3: waiting callers -------------------------------------------------------

const std::string waiting_model = "llama3.2";

// What issue 10 asks of foreman: a waiting caller costs a connection and a
// little memory, not a thread.
constexpr double idle_rss_target_mb = 20;
constexpr double waiting_rss_target_mb = 300;
constexpr std::size_t waiting_threads_target = 64;

std::string waiting_message(std::size_t caller) {
  return "waiting caller " + std::to_string(caller);
}

void run_waiting(const options& o, const temp_dir& dir) {
  const auto count = static_cast<std::size_t>(o.waiting_callers);
  std::cout << "\n== 3. waiting callers: " << count << " synchronous POST /api/chat "
            << "stream:false held at once ==\n"
            << "   fake target --token-ms 0, holding the running generation until "
               "every caller waits\n" << std::flush;
  // foreman inherits the raised limit: it holds a connection per caller too.
  foreman_loadgen::raise_open_file_limit();
  auto fake = start_fake(o, "fake-waiting", {"--token-ms", "0"});
  auto foreman = start_foreman(o, "foreman-waiting", fake.port, dir.file("waiting.db"),
                               foreman_loadgen::foreman_waiting_args(o.waiting_callers));
  const auto pid = foreman.process->pid();
  wait_inventory_read(fake.port, milliseconds{10000});
  const auto idle = foreman_loadgen::read_process(pid);

  post_or_throw(fake.port, "/_fake/hold", "");
  std::vector<foreman_loadgen::http_call> calls;
  for (std::size_t i = 0; i < count; ++i)
    calls.push_back(foreman_loadgen::chat_call(waiting_model, waiting_message(i)));
  // Answers come one job at a time after the release, a few ms each.
  const seconds callers_timeout{120 + o.waiting_callers / 50};
  const auto opening = steady::now();
  foreman_loadgen::concurrent_callers callers(
    {static_cast<uint16_t>(foreman.port), 64, callers_timeout}, std::move(calls));

  // All stored and waiting: every job in the queue, the first held at the
  // target. Stop early when a caller has ended: it was refused. A foreman
  // too busy to answer GET /status is asked again until the deadline.
  const auto deadline = steady::now() + seconds{60 + o.waiting_callers / 100};
  std::size_t stored = 0;
  std::size_t held = 0;
  std::string status_error;
  while (steady::now() < deadline) {
    try {
      stored = jobs_in_queue(foreman.port);
      status_error.clear();
    } catch (const std::exception& error) {
      status_error = error.what();
    }
    held = held_generations(fake.port);
    const auto progress = callers.progress();
    if ((stored == count && held == 1) || progress.answered + progress.failed > 0)
      break;
    std::this_thread::sleep_for(milliseconds{50});
  }
  if (!status_error.empty())
    std::cout << "    (foreman's last GET /status failed: " << status_error << ")\n";
  const double open_seconds = ms_between(opening, steady::now()) / 1000;
  const auto waiting = foreman_loadgen::read_process(pid);
  const auto before_release = callers.progress();

  const auto releasing = steady::now();
  post_or_throw(fake.port, "/_fake/release", "");
  // The callers end by their own timeout, unless a foreman with a thread
  // per caller starves their thread of CPU: then they are stopped.
  const auto callers_end = opening + callers_timeout + seconds{10};
  if (!callers.wait_finished(
        std::chrono::duration_cast<milliseconds>(callers_end - steady::now()))) {
    std::cout << "    (callers still under way " << fixed(ms_between(opening, callers_end) / 1000, 0)
              << " s after the first opened were stopped)\n";
    callers.stop();
  }
  const double answer_seconds = ms_between(releasing, steady::now()) / 1000;

  std::size_t answered = 0;
  const auto& results = callers.results();
  for (std::size_t i = 0; i < count; ++i) {
    const auto problem = foreman_loadgen::chat_answer_problem(
      results[i], foreman_loadgen::fake_target_reply(waiting_model, waiting_message(i)));
    if (problem.empty())
      ++answered;
    else
      failures.add(results[i].ended < releasing ? "waiting callers, before the release"
                                                : "waiting callers",
                   http_result{results[i].status,
                               results[i].status == 0 ? results[i].error : problem, {}});
  }

  if (answered < count)
    std::cout << "    foreman's last output (warnings and errors):\n"
              << foreman.process->tail() << std::flush;

  const double idle_mb = megabytes(idle.rss_kib);
  const double waiting_mb = megabytes(waiting.rss_kib);
  const bool idle_met = idle_mb <= idle_rss_target_mb;
  const bool rss_met = waiting_mb <= waiting_rss_target_mb;
  const bool threads_met = waiting.threads <= waiting_threads_target;
  const bool all_answered = answered == count;
  auto row = [](const std::string& name, const std::string& measured,
                const std::string& target, bool met) {
    std::ostringstream out;
    out << "    " << std::left << std::setw(40) << name << std::right << std::setw(12)
        << measured << std::setw(10) << target << "   " << (met ? "met" : "MISSED") << "\n";
    return out.str();
  };
  const auto n = std::to_string(count);
  std::cout << "\n    " << std::left << std::setw(40) << "figure" << std::right
            << std::setw(12) << "measured" << std::setw(10) << "target" << "\n"
            << row("foreman idle RSS MB", fixed(idle_mb, 1),
                   "<= " + fixed(idle_rss_target_mb, 0), idle_met)
            << row("foreman RSS MB while " + n + " wait", fixed(waiting_mb, 1),
                   "<= " + fixed(waiting_rss_target_mb, 0), rss_met)
            << row("foreman threads while " + n + " wait", std::to_string(waiting.threads),
                   "<= " + std::to_string(waiting_threads_target), threads_met)
            << row("callers answered with their own reply",
                   std::to_string(answered) + "/" + n, "all", all_answered)
            << "    (foreman idle: " << idle.threads << " threads. While they waited: "
            << stored << "/" << n << " jobs stored, " << held << " held at the target, "
            << before_release.answered + before_release.failed
            << " callers already ended.\n     All waiting after " << fixed(open_seconds, 1)
            << " s; all answered " << fixed(answer_seconds, 1) << " s after the release.)\n"
            << std::flush;
  result("waiting_callers", static_cast<double>(count), 0);
  result("waiting_idle_rss_mb", idle_mb, 1);
  result("waiting_rss_mb", waiting_mb, 1);
  result("waiting_threads", static_cast<double>(waiting.threads), 0);
  result("waiting_answered", static_cast<double>(answered), 0);
  result("waiting_stored", static_cast<double>(stored), 0);
  result("waiting_open_s", open_seconds, 1);
  result("waiting_answer_s", answer_seconds, 1);
  result("waiting_targets_missed",
         (idle_met ? 0 : 1) + (rss_met ? 0 : 1) + (threads_met ? 0 : 1) + (all_answered ? 0 : 1),
         0);
}

int run(const options& o) {
  temp_dir dir;
  const auto began = steady::now();
  std::cout << "foreman-bench\n  foreman: " << o.foreman << "\n  fake:    " << o.fake
            << "\n" << std::flush;
  if (o.only.empty() || o.only == "overhead") {
    run_overhead(o, dir);
    run_submit_throughput(o, dir);
  }
  if (o.only.empty() || o.only == "swap")
    run_swap(o, dir);
  if (o.only.empty() || o.only == "waiting")
    run_waiting(o, dir);
  if (o.only.empty() || o.only == "scale")
    run_scale(o, dir);

  const int failed = failures.total();
  std::cout << "\nfailed requests: " << failed << "\n";
  failures.print(std::cout);
  std::cout << "benchmark time: " << fixed(ms_between(began, steady::now()) / 1000, 1)
            << " s\n\n";
  result("failed_requests", failed, 0);
  for (auto& [name, value] : recorded_results())
    std::cout << "RESULT " << name << "=" << value << "\n";
  std::cout << std::flush;
  return failed == 0 ? 0 : 1;
}

} // namespace
} // namespace foreman_bench

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  foreman_bench::clean_up_on_signals();
  std::optional<foreman_bench::options> o;
  try {
    o = foreman_bench::parse_options(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "foreman-bench: " << error.what() << " (--help lists the options)\n";
    return 2;
  }
  if (!o)
    return 0;
  try {
    return foreman_bench::run(*o);
  } catch (const std::exception& error) {
    std::cerr << "foreman-bench: " << error.what() << "\n";
    return 2;
  }
}
