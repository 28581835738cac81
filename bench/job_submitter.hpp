#pragma once

// Many keep-alive clients submitting jobs through POST /jobs back to back:
// the submit throughput figure and the scale part's fill.

#include "harness.hpp"
#include "keep_alive_clients.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace foreman_bench {

/// A chat job (one short user message) for the model every part warms.
extern const std::string submitted_model;

class job_submitter {
public:
  /// `clients` connections to foreman at `port` send POST /jobs until
  /// `max_jobs` have been sent or `duration` has passed. An answer other
  /// than 202 with the job's id is a failed request of `phase`.
  job_submitter(int port, int clients, std::size_t max_jobs, milliseconds duration,
                std::string phase);

  /// Answers so far, accepted or not.
  std::size_t answered() const {
    return senders_->answered();
  }

  /// No more jobs are sent; those under way are answered first.
  void stop_sending() {
    senders_->stop_sending();
  }

  /// True once every client has closed, within `timeout`. Counts the
  /// clients whose connection failed as failed requests of the phase.
  bool wait_finished(milliseconds timeout);

  // Once wait_finished() has returned true:

  /// The ids of the accepted jobs, in the order of their answers.
  const std::vector<long long>& accepted_ids() const {
    return accepted_;
  }
  /// From the first job sent to the last answer.
  double seconds() const;

private:
  std::string phase_;
  std::vector<long long> accepted_; // written by the clients' thread until it ends
  std::unique_ptr<foreman_loadgen::keep_alive_clients> senders_;
  bool counted_ = false;
};

} // namespace foreman_bench
