#pragma once

// Delivering one webhook event over HTTP, signed when a secret is set.

#include <chrono>
#include <cstdint>
#include <string>

#include "core/url.hpp"

namespace foreman::net {

/// Header carrying the delivery's Unix time in seconds.
constexpr const char* webhook_timestamp_header = "X-Foreman-Timestamp";
/// Header carrying "sha256=" and the hex HMAC-SHA256 of "<timestamp>.<body>".
constexpr const char* webhook_signature_header = "X-Foreman-Signature";
/// Header carrying the event's outbox sequence number, for deduplication.
constexpr const char* webhook_event_id_header = "X-Foreman-Event-Id";

/// Lower-case hex HMAC-SHA256 of "<timestamp>.<body>" under `secret`.
std::string webhook_signature(const std::string& secret,
                              const std::string& timestamp,
                              const std::string& body);

struct webhook_post_result {
  /// The receiver answered 2xx.
  bool delivered = false;
  /// Otherwise why not: its status, or the connection problem.
  std::string problem;
  /// The receiver's HTTP status; 0 when it did not answer.
  int32_t http_status = 0;
};

/// Sets up TLS for https webhook URLs: receivers' certificates are checked
/// against the system's CA store and, when `ca_file` is not empty, against
/// the certificates in that PEM file too (a private CA). Applies to every
/// later post_webhook in the process. Throws std::runtime_error when the file
/// cannot be loaded.
void configure_webhook_tls(const std::string& ca_file);

/// POSTs `body` as JSON to `url` with the event id and, when `secret` is not
/// empty, the timestamp and signature headers; an https URL's certificate is
/// verified as configure_webhook_tls says (the system CAs until it is
/// called). Blocks for at most about `timeout` (connecting, sending, and
/// waiting for the answer each).
webhook_post_result post_webhook(const http_url& url, const std::string& body,
                                 int64_t event_id, const std::string& secret,
                                 int64_t unix_seconds,
                                 std::chrono::milliseconds timeout);

} // namespace foreman::net
