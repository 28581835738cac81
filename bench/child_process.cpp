#include "child_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <set>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace foreman_bench {

namespace {

constexpr std::size_t kept_lines = 200;

std::mutex running_mutex;
std::set<pid_t> running;  // children started and not yet reaped
bool interrupted = false; // kill_running_children() was called: start no more

} // namespace

child_process::child_process(std::string label, const std::string& program,
                             const std::vector<std::string>& args)
  : label_(std::move(label)) {
  int output[2];
  if (pipe2(output, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2: " + std::string(std::strerror(errno)));

  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls are allowed (other threads may hold locks).
  std::vector<std::string> strings{program};
  strings.insert(strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& text : strings)
    argv.push_back(text.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();

  // Held until the child is in `running`, so that kill_running_children()
  // sees every child ever started.
  std::unique_lock<std::mutex> lock(running_mutex);
  if (interrupted) {
    close(output[0]);
    close(output[1]);
    throw std::runtime_error("interrupted: " + label_ + " is not started");
  }
  pid_ = fork();
  if (pid_ < 0) {
    const int error = errno;
    close(output[0]);
    close(output[1]);
    throw std::runtime_error("fork: " + std::string(std::strerror(error)));
  }
  if (pid_ == 0) {
    // The benchmark may die without cleaning up: take the child with it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(127);
    dup2(output[1], STDOUT_FILENO);
    dup2(output[1], STDERR_FILENO);
    // Signals blocked in the benchmark stay blocked across exec; unblock.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(program.c_str(), argv.data());
    const char message[] = "exec failed\n";
    [[maybe_unused]] auto ignored = write(STDERR_FILENO, message, sizeof message - 1);
    _exit(127);
  }
  running.insert(pid_);
  lock.unlock();
  close(output[1]);
  reader_ = std::thread([this, fd = output[0]] { read_output(fd); });
}

child_process::~child_process() {
  stop();
  if (reader_.joinable())
    reader_.join();
}

void child_process::stop(std::chrono::milliseconds grace) {
  if (reaped_)
    return;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (!reap(false)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      reap(true);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

bool child_process::reap(bool block) {
  if (reaped_)
    return true;
  int status = 0;
  pid_t result;
  do {
    result = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (result < 0 && errno == EINTR);
  if (result == pid_ || (result < 0 && errno == ECHILD)) {
    reaped_ = true;
    std::lock_guard<std::mutex> lock(running_mutex);
    running.erase(pid_);
  }
  return reaped_;
}

void child_process::read_output(int fd) {
  std::string pending;
  char buffer[4096];
  auto keep = [this](std::string line) {
    std::lock_guard<std::mutex> lock(mutex_);
    lines_.push_back(std::move(line));
    if (lines_.size() > kept_lines) {
      lines_.pop_front();
      ++dropped_;
    }
    changed_.notify_all();
  };
  for (;;) {
    const auto count = ::read(fd, buffer, sizeof buffer);
    if (count < 0 && errno == EINTR)
      continue;
    if (count <= 0)
      break;
    pending.append(buffer, static_cast<std::size_t>(count));
    for (auto newline = pending.find('\n'); newline != std::string::npos;
         newline = pending.find('\n')) {
      keep(pending.substr(0, newline));
      pending.erase(0, newline + 1);
    }
  }
  if (!pending.empty())
    keep(std::move(pending));
  close(fd);
  std::lock_guard<std::mutex> lock(mutex_);
  output_closed_ = true;
  changed_.notify_all();
}

std::optional<std::string>
child_process::wait_for_line(const std::string& text,
                             std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  std::optional<std::string> found;
  changed_.wait_for(lock, timeout, [&] {
    for (const auto& line : lines_)
      if (line.find(text) != std::string::npos) {
        found = line;
        return true;
      }
    return output_closed_;
  });
  return found;
}

std::string child_process::tail() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string text;
  if (dropped_ > 0)
    text += "  [" + label_ + "] ... " + std::to_string(dropped_)
            + " earlier lines\n";
  for (const auto& line : lines_)
    text += "  [" + label_ + "] " + line + "\n";
  return text;
}

void kill_running_children() {
  std::lock_guard<std::mutex> lock(running_mutex);
  interrupted = true;
  for (const auto pid : running) {
    ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

int port_from_listening_line(const std::string& line) {
  const std::string marker = "listening on ";
  const auto at = line.find(marker);
  if (at == std::string::npos)
    return 0;
  auto end = line.find_first_of(", ", at + marker.size());
  const auto address = line.substr(at + marker.size(),
                                   end == std::string::npos ? std::string::npos
                                                            : end - at - marker.size());
  const auto colon = address.rfind(':');
  if (colon == std::string::npos)
    return 0;
  try {
    return std::stoi(address.substr(colon + 1));
  } catch (const std::exception&) {
    return 0;
  }
}

} // namespace foreman_bench
