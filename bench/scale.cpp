// Part 4: what a job costs foreman with a million queued beside it, against
// the same costs with a thousand queued, in one run on one database.

#include "job_submitter.hpp"
#include "parts.hpp"
#include "process_readings.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <locale>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <sys/statvfs.h>
#include <thread>
#include <tuple>

namespace foreman_bench {

namespace {

// The reading every figure is held against.
constexpr std::size_t base_queued = 1000;

// What issue 11 asks: each cost at N queued no more than this times the
// cost at 1,000.
constexpr double scale_target_ratio = 1.5;

// The fill stops when the disk has less than this left, or when the
// database and its log take more than this: a million jobs should need
// about a gigabyte, and the machine is shared.
constexpr double disk_reserve_mb = 2048;
constexpr double database_cap_mb = 10240;

// How often the fill checks the disk, and shows its progress.
constexpr milliseconds fill_check_interval{1000};
constexpr milliseconds fill_report_interval{5000};

// Synchronous chats run before the hold, so that foreman has run times to
// estimate start times from.
constexpr int timed_warmup_jobs = 5;

// Each sequential measurement takes at most this long, whatever its count.
constexpr seconds measurement_limit{60};

// A restarted foreman must answer /readyz within this.
constexpr seconds startup_limit{600};

std::string with_separators(double value) {
  std::ostringstream out;
  struct thousands : std::numpunct<char> {
    char do_thousands_sep() const override {
      return ',';
    }
    std::string do_grouping() const override {
      return "\3";
    }
  };
  out.imbue(std::locale(out.getloc(), new thousands));
  out << std::fixed << std::setprecision(0) << value;
  return out.str();
}

double free_disk_mb(const std::filesystem::path& path) {
  struct statvfs disk {};
  if (statvfs(path.c_str(), &disk) != 0)
    return std::nan("");
  return static_cast<double>(disk.f_bavail) * static_cast<double>(disk.f_frsize)
         / (1024.0 * 1024.0);
}

double file_mb(const std::string& path) {
  std::error_code missing;
  const auto size = std::filesystem::file_size(path, missing);
  return missing ? 0 : static_cast<double>(size) / (1024.0 * 1024.0);
}

/// The database file and its write-ahead log, which grows while readers
/// keep SQLite from checkpointing it.
std::string database_sizes(const std::string& db) {
  return "database " + fixed(file_mb(db), 0) + " MB + WAL " + fixed(file_mb(db + "-wal"), 0)
         + " MB";
}

/// Milliseconds since the epoch of foreman's RFC 3339 UTC times
/// ("2026-01-02T03:04:05.678Z"); nullopt for anything else.
std::optional<long long> unix_ms(const std::string& text) {
  std::tm parts{};
  int millis = 0;
  char zone = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &parts.tm_year,
                  &parts.tm_mon, &parts.tm_mday, &parts.tm_hour, &parts.tm_min,
                  &parts.tm_sec, &millis, &zone)
        != 8
      || zone != 'Z')
    return std::nullopt;
  parts.tm_year -= 1900;
  parts.tm_mon -= 1;
  return static_cast<long long>(timegm(&parts)) * 1000 + millis;
}

