#include "actors/http_ingress.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/clock.hpp"
#include "core/keep_alive.hpp"
#include "core/log.hpp"
#include "core/model_name.hpp"
#include "messages/errors.hpp"
#include "net/api_mapping.hpp"
#include "net/auth.hpp"
#include "net/json_util.hpp"
#include "net/openai_mapping.hpp"
#include "net/ops_api.hpp"
#include "net/target_proxy.hpp"

namespace foreman {

namespace {

constexpr const char* json_type = "application/json; charset=utf-8";
constexpr const char* ndjson_type = "application/x-ndjson";
constexpr const char* sse_type = "text/event-stream";

/// Ollama's exact answer when too many requests are pending.
constexpr const char* busy_message
  = "server busy, please try again.  maximum pending requests exceeded";

/// Seconds a refused caller is asked to wait before trying again.
constexpr const char* retry_after_seconds = "2";

/// How often a waiting handler thread checks whether its caller left.
constexpr auto wait_check_interval = std::chrono::milliseconds{100};

/// How long reading a job may take before the caller gets a 500.
constexpr auto job_read_timeout = std::chrono::seconds{10};

/// How long a cancellation may take: a running job's call is aborted first.
constexpr auto cancel_timeout = std::chrono::seconds{30};

/// Pass-through calls (pulls stream progress for a long time).
constexpr auto proxy_timeout = std::chrono::hours{1};

/// How long a health or status question to an actor may take.
constexpr auto report_timeout = std::chrono::seconds{5};

constexpr const char* prometheus_type = "text/plain; version=0.0.4; charset=utf-8";

constexpr const char* shutting_down_message = "foreman is shutting down";

/// Which API a caller speaks, and so how its job's answer is written.
enum class api_dialect {
  ollama,
  ollama_legacy_embeddings,
  openai_chat,
  openai_completion,
  openai_embeddings,
};

bool is_openai(api_dialect d) {
  return d == api_dialect::openai_chat || d == api_dialect::openai_completion
         || d == api_dialect::openai_embeddings;
}

/// A request that becomes a job, with what its caller expects back.
struct queued_request {
  job_spec spec;
  bool stream = false;
  api_dialect dialect = api_dialect::ollama;
  bool include_usage = false;
  bool base64_embeddings = false;
};

/// Blocking actors cannot wait for a response and for other messages at the
/// same time, so this actor submits the job, is its sink, and forwards
/// everything to the waiting handler thread as ordinary messages. Chunks and
/// the final outcome travel the same path, so they arrive in order.
caf::behavior outcome_relay(caf::event_based_actor* self, worker_actor worker,
                            job_spec spec, bool stream, caf::actor waiter) {
  self->request(worker, caf::infinite, submit_atom_v, std::move(spec),
                caf::actor_cast<job_sink_actor>(self), stream)
    .then(
      [=](job_outcome& outcome) {
        self->send(waiter, std::move(outcome));
        self->quit();
      },
      [=](caf::error& err) {
        self->send(waiter, std::move(err));
        self->quit();
      });
  return {
    [=](accepted_atom a, job& x, int64_t position) {
      self->send(waiter, a, std::move(x), position);
    },
    [=](job_chunk& chunk) { self->send(waiter, std::move(chunk)); },
  };
}

/// Writes errors in the caller's dialect.
void send_error(net::http_responder& out, api_dialect dialect, int status,
                const std::string& message, const net::header_list& headers = {}) {
  out.send(status, json_type,
           is_openai(dialect) ? net::openai::error_body(status, message)
                              : net::error_json(message),
           headers);
}

void send_busy(net::http_responder& out, api_dialect dialect) {
  send_error(out, dialect, 503, busy_message, {{"Retry-After", retry_after_seconds}});
}

void send_shutting_down(net::http_responder& out, api_dialect dialect) {
  send_error(out, dialect, 503, shutting_down_message,
             {{"Retry-After", retry_after_seconds}});
}

/// Passes everything on and remembers the status sent, for /metrics.
class status_recorder : public net::http_responder {
public:
  explicit status_recorder(net::http_responder& out) : out_(out) {
  }

