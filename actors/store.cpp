#include "actors/store.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/errors.hpp"
#include "persistence/job_store.hpp"

namespace foreman {

namespace {

struct store_state {
  static inline const char* name = "store";
  std::shared_ptr<job_store> db;
  store_config config;
  /// Woken when a transaction adds webhook events.
  std::vector<outbox_listener_actor> listeners;
  /// Sent every committed job transition.
  std::vector<job_event_listener_actor> event_listeners;
  /// Commits so far (each one a group of writes).
  int64_t commits = 0;
  /// Callers waiting for the open batch to be durable.
  std::vector<caf::typed_response_promise<int64_t>> durable_waiters;
  /// The open batch wrote webhook events: wake the outbox listeners after
  /// its commit.
  bool wrote_webhook_events = false;
};

using store_pointer = store_actor::stateful_pointer<store_state>;

/// Commits the open batch (if any): its writes become durable together.
/// Then the durable waiters hear so, the event listeners get the committed
/// transitions and the outbox listeners wake when webhook events were
/// written. A failed commit loses the batch's writes, which nobody has
/// acknowledged yet: the waiters hear the error.
void commit_open_batch(store_pointer self) {
  auto& st = self->state;
  if (!st.db->batch_open())
    return;
  auto waiters = std::exchange(st.durable_waiters, {});
  try {
    st.db->commit_batch();
  } catch (const store_error& e) {
    st.config.log.error("store", "cannot commit a group of writes; they are lost",
                        {{"count", static_cast<int64_t>(waiters.size())},
                         {"error", e.what()}});
    for (auto& promise : waiters)
      promise.deliver(make_error(foreman_errc::store_failure, e.what()));
    return;
  }
  ++st.commits;
  for (auto& promise : waiters)
    promise.deliver(st.commits);
  for (auto& event : st.db->take_committed_events())
    for (auto& listener : st.event_listeners)
      self->send(listener, event);
  if (std::exchange(st.wrote_webhook_events, false))
    for (auto& listener : st.listeners)
      self->send(listener, wake_atom_v);
}

/// Opens a batch for the writes to come unless one is open; it commits
/// when the flush message sent now comes out of the mailbox, behind every
/// write already waiting there.
void join_batch(store_pointer self) {
  if (self->state.db->batch_open())
    return;
  self->state.db->begin_batch();
  self->send(self, flush_atom_v);
}

/// Passes a written job through, noting whether it wrote a webhook event.
job written(store_pointer self, job x) {
  if (!x.state_webhook_url.empty())
    self->state.wrote_webhook_events = true;
  return x;
}

int64_t wall_ms(store_pointer self) {
  return self->state.config.clock->wall_ms();
}

/// The caf::error for one of the store's exceptions.
caf::error as_error(const store_error& e) {
  if (dynamic_cast<const job_not_found_error*>(&e))
    return make_error(foreman_errc::job_not_found, e.what());
  if (dynamic_cast<const queue_full_error*>(&e))
    return make_error(foreman_errc::queue_full, e.what());
  if (dynamic_cast<const invalid_transition_error*>(&e))
    return make_error(foreman_errc::invalid_transition, e.what());
  return make_error(foreman_errc::store_failure, e.what());
}

/// Throws job_not_found_error unless the job is stored: an unknown job's
/// lists are not empty but missing.
void require_job(store_pointer self, int64_t job_id) {
  if (!self->state.db->find(job_id))
    throw job_not_found_error{"job " + std::to_string(job_id) + " not found"};
}

/// Runs a database call, turning the store's exceptions into errors.
template <class F>
auto guarded(F call) -> caf::result<decltype(call())> {
  try {
    return call();
  } catch (const store_error& e) {
    return as_error(e);
  }
}

store_actor::behavior_type
store(store_pointer self,
      std::shared_ptr<job_store> db, store_config config) {
  self->state.db = std::move(db);
  self->state.config = std::move(config);
  return {
    [=](insert_atom, const job_spec& spec) {
      join_batch(self);
      return guarded([&] {
        return written(self, self->state.db->insert(spec, wall_ms(self),
                                                     self->state.config.max_queue));
      });
    },
    [=](caf::get_atom, int64_t id) {
      return guarded([&] {
        if (auto x = self->state.db->find(id))
          return *x;
        throw job_not_found_error{"job " + std::to_string(id) + " not found"};
      });
    },
    [=](queued_atom, int64_t after_id, int32_t limit) {
      return guarded([&] { return self->state.db->queued_after(after_id, limit); });
    },
    [=](durable_atom) -> caf::result<int64_t> {
      if (!self->state.db->batch_open())
        return self->state.commits;
      auto rp = self->make_response_promise<int64_t>();
      self->state.durable_waiters.push_back(rp);
      return rp;
    },
    [=](flush_atom) { commit_open_batch(self); },
    [=](const job_transition& change) {
      join_batch(self);
      return guarded([&] {
        return written(self, self->state.db->apply(change, wall_ms(self)));
      });
    },
    [=](const job_completion& completion) {
      join_batch(self);
      return guarded([&] {
        return written(self, self->state.db->complete(completion, wall_ms(self)));
      });
    },
    [=](list_atom, const job_query& query) {
      return guarded([&] { return self->state.db->list(query); });
    },
    [=](artifacts_atom, int64_t job_id) {
      return guarded([&] {
        require_job(self, job_id);
        return self->state.db->artifacts(job_id);
      });
    },
    [=](artifact_atom, int64_t job_id, const std::string& name) {
      return guarded([&] {
        if (auto x = self->state.db->find_artifact(job_id, name))
          return *x;
        throw job_not_found_error{"job " + std::to_string(job_id)
                                  + " has no artifact '" + name + "'"};
      });
    },
    [=](outbox_atom, int64_t now_ms, int32_t limit, int64_t inline_limit) {
      // Only committed events may go out.
      commit_open_batch(self);
      return guarded([&] {
        return self->state.db->due_events(now_ms, limit, inline_limit);
      });
    },
    [=](const webhook_delivery& attempt) {
      join_batch(self);
      try {
        self->state.db->record_delivery(attempt);
      } catch (const store_error& e) {
        // The event stays in the outbox as it was and goes out again: at
        // least once.
        self->state.config.log.error("store", "cannot record a delivery attempt",
                                     {{"event_id", attempt.event_seq},
                                      {"error", e.what()}});
      }
    },
    [=](deliveries_atom, int64_t job_id) {
      // Readers see committed attempts only.
      commit_open_batch(self);
      return guarded([&] {
        require_job(self, job_id);
        return self->state.db->deliveries(job_id);
      });
    },
    [=](subscribe_atom, const outbox_listener_actor& listener) {
      self->state.listeners.push_back(listener);
    },
    [=](subscribe_atom, const job_event_listener_actor& listener) {
      self->state.event_listeners.push_back(listener);
    },
    [=](journal_atom, int64_t after_seq, int32_t limit, const std::string& owner) {
      // Subscribers see committed transitions only.
      commit_open_batch(self);
      return guarded(
        [&] { return self->state.db->journal_after(after_seq, limit, owner); });
    },
    [=](snapshot_atom, const job_query& recent, int64_t running_id) {
      commit_open_batch(self);
      return guarded([&] { return self->state.db->snapshot(recent, running_id); });
    },
    [=](history_atom, int64_t window_ms, int64_t until_seq, const std::string& owner) {
      commit_open_batch(self);
      return guarded([&] {
        // This clock stamped every transition, so minutes count back from it.
        auto now = wall_ms(self);
        return self->state.db->history(now - window_ms, now, until_seq, owner);
      });
    },
    [=](depth_atom) {
      return guarded([&] { return self->state.db->queue_depths(); });
    },
    [=](health_atom) {
      return self->state.db->health_problem().value_or(std::string{});
    },
  };
}

} // namespace

store_actor spawn_store(caf::actor_system& sys, std::shared_ptr<job_store> db,
                        store_config config) {
  if (config.detached)
    return sys.spawn<caf::detached>(store, std::move(db), std::move(config));
  return sys.spawn(store, std::move(db), std::move(config));
}

} // namespace foreman
