#include "net/webhook_http.hpp"

#include <memory>
#include <mutex>
#include <stdexcept>

#include <Poco/DigestEngine.h>
#include <Poco/Exception.h>
#include <Poco/HMACEngine.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/NullStream.h>
#include <Poco/SHA2Engine.h>
#include <Poco/StreamCopier.h>

namespace foreman::net {

namespace {

/// Poco's HMACEngine needs the digest's sizes as static members.
class sha256_engine : public Poco::SHA2Engine {
public:
  enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
  sha256_engine() : Poco::SHA2Engine(Poco::SHA2Engine::SHA_256) {
  }
};

/// Poco's SSL library set up once per process, taken down at exit.
void ensure_ssl_initialized() {
  struct ssl_library {
    ssl_library() {
      Poco::Net::initializeSSL();
    }
    ~ssl_library() {
      Poco::Net::uninitializeSSL();
    }
  };
  static ssl_library library;
}

/// A TLS client context verifying servers against the system CA store and,
/// when `ca_file` is not empty, the certificates in that file.
Poco::Net::Context::Ptr make_client_context(const std::string& ca_file) {
  ensure_ssl_initialized();
  Poco::Net::Context::Params params;
  params.caLocation = ca_file;
  params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
  params.loadDefaultCAs = true;
  Poco::Net::Context::Ptr context
    = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
  context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  return context;
}

struct tls_state {
  std::mutex mtx;
  /// The context https deliveries use; null until first needed or configured.
  Poco::Net::Context::Ptr context;
};

/// Made after the SSL library is set up, so gone before it is taken down.
tls_state& tls() {
  ensure_ssl_initialized();
  static tls_state state;
  return state;
}

Poco::Net::Context::Ptr client_context() {
  auto& st = tls();
  std::lock_guard<std::mutex> lock{st.mtx};
  if (!st.context)
    st.context = make_client_context("");
  return st.context;
}

} // namespace

void configure_webhook_tls(const std::string& ca_file) {
  Poco::Net::Context::Ptr context;
  try {
    context = make_client_context(ca_file);
  } catch (const Poco::Exception& e) {
    throw std::runtime_error{"cannot set up TLS for webhooks"
                             + (ca_file.empty() ? std::string{}
                                                : " with CA file '" + ca_file + "'")
                             + ": " + e.displayText()};
  }
  auto& st = tls();
  std::lock_guard<std::mutex> lock{st.mtx};
  st.context = context;
}

std::string webhook_signature(const std::string& secret,
                              const std::string& timestamp,
                              const std::string& body) {
  Poco::HMACEngine<sha256_engine> hmac{secret};
  hmac.update(timestamp);
  hmac.update(".");
  hmac.update(body);
  return Poco::DigestEngine::digestToHex(hmac.digest());
}

webhook_post_result post_webhook(const http_url& url, const std::string& body,
                                 int64_t event_id, const std::string& secret,
                                 int64_t unix_seconds,
                                 std::chrono::milliseconds timeout) {
  try {
    std::unique_ptr<Poco::Net::HTTPClientSession> client;
    if (url.scheme == "https")
      client = std::make_unique<Poco::Net::HTTPSClientSession>(
        url.host, url.port, client_context());
    else
      client = std::make_unique<Poco::Net::HTTPClientSession>(url.host, url.port);
    auto& session = *client;
    auto span = Poco::Timespan{timeout.count() * 1000};
    session.setTimeout(span, span, span);
    Poco::Net::HTTPRequest request{Poco::Net::HTTPRequest::HTTP_POST,
                                   url.path_and_query,
                                   Poco::Net::HTTPMessage::HTTP_1_1};
    request.setHost(url.host, url.port);
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    request.set("User-Agent", "foreman-webhook");
    request.set(webhook_event_id_header, std::to_string(event_id));
    if (!secret.empty()) {
      auto timestamp = std::to_string(unix_seconds);
      request.set(webhook_timestamp_header, timestamp);
      request.set(webhook_signature_header,
                  "sha256=" + webhook_signature(secret, timestamp, body));
    }
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    auto& in = session.receiveResponse(response);
    Poco::NullOutputStream discard;
    Poco::StreamCopier::copyStream(in, discard);
    auto status = static_cast<int32_t>(response.getStatus());
    if (status >= 200 && status < 300)
      return {true, {}, status};
    return {false, "the receiver answered " + std::to_string(status), status};
  } catch (const Poco::Exception& e) {
    return {false, e.displayText(), 0};
  }
}

} // namespace foreman::net
