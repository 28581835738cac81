#include "net/openai_mapping.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sstream>
#include <utility>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>

#include "core/model_name.hpp"
#include "net/json_util.hpp"

namespace foreman::net::openai {

namespace {

using object_ptr = Poco::JSON::Object::Ptr;
using array_ptr = Poco::JSON::Array::Ptr;
using Poco::Dynamic::Var;

// -- reading JSON -------------------------------------------------------------

enum class json_type { null, boolean, integer, number, string, object, array };

json_type type_of(const Var& value) {
  if (value.isEmpty())
    return json_type::null;
  if (value.type() == typeid(object_ptr))
    return json_type::object;
  if (value.type() == typeid(array_ptr))
    return json_type::array;
  // Checked before the numeric tests: Poco counts bool as an integer.
  if (value.isBoolean())
    return json_type::boolean;
  if (value.isString())
    return json_type::string;
  if (value.isInteger())
    return json_type::integer;
  return json_type::number;
}

bool is_number(const Var& value) {
  auto type = type_of(value);
  return type == json_type::integer || type == json_type::number;
}

/// Parses JSON text, keeping each object's key order so that what goes back
/// out (tool arguments, schemas) reads as the caller wrote it. Throws
/// Poco::Exception on bad JSON.
Var parse_json(std::string_view text) {
  Poco::JSON::Parser parser{new Poco::JSON::ParseHandler(true)};
  return parser.parse(std::string{text});
}

/// JSON text that must be an object; nullptr otherwise.
object_ptr parse_object(std::string_view text) {
  try {
    auto value = parse_json(text);
    if (type_of(value) == json_type::object)
      return value.extract<object_ptr>();
  } catch (const Poco::Exception&) {
  }
  return nullptr;
}

Var field(const object_ptr& obj, const std::string& key) {
  return obj ? obj->get(key) : Var{};
}

std::string string_field(const object_ptr& obj, const std::string& key) {
  auto value = field(obj, key);
  return type_of(value) == json_type::string ? value.extract<std::string>()
                                             : std::string{};
}

int64_t int_field(const object_ptr& obj, const std::string& key) {
  auto value = field(obj, key);
  return is_number(value) ? value.convert<int64_t>() : 0;
}

bool bool_field(const object_ptr& obj, const std::string& key) {
  auto value = field(obj, key);
  return type_of(value) == json_type::boolean && value.extract<bool>();
}

object_ptr object_field(const object_ptr& obj, const std::string& key) {
  auto value = field(obj, key);
  return type_of(value) == json_type::object ? value.extract<object_ptr>() : nullptr;
}

array_ptr array_field(const object_ptr& obj, const std::string& key) {
  auto value = field(obj, key);
  return type_of(value) == json_type::array ? value.extract<array_ptr>() : nullptr;
}

// -- writing JSON -------------------------------------------------------------

/// The shortest decimal text that reads back as the same double.
std::string format_double(double x) {
  if (!std::isfinite(x))
    return "null";
  char text[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(text, sizeof text, "%.*g", precision, x);
    if (std::strtod(text, nullptr) == x)
      break;
  }
  return text;
}

/// The shortest decimal text that reads back as the same float, like Go
/// prints the float32 vectors Ollama returns.
std::string format_float(float x) {
  if (!std::isfinite(x))
    return "null";
  char text[40];
  for (int precision = 1; precision <= 9; ++precision) {
    std::snprintf(text, sizeof text, "%.*g", precision, static_cast<double>(x));
    if (std::strtof(text, nullptr) == x)
      break;
  }
  return text;
}

// Written by hand rather than with Poco's stringify so that strings are
// escaped like everything else foreman writes (net::json_quote).
void write_json(const Var& value, std::string& out) {
  switch (type_of(value)) {
    case json_type::null:
      out += "null";
      break;
    case json_type::boolean:
      out += value.extract<bool>() ? "true" : "false";
      break;
    case json_type::integer:
      out += value.convert<std::string>();
      break;
    case json_type::number:
      out += format_double(value.convert<double>());
      break;
    case json_type::string:
      out += json_quote(value.extract<std::string>());
      break;
    case json_type::object: {
      auto obj = value.extract<object_ptr>();
      out += '{';
      bool first = true;
      for (const auto& name : obj->getNames()) {
        if (!first)
          out += ',';
        first = false;
        out += json_quote(name);
        out += ':';
        write_json(obj->get(name), out);
      }
      out += '}';
      break;
    }
    case json_type::array: {
      auto array = value.extract<array_ptr>();
      out += '[';
      for (size_t i = 0; i < array->size(); ++i) {
        if (i > 0)
          out += ',';
        write_json(array->get(static_cast<unsigned>(i)), out);
      }
      out += ']';
      break;
    }
  }
}

std::string to_json(const Var& value) {
  std::string out;
  write_json(value, out);
  return out;
}

/// Builds a JSON object from already-encoded member values, in order.
class object_writer {
public:
  object_writer& add(std::string_view key, std::string_view json_value) {
    if (text_.size() > 1) // past the opening brace
      text_ += ',';
    text_ += json_quote(key);
    text_ += ':';
    text_ += json_value;
    return *this;
  }
  object_writer& add_string(std::string_view key, std::string_view value) {
    return add(key, json_quote(value));
  }
  std::string done() const { return text_ + "}"; }

private:
  std::string text_ = "{";
};

std::string join_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0)
      out += ',';
    out += items[i];
  }
  return out + "]";
}

