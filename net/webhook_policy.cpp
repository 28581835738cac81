#include "net/webhook_policy.hpp"

#include <algorithm>
#include <cstdint>

#include <Poco/Exception.h>
#include <Poco/Net/DNS.h>
#include <Poco/Net/HostEntry.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/String.h>

#include "core/url.hpp"

namespace foreman::net {

namespace {

using Poco::Net::IPAddress;

enum class address_kind {
  ordinary,
  loopback,
  private_network,
  link_local,
  unspecified,
  multicast,
  broadcast
};

const char* describe(address_kind kind) {
  switch (kind) {
    case address_kind::loopback:
      return "a loopback address";
    case address_kind::private_network:
      return "a private address";
    case address_kind::link_local:
      return "a link-local address";
    case address_kind::unspecified:
      return "an unspecified address";
    case address_kind::multicast:
      return "a multicast address";
    case address_kind::broadcast:
      return "the broadcast address";
    default:
      return "an ordinary address";
  }
}

address_kind kind_of_ipv4(const uint8_t* a) {
  if (a[0] == 0)
    return address_kind::unspecified; // 0.0.0.0/8, "this network"
  if (a[0] == 127)
    return address_kind::loopback;
  if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168)
      || (a[0] == 100 && (a[1] & 0xc0) == 64))
    return address_kind::private_network; // RFC 1918 and carrier-grade NAT
  if (a[0] == 169 && a[1] == 254)
    return address_kind::link_local; // where cloud metadata services answer
  if ((a[0] & 0xf0) == 224)
    return address_kind::multicast;
  if (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255)
    return address_kind::broadcast;
  return address_kind::ordinary;
}

address_kind kind_of(const IPAddress& address) {
  auto bytes = static_cast<const uint8_t*>(address.addr());
  if (address.family() == IPAddress::IPv4)
    return kind_of_ipv4(bytes);
  if (address.isWildcard())
    return address_kind::unspecified;
  if (address.isLoopback())
    return address_kind::loopback;
  // ::ffff:a.b.c.d and the deprecated ::a.b.c.d reach IPv4 addresses.
  if (address.isIPv4Mapped() || address.isIPv4Compatible())
    return kind_of_ipv4(bytes + 12);
  if (bytes[0] == 0xff)
    return address_kind::multicast;
  if (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80)
    return address_kind::link_local; // fe80::/10
  if ((bytes[0] & 0xfe) == 0xfc || (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0xc0))
    return address_kind::private_network; // fc00::/7, deprecated fec0::/10
  return address_kind::ordinary;
}

/// Why an address of `kind` is refused; nullopt when it is not.
std::optional<std::string> refusal(address_kind kind, bool host_allowed,
                                   const webhook_policy& policy) {
  switch (kind) {
    case address_kind::unspecified:
    case address_kind::multicast:
    case address_kind::broadcast:
      return std::string{"no receiver can be reached there"};
    case address_kind::link_local:
      if (host_allowed)
        return std::nullopt;
      return std::string{"link-local addresses (such as cloud metadata services) "
                         "are refused unless FOREMAN_WEBHOOK_HOSTS names the host"};
    case address_kind::loopback:
    case address_kind::private_network:
      if (host_allowed || !policy.api_keys_configured)
        return std::nullopt;
      return std::string{"with API keys configured, loopback and private addresses "
                         "are refused unless FOREMAN_WEBHOOK_HOSTS names the host"};
    default:
      return std::nullopt;
  }
}

} // namespace

std::optional<std::string> webhook_url_problem(std::string_view text,
                                               const webhook_policy& policy) {
  if (text.size() > max_webhook_url_length)
    return "state_webhook_url must be at most " + std::to_string(max_webhook_url_length)
           + " characters";
  auto url = parse_http_url(text);
  if (!url)
    return std::string{"state_webhook_url must be an absolute http or https URL, "
                       "e.g. https://hooks.example:8443/foreman"};
  auto& host = url->host;
  auto named = std::any_of(
    policy.allowed_hosts.begin(), policy.allowed_hosts.end(),
    [&](const std::string& allowed) { return Poco::icompare(allowed, host) == 0; });
  if (!policy.allowed_hosts.empty() && !named)
    return "state_webhook_url host '" + host
           + "' is not allowed (FOREMAN_WEBHOOK_HOSTS)";
  const auto subject = "state_webhook_url host '" + host + "' ";
  IPAddress literal;
  if (IPAddress::tryParse(host, literal)) {
    // inet_aton also reads 2130706433, 0x7f.1 and 0177.0.0.1 as addresses;
    // other parsers read them as names or as other addresses.
    if (literal.family() == IPAddress::IPv4 && literal.toString() != host)
      return subject + "is ambiguous: write an IPv4 address as four decimal numbers, "
             + "e.g. " + literal.toString();
    auto kind = kind_of(literal);
    if (auto why = refusal(kind, named, policy))
      return subject + "is " + describe(kind) + "; " + *why;
    return std::nullopt;
  }
  std::vector<IPAddress> addresses;
  try {
    addresses = Poco::Net::DNS::hostByName(host).addresses();
  } catch (const Poco::Exception&) {
  }
  if (addresses.empty())
    return subject + "does not resolve to an address";
  // The connection may go to any of them.
  for (auto& address : addresses) {
    auto kind = kind_of(address);
    if (auto why = refusal(kind, named, policy))
      return subject + "resolves to " + address.toString() + ", " + describe(kind)
             + "; " + *why;
  }
  return std::nullopt;
}

} // namespace foreman::net
