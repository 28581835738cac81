#pragma once

// Plain-text tables for a terminal: columns aligned by display width.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace foreman {

struct text_column {
  std::string title;
  /// Numbers read best right-aligned.
  bool align_right = false;
};

class text_table {
public:
  /// With `header`, the first line holds the column titles.
  explicit text_table(std::vector<text_column> columns, bool header = true);

  /// Missing cells are empty, extra ones dropped. Control characters
  /// (newlines, tabs) become spaces so that a row stays one line.
  void add_row(std::vector<std::string> cells);

  /// Every line ends in '\n'; columns are two spaces apart and no line ends
  /// in padding.
  std::string render() const;

private:
  std::vector<text_column> columns_;
  bool header_;
  std::vector<std::vector<std::string>> rows_;
};

/// The columns `text` (UTF-8) takes on a terminal: combining marks take
/// none, East Asian wide characters and emoji two, anything else one
/// (bytes that are not UTF-8 included).
std::size_t display_width(std::string_view text);

/// `text` shortened to at most `max_width` columns, ending in "…" when
/// shortened.
std::string truncate_to_width(std::string_view text, std::size_t max_width);

} // namespace foreman
