#pragma once

namespace caf {
class actor_system_config;
} // namespace caf

namespace foreman {

/// Registers every foreman message type and actor handle with a CAF
/// configuration; for foreman's main and for applications that embed it.
void add_message_types(caf::actor_system_config& cfg);

} // namespace foreman
