#include "actors/metrics.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/clock.hpp"
#include "core/metrics_registry.hpp"
#include "messages/errors.hpp"

namespace foreman {

namespace {

constexpr const char* jobs_submitted = "foreman_jobs_submitted_total";
constexpr const char* jobs_finished = "foreman_jobs_finished_total";
constexpr const char* queue_depth_gauge = "foreman_queue_depth";
constexpr const char* queue_wait = "foreman_queue_wait_seconds";
constexpr const char* job_run = "foreman_job_run_seconds";
constexpr const char* model_loads = "foreman_model_loads_total";
constexpr const char* model_load_time = "foreman_model_load_seconds";
constexpr const char* target_errors = "foreman_target_errors_total";
constexpr const char* webhook_deliveries = "foreman_webhook_deliveries_total";
constexpr const char* http_requests = "foreman_http_requests_total";
constexpr const char* start_time = "foreman_start_time_seconds";

/// From a cached answer to a half-hour generation.
const std::vector<double> duration_buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                           0.5,   1,    2.5,   5,    10,  30,
                                           60,    120,  300,   600,  1800};

struct metrics_state {
  static inline const char* name = "metrics";
  store_actor store;
  metrics_registry registry;
};

using metrics_pointer = metrics_actor::stateful_pointer<metrics_state>;

void declare_metrics(metrics_registry& r) {
  r.add_counter(jobs_submitted, "Jobs stored, by kind.");
  r.add_counter(jobs_finished, "Jobs that reached a terminal state, by kind and state.");
  r.add_gauge(queue_depth_gauge,
              "Jobs not yet ended, by model and state (queued, loading, working).");
  r.add_histogram(queue_wait, "Time from a job's submission to its first attempt.",
                  duration_buckets);
  r.add_histogram(job_run, "Time from a job's first attempt to its end, by kind.",
                  duration_buckets);
  r.add_counter(model_loads, "Models the worker loaded on the target, by model.");
  r.add_histogram(model_load_time, "Time the target took to load a model.",
                  duration_buckets);
  r.add_counter(target_errors,
                "Failed calls to the target, by kind (connection, timeout, "
                "http_status, invalid_reply).");
  r.add_counter(webhook_deliveries,
                "Webhook delivery attempts, by outcome (delivered, failed, given_up).");
  r.add_counter(http_requests, "HTTP requests answered, by route and status.");
  r.add_gauge(start_time, "When this foreman process started, Unix seconds.");
  for (auto kind : {job_kind::chat, job_kind::generate, job_kind::embed}) {
    r.start_series(jobs_submitted, {{"kind", to_string(kind)}});
    r.start_series(job_run, {{"kind", to_string(kind)}});
    for (auto state : {job_state::done, job_state::failed, job_state::cancelled})
      r.start_series(jobs_finished,
                     {{"kind", to_string(kind)}, {"state", to_string(state)}});
  }
  r.start_series(queue_wait, {});
  r.start_series(model_load_time, {});
  for (auto kind : {"connection", "timeout", "http_status", "invalid_reply"})
    r.start_series(target_errors, {{"kind", kind}});
  for (auto outcome : {"delivered", "failed", "given_up"})
    r.start_series(webhook_deliveries, {{"outcome", outcome}});
  r.set(start_time, {}, static_cast<double>(now_unix_ms()) / 1000.0);
}

metrics_actor::behavior_type metrics(metrics_pointer self, store_actor store) {
  self->state.store = std::move(store);
  declare_metrics(self->state.registry);
  auto registry = [self]() -> metrics_registry& { return self->state.registry; };
  return {
    [=](const job_submitted_metric& x) {
      registry().increment(jobs_submitted, {{"kind", to_string(x.kind)}});
    },
    [=](const job_started_metric& x) { registry().observe(queue_wait, {}, x.wait_seconds); },
    [=](const job_finished_metric& x) {
      registry().increment(jobs_finished,
                  {{"kind", to_string(x.kind)}, {"state", to_string(x.state)}});
      if (x.run_seconds >= 0)
        registry().observe(job_run, {{"kind", to_string(x.kind)}}, x.run_seconds);
    },
    [=](const model_load_metric& x) {
      registry().increment(model_loads, {{"model", x.model_key}});
      registry().observe(model_load_time, {}, x.seconds);
    },
    [=](const target_error_metric& x) {
      registry().increment(target_errors, {{"kind", x.kind}});
    },
    [=](const webhook_metric& x) {
      registry().increment(webhook_deliveries, {{"outcome", x.outcome}});
    },
    [=](const http_request_metric& x) {
      registry().increment(http_requests,
                  {{"route", x.route}, {"status", std::to_string(x.status)}});
    },
    [=](metrics_atom) {
      auto rp = self->make_response_promise<std::string>();
      self->request(self->state.store, std::chrono::seconds{10}, depth_atom_v)
        .then(
          [=](const std::vector<queue_depth>& depths) mutable {
            auto& r = self->state.registry;
            // Only models with jobs now: a drained model's series goes.
            r.clear(queue_depth_gauge);
            for (auto& d : depths)
              r.set(queue_depth_gauge,
                    {{"model", d.model_key}, {"state", to_string(d.state)}},
                    static_cast<double>(d.count));
            rp.deliver(r.render());
          },
          [=](const caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
  };
}

} // namespace

metrics_actor spawn_metrics(caf::actor_system& sys, store_actor store) {
  return sys.spawn(metrics, std::move(store));
}

} // namespace foreman
