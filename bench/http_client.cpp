#include "http_client.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

namespace foreman_bench {

http_client::http_client(int port, std::chrono::seconds timeout)
  : session_("127.0.0.1", static_cast<Poco::UInt16>(port)) {
  session_.setKeepAlive(true);
  session_.setTimeout(Poco::Timespan(static_cast<long>(timeout.count()), 0));
}

http_result http_client::request(const std::string& method,
                                 const std::string& path,
                                 const std::string& body,
                                 const std::string& keep_header) {
  http_result result;
  try {
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    req.setKeepAlive(true);
    if (!body.empty() || method == Poco::Net::HTTPRequest::HTTP_POST) {
      req.setContentType("application/json");
      req.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session_.sendRequest(req) << body;
    Poco::Net::HTTPResponse res;
    auto& in = session_.receiveResponse(res);
    Poco::StreamCopier::copyToString(in, result.body);
    result.status = static_cast<int>(res.getStatus());
    if (!keep_header.empty() && res.has(keep_header))
      result.headers[keep_header] = res.get(keep_header);
  } catch (const Poco::Exception& error) {
    session_.reset();
    result = {};
    result.body = error.displayText();
  } catch (const std::exception& error) {
    session_.reset();
    result = {};
    result.body = error.what();
  }
  return result;
}

std::string chat_body(const std::string& model, const std::string& message) {
  return R"({"model":")" + model + R"(","stream":false,"messages":[{"role":"user","content":")"
         + message + R"("}]})";
}

bool is_chat_answer(const std::string& body) {
  try {
    Poco::JSON::Parser parser;
    const auto json = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
    return json && json->optValue<bool>("done", false)
           && json->getObject("message");
  } catch (const std::exception&) {
    return false;
  }
}

} // namespace foreman_bench
