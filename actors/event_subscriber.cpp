#include "actors/event_subscriber.hpp"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/log.hpp"
#include "messages/errors.hpp"
#include "net/events_api.hpp"

namespace foreman {

namespace {

/// Journal events read per request while catching up.
constexpr int32_t replay_page_size = 256;

/// Jobs a snapshot lists.
constexpr int32_t snapshot_jobs = 50;

/// How far back a history reaches: the dashboard's charts show an hour.
constexpr int64_t history_ms = 60 * 60 * 1000;

constexpr auto store_timeout = std::chrono::seconds{10};

struct event_subscriber_state {
  static inline const char* name = "event_subscriber";
  net::exchange_ptr out;
  event_subscriber_config config;
  store_actor store;
  /// Live events that arrive while the journal or snapshot is being read.
  std::vector<sse_event> held;
  bool catching_up = true;
  /// Job events up to this sequence number are written (or covered by the
  /// snapshot).
  int64_t written_seq = 0;
  /// The caller left or fell behind: nothing more is written or read.
  bool ended = false;
};

using subscriber_pointer
  = event_subscriber_actor::stateful_pointer<event_subscriber_state>;

/// Writes one frame; a caller who left or fell behind ends the subscription.
void write_frame(subscriber_pointer self, const sse_event& event) {
  auto& st = self->state;
  if (st.ended || st.out->write(net::sse_frame(event)))
    return;
  st.ended = true;
  self->quit();
}

/// Writes an event unless it is a job event already written.
void write(subscriber_pointer self, const sse_event& event) {
  auto& st = self->state;
  if (event.seq > 0) {
    if (event.seq <= st.written_seq)
      return;
    st.written_seq = event.seq;
  }
  write_frame(self, event);
}

void go_live(subscriber_pointer self) {
  auto& st = self->state;
  st.catching_up = false;
  for (auto& event : std::exchange(st.held, {}))
    write(self, event);
}

void fail(subscriber_pointer self, const caf::error& err) {
  log_warning("event_subscriber", "cannot start the event stream: " + describe(err));
  self->state.out->end_stream();
  self->quit();
}

/// Writes the stream's opening (the snapshot, with the history when asked
/// for), then the live events held meanwhile that the snapshot does not
/// reflect.
void start_live_after(subscriber_pointer self, const std::vector<sse_event>& opening,
                      int64_t snapshot_seq) {
  for (auto& frame : opening)
    write_frame(self, frame);
  self->state.written_seq = snapshot_seq;
  go_live(self);
}

/// Reads the history up to the point the snapshot reflects (the events
/// after it come live), then starts from both.
void send_history(subscriber_pointer self, sse_event snapshot) {
  auto& st = self->state;
  auto until_seq = snapshot.seq;
  self->request(st.store, store_timeout, history_atom_v, history_ms, until_seq,
                st.config.owner)
    .then(
      [=](const journal_history& history) {
        start_live_after(self, {snapshot, net::history_sse(history)}, until_seq);
      },
      [=](const caf::error& err) { fail(self, err); });
}

void send_snapshot(subscriber_pointer self, const live_state& live) {
  auto& st = self->state;
  job_query recent;
  recent.limit = snapshot_jobs;
  recent.owner = st.config.owner;
  self
    ->request(st.store, store_timeout, snapshot_atom_v, recent,
              live.worker.running_job_id)
    .then(
      [=](const event_snapshot& snapshot) {
        auto& st = self->state;
        net::service_status status;
        status.worker = live.worker;
        if (!snapshot.running.empty())
          status.running = snapshot.running.front();
        status.depths = snapshot.depths;
        status.target = live.target;
        status.target_url = st.config.target_url;
        status.embed_model = st.config.embed_model;
        auto frame = net::snapshot_sse(status, snapshot);
        if (st.config.history)
          return send_history(self, std::move(frame));
        start_live_after(self, {frame}, snapshot.last_seq);
      },
      [=](const caf::error& err) { fail(self, err); });
}

/// Writes the journal's events after `after_seq`, a page at a time; falls
/// back to a snapshot when the journal no longer reaches back that far.
void replay(subscriber_pointer self, int64_t after_seq, const live_state& live) {
  auto& st = self->state;
  self
    ->request(st.store, store_timeout, journal_atom_v, after_seq, replay_page_size,
              st.config.owner)
    .then(
      [=](const journal_page& page) {
        if (!page.complete)
          return send_snapshot(self, live);
        for (auto& event : page.events)
          write(self, net::job_sse(event));
        if (self->state.ended)
          return;
        if (page.events.size() == static_cast<size_t>(replay_page_size))
          return replay(self, page.events.back().transition.seq, live);
        // Every event up to the journal's newest is written: the owner's
        // were, the others are not this caller's to see.
        auto& st = self->state;
        st.written_seq = std::max(st.written_seq, page.last_seq);
        go_live(self);
      },
      [=](const caf::error& err) { fail(self, err); });
}

event_subscriber_actor::behavior_type
event_subscriber(subscriber_pointer self, event_hub_actor hub, store_actor store,
                 net::exchange_ptr out, event_subscriber_config config) {
  auto& st = self->state;
  st.out = std::move(out);
  st.config = std::move(config);
  st.store = std::move(store);
  st.out->begin_stream(200, "text/event-stream; charset=utf-8",
                       {{"Cache-Control", "no-store"}, {"X-Accel-Buffering", "no"}});
  self
    ->request(hub, store_timeout, subscribe_atom_v,
              caf::actor_cast<event_subscriber_actor>(self), st.config.owner)
    .then(
      [=](const live_state& live) {
        // The worker and the target first, so a resumed stream knows them too.
        write(self, net::worker_sse(live.worker));
        write(self, net::target_sse(live.target, self->state.config.target_url,
                                    self->state.config.embed_model));
        if (auto last = self->state.config.last_event_id)
          replay(self, *last, live);
        else
          send_snapshot(self, live);
      },
      [=](const caf::error& err) { fail(self, err); });
  return {
    [=](const sse_event& event) {
      if (self->state.catching_up)
        self->state.held.push_back(event);
      else
        write(self, event);
    },
    [=](gone_atom) { self->quit(); },
    [=](drain_atom) {
      self->state.out->end_stream();
      self->quit();
    },
  };
}

} // namespace

event_subscriber_actor spawn_event_subscriber(caf::actor_system& sys,
                                              event_hub_actor hub, store_actor store,
                                              net::exchange_ptr out,
                                              event_subscriber_config config) {
  return sys.spawn(event_subscriber, std::move(hub), std::move(store), std::move(out),
                   std::move(config));
}

} // namespace foreman
