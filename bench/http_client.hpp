#pragma once

// One keep-alive HTTP connection to a loopback server, for one thread.

#include <Poco/Net/HTTPClientSession.h>

#include <chrono>
#include <map>
#include <string>

namespace foreman_bench {

struct http_result {
  int status = 0;          // 0: no answer (connection error, timeout)
  std::string body;        // or the error's description when status is 0
  std::map<std::string, std::string> headers;
};

class http_client {
public:
  http_client(int port, std::chrono::seconds timeout);

  /// Sends the request on the kept-alive connection (reconnecting when the
  /// server has closed it) and reads the whole answer. Never throws.
  http_result request(const std::string& method, const std::string& path,
                      const std::string& body = {},
                      const std::string& keep_header = {});

private:
  Poco::Net::HTTPClientSession session_;
};

/// A chat request body with one user message and stream false.
std::string chat_body(const std::string& model, const std::string& message);

/// True when `body` is a finished, non-streamed chat answer
/// ({"done": true, "message": {...}}).
bool is_chat_answer(const std::string& body);

} // namespace foreman_bench
