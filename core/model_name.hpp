#pragma once

// Ollama model names: `[host/][namespace/]model[:tag]`.

#include <string>
#include <string_view>

namespace foreman {

/// True when Ollama would accept the name (ollama-api.md §3).
bool is_valid_model_name(std::string_view name);

/// The name as Ollama lists residents in /api/ps, lower-cased so that names
/// compare the way Ollama matches them: default host and namespace dropped,
/// tag always present ("llama3.2" -> "llama3.2:latest").
std::string model_key(std::string_view name);

} // namespace foreman
