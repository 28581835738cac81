#include "net/http_server.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Exception.h>
#include <Poco/Net/DatagramSocket.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/PollSet.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include "net/json_util.hpp"

namespace foreman::net {

namespace {

using steady = std::chrono::steady_clock;

constexpr const char* json_type = "application/json; charset=utf-8";

/// Methods HTTP defines; others get 501, these are routed (or get 405).
bool is_known_method(const std::string& method) {
  static const char* const known[] = {"GET",     "HEAD",  "POST",
                                      "PUT",     "DELETE", "OPTIONS",
                                      "PATCH",   "TRACE", "CONNECT"};
  return std::any_of(std::begin(known), std::end(known),
                     [&](const char* m) { return method == m; });
}

/// A connection's socket that remembers whether its peer ended the stream,
/// and whether the server cut its reading short: Poco's body streams end
/// the same way for a complete chunked body and for one whose sender
/// vanished before its last chunk.
class edge_socket_impl : public Poco::Net::StreamSocketImpl {
public:
  explicit edge_socket_impl(poco_socket_t fd) : StreamSocketImpl(fd) {
  }

  int receiveBytes(void* buffer, int length, int flags = 0) override {
    auto n = StreamSocketImpl::receiveBytes(buffer, length, flags);
    if (n == 0 && length > 0)
      peer_ended = true;
    return n;
  }

  std::atomic<bool> peer_ended{false};
  /// The read deadline passed and the server shut the reading side.
  std::atomic<bool> read_expired{false};
};

/// Poco's server session with the bytes it has read ahead visible, so
/// pipelined requests are not lost between two of them.
class edge_session : public Poco::Net::HTTPServerSession {
public:
  edge_session(const Poco::Net::StreamSocket& socket,
               Poco::Net::HTTPServerParams::Ptr params)
    : HTTPServerSession(socket, params) {
  }

  ~edge_session() override {
    // The connection keeps the socket; the session must not close it.
    detachSocket();
  }

  bool has_buffered_bytes() const {
    return buffered() > 0;
  }
};

enum class phase {
  /// Between requests, watched by the event loop.
  idle,
  /// A parser thread reads the next request.
  parsing,
  /// The request is read; its answer is under way or still to come.
  answering,
  /// The answer is sent and the connection closes after the peer's rest.
  lingering,
  closed,
};

class exchange_impl;

struct connection {
  uint64_t id = 0;
  Poco::Net::StreamSocket socket;
  edge_socket_impl* socket_impl = nullptr;
  std::mutex mutex;
  phase state = phase::idle;
  /// Kept across requests only while it holds read-ahead bytes.
  std::unique_ptr<edge_session> session;
  /// What the event loop watches (PollSet modes); 0 = not in the set.
  int interest = 0;
  /// Bytes accepted for sending that the socket has not taken yet.
  std::string pending;
  size_t pending_offset = 0;
  std::shared_ptr<exchange_impl> exchange;
  /// The current request allows the connection to serve another.
  bool keep_alive = false;
  /// Tells a connection's idle (or reading) period from later ones.
  uint64_t generation = 0;

  int fd() const {
    return socket_impl->sockfd();
  }
};

using connection_ptr = std::shared_ptr<connection>;

/// Callbacks collected under a connection's lock and run after it.
using deferred = std::vector<std::function<void()>>;

void run_all(deferred& work) {
  for (auto& f : work)
    f();
  work.clear();
}

struct deadline_entry {
  steady::time_point at;
  std::weak_ptr<connection> conn;
  uint64_t generation;
};

} // namespace

// -- the server's state ------------------------------------------------------

namespace {

/// The server's state, shared by its threads and the exchanges it hands
/// out (which may outlive the server object).
struct server_core : std::enable_shared_from_this<server_core> {
  http_server_options options;
  http_handler handler;
  exchange_observer observer;
  Poco::Net::HTTPServerParams::Ptr params;

  Poco::Net::PollSet poll_set;
  Poco::Net::ServerSocket listener;
  std::mutex listener_mutex;
  bool listening = false;
  /// A datagram to itself wakes the event loop.
  Poco::Net::DatagramSocket waker;
  uint16_t port = 0;

