#include "actors/http_ingress.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/event_subscriber.hpp"
#include "actors/waiting_caller.hpp"
#include "core/keep_alive.hpp"
#include "core/log.hpp"
#include "core/model_name.hpp"
#include "messages/errors.hpp"
#include "net/answer_writer.hpp"
#include "net/api_mapping.hpp"
#include "net/auth.hpp"
#include "net/events_api.hpp"
#include "net/json_util.hpp"
#include "net/openai_mapping.hpp"
#include "net/ops_api.hpp"
#include "net/target_proxy.hpp"
#include "net/ui_assets.hpp"

namespace foreman {

namespace {

using net::api_dialect;
using net::exchange_ptr;
using net::send_error;

constexpr const char* json_type = "application/json; charset=utf-8";
constexpr const char* prometheus_type = "text/plain; version=0.0.4; charset=utf-8";

/// How long reading a job may take before the caller gets a 500.
constexpr auto job_read_timeout = std::chrono::seconds{10};

/// How long a cancellation may take: a running job's call is aborted first.
constexpr auto cancel_timeout = std::chrono::seconds{30};

/// Pass-through calls that stream progress (a pull) for a long time.
constexpr auto long_proxy_timeout = std::chrono::hours{1};

/// Pass-through calls answered at once by a healthy target (tags, show).
constexpr auto quick_proxy_timeout = std::chrono::seconds{60};

/// How long a health or status question to an actor may take.
constexpr auto report_timeout = std::chrono::seconds{5};

/// Runs `start` in a short-lived actor that makes its requests and answers
/// the exchange when the replies arrive; it ends with its last reply. The
/// parsing thread that called this returns at once.
template <class Start>
void answer_later(caf::actor_system& sys, Start start) {
  sys.spawn([start](caf::event_based_actor* self) { start(self); });
}

/// Answers a failed job request: 404 for an unknown job (or artifact),
/// 409 for a job that has already ended, 503 when the queue is full.
void send_job_error(net::http_exchange& out, const caf::error& err) {
  if (has_code(err, foreman_errc::job_not_found))
    return send_error(out, api_dialect::ollama, 404, describe(err));
  if (has_code(err, foreman_errc::invalid_transition))
    return send_error(out, api_dialect::ollama, 409, describe(err));
  if (has_code(err, foreman_errc::queue_full))
    return net::send_busy(out, api_dialect::ollama);
  send_error(out, api_dialect::ollama, 500, describe(err));
}

void method_not_allowed(net::http_exchange& out) {
  out.send(405, "text/plain", "405 method not allowed");
}

/// Errors before a route is known take the API's shape from the path.
api_dialect dialect_of(const std::string& path) {
  return path.rfind("/v1/", 0) == 0 ? api_dialect::openai_chat : api_dialect::ollama;
}

/// Pass-through calls that may run for minutes (they stream progress or
/// carry a model's bytes): each runs on a thread of its own, not on a
/// parsing thread.
bool is_long_pass_through(const std::string& path) {
  return path == "/api/pull" || path == "/api/push" || path == "/api/create"
         || path.rfind("/api/blobs/", 0) == 0;
}

bool is_pass_through(const std::string& method, const std::string& path) {
  auto get_or_head = method == "GET" || method == "HEAD";
  if (path == "/" || path == "/api/version" || path == "/api/tags")
    return get_or_head;
  if (path == "/api/ps")
    return method == "GET";
  if (path == "/api/show" || path == "/api/pull" || path == "/api/push"
      || path == "/api/create" || path == "/api/copy")
    return method == "POST";
  if (path == "/api/delete")
    return method == "DELETE";
  if (path.rfind("/api/blobs/", 0) == 0)
    return method == "POST" || method == "HEAD";
  return false;
}

bool is_known_path(const std::string& path) {
  return path == "/" || path == "/api/version" || path == "/api/tags"
         || path == "/api/ps" || path == "/api/show" || path == "/api/pull"
         || path == "/api/push" || path == "/api/create" || path == "/api/copy"
         || path == "/api/delete" || path.rfind("/api/blobs/", 0) == 0;
}

/// The HTTP routes; each call runs on one of the server's parsing threads
/// and returns without waiting for any actor.
class routes : public std::enable_shared_from_this<routes> {
public:
  routes(caf::actor_system& sys, http_ingress_config config, worker_actor worker,
         store_actor store, inventory_actor inventory, metrics_actor metrics,
         event_hub_actor events)
    : sys_(sys),
      config_(std::move(config)),
      worker_(std::move(worker)),
      store_(std::move(store)),
      inventory_(std::move(inventory)),
      metrics_(std::move(metrics)),
      events_(std::move(events)) {
    if (!config_.embed_model.empty())
      embed_key_ = model_key(config_.embed_model);
  }

