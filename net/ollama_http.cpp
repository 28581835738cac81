#include "net/ollama_http.hpp"

#include <cerrno>
#include <cstddef>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/Socket.h>
#include <Poco/Net/SocketImpl.h>
#include <Poco/StreamCopier.h>

namespace foreman::net {

namespace {

using clock_type = std::chrono::steady_clock;

/// A client session whose connection the call manages: it connects only when
/// told to and never reconnects behind the call's back, so the socket that
/// abort() shuts down is always the one the exchange uses.
class target_session : public Poco::Net::HTTPClientSession {
public:
  target_session(const std::string& host, Poco::UInt16 port)
    : HTTPClientSession(host, port) {
    // Keep-alive is decided per request (its Connection header); the pool
    // decides how long an idle connection may be reused, not Poco's timer.
    setKeepAlive(true);
    setKeepAliveTimeout(Poco::Timespan{365 * 24 * 3600, 0});
  }

  /// Connects (resolving the host as Poco does) with the connect timeout.
  void open() {
    reconnect();
  }

  /// Applies the timeouts to the socket, also when it is already connected.
  void set_timeouts(const Poco::Timespan& connect, const Poco::Timespan& io) {
    setTimeout(connect, io, io);
    if (connected()) {
      socket().setReceiveTimeout(io);
      socket().setSendTimeout(io);
    }
  }

  int native_handle() {
    return static_cast<int>(socket().impl()->sockfd());
  }

  /// An idle kept-alive connection may be reused when nothing is waiting to
  /// be read on it: no leftover bytes, no end of stream (the target closed
  /// it), no error.
  bool reusable_when_idle() {
    if (buffered() > 0 || !connected() || networkException() != nullptr)
      return false;
    char byte = 0;
    auto n = ::recv(native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

protected:
  int write(const char* buffer, std::streamsize length) override {
    // HTTPClientSession::write reconnects silently when writing fails on a
    // kept-alive connection; the call retries on its own terms instead.
    return HTTPSession::write(buffer, length);
  }
};

using session_ptr = std::unique_ptr<target_session>;

target_reply aborted_reply() {
  return target_reply{target_failure::aborted, 0, "aborted"};
}

bool body_expected(const std::string& method, int32_t status) {
  return method != Poco::Net::HTTPRequest::HTTP_HEAD && status >= 200
         && status != 204 && status != 304;
}

} // namespace

// -- connection_pool ---------------------------------------------------------

struct connection_pool::impl {
  struct idle_session {
    session_ptr session;
    std::string host;
    uint16_t port = 0;
    clock_type::time_point since;
  };

  std::size_t max_idle;
  std::chrono::milliseconds max_idle_time;
  std::mutex mtx;
  std::vector<idle_session> sessions; // oldest first

  impl(std::size_t max, std::chrono::milliseconds max_time)
    : max_idle(max), max_idle_time(max_time) {
  }

  /// An idle connection to host:port that still looks usable, or null.
  session_ptr take(const std::string& host, uint16_t port) {
    std::vector<session_ptr> dropped; // closed outside the lock
    session_ptr found;
    {
      std::lock_guard<std::mutex> guard{mtx};
      auto now = clock_type::now();
      for (auto i = sessions.begin(); i != sessions.end();) {
        if (now - i->since > max_idle_time) {
          dropped.push_back(std::move(i->session));
          i = sessions.erase(i);
        } else {
          ++i;
        }
      }
      // The most recently used connection first: the likeliest to be alive.
      for (auto i = sessions.size(); i-- > 0 && !found;) {
        if (sessions[i].host != host || sessions[i].port != port)
          continue;
        auto session = std::move(sessions[i].session);
        sessions.erase(sessions.begin() + static_cast<std::ptrdiff_t>(i));
        if (session->reusable_when_idle())
          found = std::move(session);
        else
          dropped.push_back(std::move(session));
      }
    }
    return found;
  }

  void give(session_ptr session, const std::string& host, uint16_t port) {
    session_ptr dropped;
    std::lock_guard<std::mutex> guard{mtx};
    if (max_idle == 0)
      return;
    if (sessions.size() >= max_idle) {
      dropped = std::move(sessions.front().session);
      sessions.erase(sessions.begin());
    }
    sessions.push_back(
      idle_session{std::move(session), host, port, clock_type::now()});
  }
};

connection_pool::connection_pool(std::size_t max_idle,
                                 std::chrono::milliseconds max_idle_time)
  : impl_(std::make_unique<impl>(max_idle, max_idle_time)) {
}

connection_pool::~connection_pool() = default;

// -- abortable_call ----------------------------------------------------------

struct abortable_call::impl {
  std::shared_ptr<connection_pool> pool;
  std::mutex mtx;
  /// A duplicate of the socket the exchange uses, -1 when none: shutting it
  /// down wakes the blocked thread, and since the call owns the duplicate,
  /// the descriptor cannot be reused by anything else meanwhile even if Poco
  /// closes its own one.
  int abort_fd = -1;
  bool aborted = false;

  /// Makes the exchange on `session` abortable; false when already aborted.
  bool attach(target_session& session) {
    std::lock_guard<std::mutex> guard{mtx};
    if (aborted)
      return false;
    abort_fd = ::dup(session.native_handle());
    return true;
  }

  /// Ends what attach began; true when the call was aborted meanwhile.
  bool detach() {
    std::lock_guard<std::mutex> guard{mtx};
    if (abort_fd >= 0) {
      ::close(abort_fd);
      abort_fd = -1;
    }
    return aborted;
  }

