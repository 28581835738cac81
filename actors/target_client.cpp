#include "actors/target_client.hpp"

#include <memory>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/log.hpp"
#include "messages/errors.hpp"
#include "net/api_mapping.hpp"
#include "net/json_util.hpp"
#include "net/ollama_http.hpp"
#include "net/stream_aggregator.hpp"

namespace foreman {

namespace {

/// One exchange with the target, as a runner performs it.
struct exchange {
  std::string method;
  std::string path;
  std::string body;
  std::chrono::milliseconds timeout;
  /// Set for streamed inference: the kind whose chunks to aggregate and the
  /// job they belong to.
  std::optional<job_kind> streamed_kind;
  int64_t job_id = 0;
};

/// A detached actor that performs one blocking exchange and quits.
using call_runner_actor
  = caf::typed_actor<caf::replies_to<call_atom>::with<target_reply>>;

/// Reads a streamed answer, passing each chunk to the client as it arrives
/// and building the whole answer from them.
target_reply perform_streamed(call_runner_actor::pointer self,
                              net::abortable_call& call, const http_url& target,
                              const exchange& x, const target_client_actor& client) {
  net::stream_aggregator answer{*x.streamed_kind};
  std::optional<std::string> problem;
  auto reply = call.perform(target, x.method, x.path, x.body, x.timeout,
                            [&](const std::string& line) {
                              if (problem)
                                return;
                              problem = answer.add(line);
                              if (!problem)
                                self->send(client, job_chunk{x.job_id, line});
                            });
  if (reply.failure != target_failure::none)
    return reply;
  if (problem)
    return target_reply{target_failure::http_status, 500, net::error_json(*problem)};
  if (!answer.finished())
    return target_reply{target_failure::connection, 0,
                        "the target's stream ended before its final chunk"};
  return target_reply{target_failure::none, reply.http_status, answer.result()};
}

call_runner_actor::behavior_type
call_runner(call_runner_actor::pointer self,
            std::shared_ptr<net::abortable_call> call, http_url target,
            exchange x, target_client_actor client) {
  return {
    [=](call_atom) {
      auto reply = x.streamed_kind
                     ? perform_streamed(self, *call, target, x, client)
                     : call->perform(target, x.method, x.path, x.body, x.timeout);
      self->quit();
      return reply;
    },
  };
}

struct call_entry {
  std::shared_ptr<net::abortable_call> call;
  chunk_sink_actor sink;
};

struct target_client_state {
  static inline const char* name = "target_client";
  target_client_config config;
  /// Calls under way for jobs: to abort them and to route their chunks.
  std::unordered_map<int64_t, call_entry> calls;

  ~target_client_state() {
    // Runners blocked on the target must not outlive foreman's shutdown.
    for (auto& entry : calls)
      entry.second.call->abort();
  }
};

using client_pointer = target_client_actor::stateful_pointer<target_client_state>;

/// Starts a runner for one exchange; `done` sees its reply.
template <class OnReply>
void start_exchange(client_pointer self, std::shared_ptr<net::abortable_call> call,
                    exchange x, OnReply done) {
  auto runner = self->spawn<caf::detached>(call_runner, std::move(call),
                                           self->state.config.target,
                                           std::move(x),
                                           target_client_actor{self});
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
    [=](call_atom, target_request& request, chunk_sink_actor& sink) {
      auto rp = self->make_response_promise<target_reply>();
      auto call = std::make_shared<net::abortable_call>();
      auto job_id = request.job_id;
      if (job_id != 0)
        self->state.calls[job_id] = call_entry{call, std::move(sink)};
      auto kind = request.kind;
      auto run = request.purpose == target_purpose::run;
      exchange x{"POST", net::target_path(kind), net::target_body(request),
                 self->state.config.call_timeout, std::nullopt, job_id};
      if (run && kind != job_kind::embed)
        x.streamed_kind = kind;
      start_exchange(self, call, std::move(x), [=](target_reply& reply) mutable {
        auto i = self->state.calls.find(job_id);
        if (i != self->state.calls.end() && i->second.call == call)
          self->state.calls.erase(i);
        if (reply.failure == target_failure::none && run) {
          if (auto problem = net::reply_problem(kind, reply.body))
            reply = target_reply{target_failure::invalid_reply,
                                 reply.http_status, *problem};
        }
        rp.deliver(std::move(reply));
      });
      return rp;
    },
    [=](job_chunk& chunk) {
      auto i = self->state.calls.find(chunk.job_id);
      if (i != self->state.calls.end() && i->second.sink)
        self->send(i->second.sink, std::move(chunk));
    },
    [=](abort_atom, int64_t job_id) {
      auto i = self->state.calls.find(job_id);
      if (i != self->state.calls.end()) {
        log_info("target_client", "aborting the call for job "
                                    + std::to_string(job_id));
        i->second.call->abort();
      }
    },
    [=](ps_atom) {
      auto rp = self->make_response_promise<std::vector<resident_model>>();
      exchange x{"GET", "/api/ps", "", self->state.config.ps_timeout,
                 std::nullopt, 0};
      start_exchange(
        self, std::make_shared<net::abortable_call>(), std::move(x),
        [=](target_reply& reply) mutable {
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
