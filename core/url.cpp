#include "core/url.hpp"

#include <algorithm>
#include <charconv>

#include <Poco/Exception.h>
#include <Poco/String.h>
#include <Poco/URI.h>

namespace foreman {

std::string http_url::origin() const {
  auto h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return scheme + "://" + h + ":" + std::to_string(port);
}

std::optional<http_url> parse_http_url(std::string_view text) {
  // Poco takes spaces and control characters into a URL's host; fragments
  // mean nothing to a server.
  if (std::any_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '#';
      }))
    return std::nullopt;
  Poco::URI uri;
  try {
    uri = Poco::URI{std::string{text}};
  } catch (const Poco::Exception&) {
    return std::nullopt; // among others, a port of 0 or above 65535
  }
  if ((uri.getScheme() != "http" && uri.getScheme() != "https")
      || uri.getHost().empty() || !uri.getUserInfo().empty())
    return std::nullopt;
  // Without user info the authority, and so the host, follows "://".
  auto authority = text.find("://") + 3;
  // Poco lower-cases the host; it stays as written, so that a host compares
  // equal to its own text.
  auto host = uri.getHost();
  auto written_host
    = std::string{text.substr(authority + (text[authority] == '[' ? 1 : 0),
                              host.size())};
  if (Poco::icompare(written_host, host) == 0)
    host = written_host;
  // The path and query as written: Poco's decode-and-encode would turn an
  // escaped slash (%2F) into a separator.
  auto path_start = text.find_first_of("/?", authority);
  auto path_and_query = path_start == std::string_view::npos
                          ? std::string{"/"}
                          : std::string{text.substr(path_start)};
  if (path_and_query.front() == '?')
    path_and_query.insert(0, "/");
  return http_url{uri.getScheme(), std::move(host), uri.getPort(),
                  std::move(path_and_query)};
}

std::optional<std::pair<std::string, uint16_t>>
parse_host_port(std::string_view text) {
  // Split here rather than by Poco::URI, which refuses port 0 ("any free
  // port" for a listening socket).
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return std::nullopt;
  auto port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(),
                                   port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{}
      || end != port_text.data() + port_text.size() || port > 65535)
    return std::nullopt;
  auto host = parse_http_url("http://" + std::string{text.substr(0, colon)});
  if (!host || host->path_and_query != "/")
    return std::nullopt;
  return std::make_pair(host->host, static_cast<uint16_t>(port));
}

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]"
         || host.rfind("127.", 0) == 0;
}

} // namespace foreman
