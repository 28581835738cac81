#pragma once

// Many HTTP/1.1 callers at once, each on its own connection, driven by one
// thread with nonblocking sockets and epoll: thousands of callers that wait
// for their answers cost the load generator one thread, not thousands.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace foreman_loadgen {

/// One request: a fresh connection sends it, reads the whole response and
/// closes.
struct http_call {
  std::string method;
  std::string path;
  std::string body; // sent as application/json when not empty
};

/// The request as it goes on the wire to 127.0.0.1:`port` (HTTP/1.1, so
/// the connection stays open unless the server closes it).
std::string http_request_text(const http_call& call, uint16_t port);

struct call_result {
  int status = 0;    // 0: no complete response (see error)
  std::string body;  // chunk framing removed
  std::string error; // why there is no response
  std::chrono::steady_clock::time_point ended; // answered or failed
};

/// Counts so far; each call is counted once per stage it has reached.
struct callers_progress {
  std::size_t connected = 0; // connections established
  std::size_t sent = 0;      // requests written in full
  std::size_t answered = 0;  // complete responses read
  std::size_t failed = 0;    // calls that ended without a response
};

class concurrent_callers {
public:
  struct options {
    uint16_t port = 0; // on 127.0.0.1
    /// Connections being opened or written at once; the rest wait their
    /// turn, so that the server's listen backlog is never overrun.
    std::size_t max_connecting = 64;
    /// For the whole run: calls not finished by then fail as timed out.
    std::chrono::milliseconds timeout{std::chrono::minutes{5}};
  };

  /// Raises this process's open-file limit (raise_open_file_limit) and
  /// starts the calls on the loop's thread. Throws std::runtime_error when
  /// the limit cannot hold one descriptor per call, or epoll cannot start.
  concurrent_callers(const options& settings, std::vector<http_call> calls);

  /// stop()s the calls still under way.
  ~concurrent_callers();

  concurrent_callers(const concurrent_callers&) = delete;
  concurrent_callers& operator=(const concurrent_callers&) = delete;

  callers_progress progress() const;

  /// Waits up to `timeout` for every call to end (answered or failed);
  /// true when all have.
  bool wait_finished(std::chrono::milliseconds timeout);

  /// Ends every call still under way as failed, closing its connection,
  /// and joins the loop's thread; results() are then complete.
  void stop();

  /// One result per call, in the calls' order; only once wait_finished()
  /// has returned true or stop() has returned.
  const std::vector<call_result>& results() const;

private:
  struct connection;

  void run();
  void start_connections();
  void on_event(std::size_t index, uint32_t events);
  void write_request(std::size_t index);
  void read_response(std::size_t index);
  void finish(std::size_t index, bool answered, const std::string& error);
  void fail_unfinished(const std::string& error);

  options settings_;
  std::vector<http_call> calls_;
  std::vector<connection> connections_;
  std::vector<call_result> results_;
  std::size_t next_to_start_ = 0;
  std::size_t connecting_ = 0; // opened but request not yet written
  std::size_t unfinished_ = 0;
  int epoll_fd_ = -1;
  int stop_fd_ = -1; // an eventfd that wakes the loop to stop

  std::atomic<std::size_t> connected_{0};
  std::atomic<std::size_t> sent_{0};
  std::atomic<std::size_t> answered_{0};
  std::atomic<std::size_t> failed_{0};

  mutable std::mutex mutex_;
  std::condition_variable finished_changed_;
  bool finished_ = false;
  std::thread loop_;
};

/// Raises the soft limit on open files to the hard limit and returns the
/// limit now in force. Children started afterwards inherit it.
std::size_t raise_open_file_limit();

} // namespace foreman_loadgen