  void operator()(net::http_request&& req, const exchange_ptr& out) {
    auto authenticated = net::authenticate(req, config_.api_keys);
    if (auto refusal = std::get_if<net::auth_refusal>(&authenticated)) {
      net::header_list headers;
      if (refusal->status == 401)
        headers.emplace_back("WWW-Authenticate", "Bearer");
      return send_error(*out, dialect_of(req.path), refusal->status, refusal->message,
                        headers);
    }
    serve(req, std::get<net::caller>(authenticated), out);
  }

  /// Shutdown has begun: requests that would create jobs get 503.
  void start_draining() {
    draining_ = true;
  }

  /// Cuts every call to the target made for a caller (a long pull).
  void cut_target_calls() {
    target_calls_->cut_all();
  }

private:
  void serve(net::http_request& req, const net::caller& who, const exchange_ptr& out) {
    auto& path = req.path;
    auto& method = req.method;
    // foreman routes neither proxy tunnels nor traces.
    if (method == "CONNECT" || method == "TRACE")
      return method_not_allowed(*out);
    // -- operations -----------------------------------------------------------
    if (path == "/healthz") {
      if (method != "GET" && method != "HEAD")
        return method_not_allowed(*out);
      return out->send(200, json_type, "{\"status\":\"ok\"}");
    }
    if (path == "/readyz" || path == "/status" || path == "/metrics") {
      if (method != "GET")
        return method_not_allowed(*out);
      if (path == "/readyz")
        return readiness(out);
      if (path == "/status")
        return status(out);
      return metrics(out);
    }
    if (path == "/ui" || path.rfind("/ui/", 0) == 0) {
      if (method != "GET" && method != "HEAD")
        return method_not_allowed(*out);
      return dashboard(path, *out);
    }
    if (path == "/events") {
      if (method != "GET")
        return method_not_allowed(*out);
      return subscribe_events(req, who, out);
    }
    // -- queued inference -----------------------------------------------------
    if (path == "/api/chat" || path == "/api/generate" || path == "/api/embed"
        || path == "/api/embeddings") {
      if (method != "POST")
        return method_not_allowed(*out);
      auto endpoint = path == "/api/chat"       ? net::native_endpoint::chat
                      : path == "/api/generate" ? net::native_endpoint::generate
                      : path == "/api/embed"    ? net::native_endpoint::embed
                                                : net::native_endpoint::embeddings;
      return native(req, who, out, endpoint);
    }
    if (path == "/v1/chat/completions")
      return post_only(req, out, [&] {
        openai(req, who, out, api_dialect::openai_chat, net::openai::parse_chat_request);
      });
    if (path == "/v1/completions")
      return post_only(req, out, [&] {
        openai(req, who, out, api_dialect::openai_completion,
               net::openai::parse_completion_request);
      });
    if (path == "/v1/embeddings")
      return post_only(req, out, [&] {
        openai(req, who, out, api_dialect::openai_embeddings,
               net::openai::parse_embeddings_request);
      });
    // -- OpenAI model list, from the target's /api/tags -----------------------
    if (path == "/v1/models" || path.rfind("/v1/models/", 0) == 0) {
      if (method != "GET")
        return method_not_allowed(*out);
      return models(path, *out);
    }
    // -- foreman's own --------------------------------------------------------
    if (path == "/jobs") {
      if (method == "POST")
        return submit_job(req, who, out);
      if (method == "GET")
        return list_jobs(req, who, out);
      return method_not_allowed(*out);
    }
    if (path.rfind("/jobs/", 0) == 0)
      return job_resource(req, who, out);
    // -- passed through unchanged ---------------------------------------------
    if (is_pass_through(method, path))
      return pass_through(std::move(req), out);
    if (is_known_path(path))
      return method_not_allowed(*out);
    out->send(404, "text/plain", "404 page not found");
  }

