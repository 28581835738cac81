#pragma once

// Busy clients: each keeps one HTTP/1.1 connection open and sends the same
// request on it back to back, the next as soon as the previous answer is in.
// One thread drives them all with nonblocking sockets and epoll, so the load
// generator takes little of the CPU it shares with the server it measures
// (a thread per client costs more than a server that answers in 50 µs).

#include "concurrent_callers.hpp"
#include "http_response_reader.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace foreman_loadgen {

struct keep_alive_load {
  uint16_t port = 0; // on 127.0.0.1
  std::size_t connections = 64;
  http_call request; // every client sends this one again and again
  /// No request is sent once this much time has passed since the start...
  std::chrono::milliseconds duration{5000};
  /// ...nor beyond this many requests, all clients together.
  std::size_t max_requests = SIZE_MAX;
  /// Clients still waiting when no answer at all has come for this long
  /// fail (a server that stopped answering ends the run).
  std::chrono::milliseconds answer_timeout{30000};
};

/// What a finished run did.
struct keep_alive_totals {
  std::size_t sent = 0;
  std::size_t answered = 0;      // complete responses, any status
  std::size_t failed = 0;        // clients whose connection failed
  std::vector<std::string> errors; // why, for the first few
  std::chrono::steady_clock::time_point started;     // first request sent
  std::chrono::steady_clock::time_point last_answer; // or started, without answers
};

class keep_alive_clients {
public:
  /// Called on the loop's thread with each complete response.
  using answer_handler = std::function<void(int status, const std::string& body)>;

  /// Opens every connection (throws std::runtime_error when one cannot be
  /// opened), then starts sending on the loop's thread.
  keep_alive_clients(keep_alive_load load, answer_handler on_answer);

  /// Abandons the requests still under way and joins the loop's thread.
  ~keep_alive_clients();

  keep_alive_clients(const keep_alive_clients&) = delete;
  keep_alive_clients& operator=(const keep_alive_clients&) = delete;

  /// Complete responses so far.
  std::size_t answered() const {
    return answered_.load();
  }

  /// Sends no more requests; each client closes once its answer is in.
  void stop_sending() {
    stop_sending_ = true;
  }

  /// Waits up to `timeout` for every client to have closed; true when all
  /// have.
  bool wait_finished(std::chrono::milliseconds timeout);

  /// Only once wait_finished() has returned true.
  const keep_alive_totals& totals() const;

private:
  struct client {
    int fd = -1;
    std::size_t written = 0; // of the request under way
    http_response_reader reader;
  };

  void run();
  void send_next(std::size_t index);
  void write_request(std::size_t index);
  void read_response(std::size_t index);
  void close_client(std::size_t index, const std::string& error);

  keep_alive_load load_;
  answer_handler on_answer_;
  std::string request_text_;
  std::vector<client> clients_;
  std::size_t open_ = 0;
  int epoll_fd_ = -1;
  int stop_fd_ = -1; // an eventfd that wakes the loop to abandon the run
  std::atomic<bool> stop_sending_{false};
  std::atomic<std::size_t> answered_{0};
  keep_alive_totals totals_;

  mutable std::mutex mutex_;
  std::condition_variable finished_changed_;
  bool finished_ = false;
  std::thread loop_;
};

} // namespace foreman_loadgen
