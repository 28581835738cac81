#include "inference.hpp"

#include "http_reply.hpp"

#include <Poco/JSON/Array.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <sstream>
#include <vector>

namespace fake_ollama {

namespace {

using std::chrono::steady_clock;

constexpr int embedding_dimensions = 8;

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string word; in >> word;)
    words.push_back(word);
  return words;
}

int64_t nanoseconds_since(steady_clock::time_point start) {
  const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
    steady_clock::now() - start);
  return std::max<int64_t>(1, elapsed.count()); // Ollama omits zero metrics
}

std::optional<keep_alive> requested_keep_alive(const Poco::JSON::Object::Ptr& request) {
  try {
    return keep_alive_from_json(request->get("keep_alive"));
  } catch (const invalid_keep_alive& error) {
    throw api_error(400, error.what());
  }
}

model_ptr find_model(fake_server& server, const std::string& name,
                     const std::string& not_found_message) {
  auto model = server.catalogue.find(name);
  if (!model)
    throw api_error(404, not_found_message);
  return model;
}

residency::lease acquire(fake_server& server, const model_ptr& model,
                         std::optional<keep_alive> keep) {
  auto lease = server.models.acquire(model, keep);
  if (!lease)
    throw api_error(503, "server is shutting down");
  return std::move(*lease);
}

// -- chat and generate -----------------------------------------------------

struct completion_request {
  std::string model_as_sent;
  model_ptr model;
  std::optional<keep_alive> keep;
  bool stream = true;
  std::string answered_text; // last user message, or the prompt
  int prompt_words = 0;
  int max_words = 0;       // 0: no limit
  bool only_loads = false; // no prompt: the load/unload trick
};

// Reads the text to answer and counts the prompt's words. Returns false for
// an empty prompt or no messages: the request only loads (or unloads).
bool read_prompt(completion_api api, const Poco::JSON::Object::Ptr& json,
                 completion_request& request) {
  if (api == completion_api::generate) {
    request.answered_text
      = string_field(json, "prompt", "api.GenerateRequest").value_or("");
    request.prompt_words = static_cast<int>(split_words(request.answered_text).size());
    return !request.answered_text.empty();
  }
  const auto messages = json->get("messages");
  if (messages.isEmpty())
    return false;
  if (messages.type() != typeid(Poco::JSON::Array::Ptr))
    throw api_error(400, "json: cannot unmarshal " + json_kind(messages)
                           + " into Go struct field ChatRequest.messages of "
                             "type []api.Message");
  const auto list = messages.extract<Poco::JSON::Array::Ptr>();
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto message = list->getObject(static_cast<unsigned>(i));
    if (!message)
      throw api_error(400, "json: cannot unmarshal " + json_kind(list->get(static_cast<unsigned>(i)))
                             + " into Go struct field ChatRequest.messages of "
                               "type api.Message");
    const auto content = string_field(message, "content", "api.Message").value_or("");
    request.prompt_words += static_cast<int>(split_words(content).size());
    if (string_field(message, "role", "api.Message").value_or("") == "user")
      request.answered_text = content;
  }
  return list->size() > 0;
}

completion_request parse_completion(fake_server& server, completion_api api,
                                    const std::string& body) {
  const std::string go_type
    = api == completion_api::chat ? "api.ChatRequest" : "api.GenerateRequest";
  const auto json = parse_request_body(body, go_type);
  completion_request request;
  request.keep = requested_keep_alive(json);
  request.model_as_sent = string_field(json, "model", go_type).value_or("");
  if (api == completion_api::chat && request.model_as_sent.empty())
    throw api_error(400, "model is required");
  request.model = find_model(server, request.model_as_sent,
                             "model '" + request.model_as_sent + "' not found");
  if (request.model->kind != model_kind::chat)
    throw api_error(400, go_quoted(request.model_as_sent) + " does not support "
                           + (api == completion_api::chat ? "chat" : "generate"));
  request.stream = bool_field(json, "stream", go_type).value_or(true);
  if (const auto options = json->getObject("options")) {
    const auto limit = options->get("num_predict");
    if (limit.isNumeric() && !limit.isBoolean())
      request.max_words = std::max(0, limit.convert<int>());
  }
  request.only_loads = !read_prompt(api, json, request);
  return request;
}

