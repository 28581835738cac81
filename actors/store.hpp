#pragma once

#include <memory>

#include <caf/fwd.hpp>

#include "messages/interfaces.hpp"

namespace foreman {

class job_store;

/// Spawns the STORE actor over an open database. It runs detached: SQLite
/// blocks, and CAF's scheduler threads must not.
store_actor spawn_store(caf::actor_system& sys, std::shared_ptr<job_store> db);

} // namespace foreman
