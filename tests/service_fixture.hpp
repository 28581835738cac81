#pragma once

// foreman's service in the test process, in front of a fake Ollama target
// child process, over real HTTP on loopback.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "app/service.hpp"
#include "fake_target.hpp"
#include "http_client.hpp"
#include "messages/add_message_types.hpp"
#include "temp_dir.hpp"

namespace foreman_test {

using object_ptr = Poco::JSON::Object::Ptr;

inline object_ptr parse_json(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<object_ptr>();
}

/// Polls until `condition` holds; false when `limit` passes first.
template <class Condition>
bool eventually(Condition condition,
                std::chrono::milliseconds limit = std::chrono::seconds{20}) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return condition();
}

/// A request whose connection the test closes when it chooses.
class held_request {
public:
  held_request(const std::string& base, const std::string& path,
               const std::string& body, const std::string& extra_headers = "") {
    auto port = static_cast<uint16_t>(std::stoi(base.substr(base.rfind(':') + 1)));
    socket_.connect(Poco::Net::SocketAddress{"127.0.0.1", port});
    auto request = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   + extra_headers + "Content-Type: application/json\r\n"
                   + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n"
                   + body;
    socket_.sendBytes(request.data(), static_cast<int>(request.size()));
  }

  void close() {
    socket_.close();
  }

private:
  Poco::Net::StreamSocket socket_;
};

/// A chat request body with one user message.
inline std::string chat_body(const std::string& model, const std::string& message,
                             const std::string& extra = R"("stream":false)") {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":")"
         + message + R"("}])" + (extra.empty() ? "" : "," + extra) + "}";
}

/// Three chat models and an embedder; two may be resident at once, and the
/// embedder holds one of the slots.
inline std::vector<std::string> three_models_two_slots(const std::string& token_ms) {
  return {"--models",
          "llama3.2:chat:2000:60,qwen2.5:chat:2000:60,mistral:chat:2000:60,"
          "all-minilm:embed:50:20",
          "--max-loaded", "2", "--token-ms", token_ms};
}

class service_fixture {
public:
  /// Starts the fake target with `fake_args`, then foreman with the
  /// fixture's defaults as changed by `adjust`.
  explicit service_fixture(
    const std::vector<std::string>& fake_args,
    const std::function<void(foreman::settings&)>& adjust = {})
    : target(fake_args) {
    foreman::add_message_types(cfg_);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    foreman::settings config;
    config.listen_port = 0;
    config.ollama_url = *foreman::parse_http_url(target.url());
    config.db_path = dir.file("jobs.db");
    config.embed_model = "all-minilm";
    config.inventory_poll_ms = 200;
    // A test that ends with a job held on the target should not wait out a
    // grace period; the shutdown suites set their own.
    config.shutdown_grace_ms = 0;
    if (adjust)
      adjust(config);
    config_ = config;
    foreman = std::make_unique<foreman::service>(*sys_, config);
    base = "http://127.0.0.1:" + std::to_string(foreman->http_port());
  }

  /// Stops foreman and starts a new one on the same database (and a new
  /// port), as a restart would.
  void restart() {
    foreman.reset();
    foreman = std::make_unique<foreman::service>(*sys_, config_);
    base = "http://127.0.0.1:" + std::to_string(foreman->http_port());
  }

  ~service_fixture() {
    foreman.reset();
  }

  http_response post(const std::string& path, const std::string& body) {
    return http_request("POST", base + path, body);
  }

  /// The stored job a response's X-Foreman-Job-Id names.
  object_ptr job_of(const http_response& res) {
    return job(res.headers.at("X-Foreman-Job-Id"));
  }

  object_ptr job(const std::string& id) {
    auto got = http_request("GET", base + "/jobs/" + id);
    if (got.status != 200)
      return nullptr;
    return parse_json(got.body);
  }

  std::string state_of(const std::string& id) {
    auto x = job(id);
    return x ? x->getValue<std::string>("state") : "absent";
  }

private:
  // Declared first so they outlive the service: a detached actor's thread
  // ends only once nothing refers to the actor any more.
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  foreman::settings config_;

public:
  temp_dir dir;
  fake_target target;
  std::string base;
  std::unique_ptr<foreman::service> foreman;
};

} // namespace foreman_test
