#pragma once

// foreman's command-line client: `foreman jobs list|show|cancel` and
// `foreman status` ask a running foreman over its HTTP API and print tables.

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/settings.hpp"

namespace foreman {

/// True when `word` (the first argument) names a client command.
bool is_cli_command(std::string_view word);

/// Runs the client command in `args` (the arguments after the program name,
/// starting with "jobs" or "status"), reading FOREMAN_URL and
/// FOREMAN_API_KEY from `env`. Returns the exit code: 0 done, 1 the request
/// failed (foreman unreachable, or an error answer), 2 bad usage.
int run_cli(const std::vector<std::string>& args, const env_lookup& env,
            std::ostream& out, std::ostream& err);

} // namespace foreman
