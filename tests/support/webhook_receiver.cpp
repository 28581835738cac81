#include "webhook_receiver.hpp"

#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>

namespace foreman_test {

namespace {

/// Quotes `text` for /bin/sh.
std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text)
    quoted += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return quoted + "'";
}

std::string read_text(const std::string& path) {
  std::ifstream in{path};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace

tls_files make_loopback_certificate(const std::string& dir,
                                    const std::string& name) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0)
    throw std::runtime_error{"the https webhook tests need the openssl command "
                             "(Debian package openssl), which is not on PATH"};
  tls_files files{dir + "/" + name + ".crt", dir + "/" + name + ".key"};
  auto log = dir + "/" + name + ".openssl.log";
  auto command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
                 " -nodes -days 2 -subj /CN=127.0.0.1"
                 " -addext subjectAltName=IP:127.0.0.1"
                 " -keyout " + shell_quote(files.private_key)
                 + " -out " + shell_quote(files.certificate)
                 + " >" + shell_quote(log) + " 2>&1";
  if (std::system(command.c_str()) != 0)
    throw std::runtime_error{"openssl could not make a test certificate: "
                             + read_text(log)};
  return files;
}

struct webhook_receiver::impl {
  mutable std::mutex mtx;
  std::condition_variable released;
  std::vector<received_request> received;
  bool hanging = false;
  bool closing = false;
  int refusals_left = 0;
  int refusal_status = 0;
  int hung = 0;
  uint16_t port = 0;
  /// Set when serving TLS.
  Poco::Net::Context::Ptr tls;
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
      auto status = Poco::Net::HTTPResponse::HTTP_OK;
      {
        std::unique_lock<std::mutex> lock{owner_.mtx};
        if (owner_.hanging) {
          ++owner_.hung;
          owner_.released.wait(lock, [&] { return !owner_.hanging || owner_.closing; });
          return; // no answer: the connection just closes
        }
        if (owner_.refusals_left > 0) {
          --owner_.refusals_left;
          status = static_cast<Poco::Net::HTTPResponse::HTTPStatus>(owner_.refusal_status);
        } else {
          owner_.received.push_back(std::move(x));
        }
      }
      res.setStatus(status);
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

  ~impl() {
    if (tls) {
      tls = nullptr;
      Poco::Net::uninitializeSSL();
    }
  }

  void use_tls(const tls_files& files) {
    Poco::Net::initializeSSL();
    Poco::Net::Context::Params params;
    params.certificateFile = files.certificate;
    params.privateKeyFile = files.private_key;
    params.verificationMode = Poco::Net::Context::VERIFY_NONE;
    params.loadDefaultCAs = false;
    tls = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
  }

  void start() {
    // A copy of a secure server socket shares its (secure) implementation.
    Poco::Net::ServerSocket socket = tls ? Poco::Net::SecureServerSocket{tls}
                                         : Poco::Net::ServerSocket{};
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

webhook_receiver::webhook_receiver(const tls_files& tls)
  : impl_(std::make_unique<impl>()) {
  impl_->use_tls(tls);
  impl_->start();
}

webhook_receiver::~webhook_receiver() {
  impl_->stop();
  impl_->pool.joinAll();
}

std::string webhook_receiver::url() const {
  return std::string{impl_->tls ? "https" : "http"} + "://127.0.0.1:"
         + std::to_string(impl_->port) + "/hook";
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

void webhook_receiver::refuse_next(int count, int status) {
  std::lock_guard<std::mutex> lock{impl_->mtx};
  impl_->refusals_left = count;
  impl_->refusal_status = status;
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