long long wall_ms_now() {
  return std::chrono::duration_cast<milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// Latencies (ms) of up to `count` sequential calls of `call` (true when its
/// answer was right), after a few unmeasured ones; stops early at
/// measurement_limit.
std::vector<double> timed_calls(int count, const std::function<bool()>& call) {
  for (int i = 0; i < 5; ++i)
    call();
  std::vector<double> latencies;
  const auto deadline = steady::now() + measurement_limit;
  for (int i = 0; i < count && steady::now() < deadline; ++i) {
    const auto sent = steady::now();
    if (call())
      latencies.push_back(ms_between(sent, steady::now()));
  }
  return latencies;
}

/// The figures taken at one size of the queue.
struct scale_reading {
  std::size_t queued = 0; // when the latencies were taken
  double startup_s = std::nan("");   // until /readyz answers 200
  double first_job_s = std::nan(""); // until the worker runs a job again
  std::size_t picked = 0;
  double pick_ms = std::nan(""); // per job
  double rss_mb = std::nan("");
  std::vector<double> submit_ms;
  std::vector<double> get_ms;
  long long middle_id = -1;
  long long middle_position = -1;
};

struct fill_outcome {
  std::size_t accepted = 0;
  double seconds = 0;
  std::string stopped_early; // why, when it did not reach its target
};

class scale_run {
public:
  scale_run(const options& o, const temp_dir& dir)
    : o_(o), dir_(dir), db_(dir.file("scale.db")) {
    fake_ = start_fake(o, "fake-scale", {"--token-ms", "0"});
    const auto room = static_cast<std::size_t>(o.scale_queued) + 2 * base_queued
                      + static_cast<std::size_t>(o.scale_pick_jobs + 2 * o.scale_samples)
                      + 1000;
    foreman_args_ = foreman_args(
      fake_.port, db_,
      {"--max-queue", std::to_string(room), "--shutdown-grace", "0",
       // The held job must not time out while the queue fills.
       "--job-timeout", std::to_string(o.scale_fill_seconds + 3600)});
    foreman_ = start(label_, o.foreman, foreman_args_);
  }

  ~scale_run() {
    // A million jobs take a gigabyte: give it back before the next part.
    foreman_.process->stop(seconds{60});
    for (const auto* suffix : {"", "-wal", "-shm"}) {
      std::error_code ignored;
      std::filesystem::remove(db_ + suffix, ignored);
    }
  }

  /// Runs a few jobs to the end (for the estimates), then holds the worker
  /// on the next.
  void hold_worker() {
    http_client client(foreman_.port, seconds{30});
    for (int i = 0; i < timed_warmup_jobs; ++i) {
      const auto got = client.request("POST", "/api/chat", chat_body(submitted_model, "warm"));
      if (!chat_ok(got))
        failures.add("scale warm-up", got);
    }
    post_or_throw(fake_.port, "/_fake/hold", "");
    post_or_throw(foreman_.port, "/jobs", chat_job_body(submitted_model, "held"));
    wait_held(fake_.port, 1, seconds{30});
  }

  std::size_t queued() {
    const auto total = jobs_in_queue(foreman_.port);
    return total > 0 ? total - 1 : 0; // the held job is running
  }

  /// Submits jobs until `target` are queued, `limit` has passed or the
  /// disk runs low; with `show_progress`, a line every few seconds.
  fill_outcome fill(std::size_t target, seconds limit, bool show_progress) {
    fill_outcome outcome;
    const auto now_queued = queued();
    if (now_queued >= target)
      return outcome;
    const std::string phase = "scale fill (POST /jobs)";
    job_submitter submitter(foreman_.port, o_.clients, target - now_queued, limit, phase);
    const auto began = steady::now();
    auto last_report = began;
    std::size_t last_answered = 0;
    bool stopped = false;
    while (!submitter.wait_finished(fill_check_interval)) {
      const double free_mb = free_disk_mb(dir_.path());
      const double stored_mb = file_mb(db_) + file_mb(db_ + "-wal");
      std::string stop_because;
      if (free_mb < disk_reserve_mb)
        stop_because = "the disk has only " + fixed(free_mb, 0) + " MB left";
      else if (stored_mb > database_cap_mb)
        stop_because = "the database and its log take " + fixed(stored_mb, 0) + " MB, over "
                       + fixed(database_cap_mb, 0);
      else if (failures.count(phase) > 100)
        stop_because = "more than 100 submissions failed";
      if (!stopped && !stop_because.empty()) {
        outcome.stopped_early = stop_because;
        submitter.stop_sending();
        stopped = true;
      }
      const auto now = steady::now();
      if (show_progress && now - last_report >= fill_report_interval) {
        const auto answered = submitter.answered();
        std::cout << "    fill: " << with_separators(static_cast<double>(now_queued + answered))
                  << " of " << with_separators(static_cast<double>(target)) << " queued after "
                  << fixed(ms_between(began, now) / 1000, 0) << " s, "
                  << with_separators(static_cast<double>(answered - last_answered)
                                     / (ms_between(last_report, now) / 1000))
                  << " jobs/s lately; " << database_sizes(db_) << ", "
                  << fixed(free_mb / 1024, 1) << " GB free\n" << std::flush;
        last_report = now;
        last_answered = answered;
      }
    }
    outcome.accepted = submitter.accepted_ids().size();
    outcome.seconds = submitter.seconds();
    if (outcome.stopped_early.empty() && now_queued + outcome.accepted < target)
      outcome.stopped_early = steady::now() - began >= limit
                                ? "its time limit, " + std::to_string(limit.count())
                                    + " s, ran out"
                                : "some submissions failed";
    return outcome;
  }

  /// Stops foreman with the worker held and starts it again on the same
  /// database; seconds until /readyz answers 200, and until the worker runs
  /// a job again (it may load the queue after /readyz says ready). The held
  /// job goes back to the queue and is held again.
  std::pair<double, double> restart() {
    foreman_.process->stop(seconds{60});
    const auto began = steady::now();
    foreman_ = start(label_, o_.foreman, foreman_args_, startup_limit);
    http_client client(foreman_.port, seconds{10});
    while (client.request("GET", "/readyz").status != 200) {
      if (steady::now() - began > startup_limit)
        throw std::runtime_error("foreman did not answer /readyz with 200 within "
                                 + std::to_string(startup_limit.count()) + " s of its start:\n"
                                 + foreman_.process->tail());
      std::this_thread::sleep_for(milliseconds{5});
    }
    const double startup_s = ms_between(began, steady::now()) / 1000;
    wait_held(fake_.port, 1, startup_limit);
    return {startup_s, ms_between(began, steady::now()) / 1000};
  }

  /// Lets the worker run about `count` jobs, holds it again, and returns
  /// the ms each took, from foreman's own finished_at times: the span from
  /// the first to the last finish over the jobs between them (the held job,
  /// finished by the release itself, left out).
  std::pair<std::size_t, double> time_picks(std::size_t count) {
    post_or_throw(fake_.port, "/_fake/reset", "");
    const auto released_ms = wall_ms_now();
    post_or_throw(fake_.port, "/_fake/release", "");
    const auto deadline = steady::now() + seconds{60} + milliseconds{100} * count;
    while (get_json(fake_.port, "/_fake/counters")->getValue<std::size_t>("generations_started")
           < count + 1) {
      if (steady::now() > deadline)
        throw std::runtime_error("the worker did not run " + std::to_string(count)
                                 + " jobs in time");
      std::this_thread::sleep_for(milliseconds{10});
    }
    post_or_throw(fake_.port, "/_fake/hold", "");
    wait_held(fake_.port, 1, seconds{60});

    std::vector<long long> finished;
    std::string cursor;
    bool older_reached = false;
    while (!older_reached) {
      auto page = get_json(foreman_.port, "/jobs?state=done&limit=200"
                                            + (cursor.empty() ? "" : "&cursor=" + cursor));
      const auto jobs = page->getArray("jobs");
      for (std::size_t i = 0; jobs && i < jobs->size() && !older_reached; ++i) {
        const auto at = unix_ms(jobs->getObject(static_cast<unsigned>(i))
                                  ->optValue<std::string>("finished_at", ""));
        if (!at || *at < released_ms)
          older_reached = true;
        else
          finished.push_back(*at);
      }
      if (page->isNull("next_cursor"))
        break;
      cursor = page->getValue<std::string>("next_cursor");
    }
    std::sort(finished.begin(), finished.end());
    if (finished.size() < 3)
      return {finished.size(), std::nan("")};
    const auto picked = finished.size() - 1; // the held job left out
    return {picked, static_cast<double>(finished.back() - finished[1])
                      / static_cast<double>(picked - 1)};
  }

  /// The figures at the queue's current size: start-up, picks, memory, one
  /// more submit, and GET of a job in the middle of the queue.
  scale_reading read(const std::string& at) {
    scale_reading r;
    std::tie(r.startup_s, r.first_job_s) = restart();
    std::tie(r.picked, r.pick_ms) = time_picks(static_cast<std::size_t>(o_.scale_pick_jobs));
    r.rss_mb = megabytes(foreman_loadgen::read_process(foreman_.process->pid()).rss_kib);

    http_client client(foreman_.port, seconds{60});
    const auto submit_body = chat_job_body(submitted_model, "one more");
    const std::string submit_phase = "scale: POST /jobs at " + at;
    r.submit_ms = timed_calls(o_.scale_samples, [&] {
      const auto got = client.request("POST", "/jobs", submit_body);
      if (got.status == 202)
        return true;
      failures.add(submit_phase, got);
      return false;
    });

    r.queued = queued();
    // Jobs of one model, client and priority run oldest first, and ids
    // count up by one: the queue is the ids after the running job's.
    const auto running = get_json(foreman_.port, "/status")
                           ->getObject("worker")
                           ->getObject("running_job")
                           ->getValue<long long>("id");
    r.middle_id = running + static_cast<long long>(r.queued / 2) + 1;
    const auto path = "/jobs/" + std::to_string(r.middle_id);
    const std::string get_phase = "scale: GET /jobs/{id} at " + at;
    const auto first = client.request("GET", path);
    check_queued_answer(first, get_phase, r);
    r.get_ms = timed_calls(o_.scale_samples, [&] {
      const auto got = client.request("GET", path);
      if (got.status == 200)
        return true;
      failures.add(get_phase, got);
      return false;
    });
    return r;
  }

  std::string database() const {
    return database_sizes(db_);
  }

  /// The database file alone, once foreman has checkpointed its log.
  double database_mb() const {
    return file_mb(db_);
  }

private:
  /// A queued job's answer carries its queue position and estimated start.
  static void check_queued_answer(const http_result& got, const std::string& phase,
                                  scale_reading& r) {
    try {
      Poco::JSON::Parser parser;
      const auto job = parser.parse(got.body).extract<Poco::JSON::Object::Ptr>();
      if (got.status == 200 && !job->isNull("queue_position")
          && !job->isNull("estimated_start_at")) {
        r.middle_position = job->getValue<long long>("queue_position");
        return;
      }
    } catch (const std::exception&) {
    }
    failures.add(phase, http_result{got.status,
                                    "a queued job without queue_position or "
                                    "estimated_start_at: " + got.body.substr(0, 200),
                                    {}});
  }

  const options& o_;
  const temp_dir& dir_;
  const std::string label_ = "foreman-scale";
  std::string db_;
  std::vector<std::string> foreman_args_;
  server fake_;
  server foreman_;
};

struct scale_row {
  std::string name;
  double base;
  double at_n;
  int decimals;
  bool has_target;
};

} // namespace