// -- requests -----------------------------------------------------------------

request_problem bad_request(std::string message) {
  return request_problem{400, std::move(message)};
}

/// The request body as a JSON object, or why it is not one.
std::variant<object_ptr, request_problem> read_body(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return bad_request("missing request body");
  try {
    auto value = parse_json(body);
    if (type_of(value) == json_type::object)
      return value.extract<object_ptr>();
    return bad_request("request body must be a JSON object");
  } catch (const Poco::Exception& e) {
    return bad_request("invalid JSON: " + e.displayText());
  }
}

/// Reads `model`. Ollama's native handlers disagree on an empty model: chat
/// says 400 "model is required", generate and embed 404 "model '' not found".
std::optional<request_problem> read_model(const object_ptr& req, job_kind kind,
                                          std::string& model) {
  auto value = field(req, "model");
  if (type_of(value) != json_type::null && type_of(value) != json_type::string)
    return bad_request("model must be a string");
  model = string_field(req, "model");
  if (kind == job_kind::chat) {
    if (model.empty())
      return bad_request("model is required");
    if (!is_valid_model_name(model))
      return bad_request("invalid model name");
  } else if (!is_valid_model_name(model)) {
    return request_problem{404, "model '" + model + "' not found"};
  }
  return std::nullopt;
}

std::optional<request_problem> read_stream(const object_ptr& req, native_request& out) {
  auto stream = field(req, "stream");
  if (type_of(stream) != json_type::null && type_of(stream) != json_type::boolean)
    return bad_request("stream must be true or false");
  out.stream = bool_field(req, "stream");
  auto options = field(req, "stream_options");
  if (type_of(options) == json_type::null)
    return std::nullopt;
  if (type_of(options) != json_type::object)
    return bad_request("stream_options must be an object");
  auto include = field(options.extract<object_ptr>(), "include_usage");
  if (type_of(include) != json_type::null && type_of(include) != json_type::boolean)
    return bad_request("stream_options.include_usage must be true or false");
  out.include_usage = type_of(include) == json_type::boolean && include.extract<bool>();
  return std::nullopt;
}

/// The sampling fields shared by chat and completions, as the native
/// `options` object. temperature and top_p default to 1.0 like Ollama's
/// compat layer, not to the model's defaults.
std::variant<std::string, request_problem> read_options(const object_ptr& req) {
  object_writer options;
  auto stop = field(req, "stop");
  if (type_of(stop) == json_type::string) {
    options.add("stop", "[" + json_quote(stop.extract<std::string>()) + "]");
  } else if (type_of(stop) == json_type::array) {
    auto stops = stop.extract<array_ptr>();
    for (size_t i = 0; i < stops->size(); ++i)
      if (type_of(stops->get(static_cast<unsigned>(i))) != json_type::string)
        return bad_request("stop must be a string or an array of strings");
    options.add("stop", to_json(stop));
  } else if (type_of(stop) != json_type::null) {
    return bad_request("stop must be a string or an array of strings");
  }
  struct mapped {
    const char* from;
    const char* to;
    bool integer;
    const char* fallback;
  };
  static const mapped fields[] = {
      {"max_tokens", "num_predict", true, nullptr},
      {"temperature", "temperature", false, "1"},
      {"seed", "seed", true, nullptr},
      {"frequency_penalty", "frequency_penalty", false, nullptr},
      {"presence_penalty", "presence_penalty", false, nullptr},
      {"top_p", "top_p", false, "1"},
  };
  for (const auto& f : fields) {
    auto value = field(req, f.from);
    auto type = type_of(value);
    if (type == json_type::null) {
      if (f.fallback)
        options.add(f.to, f.fallback);
    } else if (f.integer ? type == json_type::integer : is_number(value)) {
      options.add(f.to, to_json(value));
    } else {
      return bad_request(std::string{f.from} + " must be "
                         + (f.integer ? "an integer" : "a number"));
    }
  }
  return options.done();
}

/// An OpenAI reasoning effort as native `think`: none turns thinking off,
/// the other levels map onto Ollama's low/medium/high/max.
std::variant<std::string, request_problem> think_value(const std::string& effort) {
  if (effort == "none")
    return std::string{"false"};
  if (effort == "minimal")
    return json_quote("low");
  if (effort == "low" || effort == "medium" || effort == "high" || effort == "max")
    return json_quote(effort);
  if (effort == "xhigh" || effort == "ultra")
    return json_quote("max");
  return bad_request("invalid reasoning value: '" + effort
                     + "' (must be \"none\", \"minimal\", \"low\", \"medium\", "
                       "\"high\", \"xhigh\", \"max\" or \"ultra\")");
}

