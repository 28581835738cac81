#pragma once

// A program the benchmark runs beside itself (foreman, the fake target):
// its stdout and stderr captured line by line, killed when the benchmark
// ends (and by the kernel if the benchmark dies first).

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace foreman_bench {

class child_process {
public:
  /// Starts `program` with `args` (without argv[0]). Call from the main
  /// thread only: the child is killed when the thread that started it ends.
  /// Throws std::runtime_error when it cannot be started.
  child_process(std::string label, const std::string& program,
                const std::vector<std::string>& args);

  /// Stops the child (SIGTERM, SIGKILL after a grace period) and reaps it.
  ~child_process();

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// The first output line containing `text`, waiting up to `timeout`;
  /// nullopt when it does not appear in time or the child's output closed.
  std::optional<std::string> wait_for_line(const std::string& text,
                                           std::chrono::milliseconds timeout);

  /// The last lines of output (a bounded tail), for error reports.
  std::string tail() const;

  /// SIGTERM, then SIGKILL when the child is still there after `grace`.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds{5000});

  const std::string& label() const {
    return label_;
  }

  /// For reading /proc/<pid>/ while the child runs.
  pid_t pid() const {
    return pid_;
  }

private:
  void read_output(int fd);
  bool reap(bool block);

  std::string label_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> lines_; // the most recent lines only
  std::size_t dropped_ = 0;       // older lines no longer kept
  bool output_closed_ = false;
};

/// SIGKILLs every child not yet reaped: for a benchmark that is being
/// interrupted and must not leave them writing into what it removes.
void kill_running_children();

/// The port in a line such as "... listening on 127.0.0.1:41234, ...";
/// 0 when there is none.
int port_from_listening_line(const std::string& line);

} // namespace foreman_bench
