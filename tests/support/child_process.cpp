#include "child_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <spawn.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace foreman_test {

namespace {

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (auto& text : strings)
    pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

} // namespace

child_process::child_process(const std::string& program,
                             const std::vector<std::string>& args,
                             const std::vector<std::string>& extra_environment)
  : name_(base_name(program)) {
  int output[2];
  // Close-on-exec: only the dup2'ed copies reach this child, so concurrent
  // children never keep each other's pipes open.
  if (pipe2(output, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2: " + std::string(std::strerror(errno)));

  std::vector<std::string> argv_strings{program};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<std::string> env_strings;
  for (char** entry = environ; *entry; ++entry)
    env_strings.emplace_back(*entry);
  env_strings.insert(env_strings.end(), extra_environment.begin(),
                     extra_environment.end());
  auto argv = c_strings(argv_strings);
  auto envp = c_strings(env_strings);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, output[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, output[1], STDERR_FILENO);
  const int error = posix_spawn(&pid_, program.c_str(), &actions, nullptr,
                                argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(output[1]);
  if (error != 0) {
    close(output[0]);
    throw std::runtime_error("cannot start " + program + ": "
                             + std::strerror(error));
  }
  reader_ = std::thread([this, fd = output[0]] { read_output(fd); });
}

child_process::~child_process() {
  if (!exit_status_) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
  if (reader_.joinable())
    reader_.join();
}

void child_process::read_output(int fd) {
  std::string pending;
  char buffer[4096];
  for (;;) {
    const auto count = ::read(fd, buffer, sizeof buffer);
    if (count < 0 && errno == EINTR)
      continue;
    if (count <= 0)
      break;
    pending.append(buffer, static_cast<std::size_t>(count));
    for (auto newline = pending.find('\n'); newline != std::string::npos;
         newline = pending.find('\n')) {
      std::string line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      std::cerr << '[' << name_ << "] " << line << std::endl;
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.push_back(std::move(line));
      new_line_.notify_all();
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (!pending.empty()) {
    std::cerr << '[' << name_ << "] " << pending << std::endl;
    lines_.push_back(std::move(pending));
  }
  output_closed_ = true;
  new_line_.notify_all();
  close(fd);
}

std::optional<std::string> child_process::wait_for_line(
  const std::function<bool(const std::string&)>& predicate,
  std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  std::size_t checked = 0;
  std::optional<std::string> found;
  new_line_.wait_for(lock, timeout, [&] {
    for (; checked < lines_.size(); ++checked)
      if (predicate(lines_[checked])) {
        found = lines_[checked];
        return true;
      }
    return output_closed_;
  });
  return found;
}

std::optional<std::string> child_process::wait_for_line(const std::string& prefix,
                                                        std::chrono::milliseconds timeout) {
  return wait_for_line(
    [&prefix](const std::string& line) { return line.rfind(prefix, 0) == 0; },
    timeout);
}

std::vector<std::string> child_process::lines() {
  std::lock_guard<std::mutex> lock(mutex_);
  return lines_;
}

void child_process::signal(int signal_number) {
  if (!exit_status_)
    ::kill(pid_, signal_number);
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // waitpid has no timeout; poll it at a short, bounded interval.
  while (!reap(false)) {
    if (std::chrono::steady_clock::now() >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return exit_status_;
}

bool child_process::reap(bool block) {
  if (exit_status_)
    return true;
  int status = 0;
  pid_t result;
  do {
    result = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (result < 0 && errno == EINTR);
  if (result != pid_)
    return false;
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return true;
}

} // namespace foreman_test
