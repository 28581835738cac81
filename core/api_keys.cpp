#include "core/api_keys.hpp"

#include <algorithm>
#include <sstream>

#include "core/text.hpp"

namespace foreman {

namespace {

bool is_key_character(char c) {
  // Printable ASCII without the separators and quotes, so a key travels in a
  // header and a config line unchanged.
  return c > 0x20 && c < 0x7f && c != ',' && c != ':' && c != '"' && c != '\'';
}

/// Equal contents, in time that depends on the lengths only.
bool constant_time_equal(const std::string& a, const std::string& b) {
  auto longest = std::max(a.size(), b.size());
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < longest; ++i) {
    auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    difference |= static_cast<unsigned char>(x ^ y);
  }
  return difference == 0;
}

} // namespace

std::variant<std::vector<api_key>, std::string> parse_api_keys(const std::string& text) {
  std::vector<api_key> keys;
  if (trim(text).empty())
    return keys;
  std::istringstream in{text};
  size_t position = 0;
  for (std::string entry; std::getline(in, entry, ',');) {
    ++position;
    entry = trim(entry);
    auto where = "entry " + std::to_string(position);
    api_key key;
    auto colon = entry.find(':');
    key.secret = entry.substr(0, colon);
    if (colon != std::string::npos) {
      auto scope = entry.substr(colon + 1);
      if (scope == "admin")
        key.scope = key_scope::admin;
      else if (scope != "client")
        return where + ": unknown scope '" + scope + "' (expected client or admin)";
    }
    if (key.secret.size() < min_api_key_length)
      return where + ": a key needs at least " + std::to_string(min_api_key_length)
             + " characters";
    if (!std::all_of(key.secret.begin(), key.secret.end(), is_key_character))
      return where + ": a key is printable ASCII without spaces, commas, colons "
                     "or quotes";
    for (auto& earlier : keys)
      if (earlier.secret == key.secret)
        return where + ": the key is listed twice";
    keys.push_back(std::move(key));
  }
  return keys;
}

std::optional<api_key> find_api_key(const std::vector<api_key>& keys,
                                    const std::string& presented) {
  std::optional<api_key> match;
  for (auto& key : keys)
    if (constant_time_equal(key.secret, presented) && !match)
      match = key;
  return match;
}

} // namespace foreman
