#pragma once

// Small text helpers shared by the settings readers.

#include <string>
#include <string_view>

namespace foreman {

/// `text` without leading and trailing spaces, tabs and line ends.
inline std::string trim(std::string_view text) {
  constexpr std::string_view blanks = " \t\r\n";
  auto first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos)
    return {};
  auto last = text.find_last_not_of(blanks);
  return std::string{text.substr(first, last - first + 1)};
}

} // namespace foreman