/// The native `think` value, or "" when the caller did not ask. Like Ollama,
/// a `reasoning` object wins over `reasoning_effort`.
std::variant<std::string, request_problem> read_think(const object_ptr& req) {
  std::string effort;
  auto reasoning = field(req, "reasoning");
  if (type_of(reasoning) == json_type::object) {
    auto value = field(reasoning.extract<object_ptr>(), "effort");
    if (type_of(value) != json_type::null && type_of(value) != json_type::string)
      return bad_request("reasoning.effort must be a string");
    effort = string_field(reasoning.extract<object_ptr>(), "effort");
  } else if (type_of(reasoning) != json_type::null) {
    return bad_request("reasoning must be an object");
  } else {
    auto value = field(req, "reasoning_effort");
    if (type_of(value) != json_type::null && type_of(value) != json_type::string)
      return bad_request("reasoning_effort must be a string");
    effort = string_field(req, "reasoning_effort");
  }
  if (effort.empty())
    return std::string{};
  return think_value(effort);
}

/// The native `format`, or "" for none: json_object asks for "json",
/// json_schema for its schema; other types mean plain text.
std::variant<std::string, request_problem> read_format(const object_ptr& req) {
  auto value = field(req, "response_format");
  if (type_of(value) == json_type::null)
    return std::string{};
  if (type_of(value) != json_type::object)
    return bad_request("response_format must be an object");
  auto format = value.extract<object_ptr>();
  auto type = string_field(format, "type");
  // Ollama compares the type trimmed and case-insensitively.
  auto first = type.find_first_not_of(" \t\r\n");
  auto last = type.find_last_not_of(" \t\r\n");
  type =
      first == std::string::npos ? std::string{} : type.substr(first, last - first + 1);
  for (auto& c : type)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (type == "json_object")
    return json_quote("json");
  if (type == "json_schema") {
    auto schema = field(object_field(format, "json_schema"), "schema");
    if (type_of(schema) != json_type::null)
      return to_json(schema);
  }
  return std::string{};
}

bool is_base64(const std::string& text) {
  if (text.size() % 4 != 0)
    return false;
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=')
    ++padding;
  for (size_t i = 0; i < text.size() - padding; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (!std::isalnum(c) && c != '+' && c != '/')
      return false;
  }
  return true;
}

/// The raw base64 of an image data URL, as native `images` wants it.
std::variant<std::string, request_problem> image_data(const std::string& url) {
  if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0)
    return bad_request("image URLs are not currently supported, please use "
                       "base64 encoded data instead");
  std::string data;
  bool known = false;
  for (auto prefix :
       {"data:;base64,", "data:image/jpeg;base64,", "data:image/jpg;base64,",
        "data:image/png;base64,", "data:image/webp;base64,"}) {
    if (url.rfind(prefix, 0) == 0) {
      data = url.substr(std::strlen(prefix));
      known = true;
      break;
    }
  }
  // Go's decoder skips line breaks; the native API gets the data without them.
  std::string clean;
  for (char c : data)
    if (c != '\r' && c != '\n')
      clean += c;
  if (!known || !is_base64(clean))
    return bad_request("invalid image input");
  return clean;
}

/// OpenAI tool calls (arguments as a JSON string) as native ones (arguments
/// as an object).
std::variant<std::string, request_problem> native_tool_calls(const Var& calls_value) {
  if (type_of(calls_value) != json_type::array)
    return bad_request("tool_calls must be an array");
  auto calls = calls_value.extract<array_ptr>();
  std::vector<std::string> out;
  for (size_t i = 0; i < calls->size(); ++i) {
    auto call = calls->getObject(static_cast<unsigned>(i));
    if (!call)
      return bad_request("tool_calls must be objects");
    auto function = object_field(call, "function");
    Var arguments;
    try {
      arguments = parse_json(string_field(function, "arguments"));
    } catch (const Poco::Exception&) {
    }
    if (type_of(arguments) != json_type::object)
      return bad_request("invalid tool call arguments");
    object_writer native_function;
    native_function.add_string("name", string_field(function, "name"));
    native_function.add("arguments", to_json(arguments));
    object_writer native_call;
    if (auto id = string_field(call, "id"); !id.empty())
      native_call.add_string("id", id);
    native_call.add("function", native_function.done());
    out.push_back(native_call.done());
  }
  return join_array(out);
}

/// The name of the function a tool_call_id refers to; the latest call with
/// that id wins, like Ollama.
std::string tool_name_for(const array_ptr& messages, const std::string& call_id) {
  for (size_t i = messages->size(); i-- > 0;) {
    auto calls =
        array_field(messages->getObject(static_cast<unsigned>(i)), "tool_calls");
    for (size_t j = 0; calls && j < calls->size(); ++j) {
      auto call = calls->getObject(static_cast<unsigned>(j));
      if (string_field(call, "id") == call_id)
        return string_field(object_field(call, "function"), "name");
    }
  }
  return {};
}

struct native_message {
  std::string role;
  std::string content;
  std::string thinking;
  std::vector<std::string> images;
  std::string tool_calls; // JSON array text, empty for none
  std::string tool_name;
  std::string tool_call_id;

