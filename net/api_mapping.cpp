#include "net/api_mapping.hpp"

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

std::optional<std::string> check_messages(const object_ptr& obj) {
  if (!obj->has("messages") || obj->isNull("messages"))
    return std::nullopt;
  if (!obj->isArray("messages"))
    return std::string{"messages must be an array"};
  auto messages = obj->getArray("messages");
  for (size_t i = 0; i < messages->size(); ++i) {
    auto where = "messages[" + std::to_string(i) + "]";
    if (!messages->isObject(i))
      return where + " must be an object";
    auto message = messages->getObject(static_cast<unsigned>(i));
    if (!message->has("role") || !message->get("role").isString())
      return where + ".role must be a string";
    if (message->has("content") && !message->isNull("content")
        && !message->get("content").isString())
      return where + ".content must be a string";
  }
  return std::nullopt;
}

bool is_string_array(const Poco::JSON::Array::Ptr& items) {
  for (size_t i = 0; i < items->size(); ++i)
    if (!items->get(static_cast<unsigned>(i)).isString())
      return false;
  return true;
}

/// Field types Ollama checks before anything runs, per endpoint.
std::optional<std::string> check_fields(native_endpoint endpoint,
                                        const object_ptr& obj) {
  auto present = [&](const char* key) {
    return obj->has(key) && !obj->isNull(key);
  };
  if (present("stream") && !obj->get("stream").isBoolean())
    return std::string{"stream must be true or false"};
  if (present("options") && !obj->isObject("options"))
    return std::string{"options must be a JSON object"};
  switch (endpoint) {
    case native_endpoint::chat:
      return check_messages(obj);
    case native_endpoint::generate:
      if (present("prompt") && !obj->get("prompt").isString())
        return std::string{"prompt must be a string"};
      if (present("images") && !obj->isArray("images"))
        return std::string{"images must be an array of base64 strings"};
      return std::nullopt;
    case native_endpoint::embed:
      if (present("input") && !obj->get("input").isString()
          && !(obj->isArray("input") && is_string_array(obj->getArray("input"))))
        return std::string{"invalid input type"};
      return std::nullopt;
    case native_endpoint::embeddings:
      if (present("prompt") && !obj->get("prompt").isString())
        return std::string{"prompt must be a string"};
      return std::nullopt;
  }
  return std::nullopt;
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
  if (!obj->has("model") || obj->isNull("model")
      || (obj->get("model").isString() && obj->getValue<std::string>("model").empty()))
    return missing_model(endpoint);
  if (!obj->get("model").isString())
    return request_problem{400, "model must be a string"};
  auto model = obj->getValue<std::string>("model");
  if (!is_valid_model_name(model))
    return request_problem{400, "invalid model name"};
  if (auto problem = check_fields(endpoint, obj))
    return request_problem{400, *problem};
  inference_call call;
  call.spec.kind = kind_of(endpoint);
  call.spec.model = model;
  call.spec.payload = endpoint == native_endpoint::embeddings
                        ? as_embed_payload(obj)
                        : std::string{body};
  auto streams = endpoint == native_endpoint::chat
                 || endpoint == native_endpoint::generate;
  call.stream = streams
                && (!obj->has("stream") || obj->isNull("stream")
                    || obj->getValue<bool>("stream"));
  return call;
}

std::string load_options_of(std::string_view payload) {
  // The keys whose change makes Ollama reload the model, in sorted order.
  static const char* const load_keys[] = {"draft_num_predict", "main_gpu",
                                          "num_batch", "num_ctx", "num_gpu",
                                          "num_thread", "use_mmap"};
  auto obj = parse_object(payload);
  if (!obj || !obj->isObject("options"))
    return {};
  auto options = obj->getObject("options");
  std::string out;
  for (auto key : load_keys) {
    if (!options->has(key) || options->isNull(key))
      continue;
    if (!out.empty())
      out += ",";
    out += std::string{key} + "=" + options->get(key).toString();
  }
  return out;
}

std::string with_keep_alive(std::string_view body, const std::string& keep_alive_json) {
  auto obj = parse_object(body);
  return obj ? stringify_with_keep_alive(obj, keep_alive_json) : std::string{body};
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
  auto payload = parse_object(request.payload);
  Poco::JSON::Object::Ptr out;
  if (request.purpose == target_purpose::run && payload) {
    out = payload;
  } else {
    // Ollama's load trick: no messages / prompt / input loads the model.
    out = new Poco::JSON::Object;
    out->set("model", payload ? payload->get("model") : Poco::Dynamic::Var{});
    if (payload && payload->has("options"))
      out->set("options", payload->get("options"));
    if (request.kind == job_kind::chat)
      out->set("messages", Poco::JSON::Array::Ptr{new Poco::JSON::Array});
  }
  // Runs stream, so chunks reach streaming callers as they are made.
  if (request.kind != job_kind::embed)
    out->set("stream", request.purpose == target_purpose::run);
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

} // namespace foreman::net
