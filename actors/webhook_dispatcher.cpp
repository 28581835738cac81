#include "actors/webhook_dispatcher.hpp"

#include <algorithm>
#include <map>
#include <random>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/url.hpp"
#include "messages/errors.hpp"
#include "net/jobs_api.hpp"
#include "net/webhook_http.hpp"

namespace foreman {

namespace {

struct dispatcher_state {
  static inline const char* name = "webhook_dispatcher";
  webhook_dispatcher_config config;
  store_actor store;
  /// Jobs with a delivery under way, and the attempts their event had before.
  std::map<int64_t, int32_t> in_flight;
  /// A read of the outbox is under way; read again once it is back.
  bool fetching = false;
  bool fetch_again = false;
  /// Reads of the outbox sent so far.
  int64_t fetches_sent = 0;
  /// Events whose attempt ended, by the number of reads sent before: a read
  /// sent earlier may still show them as due.
  std::map<int64_t, int64_t> settled;
  /// The wake-up for the earliest retry is set for this time; 0 = none.
  int64_t wake_at_ms = 0;
  std::minstd_rand jitter{std::random_device{}()};
};

using dispatcher_pointer
  = webhook_dispatcher_actor::stateful_pointer<dispatcher_state>;

void fetch(dispatcher_pointer self);

void wake_at(dispatcher_pointer self, int64_t due_ms) {
  auto& st = self->state;
  if (due_ms == 0 || (st.wake_at_ms != 0 && st.wake_at_ms <= due_ms))
    return;
  st.wake_at_ms = due_ms;
  auto delay = std::max<int64_t>(due_ms - now_unix_ms(), 0);
  self->delayed_send(self, std::chrono::milliseconds{delay + 1}, wake_atom_v);
}

/// Exponential backoff with jitter: the n-th failure waits a random time
/// between half and all of base * 2^(n-1), capped, so retries to one
/// receiver spread out.
int64_t retry_delay_ms(dispatcher_pointer self, int32_t failures) {
  auto& cfg = self->state.config;
  auto ceiling = std::min<int64_t>(cfg.backoff_ms << std::min(failures - 1, 20),
                                   cfg.max_backoff_ms);
  std::uniform_int_distribution<int64_t> pick{ceiling / 2, ceiling};
  return pick(self->state.jitter);
}

/// POSTs one event on a detached runner, which reports back and ends.
void deliver(dispatcher_pointer self, const webhook_event& event) {
  auto& cfg = self->state.config;
  self->state.in_flight.emplace(event.job_id, event.deliveries);
  auto url = parse_http_url(event.url);
  if (!url) {
    // Validated at submission; a stored URL that no longer parses can
    // never be delivered.
    self->send(self, webhook_attempt{event.seq, event.job_id, false,
                                     "invalid URL '" + event.url + "'"});
    return;
  }
  auto body = net::webhook_event_json(event, cfg.public_base_url);
  webhook_dispatcher_actor dispatcher{self};
  self->system().spawn<caf::detached>(
    [dispatcher, target = *url, body = std::move(body), seq = event.seq,
     job_id = event.job_id, secret = cfg.secret,
     timeout = cfg.timeout](caf::event_based_actor* runner) {
      auto result = net::post_webhook(target, body, seq, secret,
                                      now_unix_ms() / 1000, timeout);
      runner->send(dispatcher, webhook_attempt{seq, job_id, result.delivered,
                                               result.problem});
    });
}

void on_batch(dispatcher_pointer self, int64_t fetch_no,
              const webhook_batch& batch) {
  auto& st = self->state;
  st.fetching = false;
  for (auto& event : batch.events) {
    if (static_cast<int32_t>(st.in_flight.size()) >= st.config.max_in_flight)
      break;
    auto settled = st.settled.find(event.seq);
    if (st.in_flight.count(event.job_id) > 0
        || (settled != st.settled.end() && settled->second >= fetch_no))
      continue;
    deliver(self, event);
  }
  // This read saw every attempt settled before it was sent.
  for (auto i = st.settled.begin(); i != st.settled.end();)
    i = i->second < fetch_no ? st.settled.erase(i) : std::next(i);
  wake_at(self, batch.next_due_ms);
  if (st.fetch_again)
    fetch(self);
}

void fetch(dispatcher_pointer self) {
  auto& st = self->state;
  if (st.fetching) {
    st.fetch_again = true;
    return;
  }
  st.fetching = true;
  st.fetch_again = false;
  auto fetch_no = ++st.fetches_sent;
  // Events of jobs under way come back too; ask for enough besides them.
  auto limit = st.config.max_in_flight + static_cast<int32_t>(st.in_flight.size());
  self->request(st.store, caf::infinite, outbox_atom_v, now_unix_ms(), limit,
                st.config.inline_limit)
    .then([=](const webhook_batch& batch) { on_batch(self, fetch_no, batch); },
          [=](const caf::error& err) {
            log_error("webhook_dispatcher",
                      "cannot read the outbox: " + describe(err));
            self->state.fetching = false;
            wake_at(self, now_unix_ms() + 1000);
          });
}

void on_attempt(dispatcher_pointer self, const webhook_attempt& attempt) {
  auto& st = self->state;
  auto i = st.in_flight.find(attempt.job_id);
  auto failures = (i != st.in_flight.end() ? i->second : 0) + 1;
  if (i != st.in_flight.end())
    st.in_flight.erase(i);
  st.settled[attempt.seq] = st.fetches_sent;
  auto what = "event=" + std::to_string(attempt.seq)
              + " job=" + std::to_string(attempt.job_id);
  self->send(st.config.metrics,
             webhook_metric{attempt.delivered ? "delivered"
                            : failures >= st.config.max_attempts ? "given_up"
                                                                  : "failed"});
  if (attempt.delivered) {
    log_debug("webhook_dispatcher", what + " delivered");
    self->send(st.store, delivered_atom_v, attempt.seq);
  } else if (failures >= st.config.max_attempts) {
    log_warning("webhook_dispatcher",
                what + " given up after " + std::to_string(failures)
                  + " attempts: " + attempt.problem);
    self->send(st.store, postpone_atom_v, attempt.seq, int64_t{0}, true);
  } else {
    auto due = now_unix_ms() + retry_delay_ms(self, failures);
    log_info("webhook_dispatcher",
             what + " attempt " + std::to_string(failures)
               + " failed, retrying: " + attempt.problem);
    self->send(st.store, postpone_atom_v, attempt.seq, due, false);
    wake_at(self, due);
  }
  // Sent after the store update, so the store answers with it applied.
  fetch(self);
}

webhook_dispatcher_actor::behavior_type
webhook_dispatcher(dispatcher_pointer self, webhook_dispatcher_config config,
                   store_actor store) {
  self->state.config = std::move(config);
  self->state.store = std::move(store);
  self->send(self->state.store, subscribe_atom_v,
             outbox_listener_actor{webhook_dispatcher_actor{self}});
  // Events left undelivered by an earlier run go out now.
  self->send(self, wake_atom_v);
  return {
    [=](wake_atom) {
      if (self->state.wake_at_ms <= now_unix_ms())
        self->state.wake_at_ms = 0;
      fetch(self);
    },
    [=](const webhook_attempt& attempt) { on_attempt(self, attempt); },
  };
}

} // namespace

webhook_dispatcher_actor spawn_webhook_dispatcher(caf::actor_system& sys,
                                                  webhook_dispatcher_config config,
                                                  store_actor store) {
  return sys.spawn(webhook_dispatcher, std::move(config), std::move(store));
}

} // namespace foreman
