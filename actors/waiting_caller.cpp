#include "actors/waiting_caller.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/log.hpp"
#include "messages/errors.hpp"

namespace foreman {

namespace {

struct waiting_caller_state {
  static inline const char* name = "waiting_caller";
  std::optional<net::answer_writer> answer;
  worker_actor worker;
  /// 0 until the worker has stored the job.
  int64_t job_id = 0;
  bool caller_gone = false;
  /// Chunks that came before the job was accepted (durable).
  std::vector<std::string> early_chunks;
};

using caller_pointer = waiting_caller_actor::stateful_pointer<waiting_caller_state>;

/// The GPU does no work for callers who left.
void abandon(caller_pointer self) {
  auto& st = self->state;
  log_info("waiting_caller", "caller left, cancelling the job", {{"job_id", st.job_id}});
  caf::anon_send(st.worker, cancel_atom_v, st.job_id);
  self->quit();
}

/// Writes one chunk of the answer; false when the caller is gone (the job
/// is then cancelled).
bool write_chunk(caller_pointer self, const std::string& line) {
  if (self->state.answer->on_chunk(line))
    return true;
  self->state.caller_gone = true;
  abandon(self);
  return false;
}

waiting_caller_actor::behavior_type
waiting_caller(caller_pointer self, worker_actor worker, net::answer_writer answer,
               std::function<void()> on_exit) {
  auto& st = self->state;
  st.worker = worker;
  st.answer.emplace(std::move(answer));
  if (on_exit)
    self->attach_functor([on_exit] { on_exit(); });
  auto& req = st.answer->request();
  self
    ->request(worker, caf::infinite, submit_atom_v, req.spec,
              caf::actor_cast<job_sink_actor>(self), req.stream)
    .then(
      [=](const job_outcome& outcome) {
        if (!self->state.caller_gone)
          self->state.answer->on_outcome(outcome);
        self->quit();
      },
      [=](const caf::error& err) {
        if (!self->state.caller_gone)
          self->state.answer->on_failure(describe(err),
                                         has_code(err, foreman_errc::queue_full));
        self->quit();
      });
  return {
    [=](accepted_atom, const job& stored, int64_t position) {
      auto& st = self->state;
      st.job_id = stored.id;
      if (st.caller_gone)
        return abandon(self);
      st.answer->on_accepted(stored.id, position);
      for (auto& line : std::exchange(st.early_chunks, {}))
        if (!write_chunk(self, line))
          return;
    },
    [=](job_chunk& chunk) {
      // The run may start before the job is durable; its first chunks wait
      // for the acceptance, which comes once it is.
      if (self->state.job_id == 0)
        self->state.early_chunks.push_back(std::move(chunk.line));
      else
        write_chunk(self, chunk.line);
    },
    [=](gone_atom) {
      self->state.caller_gone = true;
      // Before the job is stored its id is unknown: the cancel waits for it.
      if (self->state.job_id != 0)
        abandon(self);
    },
    [=](drain_atom) {
      self->state.answer->on_shutdown();
      self->quit();
    },
  };
}

} // namespace

waiting_caller_actor spawn_waiting_caller(caf::actor_system& sys, worker_actor worker,
                                          net::answer_writer answer,
                                          std::function<void()> on_exit) {
  return sys.spawn(waiting_caller, std::move(worker), std::move(answer),
                   std::move(on_exit));
}

} // namespace foreman
