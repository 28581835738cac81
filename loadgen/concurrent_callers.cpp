#include "concurrent_callers.hpp"

#include "http_response_reader.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <cstring>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace foreman_loadgen {

namespace {

using steady = std::chrono::steady_clock;

// epoll data of the stop eventfd; connections use their call's index.
constexpr uint64_t stop_marker = UINT64_MAX;

// Descriptors the process holds besides the calls' connections (the loop's
// own, standard streams, children's pipes).
constexpr std::size_t spare_descriptors = 64;

std::string error_text(const std::string& what, int error) {
  return what + ": " + std::strerror(error);
}

} // namespace

std::string http_request_text(const http_call& call, uint16_t port) {
  std::string text = call.method + " " + call.path + " HTTP/1.1\r\nHost: 127.0.0.1:"
                     + std::to_string(port) + "\r\nUser-Agent: foreman-loadgen\r\n";
  if (!call.body.empty())
    text += "Content-Type: application/json\r\n";
  if (!call.body.empty() || call.method == "POST" || call.method == "PUT")
    text += "Content-Length: " + std::to_string(call.body.size()) + "\r\n";
  return text + "\r\n" + call.body;
}

struct concurrent_callers::connection {
  enum class stage { waiting, connecting, writing, reading, done };
  stage current = stage::waiting;
  int fd = -1;
  std::string request; // until written in full
  std::size_t written = 0;
  http_response_reader reader;
};

std::size_t raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
    throw std::runtime_error(error_text("getrlimit(RLIMIT_NOFILE)", errno));
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
      throw std::runtime_error(error_text("setrlimit(RLIMIT_NOFILE)", errno));
  }
  return limit.rlim_cur == RLIM_INFINITY ? SIZE_MAX
                                         : static_cast<std::size_t>(limit.rlim_cur);
}

concurrent_callers::concurrent_callers(const options& settings, std::vector<http_call> calls)
  : settings_(settings), calls_(std::move(calls)), connections_(calls_.size()),
    results_(calls_.size()), unfinished_(calls_.size()) {
  const auto limit = raise_open_file_limit();
  if (limit < calls_.size() + spare_descriptors)
    throw std::runtime_error("the open-file limit (" + std::to_string(limit)
                             + ") cannot hold " + std::to_string(calls_.size())
                             + " connections; raise the hard limit (ulimit -Hn)");
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0)
    throw std::runtime_error(error_text("epoll_create1", errno));
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.u64 = stop_marker;
  if (stop_fd_ < 0 || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &wake) != 0) {
    const int error = errno;
    if (stop_fd_ >= 0)
      close(stop_fd_);
    close(epoll_fd_);
    throw std::runtime_error(error_text("eventfd", error));
  }
  loop_ = std::thread([this] { run(); });
}

concurrent_callers::~concurrent_callers() {
  stop();
  close(stop_fd_);
  close(epoll_fd_);
}

void concurrent_callers::stop() {
  if (!loop_.joinable())
    return;
  const uint64_t one = 1;
  [[maybe_unused]] const auto written = write(stop_fd_, &one, sizeof one);
  loop_.join();
}

callers_progress concurrent_callers::progress() const {
  return {connected_.load(), sent_.load(), answered_.load(), failed_.load()};
}

bool concurrent_callers::wait_finished(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return finished_changed_.wait_for(lock, timeout, [this] { return finished_; });
}

const std::vector<call_result>& concurrent_callers::results() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!finished_)
    throw std::logic_error("concurrent_callers::results() before every call ended");
  return results_;
}

void concurrent_callers::run() {
  const auto deadline = steady::now() + settings_.timeout;
  std::vector<epoll_event> events(1024);
  start_connections();
  while (unfinished_ > 0) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - steady::now());
    if (left.count() <= 0) {
      fail_unfinished("timed out after " + std::to_string(settings_.timeout.count())
                      + " ms");
      break;
    }
    const int ready = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
    if (ready < 0) {
      if (errno == EINTR)
        continue;
      fail_unfinished(error_text("epoll_wait", errno));
      break;
    }
    bool stopping = false;
    for (int i = 0; i < ready; ++i) {
      if (events[static_cast<std::size_t>(i)].data.u64 == stop_marker)
        stopping = true;
      else
        on_event(static_cast<std::size_t>(events[static_cast<std::size_t>(i)].data.u64),
                 events[static_cast<std::size_t>(i)].events);
    }
    if (stopping) {
      fail_unfinished("stopped before the call ended");
      break;
    }
    start_connections();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
  }
  finished_changed_.notify_all();
}

