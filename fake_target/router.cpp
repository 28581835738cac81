#include "router.hpp"

#include "http_reply.hpp"
#include "inference.hpp"
#include "model_management.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <algorithm>
#include <iostream>
#include <string_view>

namespace fake_ollama {

namespace {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

// -- catalogue and status endpoints ------------------------------------------

Poco::JSON::Object::Ptr details_of(const model_spec& model, bool with_lengths) {
  auto details = ordered_object();
  details->set("parent_model", "");
  details->set("format", "gguf");
  details->set("family", model.family());
  Poco::JSON::Array::Ptr families = new Poco::JSON::Array;
  families->add(model.family());
  details->set("families", families);
  details->set("parameter_size", model.parameter_size());
  details->set("quantization_level", model.quantization_level());
  if (with_lengths) {
    details->set("context_length", model.context_length());
    details->set("embedding_length", model.embedding_length());
  }
  return details;
}

Poco::JSON::Array::Ptr capabilities_of(const model_spec& model) {
  Poco::JSON::Array::Ptr capabilities = new Poco::JSON::Array;
  capabilities->add(model.capability());
  return capabilities;
}

wall_time modified_at(const fake_server& server, const model_spec& model) {
  return model.modified_at == wall_time{} ? server.installed_at : model.modified_at;
}

Poco::JSON::Object::Ptr tags(const fake_server& server) {
  // Like Ollama: the most recently modified first.
  auto installed = server.catalogue.models();
  std::stable_sort(installed.begin(), installed.end(),
                   [&](const model_ptr& a, const model_ptr& b) {
                     return modified_at(server, *a) > modified_at(server, *b);
                   });
  Poco::JSON::Array::Ptr models = new Poco::JSON::Array;
  for (const auto& model : installed) {
    auto entry = ordered_object();
    entry->set("name", model->display_name);
    entry->set("model", model->display_name);
    entry->set("modified_at", format_rfc3339(modified_at(server, *model), true));
    entry->set("size", model->size_bytes());
    entry->set("digest", model->digest());
    entry->set("details", details_of(*model, true));
    entry->set("capabilities", capabilities_of(*model));
    models->add(entry);
  }
  auto reply = ordered_object();
  reply->set("models", models);
  return reply;
}

Poco::JSON::Object::Ptr show(const fake_server& server, const std::string& body) {
  const auto request = parse_request_body(body, "api.ShowRequest");
  auto name = string_field(request, "model", "api.ShowRequest").value_or("");
  if (name.empty())
    name = string_field(request, "name", "api.ShowRequest").value_or("");
  if (name.empty())
    throw api_error(400, "model is required");
  const auto model = server.catalogue.find(name);
  if (!model)
    throw api_error(404, "model '" + canonical_model_name(name) + "' not found");
  auto info = ordered_object();
  const auto family = model->family();
  info->set("general.architecture", family);
  info->set("general.parameter_count", model->size_bytes() * 2);
  info->set(family + ".context_length", model->context_length());
  info->set(family + ".embedding_length", model->embedding_length());
  auto reply = ordered_object();
  reply->set("modelfile", "FROM " + model->display_name + "\n");
  reply->set("parameters", "num_ctx                        "
                             + std::to_string(model->context_length()));
  reply->set("details", details_of(*model, true));
  reply->set("model_info", info);
  reply->set("capabilities", capabilities_of(*model));
  reply->set("modified_at", format_rfc3339(modified_at(server, *model), true));
  return reply;
}

Poco::JSON::Object::Ptr running(const fake_server& server) {
  Poco::JSON::Array::Ptr models = new Poco::JSON::Array;
  for (const auto& resident : server.models.resident_models()) {
    const auto& model = *resident.model;
    auto entry = ordered_object();
    entry->set("name", model.display_name);
    entry->set("model", model.display_name);
    entry->set("size", model.size_bytes());
    entry->set("digest", model.digest());
    entry->set("details", details_of(model, false));
    entry->set("expires_at", format_rfc3339(resident.expires_at, true));
    entry->set("size_vram", model.size_bytes());
    entry->set("context_length", model.context_length());
    models->add(entry);
  }
  auto reply = ordered_object();
  reply->set("models", models);
  return reply;
}

// -- /_fake/ test hooks ------------------------------------------------------

std::vector<std::string> resident_names(fake_server& server) {
  std::vector<std::string> names;
  for (const auto& resident : server.models.resident_models())
    names.push_back(resident.model->display_name);
  return names;
}

armed_fault parse_fault(const std::string& body) {
  const auto request = parse_request_body(body, "fault");
  armed_fault fault;
  const auto kind = parse_fault_kind(string_field(request, "kind", "fault").value_or(""));
  if (!kind)
    throw api_error(400, "kind must be one of reset, http500, delay, hang");
  fault.kind = *kind;
  const auto count = request->get("count");
  if (!count.isEmpty())
    fault.remaining = count.convert<int>();
  const auto delay = request->get("delay_ms");
  if (!delay.isEmpty())
    fault.delay = std::chrono::milliseconds{delay.convert<int64_t>()};
  fault.path = string_field(request, "path", "fault").value_or("");
  if (fault.remaining < 1 || fault.delay.count() < 0)
    throw api_error(400, "count must be at least 1 and delay_ms not negative");
  return fault;
}

void handle_test_hook(fake_server& server, const std::string& method,
                      const std::string& path, const std::string& body,
                      HTTPServerResponse& response) {
  auto ok = [] {
    auto reply = ordered_object();
    reply->set("ok", true);
    return reply;
  };
  if (path == "/_fake/counters" && method == "GET") {
    send_json(response, 200, server.hooks.counters_json(resident_names(server)));
  } else if (path == "/_fake/reset" && method == "POST") {
    server.hooks.reset_counters();
    send_json(response, 200, ok());
  } else if (path == "/_fake/faults" && method == "POST") {
    server.hooks.arm(parse_fault(body));
    send_json(response, 200, ok());
  } else if (path == "/_fake/faults" && method == "DELETE") {
    server.hooks.clear_faults();
    send_json(response, 200, ok());
  } else if (path == "/_fake/hold" && method == "POST") {
    server.hooks.hold();
    send_json(response, 200, ok());
  } else if (path == "/_fake/release" && method == "POST") {
    auto reply = ok();
    reply->set("released", server.hooks.release());
    send_json(response, 200, reply);
  } else {
    send_text(response, 404, "404 page not found");
  }
}

// -- faults ------------------------------------------------------------------

/// Applies a fault; returns true when the request should still be served.
bool apply_fault(fake_server& server, const armed_fault& fault,
                 HTTPServerRequest& request, HTTPServerResponse& response) {
  switch (fault.kind) {
    case fault_kind::reset:
      abort_connection(request, response);
      return false;
    case fault_kind::http500:
      send_error(response, 500, "injected failure");
      return false;
    case fault_kind::delay:
      if (server.shutdown.sleep_for(fault.delay))
        return true;
      abort_connection(request, response);
      return false;
    case fault_kind::hang:
      while (!server.shutdown.triggered()
             && !client_gone(request, std::chrono::milliseconds{50}))
        server.shutdown.sleep_for(std::chrono::milliseconds{5});
      abort_connection(request, response);
      return false;
  }
  return true;
}

// -- the handler -------------------------------------------------------------

class ollama_handler : public Poco::Net::HTTPRequestHandler {
public:
  explicit ollama_handler(fake_server& server) : server_(server) {
  }