  std::string json() const {
    object_writer out;
    out.add_string("role", role).add_string("content", content);
    if (!thinking.empty())
      out.add_string("thinking", thinking);
    if (!images.empty()) {
      std::vector<std::string> quoted;
      for (const auto& image : images)
        quoted.push_back(json_quote(image));
      out.add("images", join_array(quoted));
    }
    if (!tool_calls.empty())
      out.add("tool_calls", tool_calls);
    if (!tool_name.empty())
      out.add_string("tool_name", tool_name);
    if (!tool_call_id.empty())
      out.add_string("tool_call_id", tool_call_id);
    return out.done();
  }
};

/// One content part as a native message of its own: Ollama's compat layer
/// turns each text or image part into a separate message.
std::variant<native_message, request_problem> part_message(const Var& part_value,
                                                           const std::string& role) {
  auto invalid = bad_request("invalid message format");
  if (type_of(part_value) != json_type::object)
    return invalid;
  auto part = part_value.extract<object_ptr>();
  auto type = string_field(part, "type");
  native_message out;
  out.role = role;
  if (type == "text") {
    if (type_of(field(part, "text")) != json_type::string)
      return invalid;
    out.content = string_field(part, "text");
    return out;
  }
  if (type != "image_url")
    return invalid;
  // image_url is {"url": ...} or, loosely, the URL itself.
  auto image = field(part, "image_url");
  auto url = type_of(image) == json_type::object
                 ? field(image.extract<object_ptr>(), "url")
                 : image;
  if (type_of(url) != json_type::string)
    return invalid;
  auto data = image_data(url.extract<std::string>());
  if (auto* problem = std::get_if<request_problem>(&data))
    return *problem;
  out.images.push_back(std::get<std::string>(data));
  return out;
}

