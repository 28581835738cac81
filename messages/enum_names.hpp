#pragma once

// Enums as the words they are stored and shown as: one table per enum,
// read both ways.

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace foreman {

template <class Enum, std::size_t N>
using enum_names = std::array<std::pair<Enum, std::string_view>, N>;

template <class Enum, std::size_t N>
std::string_view name_of(const enum_names<Enum, N>& names, Enum x) {
  for (auto& [value, name] : names)
    if (value == x)
      return name;
  return "unknown";
}

template <class Enum, std::size_t N>
std::optional<Enum> value_of(const enum_names<Enum, N>& names, std::string_view text) {
  for (auto& [value, name] : names)
    if (name == text)
      return value;
  return std::nullopt;
}

} // namespace foreman
