#pragma once

#include <functional>

#include <caf/fwd.hpp>

#include "messages/interfaces.hpp"
#include "net/answer_writer.hpp"

namespace foreman {

/// Spawns a WAITING CALLER for one synchronous request: it submits the job
/// to `worker` with itself as the job's sink, writes the chunks and the
/// outcome onto the caller's exchange, cancels the job when the caller
/// disconnects, answers 503 when foreman stops first, and quits when the
/// answer is written. `on_exit` runs when it quits. No thread waits for the
/// caller: the actor runs only when a message arrives.
waiting_caller_actor spawn_waiting_caller(caf::actor_system& sys, worker_actor worker,
                                          net::answer_writer answer,
                                          std::function<void()> on_exit);

} // namespace foreman
