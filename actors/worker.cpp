#include "actors/worker.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/backoff.hpp"
#include "core/model_name.hpp"
#include "core/queue_index.hpp"
#include "core/wake_timer.hpp"
#include "messages/errors.hpp"
#include "net/api_mapping.hpp"
#include "net/json_util.hpp"

namespace foreman {

namespace {

/// A caller waiting for a job's terminal state.
struct waiter {
  caf::typed_response_promise<job_outcome> promise;
  job_sink_actor sink;
  /// The caller wants the job's chunks as they arrive.
  bool stream = false;
  /// The write that stored the job: nothing reaches the caller before it is
  /// durable.
  int64_t stored_ticket = 0;
};

/// Something to tell the outside once a write is durable.
struct acknowledgement {
  std::function<void()> on_durable;
  /// The write was lost (its commit failed); may be empty.
  std::function<void(const caf::error&)> on_lost;
};

/// The job holding the execution slot.
struct running_job {
  int64_t id = 0;
  /// The job as its transitions so far leave it; the store has been sent
  /// each of them.
  job record;
  /// The store could not record a step: the job's callers have heard so,
  /// and the call is being aborted.
  bool record_lost = false;
  /// Tells this attempt's timeout from those of earlier attempts.
  int32_t serial = 0;
  bool cancel_requested = false;
  /// FOREMAN_JOB_TIMEOUT passed and the call was aborted.
  bool timed_out = false;
  /// When the current call to the target started, on the monotonic clock
  /// (for the duration stats); 0 = no call yet.
  int64_t call_started_ms = 0;
  std::string model_key;
  /// Some chunks already reached streaming callers.
  bool chunks_forwarded = false;
  /// Callers of cancel, answered once the job is cancelled.
  std::vector<caf::typed_response_promise<job>> cancellers;
  /// "loading" or "working", for /status.
  std::string phase;
  /// The shutdown grace period ran out: the call is aborted and the job goes
  /// back to the queue.
  bool shutdown_abort = false;
};

/// Recent durations of one model's loads and runs, for queue estimates.
struct model_timings {
  double load_ms = -1; // exponential moving averages; -1 = never seen
  double run_ms = -1;
};

struct worker_state {
  static inline const char* name = "worker";
  worker_config config;
  store_actor store;
  target_client_actor target;
  inventory_actor inventory;
  metrics_actor metrics;
  std::unordered_map<int64_t, std::vector<waiter>> waiting;
  /// Told each change of what the worker does.
  std::vector<worker_status_listener_actor> status_listeners;
  /// Stopping: no new job starts; these learn when the slot is free.
  bool draining = false;
  std::vector<caf::typed_response_promise<int64_t>> drain_waiters;
  /// The job the drain put back in the queue; 0 = none.
  int64_t requeued_by_drain = 0;
  std::optional<running_job> running;
  int32_t attempt_serial = 0;
  /// The queue, in memory: the scheduler picks from it without asking the
  /// store. Loaded from the store at start, then kept by the worker's own
  /// transitions.
  queue_index queue;
  bool queue_loaded = false;
  /// Jobs cancelled while the queue was loading: a page read before the
  /// cancel must not bring them back.
  std::unordered_set<int64_t> left_while_loading;
  /// Jobs stored for a waiting caller, kept until they start so the start
  /// needs no read of the store.
  std::unordered_map<int64_t, job> fresh_jobs;
  /// Writes sent to the store so far; a write's ticket is the count after
  /// it. Everything up to durable_upto is committed; a durable request in
  /// flight covers up to barrier_upto.
  int64_t writes_sent = 0;
  int64_t durable_upto = 0;
  int64_t barrier_upto = 0;
  /// What waits to be told outside, by the ticket of the write it needs.
  std::multimap<int64_t, acknowledgement> acks;
  /// A choice of the next job is under way.
  bool picking = false;
  /// Work arrived while picking: pick again afterwards.
  bool pick_again = false;
  /// Backoffs are set and compared on this timeline.
  due_time_clock due_times{system_clock()};
  jittered_backoff backoff{std::chrono::seconds{1}, std::chrono::minutes{1}};
  /// The wake-up for the earliest retry.
  wake_timer retry_wake;
  /// The group (model and load options) each model was last run with: a
  /// resident model serves that group without a reload.
  std::map<std::string, std::string> loaded_groups;
  std::map<std::string, model_timings> timings;
  /// The chat model the worker ran last and left loaded; "" = none.
  std::string last_chat_model;
  /// The target has evicted a model to make room for a load: it holds no
  /// more than it holds now (learned in unload_on_switch::automatic).
  bool target_full = false;
  /// The models resident when the running job was picked.
  std::vector<std::string> residents_at_pick;

  int64_t wall_ms() const {
    return config.clock->wall_ms();
  }

