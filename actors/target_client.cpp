#include "actors/target_client.hpp"

#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/log.hpp"
#include "core/update_throttle.hpp"
#include "messages/errors.hpp"
#include "net/api_mapping.hpp"
#include "net/json_util.hpp"
#include "net/ollama_http.hpp"
#include "net/stream_aggregator.hpp"

namespace foreman::target_client_detail {

/// One exchange with the target, as a runner performs it. Runners are local
/// to their client (never published), so the message may carry the call
/// object the client aborts.
struct exchange {
  std::string method;
  std::string path;
  std::string body;
  std::chrono::milliseconds timeout{0};
  /// Set for streamed inference: the kind whose chunks to aggregate and the
  /// job they belong to.
  std::optional<job_kind> streamed_kind;
  int64_t job_id = 0;
  /// The job's client, named in its progress reports.
  std::string client;
  std::shared_ptr<net::abortable_call> call;
  /// Where the runner sends the chunks it reads: the waiting caller, with no
  /// hop in between.
  chunk_sink_actor sink;
  /// Told how far the stream has come, at most once per progress_interval
  /// and once at its end.
  std::vector<job_progress_listener_actor> progress_listeners;
  std::chrono::milliseconds progress_interval{0};
};

} // namespace foreman::target_client_detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(foreman::target_client_detail::exchange)

namespace foreman {

namespace {

using target_client_detail::exchange;

/// A long-lived detached actor (its own thread, so blocking I/O never stalls
/// CAF's scheduler) that performs one blocking exchange per request.
using call_runner_actor
  = caf::typed_actor<caf::replies_to<call_atom, exchange>::with<target_reply>>;

/// How many runners wait idle for the next call. The worker runs one job at a
/// time; /api/ps polls and embedder warm-ups run beside it. More calls at
/// once get runners of their own, which quit when done.
constexpr size_t max_idle_runners = 3;

/// Tells the progress listeners how many tokens a job's stream has brought.
void report_progress(call_runner_actor::pointer self, const exchange& x,
                     int64_t tokens, bool final) {
  for (auto& listener : x.progress_listeners)
    self->send(listener, job_progress{x.job_id, x.client, tokens, final});
}

/// Reads a streamed answer, passing each chunk to the sink as it arrives
/// and building the whole answer from them; the progress listeners hear
/// the token count now and then, and once the stream has ended.
target_reply perform_streamed(call_runner_actor::pointer self,
                              const http_url& target, const exchange& x) {
  net::stream_aggregator answer{*x.streamed_kind};
  update_throttle progress{x.progress_interval};
  std::optional<std::string> problem;
  bool streamed = false;
  auto reply = x.call->perform(target, x.method, x.path, x.body, x.timeout,
                               [&](const std::string& line) {
                                 if (problem)
                                   return;
                                 problem = answer.add(line);
                                 if (problem)
                                   return;
                                 if (x.sink) {
                                   self->send(x.sink, job_chunk{x.job_id, line});
                                   streamed = true;
                                 }
                                 if (progress.admit(std::chrono::steady_clock::now()))
                                   report_progress(self, x, answer.tokens(), false);
                               });
  report_progress(self, x, answer.tokens(), true);
  reply.streamed = streamed;
  if (reply.failure != target_failure::none)
    return reply;
  if (problem)
    return target_reply{target_failure::http_status, 500, net::error_json(*problem),
                        streamed};
  if (!answer.finished())
    return target_reply{target_failure::connection, 0,
                        "the target's stream ended before its final chunk", streamed};
  return target_reply{target_failure::none, reply.http_status, answer.result(),
                      streamed};
}

call_runner_actor::behavior_type call_runner(call_runner_actor::pointer self,
                                             http_url target) {
  return {
    [=](call_atom, const exchange& x) {
      // Each chunk is in the sink's mailbox before the reply leaves, so the
      // caller sees every chunk before the outcome that follows the reply.
      return x.streamed_kind
               ? perform_streamed(self, target, x)
               : x.call->perform(target, x.method, x.path, x.body, x.timeout);
    },
  };
}

struct target_client_state {
  static inline const char* name = "target_client";
  target_client_config config;
  /// Kept-alive connections to the target, shared by every call.
  std::shared_ptr<net::connection_pool> pool;
  /// Calls under way for jobs, to abort them.
  std::unordered_map<int64_t, std::shared_ptr<net::abortable_call>> calls;
  /// Every call under way, foreman's own included.
  std::unordered_set<std::shared_ptr<net::abortable_call>> in_flight;
  /// Told how far each streamed run has come.
  std::vector<job_progress_listener_actor> progress_listeners;
  /// Every runner alive, and those waiting for a call.
  std::vector<call_runner_actor> runners;
  std::vector<call_runner_actor> idle_runners;

