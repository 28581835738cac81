#include "net/target_proxy.hpp"

#include <algorithm>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>

#include "net/json_util.hpp"
#include "net/ollama_http.hpp"

namespace foreman::net {

namespace {

/// Headers that describe one connection or foreman itself, never passed on.
bool is_hop_header(const std::string& name) {
  static const char* const hop[] = {
    "host", "connection", "keep-alive", "content-length", "transfer-encoding",
    "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate",
    "authorization", "date", "content-type", "server"};
  return std::any_of(std::begin(hop), std::end(hop),
                     [&](const char* h) { return Poco::icompare(name, h) == 0; });
}

const char* json_content_type = "application/json; charset=utf-8";

std::string unreachable(const http_url& target, const std::string& why) {
  return error_json("cannot reach the Ollama target at " + target.origin() + ": "
                    + why);
}

} // namespace

uint64_t target_call_registry::add(std::function<void()> abort) {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (!cut_) {
      auto token = next_token_++;
      calls_.emplace(token, std::move(abort));
      return token;
    }
  }
  abort();
  return 0;
}

void target_call_registry::remove(uint64_t token) {
  std::lock_guard<std::mutex> guard{mutex_};
  calls_.erase(token);
}

void target_call_registry::cut_all() {
  std::map<uint64_t, std::function<void()>> under_way;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    cut_ = true;
    under_way.swap(calls_);
  }
  for (auto& [token, abort] : under_way)
    abort();
}

namespace {

/// Keeps a call registered for as long as it runs.
class registered_call {
public:
  registered_call(target_call_registry& calls, std::function<void()> abort)
    : calls_(calls), token_(calls.add(std::move(abort))) {
  }
  ~registered_call() {
    if (token_ != 0)
      calls_.remove(token_);
  }
  registered_call(const registered_call&) = delete;
  registered_call& operator=(const registered_call&) = delete;

private:
  target_call_registry& calls_;
  uint64_t token_;
};

} // namespace

void proxy_to_target(const http_url& target, const http_request& req,
                     http_exchange& out, std::chrono::milliseconds reply_timeout,
                     target_call_registry& calls) {
  bool started = false;
  Poco::Net::HTTPClientSession session{target.host, target.port};
  // Aborting shuts the connection down, which ends any read under way.
  std::mutex session_mutex;
  bool connected = false;
  bool aborted = false;
  auto cut = [&] {
    try {
      session.socket().shutdown();
    } catch (const Poco::Exception&) {
      // Already closed.
    }
  };
  registered_call registered{calls, [&] {
                               std::lock_guard<std::mutex> guard{session_mutex};
                               aborted = true;
                               if (connected)
                                 cut();
                             }};
  try {
    auto timeout = Poco::Timespan{reply_timeout.count() * 1000};
    session.setTimeout(Poco::Timespan{5, 0}, timeout, timeout);
    auto uri = req.raw_path + (req.query.empty() ? "" : "?" + req.query);
    Poco::Net::HTTPRequest upstream{req.method, uri, Poco::Net::HTTPMessage::HTTP_1_1};
    upstream.setHost(target.host, target.port);
    for (auto& [name, value] : req.headers)
      if (!is_hop_header(name))
        upstream.add(name, value);
    auto content_type = req.header("Content-Type");
    if (!content_type.empty())
      upstream.setContentType(content_type);
    if (!req.body.empty() || req.method == Poco::Net::HTTPRequest::HTTP_POST
        || req.method == Poco::Net::HTTPRequest::HTTP_DELETE)
      upstream.setContentLength(static_cast<std::streamsize>(req.body.size()));
    auto& body_out = session.sendRequest(upstream);
    {
      std::lock_guard<std::mutex> guard{session_mutex};
      connected = true;
      if (aborted)
        cut();
    }
    body_out << req.body;
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
      out.end_stream();
      return;
    }
    std::ostringstream content;
    Poco::StreamCopier::copyStream(in, content);
    out.send(status, type.empty() ? "text/plain" : type, content.str(), headers);
  } catch (const Poco::Exception& e) {
    if (!started)
      out.send(502, json_content_type, unreachable(target, e.displayText()));
    else
      out.end_stream();
  }
}

std::pair<int, std::string> post_to_target(const std::shared_ptr<connection_pool>& pool,
                                           const http_url& target,
                                           const std::string& path,
                                           const std::string& body,
                                           std::chrono::milliseconds reply_timeout,
                                           target_call_registry& calls) {
  abortable_call call{pool};
  registered_call registered{calls, [&] { call.abort(); }};
  auto reply = call.perform(target, "POST", path, body, reply_timeout);
  if (reply.failure == target_failure::connection
      || reply.failure == target_failure::aborted)
    return {502, unreachable(target, reply.body)};
  return {reply.http_status, reply.body};
}

std::pair<int, std::string> get_from_target(const std::shared_ptr<connection_pool>& pool,
                                            const http_url& target,
                                            const std::string& path,
                                            std::chrono::milliseconds reply_timeout,
                                            target_call_registry& calls) {
  abortable_call call{pool};
  registered_call registered{calls, [&] { call.abort(); }};
  auto reply = call.perform(target, "GET", path, "", reply_timeout);
  if (reply.failure == target_failure::connection
      || reply.failure == target_failure::aborted)
    return {502, unreachable(target, reply.body)};
  return {reply.http_status, reply.body};
}

} // namespace foreman::net
