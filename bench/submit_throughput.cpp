// Part 1 (d): how many jobs a second foreman accepts through POST /jobs.

#include "job_submitter.hpp"
#include "parts.hpp"

#include <Poco/JSON/Object.h>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <set>
#include <stdexcept>

namespace foreman_bench {

namespace {

// What issue 11 asks of foreman with 64 clients.
constexpr double submit_target_rps = 20000;

// Accepted jobs read back one by one to see that they are stored.
constexpr std::size_t read_back_jobs = 10;

/// What the same clients reach against the fake target's cheapest answer
/// (GET /api/version): the load generator's own ceiling on this machine.
double client_ceiling_rps(int fake_port, int clients, milliseconds duration) {
  foreman_loadgen::keep_alive_load load;
  load.port = static_cast<uint16_t>(fake_port);
  load.connections = static_cast<std::size_t>(clients);
  load.request = {"GET", "/api/version", ""};
  load.duration = duration;
  std::size_t ok = 0;
  const std::string phase = "load generator ceiling (GET /api/version)";
  foreman_loadgen::keep_alive_clients senders(load, [&](int status, const std::string& body) {
    if (status == 200)
      ++ok;
    else
      failures.add(phase, http_result{status, body, {}});
  });
  if (!senders.wait_finished(duration + load.answer_timeout + seconds{10}))
    throw std::runtime_error(phase + ": the clients did not finish");
  const auto& totals = senders.totals();
  add_failed_clients(phase, totals);
  return static_cast<double>(ok) / (ms_between(totals.started, totals.last_answer) / 1000.0);
}

/// Every accepted job must be stored: foreman's queue holds them all (and
/// the held one), and a sample of them reads back as queued.
void check_stored(int foreman_port, const std::vector<long long>& ids,
                  const std::string& phase) {
  const auto expected = ids.size() + 1;
  const auto stored = jobs_in_queue(foreman_port);
  if (stored != expected)
    failures.add(phase, http_result{0, "foreman's queue holds " + std::to_string(stored)
                                         + " jobs, not the " + std::to_string(expected)
                                         + " accepted (with the held one)",
                                    {}});
  if (std::set<long long>(ids.begin(), ids.end()).size() != ids.size())
    failures.add(phase, http_result{0, "two 202 answers named the same job id", {}});
  for (std::size_t i = 0; i < read_back_jobs && !ids.empty(); ++i) {
    const auto id = ids[i * (ids.size() - 1) / std::max<std::size_t>(read_back_jobs - 1, 1)];
    http_client client(foreman_port, seconds{10});
    const auto got = client.request("GET", "/jobs/" + std::to_string(id));
    if (got.status != 200 || job_id_of(got.body) != id
        || got.body.find("\"state\":\"queued\"") == std::string::npos)
      failures.add(phase, http_result{got.status, "job " + std::to_string(id) + ": "
                                                    + got.body.substr(0, 200),
                                      {}});
  }
}

} // namespace

void run_submit_throughput(const options& o, const temp_dir& dir) {
  const milliseconds duration = seconds{o.concurrent_seconds};
  std::cout << "\n(d) " << o.clients << " keep-alive clients sending POST /jobs (a chat "
            << "job each) back to back for " << o.concurrent_seconds
            << " s,\n    the worker held (its running job held at the fake target)\n"
            << std::flush;
  auto fake = start_fake(o, "fake-submit", {"--token-ms", "0"});
  auto foreman = start_foreman(o, "foreman-submit", fake.port, dir.file("submit.db"),
                               {"--max-queue", std::to_string(o.concurrent_requests + 1000),
                                "--shutdown-grace", "0"});
  // A worker that ran the jobs as they came would take the store and the
  // CPU from the submissions at a pace no real target allows.
  post_or_throw(fake.port, "/_fake/hold", "");
  post_or_throw(foreman.port, "/jobs", chat_job_body(submitted_model, "held"));
  wait_held(fake.port, 1, seconds{30});

  const double ceiling = client_ceiling_rps(fake.port, o.clients, duration);
  const std::string phase = "POST /jobs, " + std::to_string(o.clients) + " clients";
  job_submitter submitter(foreman.port, o.clients,
                          static_cast<std::size_t>(o.concurrent_requests), duration, phase);
  if (!submitter.wait_finished(duration + seconds{60}))
    throw std::runtime_error(phase + ": the clients did not finish");
  const auto& ids = submitter.accepted_ids();
  const double rps = static_cast<double>(ids.size()) / submitter.seconds();
  const int failed_before_check = failures.count(phase);
  check_stored(foreman.port, ids, phase + ", stored check");

  const bool met = rps >= submit_target_rps;
  std::cout << "    accepted (202)   failed   seconds      jobs/s    target\n"
            << "    " << std::setw(14) << ids.size() << std::setw(9) << failed_before_check
            << std::setw(10) << fixed(submitter.seconds(), 2) << std::setw(12)
            << fixed(rps, 1) << "  >= " << fixed(submit_target_rps, 0) << "   "
            << (met ? "met" : "MISSED") << "\n"
            << "    (the same clients reach " << fixed(ceiling, 0)
            << " requests/s on the fake target's GET /api/version:\n     the load "
               "generator's ceiling here; " << read_back_jobs
            << " accepted jobs read back by\n     GET /jobs/{id}, and /status counted "
            << jobs_in_queue(foreman.port) << " jobs, the held one included)\n"
            << std::flush;
  result("jobs_submit_rps", rps, 1);
  result("jobs_submit_accepted", static_cast<double>(ids.size()), 0);
  result("jobs_submit_client_ceiling_rps", ceiling, 1);
}

} // namespace foreman_bench
