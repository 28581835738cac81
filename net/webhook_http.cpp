#include "net/webhook_http.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/Exception.h>
#include <Poco/HMACEngine.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
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

} // namespace

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
    Poco::Net::HTTPClientSession session{url.host, url.port};
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
    auto status = static_cast<int>(response.getStatus());
    if (status >= 200 && status < 300)
      return {true, {}};
    return {false, "the receiver answered " + std::to_string(status)};
  } catch (const Poco::Exception& e) {
    return {false, e.displayText()};
  }
}

} // namespace foreman::net