  void handleRequest(HTTPServerRequest& request,
                     HTTPServerResponse& response) override {
    try {
      serve(request, response);
    } catch (const api_error& error) {
      if (!response.sent())
        send_error(response, error.status(), error.what());
    } catch (const Poco::Exception& error) {
      fail(request, response, error.displayText());
    } catch (const std::exception& error) {
      fail(request, response, error.what());
    }
  }

private:
  // Unexpected failures are bugs in the fake: make them loud.
  static void fail(HTTPServerRequest& request, HTTPServerResponse& response,
                   const std::string& message) {
    std::cerr << "fake-ollama: " << request.getMethod() << ' ' << request.getURI()
              << ": " << message << std::endl;
    if (!response.sent())
      send_error(response, 500, message);
  }

  void serve(HTTPServerRequest& request, HTTPServerResponse& response) {
    const auto path = Poco::URI(request.getURI()).getPath();
    const auto& method = request.getMethod();
    std::string body;
    Poco::StreamCopier::copyToString(request.stream(), body);
    if (path.rfind("/_fake/", 0) == 0) {
      handle_test_hook(server_, method, path, body, response);
      return;
    }
    server_.hooks.count_request(path);
    if (const auto fault = server_.hooks.take_fault(path))
      if (!apply_fault(server_, *fault, request, response))
        return;
    route(method, path, body, request, response);
  }

