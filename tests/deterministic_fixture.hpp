#pragma once

// Actors on CAF's deterministic test scheduler: they run only when the test
// runs them, and time passes only when the test advances it. The actor under
// test meets fakes of its neighbours with the same typed interfaces, which
// record what they are sent into logs the test reads.

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "messages/add_message_types.hpp"
#include "messages/interfaces.hpp"

namespace foreman_test {

/// The test scheduler's simulated time as actors read it. The wall clock
/// follows it from a fixed date until the test sets it forwards or back.
class simulated_clock : public foreman::time_source {
public:
  explicit simulated_clock(caf::scheduler::test_coordinator& sched)
    : sched_(sched) {
  }

  int64_t steady_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
             sched_.clock().now().time_since_epoch())
      .count();
  }

  int64_t wall_ms() const override {
    return wall_at_zero_ms + wall_offset_ms + steady_ms();
  }

  /// Sets the wall clock (only) forwards or backwards.
  void set_wall_clock_by(std::chrono::milliseconds shift) {
    wall_offset_ms += shift.count();
  }

private:
  // 2026-01-01T00:00:00Z
  static constexpr int64_t wall_at_zero_ms = 1767225600000;
  int64_t wall_offset_ms = 0;
  caf::scheduler::test_coordinator& sched_;
};

/// The answer to a request the test made, once the scheduler delivered it.
template <class T>
struct answer {
  std::optional<T> value;
  std::optional<caf::error> error;

  bool arrived() const {
    return value || error;
  }
};

struct deterministic_config : caf::actor_system_config {
  deterministic_config() {
    set("scheduler.policy", caf::atom("testing"));
    foreman::add_message_types(*this);
  }
};

class deterministic_fixture {
public:
  deterministic_fixture()
    : sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
      clock(std::make_shared<simulated_clock>(sched)),
      log(foreman::log_level::debug, foreman::log_format::json,
          [this](const std::string& line) { log_lines.push_back(line); }) {
    // Actors take a monotonic reading of 0 for "not yet".
    sched.clock().current_time += std::chrono::hours{1};
  }

  /// Ends every actor the test spawned; otherwise their timers would keep
  /// the scheduler busy for ever when the system stops.
  ~deterministic_fixture() {
    for (auto& actor : spawned)
      caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    sched.run();
  }

  deterministic_fixture(const deterministic_fixture&) = delete;
  deterministic_fixture& operator=(const deterministic_fixture&) = delete;

  /// Keeps `actor` to end it with the fixture.
  template <class Handle>
  Handle track(Handle actor) {
    spawned.push_back(caf::actor_cast<caf::actor>(actor));
    return actor;
  }

  /// Runs every message until no actor has one.
  void run() {
    sched.run();
  }

  /// Runs every message not meant for `held`, which keeps its mailbox.
  template <class Handle>
  void run_all_but(const Handle& held) {
    auto held_job = dynamic_cast<caf::resumable*>(
      caf::actor_cast<caf::abstract_actor*>(held));
    sched.run_jobs_filtered([&](caf::resumable* job) { return job != held_job; });
  }

  /// Runs the first message in `actor`'s mailbox, and only that one.
  template <class Handle>
  void run_one_message_of(const Handle& actor) {
    BOOST_REQUIRE(sched.prioritize(actor));
    sched.run_once();
  }

  /// Lets `span` of simulated time pass, firing the timers due, and runs
  /// what they set off.
  void advance(std::chrono::milliseconds span) {
    sched.advance_time(span);
    sched.run();
  }

  /// Sends a request from a helper actor; the answer is there once the
  /// scheduler has run.
  template <class T, class Handle, class... Ts>
  std::shared_ptr<answer<T>> ask(const Handle& dest, Ts... xs) {
    auto result = std::make_shared<answer<T>>();
    track(sys.spawn([=](caf::event_based_actor* self) {
      self->request(dest, caf::infinite, xs...)
        .then([=](T& x) { result->value = std::move(x); },
              [=](caf::error& err) { result->error = std::move(err); });
    }));
    return result;
  }

  deterministic_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched;
  std::shared_ptr<simulated_clock> clock;
  /// What the actors logged, as JSON lines.
  std::vector<std::string> log_lines;
  foreman::logger log;

private:
  std::vector<caf::actor> spawned;
};

// -- fake neighbours ----------------------------------------------------------

/// What the fake target client was asked, and what its /api/ps lists.
struct target_calls {
  std::vector<foreman::target_request> calls;
  std::vector<int64_t> aborts;
  std::vector<std::string> residents;
};

using release_atom = caf::atom_constant<caf::atom("release")>;

/// The TARGET CLIENT interface, plus the test's hand on the calls it holds:
/// every inference call waits until the test releases it with a reply.
using fake_target_actor = foreman::target_client_actor::extend<
  caf::reacts_to<release_atom, foreman::target_reply>>;

fake_target_actor spawn_fake_target(caf::actor_system& sys,
                                    std::shared_ptr<target_calls> log);

/// What the fake inventory answers as resident.
struct inventory_notes {
  std::vector<std::string> residents;
};

/// An inventory that takes the worker's word for loads and unloads and
/// polls nothing.
foreman::inventory_actor
spawn_fake_inventory(caf::actor_system& sys, std::shared_ptr<inventory_notes> log);

/// The metrics the fake metrics actor received.
struct metric_reports {
  std::vector<foreman::job_state> finished;
  std::vector<std::string> target_errors;
  std::vector<std::string> model_loads;
  std::vector<std::string> webhook_outcomes;
};

foreman::metrics_actor spawn_fake_metrics(caf::actor_system& sys,
                                          std::shared_ptr<metric_reports> log);

} // namespace foreman_test
