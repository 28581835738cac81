#include "net/api_mapping.hpp"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include "core/duration.hpp"
#include "core/model_name.hpp"
#include "net/json_util.hpp"

namespace foreman::net {

namespace {

std::string text_or_null(const std::string& text) {
  return text.empty() ? "null" : json_quote(text);
}

std::string time_or_null(int64_t unix_ms) {
  return unix_ms == 0 ? "null" : json_quote(rfc3339_utc(unix_ms));
}

// -- field types --------------------------------------------------------------
//
// Ollama decodes a body into Go structs: a value of another JSON type than
// its field's is a 400 before anything runs. null passes wherever Go reads
// it as absent.

using Poco::Dynamic::Var;
using maybe_problem = std::optional<request_problem>;

enum class expected { string, boolean, integer, object, array, base64 };

std::string expectation(expected type) {
  switch (type) {
    case expected::string:
      return "a string";
    case expected::boolean:
      return "true or false";
    case expected::integer:
      return "an integer";
    case expected::object:
      return "a JSON object";
    case expected::array:
      return "an array";
    case expected::base64:
      return "a base64 string (raw base64, without a data: URL prefix)";
  }
  return {};
}

bool has_type(const Var& value, expected type) {
  auto actual = type_of(value);
  switch (type) {
    case expected::string:
      return actual == json_type::string;
    case expected::boolean:
      return actual == json_type::boolean;
    case expected::integer:
      return actual == json_type::integer;
    case expected::object:
      return actual == json_type::object;
    case expected::array:
      return actual == json_type::array;
    case expected::base64:
      return actual == json_type::string && is_base64(value.extract<std::string>());
  }
  return false;
}

request_problem bad_request(std::string message) {
  return request_problem{400, std::move(message)};
}

/// "<path> must be <type>" unless `value` is null or of `type`.
maybe_problem type_problem(const std::string& path, const Var& value, expected type) {
  if (type_of(value) == json_type::null || has_type(value, type))
    return std::nullopt;
  return bad_request(path + " must be " + expectation(type));
}

std::string member(const std::string& path, const std::string& name) {
  return path.empty() ? name : path + "." + name;
}

struct typed_field {
  const char* name;
  expected type;
};

maybe_problem check_types(const std::string& path, const object_ptr& obj,
                          std::initializer_list<typed_field> fields) {
  for (auto& field : fields)
    if (auto found
        = type_problem(member(path, field.name), obj->get(field.name), field.type))
      return found;
  return std::nullopt;
}

/// An array field whose elements `check` looks at, each with its path.
template <class Check>
maybe_problem check_elements(const std::string& path, const Var& value, Check check) {
  if (auto found = type_problem(path, value, expected::array))
    return found;
  if (type_of(value) == json_type::null)
    return std::nullopt;
  auto items = value.extract<array_ptr>();
  for (size_t i = 0; i < items->size(); ++i)
    if (auto found = check(path + "[" + std::to_string(i) + "]",
                           items->get(static_cast<unsigned>(i))))
      return found;
  return std::nullopt;
}

/// An array field whose elements must be of `type`.
maybe_problem check_array_of(const std::string& path, const Var& value, expected type) {
  return check_elements(path, value, [type](const std::string& at, const Var& item) {
    return type_problem(at, item, type);
  });
}

/// An object field whose members `check` looks at.
template <class Check>
maybe_problem check_object(const std::string& path, const Var& value, Check check) {
  if (auto found = type_problem(path, value, expected::object))
    return found;
  if (type_of(value) == json_type::null)
    return std::nullopt;
  return check(value.extract<object_ptr>());
}

/// api.ToolProperty: a JSON Schema property, possibly nested.
maybe_problem check_tool_property(const std::string& path, const Var& value);

/// api.ToolPropertiesMap: property names to properties.
maybe_problem check_tool_properties(const std::string& path, const Var& value) {
  return check_object(path, value, [&](const object_ptr& properties) -> maybe_problem {
    std::vector<std::string> names;
    properties->getNames(names);
    for (auto& name : names)
      if (auto found = check_tool_property(member(path, name), properties->get(name)))
        return found;
    return std::nullopt;
  });
}

maybe_problem check_tool_property(const std::string& path, const Var& value) {
  return check_object(path, value, [&](const object_ptr& property) -> maybe_problem {
    auto type = property->get("type");
    if (type_of(type) != json_type::string
        && check_array_of(member(path, "type"), type, expected::string))
      return bad_request(member(path, "type")
                         + " must be a string or an array of strings");
    if (auto found
        = check_types(path, property,
                      {{"description", expected::string}, {"enum", expected::array}}))
      return found;
    if (auto found = check_array_of(member(path, "required"), property->get("required"),
                                    expected::string))
      return found;
    if (auto found = check_elements(member(path, "anyOf"), property->get("anyOf"),
                                    check_tool_property))
      return found;
    return check_tool_properties(member(path, "properties"),
                                 property->get("properties"));
  });
}

/// api.Tool: {"type", "function": {"name", "description", "parameters"}}.
maybe_problem check_tool(const std::string& path, const Var& value) {
  return check_object(path, value, [&](const object_ptr& tool) -> maybe_problem {
    if (auto found = check_types(path, tool, {{"type", expected::string}}))
      return found;
    auto function_path = member(path, "function");
    return check_object(
      function_path, tool->get("function"),
      [&](const object_ptr& function) -> maybe_problem {
        if (auto found = check_types(
              function_path, function,
              {{"name", expected::string}, {"description", expected::string}}))
          return found;
        auto parameters_path = member(function_path, "parameters");
        return check_object(
          parameters_path, function->get("parameters"),
          [&](const object_ptr& parameters) -> maybe_problem {
            if (auto found = check_types(parameters_path, parameters,
                                         {{"type", expected::string}}))
              return found;
            if (auto found
                = check_array_of(member(parameters_path, "required"),
                                 parameters->get("required"), expected::string))
              return found;
            return check_tool_properties(member(parameters_path, "properties"),
                                         parameters->get("properties"));
          });
      });
  });
}

/// api.ToolCall: {"id", "function": {"index", "name", "arguments": {...}}}.
maybe_problem check_tool_call(const std::string& path, const Var& value) {
  return check_object(path, value, [&](const object_ptr& call) -> maybe_problem {
    if (auto found = check_types(path, call, {{"id", expected::string}}))
      return found;
    auto function_path = member(path, "function");
    return check_object(function_path, call->get("function"),
                        [&](const object_ptr& function) {
                          return check_types(function_path, function,
                                             {{"index", expected::integer},
                                              {"name", expected::string},
                                              {"arguments", expected::object}});
                        });
  });
}

/// api.Message; foreman also requires its role.
maybe_problem check_message(const std::string& path, const Var& value) {
  if (type_of(value) != json_type::object)
    return bad_request(path + " must be an object");
  auto message = value.extract<object_ptr>();
  if (type_of(message->get("role")) != json_type::string)
    return bad_request(member(path, "role") + " must be a string");
  if (auto found = check_types(path, message,
                               {{"content", expected::string},
                                {"thinking", expected::string},
                                {"tool_name", expected::string},
                                {"tool_call_id", expected::string}}))
    return found;
  if (auto found = check_array_of(member(path, "images"), message->get("images"),
                                  expected::base64))
    return found;
  return check_elements(member(path, "tool_calls"), message->get("tool_calls"),
                        check_tool_call);
}

/// keep_alive: seconds as a number or a Go duration string; Ollama's texts.
maybe_problem check_keep_alive(const Var& value) {
  switch (type_of(value)) {
    case json_type::null:
    case json_type::integer:
    case json_type::number:
      return std::nullopt;
    case json_type::string: {
      auto parsed = read_go_duration(value.extract<std::string>());
      if (auto why = std::get_if<std::string>(&parsed))
        return bad_request(*why);
      return std::nullopt;
    }
    case json_type::boolean:
      return bad_request("Unsupported type: 'bool'");
    case json_type::object:
      return bad_request("Unsupported type: 'map[string]interface {}'");
    case json_type::array:
      return bad_request("Unsupported type: '[]interface {}'");
  }
  return std::nullopt;
}

/// think: true, false, or a level; Ollama's texts.
maybe_problem check_think(const Var& value) {
  auto type = type_of(value);
  if (type == json_type::null || type == json_type::boolean)
    return std::nullopt;
  if (type != json_type::string)
    return bad_request("think must be a boolean or string (\"high\", \"medium\", "
                       "\"low\", \"max\", true, or false)");
  auto level = value.extract<std::string>();
  if (level == "high" || level == "medium" || level == "low" || level == "max")
    return std::nullopt;
  return bad_request(
    "invalid think value: " + json_quote(level)
    + " (must be \"high\", \"medium\", \"low\", \"max\", true, or false)");
}

/// top_logprobs: an integer from 0 to 20; Ollama's text for the range.
maybe_problem check_top_logprobs(const Var& value) {
  if (auto found = type_problem("top_logprobs", value, expected::integer))
    return found;
  if (type_of(value) == json_type::integer) {
    auto n = value.convert<int64_t>();
    if (n < 0 || n > 20)
      return bad_request("top_logprobs must be between 0 and 20");
  }
  return std::nullopt;
}

/// The fields Ollama's request struct for `endpoint` decodes, with their
/// types; the model's is checked by the caller.
maybe_problem check_field_types(native_endpoint endpoint, const object_ptr& obj) {
  if (auto found = check_keep_alive(obj->get("keep_alive")))
    return found;
  if (auto found = check_types("", obj, {{"options", expected::object}}))
    return found;
  switch (endpoint) {
    case native_endpoint::chat:
      if (auto found = check_types("", obj,
                                   {{"stream", expected::boolean},
                                    {"truncate", expected::boolean},
                                    {"shift", expected::boolean},
                                    {"logprobs", expected::boolean},
                                    {"_debug_render_only", expected::boolean}}))
        return found;
      if (auto found = check_elements("messages", obj->get("messages"), check_message))
        return found;
      if (auto found = check_elements("tools", obj->get("tools"), check_tool))
        return found;
      if (auto found = check_think(obj->get("think")))
        return found;
      return check_top_logprobs(obj->get("top_logprobs"));
    case native_endpoint::generate:
      if (auto found = check_types("", obj,
                                   {{"prompt", expected::string},
                                    {"suffix", expected::string},
                                    {"system", expected::string},
                                    {"template", expected::string},
                                    {"stream", expected::boolean},
                                    {"raw", expected::boolean},
                                    {"truncate", expected::boolean},
                                    {"shift", expected::boolean},
                                    {"logprobs", expected::boolean},
                                    {"_debug_render_only", expected::boolean}}))
        return found;
      if (auto found
          = check_array_of("context", obj->get("context"), expected::integer))
        return found;
      if (auto found = check_array_of("images", obj->get("images"), expected::base64))
        return found;
      if (auto found = check_think(obj->get("think")))
        return found;
      return check_top_logprobs(obj->get("top_logprobs"));
    case native_endpoint::embed: {
      auto input = obj->get("input");
      auto strings = [](const std::string&, const Var& item) -> maybe_problem {
        if (type_of(item) == json_type::string)
          return std::nullopt;
        return bad_request("invalid input type");
      };
      if (type_of(input) != json_type::null
          && type_of(input) != json_type::string
          && (type_of(input) != json_type::array
              || check_elements("input", input, strings)))
        return bad_request("invalid input type");
      return check_types(
        "", obj, {{"truncate", expected::boolean}, {"dimensions", expected::integer}});
    }
    case native_endpoint::embeddings:
      return check_types("", obj, {{"prompt", expected::string}});
  }
  return std::nullopt;
}

// -- checks Ollama makes after decoding ---------------------------------------

/// Ollama reports option type errors when it schedules the request, as a
/// 500 (ollama-api.md §5); foreman answers the same, before storing anything.
constexpr int option_type_status = 500;

enum class option_type { integer, number, boolean, string_array };

struct option_spec {
  const char* name;
  option_type type;
  /// Changing it makes Ollama reload the model (ollama-api.md §5).
  bool reloads;
};

/// Ollama's api.Options, sorted by name.
constexpr option_spec known_options[] = {
  {"draft_num_predict", option_type::integer, true},
  {"frequency_penalty", option_type::number, false},
  {"main_gpu", option_type::integer, true},
  {"min_p", option_type::number, false},
  {"num_batch", option_type::integer, true},
  {"num_ctx", option_type::integer, true},
  {"num_gpu", option_type::integer, true},
  {"num_keep", option_type::integer, false},
  {"num_predict", option_type::integer, false},
  {"num_thread", option_type::integer, true},
  {"presence_penalty", option_type::number, false},
  {"repeat_last_n", option_type::integer, false},
  {"repeat_penalty", option_type::number, false},
  {"seed", option_type::integer, false},
  {"stop", option_type::string_array, false},
  {"temperature", option_type::number, false},
  {"top_k", option_type::integer, false},
  {"top_p", option_type::number, false},
  {"typical_p", option_type::number, false},
  {"use_mmap", option_type::boolean, true},
};

/// Ollama's Options.FromMap: integers take any number (truncated), floats
/// any number; unknown keys are ignored.
maybe_problem check_options(const Var& value) {
  if (type_of(value) != json_type::object)
    return std::nullopt;
  auto options = value.extract<object_ptr>();
  for (auto& option : known_options) {
    auto given = options->get(option.name);
    auto type = type_of(given);
    if (type == json_type::null)
      continue;
    auto name = json_quote(option.name);
    auto wrong = [&](const std::string& what) {
      return request_problem{option_type_status, "option " + name + " must be " + what};
    };
    auto numeric = is_number(given);
    switch (option.type) {
      case option_type::integer:
        if (!numeric)
          return wrong("of type integer");
        break;
      case option_type::number:
        if (!numeric)
          return wrong("of type float32");
        break;
      case option_type::boolean:
        if (type != json_type::boolean)
          return wrong("of type boolean");
        break;
      case option_type::string_array: {
        if (type != json_type::array)
          return wrong("of type array");
        auto items = given.extract<array_ptr>();
        for (size_t i = 0; i < items->size(); ++i)
          if (type_of(items->get(static_cast<unsigned>(i))) != json_type::string)
            return wrong("of an array of strings");
        break;
      }
    }
  }
  return std::nullopt;
}

/// format: "json", a JSON Schema object, or unset. Ollama finds out only when
/// the model runs, and answers 500.
maybe_problem check_format(const Var& value) {
  auto type = type_of(value);
  if (type == json_type::null || type == json_type::object)
    return std::nullopt;
  if (type == json_type::string) {
    auto text = value.extract<std::string>();
    if (text.empty() || text == "json")
      return std::nullopt;
  }
  return request_problem{500, "invalid format: " + json_quote(to_json(value))
                                + "; expected \"json\" or a valid JSON Schema object"};
}

/// Ollama's answer to a missing model differs by endpoint (§10).
request_problem missing_model(native_endpoint endpoint) {
  if (endpoint == native_endpoint::chat || endpoint == native_endpoint::embeddings)
    return request_problem{400, "model is required"};
  return request_problem{404, "model '' not found"};
}

job_kind kind_of(native_endpoint endpoint) {
  switch (endpoint) {
    case native_endpoint::chat:
      return job_kind::chat;
    case native_endpoint::generate:
      return job_kind::generate;
    default:
      return job_kind::embed;
  }
}

/// `obj` as text with its keep_alive set to `keep_alive_json`, spliced in as
/// text so a number stays a number and a duration a string.
/// `object`, the text of a JSON object, with `members` ("\"name\":value,...")
/// added at its end. A name it had already then appears twice, and JSON
/// decoders, Ollama's Go decoder among them, keep the last: the added one.
std::string with_members_appended(std::string_view object, std::string_view members) {
  auto close = object.find_last_of('}');
  auto open = object.find('{');
  if (close == std::string_view::npos || open == std::string_view::npos || open > close)
    return std::string{object};
  auto has_members = object.find_first_not_of(" \t\r\n", open + 1) != close;
  std::string out;
  out.reserve(close + members.size() + 2);
  out.append(object.substr(0, close));
  if (has_members)
    out += ',';
  out.append(members);
  out += '}';
  return out;
}

std::string stringify_with_keep_alive(object_ptr obj,
                                      const std::string& keep_alive_json) {
  obj->remove("keep_alive");
  auto text = to_json(obj);
  text.pop_back(); // the closing brace
  if (text.size() > 1)
    text += ",";
  text += "\"keep_alive\":" + keep_alive_json + "}";
  return text;
}

/// The request's load-relevant options in canonical form (see
/// parse_native_request).
std::string load_options_of(const object_ptr& obj) {
  if (!obj->isObject("options"))
    return {};
  auto options = obj->getObject("options");
  std::string out;
  for (auto& option : known_options) {
    if (!option.reloads || !options->has(option.name) || options->isNull(option.name))
      continue;
    if (!out.empty())
      out += ",";
    out += std::string{option.name} + "=" + options->get(option.name).toString();
  }
  return out;
}

/// The legacy /api/embeddings body as an /api/embed body.
std::string as_embed_payload(const object_ptr& legacy) {
  object_ptr out = new Poco::JSON::Object;
  out->set("model", legacy->get("model"));
  if (legacy->has("prompt") && legacy->get("prompt").isString()
      && !legacy->getValue<std::string>("prompt").empty())
    out->set("input", legacy->get("prompt"));
  if (legacy->has("options"))
    out->set("options", legacy->get("options"));
  return to_json(out);
}

} // namespace

std::variant<inference_call, request_problem>
parse_native_request(native_endpoint endpoint, std::string_view body) {
  if (body.empty())
    return request_problem{400, "missing request body"};
  std::string why;
  auto obj = parse_object(body, &why);
  if (!obj)
    return request_problem{400, why};
  return check_native_request(endpoint, obj, std::string{body});
}

std::variant<inference_call, request_problem>
check_native_request(native_endpoint endpoint, const object_ptr& obj, std::string body) {
  // In Ollama's order: decoding, the model, then what it checks later.
  auto model_value = obj->get("model");
  if (type_of(model_value) != json_type::null
      && type_of(model_value) != json_type::string)
    return request_problem{400, "model must be a string"};
  if (auto problem = check_field_types(endpoint, obj))
    return *problem;
  if (type_of(model_value) == json_type::null
      || model_value.extract<std::string>().empty())
    return missing_model(endpoint);
  auto model = model_value.extract<std::string>();
  if (!is_valid_model_name(model))
    return request_problem{400, "invalid model name"};
  if (endpoint == native_endpoint::generate && bool_field(obj, "raw")
      && (!string_field(obj, "template").empty() || !string_field(obj, "system").empty()
          || (array_field(obj, "context") && array_field(obj, "context")->size() > 0)))
    return request_problem{400,
                           "raw mode does not support template, system, or context"};
  if (auto problem = check_options(obj->get("options")))
    return *problem;
  if (endpoint == native_endpoint::chat || endpoint == native_endpoint::generate)
    if (auto problem = check_format(obj->get("format")))
      return *problem;
  inference_call call;
  call.spec.kind = kind_of(endpoint);
  call.spec.model = model;
  call.spec.load_options = load_options_of(obj);
  call.spec.payload = endpoint == native_endpoint::embeddings ? as_embed_payload(obj)
                                                              : std::move(body);
  auto streams
    = endpoint == native_endpoint::chat || endpoint == native_endpoint::generate;
  call.stream = streams
                && (type_of(obj->get("stream")) == json_type::null
                    || bool_field(obj, "stream"));
  return call;
}

std::string with_keep_alive(std::string_view body, const std::string& keep_alive_json) {
  return with_members_appended(body, "\"keep_alive\":" + keep_alive_json);
}

std::string legacy_embedding_reply(std::string_view embed_reply) {
  auto obj = parse_object(embed_reply);
  std::string vector = "[]";
  if (obj && obj->isArray("embeddings") && obj->getArray("embeddings")->size() > 0) {
    auto first = obj->getArray("embeddings")->getArray(0);
    if (first)
      vector = to_json(first);
  }
  return "{\"embedding\":" + vector + "}";
}

std::string job_json(const job_status& status) {
  auto& x = status.record;
  std::string out = "{\"id\":" + std::to_string(x.id);
  out += ",\"kind\":" + json_quote(to_string(x.kind));
  out += ",\"model\":" + json_quote(x.model);
  out += ",\"state\":" + json_quote(to_string(x.state));
  out += ",\"priority\":" + std::to_string(x.priority);
  out += ",\"attempt\":" + std::to_string(x.attempt);
  out += ",\"max_attempts\":" + std::to_string(x.max_attempts);
  // The target's whole answer, checked to be a JSON object when it came.
  out += ",\"result\":" + json_or_null(x.result);
  out += ",\"error\":" + text_or_null(x.error);
  out += ",\"state_webhook_url\":" + text_or_null(x.state_webhook_url);
  out += ",\"client\":" + text_or_null(x.client);
  out += ",\"queue_position\":"
         + (status.queue_position >= 0 ? std::to_string(status.queue_position)
                                       : std::string{"null"});
  out += ",\"estimated_start_at\":" + time_or_null(status.estimated_start_ms);
  out += ",\"next_attempt_at\":"
         + time_or_null(x.state == job_state::queued ? x.not_before_ms : 0);
  out += ",\"created_at\":" + time_or_null(x.created_at_ms);
  out += ",\"updated_at\":" + time_or_null(x.updated_at_ms);
  out += ",\"started_at\":" + time_or_null(x.started_at_ms);
  out += ",\"finished_at\":" + time_or_null(x.finished_at_ms);
  // The payload was validated as a JSON object before it was stored.
  out += ",\"payload\":" + json_or_null(x.payload);
  out += "}";
  return out;
}

std::string target_path(job_kind kind) {
  switch (kind) {
    case job_kind::generate:
      return "/api/generate";
    case job_kind::embed:
      return "/api/embed";
    default:
      return "/api/chat";
  }
}

std::string target_body(const target_request& request) {
  // Runs stream, so chunks reach streaming callers as they are made. A run
  // sends the stored payload as it is, never parsed again: foreman's fields
  // go last, where they win over the caller's.
  if (request.purpose == target_purpose::run)
    return with_members_appended(request.payload,
                                 (request.kind == job_kind::embed ? "" : "\"stream\":true,")
                                   + std::string{"\"keep_alive\":"}
                                   + request.keep_alive_json);
  // Ollama's load trick: no messages / prompt / input loads the model.
  auto payload = parse_object(request.payload);
  Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
  out->set("model", payload ? payload->get("model") : Poco::Dynamic::Var{});
  if (payload && payload->has("options"))
    out->set("options", payload->get("options"));
  if (request.kind == job_kind::chat)
    out->set("messages", Poco::JSON::Array::Ptr{new Poco::JSON::Array});
  if (request.kind != job_kind::embed)
    out->set("stream", false);
  return stringify_with_keep_alive(out, request.keep_alive_json);
}

std::optional<std::string> reply_problem(job_kind kind, std::string_view body) {
  auto obj = parse_object(body);
  if (!obj)
    return std::string{"the target's reply is not a JSON object"};
  if (kind == job_kind::embed) {
    if (!obj->isArray("embeddings"))
      return std::string{"the target's embed reply has no embeddings array"};
    return std::nullopt;
  }
  if (!obj->has("done"))
    return std::string{"the target's reply has no done field"};
  return std::nullopt;
}

std::string error_message(std::string_view body) {
  auto obj = parse_object(body);
  if (obj && obj->has("error") && obj->get("error").isString())
    return obj->getValue<std::string>("error");
  return std::string{body};
}

std::optional<std::vector<resident_model>> parse_ps_reply(std::string_view body) {
  auto obj = parse_object(body);
  if (!obj || !obj->isArray("models"))
    return std::nullopt;
  std::vector<resident_model> result;
  auto models = obj->getArray("models");
  for (size_t i = 0; i < models->size(); ++i) {
    if (!models->isObject(i))
      return std::nullopt;
    auto entry = models->getObject(static_cast<unsigned>(i));
    auto name_field = entry->has("model") ? "model" : "name";
    if (!entry->has(name_field) || !entry->get(name_field).isString())
      return std::nullopt;
    resident_model x;
    x.model_key = model_key(entry->getValue<std::string>(name_field));
    if (auto expires = parse_rfc3339_ms(string_field(entry, "expires_at")))
      x.expires_at_ms = *expires;
    result.push_back(std::move(x));
  }
  return result;
}

std::variant<query_parameters, request_problem> parse_query_string(std::string_view query) {
  try {
    Poco::URI uri;
    uri.setRawQuery(std::string{query});
    return uri.getQueryParameters();
  } catch (const Poco::Exception& e) {
    return request_problem{400, "invalid query string: " + e.message()};
  }
}

} // namespace foreman::net
