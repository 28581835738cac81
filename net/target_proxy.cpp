#include "net/target_proxy.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include "net/json_util.hpp"
#include "net/ollama_http.hpp"

namespace foreman::net {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return text;
}

/// Headers that describe one connection or foreman itself, never passed on.
bool is_hop_header(const std::string& name) {
  static const char* const hop[] = {
    "host", "connection", "keep-alive", "content-length", "transfer-encoding",
    "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate",
    "authorization", "date", "content-type", "server"};
  auto key = lower(name);
  return std::any_of(std::begin(hop), std::end(hop),
                     [&](const char* h) { return key == h; });
}

const char* json_type = "application/json; charset=utf-8";

std::string unreachable(const http_url& target, const std::string& why) {
  return error_json("cannot reach the Ollama target at " + target.origin() + ": "
                    + why);
}

} // namespace

void proxy_to_target(const http_url& target, const http_request& req,
                     const std::string& body, http_responder& out,
                     std::chrono::milliseconds reply_timeout) {
  bool started = false;
  try {
    Poco::Net::HTTPClientSession session{target.host, target.port};
    auto timeout = Poco::Timespan{reply_timeout.count() * 1000};
    session.setTimeout(Poco::Timespan{5, 0}, timeout, timeout);
    auto uri = req.path + (req.query.empty() ? "" : "?" + req.query);
    Poco::Net::HTTPRequest upstream{req.method, uri,
                                    Poco::Net::HTTPMessage::HTTP_1_1};
    upstream.setHost(target.host, target.port);
    for (auto& [name, value] : req.headers)
      if (!is_hop_header(name))
        upstream.add(name, value);
    auto content_type = req.header("Content-Type");
    if (!content_type.empty())
      upstream.setContentType(content_type);
    if (!body.empty() || req.method == Poco::Net::HTTPRequest::HTTP_POST
        || req.method == Poco::Net::HTTPRequest::HTTP_DELETE)
      upstream.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(upstream) << body;
    Poco::Net::HTTPResponse response;
    auto& in = session.receiveResponse(response);
    header_list headers;
    for (auto& [name, value] : response)
      if (!is_hop_header(name))
        headers.emplace_back(name, value);
    auto status = static_cast<int>(response.getStatus());
    auto type = response.getContentType();
    if (type.find("ndjson") != std::string::npos) {
      out.begin_stream(status, type, headers);
      started = true;
      std::string line;
      while (std::getline(in, line))
        if (!out.write(line + "\n"))
          return; // the caller left; closing the session ends the upstream call
      return;
    }
    std::ostringstream content;
    Poco::StreamCopier::copyStream(in, content);
    out.send(status, type.empty() ? "text/plain" : type, content.str(), headers);
  } catch (const Poco::Exception& e) {
    if (!started)
      out.send(502, json_type, unreachable(target, e.displayText()));
  }
}

std::pair<int, std::string> post_to_target(const std::shared_ptr<connection_pool>& pool,
                                           const http_url& target,
                                           const std::string& path,
                                           const std::string& body,
                                           std::chrono::milliseconds reply_timeout) {
  abortable_call call{pool};
  auto reply = call.perform(target, "POST", path, body, reply_timeout);
  if (reply.failure == target_failure::connection)
    return {502, unreachable(target, reply.body)};
  return {reply.http_status, reply.body};
}

std::pair<int, std::string> get_from_target(const std::shared_ptr<connection_pool>& pool,
                                            const http_url& target,
                                            const std::string& path,
                                            std::chrono::milliseconds reply_timeout) {
  abortable_call call{pool};
  auto reply = call.perform(target, "GET", path, "", reply_timeout);
  if (reply.failure == target_failure::connection)
    return {502, unreachable(target, reply.body)};
  return {reply.http_status, reply.body};
}

} // namespace foreman::net