/// Appends the native messages for one OpenAI message.
std::optional<request_problem> translate_message(const array_ptr& messages,
                                                 size_t index,
                                                 std::vector<std::string>& out) {
  auto where = "messages[" + std::to_string(index) + "]";
  auto msg = messages->getObject(static_cast<unsigned>(index));
  if (!msg)
    return bad_request(where + " must be an object");
  if (type_of(field(msg, "role")) != json_type::string)
    return bad_request(where + ".role must be a string");
  for (const char* key : {"name", "tool_call_id", "reasoning"}) {
    auto type = type_of(field(msg, key));
    if (type != json_type::null && type != json_type::string)
      return bad_request(where + "." + key + " must be a string");
  }
  native_message last;
  last.role = string_field(msg, "role");
  last.thinking = string_field(msg, "reasoning");
  last.tool_call_id = string_field(msg, "tool_call_id");
  std::string role_lower = last.role;
  for (auto& c : role_lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (role_lower == "tool") {
    last.tool_name = string_field(msg, "name");
    if (last.tool_name.empty() && !last.tool_call_id.empty())
      last.tool_name = tool_name_for(messages, last.tool_call_id);
  }
  auto calls = field(msg, "tool_calls");
  if (type_of(calls) != json_type::null) {
    auto translated = native_tool_calls(calls);
    if (auto* problem = std::get_if<request_problem>(&translated))
      return request_problem{problem->status, where + "." + problem->message};
    last.tool_calls = std::get<std::string>(translated);
  }
  auto content = field(msg, "content");
  switch (type_of(content)) {
    case json_type::string:
      last.content = content.extract<std::string>();
      break;
    case json_type::array: {
      // The parts become messages of their own; the message's tool calls,
      // tool name and reasoning go on the last of them.
      auto parts = content.extract<array_ptr>();
      for (size_t i = 0; i < parts->size(); ++i) {
        auto part = part_message(parts->get(static_cast<unsigned>(i)), last.role);
        if (auto* problem = std::get_if<request_problem>(&part))
          return *problem;
        auto& message = std::get<native_message>(part);
        if (i + 1 < parts->size()) {
          out.push_back(message.json());
        } else {
          last.content = message.content;
          last.images = message.images;
        }
      }
      if (parts->size() == 0 && last.tool_calls.empty())
        return std::nullopt;
      break;
    }
    case json_type::null:
      // Content may be left out only by a message that calls tools.
      if (type_of(calls) == json_type::null)
        return bad_request(where
                           + ".content must be a string or an array of "
                             "content parts");
      break;
    default:
      return bad_request(where
                         + ".content must be a string or an array of "
                           "content parts");
  }
  out.push_back(last.json());
  return std::nullopt;
}

std::variant<std::string, request_problem> read_messages(const object_ptr& req) {
  auto value = field(req, "messages");
  auto type = type_of(value);
  if (type != json_type::null && type != json_type::array)
    return bad_request("messages must be an array");
  auto messages = type == json_type::array ? value.extract<array_ptr>() : nullptr;
  if (!messages || messages->size() == 0)
    return bad_request("[] is too short - 'messages'");
  std::vector<std::string> out;
  for (size_t i = 0; i < messages->size(); ++i)
    if (auto problem = translate_message(messages, i, out))
      return *problem;
  return join_array(out);
}

// -- responses ----------------------------------------------------------------

constexpr std::string_view fingerprint = "fp_ollama";

std::string usage_json(int64_t prompt_tokens, int64_t completion_tokens) {
  return object_writer{}
      .add("prompt_tokens", std::to_string(prompt_tokens))
      .add("completion_tokens", std::to_string(completion_tokens))
      .add("total_tokens", std::to_string(prompt_tokens + completion_tokens))
      .done();
}

std::string finish_reason(const std::string& done_reason, bool tool_calls) {
  if (tool_calls)
    return "tool_calls";
  return done_reason == "length" ? "length" : "stop";
}

/// "call_" and 8 characters from [a-z0-9], like Ollama's tool call ids, for a
/// target too old to send its own; derived from the answer's id so that the
/// same answer always gets the same ids.
std::string fallback_call_id(const std::string& response_id, int64_t index) {
  uint64_t hash = 1469598103934665603ULL; // FNV-1a
  for (char c : response_id + "/" + std::to_string(index)) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  std::string id = "call_";
  for (int i = 0; i < 8; ++i) {
    id += "abcdefghijklmnopqrstuvwxyz0123456789"[hash % 36];
    hash /= 36;
  }
  return id;
}

/// Native tool calls in OpenAI form: arguments as a JSON string, with id,
/// index and type. `next_index` numbers calls whose target gave no index.
std::string openai_tool_calls(const array_ptr& calls, const std::string& response_id,
                              int64_t& next_index) {
  std::vector<std::string> out;
  for (size_t i = 0; i < calls->size(); ++i) {
    auto call = calls->getObject(static_cast<unsigned>(i));
    auto function = object_field(call, "function");
    auto index =
        is_number(field(function, "index")) ? int_field(function, "index") : next_index;
    next_index = index + 1;
    auto id = string_field(call, "id");
    auto arguments = field(function, "arguments");
    out.push_back(
        object_writer{}
            .add_string("id", id.empty() ? fallback_call_id(response_id, index) : id)
            .add("index", std::to_string(index))
            .add_string("type", "function")
            .add("function",
                 object_writer{}
                     .add_string("name", string_field(function, "name"))
                     .add_string("arguments", type_of(arguments) == json_type::null
                                                  ? std::string{"{}"}
                                                  : to_json(arguments))
                     .done())
            .done());
  }
  return join_array(out);
}

bool has_items(const array_ptr& array) {
  return array && array->size() > 0;
}

/// Ollama's native logprobs already have OpenAI's entry shape.
std::string logprobs_json(const array_ptr& logprobs) {
  return object_writer{}.add("content", to_json(logprobs)).done();
}

std::string sse(const std::string& json) {
  return "data: " + json + "\n\n";
}

std::string base64_floats(const array_ptr& vector) {
  std::string bytes;
  for (size_t i = 0; i < vector->size(); ++i) {
    auto value =
        static_cast<float>(vector->get(static_cast<unsigned>(i)).convert<double>());
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    for (int shift = 0; shift < 32; shift += 8) // little-endian on any host
      bytes += static_cast<char>((bits >> shift) & 0xFF);
  }
  return base64(bytes);
}

std::string float_list(const array_ptr& vector) {
  std::vector<std::string> out;
  for (size_t i = 0; i < vector->size(); ++i)
    out.push_back(format_float(
        static_cast<float>(vector->get(static_cast<unsigned>(i)).convert<double>())));
  return join_array(out);
}

// -- models -------------------------------------------------------------------

/// An RFC 3339 time (any fraction length, Z or ±hh:mm) as Unix seconds.
std::optional<int64_t> unix_seconds(const std::string& text) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed)
          != 6
      || consumed != 19)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  auto rest = std::string_view{text}.substr(19);
  if (!rest.empty() && rest.front() == '.') {
    auto digits = rest.find_first_not_of("0123456789", 1);
    if (digits == 1 || digits == std::string_view::npos)
      return std::nullopt;
    rest.remove_prefix(digits);
  }
  int64_t offset = 0;
  if (rest == "Z" || rest == "z") {
    offset = 0;
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int hours = 0;
    int minutes = 0;
    if (std::sscanf(rest.data() + 1, "%2d:%2d", &hours, &minutes) != 2)
      return std::nullopt;
    offset = (rest[0] == '-' ? -1 : 1) * (hours * 3600 + minutes * 60);
  } else {
    return std::nullopt;
  }
  return static_cast<int64_t>(timegm(&tm)) - offset;
}

/// The namespace of `[host/][namespace/]model[:tag]`, "library" by default.
std::string namespace_of(std::string_view name) {
  auto slash = name.rfind('/');
  if (slash == std::string_view::npos)
    return "library";
  auto path = name.substr(0, slash);
  auto previous = path.rfind('/');
  return std::string{previous == std::string_view::npos ? path
                                                        : path.substr(previous + 1)};
}

std::string model_json(const std::string& id, const object_ptr& entry) {
  return object_writer{}
      .add_string("id", id)
      .add_string("object", "model")
      .add("created",
           std::to_string(unix_seconds(string_field(entry, "modified_at")).value_or(0)))
      .add_string("owned_by", namespace_of(id))
      .done();
}

std::string entry_name(const object_ptr& entry) {
  auto name = string_field(entry, "name");
  return name.empty() ? string_field(entry, "model") : name;
}

} // namespace

