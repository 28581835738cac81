#pragma once

// A child process for integration tests: started with extra environment
// variables, its output captured line by line (and echoed to the test's
// stderr), killed and reaped if the test forgets.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace foreman_test {

class child_process {
public:
  /// Starts `program` with `args` (not including argv[0]) and the current
  /// environment plus `extra_environment` entries ("NAME=value"). Throws
  /// std::runtime_error when it cannot be started.
  child_process(const std::string& program, const std::vector<std::string>& args,
                const std::vector<std::string>& extra_environment = {});

  /// Kills (SIGKILL) and reaps the child if it is still running.
  ~child_process();

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// The first output line (stdout or stderr, from the start) that satisfies
  /// `predicate`, waiting up to `timeout` for it to appear; nullopt at once
  /// when the child has closed its output without printing it.
  std::optional<std::string>
  wait_for_line(const std::function<bool(const std::string&)>& predicate,
                std::chrono::milliseconds timeout);

  /// The first output line starting with `prefix`.
  std::optional<std::string> wait_for_line(const std::string& prefix,
                                           std::chrono::milliseconds timeout);

  /// Every line captured so far.
  std::vector<std::string> lines();

  /// Sends a signal (e.g. SIGTERM) unless the child has already been reaped.
  void signal(int signal_number);

  /// Waits for the child to end: its exit code, or 128 + signal number when
  /// a signal ended it; nullopt if it is still running after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  pid_t pid() const {
    return pid_;
  }

private:
  void read_output(int fd);
  bool reap(bool block);

  std::string name_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable new_line_;
  std::vector<std::string> lines_;
  bool output_closed_ = false;
};

} // namespace foreman_test