Poco::JSON::Object::Ptr completion_chunk(completion_api api,
                                         const completion_request& request,
                                         const std::string& text, bool done) {
  auto chunk = ordered_object();
  chunk->set("model", request.model_as_sent);
  chunk->set("created_at", format_rfc3339(wall_now(), false));
  if (api == completion_api::chat) {
    auto message = ordered_object();
    message->set("role", "assistant");
    message->set("content", text);
    chunk->set("message", message);
  } else {
    chunk->set("response", text);
  }
  chunk->set("done", done);
  return chunk;
}

// Answers the empty-prompt request that only loads or unloads the model.
void answer_load_trick(fake_server& server, completion_api api,
                       const completion_request& request,
                       Poco::Net::HTTPServerResponse& response) {
  const bool unload = request.keep && request.keep->unloads_when_idle();
  if (unload)
    server.models.unload_when_idle(*request.model);
  else
    acquire(server, request.model, request.keep); // released at once
  auto reply = completion_chunk(api, request, "", true);
  reply->set("done_reason", unload ? "unload" : "load");
  send_json(response, 200, reply);
}

struct generation_metrics {
  steady_clock::time_point arrived;
  int64_t load_duration = 0;
  int64_t eval_duration = 0;
  int prompt_eval_count = 0;
  int eval_count = 0;
};

void add_final_fields(completion_api api, Poco::JSON::Object::Ptr& chunk,
                      const std::string& done_reason,
                      const generation_metrics& metrics) {
  chunk->set("done_reason", done_reason);
  if (api == completion_api::generate) {
    Poco::JSON::Array::Ptr context = new Poco::JSON::Array;
    for (int token = 1; token <= metrics.prompt_eval_count + metrics.eval_count;
         ++token)
      context->add(token);
    chunk->set("context", context);
  }
  chunk->set("total_duration", nanoseconds_since(metrics.arrived));
  chunk->set("load_duration", metrics.load_duration);
  chunk->set("prompt_eval_count", metrics.prompt_eval_count);
  chunk->set("prompt_eval_duration",
             int64_t{metrics.prompt_eval_count} * 100000); // 0.1 ms a token
  chunk->set("eval_count", metrics.eval_count);
  chunk->set("eval_duration", metrics.eval_duration);
}

// -- embeddings --------------------------------------------------------------

// A deterministic unit vector derived from the text (FNV-1a, then a
// splitmix64 step per dimension).
Poco::JSON::Array::Ptr embedding_of(const std::string& text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  double values[embedding_dimensions];
  double norm = 0;
  for (int i = 0; i < embedding_dimensions; ++i) {
    uint64_t z = hash + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(i + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    values[i] = static_cast<double>(z >> 11) / static_cast<double>(1ull << 53) * 2.0 - 1.0;
    norm += values[i] * values[i];
  }
  norm = std::sqrt(norm);
  Poco::JSON::Array::Ptr vector = new Poco::JSON::Array;
  for (double value : values)
    vector->add(value / norm);
  return vector;
}

std::vector<std::string> embed_inputs(const Poco::JSON::Object::Ptr& json) {
  const auto input = json->get("input");
  if (input.isEmpty())
    return {};
  if (input.isString()) {
    auto text = input.extract<std::string>();
    if (text.empty())
      return {};
    return {text};
  }
  if (input.type() != typeid(Poco::JSON::Array::Ptr))
    throw api_error(400, "invalid input type");
  std::vector<std::string> texts;
  const auto list = input.extract<Poco::JSON::Array::Ptr>();
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto item = list->get(static_cast<unsigned>(i));
    if (!item.isString())
      throw api_error(400, "invalid input type");
    texts.push_back(item.extract<std::string>());
  }
  return texts;
}

} // namespace

