#include "actors/event_hub.hpp"

#include <deque>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/clock.hpp"
#include "net/auth.hpp"
#include "net/events_api.hpp"

namespace foreman {

namespace {

constexpr int64_t minute_ms = 60 * 1000;

struct subscription {
  event_subscriber_actor handle;
  /// Decides which jobs' events the subscriber sees.
  net::caller viewer;
};

struct event_hub_state {
  static inline const char* name = "event_hub";
  event_hub_config config;
  store_actor store;
  worker_actor worker;
  inventory_actor inventory;
  target_client_actor target;
  std::unordered_map<caf::actor_id, subscription> subscribers;
  live_state last_seen;
  int64_t next_stats_ms = 0;
  /// When jobs ended and models loaded, over the last minute.
  std::deque<int64_t> finishes;
  std::deque<int64_t> loads;
};

using hub_pointer = event_hub_actor::stateful_pointer<event_hub_state>;

void broadcast(hub_pointer self, const sse_event& event) {
  for (auto& [id, sub] : self->state.subscribers)
    self->send(sub.handle, event);
}

void forget_before(std::deque<int64_t>& times, int64_t limit_ms) {
  while (!times.empty() && times.front() < limit_ms)
    times.pop_front();
}

void send_stats(hub_pointer self) {
  self->request(self->state.store, std::chrono::seconds{5}, depth_atom_v)
    .then(
      [=](const std::vector<queue_depth>& depths) {
        auto& st = self->state;
        auto now = now_unix_ms();
        forget_before(st.finishes, now - minute_ms);
        forget_before(st.loads, now - minute_ms);
        broadcast(self, net::stats_sse(net::event_stats{
                          depths, static_cast<int64_t>(st.finishes.size()),
                          static_cast<int64_t>(st.loads.size()), now}));
      },
      // The next tick tries again.
      [](const caf::error&) {});
}

bool same_target(const target_health& a, const target_health& b) {
  return a.reachable == b.reachable && a.problem == b.problem
         && a.residents == b.residents;
}

void poll(hub_pointer self) {
  auto& st = self->state;
  self->request(st.inventory, st.config.poll_interval, health_atom_v)
    .then(
      [=](const target_health& x) {
        auto& seen = self->state.last_seen.target;
        if (same_target(x, seen))
          return;
        seen = x;
        broadcast(self, net::target_sse(x, self->state.config.target_url,
                                        self->state.config.embed_model));
      },
      [](const caf::error&) {});
  auto now = now_unix_ms();
  if (now >= st.next_stats_ms) {
    st.next_stats_ms = now + st.config.stats_interval.count();
    send_stats(self);
  }
  self->delayed_send(self, st.config.poll_interval, poll_atom_v);
}

/// Sends an event about a job to the subscribers allowed to see the jobs of
/// `client`.
void send_to_viewers(hub_pointer self, const std::string& client, const sse_event& event) {
  for (auto& [id, sub] : self->state.subscribers)
    if (sub.viewer.owns(client))
      self->send(sub.handle, event);
}

event_hub_actor::behavior_type
event_hub(hub_pointer self, event_hub_config config, store_actor store,
          worker_actor worker, inventory_actor inventory, target_client_actor target) {
  auto& st = self->state;
  st.config = std::move(config);
  st.store = std::move(store);
  st.worker = std::move(worker);
  st.inventory = std::move(inventory);
  st.target = std::move(target);
  st.last_seen.target.problem = "not checked yet";
  st.next_stats_ms = now_unix_ms() + st.config.stats_interval.count();
  self->send(st.store, subscribe_atom_v, caf::actor_cast<job_event_listener_actor>(self));
  self->send(st.worker, subscribe_atom_v,
             caf::actor_cast<worker_status_listener_actor>(self));
  self->send(st.target, subscribe_atom_v,
             caf::actor_cast<job_progress_listener_actor>(self));
  self->set_down_handler([=](const caf::down_msg& down) {
    self->state.subscribers.erase(down.source.id());
  });
  self->send(self, poll_atom_v);
  return {
    [=](const job_event& event) {
      auto& st = self->state;
      auto& t = event.transition;
      if (is_terminal(t.state))
        st.finishes.push_back(t.at_ms);
      if (t.state == job_state::loading)
        st.loads.push_back(t.at_ms);
      send_to_viewers(self, event.client, net::job_sse(event));
    },
    [=](const job_progress& progress) {
      send_to_viewers(self, progress.client, net::progress_sse(progress));
    },
    [=](const worker_status& x) {
      auto& seen = self->state.last_seen.worker;
      if (x.state == seen.state && x.running_job_id == seen.running_job_id)
        return;
      seen = x;
      broadcast(self, net::worker_sse(x));
    },
    [=](subscribe_atom, const event_subscriber_actor& subscriber,
        const std::string& owner) {
      self->monitor(subscriber);
      self->state.subscribers[subscriber.id()]
        = subscription{subscriber, net::caller{owner.empty(), owner, owner}};
      return self->state.last_seen;
    },
    [=](poll_atom) { poll(self); },
  };
}

} // namespace

event_hub_actor spawn_event_hub(caf::actor_system& sys, event_hub_config config,
                                store_actor store, worker_actor worker,
                                inventory_actor inventory, target_client_actor target) {
  return sys.spawn(event_hub, std::move(config), std::move(store), std::move(worker),
                   std::move(inventory), std::move(target));
}

} // namespace foreman