  void send(int status, const std::string& content_type, const std::string& body,
            const net::header_list& extra) override {
    status_ = status;
    out_.send(status, content_type, body, extra);
  }

  void begin_stream(int status, const std::string& content_type,
                    const net::header_list& extra) override {
    status_ = status;
    out_.begin_stream(status, content_type, extra);
  }

  bool write(std::string_view data) override {
    return out_.write(data);
  }

  bool peer_gone() override {
    return out_.peer_gone();
  }

  bool server_stopping() const override {
    return out_.server_stopping();
  }

  /// 0 when nothing was sent (the caller left first).
  int status() const {
    return status_;
  }

private:
  net::http_responder& out_;
  int status_ = 0;
};

/// Counts a waiting caller for as long as it lives.
class waiting_slot {
public:
  waiting_slot(std::atomic<int>& count, int limit) : count_(count) {
    admitted_ = count_.fetch_add(1) < limit;
  }
  ~waiting_slot() {
    count_.fetch_sub(1);
  }
  bool admitted() const {
    return admitted_;
  }

private:
  std::atomic<int>& count_;
  bool admitted_;
};

/// Writes one job's answer in its caller's dialect: streamed chunk by
/// chunk, or whole at the end.
class answer_writer {
public:
  answer_writer(net::http_responder& out, const queued_request& req)
    : out_(out), req_(req) {
  }

  /// Headers every answer carries once the job is stored.
  void on_accepted(int64_t job_id, int64_t queue_position) {
    job_id_ = job_id;
    headers_.emplace_back("X-Foreman-Job-Id", std::to_string(job_id));
    headers_.emplace_back("X-Foreman-Queue-Position",
                          std::to_string(queue_position));
    if (req_.dialect == api_dialect::openai_chat
        || req_.dialect == api_dialect::openai_completion) {
      auto kind = req_.dialect == api_dialect::openai_chat ? job_kind::chat
                                                           : job_kind::generate;
      translator_.emplace(kind, req_.spec.model, openai_id(), now_unix_ms() / 1000,
                          req_.include_usage);
    }
  }

  /// Passes one chunk on; false when the caller has gone.
  bool on_chunk(const std::string& line) {
    if (!started_) {
      out_.begin_stream(200, req_.dialect == api_dialect::ollama ? ndjson_type
                                                                  : sse_type,
                        headers_);
      started_ = true;
    }
    return out_.write(translator_ ? translator_->translate(line) : line + "\n");
  }

  void on_outcome(const job_outcome& outcome) {
    auto ok = outcome.http_status == 200;
    if (started_) {
      // Ollama ends a broken stream with an error line and no done object;
      // OpenAI callers see the stream end without [DONE].
      if (translator_)
        out_.write(ok ? translator_->finish() : std::string{});
      else if (!ok)
        out_.write(outcome.body + "\n");
      return;
    }
    if (!ok)
      return send_error(out_, req_.dialect, outcome.http_status,
                        net::error_message(outcome.body), headers_);
    if (req_.stream) {
      // No chunk was streamed (an answer without chunks): one event.
      on_chunk(outcome.body);
      if (translator_)
        out_.write(translator_->finish());
      return;
    }
    out_.send(200, json_type, whole_answer(outcome.body), headers_);
  }

  void on_failure(const caf::error& err) {
    if (started_)
      return;
    if (has_code(err, foreman_errc::queue_full))
      return send_busy(out_, req_.dialect);
    send_error(out_, req_.dialect, 500, describe(err), headers_);
  }

  void on_shutdown() {
    if (!started_)
      // The job stays stored and runs when foreman is back.
      send_error(out_, req_.dialect, 503, shutting_down_message, headers_);
  }

private:
  std::string openai_id() const {
    return req_.dialect == api_dialect::openai_chat
             ? net::openai::chat_id(job_id_)
             : net::openai::completion_id(job_id_);
  }

