#pragma once

// Everything a request handler needs, shared by all server threads.

#include "blob_store.hpp"
#include "model_catalogue.hpp"
#include "residency.hpp"
#include "shutdown_latch.hpp"
#include "test_hooks.hpp"
#include "wire_format.hpp"

#include <chrono>

namespace fake_ollama {

struct fake_server {
  model_catalogue& catalogue; // changed by pull, create, copy and delete
  residency& models;
  blob_store& blobs;
  test_hooks& hooks;
  shutdown_latch& shutdown;
  std::chrono::milliseconds token_time; // per generated word
  wall_time installed_at; // modified_at of the models given at start-up
};

} // namespace fake_ollama