// -- public: requests ---------------------------------------------------------

std::variant<native_request, request_problem>
parse_chat_request(std::string_view body) {
  auto parsed = read_body(body);
  if (auto* problem = std::get_if<request_problem>(&parsed))
    return *problem;
  auto req = std::get<object_ptr>(parsed);
  native_request out;
  out.kind = job_kind::chat;
  if (auto problem = read_model(req, out.kind, out.model))
    return *problem;
  if (auto problem = read_stream(req, out))
    return *problem;
  auto messages = read_messages(req);
  if (auto* problem = std::get_if<request_problem>(&messages))
    return *problem;
  auto options = read_options(req);
  if (auto* problem = std::get_if<request_problem>(&options))
    return *problem;
  auto format = read_format(req);
  if (auto* problem = std::get_if<request_problem>(&format))
    return *problem;
  auto think = read_think(req);
  if (auto* problem = std::get_if<request_problem>(&think))
    return *problem;
  auto tools = field(req, "tools");
  if (type_of(tools) != json_type::null && type_of(tools) != json_type::array)
    return bad_request("tools must be an array");
  auto logprobs = field(req, "logprobs");
  if (type_of(logprobs) != json_type::null && type_of(logprobs) != json_type::boolean)
    return bad_request("logprobs must be true or false");
  auto top_logprobs = field(req, "top_logprobs");
  if (type_of(top_logprobs) != json_type::null
      && type_of(top_logprobs) != json_type::integer)
    return bad_request("top_logprobs must be an integer");

  object_writer payload;
  payload.add_string("model", out.model)
      .add("messages", std::get<std::string>(messages))
      .add("stream", out.stream ? "true" : "false")
      .add("options", std::get<std::string>(options));
  if (!std::get<std::string>(format).empty())
    payload.add("format", std::get<std::string>(format));
  if (type_of(tools) == json_type::array)
    payload.add("tools", to_json(tools));
  if (!std::get<std::string>(think).empty())
    payload.add("think", std::get<std::string>(think));
  if (bool_field(req, "logprobs"))
    payload.add("logprobs", "true");
  if (int_field(req, "top_logprobs") != 0)
    payload.add("top_logprobs", to_json(top_logprobs));
  out.payload = payload.done();
  return out;
}

std::variant<native_request, request_problem>
parse_completion_request(std::string_view body) {
  auto parsed = read_body(body);
  if (auto* problem = std::get_if<request_problem>(&parsed))
    return *problem;
  auto req = std::get<object_ptr>(parsed);
  native_request out;
  out.kind = job_kind::generate;
  if (auto problem = read_model(req, out.kind, out.model))
    return *problem;
  if (auto problem = read_stream(req, out))
    return *problem;
  for (const char* key : {"prompt", "suffix"}) {
    auto type = type_of(field(req, key));
    if (type != json_type::null && type != json_type::string)
      return bad_request(std::string{key} + " must be a string");
  }
  auto options = read_options(req);
  if (auto* problem = std::get_if<request_problem>(&options))
    return *problem;
  // Here logprobs is a count: how many alternatives to report per token.
  auto logprobs = field(req, "logprobs");
  if (type_of(logprobs) != json_type::null && type_of(logprobs) != json_type::integer)
    return bad_request("logprobs must be an integer");

  object_writer payload;
  payload.add_string("model", out.model)
      .add_string("prompt", string_field(req, "prompt"));
  if (auto suffix = string_field(req, "suffix"); !suffix.empty())
    payload.add_string("suffix", suffix);
  payload.add("stream", out.stream ? "true" : "false")
      .add("options", std::get<std::string>(options));
  if (int_field(req, "logprobs") > 0)
    payload.add("logprobs", "true").add("top_logprobs", to_json(logprobs));
  out.payload = payload.done();
  return out;
}

std::variant<native_request, request_problem>
parse_embeddings_request(std::string_view body) {
  auto parsed = read_body(body);
  if (auto* problem = std::get_if<request_problem>(&parsed))
    return *problem;
  auto req = std::get<object_ptr>(parsed);
  native_request out;
  out.kind = job_kind::embed;
  auto encoding = field(req, "encoding_format");
  if (type_of(encoding) != json_type::null) {
    auto format = type_of(encoding) == json_type::string
                      ? encoding.extract<std::string>()
                      : to_json(encoding);
    std::string lower = format;
    for (auto& c : lower)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!format.empty() && lower != "float" && lower != "base64")
      return bad_request("Invalid value for 'encoding_format' = " + format
                         + ". Supported values: ['float', 'base64'].");
    out.base64_embeddings = lower == "base64";
  }
  auto input = field(req, "input");
  std::string native_input;
  switch (type_of(input)) {
    case json_type::string:
      // Ollama sends "" as [""] so that it embeds rather than just loads.
      native_input =
          input.extract<std::string>().empty() ? std::string{"[\"\"]"} : to_json(input);
      break;
    case json_type::array: {
      auto items = input.extract<array_ptr>();
      if (items->size() == 0)
        return bad_request("invalid input");
      for (size_t i = 0; i < items->size(); ++i)
        if (type_of(items->get(static_cast<unsigned>(i))) != json_type::string)
          return bad_request("invalid input type");
      native_input = to_json(input);
      break;
    }
    case json_type::null:
      return bad_request("invalid input");
    default:
      return bad_request("invalid input type");
  }
  if (auto problem = read_model(req, out.kind, out.model))
    return *problem;
  auto dimensions = field(req, "dimensions");
  if (type_of(dimensions) != json_type::null
      && type_of(dimensions) != json_type::integer)
    return bad_request("dimensions must be an integer");

  object_writer payload;
  payload.add_string("model", out.model).add("input", native_input);
  if (int_field(req, "dimensions") != 0)
    payload.add("dimensions", to_json(dimensions));
  out.payload = payload.done();
  return out;
}