  std::string whole_answer(const std::string& native) const {
    auto created = now_unix_ms() / 1000;
    switch (req_.dialect) {
      case api_dialect::openai_chat:
        return net::openai::chat_response(native, req_.spec.model, openai_id(),
                                          created);
      case api_dialect::openai_completion:
        return net::openai::completion_response(native, req_.spec.model,
                                                openai_id(), created);
      case api_dialect::openai_embeddings:
        return net::openai::embeddings_response(native, req_.spec.model,
                                                req_.base64_embeddings);
      case api_dialect::ollama_legacy_embeddings:
        return net::legacy_embedding_reply(native);
      default:
        return native;
    }
  }

  net::http_responder& out_;
  const queued_request& req_;
  net::header_list headers_;
  int64_t job_id_ = 0;
  bool started_ = false;
  std::optional<net::openai::stream_translator> translator_;
};

/// The HTTP routes; each call runs on one of the server's threads.
class routes {
public:
  routes(caf::actor_system& sys, http_ingress_config config, worker_actor worker,
         store_actor store, inventory_actor inventory, metrics_actor metrics)
    : sys_(sys),
      config_(std::move(config)),
      worker_(std::move(worker)),
      store_(std::move(store)),
      inventory_(std::move(inventory)),
      metrics_(std::move(metrics)) {
    if (!config_.embed_model.empty())
      embed_key_ = model_key(config_.embed_model);
  }

  void operator()(const net::http_request& req, net::http_responder& raw) {
    status_recorder out{raw};
    serve(req, out);
    // 499 (nginx's "client closed request"): the caller left unanswered.
    caf::anon_send(metrics_, http_request_metric{net::metrics_route(req.path),
                                                 out.status() == 0 ? 499
                                                                   : out.status()});
  }

