#include "net/openai_request.hpp"

#include <cstring>
#include <utility>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/String.h>

#include "core/model_name.hpp"
#include "core/text.hpp"
#include "net/json_util.hpp"

namespace foreman::net::openai {

namespace {

using Poco::Dynamic::Var;

request_problem bad_request(std::string message) {
  return request_problem{400, std::move(message)};
}

/// The request body as a JSON object, or why it is not one.
std::variant<object_ptr, request_problem> read_body(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return bad_request("missing request body");
  std::string why;
  if (auto obj = parse_object(body, &why))
    return obj;
  return bad_request(why);
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
  // Ollama compares the type trimmed and case-insensitively.
  auto type = Poco::toLower(trim(string_field(format, "type")));
  if (type == "json_object")
    return json_quote("json");
  if (type == "json_schema") {
    auto schema = field(object_field(format, "json_schema"), "schema");
    if (type_of(schema) != json_type::null)
      return to_json(schema);
  }
  return std::string{};
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
  if (Poco::icompare(last.role, "tool") == 0) {
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

/// Reads what chat and completions requests share: the body, `model` and
/// the stream fields, into `out` (whose kind is set).
std::variant<object_ptr, request_problem> read_head(std::string_view body,
                                                    native_request& out) {
  auto parsed = read_body(body);
  if (auto* problem = std::get_if<request_problem>(&parsed))
    return *problem;
  auto req = std::get<object_ptr>(parsed);
  if (auto problem = read_model(req, out.kind, out.model))
    return *problem;
  if (auto problem = read_stream(req, out))
    return *problem;
  return req;
}

} // namespace

// -- public: requests ---------------------------------------------------------

std::variant<native_request, request_problem>
parse_chat_request(std::string_view body) {
  native_request out;
  out.kind = job_kind::chat;
  auto head = read_head(body, out);
  if (auto* problem = std::get_if<request_problem>(&head))
    return *problem;
  auto req = std::get<object_ptr>(head);
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
  native_request out;
  out.kind = job_kind::generate;
  auto head = read_head(body, out);
  if (auto* problem = std::get_if<request_problem>(&head))
    return *problem;
  auto req = std::get<object_ptr>(head);
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
    auto lower = Poco::toLower(format);
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

} // namespace foreman::net::openai
