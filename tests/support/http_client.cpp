#include "http_client.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <csignal>
#include <istream>
#include <mutex>
#include <ostream>

namespace foreman_test {

namespace {

// Writing to a connection the server has reset must be an error, not a
// process-killing SIGPIPE.
void ignore_sigpipe() {
  static std::once_flag once;
  std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

Poco::Timespan to_timespan(std::chrono::milliseconds timeout) {
  return Poco::Timespan(static_cast<long>(timeout.count() / 1000),
                        static_cast<long>(timeout.count() % 1000) * 1000);
}

// Sends the request and hands the response stream to `read_body`.
http_response exchange(const std::string& method, const std::string& url,
                       const std::string& body, const http_headers& headers,
                       std::chrono::milliseconds timeout,
                       const std::function<std::string(std::istream&)>& read_body) {
  ignore_sigpipe();
  const Poco::URI uri(url);
  try {
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(to_timespan(timeout));
    Poco::Net::HTTPRequest request(method, uri.getPathAndQuery(),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : headers)
      request.set(name, value);
    if (!body.empty() && !request.has("Content-Type"))
      request.setContentType("application/json");
    if (!body.empty() || method == "POST" || method == "PUT")
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;

    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    // Rethrows what the socket reported (a timeout, a reset) mid-body.
    in.exceptions(std::ios::badbit);
    http_response result;
    result.status = static_cast<int>(response.getStatus());
    result.content_type = response.getContentType();
    for (const auto& [name, value] : response)
      result.headers[name] = value;
    result.body = read_body(in);
    return result;
  } catch (const Poco::TimeoutException& error) {
    throw http_timeout(method + " " + url + ": " + error.displayText());
  } catch (const Poco::Exception& error) {
    throw http_error(method + " " + url + ": " + error.displayText());
  } catch (const std::ios_base::failure& error) {
    throw http_error(method + " " + url + ": " + error.what());
  }
}

} // namespace

http_response http_request(const std::string& method, const std::string& url,
                           const std::string& body, const http_headers& headers,
                           std::chrono::milliseconds timeout) {
  return exchange(method, url, body, headers, timeout, [](std::istream& in) {
    std::string text;
    Poco::StreamCopier::copyToString(in, text);
    return text;
  });
}

http_response http_stream_lines(const std::string& method, const std::string& url,
                                const std::string& body,
                                const std::function<bool(const std::string&)>& on_line,
                                const http_headers& headers,
                                std::chrono::milliseconds timeout) {
  return exchange(method, url, body, headers, timeout, [&](std::istream& in) {
    std::string text;
    for (std::string line; std::getline(in, line);) {
      text += line + '\n';
      if (!on_line(line))
        break;
    }
    return text;
  });
}

} // namespace foreman_test