  /// Shutdown has begun: requests that would create jobs get 503.
  void start_draining() {
    draining_ = true;
  }

private:
  void serve(const net::http_request& req, net::http_responder& out) {
    auto& path = req.path;
    auto& method = req.method;
    auto authenticated = net::authenticate(req, config_.api_keys);
    if (auto refusal = std::get_if<net::auth_refusal>(&authenticated)) {
      net::header_list headers;
      if (refusal->status == 401)
        headers.emplace_back("WWW-Authenticate", "Bearer");
      return send_error(out, dialect_of(path), refusal->status, refusal->message,
                        headers);
    }
    auto& who = std::get<net::caller>(authenticated);
    // -- operations -----------------------------------------------------------
    if (path == "/healthz") {
      if (method != "GET" && method != "HEAD")
        return method_not_allowed(out);
      return out.send(200, json_type, "{\"status\":\"ok\"}");
    }
    if (path == "/readyz" || path == "/status" || path == "/metrics") {
      if (method != "GET")
        return method_not_allowed(out);
      if (path == "/readyz")
        return readiness(out);
      if (path == "/status")
        return status(out);
      return metrics(out);
    }
    // -- queued inference -----------------------------------------------------
    if (path == "/api/chat")
      return post_only(req, out,
                       [&] { native(req, who, out, net::native_endpoint::chat); });
    if (path == "/api/generate")
      return post_only(req, out,
                       [&] { native(req, who, out, net::native_endpoint::generate); });
    if (path == "/api/embed")
      return post_only(req, out,
                       [&] { native(req, who, out, net::native_endpoint::embed); });
    if (path == "/api/embeddings")
      return post_only(req, out, [&] {
        native(req, who, out, net::native_endpoint::embeddings);
      });
    if (path == "/v1/chat/completions")
      return post_only(req, out, [&] {
        openai(req, who, out, api_dialect::openai_chat,
               net::openai::parse_chat_request);
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
        return method_not_allowed(out);
      return models(path, out);
    }
    // -- foreman's own --------------------------------------------------------
    if (path == "/jobs") {
      if (method == "POST")
        return submit_job(req, who, out);
      if (method == "GET")
        return list_jobs(req, who, out);
      return method_not_allowed(out);
    }
    if (path.rfind("/jobs/", 0) == 0)
      return job_resource(req, who, out);
    // -- passed through unchanged ---------------------------------------------
    if (is_pass_through(method, path))
      return net::proxy_to_target(config_.target, req, req.body, out, proxy_timeout);
    if (is_known_path(path))
      return method_not_allowed(out);
    out.send(404, "text/plain", "404 page not found");
  }

  /// Errors before a route is known take the API's shape from the path.
  static api_dialect dialect_of(const std::string& path) {
    return path.rfind("/v1/", 0) == 0 ? api_dialect::openai_chat : api_dialect::ollama;
  }

  /// GET /readyz: the database, the target and the pinned embedder.
  void readiness(net::http_responder& out) {
    caf::scoped_actor self{sys_};
    std::vector<net::readiness_check> checks;
    net::readiness_check database{"database", {}, false};
    self->request(store_, report_timeout, health_atom_v)
      .receive([&](const std::string& problem) { database.problem = problem; },
               [&](const caf::error& err) {
                 database.problem = "the store does not answer: " + describe(err);
               });
    checks.push_back(database);
    net::readiness_check target{"target", {}, false};
    net::readiness_check embedder{"embedder", {}, config_.embed_model.empty()};
    self->request(inventory_, report_timeout, health_atom_v)
      .receive(
        [&](const target_health& health) {
          if (!health.reachable)
            target.problem = config_.target.origin() + " unreachable: " + health.problem;
          if (!health.embedder_pinned)
            embedder.problem = config_.embed_model + " is not loaded on the target";
        },
        [&](const caf::error& err) {
          target.problem = "the model inventory does not answer: " + describe(err);
        });
    checks.push_back(target);
    checks.push_back(embedder);
    auto answer = net::readiness_json(checks);
    out.send(answer.status, json_type, answer.body);
  }

  /// GET /status: the worker, the queue by model and state, the target.
  void status(net::http_responder& out) {
    caf::scoped_actor self{sys_};
    net::service_status report;
    report.target_url = config_.target.origin();
    report.embed_model = embed_key_;
    std::optional<caf::error> failure;
    auto on_error = [&](const caf::error& err) { failure = err; };
    self->request(worker_, report_timeout, status_atom_v)
      .receive([&](const worker_status& x) { report.worker = x; }, on_error);
    self->request(store_, report_timeout, depth_atom_v)
      .receive([&](const std::vector<queue_depth>& x) { report.depths = x; }, on_error);
    self->request(inventory_, report_timeout, health_atom_v)
      .receive([&](const target_health& x) { report.target = x; }, on_error);
    if (report.worker.running_job_id > 0)
      self->request(store_, report_timeout, caf::get_atom_v, report.worker.running_job_id)
        .receive([&](const job& x) { report.running = x; },
                 [](const caf::error&) { /* it ended meanwhile */ });
    if (failure)
      return send_error(out, api_dialect::ollama, 500,
                        "cannot read foreman's state: " + describe(*failure));
    out.send(200, json_type, net::status_json(report));
  }

  /// GET /metrics: Prometheus text.
  void metrics(net::http_responder& out) {
    caf::scoped_actor self{sys_};
    self->request(metrics_, report_timeout, metrics_atom_v)
      .receive([&](const std::string& text) { out.send(200, prometheus_type, text); },
               [&](const caf::error& err) {
                 send_error(out, api_dialect::ollama, 500,
                            "cannot read the metrics: " + describe(err));
               });
  }

  static bool is_pass_through(const std::string& method, const std::string& path) {
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

  static bool is_known_path(const std::string& path) {
    return path == "/" || path == "/api/version" || path == "/api/tags"
           || path == "/api/ps" || path == "/api/show" || path == "/api/pull"
           || path == "/api/push" || path == "/api/create" || path == "/api/copy"
           || path == "/api/delete" || path.rfind("/api/blobs/", 0) == 0;
  }

  template <class Handler>
  static void post_only(const net::http_request& req, net::http_responder& out,
                        Handler handler) {
    if (req.method != "POST")
      return method_not_allowed(out);
    handler();
  }

  static void method_not_allowed(net::http_responder& out) {
    out.send(405, "text/plain", "405 method not allowed");
  }

  bool is_pinned_embedder(const std::string& model) const {
    return !embed_key_.empty() && model_key(model) == embed_key_;
  }

  void native(const net::http_request& req, const net::caller& who,
              net::http_responder& out, net::native_endpoint endpoint) {
    auto parsed = net::parse_native_request(endpoint, req.body);
    if (auto problem = std::get_if<net::request_problem>(&parsed))
      return send_error(out, api_dialect::ollama, problem->status, problem->message);
    auto& call = std::get<net::inference_call>(parsed);
    if (call.spec.kind == job_kind::embed && is_pinned_embedder(call.spec.model)) {
      // Fast lane: the pinned embedder is always loaded; nothing foreman
      // sends may un-pin it.
      auto [status, body] = net::post_to_target(
        target_pool_, config_.target, req.path,
        net::with_keep_alive(req.body, keep_alive::forever().json()), proxy_timeout);
      return out.send(status, json_type, body);
    }
    queued_request queued;
    queued.spec = std::move(call.spec);
    queued.stream = call.stream;
    queued.dialect = endpoint == net::native_endpoint::embeddings
                       ? api_dialect::ollama_legacy_embeddings
                       : api_dialect::ollama;
    run_job(req, who, queued, out);
  }

  template <class Parse>
  void openai(const net::http_request& req, const net::caller& who,
              net::http_responder& out, api_dialect dialect, Parse parse) {
    auto parsed = parse(req.body);
    if (auto problem = std::get_if<net::request_problem>(&parsed))
      return send_error(out, dialect, problem->status, problem->message);
    auto& call = std::get<net::openai::native_request>(parsed);
    if (call.kind == job_kind::embed && is_pinned_embedder(call.model)) {
      auto [status, body] = net::post_to_target(
        target_pool_, config_.target, "/api/embed",
        net::with_keep_alive(call.payload, keep_alive::forever().json()),
        proxy_timeout);
      if (status != 200)
        return send_error(out, dialect, status, net::error_message(body));
      return out.send(200, json_type,
                      net::openai::embeddings_response(body, call.model,
                                                       call.base64_embeddings));
    }
    queued_request queued;
    queued.spec.kind = call.kind;
    queued.spec.model = call.model;
    queued.spec.payload = call.payload;
    queued.stream = call.stream;
    queued.dialect = dialect;
    queued.include_usage = call.include_usage;
    queued.base64_embeddings = call.base64_embeddings;
    run_job(req, who, queued, out);
  }

  /// Puts the caller's client and X-Foreman-Priority into the job; false
  /// (with a 400 sent) when the priority is malformed.
  static bool take_caller_headers(const net::http_request& http, const net::caller& who,
                                  queued_request& req, net::http_responder& out) {
    auto priority = http.header("X-Foreman-Priority");
    if (!priority.empty()) {
      try {
        size_t used = 0;
        auto value = std::stol(priority, &used);
        if (used != priority.size() || value < -1000000 || value > 1000000)
          throw std::out_of_range{"priority"};
        req.spec.priority = static_cast<int32_t>(value);
      } catch (const std::exception&) {
        send_error(out, req.dialect, 400,
                   "invalid X-Foreman-Priority header '" + priority
                     + "': expected an integer from -1000000 to 1000000");
        return false;
      }
    }
    req.spec.client = who.client;
    req.spec.load_options = net::load_options_of(req.spec.payload);
    return true;
  }

  /// Stores the job, waits for it, and writes its answer; cancels it when
  /// the caller leaves.
  void run_job(const net::http_request& http, const net::caller& who,
               queued_request& req, net::http_responder& out) {
    if (draining_)
      return send_shutting_down(out, req.dialect);
    if (!take_caller_headers(http, who, req, out))
      return;
    waiting_slot slot{waiting_callers_, config_.max_waiting_callers};
    if (!slot.admitted())
      return send_busy(out, req.dialect);
    answer_writer answer{out, req};
    caf::scoped_actor self{sys_};
    sys_.spawn(outcome_relay, worker_, req.spec, req.stream, caf::actor{self});
    std::optional<int64_t> job_id;
    bool caller_gone = false;
    bool finished = false;
    while (!finished) {
      self->receive(
        [&](accepted_atom, const job& stored, int64_t position) {
          job_id = stored.id;
          answer.on_accepted(stored.id, position);
        },
        [&](const job_chunk& chunk) {
          if (!caller_gone && !answer.on_chunk(chunk.line))
            caller_gone = true;
        },
        [&](const job_outcome& outcome) {
          answer.on_outcome(outcome);
          finished = true;
        },
        [&](const caf::error& err) {
          answer.on_failure(err);
          finished = true;
        },
        caf::after(wait_check_interval) >> [&] {
          if (!caller_gone && out.peer_gone())
            caller_gone = true;
          if (!caller_gone && out.server_stopping()) {
            answer.on_shutdown();
            finished = true;
          }
        });
      if (caller_gone && job_id) {
        // The GPU does no work for callers who left.
        log_info("http_ingress", "caller left, cancelling job "
                                   + std::to_string(*job_id));
        caf::anon_send(worker_, cancel_atom_v, *job_id);
        return;
      }
    }
  }

  void models(const std::string& path, net::http_responder& out) {
    auto [status, tags] = net::get_from_target(target_pool_, config_.target, "/api/tags",
                                               std::chrono::seconds{30});
    if (status != 200)
      return send_error(out, api_dialect::openai_chat, status,
                        net::error_message(tags));
    if (path == "/v1/models")
      return out.send(200, json_type, net::openai::models_list(tags));
    auto model = path.substr(std::string{"/v1/models/"}.size());
    if (auto entry = net::openai::model_entry(tags, model))
      return out.send(200, json_type, *entry);
    send_error(out, api_dialect::openai_chat, 404,
               "model '" + model + "' not found");
  }

  /// Answers a failed job request: 404 for an unknown job (or artifact),
  /// 409 for a job that has already ended, 503 when the queue is full.
  static void send_job_error(net::http_responder& out, const caf::error& err) {
    if (has_code(err, foreman_errc::job_not_found))
      return send_error(out, api_dialect::ollama, 404, describe(err));
    if (has_code(err, foreman_errc::invalid_transition))
      return send_error(out, api_dialect::ollama, 409, describe(err));
    if (has_code(err, foreman_errc::queue_full))
      return send_busy(out, api_dialect::ollama);
    send_error(out, api_dialect::ollama, 500, describe(err));
  }

  /// POST /jobs: stores the job and answers 202 at once; the caller follows
  /// it by GET /jobs/{id} or its webhook.
  void submit_job(const net::http_request& http, const net::caller& who,
                  net::http_responder& out) {
    if (draining_)
      return send_shutting_down(out, api_dialect::ollama);
    auto parsed = net::parse_job_submission(http.body, config_.webhooks);
    if (auto problem = std::get_if<net::request_problem>(&parsed))
      return send_error(out, api_dialect::ollama, problem->status,
                        problem->message);
    queued_request req;
    req.spec = std::move(std::get<job_spec>(parsed));
    if (!take_caller_headers(http, who, req, out))
      return;
    caf::scoped_actor self{sys_};
    self->request(worker_, job_read_timeout, enqueue_atom_v, std::move(req.spec))
      .receive(
        [&](const job& stored) {
          out.send(202, json_type, net::job_json(job_status{stored, -1, 0}),
                   {{"Location", "/jobs/" + std::to_string(stored.id)},
                    {"X-Foreman-Job-Id", std::to_string(stored.id)}});
        },
        [&](const caf::error& err) { send_job_error(out, err); });
  }

  void list_jobs(const net::http_request& http, const net::caller& who,
                 net::http_responder& out) {
    auto parsed = net::parse_job_query(http.query);
    if (auto problem = std::get_if<net::request_problem>(&parsed))
      return send_error(out, api_dialect::ollama, problem->status,
                        problem->message);
    auto query = std::get<job_query>(parsed);
    // A client key lists its own jobs only.
    if (!who.admin)
      query.owner = who.identity;
    caf::scoped_actor self{sys_};
    self->request(store_, job_read_timeout, list_atom_v, query)
      .receive(
        [&](const job_page& page) {
          out.send(200, json_type, net::job_page_json(page));
        },
        [&](const caf::error& err) { send_job_error(out, err); });
  }

  /// /jobs/{id}, /jobs/{id}/artifacts and /jobs/{id}/artifacts/{name}.
  void job_resource(const net::http_request& http, const net::caller& who,
                    net::http_responder& out) {
    auto parsed = net::parse_job_path(http.path);
    if (auto problem = std::get_if<net::request_problem>(&parsed))
      return send_error(out, api_dialect::ollama, problem->status,
                        problem->message);
    auto& where = std::get<net::job_path>(parsed);
    caf::scoped_actor self{sys_};
    auto on_error = [&](const caf::error& err) { send_job_error(out, err); };
    if (!who.admin) {
      std::optional<job> owned;
      self->request(store_, job_read_timeout, caf::get_atom_v, where.job_id)
        .receive([&](const job& x) { owned = x; }, on_error);
      if (!owned)
        return;
      if (!who.owns(owned->client))
        return send_error(out, api_dialect::ollama, 403,
                          "forbidden: job " + std::to_string(where.job_id)
                            + " belongs to another caller");
    }
    switch (where.what) {
      case net::job_path::target::job:
        if (http.method == "GET")
          return self->request(worker_, job_read_timeout, position_atom_v, where.job_id)
            .receive(
              [&](const job_status& x) { out.send(200, json_type, net::job_json(x)); },
              on_error);
        if (http.method == "DELETE")
          return self->request(worker_, cancel_timeout, cancel_atom_v, where.job_id)
            .receive(
              [&](const job& x) {
                out.send(200, json_type, net::job_json(job_status{x, -1, 0}));
              },
              on_error);
        return method_not_allowed(out);
      case net::job_path::target::artifacts:
        if (http.method != "GET")
          return method_not_allowed(out);
        return self->request(store_, job_read_timeout, artifacts_atom_v, where.job_id)
          .receive(
            [&](const std::vector<artifact_info>& list) {
              out.send(200, json_type, net::artifacts_json(where.job_id, list));
            },
            on_error);
      case net::job_path::target::artifact:
        if (http.method != "GET")
          return method_not_allowed(out);
        return self->request(store_, job_read_timeout, artifact_atom_v,
                             where.job_id, where.artifact_name)
          .receive(
            [&](const artifact& x) { out.send(200, x.content_type, x.data); },
            on_error);
    }
  }

  caf::actor_system& sys_;
  http_ingress_config config_;
  worker_actor worker_;
  store_actor store_;
  inventory_actor inventory_;
  metrics_actor metrics_;
  std::string embed_key_;
  /// Kept-alive connections for the fast lane and the model list.
  std::shared_ptr<net::connection_pool> target_pool_
    = std::make_shared<net::connection_pool>();
  std::atomic<int> waiting_callers_{0};
  std::atomic<bool> draining_{false};
};

struct ingress_state {
  static inline const char* name = "http_ingress";
  std::unique_ptr<net::http_server> server;
  std::shared_ptr<routes> handler;

  ~ingress_state() {
    if (server)
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
                                      metrics_actor metrics) {
  auto options = config.server;
  auto handler = std::make_shared<routes>(sys, std::move(config), std::move(worker),
                                          std::move(store), std::move(inventory),
                                          std::move(metrics));
  // Bind before spawning, so a taken port is reported to the caller.
  auto server = std::make_shared<std::unique_ptr<net::http_server>>(
    std::make_unique<net::http_server>(
      options, [handler](const net::http_request& req, net::http_responder& out) {
        (*handler)(req, out);
      }));
  log_info("http_ingress", "listening on " + options.host + ":"
                             + std::to_string((*server)->port()));
  return sys.spawn<caf::detached>(http_ingress, std::move(server), std::move(handler));
}

} // namespace foreman