  template <class Handler>
  static void post_only(const net::http_request& req, const exchange_ptr& out,
                        Handler handler) {
    if (req.method != "POST")
      return method_not_allowed(*out);
    handler();
  }

  void pass_through(net::http_request&& req, const exchange_ptr& out) {
    if (!is_long_pass_through(req.path))
      return net::proxy_to_target(config_.target, req, *out, quick_proxy_timeout,
                                  *target_calls_);
    sys_.spawn<caf::detached>(
      [target = config_.target, req = std::move(req), out,
       calls = target_calls_](caf::event_based_actor*) {
        net::proxy_to_target(target, req, *out, long_proxy_timeout, *calls);
      });
  }

  bool is_pinned_embedder(const std::string& model) const {
    return !embed_key_.empty() && model_key(model) == embed_key_;
  }

  /// Fast lane: the pinned embedder is always loaded; nothing foreman sends
  /// may un-pin it.
  std::pair<int, std::string> embed_now(const std::string& path,
                                        const std::string& body) {
    return net::post_to_target(target_pool_, config_.target, path,
                               net::with_keep_alive(body, keep_alive::forever().json()),
                               quick_proxy_timeout, *target_calls_);
  }

  void native(const net::http_request& req, const net::caller& who,
              const exchange_ptr& out, net::native_endpoint endpoint) {
    auto parsed = net::parse_native_request(endpoint, req.body);
    if (auto problem = std::get_if<net::request_problem>(&parsed))
      return send_error(*out, api_dialect::ollama, problem->status, problem->message);
    auto& call = std::get<net::inference_call>(parsed);
    if (call.spec.kind == job_kind::embed && is_pinned_embedder(call.spec.model)) {
      auto [status, body] = embed_now(req.path, req.body);
      return out->send(status, json_type, body);
    }
    net::queued_request queued;
    queued.spec = std::move(call.spec);
    queued.stream = call.stream;
    queued.dialect = endpoint == net::native_endpoint::embeddings
                       ? api_dialect::ollama_legacy_embeddings
                       : api_dialect::ollama;
    wait_for_job(req, who, std::move(queued), out);
  }

  template <class Parse>
  void openai(const net::http_request& req, const net::caller& who,
              const exchange_ptr& out, api_dialect dialect, Parse parse) {
    auto parsed = parse(req.body);
    if (auto problem = std::get_if<net::request_problem>(&parsed))
      return send_error(*out, dialect, problem->status, problem->message);
    auto& call = std::get<net::openai::native_request>(parsed);
    if (call.kind == job_kind::embed && is_pinned_embedder(call.model)) {
      auto [status, body] = embed_now("/api/embed", call.payload);
      if (status != 200)
        return send_error(*out, dialect, status, net::error_message(body));
      return out->send(200, json_type,
                       net::openai::embeddings_response(body, call.model,
                                                        call.base64_embeddings));
    }
    net::queued_request queued;
    queued.spec.kind = call.kind;
    queued.spec.model = call.model;
    queued.spec.payload = std::move(call.payload);
    queued.stream = call.stream;
    queued.dialect = dialect;
    queued.include_usage = call.include_usage;
    queued.base64_embeddings = call.base64_embeddings;
    wait_for_job(req, who, std::move(queued), out);
  }

