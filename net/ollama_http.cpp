#include "net/ollama_http.hpp"

#include <mutex>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

namespace foreman::net {

struct abortable_call::impl {
  std::mutex mtx;
  Poco::Net::HTTPClientSession* session = nullptr;
  bool aborted = false;
};

abortable_call::abortable_call() : impl_(std::make_unique<impl>()) {
}

abortable_call::~abortable_call() = default;

void abortable_call::abort() {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  impl_->aborted = true;
  // Shutting the socket down wakes the thread blocked in perform().
  if (impl_->session != nullptr)
    impl_->session->abort();
}

target_reply abortable_call::perform(const http_url& target,
                                     const std::string& method,
                                     const std::string& path,
                                     const std::string& body,
                                     std::chrono::milliseconds reply_timeout,
                                     const line_handler& on_line) {
  Poco::Net::HTTPClientSession session{target.host, target.port};
  session.setTimeout(Poco::Timespan{5, 0},
                     Poco::Timespan{reply_timeout.count() * 1000},
                     Poco::Timespan{reply_timeout.count() * 1000});
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    if (impl_->aborted)
      return target_reply{target_failure::aborted, 0, "aborted"};
    impl_->session = &session;
  }
  auto detach = [this] {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->session = nullptr;
    return impl_->aborted;
  };
  try {
    Poco::Net::HTTPRequest request{method, path,
                                   Poco::Net::HTTPMessage::HTTP_1_1};
    // Ollama on loopback rejects foreign Host headers, so send its own.
    request.setHost(target.host, target.port);
    if (!body.empty() || method == Poco::Net::HTTPRequest::HTTP_POST) {
      request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    auto& in = session.receiveResponse(response);
    auto status = static_cast<int32_t>(response.getStatus());
    auto success = status >= 200 && status < 300;
    std::string content;
    if (success && on_line) {
      std::string line;
      while (std::getline(in, line))
        if (!line.empty())
          on_line(line);
    } else {
      std::ostringstream all;
      Poco::StreamCopier::copyStream(in, all);
      content = all.str();
    }
    if (detach())
      return target_reply{target_failure::aborted, 0, "aborted"};
    return target_reply{success ? target_failure::none
                                : target_failure::http_status,
                        status, std::move(content)};
  } catch (const Poco::Exception& e) {
    if (detach())
      return target_reply{target_failure::aborted, 0, "aborted"};
    return target_reply{target_failure::connection, 0,
                        target.origin() + path + ": " + e.displayText()};
  } catch (const std::exception& e) {
    if (detach())
      return target_reply{target_failure::aborted, 0, "aborted"};
    return target_reply{target_failure::connection, 0,
                        target.origin() + path + ": " + e.what()};
  }
}

} // namespace foreman::net
