#pragma once

// A real HTTP (or HTTPS) server on 127.0.0.1 that records the webhook
// deliveries it receives; tests take it down, bring it back on the same port,
// or make it hang without answering.

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

/// A certificate and its private key, PEM files.
struct tls_files {
  std::string certificate;
  std::string private_key;
};

/// Writes a new self-signed certificate for 127.0.0.1 (CN and IP SAN) and its
/// unencrypted key into `dir` as <name>.crt and <name>.key, with the openssl
/// command. Throws std::runtime_error saying why when openssl is missing or
/// fails.
tls_files make_loopback_certificate(const std::string& dir,
                                    const std::string& name);

class webhook_receiver {
public:
  /// Listens on an ephemeral loopback port and answers 200.
  webhook_receiver();

  /// The same over TLS with `tls`' certificate; url() is https.
  explicit webhook_receiver(const tls_files& tls);
  ~webhook_receiver();

  webhook_receiver(const webhook_receiver&) = delete;
  webhook_receiver& operator=(const webhook_receiver&) = delete;

  /// http://127.0.0.1:PORT/hook (https:// with TLS)
  std::string url() const;

  uint16_t port() const;

  /// Stops listening: connections are refused until up().
  void down();

  /// Listens again on the same port.
  void up();

  /// While hanging, requests are read but never answered (until the
  /// receiver is destroyed or stops hanging).
  void hang(bool on);

  /// The next `count` requests are answered `status` with an empty body
  /// and are not counted as received.
  void refuse_next(int count, int status);

  /// The requests answered 200, in arrival order.
  std::vector<received_request> received() const;

  /// Requests that arrived while hanging.
  int hung_requests() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace foreman_test