  ~target_client_state() {
    // Runners blocked on the target must not outlive foreman's shutdown:
    // abort their calls, then let them go once they answer.
    for (auto& call : in_flight)
      call->abort();
    for (auto& runner : runners)
      caf::anon_send_exit(runner, caf::exit_reason::user_shutdown);
  }
};

using client_pointer = target_client_actor::stateful_pointer<target_client_state>;

void retire(client_pointer self, const call_runner_actor& runner) {
  auto& runners = self->state.runners;
  for (auto i = runners.begin(); i != runners.end(); ++i)
    if (*i == runner) {
      runners.erase(i);
      break;
    }
}

/// Hands one exchange to an idle runner (or a new one); `done` sees its
/// reply.
template <class OnReply>
void start_exchange(client_pointer self, exchange x, OnReply done) {
  auto& st = self->state;
  call_runner_actor runner;
  if (!st.idle_runners.empty()) {
    runner = std::move(st.idle_runners.back());
    st.idle_runners.pop_back();
  } else {
    runner = self->spawn<caf::detached>(call_runner, st.config.target);
    st.runners.push_back(runner);
  }
  auto call = x.call;
  st.in_flight.insert(call);
  self->request(runner, caf::infinite, call_atom_v, std::move(x))
    .then(
      [=](target_reply& reply) mutable {
        auto& st = self->state;
        st.in_flight.erase(call);
        if (st.idle_runners.size() < max_idle_runners) {
          st.idle_runners.push_back(runner);
        } else {
          retire(self, runner);
          self->send_exit(runner, caf::exit_reason::user_shutdown);
        }
        done(reply);
      },
      [=](caf::error& err) mutable {
        self->state.in_flight.erase(call);
        retire(self, runner);
        target_reply failed{target_failure::connection, 0, describe(err)};
        done(failed);
      });
}

target_client_actor::behavior_type
target_client(client_pointer self, target_client_config config) {
  self->state.config = std::move(config);
  self->state.pool = std::make_shared<net::connection_pool>();
  return {
    [=](call_atom, target_request& request, chunk_sink_actor& sink) {
      auto rp = self->make_response_promise<target_reply>();
      auto call = std::make_shared<net::abortable_call>(self->state.pool);
      auto job_id = request.job_id;
      if (job_id != 0)
        self->state.calls[job_id] = call;
      auto kind = request.kind;
      auto run = request.purpose == target_purpose::run;
      auto streamed = run && kind != job_kind::embed;
      // foreman's own calls (job id 0) are nobody's progress.
      auto reports_progress = streamed && job_id != 0;
      exchange x{"POST", net::target_path(kind), net::target_body(request),
                 self->state.config.read_timeout,
                 streamed ? std::optional<job_kind>{kind} : std::nullopt, job_id,
                 request.client, call, std::move(sink),
                 reports_progress ? self->state.progress_listeners
                                  : std::vector<job_progress_listener_actor>{},
                 self->state.config.progress_interval};
      start_exchange(self, std::move(x), [=](target_reply& reply) mutable {
        auto i = self->state.calls.find(job_id);
        if (i != self->state.calls.end() && i->second == call)
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
    [=](abort_atom, int64_t job_id) {
      auto i = self->state.calls.find(job_id);
      if (i != self->state.calls.end()) {
        self->state.config.log.info("target_client", "aborting a job's call",
                                    {{"job_id", job_id}});
        i->second->abort();
      }
    },
    [=](subscribe_atom, const job_progress_listener_actor& listener) {
      self->state.progress_listeners.push_back(listener);
    },
    [=](ps_atom) {
      auto rp = self->make_response_promise<std::vector<resident_model>>();
      exchange x{"GET", "/api/ps", "", self->state.config.ps_timeout,
                 std::nullopt, 0, "",
                 std::make_shared<net::abortable_call>(self->state.pool),
                 chunk_sink_actor{}, {}, std::chrono::milliseconds{0}};
      start_exchange(self, std::move(x), [=](target_reply& reply) mutable {
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
  // Detached too: every call crosses the client several times (request,
  // chunks, reply), and a thread of its own wakes on each message at once,
  // where the work-stealing scheduler's idle workers notice new work only
  // at their next poll. The client itself never blocks.
  return sys.spawn<caf::detached>(target_client, std::move(config));
}

} // namespace foreman