void run_scale(const options& o, const temp_dir& dir) {
  const auto target = static_cast<std::size_t>(o.scale_queued);
  const auto picks = static_cast<std::size_t>(o.scale_pick_jobs);
  std::cout << "\n== 4. scale: " << with_separators(static_cast<double>(base_queued))
            << " queued jobs, then " << with_separators(static_cast<double>(target))
            << " (fill limit " << o.scale_fill_seconds << " s) ==\n"
            << "   fake target --token-ms 0, the worker held (its running job held at the "
               "fake target)\n"
            << std::flush;
  scale_run run(o, dir);
  run.hold_worker();
  // Each reading first lets the worker run `picks` jobs: fill that many more.
  const auto base_fill = run.fill(base_queued + picks, seconds{120}, false);
  if (!base_fill.stopped_early.empty())
    throw std::runtime_error("the scale part could not queue its first "
                             + std::to_string(base_queued + picks)
                             + " jobs: " + base_fill.stopped_early);
  const auto at_base = run.read(with_separators(static_cast<double>(base_queued)));
  std::cout << "    at " << with_separators(static_cast<double>(at_base.queued))
            << " queued: " << run.database() << "; filling to "
            << with_separators(static_cast<double>(target)) << "\n" << std::flush;

  const auto fill = run.fill(target + picks, seconds{o.scale_fill_seconds}, true);
  const auto reached = at_base.queued + fill.accepted;
  if (!fill.stopped_early.empty())
    std::cout << "    the fill stopped at " << with_separators(static_cast<double>(reached))
              << " of " << with_separators(static_cast<double>(target)) << " queued jobs: "
              << fill.stopped_early << " (--scale-fill-seconds sets the limit).\n"
              << "    The figures at N below are at about "
              << with_separators(static_cast<double>(reached)) << ", not "
              << with_separators(static_cast<double>(target)) << ".\n";
  const double fill_rate = ratio(static_cast<double>(fill.accepted), fill.seconds);
  std::cout << "    filled " << with_separators(static_cast<double>(fill.accepted))
            << " jobs in " << fixed(fill.seconds, 1) << " s (" << with_separators(fill_rate)
            << " jobs/s, " << o.clients << " keep-alive clients); " << run.database()
            << "\n" << std::flush;
  const auto at_n = run.read("N");

  const std::vector<scale_row> rows{
    {"POST /jobs p50 ms", percentile(at_base.submit_ms, 50), percentile(at_n.submit_ms, 50), 3, true},
    {"POST /jobs p99 ms", percentile(at_base.submit_ms, 99), percentile(at_n.submit_ms, 99), 3, true},
    {"GET /jobs/{id} p50 ms (mid-queue)", percentile(at_base.get_ms, 50),
     percentile(at_n.get_ms, 50), 3, true},
    {"GET /jobs/{id} p99 ms (mid-queue)", percentile(at_base.get_ms, 99),
     percentile(at_n.get_ms, 99), 3, true},
    {"worker's pick, ms per job run", at_base.pick_ms, at_n.pick_ms, 3, true},
    {"foreman RSS MB", at_base.rss_mb, at_n.rss_mb, 1, false},
    {"start-up s (until /readyz)", at_base.startup_s, at_n.startup_s, 3, false},
    {"start-up s (until a job runs)", at_base.first_job_s, at_n.first_job_s, 3, false},
  };
  int missed = 0;
  std::cout << "\n    " << std::left << std::setw(36) << "figure" << std::right
            << std::setw(12) << "at 1k" << std::setw(12) << "at N" << std::setw(9) << "N/1k"
            << "   target\n";
  for (const auto& row : rows) {
    const double r = ratio(row.at_n, row.base);
    const bool met = !std::isnan(r) && r <= scale_target_ratio;
    if (row.has_target && !met)
      ++missed;
    std::cout << "    " << std::left << std::setw(36) << row.name << std::right << std::setw(12)
              << fixed(row.base, row.decimals) << std::setw(12) << fixed(row.at_n, row.decimals)
              << std::setw(9) << fixed(r, 2)
              << (row.has_target ? "   <= " + fixed(scale_target_ratio, 1) + "  "
                                     + (met ? "met" : "MISSED")
                                 : "")
              << "\n";
  }
  std::cout << "    (1k: " << with_separators(static_cast<double>(at_base.queued))
            << " queued, the GET's job at position " << at_base.middle_position
            << "; N: " << with_separators(static_cast<double>(at_n.queued))
            << " queued, position " << at_n.middle_position << ".\n     Picks timed over "
            << at_base.picked << " and " << at_n.picked
            << " jobs; start-up is a restart on the same database with the worker held.)\n"
            << std::flush;

  result("scale_queued_target", static_cast<double>(target), 0);
  result("scale_queued_reached", static_cast<double>(at_n.queued), 0);
  result("scale_fill_s", fill.seconds, 1);
  result("scale_fill_jobs_per_s", fill_rate, 1);
  result("scale_db_mb", run.database_mb(), 0);
  auto figure = [](const std::string& name, double base, double at_n, int decimals) {
    result("scale_" + name + "_1k", base, decimals);
    result("scale_" + name + "_n", at_n, decimals);
    result("scale_" + name + "_ratio", ratio(at_n, base), 2);
  };
  figure("submit_p50_ms", rows[0].base, rows[0].at_n, 3);
  figure("submit_p99_ms", rows[1].base, rows[1].at_n, 3);
  figure("get_p50_ms", rows[2].base, rows[2].at_n, 3);
  figure("get_p99_ms", rows[3].base, rows[3].at_n, 3);
  figure("pick_ms", rows[4].base, rows[4].at_n, 3);
  figure("rss_mb", rows[5].base, rows[5].at_n, 1);
  figure("startup_s", rows[6].base, rows[6].at_n, 3);
  figure("first_job_s", rows[7].base, rows[7].at_n, 3);
  result("scale_targets_missed", missed, 0);
}

} // namespace foreman_bench