  void route(const std::string& method, const std::string& path,
             const std::string& body, HTTPServerRequest& request,
             HTTPServerResponse& response) {
    const bool get = method == "GET" || method == "HEAD";
    const bool post = method == "POST";
    if (path == "/" && get) {
      send_text(response, 200, "Ollama is running");
    } else if (path == "/api/version" && get) {
      auto reply = ordered_object();
      reply->set("version", "0.33.0-fake");
      send_json(response, 200, reply);
    } else if (path == "/api/tags" && get) {
      send_json(response, 200, tags(server_));
    } else if (path == "/api/ps" && get) {
      send_json(response, 200, running(server_));
    } else if (path == "/api/show" && post) {
      send_json(response, 200, show(server_, body));
    } else if (path == "/api/chat" && post) {
      handle_completion(server_, completion_api::chat, body, request, response);
    } else if (path == "/api/generate" && post) {
      handle_completion(server_, completion_api::generate, body, request, response);
    } else if (path == "/api/embed" && post) {
      handle_embed(server_, body, response);
    } else if (path == "/api/embeddings" && post) {
      handle_legacy_embeddings(server_, body, response);
    } else if (path == "/api/pull" && post) {
      handle_pull(server_, body, response);
    } else if (path == "/api/push" && post) {
      handle_push(server_, body, response);
    } else if (path == "/api/create" && post) {
      handle_create(server_, body, response);
    } else if (path == "/api/copy" && post) {
      handle_copy(server_, body, response);
    } else if (path == "/api/delete" && method == "DELETE") {
      handle_delete(server_, body, response);
    } else if (is_blob_path(path) && (method == "HEAD" || post)) {
      handle_blob(server_, method, path.substr(blobs_prefix.size()), body, response);
    } else if (is_known_route(path)) {
      send_text(response, 405, "405 method not allowed");
    } else {
      send_text(response, 404, "404 page not found");
    }
  }

  static constexpr std::string_view blobs_prefix = "/api/blobs/";

  static bool is_blob_path(const std::string& path) {
    return path.size() > blobs_prefix.size()
           && path.compare(0, blobs_prefix.size(), blobs_prefix) == 0;
  }

  static bool is_known_route(const std::string& path) {
    for (const char* known : {"/", "/api/version", "/api/tags", "/api/ps",
                              "/api/show", "/api/chat", "/api/generate",
                              "/api/embed", "/api/embeddings", "/api/pull",
                              "/api/push", "/api/create", "/api/copy",
                              "/api/delete"})
      if (path == known)
        return true;
    return is_blob_path(path);
  }

  fake_server& server_;
};

} // namespace

Poco::Net::HTTPRequestHandler*
request_router::createRequestHandler(const Poco::Net::HTTPServerRequest&) {
  return new ollama_handler(server_);
}

} // namespace fake_ollama
