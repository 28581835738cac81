#pragma once

// Which state_webhook_url values a submission may name: foreman POSTs to
// them from inside its own network, so a caller must not be able to aim it
// at addresses the caller could not reach itself.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace foreman::net {

/// Which webhook URLs submissions may name.
struct webhook_policy {
  /// Hosts webhooks may go to (compared case-insensitively); empty = any.
  std::vector<std::string> allowed_hosts;
  /// Callers authenticate with API keys, so they may be anywhere: loopback,
  /// link-local and private addresses are refused unless allowed_hosts names
  /// the host. Without keys foreman serves trusted callers (it warns when it
  /// listens beyond loopback), which may run their receivers on loopback.
  bool api_keys_configured = false;
};

/// The longest state_webhook_url accepted.
constexpr std::size_t max_webhook_url_length = 2048;

/// Why `url` may not be a job's state_webhook_url under `policy`, as a
/// message naming the field; nullopt when it may. Refuses URLs that are too
/// long, not http(s), not on allowed_hosts, and addresses that are
/// unspecified, multicast or broadcast (always), link-local (unless
/// allowed_hosts names the host), loopback or private (with API keys, unless
/// allowed_hosts names the host). A host name counts by every address it
/// resolves to now (blocking); one that does not resolve is refused, as is
/// an IPv4 address not written as four decimal numbers (`2130706433`,
/// `0x7f.1`, `0177.0.0.1`), which parsers read differently.
std::optional<std::string> webhook_url_problem(std::string_view url,
                                               const webhook_policy& policy);

} // namespace foreman::net
