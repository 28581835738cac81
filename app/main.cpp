// foreman: a durable job queue and scheduler in front of Ollama.

#include <csignal>
#include <iostream>
#include <pthread.h>
#include <sys/resource.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "app/cli.hpp"
#include "app/service.hpp"
#include "core/log.hpp"
#include "core/settings.hpp"
#include "messages/add_message_types.hpp"

namespace {

/// Every waiting caller holds a connection: allow as many descriptors as
/// the system lets this process have (the soft limit is often 1024).
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

} // namespace

int main(int argc, char** argv) {
  if (argc > 1 && foreman::is_cli_command(argv[1]))
    return foreman::run_cli({argv + 1, argv + argc}, foreman::process_env,
                            std::cout, std::cerr);
  foreman::settings_result parsed;
  try {
    parsed = foreman::parse_settings({argv + 1, argv + argc},
                                     foreman::process_env);
  } catch (const foreman::settings_error& e) {
    std::cerr << "foreman: " << e.what() << "\n";
    return 2;
  }
  if (parsed.help_requested) {
    std::cout << foreman::settings_help();
    return 0;
  }
  auto& config = parsed.values;
  foreman::set_process_logger(foreman::configured_logger(config));
  raise_descriptor_limit();
  // Signals are taken by sigwait below, never by a random thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  caf::actor_system_config cfg;
  foreman::add_message_types(cfg);
  // foreman runs few actors that mostly wait; a shared job queue wakes a
  // worker thread at once instead of work stealing's sleep-and-poll (which
  // cost ~0.4 ms per job and most of foreman's idle CPU).
  cfg.set("scheduler.policy", caf::atom("sharing"));
  caf::actor_system sys{cfg};
  try {
    foreman::service svc{sys, config};
    std::cout << "foreman listening on " << config.listen_host << ":"
              << svc.http_port() << ", target " << config.ollama_url.origin()
              << ", database " << config.db_path
              << (config.config_file.empty() ? "" : ", config " + config.config_file)
              << (config.api_keys.empty() ? ", no API keys" : ", API keys required")
              << std::endl;
    if (config.api_keys.empty() && !foreman::is_loopback_host(config.listen_host))
      foreman::log_warning("main",
                           "listening without FOREMAN_API_KEYS: anyone who "
                           "reaches this address can run jobs and manage models",
                           {{"listen", config.listen_host}});
    int received = 0;
    sigwait(&signals, &received);
    foreman::log_info("main", "stopping on a signal",
                      {{"signal", strsignal(received)}});
    svc.stop();
  } catch (const std::exception& e) {
    std::cerr << "foreman: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