  /// Puts the caller's client and X-Foreman-Priority into the job; false
  /// (with a 400 sent) when the priority is malformed.
  static bool take_caller_headers(const net::http_request& http, const net::caller& who,
                                  job_spec& spec, api_dialect dialect,
                                  net::http_exchange& out) {
    auto priority = http.header("X-Foreman-Priority");
    if (!priority.empty()) {
      try {
        size_t used = 0;
        auto value = std::stol(priority, &used);
        if (used != priority.size() || value < -1000000 || value > 1000000)
          throw std::out_of_range{"priority"};
        spec.priority = static_cast<int32_t>(value);
      } catch (const std::exception&) {
        send_error(out, dialect, 400,
                   "invalid X-Foreman-Priority header '" + priority
                     + "': expected an integer from -1000000 to 1000000");
        return false;
      }
    }
    spec.client = who.client;
    return true;
  }

  /// Hands the caller's connection to a waiting caller actor, which stores
  /// the job, waits for it without a thread, and writes its answer.
  void wait_for_job(const net::http_request& http, const net::caller& who,
                    net::queued_request req, const exchange_ptr& out) {
    if (draining_)
      return net::send_shutting_down(*out, req.dialect);
    if (!take_caller_headers(http, who, req.spec, req.dialect, *out))
      return;
    if (waiting_->fetch_add(1) >= config_.max_waiting_callers) {
      waiting_->fetch_sub(1);
      return net::send_busy(*out, req.dialect);
    }
    auto caller = spawn_waiting_caller(sys_, worker_,
                                       net::answer_writer{out, std::move(req)},
                                       [waiting = waiting_] { waiting->fetch_sub(1); });
    out->on_caller_gone([caller] { caf::anon_send(caller, gone_atom_v); });
    out->on_server_stopping([caller] { caf::anon_send(caller, drain_atom_v); });
  }

  void models(const std::string& path, net::http_exchange& out) {
    auto [status, tags] = net::get_from_target(target_pool_, config_.target, "/api/tags",
                                               quick_proxy_timeout, *target_calls_);
    if (status != 200)
      return send_error(out, api_dialect::openai_chat, status, net::error_message(tags));
    if (path == "/v1/models")
      return out.send(200, json_type, net::openai::models_list(tags));
    auto model = path.substr(std::string{"/v1/models/"}.size());
    if (auto entry = net::openai::model_entry(tags, model))
      return out.send(200, json_type, *entry);
    send_error(out, api_dialect::openai_chat, 404, "model '" + model + "' not found");
  }

  /// POST /jobs: stores the job and answers 202; the caller follows it by
  /// GET /jobs/{id} or its webhook.
  void submit_job(const net::http_request& http, const net::caller& who,
                  const exchange_ptr& out) {
    if (draining_)
      return net::send_shutting_down(*out, api_dialect::ollama);
    auto parsed = net::parse_job_submission(http.body, config_.webhooks);
    if (auto problem = std::get_if<net::request_problem>(&parsed))
      return send_error(*out, api_dialect::ollama, problem->status, problem->message);
    auto spec = std::move(std::get<job_spec>(parsed));
    if (!take_caller_headers(http, who, spec, api_dialect::ollama, *out))
      return;
    answer_later(sys_, [worker = worker_, spec = std::move(spec),
                        out](caf::event_based_actor* self) {
      self->request(worker, job_read_timeout, enqueue_atom_v, spec)
        .then(
          [out](const job& stored) {
            out->send(202, json_type, net::job_json(job_status{stored, -1, 0}),
                      {{"Location", "/jobs/" + std::to_string(stored.id)},
                       {"X-Foreman-Job-Id", std::to_string(stored.id)}});
          },
          [out](const caf::error& err) { send_job_error(*out, err); });
    });
  }

