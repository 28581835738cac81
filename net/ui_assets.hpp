#pragma once

// The dashboard's files (GET /ui), compiled into the binary from ui/ by
// cmake/embed_ui_assets.cmake.

#include <cstddef>
#include <string_view>

namespace foreman::net {

struct ui_asset {
  /// The path under /ui/; "" is the page itself (/ui).
  std::string_view name;
  std::string_view content_type;
  std::string_view body;
};

extern const ui_asset ui_assets[];
extern const size_t ui_asset_count;

/// The asset at `path` (/ui, /ui/ or /ui/<name>), or nullptr.
const ui_asset* find_ui_asset(std::string_view path);

} // namespace foreman::net
