#include "net/openai_response.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "core/model_name.hpp"
#include "net/json_util.hpp"

namespace foreman::net::openai {

namespace {

constexpr std::string_view fingerprint = "fp_ollama";

std::string usage_json(int64_t prompt_tokens, int64_t completion_tokens) {
  return object_writer{}
      .add("prompt_tokens", std::to_string(prompt_tokens))
      .add("completion_tokens", std::to_string(completion_tokens))
      .add("total_tokens", std::to_string(prompt_tokens + completion_tokens))
      .done();
}

/// A whole (not streamed) answer around its one choice, with the usage the
/// native `reply` counted.
std::string answer_object(std::string_view object, const std::string& id,
                          int64_t created_unix, const std::string& model,
                          const std::string& choice, const object_ptr& reply) {
  return object_writer{}
      .add_string("id", id)
      .add_string("object", object)
      .add("created", std::to_string(created_unix))
      .add_string("model", model)
      .add_string("system_fingerprint", fingerprint)
      .add("choices", "[" + choice + "]")
      .add("usage", usage_json(int_field(reply, "prompt_eval_count"),
                               int_field(reply, "eval_count")))
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

std::string float_list(const array_ptr& vector) {
  std::vector<std::string> out;
  for (size_t i = 0; i < vector->size(); ++i)
    out.push_back(format_float(
        static_cast<float>(vector->get(static_cast<unsigned>(i)).convert<double>())));
  return join_array(out);
}

// -- models -------------------------------------------------------------------

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
           std::to_string(
               parse_rfc3339_ms(string_field(entry, "modified_at")).value_or(0) / 1000))
      .add_string("owned_by", namespace_of(id))
      .done();
}

std::string entry_name(const object_ptr& entry) {
  auto name = string_field(entry, "name");
  return name.empty() ? string_field(entry, "model") : name;
}

} // namespace

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
  return answer_object("chat.completion", id, created_unix, model, choice.done(),
                       reply);
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
  return answer_object("text_completion", id, created_unix, model, choice, reply);
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
