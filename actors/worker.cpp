#include "actors/worker.hpp"

#include <optional>
#include <unordered_map>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/model_name.hpp"
#include "messages/errors.hpp"
#include "net/api_mapping.hpp"
#include "net/json_util.hpp"

namespace foreman {

namespace {

struct worker_state {
  static inline const char* name = "worker";
  worker_config config;
  store_actor store;
  target_client_actor target;
  inventory_actor inventory;
  /// Promises of callers waiting for each job's terminal state.
  std::unordered_map<int64_t, std::vector<caf::typed_response_promise<job_outcome>>>
    waiting;
  /// The job holding the execution slot.
  std::optional<int64_t> running;
  /// A choice of the next job is under way.
  bool picking = false;
  /// Work arrived while picking: pick again afterwards.
  bool pick_again = false;
};

using worker_pointer = worker_actor::stateful_pointer<worker_state>;

void pick_next(worker_pointer self);

std::string describe_job(const job& j) {
  return "job=" + std::to_string(j.id) + " model=" + j.model
         + " state=" + to_string(j.state) + " attempt="
         + std::to_string(j.attempt) + "/" + std::to_string(j.max_attempts);
}

void deliver(worker_pointer self, int64_t job_id, const job_outcome& outcome) {
  auto i = self->state.waiting.find(job_id);
  if (i == self->state.waiting.end())
    return;
  for (auto& promise : i->second)
    promise.deliver(outcome);
  self->state.waiting.erase(i);
}

void deliver_error(worker_pointer self, int64_t job_id, const caf::error& err) {
  auto i = self->state.waiting.find(job_id);
  if (i == self->state.waiting.end())
    return;
  for (auto& promise : i->second)
    promise.deliver(err);
  self->state.waiting.erase(i);
}

/// Frees the execution slot and looks for the next job.
void release(worker_pointer self) {
  self->state.running.reset();
  pick_next(self);
}

/// The store could not record a step of a running job: the job stays where
/// the store has it (recovered at the next start) and its callers learn why.
void on_store_error(worker_pointer self, int64_t job_id, const caf::error& err) {
  log_error("worker", "job=" + std::to_string(job_id)
                        + " cannot be recorded: " + describe(err));
  deliver_error(self, job_id, err);
  release(self);
}

void fail(worker_pointer self, const job& j, int32_t status, std::string body,
          std::string message) {
  job_transition change{j.id, job_state::failed, std::move(message), false};
  self->request(self->state.store, caf::infinite, change)
    .then(
      [=](const job& failed) {
        log_warning("worker", describe_job(failed) + " error=" + failed.error);
        deliver(self, failed.id, job_outcome{failed, status, body});
        release(self);
      },
      [=](const caf::error& err) { on_store_error(self, j.id, err); });
}

void requeue(worker_pointer self, const job& j, std::string message) {
  job_transition change{j.id, job_state::queued, std::move(message), false};
  self->request(self->state.store, caf::infinite, change)
    .then(
      [=](const job& queued) {
        log_info("worker", describe_job(queued) + " retry after: " + queued.error);
        release(self);
      },
      [=](const caf::error& err) { on_store_error(self, j.id, err); });
}

/// A call to the target went wrong: retry connection failures while
/// attempts remain; anything else ends the job.
void on_target_failure(worker_pointer self, const job& j, const target_reply& reply) {
  switch (reply.failure) {
    case target_failure::connection:
    case target_failure::aborted:
      if (j.attempt < j.max_attempts)
        requeue(self, j, "target unreachable: " + reply.body);
      else
        fail(self, j, 502,
             net::error_json("target unreachable after "
                             + std::to_string(j.attempt) + " attempts: "
                             + reply.body),
             "target unreachable: " + reply.body);
      return;
    case target_failure::http_status: {
      auto message = net::error_message(reply.body);
      fail(self, j, reply.http_status, net::error_json(message), message);
      return;
    }
    default:
      fail(self, j, 502, net::error_json(reply.body), reply.body);
  }
}

void note_residency(worker_pointer self, const job& j) {
  auto key = model_key(j.model);
  if (self->state.config.job_keep_alive.unloads_immediately())
    self->send(self->state.inventory, unloaded_atom_v, key);
  else
    self->send(self->state.inventory, loaded_atom_v, key);
}

void complete(worker_pointer self, const job& j, const target_reply& reply) {
  job_completion completion{j.id, net::result_text(j.kind, reply.body),
                            "application/json", reply.body};
  self->request(self->state.store, caf::infinite, std::move(completion))
    .then(
      [=](const job& done) {
        log_info("worker", describe_job(done));
        deliver(self, done.id, job_outcome{done, 200, reply.body});
        release(self);
      },
      [=](const caf::error& err) { on_store_error(self, j.id, err); });
}

target_request make_request(worker_pointer self, const job& j,
                            target_purpose purpose) {
  return target_request{j.id, purpose, j.kind, j.payload,
                        self->state.config.job_keep_alive.json()};
}

void run(worker_pointer self, const job& j) {
  log_info("worker", describe_job(j));
  self->request(self->state.target, caf::infinite, call_atom_v,
                make_request(self, j, target_purpose::run))
    .then([=](const target_reply& reply) {
      if (reply.failure == target_failure::none) {
        note_residency(self, j);
        complete(self, j, reply);
      } else {
        on_target_failure(self, j, reply);
      }
    });
}

void start_working(worker_pointer self, const job& j, bool counts_attempt) {
  job_transition change{j.id, job_state::working, "", counts_attempt};
  self->request(self->state.store, caf::infinite, change)
    .then([=](const job& working) { run(self, working); },
          [=](const caf::error& err) { on_store_error(self, j.id, err); });
}

/// Loads the job's model (with the job's options) before running it, so the
/// job's states tell loading from generating.
void load(worker_pointer self, const job& j) {
  log_info("worker", describe_job(j));
  self->request(self->state.target, caf::infinite, call_atom_v,
                make_request(self, j, target_purpose::load))
    .then([=](const target_reply& reply) {
      if (reply.failure != target_failure::none) {
        on_target_failure(self, j, reply);
        return;
      }
      self->send(self->state.inventory, loaded_atom_v, model_key(j.model));
      start_working(self, j, false);
    });
}

void begin(worker_pointer self, int64_t job_id, bool model_resident) {
  self->state.running = job_id;
  if (model_resident) {
    job stub;
    stub.id = job_id;
    start_working(self, stub, true);
    return;
  }
  job_transition change{job_id, job_state::loading, "", true};
  self->request(self->state.store, caf::infinite, change)
    .then([=](const job& loading) { load(self, loading); },
          [=](const caf::error& err) { on_store_error(self, job_id, err); });
}

void pick_next(worker_pointer self) {
  auto& st = self->state;
  if (st.running)
    return;
  if (st.picking) {
    st.pick_again = true;
    return;
  }
  st.picking = true;
  st.pick_again = false;
  auto retry_later = [=](const caf::error& err) {
    log_error("worker", "cannot choose the next job: " + describe(err));
    self->state.picking = false;
    self->delayed_send(self, std::chrono::seconds{1}, wake_atom_v);
  };
  self->request(st.inventory, caf::infinite, residents_atom_v)
    .then(
      [=](const std::vector<std::string>& residents) {
        self->request(self->state.store, caf::infinite, candidates_atom_v,
                      residents)
          .then(
            [=](const queue_candidates& queue) {
              auto& st = self->state;
              st.picking = false;
              auto choice = choose_next_job(queue.jobs, residents,
                                            now_unix_ms(), st.config.rules);
              if (!choice) {
                if (st.pick_again)
                  pick_next(self);
                return;
              }
              auto chosen = std::find_if(queue.jobs.begin(), queue.jobs.end(),
                                         [&](const queued_job& x) {
                                           return x.id == *choice;
                                         });
              auto resident = std::find(residents.begin(), residents.end(),
                                        chosen->model_key)
                              != residents.end();
              begin(self, *choice, resident);
            },
            retry_later);
      },
      retry_later);
}

worker_actor::behavior_type
worker(worker_pointer self, worker_config config, store_actor store,
       target_client_actor target, inventory_actor inventory) {
  auto& st = self->state;
  st.config = std::move(config);
  st.store = std::move(store);
  st.target = std::move(target);
  st.inventory = std::move(inventory);
  // Jobs recovered from the database wait for no submission.
  self->send(self, wake_atom_v);
  return {
    [=](submit_atom, job_spec& spec, const job_sink_actor& sink) {
      auto rp = self->make_response_promise<job_outcome>();
      if (spec.max_attempts <= 0)
        spec.max_attempts = self->state.config.default_max_attempts;
      self->request(self->state.store, caf::infinite, insert_atom_v,
                    std::move(spec))
        .then(
          [=](const job& stored) mutable {
            log_info("worker", describe_job(stored));
            self->state.waiting[stored.id].push_back(rp);
            if (sink)
              self->send(sink, accepted_atom_v, stored);
            pick_next(self);
          },
          [=](const caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [=](wake_atom) { pick_next(self); },
  };
}

} // namespace

worker_actor spawn_worker(caf::actor_system& sys, worker_config config,
                          store_actor store, target_client_actor target,
                          inventory_actor inventory) {
  return sys.spawn(worker, std::move(config), std::move(store),
                   std::move(target), std::move(inventory));
}

} // namespace foreman
