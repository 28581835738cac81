#include "net/ui_assets.hpp"

namespace foreman::net {

const ui_asset* find_ui_asset(std::string_view path) {
  if (path == "/ui" || path == "/ui/")
    path = "";
  else if (path.rfind("/ui/", 0) == 0)
    path.remove_prefix(4);
  else
    return nullptr;
  for (size_t i = 0; i < ui_asset_count; ++i)
    if (ui_assets[i].name == path)
      return &ui_assets[i];
  return nullptr;
}

} // namespace foreman::net
