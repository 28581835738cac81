#include "reverse_proxy.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace foreman_bench {

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

/// A loopback port that was free a moment ago. HAProxy cannot report a port
/// the kernel chose for it, so the bench asks the kernel for one first.
int free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  auto address = loopback(0);
  socklen_t size = sizeof address;
  const bool found
    = bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0
      && getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0;
  const int error = errno;
  close(fd);
  if (!found)
    throw std::runtime_error("cannot find a free loopback port: "
                             + std::string(std::strerror(error)));
  return ntohs(address.sin_port);
}

bool accepts_connections(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  const auto address = loopback(port);
  const bool connected
    = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return connected;
}

std::string proxy_config(int port, int target_port) {
  std::ostringstream text;
  text << "global\n"
          "    maxconn 1024\n"
          // One event loop: on a small machine shared with the clients and
          // the target, a second thread only adds hand-offs between threads
          // (64 clients on 2 cores: 2,400 requests/s with two, 7,500 with one).
          "    nbthread 1\n"
          "defaults\n"
          "    mode http\n"
          "    option http-keep-alive\n"
          // One target behind it: any idle connection to it may serve any
          // client, as foreman's own connection to the target does.
          "    http-reuse always\n"
          "    timeout connect 5s\n"
          "    timeout client 60s\n"
          "    timeout server 60s\n"
          "    timeout queue 60s\n"
          "frontend bench\n"
          "    bind 127.0.0.1:" << port << "\n"
          "    default_backend target\n"
          "backend target\n"
          "    server target 127.0.0.1:" << target_port << " maxconn 1\n";
  return text.str();
}

} // namespace

std::string find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path)
    return {};
  std::istringstream directories(path);
  for (std::string directory; std::getline(directories, directory, ':');) {
    const auto candidate = (directory.empty() ? "." : directory) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return {};
}

server start_serializing_proxy(const std::string& haproxy, const temp_dir& dir,
                               int target_port) {
  server proxy;
  proxy.port = free_loopback_port();
  const auto config = dir.file("haproxy.cfg");
  std::ofstream(config) << proxy_config(proxy.port, target_port);
  // -db: in the foreground, so that it stays the bench's child.
  proxy.process = std::make_unique<child_process>("haproxy", haproxy,
                                                  std::vector<std::string>{"-db", "-f", config});
  const auto deadline = steady::now() + seconds{10};
  while (!accepts_connections(proxy.port)) {
    if (steady::now() >= deadline)
      throw std::runtime_error("haproxy did not accept connections on 127.0.0.1:"
                               + std::to_string(proxy.port) + " within 10 s:\n"
                               + proxy.process->tail());
    std::this_thread::sleep_for(milliseconds{20});
  }
  return proxy;
}

} // namespace foreman_bench