  void list_jobs(const net::http_request& http, const net::caller& who,
                 const exchange_ptr& out) {
    auto parsed = net::parse_job_query(http.query);
    if (auto problem = std::get_if<net::request_problem>(&parsed))
      return send_error(*out, api_dialect::ollama, problem->status, problem->message);
    auto query = std::get<job_query>(parsed);
    // A client key lists its own jobs only.
    if (!who.admin)
      query.owner = who.identity;
    answer_later(sys_, [store = store_, query, out](caf::event_based_actor* self) {
      self->request(store, job_read_timeout, list_atom_v, query)
        .then([out](const job_page& page) {
                out->send(200, json_type, net::job_page_json(page));
              },
              [out](const caf::error& err) { send_job_error(*out, err); });
    });
  }

  /// /jobs/{id}, /jobs/{id}/artifacts, /jobs/{id}/artifacts/{name} and
  /// /jobs/{id}/webhooks: the caller's right to the job is checked first
  /// (client keys own theirs).
  void job_resource(const net::http_request& http, const net::caller& who,
                    const exchange_ptr& out) {
    auto parsed = net::parse_job_path(http.path);
    if (auto problem = std::get_if<net::request_problem>(&parsed))
      return send_error(*out, api_dialect::ollama, problem->status, problem->message);
    auto where = std::get<net::job_path>(parsed);
    auto method = http.method;
    if (where.what == net::job_path::target::job) {
      if (method != "GET" && method != "DELETE")
        return method_not_allowed(*out);
    } else if (method != "GET") {
      return method_not_allowed(*out);
    }
    answer_later(sys_, [store = store_, worker = worker_, who, where, method,
                        out](caf::event_based_actor* self) {
      auto on_error = [out](const caf::error& err) { send_job_error(*out, err); };
      auto act = [=] {
        switch (where.what) {
          case net::job_path::target::job:
            if (method == "GET")
              return self->request(worker, job_read_timeout, position_atom_v, where.job_id)
                .then([out](const job_status& x) { out->send(200, json_type, net::job_json(x)); },
                      on_error);
            return self->request(worker, cancel_timeout, cancel_atom_v, where.job_id)
              .then(
                [out](const job& x) {
                  out->send(200, json_type, net::job_json(job_status{x, -1, 0}));
                },
                on_error);
          case net::job_path::target::artifacts:
            return self->request(store, job_read_timeout, artifacts_atom_v, where.job_id)
              .then(
                [out, id = where.job_id](const std::vector<artifact_info>& list) {
                  out->send(200, json_type, net::artifacts_json(id, list));
                },
                on_error);
          case net::job_path::target::artifact:
            return self->request(store, job_read_timeout, artifact_atom_v,
                                 where.job_id, where.artifact_name)
              .then([out](const artifact& x) { out->send(200, x.content_type, x.data); },
                    on_error);
          case net::job_path::target::webhooks:
            return self->request(store, job_read_timeout, deliveries_atom_v, where.job_id)
              .then(
                [out](const std::vector<webhook_delivery>& log) {
                  out->send(200, json_type, net::deliveries_json(log));
                },
                on_error);
        }
      };
      if (who.admin)
        return act();
      self->request(store, job_read_timeout, caf::get_atom_v, where.job_id)
        .then(
          [=](const job& owned) {
            if (!who.owns(owned.client))
              return send_error(*out, api_dialect::ollama, 403,
                                "forbidden: job " + std::to_string(where.job_id)
                                  + " belongs to another caller");
            act();
          },
          on_error);
    });
  }

  /// GET /ui: the dashboard's files, and what the page needs to know of
  /// foreman's settings (whether to ask for a key; the max-wait bound).
  void dashboard(const std::string& path, net::http_exchange& out) {
    if (path == "/ui/settings.json")
      return out.send(200, json_type,
                      std::string{"{\"keys_required\":"}
                        + (config_.api_keys.empty() ? "false" : "true")
                        + ",\"max_wait_seconds\":"
                        + std::to_string(config_.max_wait_ms / 1000) + "}",
                      {{"Cache-Control", "no-store"}});
    auto asset = net::find_ui_asset(path);
    if (!asset)
      return send_error(out, api_dialect::ollama, 404, "no such page: " + path);
    out.send(200, std::string{asset->content_type}, std::string{asset->body},
             {{"Cache-Control", "no-cache"},
              {"Content-Security-Policy",
               "default-src 'self'; style-src 'self' 'unsafe-inline'"}});
  }

