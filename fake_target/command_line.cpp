#include "command_line.hpp"

#include <Poco/NumberParser.h>

#include <stdexcept>

namespace fake_ollama {

const char* const usage_text = R"(usage: foreman-fake-ollama [options]

Simulates an Ollama server for foreman's tests, benchmarks and demos.

  --listen HOST:PORT        address to listen on (default 127.0.0.1:11434;
                            port 0 picks a free port)
  --models SPEC             installed models, comma-separated
                            name:kind:size_mb:load_ms, kind chat or embed
                            (default llama3.2, qwen2.5, mistral: chat;
                            all-minilm: embed)
  --max-loaded N            how many models fit in memory at once (default 2)
  --token-ms N              milliseconds per generated word (default 20)
  --default-keep-alive DUR  residency after a request without keep_alive
                            (default 5m; Go duration or seconds, negative =
                            forever)
  --help                    show this text

Prints "fake-ollama listening on HOST:PORT" once it accepts connections.
Pull, push, create, copy, delete and blob uploads change an in-memory
catalogue; the simulated registry has every model except names containing
"notfound".
Test hooks: GET /_fake/counters, POST /_fake/reset,
POST|DELETE /_fake/faults, POST /_fake/hold (generations wait, their model
loaded, until POST /_fake/release).
)";

namespace {

uint64_t parse_number(const std::string& option, const std::string& text,
                      uint64_t minimum, uint64_t maximum) {
  Poco::UInt64 value = 0;
  if (!Poco::NumberParser::tryParseUnsigned64(text, value) || value < minimum
      || value > maximum)
    throw std::invalid_argument(option + " expects an integer from "
                                + std::to_string(minimum) + " to "
                                + std::to_string(maximum) + ", not '" + text
                                + "'");
  return value;
}

void parse_listen(const std::string& text, settings& result) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw std::invalid_argument("--listen expects HOST:PORT, not '" + text + "'");
  result.host = text.substr(0, colon);
  result.port = static_cast<uint16_t>(
    parse_number("--listen port", text.substr(colon + 1), 0, 65535));
}

} // namespace

settings parse_command_line(int argc, char** argv) {
  settings result;
  for (int i = 1; i < argc; ++i) {
    std::string option = argv[i];
    if (option == "--help" || option == "-h") {
      result.help_requested = true;
      continue;
    }
    // Both "--option value" and "--option=value".
    std::string value;
    if (const auto equals = option.find('='); equals != std::string::npos) {
      value = option.substr(equals + 1);
      option.erase(equals);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      throw std::invalid_argument("option '" + option
                                  + "' is unknown or lacks its value");
    }
    if (option == "--listen") {
      parse_listen(value, result);
    } else if (option == "--models") {
      result.catalogue = model_catalogue::parse(value);
    } else if (option == "--max-loaded") {
      result.max_loaded = parse_number(option, value, 1, 1000);
    } else if (option == "--token-ms") {
      result.token_time = std::chrono::milliseconds{
        static_cast<int64_t>(parse_number(option, value, 0, 60000))};
    } else if (option == "--default-keep-alive") {
      try {
        result.default_keep_alive = keep_alive_from_text(value);
      } catch (const invalid_keep_alive& error) {
        throw std::invalid_argument("--default-keep-alive: "
                                    + std::string(error.what()));
      }
    } else {
      throw std::invalid_argument("unknown option '" + option + "'");
    }
  }
  return result;
}

} // namespace fake_ollama