// -- public: responses --------------------------------------------------------

std::string chat_response(std::string_view native_reply, const std::string& model,
                          const std::string& id, int64_t created_unix) {
  auto reply = parse_object(native_reply);
  auto message = object_field(reply, "message");
  auto role = string_field(message, "role");
  object_writer out_message;
  out_message.add_string("role", role.empty() ? "assistant" : role)
      .add_string("content", string_field(message, "content"));
  if (auto thinking = string_field(message, "thinking"); !thinking.empty())
    out_message.add_string("reasoning", thinking);
  auto calls = array_field(message, "tool_calls");
  if (has_items(calls)) {
    int64_t next_index = 0;
    out_message.add("tool_calls", openai_tool_calls(calls, id, next_index));
  }
  object_writer choice;
  choice.add("index", "0")
      .add("message", out_message.done())
      .add_string("finish_reason",
                  finish_reason(string_field(reply, "done_reason"), has_items(calls)));
  if (auto logprobs = array_field(reply, "logprobs"); has_items(logprobs))
    choice.add("logprobs", logprobs_json(logprobs));
  return object_writer{}
      .add_string("id", id)
      .add_string("object", "chat.completion")
      .add("created", std::to_string(created_unix))
      .add_string("model", model)
      .add_string("system_fingerprint", fingerprint)
      .add("choices", "[" + choice.done() + "]")
      .add("usage", usage_json(int_field(reply, "prompt_eval_count"),
                               int_field(reply, "eval_count")))
      .done();
}

std::string completion_response(std::string_view native_reply, const std::string& model,
                                const std::string& id, int64_t created_unix) {
  auto reply = parse_object(native_reply);
  auto choice =
      object_writer{}
          .add_string("text", string_field(reply, "response"))
          .add("index", "0")
          .add_string("finish_reason",
                      finish_reason(string_field(reply, "done_reason"), false))
          .done();
  return object_writer{}
      .add_string("id", id)
      .add_string("object", "text_completion")
      .add("created", std::to_string(created_unix))
      .add_string("model", model)
      .add_string("system_fingerprint", fingerprint)
      .add("choices", "[" + choice + "]")
      .add("usage", usage_json(int_field(reply, "prompt_eval_count"),
                               int_field(reply, "eval_count")))
      .done();
}

std::string embeddings_response(std::string_view native_embed_reply,
                                const std::string& model, bool base64) {
  auto reply = parse_object(native_embed_reply);
  auto vectors = array_field(reply, "embeddings");
  std::vector<std::string> data;
  for (size_t i = 0; vectors && i < vectors->size(); ++i) {
    auto vector = vectors->getArray(static_cast<unsigned>(i));
    if (!vector)
      vector = new Poco::JSON::Array;
    data.push_back(object_writer{}
                       .add_string("object", "embedding")
                       .add("embedding", base64 ? json_quote(base64_floats(vector))
                                                : float_list(vector))
                       .add("index", std::to_string(i))
                       .done());
  }
  auto tokens = std::to_string(int_field(reply, "prompt_eval_count"));
  return object_writer{}
      .add_string("object", "list")
      // A nil slice in Ollama's Go: null rather than [].
      .add("data", data.empty() ? std::string{"null"} : join_array(data))
      .add_string("model", model)
      .add("usage", object_writer{}
                        .add("prompt_tokens", tokens)
                        .add("total_tokens", tokens)
                        .done())
      .done();
}

// -- public: streaming --------------------------------------------------------

stream_translator::stream_translator(job_kind kind, std::string model, std::string id,
                                     int64_t created_unix, bool include_usage)
    : kind_(kind), model_(std::move(model)), id_(std::move(id)), created_(created_unix),
      include_usage_(include_usage) {}

std::string stream_translator::chunk_head() const {
  auto object = kind_ == job_kind::chat ? "chat.completion.chunk" : "text_completion";
  return "{\"id\":" + json_quote(id_) + ",\"object\":\"" + object + "\",\"created\":"
         + std::to_string(created_) + ",\"model\":" + json_quote(model_)
         + ",\"system_fingerprint\":\"fp_ollama\",";
}

std::string stream_translator::translate(std::string_view native_chunk_line) {
  return kind_ == job_kind::chat ? chat_events(std::string{native_chunk_line})
                                 : completion_events(std::string{native_chunk_line});
}

