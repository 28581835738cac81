#pragma once

// Everything a request handler needs, shared by all server threads.

#include "model_catalogue.hpp"
#include "residency.hpp"
#include "shutdown_latch.hpp"
#include "test_hooks.hpp"
#include "wire_format.hpp"

#include <chrono>

namespace fake_ollama {

struct fake_server {
  const model_catalogue& catalogue;
  residency& models;
  test_hooks& hooks;
  shutdown_latch& shutdown;
  std::chrono::milliseconds token_time; // per generated word
  wall_time installed_at;               // reported as every model's modified_at
};

} // namespace fake_ollama
