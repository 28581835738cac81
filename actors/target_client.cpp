#include "actors/target_client.hpp"

#include <memory>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/log.hpp"
#include "messages/errors.hpp"
#include "net/api_mapping.hpp"
#include "net/ollama_http.hpp"

namespace foreman {

namespace {

/// A detached actor that performs one blocking exchange and quits.
using call_runner_actor
  = caf::typed_actor<caf::replies_to<call_atom>::with<target_reply>>;

call_runner_actor::behavior_type
call_runner(call_runner_actor::pointer self,
            std::shared_ptr<net::abortable_call> call, http_url target,
            std::string method, std::string path, std::string body,
            std::chrono::milliseconds timeout) {
  return {
    [=](call_atom) {
      auto reply = call->perform(target, method, path, body, timeout);
      self->quit();
      return reply;
    },
  };
}

struct target_client_state {
  static inline const char* name = "target_client";
  target_client_config config;
  /// Calls under way for jobs, so they can be aborted.
  std::unordered_map<int64_t, std::shared_ptr<net::abortable_call>> calls;
};

using client_pointer = target_client_actor::stateful_pointer<target_client_state>;

/// Starts a runner for one exchange; `done` sees its reply.
template <class OnReply>
void start_exchange(client_pointer self, std::shared_ptr<net::abortable_call> call,
                    std::string method, std::string path, std::string body,
                    std::chrono::milliseconds timeout, OnReply done) {
  auto runner = self->spawn<caf::detached>(call_runner, std::move(call),
                                           self->state.config.target,
                                           std::move(method), std::move(path),
                                           std::move(body), timeout);
  self->request(runner, caf::infinite, call_atom_v)
    .then(std::move(done), [done](caf::error& err) mutable {
      target_reply failed{target_failure::connection, 0, describe(err)};
      done(failed);
    });
}

target_client_actor::behavior_type
target_client(client_pointer self, target_client_config config) {
  self->state.config = std::move(config);
  return {
    [=](call_atom, target_request& request) {
      auto rp = self->make_response_promise<target_reply>();
      auto call = std::make_shared<net::abortable_call>();
      auto job_id = request.job_id;
      if (job_id != 0)
        self->state.calls[job_id] = call;
      auto kind = request.kind;
      auto purpose = request.purpose;
      start_exchange(
        self, call, "POST", net::target_path(kind), net::target_body(request),
        self->state.config.call_timeout,
        [=](target_reply& reply) mutable {
          auto i = self->state.calls.find(job_id);
          if (i != self->state.calls.end() && i->second == call)
            self->state.calls.erase(i);
          if (reply.failure == target_failure::none
              && purpose == target_purpose::run) {
            if (auto problem = net::reply_problem(kind, reply.body))
              reply = target_reply{target_failure::invalid_reply,
                                   reply.http_status, *problem};
          }
          rp.deliver(std::move(reply));
        });
      return rp;
    },
    [=](abort_atom, int64_t job_id) {
      auto i = self->state.calls.find(job_id);
      if (i != self->state.calls.end()) {
        log_info("target_client", "aborting the call for job "
                                    + std::to_string(job_id));
        i->second->abort();
      }
    },
    [=](ps_atom) {
      auto rp = self->make_response_promise<std::vector<resident_model>>();
      start_exchange(
        self, std::make_shared<net::abortable_call>(), "GET", "/api/ps", "",
        self->state.config.ps_timeout, [=](target_reply& reply) mutable {
          if (reply.failure != target_failure::none) {
            rp.deliver(make_error(foreman_errc::target_unreachable,
                                  "GET /api/ps: " + reply.body));
            return;
          }
          if (auto models = net::parse_ps_reply(reply.body))
            rp.deliver(std::move(*models));
          else
            rp.deliver(make_error(foreman_errc::target_unreachable,
                                  "GET /api/ps: the reply is not a model list"));
        });
      return rp;
    },
  };
}

} // namespace

target_client_actor spawn_target_client(caf::actor_system& sys,
                                        target_client_config config) {
  return sys.spawn(target_client, std::move(config));
}

} // namespace foreman
