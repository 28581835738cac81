#include "job_submitter.hpp"

namespace foreman_bench {

const std::string submitted_model = "llama3.2";

job_submitter::job_submitter(int port, int clients, std::size_t max_jobs,
                             milliseconds duration, std::string phase)
  : phase_(std::move(phase)) {
  foreman_loadgen::keep_alive_load load;
  load.port = static_cast<uint16_t>(port);
  load.connections = static_cast<std::size_t>(clients);
  load.request = {"POST", "/jobs", chat_job_body(submitted_model, "hi")};
  load.duration = duration;
  load.max_requests = max_jobs;
  senders_ = std::make_unique<foreman_loadgen::keep_alive_clients>(
    load, [this](int status, const std::string& body) {
      const auto id = status == 202 ? job_id_of(body) : -1;
      if (id >= 0)
        accepted_.push_back(id);
      else
        failures.add(phase_, http_result{status, body, {}});
    });
}

bool job_submitter::wait_finished(milliseconds timeout) {
  if (!senders_->wait_finished(timeout))
    return false;
  if (!counted_) {
    counted_ = true;
    add_failed_clients(phase_, senders_->totals());
  }
  return true;
}

double job_submitter::seconds() const {
  const auto& totals = senders_->totals();
  return ms_between(totals.started, totals.last_answer) / 1000.0;
}

} // namespace foreman_bench