  /// GET /events: an event subscriber actor owns the stream from here on.
  void subscribe_events(const net::http_request& req, const net::caller& who,
                        const exchange_ptr& out) {
    auto query = net::parse_events_query(req.query);
    if (auto problem = std::get_if<net::request_problem>(&query))
      return send_error(*out, api_dialect::ollama, problem->status, problem->message);
    event_subscriber_config config;
    config.history = std::get<net::events_query>(query).history;
    config.owner = who.admin ? "" : who.identity;
    config.last_event_id = net::parse_last_event_id(req.header("Last-Event-ID"));
    config.target_url = config_.target.origin();
    config.embed_model = embed_key_;
    auto subscriber = spawn_event_subscriber(sys_, events_, store_, out, std::move(config));
    out->on_caller_gone([subscriber] { caf::anon_send(subscriber, gone_atom_v); });
    out->on_server_stopping([subscriber] { caf::anon_send(subscriber, drain_atom_v); });
  }

  /// GET /readyz: the database, the target and the pinned embedder.
  void readiness(const exchange_ptr& out) {
    answer_later(sys_, [store = store_, inventory = inventory_,
                        target_url = config_.target.origin(),
                        embed_model = config_.embed_model,
                        out](caf::event_based_actor* self) {
      self->request(store, report_timeout, health_atom_v)
        .then(
          [=](const std::string& problem) {
            check_target(self, inventory, target_url, embed_model, problem, out);
          },
          [=](const caf::error& err) {
            check_target(self, inventory, target_url, embed_model,
                         "the store does not answer: " + describe(err), out);
          });
    });
  }

  static void check_target(caf::event_based_actor* self, const inventory_actor& inventory,
                           const std::string& target_url, const std::string& embed_model,
                           const std::string& database_problem, const exchange_ptr& out) {
    auto answer = [=](const std::string& target_problem,
                      const std::string& embedder_problem) {
      std::vector<net::readiness_check> checks{
        {"database", database_problem, false},
        {"target", target_problem, false},
        {"embedder", embedder_problem, embed_model.empty()}};
      auto ready = net::readiness_json(checks);
      out->send(ready.status, json_type, ready.body);
    };
    self->request(inventory, report_timeout, health_atom_v)
      .then(
        [=](const target_health& health) {
          answer(health.reachable ? "" : target_url + " unreachable: " + health.problem,
                 health.embedder_pinned ? ""
                                        : embed_model + " is not loaded on the target");
        },
        [=](const caf::error& err) {
          auto why = "the model inventory does not answer: " + describe(err);
          answer(why, why);
        });
  }

  /// GET /status: the worker, the queue by model and state, the target.
  void status(const exchange_ptr& out) {
    auto report = std::make_shared<net::service_status>();
    report->target_url = config_.target.origin();
    report->embed_model = embed_key_;
    answer_later(sys_, [store = store_, worker = worker_, inventory = inventory_,
                        report, out](caf::event_based_actor* self) {
      auto failure = std::make_shared<std::optional<caf::error>>();
      auto pending = std::make_shared<int>(3);
      auto one_done = [=] {
        if (--*pending == 0)
          finish_status(self, store, report, *failure, out);
      };
      auto on_error = [=](const caf::error& err) {
        *failure = err;
        one_done();
      };
      self->request(worker, report_timeout, status_atom_v)
        .then(
          [=](const worker_status& x) {
            report->worker = x;
            one_done();
          },
          on_error);
      self->request(store, report_timeout, depth_atom_v)
        .then(
          [=](const std::vector<queue_depth>& x) {
            report->depths = x;
            one_done();
          },
          on_error);
      self->request(inventory, report_timeout, health_atom_v)
        .then(
          [=](const target_health& x) {
            report->target = x;
            one_done();
          },
          on_error);
    });
  }

