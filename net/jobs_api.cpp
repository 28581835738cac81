#include "net/jobs_api.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include <Poco/Exception.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include "core/model_name.hpp"
#include "net/json_util.hpp"

namespace foreman::net {

namespace {

request_problem bad(std::string message) {
  return request_problem{400, std::move(message)};
}

/// An integer field within [min, max]; a problem naming the field otherwise.
std::variant<int32_t, request_problem>
integer_field(const object_ptr& obj, const char* name, int32_t min, int32_t max) {
  auto problem = bad(std::string{name} + " must be an integer from "
                     + std::to_string(min) + " to " + std::to_string(max));
  auto value = obj->get(name);
  if (!value.isInteger())
    return problem;
  try {
    auto n = value.convert<int64_t>();
    if (n < min || n > max)
      return problem;
    return static_cast<int32_t>(n);
  } catch (const Poco::Exception&) {
    return problem;
  }
}

bool is_printable(const std::string& text) {
  return std::none_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

native_endpoint endpoint_of(job_kind kind) {
  switch (kind) {
    case job_kind::generate:
      return native_endpoint::generate;
    case job_kind::embed:
      return native_endpoint::embed;
    default:
      return native_endpoint::chat;
  }
}

std::optional<int64_t> positive_integer(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()
      || value <= 0)
    return std::nullopt;
  return value;
}

bool is_textual(const std::string& content_type) {
  auto type = Poco::toLower(content_type);
  return type.rfind("text/", 0) == 0 || type.find("json") != std::string::npos;
}

} // namespace

std::variant<job_spec, request_problem>
parse_job_submission(std::string_view body, const webhook_policy& policy) {
  static const char* const known[] = {"kind", "model", "payload", "priority",
                                      "max_attempts", "state_webhook_url",
                                      "idempotency_key"};
  std::string why;
  auto obj = parse_object(body, &why);
  if (!obj)
    return bad(why);
  std::vector<std::string> names;
  obj->getNames(names);
  for (auto& name : names)
    if (std::find(std::begin(known), std::end(known), name) == std::end(known))
      return bad("unknown field '" + name + "'");
  auto present = [&](const char* key) {
    return obj->has(key) && !obj->isNull(key);
  };
  job_spec spec;
  // -- kind and model ---------------------------------------------------------
  if (!present("kind") || !obj->get("kind").isString())
    return bad("kind is required: one of chat, generate, embed");
  auto kind = parse_job_kind(obj->getValue<std::string>("kind"));
  if (!kind)
    return bad("kind must be one of chat, generate, embed");
  spec.kind = *kind;
  if (!present("model") || !obj->get("model").isString())
    return bad("model is required and must be a string");
  spec.model = obj->getValue<std::string>("model");
  if (!is_valid_model_name(spec.model))
    return bad("model: invalid model name");
  // -- payload: the Ollama request, validated as its endpoint would -----------
  if (!present("payload") || !obj->isObject("payload"))
    return bad("payload is required and must be a JSON object (the Ollama "
               "request body)");
  auto payload = obj->getObject("payload");
  if (payload->has("model")) {
    if (!payload->get("model").isString()
        || payload->getValue<std::string>("model") != spec.model)
      return bad("payload.model must equal model");
  } else {
    payload->set("model", spec.model);
  }
  auto checked = check_native_request(endpoint_of(spec.kind), payload, to_json(payload));
  if (auto problem = std::get_if<request_problem>(&checked))
    return bad("payload: " + problem->message);
  auto& call = std::get<inference_call>(checked);
  spec.payload = std::move(call.spec.payload);
  spec.load_options = std::move(call.spec.load_options);
  // -- optional fields --------------------------------------------------------
  if (present("priority")) {
    auto n = integer_field(obj, "priority", -1000000, 1000000);
    if (auto problem = std::get_if<request_problem>(&n))
      return *problem;
    spec.priority = std::get<int32_t>(n);
  }
  if (present("max_attempts")) {
    auto n = integer_field(obj, "max_attempts", 1, 100);
    if (auto problem = std::get_if<request_problem>(&n))
      return *problem;
    spec.max_attempts = std::get<int32_t>(n);
  }
  if (present("state_webhook_url")) {
    if (!obj->get("state_webhook_url").isString())
      return bad("state_webhook_url must be a string");
    spec.state_webhook_url = obj->getValue<std::string>("state_webhook_url");
    if (auto problem = webhook_url_problem(spec.state_webhook_url, policy))
      return bad(*problem);
  }
  if (present("idempotency_key")) {
    if (!obj->get("idempotency_key").isString())
      return bad("idempotency_key must be a string");
    spec.idempotency_key = obj->getValue<std::string>("idempotency_key");
    if (spec.idempotency_key.empty() || spec.idempotency_key.size() > 255
        || !is_printable(spec.idempotency_key))
      return bad("idempotency_key must be 1 to 255 printable characters");
  }
  return spec;
}

std::variant<job_query, request_problem> parse_job_query(std::string_view query) {
  job_query result;
  result.limit = default_page_size;
  auto parsed = parse_query_string(query);
  if (auto problem = std::get_if<request_problem>(&parsed))
    return *problem;
  for (auto& [name, value] : std::get<query_parameters>(parsed)) {
    if (name == "state") {
      auto state = parse_job_state(value);
      if (!state)
        return bad("state must be one of queued, loading, working, done, "
                   "failed, cancelled");
      result.by_state = true;
      result.state = *state;
    } else if (name == "model") {
      if (!is_valid_model_name(value))
        return bad("model: invalid model name");
      result.model_key = model_key(value);
    } else if (name == "limit") {
      auto n = positive_integer(value);
      if (!n || *n > max_page_size)
        return bad("limit must be an integer from 1 to "
                   + std::to_string(max_page_size));
      result.limit = static_cast<int32_t>(*n);
    } else if (name == "cursor") {
      auto n = positive_integer(value);
      if (!n)
        return bad("cursor must be the next_cursor of a previous page");
      result.before_id = *n;
    } else {
      return bad("unknown query parameter '" + name + "'");
    }
  }
  return result;
}

std::variant<job_path, request_problem> parse_job_path(std::string_view path) {
  constexpr std::string_view prefix = "/jobs/";
  auto rest = path.substr(std::min(prefix.size(), path.size()));
  auto slash = rest.find('/');
  auto id_text = rest.substr(0, slash);
  auto id = positive_integer(id_text);
  if (!id)
    return bad("invalid job id '" + std::string{id_text}
               + "': expected a positive integer");
  job_path result;
  result.job_id = *id;
  if (slash == std::string_view::npos)
    return result;
  auto tail = rest.substr(slash);
  constexpr std::string_view artifacts = "/artifacts";
  if (tail == artifacts) {
    result.what = job_path::target::artifacts;
    return result;
  }
  if (tail.rfind(std::string{artifacts} + "/", 0) == 0
      && tail.size() > artifacts.size() + 1) {
    result.what = job_path::target::artifact;
    // The server has percent-decoded the path already.
    result.artifact_name = std::string{tail.substr(artifacts.size() + 1)};
    return result;
  }
  if (tail == "/webhooks") {
    result.what = job_path::target::webhooks;
    return result;
  }
  return request_problem{404, "404 page not found"};
}

std::string job_page_json(const job_page& page) {
  std::string out = "{\"jobs\":[";
  for (size_t i = 0; i < page.jobs.size(); ++i) {
    if (i > 0)
      out += ",";
    out += job_json(job_status{page.jobs[i], -1, 0});
  }
  out += "],\"next_cursor\":";
  out += page.next_cursor > 0 ? json_quote(std::to_string(page.next_cursor))
                              : std::string{"null"};
  return out + "}";
}

std::string artifact_path(int64_t job_id, const std::string& name) {
  std::string encoded;
  Poco::URI::encode(name, "/?#%", encoded);
  return "/jobs/" + std::to_string(job_id) + "/artifacts/" + encoded;
}

std::string artifacts_json(int64_t job_id, const std::vector<artifact_info>& list) {
  std::string out = "{\"artifacts\":[";
  for (size_t i = 0; i < list.size(); ++i) {
    auto& x = list[i];
    if (i > 0)
      out += ",";
    out += "{\"name\":" + json_quote(x.name)
           + ",\"content_type\":" + json_quote(x.content_type)
           + ",\"size\":" + std::to_string(x.size)
           + ",\"url\":" + json_quote(artifact_path(job_id, x.name)) + "}";
  }
  return out + "]}";
}

std::string deliveries_json(const std::vector<webhook_delivery>& log) {
  std::vector<std::string> items;
  for (auto& x : log)
    items.push_back(
      object_writer{}
        .add("event_id", std::to_string(x.event_seq))
        .add_string("state", to_string(x.state))
        .add_string("url", x.url)
        .add("attempt", std::to_string(x.attempt))
        .add_string("outcome", to_string(x.outcome))
        .add("http_status", x.http_status > 0 ? std::to_string(x.http_status) : "null")
        .add("error", x.error.empty() ? "null" : json_quote(x.error))
        .add_string("at", rfc3339_utc(x.at_ms))
        .add("next_attempt_at",
             x.next_attempt_ms > 0 ? json_quote(rfc3339_utc(x.next_attempt_ms)) : "null")
        .done());
  return "{\"deliveries\":" + join_array(items) + "}";
}

std::string webhook_event_json(const webhook_event& x,
                               const std::string& public_base_url) {
  std::string out = "{\"event_id\":" + std::to_string(x.seq);
  out += ",\"job_id\":" + std::to_string(x.job_id);
  out += ",\"state\":" + json_quote(to_string(x.state));
  out += ",\"previous_state\":"
         + (x.has_previous ? json_quote(to_string(x.previous_state))
                           : std::string{"null"});
  out += ",\"timestamp\":" + json_quote(rfc3339_utc(x.at_ms));
  out += ",\"model\":" + json_quote(x.model);
  out += ",\"attempt\":" + std::to_string(x.attempt);
  if (x.state == job_state::done) {
    out += ",\"result\":" + json_or_null(x.result);
    out += ",\"artifacts\":[";
    for (size_t i = 0; i < x.artifacts.size(); ++i) {
      auto& a = x.artifacts[i];
      if (i > 0)
        out += ",";
      out += "{\"name\":" + json_quote(a.info.name)
             + ",\"content_type\":" + json_quote(a.info.content_type)
             + ",\"size\":" + std::to_string(a.info.size);
      if (!a.inlined)
        out += ",\"url\":"
               + json_quote(public_base_url + artifact_path(x.job_id, a.info.name));
      else if (is_textual(a.info.content_type))
        out += ",\"data\":" + json_quote(a.data);
      else
        out += ",\"data_base64\":" + json_quote(base64(a.data));
      out += "}";
    }
    out += "]";
  }
  if (x.state == job_state::failed)
    out += ",\"error\":" + json_quote(x.error);
  return out + "}";
}

} // namespace foreman::net
