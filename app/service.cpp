#include "app/service.hpp"

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/event_hub.hpp"
#include "actors/http_ingress.hpp"
#include "actors/inventory.hpp"
#include "actors/metrics.hpp"
#include "actors/store.hpp"
#include "actors/target_client.hpp"
#include "actors/webhook_dispatcher.hpp"
#include "actors/worker.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/model_name.hpp"
#include "messages/errors.hpp"
#include "net/webhook_http.hpp"
#include "persistence/job_store.hpp"

namespace foreman {

struct service::impl {
  caf::actor_system& sys;
  store_actor store;
  target_client_actor target;
  inventory_actor inventory;
  worker_actor worker;
  http_ingress_actor ingress;
  webhook_dispatcher_actor webhooks;
  metrics_actor metrics;
  event_hub_actor events;
  int64_t shutdown_grace_ms = 0;
  bool stopped = false;
  logger log;

  explicit impl(caf::actor_system& system) : sys(system) {
  }

  /// Ends `actor`, waits until it is gone and drops the handle: a detached
  /// actor's thread ends only once nothing refers to the actor.
  template <class Handle>
  void stop_and_wait(Handle& actor) {
    if (!actor)
      return;
    caf::scoped_actor self{sys};
    self->monitor(actor);
    self->send_exit(actor, caf::exit_reason::user_shutdown);
    self->receive([](const caf::down_msg&) {});
    actor = nullptr;
  }

  /// Stops taking work and lets the running job finish within the grace
  /// period (else it goes back to the queue).
  void drain() {
    caf::scoped_actor self{sys};
    if (ingress)
      self->request(ingress, std::chrono::seconds{10}, drain_atom_v)
        .receive([](bool) {},
                 [this](const caf::error& err) {
                   log.warning("service", "the HTTP server did not stop accepting",
                               {{"error", describe(err)}});
                 });
    if (!worker)
      return;
    // Beyond the grace period the aborted call still has to return.
    auto limit = std::chrono::milliseconds{shutdown_grace_ms} + std::chrono::seconds{30};
    self->request(worker, limit, drain_atom_v, shutdown_grace_ms)
      .receive(
        [this](int64_t requeued) {
          if (requeued > 0)
            log.info("service", "a job was interrupted and is queued again",
                     {{"job_id", requeued}});
        },
        [this](const caf::error& err) {
          log.warning("service", "the worker did not stop in time",
                      {{"error", describe(err)}});
        });
  }
};

service::service(caf::actor_system& sys, const settings& config)
  : impl_(std::make_unique<impl>(sys)) {
  auto& st = *impl_;
  st.log = configured_logger(config);
  // What the target's worker, client and inventory log names the target.
  auto target_log = st.log.with({{"target", config.ollama_url.origin()}});
  auto db = std::make_shared<job_store>(config.db_path,
                                       job_store::latest_schema_version,
                                       config.db_sync_full);
  auto interrupted = db->requeue_interrupted(now_unix_ms());
  if (interrupted.requeued > 0)
    st.log.info("store", "interrupted jobs back in the queue",
                {{"count", interrupted.requeued}});
  if (interrupted.failed > 0)
    st.log.warning("store", "interrupted jobs failed: their last attempt was interrupted",
                   {{"count", interrupted.failed}});
  store_config stored;
  stored.max_queue = config.max_queue;
  stored.log = st.log;
  st.store = spawn_store(sys, std::move(db), std::move(stored));
  st.metrics = spawn_metrics(sys, st.store);
  st.shutdown_grace_ms = config.shutdown_grace_ms;
  target_client_config client;
  client.target = config.ollama_url;
  client.log = target_log;
  st.target = spawn_target_client(sys, std::move(client));
  inventory_config residents;
  residents.embed_model = config.embed_model;
  residents.poll_interval = std::chrono::milliseconds{config.inventory_poll_ms};
  residents.log = target_log;
  st.inventory = spawn_inventory(sys, st.target, std::move(residents));
  worker_config wcfg;
  wcfg.job_keep_alive = config.worker_keep_alive;
  wcfg.default_max_attempts = config.max_attempts;
  wcfg.rules.max_wait_ms = config.max_wait_ms;
  wcfg.rules.drain_by_model = config.drain_by_model;
  wcfg.unload_mode = config.unload_mode;
  wcfg.job_timeout_ms = config.job_timeout_ms;
  wcfg.retry_backoff_ms = config.retry_backoff_ms;
  wcfg.log = target_log;
  st.worker = spawn_worker(sys, wcfg, st.store, st.target, st.inventory, st.metrics);
  st.events = spawn_event_hub(
    sys,
    event_hub_config{config.ollama_url.origin(),
                     config.embed_model.empty() ? "" : model_key(config.embed_model),
                     std::chrono::milliseconds{500},
                     std::chrono::milliseconds{config.event_stats_ms}},
    st.store, st.worker, st.inventory, st.target);
  http_ingress_config http;
  http.server.host = config.listen_host;
  http.server.port = config.listen_port;
  http.server.max_body_bytes = static_cast<size_t>(config.max_body_bytes);
  http.server.read_timeout = std::chrono::milliseconds{config.read_timeout_ms};
  http.max_waiting_callers = config.max_waiting;
  http.target = config.ollama_url;
  http.embed_model = config.embed_model;
  http.webhooks.allowed_hosts = config.webhook_hosts;
  http.webhooks.api_keys_configured = !config.api_keys.empty();
  http.api_keys = config.api_keys;
  http.max_wait_ms = config.max_wait_ms;
  try {
    st.ingress = spawn_http_ingress(sys, std::move(http), st.worker, st.store,
                                    st.inventory, st.metrics, st.events);
  } catch (...) {
    stop();
    throw;
  }
  try {
    net::configure_webhook_tls(config.webhook_ca_file);
  } catch (...) {
    stop();
    throw;
  }
  webhook_dispatcher_config hooks;
  hooks.secret = config.webhook_secret;
  hooks.max_attempts = config.webhook_max_attempts;
  hooks.inline_limit = config.webhook_inline_limit;
  hooks.backoff_ms = config.webhook_backoff_ms;
  hooks.timeout = std::chrono::milliseconds{config.webhook_timeout_ms};
  hooks.metrics = st.metrics;
  hooks.log = st.log;
  // Spawned after the server is bound, so the default artifact URLs carry
  // the real port.
  hooks.public_base_url
    = !config.public_url.empty()
        ? config.public_url
        : http_url{"http", config.listen_host, http_port(), "/"}.origin();
  st.webhooks = spawn_webhook_dispatcher(sys, std::move(hooks), st.store);
}

service::~service() {
  stop();
}

uint16_t service::http_port() {
  caf::scoped_actor self{impl_->sys};
  uint16_t port = 0;
  self->request(impl_->ingress, caf::infinite, port_atom_v)
    .receive([&](uint16_t x) { port = x; }, [](const caf::error&) {});
  return port;
}

worker_actor service::worker() const {
  return impl_->worker;
}

store_actor service::store() const {
  return impl_->store;
}

void service::stop() {
  auto& st = *impl_;
  if (st.stopped)
    return;
  st.stopped = true;
  st.drain();
  // HTTP first: callers still waiting learn that foreman is shutting down
  // (their jobs stay queued) while the rest winds down.
  st.stop_and_wait(st.ingress);
  st.stop_and_wait(st.events);
  st.stop_and_wait(st.worker);
  st.stop_and_wait(st.inventory);
  st.stop_and_wait(st.target);
  st.stop_and_wait(st.webhooks);
  st.stop_and_wait(st.metrics);
  st.stop_and_wait(st.store);
}

} // namespace foreman
