#include "deterministic_fixture.hpp"

#include <algorithm>

#include <boost/test/unit_test.hpp>

using namespace foreman;

namespace foreman_test {

namespace {

struct fake_target_state {
  static inline const char* name = "fake_target";
  std::shared_ptr<target_calls> log;
  std::deque<caf::typed_response_promise<target_reply>> held;
};

fake_target_actor::behavior_type
fake_target(fake_target_actor::stateful_pointer<fake_target_state> self,
            std::shared_ptr<target_calls> log) {
  self->state.log = std::move(log);
  return {
    [=](call_atom, const target_request& request, const chunk_sink_actor&) {
      auto& st = self->state;
      st.log->calls.push_back(request);
      st.held.push_back(self->make_response_promise<target_reply>());
      return st.held.back();
    },
    [=](abort_atom, int64_t job_id) { self->state.log->aborts.push_back(job_id); },
    // Its calls stream nothing, so no listener has anything to hear.
    [=](subscribe_atom, const job_progress_listener_actor&) {},
    [=](ps_atom) {
      std::vector<resident_model> models;
      for (auto& key : self->state.log->residents)
        models.push_back(resident_model{key, 0});
      return models;
    },
    [=](release_atom, const target_reply& reply) {
      auto& st = self->state;
      if (st.held.empty()) {
        BOOST_ERROR("released a call to the fake target, but none is held");
        return;
      }
      st.held.front().deliver(reply);
      st.held.pop_front();
    },
  };
}

} // namespace

fake_target_actor spawn_fake_target(caf::actor_system& sys,
                                    std::shared_ptr<target_calls> log) {
  return sys.spawn(fake_target, std::move(log));
}

foreman::inventory_actor
spawn_fake_inventory(caf::actor_system& sys, std::shared_ptr<inventory_notes> log) {
  return sys.spawn([log](inventory_actor::pointer) -> inventory_actor::behavior_type {
    return {
      [=](residents_atom) { return log->residents; },
      [=](loaded_atom, const std::string& key) {
        if (std::find(log->residents.begin(), log->residents.end(), key)
            == log->residents.end())
          log->residents.push_back(key);
      },
      [=](unloaded_atom, const std::string& key) {
        log->residents.erase(
          std::remove(log->residents.begin(), log->residents.end(), key),
          log->residents.end());
      },
      [=](poll_atom) {},
      [=](warm_atom) {},
      [=](health_atom) {
        target_health health;
        health.reachable = true;
        health.residents = log->residents;
        return health;
      },
    };
  });
}

foreman::metrics_actor spawn_fake_metrics(caf::actor_system& sys,
                                          std::shared_ptr<metric_reports> log) {
  return sys.spawn([log](metrics_actor::pointer) -> metrics_actor::behavior_type {
    return {
      [=](const job_submitted_metric&) {},
      [=](const job_started_metric&) {},
      [=](const job_finished_metric& x) { log->finished.push_back(x.state); },
      [=](const model_load_metric& x) { log->model_loads.push_back(x.model_key); },
      [=](const target_error_metric& x) { log->target_errors.push_back(x.kind); },
      [=](const webhook_metric& x) { log->webhook_outcomes.push_back(x.outcome); },
      [=](const http_request_metric&) {},
      [=](metrics_atom) { return std::string{}; },
    };
  });
}

} // namespace foreman_test