  std::mutex mutex; // guards everything below
  std::unordered_map<Poco::Net::SocketImpl*, connection_ptr> connections;
  std::deque<connection_ptr> parse_queue;
  std::condition_variable parse_ready;
  /// Deadlines of idle and reading connections; each queue's deadlines are
  /// now + a constant when added, so each stays sorted.
  std::deque<deadline_entry> idle_deadlines;
  std::deque<deadline_entry> read_deadlines;
  /// Exchanges whose answers are not complete yet.
  size_t open_exchanges = 0;
  std::condition_variable exchanges_done;
  uint64_t next_connection_id = 1;

  std::atomic<bool> stopping{false};
  /// Connections are being cut at the end of a stop: that is no caller
  /// leaving, and cancels nothing.
  std::atomic<bool> cutting{false};
  std::atomic<bool> finished{false};
  /// Out of file descriptors: accepting resumes at this time.
  std::optional<steady::time_point> accept_resume_at;
  std::thread loop_thread;
  std::vector<std::thread> parser_threads;

  // -- connection bookkeeping (called with the connection's lock held) ------

  void set_interest(connection& c, int mode) {
    if (c.interest == mode)
      return;
    try {
      if (c.interest == 0)
        poll_set.add(c.socket, mode);
      else if (mode == 0)
        poll_set.remove(c.socket);
      else
        poll_set.update(c.socket, mode);
      c.interest = mode;
    } catch (const Poco::Exception&) {
      // The socket is already unusable; its close follows.
      c.interest = 0;
    }
  }

  void add_deadline(std::deque<deadline_entry>& queue, const connection_ptr& c,
                    std::chrono::milliseconds after) {
    std::lock_guard<std::mutex> guard{mutex};
    queue.push_back(deadline_entry{steady::now() + after, c, c->generation});
  }

  /// Watches an idle connection for its next request.
  void make_idle(const connection_ptr& c) {
    c->state = phase::idle;
    ++c->generation;
    set_interest(*c, Poco::Net::PollSet::POLL_READ);
    add_deadline(idle_deadlines, c, options.idle_timeout);
  }

  void queue_for_parsing(const connection_ptr& c) {
    c->state = phase::parsing;
    ++c->generation;
    set_interest(*c, 0);
    add_deadline(read_deadlines, c, options.read_timeout);
    {
      std::lock_guard<std::mutex> guard{mutex};
      parse_queue.push_back(c);
    }
    parse_ready.notify_one();
  }

  void close(const connection_ptr& c, deferred& after);

  /// Sends what the socket takes now; true when nothing is left or more can
  /// wait for the event loop, false when the peer has gone.
  bool flush(const connection_ptr& c) {
    while (c->pending_offset < c->pending.size()) {
      auto n = ::send(c->fd(), c->pending.data() + c->pending_offset,
                      c->pending.size() - c->pending_offset,
                      MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        c->pending_offset += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_interest(*c, c->interest | Poco::Net::PollSet::POLL_WRITE);
        return true;
      }
      return false;
    }
    c->pending.clear();
    c->pending_offset = 0;
    if (c->interest & Poco::Net::PollSet::POLL_WRITE)
      set_interest(*c, c->interest & ~Poco::Net::PollSet::POLL_WRITE);
    return true;
  }

  void answer_finished(const connection_ptr& c, deferred& after);
  void after_handler(const connection_ptr& c, deferred& after);

  // -- threads ---------------------------------------------------------------

  void wake() {
    try {
      char byte = 0;
      waker.sendTo(&byte, 1, waker.address());
    } catch (const Poco::Exception&) {
      // The loop wakes at its next deadline anyway.
    }
  }

