#include "foreman_process.hpp"

#include <stdexcept>

#ifndef FOREMAN_BIN
#error "FOREMAN_BIN must name the foreman binary"
#endif

namespace foreman_test {

namespace {

constexpr const char* listening_prefix = "foreman listening on ";

} // namespace

foreman_process::foreman_process(const std::vector<std::string>& args,
                                 const std::vector<std::string>& environment) {
  std::vector<std::string> argv{"--listen", "127.0.0.1:0"};
  argv.insert(argv.end(), args.begin(), args.end());
  process_ = std::make_unique<child_process>(FOREMAN_BIN, argv, environment);
  auto line = process_->wait_for_line(listening_prefix, std::chrono::seconds{20});
  if (!line)
    throw std::runtime_error{"foreman did not report its port within 20 s "
                             "(see its output above)"};
  // "foreman listening on 127.0.0.1:PORT, target ..."
  auto address = line->substr(std::string{listening_prefix}.size());
  url_ = "http://" + address.substr(0, address.find(','));
}

} // namespace foreman_test
