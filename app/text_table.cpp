#include "app/text_table.hpp"

#include <algorithm>
#include <utility>

namespace foreman {

namespace {

/// One character of UTF-8 text: its code point and how many bytes it takes.
/// A byte that does not start a well-formed sequence is one character.
std::pair<char32_t, std::size_t> decode_one(std::string_view text) {
  auto lead = static_cast<unsigned char>(text[0]);
  std::size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2
                                     : (lead >> 4) == 0xe   ? 3
                                     : (lead >> 3) == 0x1e  ? 4
                                                            : 0;
  if (length == 0 || length > text.size())
    return {lead, 1};
  char32_t code = length == 1 ? lead : lead & (0x7f >> length);
  for (std::size_t i = 1; i < length; ++i) {
    auto next = static_cast<unsigned char>(text[i]);
    if ((next & 0xc0) != 0x80)
      return {lead, 1};
    code = (code << 6) | (next & 0x3f);
  }
  return {code, length};
}

bool in(char32_t code, char32_t first, char32_t last) {
  return code >= first && code <= last;
}

std::size_t char_width(char32_t code) {
  if (in(code, 0x300, 0x36f) || in(code, 0x200b, 0x200f) || in(code, 0xfe00, 0xfe0f))
    return 0;
  if (in(code, 0x1100, 0x115f) || in(code, 0x2e80, 0x303e) || in(code, 0x3041, 0xa4cf)
      || in(code, 0xac00, 0xd7a3) || in(code, 0xf900, 0xfaff) || in(code, 0xfe30, 0xfe4f)
      || in(code, 0xff00, 0xff60) || in(code, 0xffe0, 0xffe6)
      || in(code, 0x1f300, 0x1f64f) || in(code, 0x1f900, 0x1f9ff)
      || in(code, 0x20000, 0x3fffd))
    return 2;
  return 1;
}

std::string one_line(std::string text) {
  std::replace_if(
    text.begin(), text.end(),
    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }, ' ');
  return text;
}

} // namespace

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  while (!text.empty()) {
    auto [code, length] = decode_one(text);
    width += char_width(code);
    text.remove_prefix(length);
  }
  return width;
}

std::string truncate_to_width(std::string_view text, std::size_t max_width) {
  if (display_width(text) <= max_width)
    return std::string{text};
  if (max_width == 0)
    return {};
  // Room for the ellipsis, which takes one column.
  std::size_t width = 0;
  std::size_t end = 0;
  while (end < text.size()) {
    auto [code, length] = decode_one(text.substr(end));
    if (width + char_width(code) > max_width - 1)
      break;
    width += char_width(code);
    end += length;
  }
  return std::string{text.substr(0, end)} + "…";
}

text_table::text_table(std::vector<text_column> columns, bool header)
  : columns_(std::move(columns)), header_(header) {
}

void text_table::add_row(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  for (auto& cell : cells)
    cell = one_line(std::move(cell));
  rows_.push_back(std::move(cells));
}

std::string text_table::render() const {
  std::vector<std::vector<std::string>> lines;
  if (header_) {
    std::vector<std::string> titles;
    for (auto& column : columns_)
      titles.push_back(column.title);
    lines.push_back(std::move(titles));
  }
  lines.insert(lines.end(), rows_.begin(), rows_.end());
  std::vector<std::size_t> widths(columns_.size(), 0);
  for (auto& line : lines)
    for (std::size_t i = 0; i < line.size(); ++i)
      widths[i] = std::max(widths[i], display_width(line[i]));
  std::string out;
  for (auto& line : lines) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i) {
      std::string padding(widths[i] - display_width(line[i]), ' ');
      if (i > 0)
        text += "  ";
      text += columns_[i].align_right ? padding + line[i] : line[i] + padding;
    }
    text.erase(text.find_last_not_of(' ') + 1);
    out += text + "\n";
  }
  return out;
}

} // namespace foreman