  void accept_new();
  void on_event(const connection_ptr& c, int mode);
  void expire_deadlines(std::chrono::milliseconds& wait);
  void run_loop();
  void run_parser();
  void serve_one(const connection_ptr& c);
  /// Sends a whole answer on a connection whose request could not be
  /// served, then closes it.
  void refuse(const connection_ptr& c, const std::string& version, int status,
              const std::string& message);
};

} // namespace

// -- exchanges ---------------------------------------------------------------

namespace {

std::string http_date() {
  return Poco::DateTimeFormatter::format(Poco::DateTime{},
                                         Poco::DateTimeFormat::HTTP_FORMAT);
}

/// The status line and headers of an answer, written by Poco.
std::string response_head(const std::string& version, int status,
                          const std::string& content_type, const header_list& extra,
                          bool keep_alive, std::optional<size_t> content_length) {
  Poco::Net::HTTPResponse head;
  head.setVersion(version);
  head.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  head.set("Date", http_date());
  if (!content_type.empty())
    head.setContentType(content_type);
  if (content_length)
    head.setContentLength64(static_cast<Poco::Int64>(*content_length));
  else
    head.setChunkedTransferEncoding(true);
  for (auto& [name, value] : extra)
    head.set(name, value);
  head.setKeepAlive(keep_alive);
  std::ostringstream out;
  head.write(out);
  return out.str();
}

class exchange_impl : public http_exchange,
                      public std::enable_shared_from_this<exchange_impl> {
public:
  exchange_impl(std::weak_ptr<server_core> server, connection_ptr conn,
                http_request request_copy_for_observer, std::string version,
                bool keep_alive)
    : server_(std::move(server)),
      conn_(std::move(conn)),
      request_(std::move(request_copy_for_observer)),
      version_(std::move(version)),
      keep_alive_(keep_alive),
      head_only_(request_.method == "HEAD") {
  }

  void send(int status, const std::string& content_type, const std::string& body,
            const header_list& extra = {}) override {
    deferred after;
    {
      std::lock_guard<std::mutex> guard{conn_->mutex};
      if (!begin(status))
        return;
      auto bytes = response_head(version_, status, content_type, extra, keep_alive_,
                                 body.size());
      if (!head_only_)
        bytes += body;
      complete_ = true;
      push(std::move(bytes), after);
    }
    run_all(after);
  }

  void begin_stream(int status, const std::string& content_type,
                    const header_list& extra = {}) override {
    deferred after;
    {
      std::lock_guard<std::mutex> guard{conn_->mutex};
      if (!begin(status))
        return;
      streaming_ = true;
      push(response_head(version_, status, content_type, extra, keep_alive_,
                         std::nullopt),
           after);
    }
    run_all(after);
  }

  bool write(std::string_view data) override {
    deferred after;
    bool ok = true;
    {
      std::lock_guard<std::mutex> guard{conn_->mutex};
      if (!streaming_ || complete_ || done_ || gone_)
        return false;
      if (data.empty())
        return true;
      auto server = server_.lock();
      if (server
          && conn_->pending.size() - conn_->pending_offset
               > server->options.max_stream_backlog_bytes) {
        // A reader this slow is dropped rather than buffered without bound.
        mark_gone(after);
        if (server)
          server->close(conn_, after);
        ok = false;
      } else {
        std::ostringstream size;
        size << std::hex << data.size() << "\r\n";
        std::string bytes = size.str();
        bytes.append(data.data(), data.size());
        bytes += "\r\n";
        push(std::move(bytes), after);
        ok = !gone_;
      }
    }
    run_all(after);
    return ok;
  }

  void end_stream() override {
    deferred after;
    {
      std::lock_guard<std::mutex> guard{conn_->mutex};
      if (!streaming_ || complete_ || done_)
        return;
      complete_ = true;
      push("0\r\n\r\n", after);
    }
    run_all(after);
  }

  void on_caller_gone(std::function<void()> handler) override {
    {
      std::lock_guard<std::mutex> guard{conn_->mutex};
      if (!gone_) {
        gone_handler_ = std::move(handler);
        return;
      }
    }
    handler();
  }

  void on_server_stopping(std::function<void()> handler) override {
    {
      std::lock_guard<std::mutex> guard{conn_->mutex};
      if (!stopping_) {
        stopping_handler_ = std::move(handler);
        return;
      }
      if (complete_)
        return;
    }
    handler();
  }

  bool caller_gone() const override {
    std::lock_guard<std::mutex> guard{conn_->mutex};
    return gone_;
  }

  int status() const override {
    std::lock_guard<std::mutex> guard{conn_->mutex};
    return status_;
  }

  // -- for the server, with the connection's lock held ----------------------

  /// The caller left before the answer was complete.
  void mark_gone(deferred& after) {
    if (gone_ || complete_)
      return;
    gone_ = true;
    auto server = server_.lock();
    if (gone_handler_ && server && !server->cutting)
      after.push_back(std::move(gone_handler_));
    gone_handler_ = nullptr;
    end(after);
  }

  /// The server stops while this answer is still to come.
  void mark_stopping(deferred& after) {
    if (stopping_)
      return;
    stopping_ = true;
    if (stopping_handler_ && !complete_)
      after.push_back(std::move(stopping_handler_));
    stopping_handler_ = nullptr;
  }

  /// Counts the exchange as over (once): its answer is sent, or can no
  /// longer be.
  void end(deferred& after) {
    if (done_)
      return;
    done_ = true;
    gone_handler_ = nullptr;
    stopping_handler_ = nullptr;
    auto status = gone_ && !complete_ ? 499 : status_;
    if (auto server = server_.lock()) {
      if (server->observer)
        after.push_back([server, request = std::move(request_), status] {
          server->observer(request, status);
        });
      after.push_back([server] {
        std::lock_guard<std::mutex> guard{server->mutex};
        if (--server->open_exchanges == 0)
          server->exchanges_done.notify_all();
      });
    }
  }

  bool complete() const {
    return complete_;
  }

private:
  /// Claims the answer for `status`; false when one has begun already.
  bool begin(int status) {
    if (begun_ || done_)
      return false;
    begun_ = true;
    status_ = status;
    return true;
  }

  void push(std::string bytes, deferred& after) {
    auto server = server_.lock();
    if (!server || conn_->state == phase::closed) {
      mark_gone(after);
      return;
    }
    conn_->pending += bytes;
    if (!server->flush(conn_)) {
      mark_gone(after);
      server->close(conn_, after);
      return;
    }
    if (complete_ && conn_->pending.empty())
      server->answer_finished(conn_, after);
  }

  std::weak_ptr<server_core> server_;
  connection_ptr conn_;
  http_request request_;
  std::string version_;
  bool keep_alive_;
  bool head_only_;
  // Guarded by the connection's mutex.
  bool begun_ = false;
  bool streaming_ = false;
  /// Every byte of the answer is queued.
  bool complete_ = false;
  bool gone_ = false;
  bool stopping_ = false;
  bool done_ = false;
  int status_ = 0;
  std::function<void()> gone_handler_;
  std::function<void()> stopping_handler_;
};

} // namespace

// -- connection life ---------------------------------------------------------

void server_core::close(const connection_ptr& c, deferred& after) {
  if (c->state == phase::closed)
    return;
  c->state = phase::closed;
  ++c->generation;
  if (c->exchange) {
    c->exchange->mark_gone(after);
    c->exchange->end(after);
    c->exchange.reset();
  }
  set_interest(*c, 0);
  c->session.reset();
  try {
    c->socket.close();
  } catch (const Poco::Exception&) {
    // Already closed.
  }
  std::lock_guard<std::mutex> guard{mutex};
  connections.erase(c->socket_impl);
}

/// Every byte of the answer has left: the connection serves its next
/// request, or closes.
void server_core::answer_finished(const connection_ptr& c, deferred& after) {
  if (c->exchange) {
    c->exchange->end(after);
    c->exchange.reset();
  }
  if (c->state != phase::answering)
    return; // the parser thread is still in the handler; it takes over
  if (!c->keep_alive || stopping) {
    // Read what the peer still sends (a body refused unread) before closing,
    // so the answer is not lost to a reset.
    ::shutdown(c->fd(), SHUT_WR);
    c->state = phase::lingering;
    ++c->generation;
    set_interest(*c, Poco::Net::PollSet::POLL_READ);
    add_deadline(idle_deadlines, c, std::chrono::milliseconds{2000});
    return;
  }
  if (c->session && c->session->has_buffered_bytes())
    return queue_for_parsing(c);
  c->session.reset();
  make_idle(c);
}

/// The handler returned: a waiting answer's connection is watched for the
/// caller's departure; a finished one moves on.
void server_core::after_handler(const connection_ptr& c, deferred& after) {
  if (c->state != phase::parsing)
    return;
  c->state = phase::answering;
  if (!c->pending.empty())
    return; // the event loop sends the rest
  if (!c->exchange || c->exchange->complete())
    return answer_finished(c, after);
  // Bytes the caller sent ahead (a pipelined request) would look like
  // activity, not departure: only an empty input is watched.
  if (!(c->session && c->session->has_buffered_bytes()))
    set_interest(*c, c->interest | Poco::Net::PollSet::POLL_READ);
}

void server_core::refuse(const connection_ptr& c, const std::string& version,
                               int status, const std::string& message) {
  deferred after;
  {
    std::lock_guard<std::mutex> guard{c->mutex};
    if (c->state == phase::closed)
      return;
    c->pending += response_head(version, status, json_type, {}, false,
                                error_json(message).size())
                  + error_json(message);
    c->state = phase::answering;
    c->keep_alive = false;
    if (!flush(c))
      close(c, after);
    else if (c->pending.empty())
      answer_finished(c, after);
  }
  run_all(after);
}

// -- the event loop ----------------------------------------------------------

void server_core::accept_new() {
  std::lock_guard<std::mutex> listener_guard{listener_mutex};
  if (!listening)
    return;
  // The listener is non-blocking: take every connection waiting.
  for (int i = 0; i < 256; ++i) {
    auto fd = ::accept4(listener.impl()->sockfd(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors: the rest wait in the backlog a moment rather
        // than wake the loop again and again.
        poll_set.remove(listener);
        accept_resume_at = steady::now() + std::chrono::milliseconds{100};
      }
      return;
    }
    int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    auto conn = std::make_shared<connection>();
    conn->socket_impl = new edge_socket_impl(fd);
    conn->socket = Poco::Net::StreamSocket{conn->socket_impl};
    {
      std::lock_guard<std::mutex> guard{mutex};
      conn->id = next_connection_id++;
      connections.emplace(conn->socket_impl, conn);
    }
    std::lock_guard<std::mutex> guard{conn->mutex};
    make_idle(conn);
  }
}

void server_core::on_event(const connection_ptr& c, int mode) {
  deferred after;
  {
    std::lock_guard<std::mutex> guard{c->mutex};
    switch (c->state) {
      case phase::idle:
        if (mode & (Poco::Net::PollSet::POLL_READ | Poco::Net::PollSet::POLL_ERROR))
          queue_for_parsing(c);
        break;
      case phase::answering: {
        if (mode & Poco::Net::PollSet::POLL_WRITE) {
          if (!flush(c)) {
            close(c, after);
            break;
          }
          if ((!c->exchange || c->exchange->complete()) && c->pending.empty()) {
            answer_finished(c, after);
            break;
          }
        }
        if (mode & (Poco::Net::PollSet::POLL_READ | Poco::Net::PollSet::POLL_ERROR)) {
          char byte;
          auto n = ::recv(c->fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK
                         && errno != EINTR)) {
            // The caller has gone: nobody reads the answer.
            close(c, after);
          } else if (n > 0) {
            // The caller sent its next request early; it waits its turn.
            set_interest(*c, c->interest & ~Poco::Net::PollSet::POLL_READ);
          }
        }
        break;
      }
      case phase::lingering: {
        char scrap[16384];
        auto n = ::recv(c->fd(), scrap, sizeof scrap, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
          close(c, after);
        break;
      }
      default:
        break;
    }
  }
  run_all(after);
}

void server_core::expire_deadlines(std::chrono::milliseconds& wait) {
  auto now = steady::now();
  std::vector<deadline_entry> idle_expired;
  std::vector<deadline_entry> read_expired;
  steady::time_point next = now + options.idle_timeout;
  {
    std::lock_guard<std::mutex> guard{mutex};
    while (!idle_deadlines.empty() && idle_deadlines.front().at <= now) {
      idle_expired.push_back(std::move(idle_deadlines.front()));
      idle_deadlines.pop_front();
    }
    while (!read_deadlines.empty() && read_deadlines.front().at <= now) {
      read_expired.push_back(std::move(read_deadlines.front()));
      read_deadlines.pop_front();
    }
    if (!idle_deadlines.empty())
      next = std::min(next, idle_deadlines.front().at);
    if (!read_deadlines.empty())
      next = std::min(next, read_deadlines.front().at);
  }
  for (auto& entry : idle_expired) {
    auto c = entry.conn.lock();
    if (!c)
      continue;
    deferred after;
    {
      std::lock_guard<std::mutex> guard{c->mutex};
      if (c->generation == entry.generation
          && (c->state == phase::idle || c->state == phase::lingering))
        close(c, after);
    }
    run_all(after);
  }
  for (auto& entry : read_expired) {
    auto c = entry.conn.lock();
    if (!c)
      continue;
    std::lock_guard<std::mutex> guard{c->mutex};
    if (c->generation == entry.generation && c->state == phase::parsing) {
      // The parser thread blocked on this client wakes with an end of input
      // and answers 408.
      c->socket_impl->read_expired = true;
      ::shutdown(c->fd(), SHUT_RD);
    }
  }
  {
    std::lock_guard<std::mutex> listener_guard{listener_mutex};
    if (accept_resume_at && *accept_resume_at <= now) {
      accept_resume_at.reset();
      if (listening)
        poll_set.add(listener, Poco::Net::PollSet::POLL_READ);
    }
    if (accept_resume_at)
      next = std::min(next, *accept_resume_at);
  }
  auto until = std::chrono::duration_cast<std::chrono::milliseconds>(next - now);
  wait = std::max(until, std::chrono::milliseconds{1});
}

void server_core::run_loop() {
  std::chrono::milliseconds wait{0};
  while (!finished) {
    expire_deadlines(wait);
    Poco::Net::PollSet::SocketModeMap ready;
    try {
      ready = poll_set.poll(Poco::Timespan{wait.count() * 1000});
    } catch (const Poco::Exception&) {
      continue;
    }
    for (auto& [socket, mode] : ready) {
      if (socket == waker) {
        char scrap[64];
        try {
          while (waker.available() > 0)
            waker.receiveBytes(scrap, sizeof scrap);
        } catch (const Poco::Exception&) {
        }
        continue;
      }
      if (socket.impl() == listener.impl()) {
        accept_new();
        continue;
      }
      connection_ptr c;
      {
        std::lock_guard<std::mutex> guard{mutex};
        auto i = connections.find(socket.impl());
        if (i != connections.end())
          c = i->second;
      }
      if (c)
        on_event(c, mode);
    }
  }
}

// -- parsing -----------------------------------------------------------------

void server_core::run_parser() {
  for (;;) {
    connection_ptr c;
    {
      std::unique_lock<std::mutex> lock{mutex};
      parse_ready.wait(lock, [this] { return finished || !parse_queue.empty(); });
      if (finished)
        return;
      c = std::move(parse_queue.front());
      parse_queue.pop_front();
    }
    serve_one(c);
  }
}

void server_core::serve_one(const connection_ptr& c) {
  std::string version = Poco::Net::HTTPMessage::HTTP_1_1;
  try {
    {
      std::lock_guard<std::mutex> guard{c->mutex};
      if (c->state != phase::parsing)
        return;
      if (!c->session) {
        c->socket_impl->peer_ended = false;
        c->session = std::make_unique<edge_session>(c->socket, params);
      }
    }
    c->socket.setReceiveTimeout(
      Poco::Timespan{static_cast<Poco::Timespan::TimeDiff>(options.read_timeout.count())
                     * 1000});
    // Reading blocks this parser thread only: the lock is not held.
    Poco::Net::HTTPServerResponseImpl unused_response{*c->session};
    Poco::Net::HTTPServerRequestImpl request{unused_response, *c->session,
                                             params.get()};
    version = request.getVersion();
    if (version != Poco::Net::HTTPMessage::HTTP_1_0
        && version != Poco::Net::HTTPMessage::HTTP_1_1) {
      auto is_http = version.rfind("HTTP/", 0) == 0;
      version = Poco::Net::HTTPMessage::HTTP_1_1;
      if (!is_http)
        return refuse(c, version, 400, "malformed request: not an HTTP request line");
      return refuse(c, version, 505,
                    "HTTP version " + request.getVersion() + " is not supported");
    }
    if (!is_known_method(request.getMethod()))
      return refuse(c, version, 501,
                    "method " + request.getMethod() + " is not implemented");
    auto chunked = request.getChunkedTransferEncoding();
    auto declared = request.hasContentLength() ? request.getContentLength64() : -1;
    if (declared > static_cast<Poco::Int64>(options.max_body_bytes))
      return refuse(c, version, 413,
                    "request body of " + std::to_string(declared)
                      + " bytes is larger than the limit of "
                      + std::to_string(options.max_body_bytes)
                      + " bytes (FOREMAN_MAX_BODY)");
    if (request.getExpectContinue() && (chunked || declared > 0)) {
      static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";
      ::send(c->fd(), continue_line, sizeof continue_line - 1,
             MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    http_request req;
    req.method = request.getMethod();
    auto& uri = request.getURI();
    auto question = uri.find('?');
    req.raw_path = uri.substr(0, question);
    if (question != std::string::npos)
      req.query = uri.substr(question + 1);
    try {
      Poco::URI::decode(req.raw_path, req.path);
    } catch (const Poco::Exception&) {
      return refuse(c, version, 400, "malformed request path");
    }
    for (auto& [name, value] : request)
      req.headers.emplace_back(name, value);
    // A request with neither length nor chunks has no body (RFC 9112 6.3).
    if (chunked || declared > 0) {
      auto& in = request.stream();
      char buffer[65536];
      while (in) {
        in.read(buffer, sizeof buffer);
        auto n = static_cast<size_t>(in.gcount());
        if (req.body.size() + n > options.max_body_bytes)
          return refuse(c, version, 413,
                        "request body is larger than the limit of "
                          + std::to_string(options.max_body_bytes)
                          + " bytes (FOREMAN_MAX_BODY)");
        req.body.append(buffer, n);
      }
      if (c->socket_impl->read_expired)
        return refuse(c, version, 408,
                      "the request body did not arrive within FOREMAN_READ_TIMEOUT");
      if (!chunked && static_cast<Poco::Int64>(req.body.size()) < declared)
        return refuse(c, version, 400,
                      "request body ended after " + std::to_string(req.body.size())
                        + " of the " + std::to_string(declared)
                        + " bytes its Content-Length declares");
      if (chunked && c->socket_impl->peer_ended)
        return refuse(c, version, 400, "chunked request body ended without its last chunk");
    }
    auto keep_alive = request.getKeepAlive() && !stopping;
    auto exchange = std::make_shared<exchange_impl>(
      shared_from_this(), c, http_request{req.method, req.path, {}, {}, {}, {}},
      version, keep_alive);
    {
      std::lock_guard<std::mutex> guard{mutex};
      ++open_exchanges;
    }
    {
      std::lock_guard<std::mutex> guard{c->mutex};
      if (c->state != phase::parsing) {
        deferred after;
        exchange->end(after);
        run_all(after);
        return;
      }
      ++c->generation; // the read deadline no longer applies
      c->exchange = exchange;
      c->keep_alive = keep_alive;
      if (!c->session->has_buffered_bytes())
        c->session.reset();
    }
    if (stopping) {
      deferred after;
      {
        std::lock_guard<std::mutex> guard{c->mutex};
        exchange->mark_stopping(after);
      }
      run_all(after);
    }
    try {
      handler(std::move(req), exchange);
    } catch (const std::exception& e) {
      exchange->send(500, json_type, error_json(std::string{"internal error: "} + e.what()));
    }
    deferred after;
    {
      std::lock_guard<std::mutex> guard{c->mutex};
      after_handler(c, after);
    }
    run_all(after);
  } catch (const Poco::Net::NoMessageException&) {
    deferred after;
    std::lock_guard<std::mutex> guard{c->mutex};
    close(c, after); // the client closed between requests
  } catch (const Poco::TimeoutException&) {
    refuse(c, version, 408, "the request did not arrive within FOREMAN_READ_TIMEOUT");
  } catch (const Poco::Net::MessageException& e) {
    if (c->socket_impl->read_expired)
      return refuse(c, version, 408,
                    "the request did not arrive within FOREMAN_READ_TIMEOUT");
    refuse(c, version, 400, "malformed request: " + e.message());
  } catch (const Poco::Exception&) {
    if (c->socket_impl->read_expired)
      return refuse(c, version, 408,
                    "the request did not arrive within FOREMAN_READ_TIMEOUT");
    deferred after;
    {
      std::lock_guard<std::mutex> guard{c->mutex};
      close(c, after);
    }
    run_all(after);
  }
}

// -- the public face ---------------------------------------------------------

struct http_server::impl : server_core {};

std::string http_request::header(const std::string& name) const {
  for (auto& [key, value] : headers)
    if (Poco::icompare(key, name) == 0)
      return value;
  return {};
}

http_server::http_server(const http_server_options& options, http_handler handler,
                         exchange_observer observer)
  : impl_(std::make_shared<impl>()) {
  auto& st = *impl_;
  st.options = options;
  st.handler = std::move(handler);
  st.observer = std::move(observer);
  st.params = new Poco::Net::HTTPServerParams;
  st.params->setKeepAlive(true);
  st.params->setTimeout(
    Poco::Timespan{static_cast<Poco::Timespan::TimeDiff>(options.read_timeout.count())
                   * 1000});
  try {
    st.listener.bind(Poco::Net::SocketAddress{options.host, options.port}, true);
    st.listener.listen(4096);
    st.listener.setBlocking(false);
    st.port = st.listener.address().port();
    st.waker.bind(Poco::Net::SocketAddress{"127.0.0.1", 0}, true);
    st.waker.setBlocking(false);
  } catch (const Poco::Exception& e) {
    throw std::runtime_error{"cannot listen on " + options.host + ":"
                             + std::to_string(options.port) + ": " + e.displayText()};
  }
  st.poll_set.add(st.waker, Poco::Net::PollSet::POLL_READ);
  st.poll_set.add(st.listener, Poco::Net::PollSet::POLL_READ);
  st.listening = true;
  st.loop_thread = std::thread{[server = impl_] { server->run_loop(); }};
  for (int i = 0; i < std::max(1, options.parser_threads); ++i)
    st.parser_threads.emplace_back([server = impl_] { server->run_parser(); });
}

http_server::~http_server() {
  stop();
}

uint16_t http_server::port() const {
  return impl_->port;
}

void http_server::stop_accepting() {
  auto& st = *impl_;
  std::lock_guard<std::mutex> guard{st.listener_mutex};
  if (!st.listening)
    return;
  st.listening = false;
  try {
    if (!st.accept_resume_at)
      st.poll_set.remove(st.listener);
    st.listener.close();
  } catch (const Poco::Exception&) {
  }
}

void http_server::stop() {
  auto& st = *impl_;
  if (st.stopping.exchange(true))
    return;
  stop_accepting();
  std::vector<connection_ptr> open;
  {
    std::lock_guard<std::mutex> guard{st.mutex};
    for (auto& [key, c] : st.connections)
      open.push_back(c);
  }
  // Waiting callers' owners answer them now (their jobs stay queued).
  for (auto& c : open) {
    deferred after;
    {
      std::lock_guard<std::mutex> guard{c->mutex};
      if (c->exchange)
        c->exchange->mark_stopping(after);
    }
    run_all(after);
  }
  {
    std::unique_lock<std::mutex> lock{st.mutex};
    st.exchanges_done.wait_for(lock, st.options.stop_wait,
                               [&] { return st.open_exchanges == 0; });
  }
  // Whatever is left is cut; parser threads blocked on a client wake up.
  {
    std::lock_guard<std::mutex> guard{st.mutex};
    open.clear();
    for (auto& [key, c] : st.connections)
      open.push_back(c);
  }
  st.cutting = true;
  for (auto& c : open)
    ::shutdown(c->fd(), SHUT_RDWR);
  st.finished = true;
  st.parse_ready.notify_all();
  st.wake();
  for (auto& t : st.parser_threads)
    t.join();
  st.loop_thread.join();
  for (auto& c : open) {
    deferred after;
    {
      std::lock_guard<std::mutex> guard{c->mutex};
      st.close(c, after);
    }
    run_all(after);
  }
}

} // namespace foreman::net
