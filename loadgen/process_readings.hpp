#pragma once

// What a load run reads of a process while it works: resident memory and
// threads, from /proc/<pid>/status.

#include <cstddef>
#include <sys/types.h>

namespace foreman_loadgen {

struct process_reading {
  std::size_t rss_kib = 0; // VmRSS
  std::size_t threads = 0; // Threads
};

/// Throws std::runtime_error when the process is gone or the file lacks
/// either field.
process_reading read_process(pid_t pid);

} // namespace foreman_loadgen
