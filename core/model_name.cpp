#include "core/model_name.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include <Poco/String.h>

namespace foreman {

namespace {

constexpr const char* default_host = "registry.ollama.ai";
constexpr const char* default_namespace = "library";

bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// model and tag: first [A-Za-z0-9_], then [A-Za-z0-9_.-], 1 to 80 characters.
bool is_valid_part(std::string_view part, bool allow_dot) {
  if (part.empty() || part.size() > 80 || !is_word_char(part.front()))
    return false;
  return std::all_of(part.begin() + 1, part.end(), [&](char c) {
    return is_word_char(c) || c == '-' || (allow_dot && c == '.');
  });
}

bool is_valid_host(std::string_view host) {
  for (auto prefix : {std::string_view{"https://"}, std::string_view{"http://"}})
    if (host.substr(0, prefix.size()) == prefix)
      host.remove_prefix(prefix.size());
  if (host.empty() || host.size() > 350 || !is_word_char(host.front()))
    return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return is_word_char(c) || c == '-' || c == '.' || c == ':';
  });
}

struct name_parts {
  std::vector<std::string_view> path; // host?, namespace?, model
  std::string_view tag;
  bool has_tag = false;
};

name_parts split(std::string_view name) {
  name_parts result;
  // The tag follows the last ':' only if that ':' comes after the last '/'.
  auto colon = name.rfind(':');
  auto slash = name.rfind('/');
  if (colon != std::string_view::npos
      && (slash == std::string_view::npos || colon > slash)) {
    result.tag = name.substr(colon + 1);
    result.has_tag = true;
    name = name.substr(0, colon);
  }
  size_t start = 0;
  for (;;) {
    auto next = name.find('/', start);
    result.path.push_back(name.substr(start, next - start));
    if (next == std::string_view::npos)
      break;
    start = next + 1;
  }
  return result;
}

} // namespace

bool is_valid_model_name(std::string_view name) {
  auto parts = split(name);
  if (parts.path.size() > 3)
    return false;
  if (parts.has_tag && !is_valid_part(parts.tag, true))
    return false;
  auto n = parts.path.size();
  if (!is_valid_part(parts.path[n - 1], true))
    return false;
  if (n >= 2 && !is_valid_part(parts.path[n - 2], false))
    return false;
  if (n == 3 && !is_valid_host(parts.path[0]))
    return false;
  return true;
}

std::string model_key(std::string_view name) {
  auto parts = split(name);
  auto& path = parts.path;
  if (path.size() == 3 && Poco::icompare(std::string{path[0]}, default_host) == 0)
    path.erase(path.begin());
  if (path.size() == 2 && Poco::icompare(std::string{path[0]}, default_namespace) == 0)
    path.erase(path.begin());
  std::string result;
  for (auto& part : path) {
    if (!result.empty())
      result += '/';
    result += part;
  }
  result += ':';
  result += parts.has_tag ? parts.tag : std::string_view{"latest"};
  return Poco::toLower(result);
}

} // namespace foreman
