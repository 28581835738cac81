#include "keep_alive_clients.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace foreman_loadgen {

namespace {

using steady = std::chrono::steady_clock;

// epoll data of the stop eventfd; clients use their index.
constexpr uint64_t stop_marker = UINT64_MAX;

// Errors kept for the report; the rest are only counted.
constexpr std::size_t kept_errors = 5;

std::string error_text(const std::string& what, int error) {
  return what + ": " + std::strerror(error);
}

/// A connected, nonblocking socket to 127.0.0.1:`port`.
int open_connection(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error(error_text("socket", errno));
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(port);
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Blocking: a loopback connect completes at once, and every client is
  // connected before the first request goes out.
  if (connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0
      || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    const int error = errno;
    close(fd);
    throw std::runtime_error(error_text("connect to 127.0.0.1:" + std::to_string(port), error));
  }
  return fd;
}

} // namespace

keep_alive_clients::keep_alive_clients(keep_alive_load load, answer_handler on_answer)
  : load_(std::move(load)), on_answer_(std::move(on_answer)),
    request_text_(http_request_text(load_.request, load_.port)),
    clients_(load_.connections) {
  auto close_all = [this] {
    for (auto& c : clients_)
      if (c.fd >= 0)
        close(c.fd);
    if (stop_fd_ >= 0)
      close(stop_fd_);
    if (epoll_fd_ >= 0)
      close(epoll_fd_);
  };
  try {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0)
      throw std::runtime_error(error_text("epoll_create1", errno));
    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event wake{};
    wake.events = EPOLLIN;
    wake.data.u64 = stop_marker;
    if (stop_fd_ < 0 || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &wake) != 0)
      throw std::runtime_error(error_text("eventfd", errno));
    for (std::size_t index = 0; index < clients_.size(); ++index) {
      auto& c = clients_[index];
      c.fd = open_connection(load_.port);
      epoll_event interest{};
      interest.events = EPOLLIN;
      interest.data.u64 = index;
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &interest) != 0)
        throw std::runtime_error(error_text("epoll_ctl", errno));
    }
  } catch (...) {
    close_all();
    throw;
  }
  open_ = clients_.size();
  loop_ = std::thread([this] { run(); });
}

keep_alive_clients::~keep_alive_clients() {
  if (loop_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] const auto written = write(stop_fd_, &one, sizeof one);
    loop_.join();
  }
  close(stop_fd_);
  close(epoll_fd_);
}

bool keep_alive_clients::wait_finished(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return finished_changed_.wait_for(lock, timeout, [this] { return finished_; });
}

const keep_alive_totals& keep_alive_clients::totals() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!finished_)
    throw std::logic_error("keep_alive_clients::totals() before the run ended");
  return totals_;
}

void keep_alive_clients::run() {
  totals_.started = steady::now();
  totals_.last_answer = totals_.started;
  auto last_progress = totals_.started;
  for (std::size_t index = 0; index < clients_.size(); ++index)
    send_next(index);
  std::vector<epoll_event> events(clients_.size() + 1);
  std::string abandoned;
  while (open_ > 0 && abandoned.empty()) {
    const auto silent_until = last_progress + load_.answer_timeout;
    const auto left
      = std::chrono::ceil<std::chrono::milliseconds>(silent_until - steady::now()).count();
    if (left <= 0) {
      abandoned = "no answer for " + std::to_string(load_.answer_timeout.count()) + " ms";
      break;
    }
    const int ready = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(std::min<long long>(left, INT_MAX)));
    if (ready < 0) {
      if (errno != EINTR)
        abandoned = error_text("epoll_wait", errno);
      continue;
    }
    const auto answered_before = answered_.load();
    for (int i = 0; i < ready; ++i) {
      const auto& event = events[static_cast<std::size_t>(i)];
      if (event.data.u64 == stop_marker) {
        abandoned = "stopped before the answer came";
        break;
      }
      const auto index = static_cast<std::size_t>(event.data.u64);
      if (clients_[index].fd < 0)
        continue;
      if ((event.events & EPOLLOUT) != 0)
        write_request(index);
      if (clients_[index].fd >= 0 && (event.events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0)
        read_response(index);
    }
    if (answered_.load() != answered_before)
      last_progress = steady::now();
  }
  for (std::size_t index = 0; index < clients_.size(); ++index)
    if (clients_[index].fd >= 0)
      close_client(index, abandoned);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    totals_.answered = answered_.load();
    finished_ = true;
  }
  finished_changed_.notify_all();
}

void keep_alive_clients::send_next(std::size_t index) {
  if (stop_sending_ || steady::now() - totals_.started >= load_.duration
      || totals_.sent >= load_.max_requests) {
    close_client(index, {});
    return;
  }
  ++totals_.sent;
  clients_[index].written = 0;
  write_request(index);
}

void keep_alive_clients::write_request(std::size_t index) {
  auto& c = clients_[index];
  if (c.written == request_text_.size())
    return; // a late EPOLLOUT
  const bool resumed = c.written > 0;
  while (c.written < request_text_.size()) {
    const auto n = send(c.fd, request_text_.data() + c.written,
                        request_text_.size() - c.written, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        close_client(index, error_text("send", errno));
        return;
      }
      // The rest goes when the socket has room again.
      epoll_event interest{};
      interest.events = EPOLLIN | EPOLLOUT;
      interest.data.u64 = index;
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &interest) != 0)
        close_client(index, error_text("epoll_ctl", errno));
      return;
    }
    c.written += static_cast<std::size_t>(n);
  }
  if (resumed) {
    epoll_event interest{};
    interest.events = EPOLLIN;
    interest.data.u64 = index;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &interest) != 0)
      close_client(index, error_text("epoll_ctl", errno));
  }
}

void keep_alive_clients::read_response(std::size_t index) {
  auto& c = clients_[index];
  char buffer[16 * 1024];
  for (;;) {
    const auto n = recv(c.fd, buffer, sizeof buffer, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        close_client(index, error_text("recv", errno));
      return;
    }
    if (n == 0) {
      close_client(index, "the server closed the connection");
      return;
    }
    const auto read = c.reader.feed(buffer, static_cast<std::size_t>(n));
    if (read == http_response_reader::progress::malformed) {
      close_client(index, c.reader.error());
      return;
    }
    if (read == http_response_reader::progress::complete) {
      totals_.last_answer = steady::now();
      ++answered_;
      on_answer_(c.reader.status(), c.reader.body());
      c.reader = http_response_reader{};
      send_next(index);
      return;
    }
  }
}

void keep_alive_clients::close_client(std::size_t index, const std::string& error) {
  auto& c = clients_[index];
  close(c.fd); // also leaves the epoll set
  c.fd = -1;
  --open_;
  if (!error.empty()) {
    ++totals_.failed;
    if (totals_.errors.size() < kept_errors)
      totals_.errors.push_back(error);
  }
}

} // namespace foreman_loadgen