void concurrent_callers::start_connections() {
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(settings_.port);
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  while (connecting_ < settings_.max_connecting && next_to_start_ < calls_.size()) {
    const auto index = next_to_start_++;
    auto& c = connections_[index];
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      finish(index, false, error_text("socket", errno));
      continue;
    }
    c.current = connection::stage::connecting;
    ++connecting_;
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0
        && errno != EINPROGRESS) {
      finish(index, false, error_text("connect", errno));
      continue;
    }
    epoll_event interest{};
    interest.events = EPOLLOUT;
    interest.data.u64 = index;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &interest) != 0) {
      finish(index, false, error_text("epoll_ctl", errno));
      continue;
    }
    c.request = http_request_text(calls_[index], settings_.port);
  }
}

void concurrent_callers::on_event(std::size_t index, uint32_t events) {
  auto& c = connections_[index];
  switch (c.current) {
    case connection::stage::connecting: {
      int error = 0;
      socklen_t size = sizeof error;
      if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0)
        error = errno;
      if (error != 0) {
        finish(index, false, error_text("connect", error));
        return;
      }
      if ((events & EPOLLOUT) == 0)
        return;
      ++connected_;
      c.current = connection::stage::writing;
      write_request(index);
      return;
    }
    case connection::stage::writing:
      write_request(index);
      return;
    case connection::stage::reading:
      read_response(index);
      return;
    case connection::stage::waiting:
    case connection::stage::done:
      return;
  }
}

void concurrent_callers::write_request(std::size_t index) {
  auto& c = connections_[index];
  while (c.written < c.request.size()) {
    const auto n = send(c.fd, c.request.data() + c.written, c.request.size() - c.written,
                        MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        finish(index, false, error_text("send", errno));
      return; // else EPOLLOUT says when there is room again
    }
    c.written += static_cast<std::size_t>(n);
  }
  std::string().swap(c.request);
  --connecting_;
  ++sent_;
  c.current = connection::stage::reading;
  epoll_event interest{};
  interest.events = EPOLLIN;
  interest.data.u64 = index;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &interest) != 0)
    finish(index, false, error_text("epoll_ctl", errno));
}

void concurrent_callers::read_response(std::size_t index) {
  auto& c = connections_[index];
  char buffer[16 * 1024];
  for (;;) {
    const auto n = recv(c.fd, buffer, sizeof buffer, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        finish(index, false, error_text("recv", errno));
      return;
    }
    const auto read = n == 0 ? c.reader.connection_closed()
                             : c.reader.feed(buffer, static_cast<std::size_t>(n));
    if (read == http_response_reader::progress::complete) {
      finish(index, true, {});
      return;
    }
    if (read == http_response_reader::progress::malformed) {
      finish(index, false, c.reader.error());
      return;
    }
  }
}

void concurrent_callers::finish(std::size_t index, bool answered, const std::string& error) {
  auto& c = connections_[index];
  if (c.current == connection::stage::connecting || c.current == connection::stage::writing)
    --connecting_;
  if (c.fd >= 0)
    close(c.fd); // also leaves the epoll set
  c.fd = -1;
  auto& result = results_[index];
  result.ended = steady::now();
  if (answered) {
    result.status = c.reader.status();
    result.body = std::move(c.reader.body());
    ++answered_;
  } else {
    result.error = error;
    ++failed_;
  }
  c.current = connection::stage::done;
  c.reader = http_response_reader{};
  std::string().swap(c.request);
  --unfinished_;
}

void concurrent_callers::fail_unfinished(const std::string& error) {
  static const char* const stage_names[] = {"not started", "connecting",
                                            "writing the request",
                                            "waiting for the response"};
  for (std::size_t index = 0; index < connections_.size(); ++index) {
    const auto stage = connections_[index].current;
    if (stage != connection::stage::done)
      finish(index, false,
             error + " (" + stage_names[static_cast<int>(stage)] + ")");
  }
}

} // namespace foreman_loadgen
