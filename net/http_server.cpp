#include "net/http_server.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <mutex>

#include <sys/socket.h>
#include <stdexcept>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include "net/json_util.hpp"

namespace foreman::net {

namespace {

/// The server's stop flag and the handlers under way, so that a stop lets
/// answers being written finish before it cuts connections.
class handler_activity {
public:
  std::atomic<bool> stopping{false};

  void enter() {
    std::lock_guard<std::mutex> guard{mutex_};
    ++active_;
  }

  void leave() {
    std::lock_guard<std::mutex> guard{mutex_};
    if (--active_ == 0)
      idle_.notify_all();
  }

  /// Waits until no handler runs, or `limit` has passed; true when none
  /// runs.
  bool wait_idle(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock{mutex_};
    return idle_.wait_for(lock, limit, [this] { return active_ == 0; });
  }

private:
  std::mutex mutex_;
  std::condition_variable idle_;
  int active_ = 0;
};

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              return std::tolower(static_cast<unsigned char>(x))
                     == std::tolower(static_cast<unsigned char>(y));
            });
}

class poco_responder : public http_responder {
public:
  poco_responder(Poco::Net::HTTPServerRequest& request,
                 Poco::Net::HTTPServerResponse& response,
                 const std::atomic<bool>& stopping)
    : request_(request), response_(response), stopping_(stopping) {
  }

  void send(int status, const std::string& content_type,
            const std::string& body, const header_list& extra = {}) override {
    set_head(status, content_type, extra);
    if (request_.getMethod() == Poco::Net::HTTPRequest::HTTP_HEAD) {
      response_.setContentLength(static_cast<std::streamsize>(body.size()));
      response_.send();
    } else {
      response_.sendBuffer(body.data(), body.size());
    }
    sent_ = true;
  }

  void begin_stream(int status, const std::string& content_type,
                    const header_list& extra = {}) override {
    set_head(status, content_type, extra);
    response_.setChunkedTransferEncoding(true);
    stream_ = &response_.send();
    sent_ = true;
  }

  bool write(std::string_view data) override {
    if (stream_ == nullptr || !stream_->good())
      return false;
    stream_->write(data.data(), static_cast<std::streamsize>(data.size()));
    stream_->flush(); // one chunk per write
    return stream_->good();
  }

  bool peer_gone() override {
    auto& socket
      = static_cast<Poco::Net::HTTPServerRequestImpl&>(request_).socket();
    try {
      if (!socket.poll(Poco::Timespan{0}, Poco::Net::Socket::SELECT_READ))
        return false;
      // Readable with nothing to read means the peer closed.
      char byte;
      auto n = ::recv(socket.impl()->sockfd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    } catch (const Poco::Exception&) {
      return true;
    }
  }

  bool server_stopping() const override {
    return stopping_.load();
  }

  bool sent() const {
    return sent_;
  }

private:
  void set_head(int status, const std::string& content_type,
                const header_list& extra) {
    response_.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    response_.setContentType(content_type);
    for (auto& [name, value] : extra)
      response_.set(name, value);
  }

  Poco::Net::HTTPServerRequest& request_;
  Poco::Net::HTTPServerResponse& response_;
  const std::atomic<bool>& stopping_;
  std::ostream* stream_ = nullptr;
  bool sent_ = false;
};

/// Reads the body, bounded by max_body_bytes; false when it is too large.
bool read_body(Poco::Net::HTTPServerRequest& request, size_t max_bytes,
               std::string& out) {
  if (request.hasContentLength()
      && request.getContentLength64() > static_cast<int64_t>(max_bytes))
    return false;
  auto& in = request.stream();
  char buffer[16384];
  while (in) {
    in.read(buffer, sizeof buffer);
    auto n = static_cast<size_t>(in.gcount());
    if (out.size() + n > max_bytes)
      return false;
    out.append(buffer, n);
  }
  return true;
}

class request_handler : public Poco::Net::HTTPRequestHandler {
public:
  request_handler(const http_handler& handler, const http_server_options& opts,
                  handler_activity& activity)
    : handler_(handler), opts_(opts), activity_(activity) {
  }

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    activity_.enter();
    struct leave_at_end {
      handler_activity& activity;
      ~leave_at_end() {
        activity.leave();
      }
    } counted{activity_};
    poco_responder responder{request, response, activity_.stopping};
    http_request req;
    req.method = request.getMethod();
    auto& uri = request.getURI();
    auto question = uri.find('?');
    if (question != std::string::npos)
      req.query = uri.substr(question + 1);
    try {
      Poco::URI::decode(uri.substr(0, question), req.path);
    } catch (const Poco::Exception&) {
      responder.send(400, "application/json; charset=utf-8",
                     error_json("malformed request path"));
      return;
    }
    for (auto& [name, value] : request)
      req.headers.emplace_back(name, value);
    if (!read_body(request, opts_.max_body_bytes, req.body)) {
      responder.send(413, "application/json; charset=utf-8",
                     error_json("request body larger than "
                                + std::to_string(opts_.max_body_bytes)
                                + " bytes"));
      return;
    }
    try {
      handler_(req, responder);
    } catch (const std::exception& e) {
      if (!responder.sent())
        responder.send(500, "application/json; charset=utf-8",
                       error_json(std::string{"internal error: "} + e.what()));
    }
  }

private:
  const http_handler& handler_;
  const http_server_options& opts_;
  handler_activity& activity_;
};

