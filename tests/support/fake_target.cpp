#include "fake_target.hpp"

#include "http_client.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <csignal>
#include <stdexcept>

#ifndef FOREMAN_FAKE_TARGET_BIN
#error "FOREMAN_FAKE_TARGET_BIN must name the foreman-fake-ollama binary"
#endif

namespace foreman_test {

namespace {

constexpr const char* listening_prefix = "fake-ollama listening on ";

uint64_t number(const Poco::JSON::Object::Ptr& object, const std::string& key) {
  return object->getValue<uint64_t>(key);
}

std::map<std::string, uint64_t> number_map(const Poco::JSON::Object::Ptr& object,
                                           const std::string& key) {
  std::map<std::string, uint64_t> result;
  const auto values = object->getObject(key);
  for (const auto& [name, value] : *values)
    result[name] = value.convert<uint64_t>();
  return result;
}

std::string quoted(const std::string& text) {
  std::string result = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      result += '\\';
    result += c;
  }
  return result + "\"";
}

} // namespace

uint64_t fake_counters::requests_to(const std::string& path) const {
  const auto found = requests_by_path.find(path);
  return found == requests_by_path.end() ? 0 : found->second;
}

uint64_t fake_counters::loads_of(const std::string& display_name) const {
  const auto found = loads.find(display_name);
  return found == loads.end() ? 0 : found->second;
}

fake_target::fake_target(const std::vector<std::string>& extra_args) {
  std::vector<std::string> args{"--listen", "127.0.0.1:0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<child_process>(FOREMAN_FAKE_TARGET_BIN, args);
  const auto line = process_->wait_for_line(listening_prefix, std::chrono::seconds{10});
  if (!line)
    throw std::runtime_error("foreman-fake-ollama did not report its port "
                             "within 10 s (see its output above)");
  const auto colon = line->rfind(':');
  port_ = static_cast<uint16_t>(std::stoi(line->substr(colon + 1)));
}

fake_target::~fake_target() {
  process_->signal(SIGTERM);
  process_->wait_exit(std::chrono::seconds{5}); // else ~child_process kills it
}

std::string fake_target::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

fake_counters fake_target::counters() const {
  const auto response = http_request("GET", url() + "/_fake/counters");
  if (response.status != 200)
    throw std::runtime_error("GET /_fake/counters: status "
                             + std::to_string(response.status));
  Poco::JSON::Parser parser;
  const auto json = parser.parse(response.body).extract<Poco::JSON::Object::Ptr>();
  fake_counters counters;
  counters.requests = number(json, "requests");
  counters.requests_by_path = number_map(json, "requests_by_path");
  counters.loads = number_map(json, "loads");
  counters.total_loads = number(json, "total_loads");
  counters.generations_started = number(json, "generations_started");
  counters.active_generations = number(json, "active_generations");
  counters.max_concurrent_generations = number(json, "max_concurrent_generations");
  counters.holding = json->getValue<bool>("holding");
  counters.held = number(json, "held");
  const auto resident = json->getArray("resident");
  for (std::size_t i = 0; i < resident->size(); ++i)
    counters.resident.push_back(resident->getElement<std::string>(static_cast<unsigned>(i)));
  return counters;
}

void fake_target::reset_counters() const {
  post_hook("POST", "/_fake/reset", "");
}

void fake_target::arm_fault(const std::string& kind, int count, int delay_ms,
                            const std::string& path) const {
  std::string body = "{\"kind\":" + quoted(kind) + ",\"count\":" + std::to_string(count)
                     + ",\"delay_ms\":" + std::to_string(delay_ms);
  if (!path.empty())
    body += ",\"path\":" + quoted(path);
  post_hook("POST", "/_fake/faults", body + "}");
}

void fake_target::clear_faults() const {
  post_hook("DELETE", "/_fake/faults", "");
}

void fake_target::hold() const {
  post_hook("POST", "/_fake/hold", "");
}

uint64_t fake_target::release() const {
  Poco::JSON::Parser parser;
  const auto reply = parser.parse(post_hook("POST", "/_fake/release", ""))
                       .extract<Poco::JSON::Object::Ptr>();
  return number(reply, "released");
}

std::string fake_target::post_hook(const std::string& method, const std::string& path,
                                   const std::string& body) const {
  const auto response = http_request(method, url() + path, body);
  if (response.status != 200)
    throw std::runtime_error(method + " " + path + ": status "
                             + std::to_string(response.status) + " "
                             + response.body);
  return response.body;
}

} // namespace foreman_test
