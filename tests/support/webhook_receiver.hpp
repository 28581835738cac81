#pragma once

// A real HTTP server on 127.0.0.1 that records the webhook deliveries it
// receives; tests take it down, bring it back on the same port, or make it
// hang without answering.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace foreman_test {

struct received_request {
  std::string method;
  std::string path;
  /// Names as the sender wrote them.
  std::map<std::string, std::string> headers;
  std::string body;
};

class webhook_receiver {
public:
  /// Listens on an ephemeral loopback port and answers 200.
  webhook_receiver();
  ~webhook_receiver();

  webhook_receiver(const webhook_receiver&) = delete;
  webhook_receiver& operator=(const webhook_receiver&) = delete;

  /// http://127.0.0.1:PORT/hook
  std::string url() const;

  uint16_t port() const;

  /// Stops listening: connections are refused until up().
  void down();

  /// Listens again on the same port.
  void up();

  /// While hanging, requests are read but never answered (until the
  /// receiver is destroyed or stops hanging).
  void hang(bool on);

  /// The requests answered 200, in arrival order.
  std::vector<received_request> received() const;

  /// Requests that arrived while hanging.
  int hung_requests() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace foreman_test