class handler_factory : public Poco::Net::HTTPRequestHandlerFactory {
public:
  handler_factory(http_handler handler, http_server_options opts,
                  handler_activity& activity)
    : handler_(std::move(handler)), opts_(std::move(opts)), activity_(activity) {
  }

  Poco::Net::HTTPRequestHandler*
  createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new request_handler(handler_, opts_, activity_);
  }

private:
  http_handler handler_;
  http_server_options opts_;
  handler_activity& activity_;
};

} // namespace

std::string http_request::header(const std::string& name) const {
  for (auto& [key, value] : headers)
    if (iequals(key, name))
      return value;
  return {};
}

struct http_server::impl {
  handler_activity activity;
  std::atomic<bool> stopped{false};
  std::chrono::milliseconds stop_wait;
  Poco::ThreadPool pool;
  Poco::Net::ServerSocket socket;
  std::unique_ptr<Poco::Net::HTTPServer> server;

  explicit impl(const http_server_options& opts)
    : stop_wait(opts.stop_wait), pool(2, std::max(2, opts.threads)) {
  }
};

http_server::http_server(const http_server_options& options, http_handler handler)
  : impl_(std::make_unique<impl>(options)) {
  try {
    impl_->socket.bind(Poco::Net::SocketAddress{options.host, options.port}, true);
    impl_->socket.listen(1024);
  } catch (const Poco::Exception& e) {
    throw std::runtime_error{"cannot listen on " + options.host + ":"
                             + std::to_string(options.port) + ": "
                             + e.displayText()};
  }
  auto params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(std::max(2, options.threads));
  params->setMaxQueued(options.max_queued);
  params->setKeepAlive(true);
  impl_->server = std::make_unique<Poco::Net::HTTPServer>(
    new handler_factory(std::move(handler), options, impl_->activity),
    impl_->pool, impl_->socket, params);
  impl_->server->start();
}

http_server::~http_server() {
  stop();
}

uint16_t http_server::port() const {
  return impl_->socket.address().port();
}

void http_server::stop_accepting() {
  if (!impl_->stopped)
    impl_->server->stop();
}

void http_server::stop() {
  if (impl_->stopped.exchange(true))
    return;
  impl_->activity.stopping = true;
  impl_->server->stop();
  // Waiting handlers give up within a moment; answers being written finish.
  // Only requests still running then are aborted: aborting also cut answers
  // already written but not yet sent (measured under load).
  auto idle = impl_->activity.wait_idle(impl_->stop_wait);
  impl_->server->stopAll(!idle);
  impl_->pool.joinAll();
}

} // namespace foreman::net
