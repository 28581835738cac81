// foreman-fake-ollama: an HTTP server that behaves like Ollama closely
// enough for foreman's tests, benchmarks and demo (see command_line.cpp).

#include "command_line.hpp"
#include "fake_server.hpp"
#include "router.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>

#include <csignal>
#include <iostream>
#include <pthread.h>

namespace {

// Tests hit the server with many concurrent, often long-waiting requests.
constexpr int max_threads = 128;

sigset_t termination_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

int run(const fake_ollama::settings& settings) {
  using namespace fake_ollama;
  test_hooks hooks;
  model_catalogue catalogue = settings.catalogue;
  residency models(settings.max_loaded, settings.default_keep_alive, hooks);
  blob_store blobs;
  shutdown_latch shutdown;
  fake_server server{catalogue, models, blobs, hooks, shutdown,
                     settings.token_time, wall_now()};

  Poco::Net::ServerSocket socket(
    Poco::Net::SocketAddress(settings.host, settings.port), 64);
  Poco::ThreadPool pool("fake-ollama", 4, max_threads);
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(max_threads);
  params->setMaxQueued(256);
  params->setKeepAlive(true);
  Poco::Net::HTTPServer http(new request_router(server), pool, socket, params);
  http.start();
  std::cout << "fake-ollama listening on " << socket.address().toString()
            << std::endl;

  const auto signals = termination_signals();
  int received = 0;
  sigwait(&signals, &received);

  // Wake sleeping handlers first so that stopping the server is quick.
  shutdown.trigger();
  models.stop();
  http.stopAll(true);
  pool.joinAll();
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  // Blocked in every thread (pool threads inherit the mask) and collected
  // by sigwait in run(); a write to a vanished client must not kill us.
  const auto signals = termination_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  fake_ollama::settings settings;
  try {
    settings = fake_ollama::parse_command_line(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "foreman-fake-ollama: " << error.what()
              << " (--help lists the options)\n";
    return 2;
  }
  if (settings.help_requested) {
    std::cout << fake_ollama::usage_text;
    return 0;
  }
  try {
    return run(settings);
  } catch (const Poco::Exception& error) {
    std::cerr << "foreman-fake-ollama: " << error.displayText() << '\n';
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "foreman-fake-ollama: " << error.what() << '\n';
    return 1;
  }
}