void handle_completion(fake_server& server, completion_api api,
                       const std::string& body,
                       Poco::Net::HTTPServerRequest& http_request,
                       Poco::Net::HTTPServerResponse& response) {
  const auto request = parse_completion(server, api, body);
  if (request.only_loads) {
    answer_load_trick(server, api, request, response);
    return;
  }
  generation_metrics metrics;
  metrics.arrived = steady_clock::now();
  metrics.prompt_eval_count = std::max(1, request.prompt_words);
  auto words = split_words(request.model_as_sent + " says: " + request.answered_text);
  std::string done_reason = "stop";
  if (request.max_words > 0 && words.size() > static_cast<std::size_t>(request.max_words)) {
    words.resize(static_cast<std::size_t>(request.max_words));
    done_reason = "length";
  }
  metrics.eval_count = static_cast<int>(words.size());

  // Both end before the final object is written: a client that has read
  // `done` must already see the model idle and the generation finished.
  std::optional<test_hooks::generation_scope> generating;
  generating.emplace(server.hooks);
  std::optional<residency::lease> lease = acquire(server, request.model, request.keep);
  metrics.load_duration = nanoseconds_since(metrics.arrived);
  const auto evaluating = steady_clock::now();
  const auto still_wanted = [&] {
    return !server.shutdown.triggered()
           && !client_gone(http_request, std::chrono::milliseconds{0});
  };
  if (!server.hooks.wait_while_held(still_wanted, std::chrono::milliseconds{50})) {
    abort_connection(http_request, response);
    return;
  }

  std::ostream* stream = nullptr;
  if (request.stream) {
    response.setChunkedTransferEncoding(true);
    response.setContentType("application/x-ndjson");
    stream = &response.send();
  }
  std::string full_text;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (server.token_time.count() > 0 && !server.shutdown.sleep_for(server.token_time))
      return; // stopping: the connection is being torn down anyway
    const auto piece = (i == 0 ? "" : " ") + words[i];
    if (stream) {
      *stream << to_json(completion_chunk(api, request, piece, false)) << '\n';
      stream->flush();
      if (!stream->good())
        return; // the client went away: stop generating, like Ollama
    } else {
      full_text += piece;
    }
  }
  metrics.eval_duration = nanoseconds_since(evaluating);
  lease.reset();
  generating.reset();

  auto final_chunk = completion_chunk(api, request, full_text, true);
  add_final_fields(api, final_chunk, done_reason, metrics);
  if (stream) {
    *stream << to_json(final_chunk) << '\n';
    stream->flush();
  } else {
    send_json(response, 200, final_chunk);
  }
}

void handle_embed(fake_server& server, const std::string& body,
                  Poco::Net::HTTPServerResponse& response) {
  const auto arrived = steady_clock::now();
  const auto json = parse_request_body(body, "api.EmbedRequest");
  const auto keep = requested_keep_alive(json);
  const auto name = string_field(json, "model", "api.EmbedRequest").value_or("");
  const auto model
    = find_model(server, name,
                 name.empty() ? "model '' not found"
                              : "model " + go_quoted(name)
                                  + " not found, try pulling it first");
  const auto inputs = embed_inputs(json);
  int64_t load_duration = 0;
  {
    const auto lease = acquire(server, model, keep);
    load_duration = nanoseconds_since(arrived);
  }
  auto reply = ordered_object();
  reply->set("model", name);
  Poco::JSON::Array::Ptr embeddings = new Poco::JSON::Array;
  int token_count = 0;
  for (const auto& text : inputs) {
    embeddings->add(embedding_of(text));
    token_count += std::max<int>(1, static_cast<int>(split_words(text).size()));
  }
  reply->set("embeddings", embeddings);
  if (!inputs.empty()) {
    reply->set("total_duration", nanoseconds_since(arrived));
    reply->set("load_duration", load_duration);
    reply->set("prompt_eval_count", token_count);
  }
  send_json(response, 200, reply);
}

void handle_legacy_embeddings(fake_server& server, const std::string& body,
                              Poco::Net::HTTPServerResponse& response) {
  const auto json = parse_request_body(body, "api.EmbeddingRequest");
  const auto keep = requested_keep_alive(json);
  const auto name = string_field(json, "model", "api.EmbeddingRequest").value_or("");
  if (name.empty())
    throw api_error(400, "model is required");
  const auto model = find_model(server, name,
                                 "model " + go_quoted(name)
                                   + " not found, try pulling it first");
  const auto prompt = string_field(json, "prompt", "api.EmbeddingRequest").value_or("");
  acquire(server, model, keep); // released at once
  auto reply = ordered_object();
  reply->set("embedding", prompt.empty() ? Poco::JSON::Array::Ptr(new Poco::JSON::Array)
                                         : embedding_of(prompt));
  send_json(response, 200, reply);
}

} // namespace fake_ollama