std::string stream_translator::chat_events(const std::string& line) {
  auto chunk = parse_object(line);
  if (!chunk || chunk->has("error"))
    return {};
  auto message = object_field(chunk, "message");
  auto content = string_field(message, "content");
  auto thinking = string_field(message, "thinking");
  auto calls = array_field(message, "tool_calls");
  auto logprobs = array_field(chunk, "logprobs");
  bool done = bool_field(chunk, "done");

  auto event = [this](std::string delta_fields, const std::string& extra) {
    if (!role_sent_) {
      delta_fields =
          "\"role\":\"assistant\"" + (delta_fields.empty() ? "" : "," + delta_fields);
      role_sent_ = true;
    }
    return sse(chunk_head() + "\"choices\":[{\"index\":0,\"delta\":{" + delta_fields
               + "}" + extra + ",\"finish_reason\":null}]}");
  };

  std::string out;
  // Reasoning travels in a chunk of its own, before the content.
  if (!thinking.empty())
    out += event("\"reasoning\":" + json_quote(thinking), "");
  // A content chunk whenever there is something to say, for every chunk that
  // is not pure reasoning, and to send the role before the end.
  if (!content.empty() || has_items(calls) || has_items(logprobs)
      || (thinking.empty() && !done) || !role_sent_) {
    auto fields = "\"content\":" + json_quote(content);
    if (has_items(calls)) {
      fields += ",\"tool_calls\":" + openai_tool_calls(calls, id_, next_tool_index_);
      tool_calls_sent_ = true;
    }
    out +=
        event(fields, has_items(logprobs) ? ",\"logprobs\":" + logprobs_json(logprobs)
                                          : std::string{});
  }
  if (done) {
    prompt_tokens_ = int_field(chunk, "prompt_eval_count");
    completion_tokens_ = int_field(chunk, "eval_count");
    out +=
        sse(chunk_head() + "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
            + json_quote(
                finish_reason(string_field(chunk, "done_reason"), tool_calls_sent_))
            + "}]}");
  }
  return out;
}

std::string stream_translator::completion_events(const std::string& line) {
  auto chunk = parse_object(line);
  if (!chunk || chunk->has("error"))
    return {};
  bool done = bool_field(chunk, "done");
  if (done) {
    prompt_tokens_ = int_field(chunk, "prompt_eval_count");
    completion_tokens_ = int_field(chunk, "eval_count");
  }
  // As in Ollama, one event per native chunk, the last with its
  // finish_reason; with include_usage each carries a zeroed usage.
  auto reason =
      done ? json_quote(finish_reason(string_field(chunk, "done_reason"), false))
           : std::string{"null"};
  return sse(chunk_head()
             + "\"choices\":[{\"text\":" + json_quote(string_field(chunk, "response"))
             + ",\"index\":0,\"finish_reason\":" + reason + "}]"
             + (include_usage_ ? ",\"usage\":" + usage_json(0, 0) : std::string{})
             + "}");
}

std::string stream_translator::finish() {
  std::string out;
  if (include_usage_)
    out += sse(chunk_head() + "\"choices\":[],\"usage\":"
               + usage_json(prompt_tokens_, completion_tokens_) + "}");
  return out + "data: [DONE]\n\n";
}

// -- public: models, errors, ids ---------------------------------------------

std::string models_list(std::string_view tags_reply) {
  auto models = array_field(parse_object(tags_reply), "models");
  std::vector<std::string> data;
  for (size_t i = 0; models && i < models->size(); ++i) {
    auto entry = models->getObject(static_cast<unsigned>(i));
    if (entry)
      data.push_back(model_json(entry_name(entry), entry));
  }
  return object_writer{}
      .add_string("object", "list")
      // A nil slice in Ollama's Go: null rather than [].
      .add("data", data.empty() ? std::string{"null"} : join_array(data))
      .done();
}

std::optional<std::string> model_entry(std::string_view tags_reply,
                                       std::string_view model) {
  auto models = array_field(parse_object(tags_reply), "models");
  auto wanted = model_key(model);
  for (size_t i = 0; models && i < models->size(); ++i) {
    auto entry = models->getObject(static_cast<unsigned>(i));
    if (entry && model_key(entry_name(entry)) == wanted)
      return model_json(std::string{model}, entry);
  }
  return std::nullopt;
}

std::string error_body(int status, std::string_view message) {
  // As OpenAI names them; a refused key is its invalid_api_key.
  auto type = status == 400 || status == 401 ? "invalid_request_error"
              : status == 403                ? "permission_error"
              : status == 404                ? "not_found_error"
                                             : "api_error";
  auto error = object_writer{}
                   .add_string("message", message)
                   .add_string("type", type)
                   .add("param", "null")
                   .add("code", status == 401 ? "\"invalid_api_key\"" : "null")
                   .done();
  return object_writer{}.add("error", error).done();
}

std::string chat_id(int64_t job_id) {
  return "chatcmpl-" + std::to_string((job_id % 999 + 999) % 999);
}

std::string completion_id(int64_t job_id) {
  return "cmpl-" + std::to_string((job_id % 999 + 999) % 999);
}

} // namespace foreman::net::openai
