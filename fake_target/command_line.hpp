#pragma once

// foreman-fake-ollama's command line.

#include "keep_alive.hpp"
#include "model_catalogue.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace fake_ollama {

struct settings {
  std::string host = "127.0.0.1";
  uint16_t port = 11434; // 0: let the OS choose
  model_catalogue catalogue = model_catalogue::defaults();
  std::size_t max_loaded = 2;
  std::chrono::milliseconds token_time{20};
  keep_alive default_keep_alive{false, std::chrono::minutes{5}};
  bool help_requested = false;
};

/// Throws std::invalid_argument with a message fit for stderr.
settings parse_command_line(int argc, char** argv);

extern const char* const usage_text;

} // namespace fake_ollama
