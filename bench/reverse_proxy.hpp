#pragma once

// The baseline foreman's queue is held against: HAProxy in front of the same
// target, passing one request at a time to it (maxconn 1 on its server
// line), the plainest way to serialize calls to a target.

#include "harness.hpp"

#include <string>

namespace foreman_bench {

/// The path of `program` in a directory on PATH; empty when there is none.
std::string find_on_path(const std::string& program);

/// Starts `haproxy` (a path) on an ephemeral loopback port in HTTP mode,
/// keep-alive on both sides, with `maxconn 1` to the target at
/// `target_port`; its configuration file goes into `dir`. Returns once it
/// accepts connections; throws when it does not within 10 s.
server start_serializing_proxy(const std::string& haproxy, const temp_dir& dir,
                               int target_port);

} // namespace foreman_bench