  int64_t steady_ms() const {
    return config.clock->steady_ms();
  }
};

using worker_pointer = worker_actor::stateful_pointer<worker_state>;

void pick_next(worker_pointer self);
void finish_cancelled(worker_pointer self, int64_t job_id);

/// The log attributes of a job's transition.
log_fields job_fields(const job& j) {
  log_fields fields{{"job_id", j.id},
                    {"model", j.model},
                    {"state", to_string(j.state)},
                    {"attempt", j.attempt},
                    {"max_attempts", j.max_attempts}};
  if (is_terminal(j.state) && j.started_at_ms > 0)
    fields.emplace_back("duration_ms", j.finished_at_ms - j.started_at_ms);
  if (!j.error.empty())
    fields.emplace_back("error", j.error);
  return fields;
}

void log_job(worker_pointer self, log_level level, std::string_view msg,
             const job& j) {
  self->state.config.log.write(level, "worker", msg, job_fields(j));
}

// -- durability ----------------------------------------------------------------

/// Sends a write to the store; its ticket is then state.writes_sent.
template <class... Ts>
auto write(worker_pointer self, Ts&&... xs) {
  ++self->state.writes_sent;
  return self->request(self->state.store, caf::infinite, std::forward<Ts>(xs)...);
}

void await_durability(worker_pointer self);

/// Runs the acknowledgements whose writes a durable answer (or a failed
/// commit) now covers.
void settle_acks(worker_pointer self, int64_t covered, const caf::error* lost) {
  auto& st = self->state;
  st.durable_upto = std::max(st.durable_upto, covered);
  while (!st.acks.empty() && st.acks.begin()->first <= covered) {
    auto ack = std::move(st.acks.begin()->second);
    st.acks.erase(st.acks.begin());
    if (lost == nullptr)
      ack.on_durable();
    else if (ack.on_lost)
      ack.on_lost(*lost);
  }
  await_durability(self);
}

/// Asks the store to answer once the writes sent so far are durable, unless
/// a question in flight covers every waiting acknowledgement already.
void await_durability(worker_pointer self) {
  auto& st = self->state;
  if (st.acks.empty() || st.barrier_upto >= st.acks.rbegin()->first)
    return;
  auto covers = st.writes_sent;
  st.barrier_upto = covers;
  self->request(st.store, caf::infinite, durable_atom_v)
    .then([=](int64_t) { settle_acks(self, covers, nullptr); },
          [=](const caf::error& err) {
            self->state.config.log.error("worker", "writes were lost: the store could not commit them",
                                         {{"error", describe(err)}});
            settle_acks(self, covers, &err);
          });
}

/// Tells the outside something once the write with `ticket` is durable:
/// nothing is acknowledged before it is (see store_actor).
void after_durable(worker_pointer self, int64_t ticket, std::function<void()> on_durable,
                   std::function<void(const caf::error&)> on_lost = {}) {
  auto& st = self->state;
  if (ticket <= st.durable_upto)
    return on_durable();
  st.acks.emplace(ticket, acknowledgement{std::move(on_durable), std::move(on_lost)});
  await_durability(self);
}

// -- callers -------------------------------------------------------------------

void deliver(worker_pointer self, int64_t job_id, const job_outcome& outcome) {
  auto i = self->state.waiting.find(job_id);
  if (i == self->state.waiting.end())
    return;
  for (auto& w : i->second)
    after_durable(self, w.stored_ticket,
                  [promise = w.promise, outcome]() mutable { promise.deliver(outcome); },
                  [promise = w.promise](const caf::error& err) mutable {
                    promise.deliver(err);
                  });
  self->state.waiting.erase(i);
}

void deliver_error(worker_pointer self, int64_t job_id, const caf::error& err) {
  auto i = self->state.waiting.find(job_id);
  if (i == self->state.waiting.end())
    return;
  for (auto& w : i->second)
    w.promise.deliver(err);
  self->state.waiting.erase(i);
}

bool cancel_requested(worker_pointer self) {
  return self->state.running && self->state.running->cancel_requested;
}

worker_status current_status(const worker_state& st) {
  worker_status status;
  if (st.running) {
    status.state = st.running->phase;
    status.running_job_id = st.running->id;
  } else if (st.draining) {
    status.state = "draining";
  }
  return status;
}

/// Tells the status listeners what the worker does now.
void announce(worker_pointer self) {
  auto status = current_status(self->state);
  for (auto& listener : self->state.status_listeners)
    self->send(listener, status);
}

/// Frees the execution slot and looks for the next job, or tells a
/// drain that the slot is free.
void release(worker_pointer self) {
  auto& st = self->state;
  // A cancel that arrived while the job's end was being recorded is too late.
  if (st.running)
    for (auto& promise : st.running->cancellers)
      promise.deliver(make_error(foreman_errc::invalid_transition,
                                 "job " + std::to_string(st.running->id)
                                   + " ended before it could be cancelled"));
  st.running.reset();
  announce(self);
  if (!st.draining)
    return pick_next(self);
  for (auto& promise : st.drain_waiters)
    promise.deliver(st.requeued_by_drain);
  st.drain_waiters.clear();
}

/// Counts a job that reached a terminal state.
void note_end(worker_pointer self, const job& j) {
  auto run_seconds = j.started_at_ms > 0 && j.finished_at_ms >= j.started_at_ms
                       ? static_cast<double>(j.finished_at_ms - j.started_at_ms) / 1000.0
                       : -1.0;
  self->send(self->state.metrics, job_finished_metric{j.kind, j.state, run_seconds});
}

/// Counts a job's first attempt with the time it waited for it.
void note_start(worker_pointer self, const job& j) {
  if (j.attempt != 1 || j.started_at_ms < j.created_at_ms)
    return;
  self->send(self->state.metrics,
             job_started_metric{static_cast<double>(j.started_at_ms - j.created_at_ms)
                                / 1000.0});
}

/// The store could not record a step of a job: the job stays where the
/// store has it (recovered at the next start) and its callers learn why.
void report_lost_step(worker_pointer self, int64_t job_id, const caf::error& err) {
  self->state.config.log.error("worker", "cannot record the job's step",
                               {{"job_id", job_id}, {"error", describe(err)}});
  deliver_error(self, job_id, err);
}

/// A step the worker waited for was not recorded: the slot is free again.
void on_store_error(worker_pointer self, int64_t job_id, const caf::error& err) {
  report_lost_step(self, job_id, err);
  release(self);
}

/// Records a step of the running job without waiting for it: the next step
/// goes on at once (the store applies writes in order). When the store
/// cannot record it, the callers hear so and the call is aborted; the reply
/// to the call then frees the slot.
void record_step(worker_pointer self, job_transition change) {
  auto job_id = change.job_id;
  write(self, std::move(change))
    .then([](const job&) {},
          [=](const caf::error& err) {
            auto& running = self->state.running;
            report_lost_step(self, job_id, err);
            if (!running || running->id != job_id || running->record_lost)
              return;
            running->record_lost = true;
            self->send(self->state.target, abort_atom_v, job_id);
          });
}

void fail(worker_pointer self, const job& j, int32_t status, std::string body,
          std::string message) {
  job_transition change{j.id, job_state::failed, std::move(message), false};
  write(self, change)
    .then(
      [=](const job& failed) {
        log_job(self, log_level::warning, "job failed", failed);
        note_end(self, failed);
        deliver(self, failed.id, job_outcome{failed, status, body});
        release(self);
      },
      [=](const caf::error& err) { on_store_error(self, j.id, err); });
}

/// Ends the streams of callers who already received chunks of this attempt:
/// the next attempt starts over, and a stream cannot be rewound. Callers
/// waiting for the whole answer keep waiting.
void end_interrupted_streams(worker_pointer self, const job& j) {
  if (!self->state.running || !self->state.running->chunks_forwarded)
    return;
  auto i = self->state.waiting.find(j.id);
  if (i == self->state.waiting.end())
    return;
  auto& list = i->second;
  auto outcome = job_outcome{j, 502,
                             net::error_json("the connection to the target broke "
                                             "mid-stream; job "
                                             + std::to_string(j.id)
                                             + " is queued for another attempt")};
  for (auto& w : list)
    if (w.stream)
      w.promise.deliver(outcome);
  list.erase(std::remove_if(list.begin(), list.end(),
                            [](const waiter& w) { return w.stream; }),
             list.end());
  if (list.empty())
    self->state.waiting.erase(i);
}

void requeue(worker_pointer self, const job& j, std::string message) {
  auto delay = self->state.backoff.delay(j.attempt);
  job_transition change{j.id, job_state::queued, std::move(message), false,
                        self->state.due_times.now_ms() + delay.count()};
  write(self, change)
    .then(
      [=](const job& queued) {
        // Cancelled while the retry was being recorded: it must not run again.
        if (cancel_requested(self))
          return finish_cancelled(self, queued.id);
        auto fields = job_fields(queued);
        fields.emplace_back("backoff_ms", delay.count());
        self->state.config.log.info("worker", "job queued for a retry", fields);
        self->state.queue.add(queued_facts(queued));
        end_interrupted_streams(self, queued);
        release(self);
      },
      [=](const caf::error& err) { on_store_error(self, j.id, err); });
}

/// Ends a job whose cancellation was asked for; its callers hear
/// Ollama's "request canceled".
void finish_cancelled(worker_pointer self, int64_t job_id) {
  job_transition change{job_id, job_state::cancelled, "cancelled", false};
  write(self, change)
    .then(
      [=](const job& cancelled) {
        auto ticket = self->state.writes_sent;
        log_job(self, log_level::info, "job cancelled", cancelled);
        note_end(self, cancelled);
        deliver(self, job_id,
                job_outcome{cancelled, 499, net::error_json("request canceled")});
        if (self->state.running && self->state.running->id == job_id) {
          for (auto& promise : self->state.running->cancellers)
            after_durable(self, ticket,
                          [promise, cancelled]() mutable { promise.deliver(cancelled); });
          self->state.running->cancellers.clear();
        }
        release(self);
      },
      [=](const caf::error& err) { on_store_error(self, job_id, err); });
}

/// The kind of a failed call, as /metrics names it.
std::string failure_kind(const target_reply& reply, bool timed_out) {
  if (timed_out)
    return "timeout";
  switch (reply.failure) {
    case target_failure::http_status:
      return "http_status";
    case target_failure::invalid_reply:
      return "invalid_reply";
    default:
      return "connection";
  }
}

/// Puts the running job back in the queue at shutdown; the interrupted
/// attempt does not count.
void requeue_for_shutdown(worker_pointer self, int64_t job_id) {
  job_transition change{job_id, job_state::queued, "interrupted by shutdown",
                        false, 0, true};
  write(self, change)
    .then(
      [=](const job& queued) {
        log_job(self, log_level::info, "job interrupted by shutdown, queued for the next start",
                queued);
        self->state.queue.add(queued_facts(queued));
        self->state.requeued_by_drain = queued.id;
        release(self);
      },
      [=](const caf::error& err) { on_store_error(self, job_id, err); });
}

/// Ends the running job early when it was cancelled or shutdown interrupts
/// it; true when it did.
bool interrupted(worker_pointer self, int64_t job_id) {
  auto& running = self->state.running;
  if (!running)
    return false;
  if (running->cancel_requested) {
    finish_cancelled(self, job_id);
    return true;
  }
  if (running->shutdown_abort) {
    requeue_for_shutdown(self, job_id);
    return true;
  }
  return false;
}

/// A call to the target went wrong: retry connection failures while
/// attempts remain; anything else ends the job.
void on_target_failure(worker_pointer self, const job& j, target_reply reply) {
  auto timed_out = self->state.running && self->state.running->timed_out;
  if (timed_out)
    reply = target_reply{target_failure::connection, 0,
                         "no answer within FOREMAN_JOB_TIMEOUT ("
                           + std::to_string(self->state.config.job_timeout_ms)
                           + " ms)"};
  self->send(self->state.metrics, target_error_metric{failure_kind(reply, timed_out)});
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
  if (self->state.config.job_keep_alive.unloads_immediately()) {
    self->state.loaded_groups.erase(key);
    self->send(self->state.inventory, unloaded_atom_v, key);
  } else {
    self->state.loaded_groups[key] = j.group_key;
    self->send(self->state.inventory, loaded_atom_v, key);
    if (j.kind != job_kind::embed)
      self->state.last_chat_model = key;
  }
}

/// Learns whether the load that just finished made the target evict a
/// model (a resident before it is gone now): then the target is full, and
/// from now on the worker unloads the outgoing model itself before a switch.
void learn_whether_target_is_full(worker_pointer self, const std::string& loaded) {
  auto& st = self->state;
  if (st.config.unload_mode != unload_on_switch::automatic || st.target_full)
    return;
  auto before = st.residents_at_pick;
  self->request(st.target, caf::infinite, ps_atom_v)
    .then(
      [=](const std::vector<resident_model>& now) {
        for (auto& model : before) {
          auto still_there = std::any_of(now.begin(), now.end(),
                                         [&](const resident_model& x) {
                                           return x.model_key == model;
                                         });
          if (model == loaded || still_there || self->state.target_full)
            continue;
          self->state.target_full = true;
          self->state.config.log.info(
            "worker", "the target evicted a model to load another; from now on the "
                      "outgoing model is unloaded before each switch",
            {{"model", loaded}, {"evicted", model}});
        }
      },
      [](const caf::error&) {
        // Unknown this time; the next load asks again.
      });
}

/// The chat model to unload before `incoming` loads, so that the target
/// needs to evict nothing: the one run last, when it is still loaded, is
/// another model, and the mode says so.
std::optional<std::string> outgoing_model(worker_pointer self, const job& incoming) {
  auto& st = self->state;
  auto mode = st.config.unload_mode;
  if (mode == unload_on_switch::never
      || (mode == unload_on_switch::automatic && !st.target_full)
      || incoming.kind == job_kind::embed || st.last_chat_model.empty()
      || st.last_chat_model == model_key(incoming.model)
      || st.loaded_groups.count(st.last_chat_model) == 0)
    return std::nullopt;
  return st.last_chat_model;
}

/// Unloads `model` from the target (keep_alive 0), then goes on with
/// `next` whether or not the target complied.
template <class Next>
void unload_then(worker_pointer self, const std::string& model, Next next) {
  auto& st = self->state;
  st.config.log.info("worker", "unloading the outgoing model before a switch",
                     {{"model", model}});
  target_request unload{0, target_purpose::load, job_kind::generate,
                        "{\"model\":" + net::json_quote(model) + "}", "0", ""};
  self->request(st.target, caf::infinite, call_atom_v, std::move(unload), chunk_sink_actor{})
    .then([=](const target_reply& reply) {
      auto& st = self->state;
      if (reply.failure != target_failure::none)
        st.config.log.warning("worker", "the target did not unload the outgoing model",
                              {{"model", model}, {"error", reply.body}});
      st.loaded_groups.erase(model);
      st.last_chat_model.clear();
      self->send(st.inventory, unloaded_atom_v, model);
      next();
    });
}

/// Folds the duration of the call just finished into the model's averages.
void record_duration(worker_pointer self, double model_timings::*field) {
  auto& running = self->state.running;
  if (!running || running->call_started_ms == 0)
    return;
  auto elapsed = static_cast<double>(self->state.steady_ms() - running->call_started_ms);
  auto& average = self->state.timings[running->model_key].*field;
  average = average < 0 ? elapsed : 0.7 * average + 0.3 * elapsed;
}

void start_call_clock(worker_pointer self) {
  if (self->state.running)
    self->state.running->call_started_ms = self->state.steady_ms();
}

/// The running job's answer came: the job is done. Its callers get the
/// answer at once (the job's record is durable by then), while the `done`
/// transition commits with the next group: a crash before that commit runs
/// the job again.
void complete(worker_pointer self, const target_reply& reply) {
  auto& st = self->state;
  auto done = st.running->record;
  done.state = job_state::done;
  done.result = reply.body;
  done.error.clear();
  done.finished_at_ms = done.updated_at_ms = st.wall_ms();
  write(self, job_completion{done.id, "application/json", reply.body})
    .then([](const job&) {},
          [=](const caf::error& err) {
            self->state.config.log.error("worker", "cannot record the job's end",
                                         {{"job_id", done.id}, {"error", describe(err)}});
          });
  log_job(self, log_level::info, "job done", done);
  note_end(self, done);
  deliver(self, done.id, job_outcome{done, 200, reply.body});
  release(self);
}

target_request make_request(worker_pointer self, const job& j,
                            target_purpose purpose) {
  return target_request{j.id, purpose, j.kind, j.payload,
                        self->state.config.job_keep_alive.json(), j.client};
}

/// Handles the target's answer to a load or a run of the running job.
template <class OnSuccess>
auto on_reply(worker_pointer self, OnSuccess on_success) {
  return [=](const target_reply& reply) {
    auto& running = self->state.running;
    if (running->record_lost)
      return release(self);
    if (reply.streamed)
      running->chunks_forwarded = true;
    auto job_id = running->id;
    if (cancel_requested(self))
      return finish_cancelled(self, job_id);
    if (reply.failure == target_failure::none)
      return on_success(reply);
    // A call aborted at shutdown is no failure of the job.
    if (!interrupted(self, job_id))
      on_target_failure(self, running->record, reply);
  };
}

/// The sink of the job's streaming caller, if it has one: the target
/// client's runner sends it each chunk directly.
chunk_sink_actor stream_sink(worker_pointer self, int64_t job_id) {
  auto i = self->state.waiting.find(job_id);
  if (i != self->state.waiting.end())
    for (auto& w : i->second)
      if (w.stream && w.sink)
        return w.sink;
  return {};
}

void run(worker_pointer self) {
  auto& running = *self->state.running;
  if (interrupted(self, running.id))
    return;
  log_job(self, log_level::info, "job working", running.record);
  start_call_clock(self);
  self
    ->request(self->state.target, caf::infinite, call_atom_v,
              make_request(self, running.record, target_purpose::run),
              stream_sink(self, running.id))
    .then(on_reply(self, [=](const target_reply& reply) {
      record_duration(self, &model_timings::run_ms);
      note_residency(self, self->state.running->record);
      complete(self, reply);
    }));
}

/// Loads the job's model (with the job's options) before running it, so the
/// job's states tell loading from generating.
void load(worker_pointer self) {
  auto& running = *self->state.running;
  if (interrupted(self, running.id))
    return;
  log_job(self, log_level::info, "job loading", running.record);
  start_call_clock(self);
  self
    ->request(self->state.target, caf::infinite, call_atom_v,
              make_request(self, running.record, target_purpose::load),
              chunk_sink_actor{})
    .then(on_reply(self, [=](const target_reply&) {
      auto& running = *self->state.running;
      auto model = model_key(running.record.model);
      if (running.call_started_ms > 0)
        self->send(self->state.metrics,
                   model_load_metric{model,
                                     static_cast<double>(self->state.steady_ms()
                                                         - running.call_started_ms)
                                       / 1000.0});
      record_duration(self, &model_timings::load_ms);
      running.phase = "working";
      announce(self);
      self->state.loaded_groups[model] = running.record.group_key;
      self->send(self->state.inventory, loaded_atom_v, model);
      learn_whether_target_is_full(self, model);
      running.record.state = job_state::working;
      record_step(self, job_transition{running.id, job_state::working, "", false});
      run(self);
    }));
}

/// Starts an attempt of the chosen job: its first step is recorded as the
/// call begins, not before.
void start(worker_pointer self, job record, bool model_resident) {
  auto& st = self->state;
  auto& running = *st.running;
  running.serial = ++st.attempt_serial;
  running.model_key = model_of_group(record.group_key);
  // With keep_alive 0 a separate load would unload the model again at once:
  // the run loads it.
  auto runs_at_once = model_resident || st.config.job_keep_alive.unloads_immediately();
  running.phase = runs_at_once ? "working" : "loading";
  announce(self);
  if (st.config.job_timeout_ms > 0)
    self->delayed_send(self, std::chrono::milliseconds{st.config.job_timeout_ms},
                       timeout_atom_v, running.id, running.serial);
  record.state = runs_at_once ? job_state::working : job_state::loading;
  record.attempt += 1;
  record.error.clear();
  record.not_before_ms = 0;
  if (record.started_at_ms == 0)
    record.started_at_ms = st.wall_ms();
  running.record = record;
  note_start(self, record);
  record_step(self, job_transition{record.id, record.state, "", true});
  if (runs_at_once)
    return run(self);
  if (auto outgoing = outgoing_model(self, record))
    return unload_then(self, *outgoing, [=] { load(self); });
  load(self);
}

/// Takes the execution slot for the chosen job; a job not stored for a
/// waiting caller is read from the store first (for its payload).
void begin(worker_pointer self, const queued_job& chosen, bool model_resident) {
  auto& st = self->state;
  st.running.emplace();
  st.running->id = chosen.id;
  if (auto i = st.fresh_jobs.find(chosen.id); i != st.fresh_jobs.end()) {
    auto record = std::move(i->second);
    st.fresh_jobs.erase(i);
    return start(self, std::move(record), model_resident);
  }
  self->request(st.store, caf::infinite, caf::get_atom_v, chosen.id)
    .then([=](const job& record) { start(self, record, model_resident); },
          [=](const caf::error& err) { on_store_error(self, chosen.id, err); });
}

/// The groups the resident models serve without a reload: each model with
/// the load options foreman last ran it with, or its defaults when foreman
/// has not run it.
std::vector<std::string> resident_groups(worker_pointer self,
                                         const std::vector<std::string>& models) {
  std::vector<std::string> groups;
  for (auto& model : models) {
    auto i = self->state.loaded_groups.find(model);
    groups.push_back(i != self->state.loaded_groups.end() ? i->second
                                                          : model + "|");
  }
  return groups;
}

/// Wakes the worker when the earliest backing-off job becomes eligible.
void wake_for_retry(worker_pointer self) {
  auto& st = self->state;
  auto now = st.due_times.now_ms();
  if (auto delay = st.retry_wake.arm(st.queue.next_retry_at(now), now))
    self->delayed_send(self, *delay, wake_atom_v);
}

void pick_next(worker_pointer self) {
  auto& st = self->state;
  if (st.running || st.draining || !st.queue_loaded || st.queue.size() == 0)
    return;
  if (st.picking) {
    st.pick_again = true;
    return;
  }
  st.picking = true;
  st.pick_again = false;
  self->request(st.inventory, caf::infinite, residents_atom_v)
    .then(
      [=](const std::vector<std::string>& models) {
        auto& st = self->state;
        st.picking = false;
        wake_for_retry(self);
        if (st.running || st.draining)
          return;
        auto groups = resident_groups(self, models);
        auto choice = st.queue.pick(groups, st.wall_ms(), st.due_times.now_ms(),
                                    st.config.rules);
        if (!choice) {
          if (st.pick_again)
            pick_next(self);
          return;
        }
        st.queue.remove(choice->id);
        st.residents_at_pick = models;
        auto resident = std::find(groups.begin(), groups.end(), choice->group_key)
                        != groups.end();
        begin(self, *choice, resident);
      },
      [=](const caf::error& err) {
        self->state.config.log.error("worker", "cannot choose the next job",
                                     {{"error", describe(err)}});
        self->state.picking = false;
        self->delayed_send(self, std::chrono::seconds{1}, wake_atom_v);
      });
}

/// Queued jobs read from the store per request while the queue loads.
constexpr int32_t queue_page_size = 10000;

/// Loads the queue index from the store, page by page, then starts picking.
void load_queue(worker_pointer self, int64_t after_id) {
  self->request(self->state.store, caf::infinite, queued_atom_v, after_id, queue_page_size)
    .then(
      [=](const std::vector<queued_job>& page) {
        auto& st = self->state;
        for (auto& x : page)
          if (st.left_while_loading.count(x.id) == 0)
            st.queue.add(x);
        if (static_cast<int32_t>(page.size()) == queue_page_size)
          return load_queue(self, page.back().id);
        st.queue_loaded = true;
        st.left_while_loading.clear();
        st.config.log.info("worker", "queue loaded", {{"count", st.queue.size()}});
        pick_next(self);
      },
      [=](const caf::error& err) {
        self->state.config.log.error("worker", "cannot read the queue, trying again",
                                     {{"error", describe(err)}});
        self->delayed_send(self, std::chrono::seconds{1}, queued_atom_v, after_id);
      });
}

/// When the job may start: now, plus what runs and waits before it, from the
/// recent durations of their models; 0 when nothing has been timed yet.
int64_t estimate_start(worker_pointer self, const job& x, const queue_ahead& ahead) {
  auto& st = self->state;
  double known = 0;
  int samples = 0;
  for (auto& [model, t] : st.timings)
    if (t.run_ms >= 0) {
      known += t.run_ms;
      ++samples;
    }
  if (samples == 0)
    return 0;
  auto fallback_run = known / samples;
  auto run_ms = [&](const std::string& model) {
    auto i = st.timings.find(model);
    return i != st.timings.end() && i->second.run_ms >= 0 ? i->second.run_ms
                                                           : fallback_run;
  };
  auto load_ms = [&](const std::string& model) {
    auto i = st.timings.find(model);
    return i != st.timings.end() && i->second.load_ms >= 0 ? i->second.load_ms
                                                            : 0.0;
  };
  double wait = 0;
  if (st.running) {
    auto elapsed = st.running->call_started_ms > 0
                     ? static_cast<double>(st.steady_ms() - st.running->call_started_ms)
                     : 0.0;
    wait += std::max(0.0, run_ms(st.running->model_key) - elapsed);
  }
  for (auto& [model, count] : ahead.by_model) {
    wait += static_cast<double>(count) * run_ms(model);
    if (st.loaded_groups.count(model) == 0)
      wait += load_ms(model);
  }
  auto own_model = model_key(x.model);
  if (st.loaded_groups.count(own_model) == 0)
    wait += load_ms(own_model);
  return st.wall_ms() + static_cast<int64_t>(wait);
}

/// How many queued jobs run before a job, by model: nothing for a job no
/// longer queued.
queue_ahead ahead_of(worker_pointer self, const job& x) {
  if (x.state != job_state::queued || !self->state.queue.contains(x.id))
    return {};
  return self->state.queue.ahead_of(queued_facts(x));
}

/// Stores a new job (with the default attempts when it names none), lets
/// `on_stored` see it with the ticket of its write, queues it and looks for
/// work. The store answers before the job is durable: `on_stored` must hold
/// every acknowledgement until then (after_durable).
template <class OnStored, class OnError>
void store_new_job(worker_pointer self, job_spec spec, OnStored on_stored,
                   OnError on_error) {
  if (spec.max_attempts <= 0)
    spec.max_attempts = self->state.config.default_max_attempts;
  auto asked_at = self->state.wall_ms();
  write(self, insert_atom_v, std::move(spec))
    .then(
      [=](const job& stored) mutable {
        auto& st = self->state;
        auto ticket = st.writes_sent;
        log_job(self, log_level::info, "job stored", stored);
        // An idempotency key's earlier job comes back older than the request.
        if (stored.created_at_ms >= asked_at)
          self->send(st.metrics, job_submitted_metric{stored.kind});
        if (stored.state == job_state::queued
            && !(st.running && st.running->id == stored.id))
          st.queue.add(queued_facts(stored));
        on_stored(stored, ticket);
        pick_next(self);
      },
      on_error);
}

/// Tells a waiting caller its job and the job's place in the queue, once
/// the job is durable.
void tell_accepted(worker_pointer self, const job_sink_actor& sink, const job& stored,
                   int64_t ticket) {
  after_durable(self, ticket, [=] {
    auto position = self->state.queue.contains(stored.id)
                      ? self->state.queue.ahead_of(queued_facts(stored)).position
                      : int64_t{0};
    self->send(sink, accepted_atom_v, stored, position);
  });
}

worker_actor::behavior_type
worker(worker_pointer self, worker_config config, store_actor store,
       target_client_actor target, inventory_actor inventory,
       metrics_actor metrics) {
  auto& st = self->state;
  st.metrics = std::move(metrics);
  st.config = std::move(config);
  st.store = std::move(store);
  st.target = std::move(target);
  st.inventory = std::move(inventory);
  st.due_times = due_time_clock{st.config.clock};
  st.backoff = jittered_backoff{std::chrono::milliseconds{st.config.retry_backoff_ms},
                                std::chrono::milliseconds{st.config.max_retry_backoff_ms}};
  load_queue(self, 0);
  return {
    [=](submit_atom, job_spec& spec, const job_sink_actor& sink, bool stream) {
      auto rp = self->make_response_promise<job_outcome>();
      store_new_job(
        self, std::move(spec),
        [=](const job& stored, int64_t ticket) mutable {
          auto& st = self->state;
          st.waiting[stored.id].push_back(waiter{rp, sink, stream, ticket});
          if (st.queue.contains(stored.id))
            st.fresh_jobs.emplace(stored.id, stored);
          if (sink)
            tell_accepted(self, sink, stored, ticket);
        },
        [=](const caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [=](enqueue_atom, job_spec& spec) {
      auto rp = self->make_response_promise<job>();
      store_new_job(
        self, std::move(spec),
        [=](const job& stored, int64_t ticket) mutable {
          after_durable(self, ticket, [=]() mutable { rp.deliver(stored); },
                        [=](const caf::error& err) mutable { rp.deliver(err); });
        },
        [=](const caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [=](cancel_atom, int64_t job_id) {
      auto rp = self->make_response_promise<job>();
      auto& st = self->state;
      auto& running = st.running;
      if (running && running->id == job_id) {
        running->cancellers.push_back(rp);
        if (!running->cancel_requested) {
          running->cancel_requested = true;
          self->send(st.target, abort_atom_v, job_id);
        }
        return rp;
      }
      // Out of the queue at once, so no pick can start it meanwhile.
      auto was_queued = st.queue.remove(job_id);
      st.fresh_jobs.erase(job_id);
      if (!st.queue_loaded)
        st.left_while_loading.insert(job_id);
      job_transition change{job_id, job_state::cancelled, "cancelled", false};
      write(self, change)
        .then(
          [=](const job& cancelled) mutable {
            auto ticket = self->state.writes_sent;
            log_job(self, log_level::info, "job cancelled", cancelled);
            note_end(self, cancelled);
            deliver(self, job_id,
                    job_outcome{cancelled, 499,
                                net::error_json("request canceled")});
            after_durable(self, ticket, [=]() mutable { rp.deliver(cancelled); },
                          [=](const caf::error& err) mutable { rp.deliver(err); });
          },
          [=](const caf::error& err) mutable {
            if (was_queued && has_code(err, foreman_errc::store_failure))
              self->state.config.log.error("worker", "cannot cancel a queued job; it stays queued until the next start",
                                           {{"job_id", job_id}, {"error", describe(err)}});
            rp.deliver(err);
          });
      return rp;
    },
    [=](position_atom, int64_t job_id) {
      auto rp = self->make_response_promise<job_status>();
      self->request(self->state.store, caf::infinite, caf::get_atom_v, job_id)
        .then(
          [=](const job& x) mutable {
            job_status status{x, -1, 0};
            if (x.state == job_state::queued) {
              auto ahead = ahead_of(self, x);
              status.queue_position = ahead.position;
              status.estimated_start_ms = estimate_start(self, x, ahead);
            }
            rp.deliver(std::move(status));
          },
          [=](const caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [=](timeout_atom, int64_t job_id, int32_t serial) {
      auto& running = self->state.running;
      if (!running || running->id != job_id || running->serial != serial
          || running->cancel_requested)
        return;
      self->state.config.log.warning(
        "worker", "job exceeded FOREMAN_JOB_TIMEOUT, aborting its call",
        {{"job_id", job_id}, {"timeout_ms", self->state.config.job_timeout_ms}});
      running->timed_out = true;
      self->send(self->state.target, abort_atom_v, job_id);
    },
    [=](status_atom) { return current_status(self->state); },
    [=](subscribe_atom, const worker_status_listener_actor& listener) {
      self->state.status_listeners.push_back(listener);
    },
    [=](drain_atom, int64_t grace_ms) {
      auto& st = self->state;
      auto rp = self->make_response_promise<int64_t>();
      st.draining = true;
      announce(self);
      if (!st.running) {
        rp.deliver(st.requeued_by_drain);
        return rp;
      }
      st.config.log.info("worker", "stopping: the running job may finish within the grace period",
                         {{"job_id", st.running->id}, {"grace_ms", grace_ms}});
      st.drain_waiters.push_back(rp);
      self->delayed_send(self, std::chrono::milliseconds{grace_ms}, drain_atom_v);
      return rp;
    },
    [=](drain_atom) {
      auto& running = self->state.running;
      if (!running || running->shutdown_abort || running->cancel_requested)
        return;
      self->state.config.log.warning(
        "worker", "the running job did not finish within the shutdown grace period, aborting it",
        {{"job_id", running->id}});
      running->shutdown_abort = true;
      self->send(self->state.target, abort_atom_v, running->id);
    },
    [=](wake_atom) {
      self->state.retry_wake.woke(self->state.due_times.now_ms());
      pick_next(self);
    },
    [=](queued_atom, int64_t after_id) { load_queue(self, after_id); },
  };
}

} // namespace

worker_actor spawn_worker(caf::actor_system& sys, worker_config config,
                          store_actor store, target_client_actor target,
                          inventory_actor inventory, metrics_actor metrics) {
  return sys.spawn(worker, std::move(config), std::move(store),
                   std::move(target), std::move(inventory), std::move(metrics));
}

} // namespace foreman
