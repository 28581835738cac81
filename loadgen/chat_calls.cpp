#include "chat_calls.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cstdio>
#include <sstream>
#include <tuple>
#include <utility>

namespace foreman_loadgen {

namespace {

std::string json_string(const std::string& text) {
  std::string quoted = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        quoted += "\\\"";
        break;
      case '\\':
        quoted += "\\\\";
        break;
      case '\n':
        quoted += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          quoted += escaped;
        } else {
          quoted += c;
        }
    }
  }
  return quoted + "\"";
}

std::string shortened(const std::string& text) {
  constexpr std::size_t shown = 200;
  return text.size() <= shown ? text : text.substr(0, shown) + "...";
}

/// The content of one chat object, and whether it says done.
std::pair<std::string, bool> chat_content(const std::string& json) {
  Poco::JSON::Parser parser;
  const auto object = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
  const auto message = object->getObject("message");
  if (!message)
    throw Poco::DataException("no \"message\" object");
  return {message->getValue<std::string>("content"), object->optValue("done", false)};
}

} // namespace

http_call chat_call(const std::string& model, const std::string& message, bool stream) {
  return {"POST", "/api/chat",
          "{\"model\":" + json_string(model) + ",\"stream\":" + (stream ? "true" : "false")
            + ",\"messages\":[{\"role\":\"user\",\"content\":" + json_string(message)
            + "}]}"};
}

std::string fake_target_reply(const std::string& model, const std::string& message) {
  return model + " says: " + message;
}

std::string chat_answer_problem(const call_result& result,
                                const std::string& expected_content, bool streamed) {
  if (result.status == 0)
    return "no answer: " + result.error;
  if (result.status != 200)
    return "HTTP " + std::to_string(result.status) + ": " + shortened(result.body);
  std::string content;
  bool done = false;
  try {
    if (streamed) {
      std::istringstream lines(result.body);
      for (std::string line; !done && std::getline(lines, line);) {
        if (line.empty())
          continue;
        const auto [piece, last] = chat_content(line);
        content += piece;
        done = last;
      }
    } else {
      std::tie(content, done) = chat_content(result.body);
    }
  } catch (const Poco::Exception& error) {
    return "not a chat answer (" + error.displayText() + "): " + shortened(result.body);
  }
  if (!done)
    return "the answer does not say done: " + shortened(result.body);
  if (content != expected_content)
    return "answered '" + shortened(content) + "' instead of '" + expected_content + "'";
  return {};
}

} // namespace foreman_loadgen
