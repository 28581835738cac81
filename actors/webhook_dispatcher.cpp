#include "actors/webhook_dispatcher.hpp"

#include <algorithm>
#include <map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/backoff.hpp"
#include "core/wake_timer.hpp"
#include "messages/errors.hpp"
#include "net/jobs_api.hpp"

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
  /// Retries are set and compared on this timeline.
  due_time_clock due_times{system_clock()};
  jittered_backoff backoff{std::chrono::seconds{1}, std::chrono::minutes{10}};
  /// The wake-up for the earliest retry.
  wake_timer retry_wake;
};

using dispatcher_pointer
  = webhook_dispatcher_actor::stateful_pointer<dispatcher_state>;

void fetch(dispatcher_pointer self);

void wake_at(dispatcher_pointer self, int64_t due_ms) {
  auto& st = self->state;
  if (auto delay = st.retry_wake.arm(due_ms, st.due_times.now_ms()))
    self->delayed_send(self, *delay, wake_atom_v);
}

/// POSTs one event on a runner of its own, which reports back and ends.
void deliver(dispatcher_pointer self, const webhook_event& event) {
  auto& cfg = self->state.config;
  self->state.in_flight.emplace(event.job_id, event.deliveries);
  auto url = parse_http_url(event.url);
  webhook_attempt attempt{event.seq, event.job_id, event.state, event.url, false, 0, ""};
  if (!url) {
    // Validated at submission; a stored URL that no longer parses can
    // never be delivered.
    attempt.problem = "invalid URL '" + event.url + "'";
    self->send(self, std::move(attempt));
    return;
  }
  auto body = net::webhook_event_json(event, cfg.public_base_url);
  auto runner = [dispatcher = webhook_dispatcher_actor{self}, target = *url,
                 body = std::move(body), attempt = std::move(attempt),
                 send = cfg.send](caf::event_based_actor* runner) mutable {
    auto result = send(target, body, attempt.seq);
    attempt.delivered = result.delivered;
    attempt.http_status = result.http_status;
    attempt.problem = result.problem;
    runner->send(dispatcher, std::move(attempt));
  };
  if (cfg.detached_runners)
    self->system().spawn<caf::detached>(std::move(runner));
  else
    self->system().spawn(std::move(runner));
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
  self->request(st.store, caf::infinite, outbox_atom_v, st.due_times.now_ms(),
                limit, st.config.inline_limit)
    .then([=](const webhook_batch& batch) { on_batch(self, fetch_no, batch); },
          [=](const caf::error& err) {
            self->state.config.log.error("webhook_dispatcher",
                                         "cannot read the outbox",
                                         {{"error", describe(err)}});
            self->state.fetching = false;
            wake_at(self, self->state.due_times.now_ms() + 1000);
          });
}

/// An outcome as foreman_webhook_deliveries_total labels it.
const char* metric_label(delivery_outcome outcome) {
  switch (outcome) {
    case delivery_outcome::delivered:
      return "delivered";
    case delivery_outcome::retrying:
      return "failed";
    default:
      return "given_up";
  }
}

void on_attempt(dispatcher_pointer self, const webhook_attempt& attempt) {
  auto& st = self->state;
  auto i = st.in_flight.find(attempt.job_id);
  auto number = (i != st.in_flight.end() ? i->second : 0) + 1;
  if (i != st.in_flight.end())
    st.in_flight.erase(i);
  st.settled[attempt.seq] = st.fetches_sent;
  webhook_delivery record{attempt.seq,
                          attempt.job_id,
                          attempt.state,
                          attempt.url,
                          number,
                          attempt.http_status,
                          attempt.delivered ? "" : attempt.problem,
                          attempt.delivered              ? delivery_outcome::delivered
                          : number >= st.config.max_attempts ? delivery_outcome::given_up
                                                             : delivery_outcome::retrying,
                          st.config.clock->wall_ms(),
                          0};
  log_fields fields{{"event_id", attempt.seq}, {"job_id", attempt.job_id},
                    {"attempt", number}};
  self->send(st.config.metrics, webhook_metric{metric_label(record.outcome)});
  switch (record.outcome) {
    case delivery_outcome::delivered:
      st.config.log.debug("webhook_dispatcher", "event delivered", fields);
      break;
    case delivery_outcome::given_up:
      fields.emplace_back("error", attempt.problem);
      st.config.log.warning("webhook_dispatcher", "event given up", fields);
      break;
    case delivery_outcome::retrying: {
      auto delay = st.backoff.delay(number);
      record.next_attempt_ms = st.due_times.now_ms() + delay.count();
      fields.emplace_back("error", attempt.problem);
      fields.emplace_back("backoff_ms", delay.count());
      st.config.log.info("webhook_dispatcher", "event delivery failed, retrying",
                         fields);
      wake_at(self, record.next_attempt_ms);
      break;
    }
  }
  // The store logs the attempt and settles its event before it reads the
  // outbox for the fetch below.
  self->send(st.store, std::move(record));
  fetch(self);
}

webhook_dispatcher_actor::behavior_type
webhook_dispatcher(dispatcher_pointer self, webhook_dispatcher_config config,
                   store_actor store) {
  auto& st = self->state;
  st.config = std::move(config);
  st.store = std::move(store);
  st.due_times = due_time_clock{st.config.clock};
  st.backoff = jittered_backoff{std::chrono::milliseconds{st.config.backoff_ms},
                                std::chrono::milliseconds{st.config.max_backoff_ms}};
  self->send(self->state.store, subscribe_atom_v,
             outbox_listener_actor{webhook_dispatcher_actor{self}});
  // Events left undelivered by an earlier run go out now.
  self->send(self, wake_atom_v);
  return {
    [=](wake_atom) {
      self->state.retry_wake.woke(self->state.due_times.now_ms());
      fetch(self);
    },
    [=](const webhook_attempt& attempt) { on_attempt(self, attempt); },
  };
}

} // namespace

webhook_dispatcher_actor spawn_webhook_dispatcher(caf::actor_system& sys,
                                                  webhook_dispatcher_config config,
                                                  store_actor store) {
  if (!config.send)
    config.send = [secret = config.secret, timeout = config.timeout,
                   clock = config.clock](const http_url& url,
                                         const std::string& body,
                                         int64_t event_id) {
      return net::post_webhook(url, body, event_id, secret,
                               clock->wall_ms() / 1000, timeout);
    };
  return sys.spawn(webhook_dispatcher, std::move(config), std::move(store));
}

} // namespace foreman