  static void finish_status(caf::event_based_actor* self, const store_actor& store,
                            const std::shared_ptr<net::service_status>& report,
                            const std::optional<caf::error>& failure,
                            const exchange_ptr& out) {
    if (failure)
      return send_error(*out, api_dialect::ollama, 500,
                        "cannot read foreman's state: " + describe(*failure));
    if (report->worker.running_job_id <= 0)
      return out->send(200, json_type, net::status_json(*report));
    self->request(store, report_timeout, caf::get_atom_v, report->worker.running_job_id)
      .then(
        [=](const job& x) {
          report->running = x;
          out->send(200, json_type, net::status_json(*report));
        },
        // It ended meanwhile.
        [=](const caf::error&) { out->send(200, json_type, net::status_json(*report)); });
  }

  /// GET /metrics: Prometheus text.
  void metrics(const exchange_ptr& out) {
    answer_later(sys_, [metrics = metrics_, out](caf::event_based_actor* self) {
      self->request(metrics, report_timeout, metrics_atom_v)
        .then([out](const std::string& text) { out->send(200, prometheus_type, text); },
              [out](const caf::error& err) {
                send_error(*out, api_dialect::ollama, 500,
                           "cannot read the metrics: " + describe(err));
              });
    });
  }

  caf::actor_system& sys_;
  http_ingress_config config_;
  worker_actor worker_;
  store_actor store_;
  inventory_actor inventory_;
  metrics_actor metrics_;
  event_hub_actor events_;
  std::string embed_key_;
  /// Kept-alive connections for the fast lane and the model list.
  std::shared_ptr<net::connection_pool> target_pool_
    = std::make_shared<net::connection_pool>();
  std::shared_ptr<net::target_call_registry> target_calls_
    = std::make_shared<net::target_call_registry>();
  /// Callers waiting for their jobs now.
  std::shared_ptr<std::atomic<int>> waiting_ = std::make_shared<std::atomic<int>>(0);
  std::atomic<bool> draining_{false};
};

struct ingress_state {
  static inline const char* name = "http_ingress";
  std::unique_ptr<net::http_server> server;
  std::shared_ptr<routes> handler;

  ~ingress_state() {
    if (!server)
      return;
    // foreman never waits for a pass-through call: the grace period is over.
    handler->cut_target_calls();
    server->stop();
  }
};

http_ingress_actor::behavior_type
http_ingress(http_ingress_actor::stateful_pointer<ingress_state> self,
             std::shared_ptr<std::unique_ptr<net::http_server>> server,
             std::shared_ptr<routes> handler) {
  self->state.server = std::move(*server);
  self->state.handler = std::move(handler);
  return {
    [=](port_atom) { return self->state.server->port(); },
    [=](drain_atom) {
      self->state.handler->start_draining();
      self->state.server->stop_accepting();
      log_info("http_ingress", "no longer accepting connections");
      return true;
    },
  };
}

} // namespace

http_ingress_actor spawn_http_ingress(caf::actor_system& sys,
                                      http_ingress_config config,
                                      worker_actor worker, store_actor store,
                                      inventory_actor inventory,
                                      metrics_actor metrics, event_hub_actor events) {
  auto options = config.server;
  auto handler = std::make_shared<routes>(sys, std::move(config), std::move(worker),
                                          std::move(store), std::move(inventory),
                                          metrics, std::move(events));
  // Bind before spawning, so a taken port is reported to the caller.
  auto server = std::make_shared<std::unique_ptr<net::http_server>>(
    std::make_unique<net::http_server>(
      options,
      [handler](net::http_request&& req, const exchange_ptr& out) {
        (*handler)(std::move(req), out);
      },
      [metrics](const net::http_request& req, int status) {
        caf::anon_send(metrics, http_request_metric{net::metrics_route(req.path), status});
      }));
  log_info("http_ingress", "listening on " + options.host + ":"
                             + std::to_string((*server)->port()));
  return sys.spawn<caf::detached>(http_ingress, std::move(server), std::move(handler));
}

} // namespace foreman
