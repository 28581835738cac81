#include "process_readings.hpp"

#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

namespace foreman_loadgen {

process_reading read_process(pid_t pid) {
  const auto path = "/proc/" + std::to_string(pid) + "/status";
  std::ifstream status(path);
  if (!status)
    throw std::runtime_error("cannot read " + path + " (has the process ended?)");
  std::optional<std::size_t> rss_kib;
  std::optional<std::size_t> threads;
  // "VmRSS:	   12345 kB", "Threads:	17"
  for (std::string line; std::getline(status, line);) {
    std::istringstream fields(line);
    std::string name;
    std::size_t value = 0;
    if (!(fields >> name >> value))
      continue;
    if (name == "VmRSS:")
      rss_kib = value;
    else if (name == "Threads:")
      threads = value;
  }
  if (!rss_kib || !threads)
    throw std::runtime_error(path + " lacks VmRSS or Threads");
  return {*rss_kib, *threads};
}

} // namespace foreman_loadgen
