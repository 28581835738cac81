#include "actors/http_ingress.hpp"

#include <chrono>
#include <memory>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/log.hpp"
#include "messages/errors.hpp"
#include "net/api_mapping.hpp"
#include "net/json_util.hpp"

namespace foreman {

namespace {

constexpr const char* json_type = "application/json; charset=utf-8";
constexpr const char* ndjson_type = "application/x-ndjson";

/// How often a waiting handler thread checks whether to give up.
constexpr auto wait_check_interval = std::chrono::milliseconds{250};

/// How long reads from the store may take before the caller gets a 500.
constexpr auto store_read_timeout = std::chrono::seconds{10};

/// Blocking actors cannot wait for a response and for other messages at the
/// same time, so this actor submits the job and forwards the worker's answer
/// to the waiting handler as an ordinary message.
caf::behavior outcome_relay(caf::event_based_actor* self, worker_actor worker,
                            job_spec spec, caf::actor waiter) {
  self->request(worker, caf::infinite, submit_atom_v, std::move(spec),
                caf::actor_cast<job_sink_actor>(waiter))
    .then([=](job_outcome& outcome) { self->send(waiter, std::move(outcome)); },
          [=](caf::error& err) { self->send(waiter, std::move(err)); });
  return {};
}

void send_error(net::http_responder& out, int status, const std::string& message) {
  out.send(status, json_type, net::error_json(message));
}

/// The HTTP routes; each call runs on one of the server's threads.
class routes {
public:
  routes(caf::actor_system& sys, worker_actor worker, store_actor store)
    : sys_(sys), worker_(std::move(worker)), store_(std::move(store)) {
  }

  void operator()(const net::http_request& req, net::http_responder& out) {
    if (req.path == "/api/chat") {
      if (req.method != "POST")
        return method_not_allowed(out);
      return chat(req, out);
    }
    if (req.path.rfind("/jobs/", 0) == 0) {
      if (req.method != "GET")
        return method_not_allowed(out);
      return get_job(req.path.substr(6), out);
    }
    out.send(404, "text/plain", "404 page not found");
  }

private:
  static void method_not_allowed(net::http_responder& out) {
    out.send(405, "text/plain", "405 method not allowed");
  }

  void chat(const net::http_request& req, net::http_responder& out) {
    auto parsed = net::parse_chat_request(req.body);
    if (auto problem = std::get_if<net::request_problem>(&parsed))
      return send_error(out, problem->status, problem->message);
    auto& call = std::get<net::inference_call>(parsed);
    caf::scoped_actor self{sys_};
    sys_.spawn(outcome_relay, worker_, call.spec, caf::actor{self});
    std::optional<job_outcome> outcome;
    std::optional<caf::error> failure;
    std::optional<int64_t> job_id;
    while (!outcome && !failure) {
      bool give_up = false;
      self->receive(
        [&](accepted_atom, const job& stored) { job_id = stored.id; },
        [&](job_outcome& x) { outcome = std::move(x); },
        [&](caf::error& err) { failure = std::move(err); },
        caf::after(wait_check_interval) >> [&] {
          give_up = out.server_stopping();
        });
      if (give_up)
        break;
    }
    net::header_list headers;
    if (job_id)
      headers.emplace_back("X-Foreman-Job-Id", std::to_string(*job_id));
    if (outcome) {
      if (outcome->http_status != 200)
        return out.send(outcome->http_status, json_type, outcome->body, headers);
      if (call.stream)
        return out.send(200, ndjson_type, outcome->body + "\n", headers);
      return out.send(200, json_type, outcome->body, headers);
    }
    if (failure)
      return out.send(500, json_type, net::error_json(describe(*failure)),
                      headers);
    // The job stays stored and runs when foreman is back.
    out.send(503, json_type, net::error_json("foreman is shutting down"),
             headers);
  }

  void get_job(const std::string& id_text, net::http_responder& out) {
    int64_t id = 0;
    try {
      size_t used = 0;
      id = std::stoll(id_text, &used);
      if (used != id_text.size() || id <= 0)
        throw std::invalid_argument{"not a positive integer"};
    } catch (const std::exception&) {
      return send_error(out, 400, "invalid job id '" + id_text
                                    + "': expected a positive integer");
    }
    caf::scoped_actor self{sys_};
    self->request(store_, store_read_timeout, caf::get_atom_v, id)
      .receive([&](const job& x) { out.send(200, json_type, net::job_json(x)); },
               [&](const caf::error& err) {
                 if (has_code(err, foreman_errc::job_not_found))
                   send_error(out, 404, "job " + id_text + " not found");
                 else
                   send_error(out, 500, describe(err));
               });
  }

  caf::actor_system& sys_;
  worker_actor worker_;
  store_actor store_;
};

struct ingress_state {
  static inline const char* name = "http_ingress";
  std::unique_ptr<net::http_server> server;

  ~ingress_state() {
    if (server)
      server->stop();
  }
};

http_ingress_actor::behavior_type
http_ingress(http_ingress_actor::stateful_pointer<ingress_state> self,
             std::shared_ptr<std::unique_ptr<net::http_server>> server) {
  self->state.server = std::move(*server);
  return {
    [=](port_atom) { return self->state.server->port(); },
  };
}

} // namespace

http_ingress_actor spawn_http_ingress(caf::actor_system& sys,
                                      const net::http_server_options& options,
                                      worker_actor worker, store_actor store) {
  // Bind before spawning, so a taken port is reported to the caller.
  auto server = std::make_shared<std::unique_ptr<net::http_server>>(
    std::make_unique<net::http_server>(options,
                                       routes{sys, std::move(worker),
                                              std::move(store)}));
  log_info("http_ingress", "listening on " + options.host + ":"
                             + std::to_string((*server)->port()));
  return sys.spawn<caf::detached>(http_ingress, std::move(server));
}

} // namespace foreman
