#pragma once

// Runs the foreman binary as a child process on an ephemeral loopback port,
// for tests that kill or signal it.

#include <memory>
#include <string>
#include <vector>

#include "child_process.hpp"

namespace foreman_test {

class foreman_process {
public:
  /// Starts foreman with `--listen 127.0.0.1:0` plus `args`; throws
  /// std::runtime_error if it does not report its port within 20 s.
  explicit foreman_process(const std::vector<std::string>& args,
                           const std::vector<std::string>& environment = {});

  /// "http://127.0.0.1:PORT"
  const std::string& url() const {
    return url_;
  }

  child_process& process() {
    return *process_;
  }

private:
  std::unique_ptr<child_process> process_;
  std::string url_;
};

} // namespace foreman_test
