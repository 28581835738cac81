#include "webhook_receiver.hpp"

#include <condition_variable>
#include <mutex>
#include <sstream>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>

namespace foreman_test {

struct webhook_receiver::impl {
  mutable std::mutex mtx;
  std::condition_variable released;
  std::vector<received_request> received;
  bool hanging = false;
  bool closing = false;
  int hung = 0;
  uint16_t port = 0;
  Poco::ThreadPool pool{2, 32};
  std::unique_ptr<Poco::Net::HTTPServer> server;

  class handler : public Poco::Net::HTTPRequestHandler {
  public:
    explicit handler(impl& owner) : owner_(owner) {
    }

    void handleRequest(Poco::Net::HTTPServerRequest& req,
                       Poco::Net::HTTPServerResponse& res) override {
      received_request x;
      x.method = req.getMethod();
      x.path = req.getURI();
      for (auto& [name, value] : req)
        x.headers[name] = value;
      std::ostringstream body;
      Poco::StreamCopier::copyStream(req.stream(), body);
      x.body = body.str();
      {
        std::unique_lock<std::mutex> lock{owner_.mtx};
        if (owner_.hanging) {
          ++owner_.hung;
          owner_.released.wait(lock, [&] { return !owner_.hanging || owner_.closing; });
          return; // no answer: the connection just closes
        }
        owner_.received.push_back(std::move(x));
      }
      res.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
      res.setContentLength(0);
      res.send();
    }

  private:
    impl& owner_;
  };

  class factory : public Poco::Net::HTTPRequestHandlerFactory {
  public:
    explicit factory(impl& owner) : owner_(owner) {
    }
    Poco::Net::HTTPRequestHandler*
    createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
      return new handler(owner_);
    }

  private:
    impl& owner_;
  };

  void start() {
    Poco::Net::ServerSocket socket;
    socket.bind(Poco::Net::SocketAddress{"127.0.0.1", port}, true);
    socket.listen(64);
    port = socket.address().port();
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(32);
    params->setKeepAlive(false);
    server = std::make_unique<Poco::Net::HTTPServer>(new factory(*this), pool,
                                                     socket, params);
    server->start();
  }

  void stop() {
    if (!server)
      return;
    {
      std::lock_guard<std::mutex> lock{mtx};
      closing = true;
    }
    released.notify_all();
    server->stopAll(true);
    server.reset();
    std::lock_guard<std::mutex> lock{mtx};
    closing = false;
  }
};

webhook_receiver::webhook_receiver() : impl_(std::make_unique<impl>()) {
  impl_->start();
}

webhook_receiver::~webhook_receiver() {
  impl_->stop();
  impl_->pool.joinAll();
}

std::string webhook_receiver::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port) + "/hook";
}

uint16_t webhook_receiver::port() const {
  return impl_->port;
}

void webhook_receiver::down() {
  impl_->stop();
}

void webhook_receiver::up() {
  impl_->start();
}

void webhook_receiver::hang(bool on) {
  {
    std::lock_guard<std::mutex> lock{impl_->mtx};
    impl_->hanging = on;
  }
  impl_->released.notify_all();
}

std::vector<received_request> webhook_receiver::received() const {
  std::lock_guard<std::mutex> lock{impl_->mtx};
  return impl_->received;
}

int webhook_receiver::hung_requests() const {
  std::lock_guard<std::mutex> lock{impl_->mtx};
  return impl_->hung;
}

} // namespace foreman_test