  bool was_aborted() {
    std::lock_guard<std::mutex> guard{mtx};
    return aborted;
  }
};

abortable_call::abortable_call() : impl_(std::make_unique<impl>()) {
}

abortable_call::abortable_call(std::shared_ptr<connection_pool> pool)
  : impl_(std::make_unique<impl>()) {
  impl_->pool = std::move(pool);
}

abortable_call::~abortable_call() {
  impl_->detach();
}

void abortable_call::abort() {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  impl_->aborted = true;
  // Shutting the socket down wakes the thread blocked in perform(); the
  // session itself is closed (and never reused) by that thread.
  if (impl_->abort_fd >= 0)
    ::shutdown(impl_->abort_fd, SHUT_RDWR);
}

namespace {

/// What one exchange on one connection came to.
struct exchange_outcome {
  target_reply reply;
  /// The connection may carry another exchange.
  bool reusable = false;
  /// The target closed the connection before answering anything: sending
  /// the request (on a kept-alive connection) failed, or the connection
  /// ended before the first byte of the answer.
  bool closed_before_answer = false;
};

exchange_outcome exchange(target_session& session, bool keep_alive,
                          const http_url& target, const std::string& method,
                          const std::string& path, const std::string& body,
                          const line_handler& on_line) {
  exchange_outcome outcome;
  auto failed = [&](const std::string& what) {
    outcome.reply = target_reply{target_failure::connection, 0,
                                 target.origin() + path + ": " + what};
    return outcome;
  };
  bool sent = false;
  try {
    Poco::Net::HTTPRequest request{method, path,
                                   Poco::Net::HTTPMessage::HTTP_1_1};
    // Ollama on loopback rejects foreign Host headers, so send its own.
    request.setHost(target.host, target.port);
    request.setKeepAlive(keep_alive);
    if (!body.empty() || method == Poco::Net::HTTPRequest::HTTP_POST) {
      request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    auto& out = session.sendRequest(request);
    out << body;
    out.flush();
    // Poco's streams keep a failed write's exception in the session.
    if (auto* problem = session.networkException())
      problem->rethrow();
    sent = true;
    Poco::Net::HTTPResponse response;
    auto& in = session.receiveResponse(response);
    auto status = static_cast<int32_t>(response.getStatus());
    auto success = status >= 200 && status < 300;
    std::string content;
    std::streamsize received = 0;
    if (success && on_line) {
      std::string line;
      while (std::getline(in, line)) {
        received += static_cast<std::streamsize>(line.size())
                    + (in.eof() ? 0 : 1);
        if (!line.empty())
          on_line(line);
      }
    } else {
      std::ostringstream all;
      received = static_cast<std::streamsize>(
        Poco::StreamCopier::copyStream(in, all));
      content = all.str();
    }
    // Reusable only when the whole answer was read and nothing went wrong:
    // a chunked body to its last chunk, a sized one to its last byte.
    auto complete_body
      = !body_expected(method, status) || response.getChunkedTransferEncoding()
        || (response.hasContentLength()
            && received == response.getContentLength64());
    outcome.reusable = keep_alive && response.getKeepAlive() && complete_body
                       && in.eof() && !in.bad()
                       && session.networkException() == nullptr;
    outcome.reply = target_reply{success ? target_failure::none
                                         : target_failure::http_status,
                                 status, std::move(content)};
    return outcome;
  } catch (const Poco::TimeoutException& e) {
    return failed(e.displayText());
  } catch (const Poco::Net::NoMessageException& e) {
    // The connection ended before the first byte of the answer.
    outcome.closed_before_answer = true;
    return failed(e.displayText());
  } catch (const Poco::Exception& e) {
    outcome.closed_before_answer = !sent;
    return failed(e.displayText());
  } catch (const std::exception& e) {
    return failed(e.what());
  }
}

} // namespace

target_reply abortable_call::perform(const http_url& target,
                                     const std::string& method,
                                     const std::string& path,
                                     const std::string& body,
                                     std::chrono::milliseconds reply_timeout,
                                     const line_handler& on_line) {
  auto* pool = impl_->pool ? impl_->pool->impl_.get() : nullptr;
  const Poco::Timespan connect_timeout{5, 0};
  const Poco::Timespan io_timeout{reply_timeout.count() * 1000};
  for (int attempt = 1;; ++attempt) {
    if (impl_->was_aborted())
      return aborted_reply();
    session_ptr session;
    if (pool != nullptr && attempt == 1)
      session = pool->take(target.host, target.port);
    auto reused = session != nullptr;
    try {
      if (!session) {
        session = std::make_unique<target_session>(target.host, target.port);
        session->set_timeouts(connect_timeout, io_timeout);
        session->open();
      } else {
        session->set_timeouts(connect_timeout, io_timeout);
      }
    } catch (const Poco::Exception& e) {
      if (impl_->was_aborted())
        return aborted_reply();
      return target_reply{target_failure::connection, 0,
                          target.origin() + path + ": " + e.displayText()};
    }
    if (!impl_->attach(*session))
      return aborted_reply();
    auto outcome = exchange(*session, pool != nullptr, target, method, path,
                            body, on_line);
    if (impl_->detach())
      return aborted_reply(); // the session is closed, never reused
    if (reused && outcome.closed_before_answer) {
      // The target closed the idle connection meanwhile: nothing of the
      // request was answered, so send it once more on a new connection.
      continue;
    }
    if (outcome.reusable)
      pool->give(std::move(session), target.host, target.port);
    return std::move(outcome.reply);
  }
}

} // namespace foreman::net
