#include "core/url.hpp"

#include <algorithm>
#include <charconv>

namespace foreman {

namespace {

std::optional<uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(),
                                   value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()
      || value > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(value);
}

bool is_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.'
         || c == '_';
}

// host, [v6]:port, host:port; `default_port` when no port is given.
std::optional<std::pair<std::string, uint16_t>>
split_authority(std::string_view authority, std::optional<uint16_t> default_port) {
  std::string_view host;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    host = authority.substr(1, close - 1);
    auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return std::nullopt;
      port_text = rest.substr(1);
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) || c == ':'
                 || c == '.';
        }))
      return std::nullopt;
  } else {
    auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos)
      port_text = authority.substr(colon + 1);
    if (host.empty() || !std::all_of(host.begin(), host.end(), is_host_char))
      return std::nullopt;
  }
  if (port_text.empty()) {
    if (!default_port || authority.back() == ':')
      return std::nullopt;
    return std::make_pair(std::string{host}, *default_port);
  }
  auto port = parse_port(port_text);
  if (!port)
    return std::nullopt;
  return std::make_pair(std::string{host}, *port);
}

} // namespace

std::string http_url::origin() const {
  auto h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return scheme + "://" + h + ":" + std::to_string(port);
}

std::optional<http_url> parse_http_url(std::string_view text) {
  if (std::any_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
      }))
    return std::nullopt;
  http_url result;
  uint16_t default_port = 0;
  if (text.substr(0, 7) == "http://") {
    result.scheme = "http";
    default_port = 80;
    text.remove_prefix(7);
  } else if (text.substr(0, 8) == "https://") {
    result.scheme = "https";
    default_port = 443;
    text.remove_prefix(8);
  } else {
    return std::nullopt;
  }
  if (text.find('#') != std::string_view::npos)
    return std::nullopt;
  auto path_start = text.find_first_of("/?");
  auto authority = text.substr(0, path_start);
  if (authority.find('@') != std::string_view::npos)
    return std::nullopt;
  auto host_port = split_authority(authority, default_port);
  if (!host_port || host_port->second == 0)
    return std::nullopt;
  result.host = host_port->first;
  result.port = host_port->second;
  result.path_and_query = path_start == std::string_view::npos
                            ? std::string{"/"}
                            : std::string{text.substr(path_start)};
  if (result.path_and_query.front() == '?')
    result.path_and_query.insert(0, "/");
  return result;
}

std::optional<std::pair<std::string, uint16_t>>
parse_host_port(std::string_view text) {
  return split_authority(text, std::nullopt);
}

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]"
         || host.rfind("127.", 0) == 0;
}

} // namespace foreman
