#include "model_management.hpp"

#include "http_reply.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>
#include <Poco/String.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <ostream>
#include <vector>

namespace fake_ollama {

namespace {

using Poco::Net::HTTPServerResponse;

// Progress lines go out this far apart, so that clients (and tests) see a
// stream rather than one burst.
constexpr std::chrono::milliseconds progress_pace{10};

constexpr const char* manifest_missing = "pull model manifest: file does not exist";

// Where a Linux service install keeps its models; only used in error texts.
constexpr const char* models_dir = "/usr/share/ollama/.ollama/models";

// -- progress ----------------------------------------------------------------

/// Ollama's streamResponse/waitForStream: progress objects as NDJSON lines,
/// or only the last one when not streaming. An error gets a real status
/// while nothing has been written, and is one more line after that.
class progress_reply {
public:
  progress_reply(fake_server& server, HTTPServerResponse& response, bool stream)
    : server_(server), response_(response), stream_(stream) {
  }

  /// False when the client went away or the server is stopping: give up
  /// without changing anything, like a cancelled Ollama request.
  bool send(const Poco::JSON::Object::Ptr& progress) {
    if (!stream_) {
      latest_ = progress;
      return !server_.shutdown.triggered();
    }
    if (!out_) {
      response_.setChunkedTransferEncoding(true);
      response_.setContentType("application/x-ndjson");
      out_ = &response_.send();
    } else if (!server_.shutdown.sleep_for(progress_pace)) {
      return false;
    }
    *out_ << to_json(progress) << '\n';
    out_->flush();
    return out_->good();
  }

  bool send(const std::string& status) {
    auto progress = ordered_object();
    progress->set("status", status);
    return send(progress);
  }

  void fail(int status, const std::string& message) {
    if (!out_)
      throw api_error(status, message);
    auto line = ordered_object();
    line->set("error", message);
    *out_ << to_json(line) << '\n';
    out_->flush();
  }

  /// Answers a request that was not streamed with its last progress object.
  void finish() {
    if (!stream_ && latest_)
      send_json(response_, 200, latest_);
  }

private:
  fake_server& server_;
  HTTPServerResponse& response_;
  const bool stream_;
  std::ostream* out_ = nullptr;
  Poco::JSON::Object::Ptr latest_;
};

// -- names, digests and layers ---------------------------------------------

std::string sha256_hex(const std::string& data) {
  Poco::SHA2Engine engine; // SHA-256 by default
  engine.update(data);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

/// "sha256:<64 hex>" or "sha256-<64 hex>" (Ollama accepts both in paths).
bool is_valid_digest(const std::string& digest) {
  if (digest.size() != 71 || digest.compare(0, 6, "sha256") != 0
      || (digest[6] != ':' && digest[6] != '-'))
    return false;
  for (std::size_t i = 7; i < digest.size(); ++i)
    if (!std::isxdigit(static_cast<unsigned char>(digest[i])))
      return false;
  return true;
}

/// `model`, or the deprecated `name` when `model` is absent or empty.
std::string requested_name(const Poco::JSON::Object::Ptr& request,
                           const std::string& go_type) {
  auto name = string_field(request, "model", go_type).value_or("");
  if (name.empty())
    name = string_field(request, "name", go_type).value_or("");
  return name;
}

bool requested_stream(const Poco::JSON::Object::Ptr& request,
                      const std::string& go_type) {
  return bool_field(request, "stream", go_type).value_or(true);
}

/// The manifest file a real install would open for `name`.
std::string manifest_path(const std::string& name) {
  std::string rest = name;
  std::string tag = "latest";
  const auto colon = rest.rfind(':');
  const auto slash = rest.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    tag = rest.substr(colon + 1);
    rest.erase(colon);
  }
  const auto slashes = std::count(rest.begin(), rest.end(), '/');
  if (slashes == 0)
    rest = "registry.ollama.ai/library/" + rest;
  else if (slashes == 1)
    rest = "registry.ollama.ai/" + rest;
  return std::string(models_dir) + "/manifests/" + rest + "/" + tag;
}

struct layer {
  std::string hex; // 64 hex digits
  uint64_t size = 0;
};

/// What a model's manifest lists: the weights, a template and parameters.
std::vector<layer> layers_of(const model_spec& model) {
  return {{model.digest(), model.size_bytes()},
          {sha256_hex(model.display_name + "/template"), 1429},
          {sha256_hex(model.display_name + "/params"), 96}};
}

/// `{"status":"pulling 0123456789ab","digest":"sha256:...","total":N,"completed":k}`
Poco::JSON::Object::Ptr transfer(const std::string& verb, const layer& part,
                                 uint64_t completed) {
  auto progress = ordered_object();
  progress->set("status", verb + " " + part.hex.substr(0, 12));
  progress->set("digest", "sha256:" + part.hex);
  progress->set("total", part.size);
  progress->set("completed", completed);
  return progress;
}

/// Each layer's transfer: the large one in two steps, the others in one.
bool send_transfers(progress_reply& progress, const std::string& verb,
                    const model_spec& model) {
  for (const auto& part : layers_of(model)) {
    if (part.size > 1000 * 1000 && !progress.send(transfer(verb, part, part.size / 2)))
      return false;
    if (!progress.send(transfer(verb, part, part.size)))
      return false;
  }
  return true;
}

/// `files` of a create request: file name -> blob digest.
std::vector<std::string> requested_files(const Poco::JSON::Object::Ptr& request) {
  const auto files = request->get("files");
  if (files.isEmpty())
    return {};
  if (files.type() != typeid(Poco::JSON::Object::Ptr))
    throw api_error(400, "json: cannot unmarshal " + json_kind(files)
                           + " into Go struct field CreateRequest.files of "
                             "type map[string]string");
  std::vector<std::string> digests;
  for (const auto& [file, digest] : *files.extract<Poco::JSON::Object::Ptr>()) {
    if (!digest.isString())
      throw api_error(400, "json: cannot unmarshal " + json_kind(digest)
                             + " into Go struct field CreateRequest.files of "
                               "type string");
    digests.push_back(digest.extract<std::string>());
  }
  return digests;
}

} // namespace

void handle_pull(fake_server& server, const std::string& body,
                 HTTPServerResponse& response) {
  const std::string go_type = "api.PullRequest";
  const auto request = parse_request_body(body, go_type);
  const auto name = requested_name(request, go_type);
  bool_field(request, "insecure", go_type); // checked, then ignored
  const bool stream = requested_stream(request, go_type);
  if (!is_valid_model_name(name))
    throw api_error(400, "invalid model name");

  progress_reply progress(server, response, stream);
  if (!progress.send("pulling manifest"))
    return;
  if (Poco::toLower(name).find("notfound") != std::string::npos) {
    progress.fail(500, manifest_missing);
    return;
  }
  const auto installed = server.catalogue.find(name);
  const auto pulled = installed ? *installed : model_spec::pulled(name);
  if (!send_transfers(progress, "pulling", pulled)
      || !progress.send("verifying sha256 digest") || !progress.send("writing manifest"))
    return;
  server.catalogue.add(pulled); // a model already installed stays as it is
  if (progress.send("success"))
    progress.finish();
}

void handle_push(fake_server& server, const std::string& body,
                 HTTPServerResponse& response) {
  const std::string go_type = "api.PushRequest";
  const auto request = parse_request_body(body, go_type);
  const auto name = requested_name(request, go_type);
  bool_field(request, "insecure", go_type); // checked, then ignored
  const bool stream = requested_stream(request, go_type);
  if (name.empty())
    throw api_error(400, "model is required");

  progress_reply progress(server, response, stream);
  if (!progress.send("retrieving manifest"))
    return;
  const auto model = server.catalogue.find(name);
  if (!model) {
    // Ollama reports the failed manifest read after a status line.
    if (progress.send("couldn't retrieve manifest"))
      progress.fail(500, "open " + manifest_path(name) + ": no such file or directory");
    return;
  }
  if (!send_transfers(progress, "pushing", *model) || !progress.send("pushing manifest"))
    return;
  if (progress.send("success"))
    progress.finish();
}

void handle_create(fake_server& server, const std::string& body,
                   HTTPServerResponse& response) {
  const std::string go_type = "api.CreateRequest";
  const auto request = parse_request_body(body, go_type);
  const auto name = requested_name(request, go_type);
  const auto from = string_field(request, "from", go_type).value_or("");
  const auto files = requested_files(request);
  const bool stream = requested_stream(request, go_type);
  if (!is_valid_model_name(name))
    throw api_error(400, "invalid model name");
  for (const auto& digest : files) {
    if (!is_valid_digest(digest))
      throw api_error(400, "invalid digest format");
    if (!server.blobs.contains(digest.substr(7)))
      throw api_error(400, "open " + std::string(models_dir) + "/blobs/sha256-"
                             + digest.substr(7) + ": no such file or directory");
  }
  if (from.empty() && request->get("files").isEmpty())
    throw api_error(400, "neither 'from' or 'files' was specified");
  if (from.empty() && files.empty())
    throw api_error(400, "no files provided to convert");
  if (!from.empty() && !is_valid_model_name(from))
    throw api_error(400, "invalid model name");

  progress_reply progress(server, response, stream);
  model_spec created;
  if (!from.empty()) {
    const auto base = server.catalogue.find(from);
    if (!base) {
      // Ollama pulls a `from` it does not have; the fake's registry lacks it.
      if (progress.send("pulling manifest"))
        progress.fail(500, manifest_missing);
      return;
    }
    created = *base;
    if (!progress.send("using existing layer sha256:" + base->digest()))
      return;
  } else {
    created = model_spec::pulled(name);
    if (!progress.send("parsing GGUF"))
      return;
    for (const auto& digest : files)
      if (!progress.send("using existing layer sha256:" + digest.substr(7)))
        return;
  }
  created.display_name = canonical_model_name(name);
  created.modified_at = wall_now();
  for (const char* changes : {"template", "system", "parameters", "messages", "license"})
    if (!request->get(changes).isEmpty()) {
      if (!progress.send("creating new layer sha256:" + sha256_hex(name + body)))
        return;
      break;
    }
  if (!progress.send("writing manifest"))
    return;
  server.catalogue.put(created); // replaces a model of that name
  if (progress.send("success"))
    progress.finish();
}

void handle_copy(fake_server& server, const std::string& body,
                 HTTPServerResponse& response) {
  const std::string go_type = "api.CopyRequest";
  const auto request = parse_request_body(body, go_type);
  const auto source = string_field(request, "source", go_type).value_or("");
  const auto destination = string_field(request, "destination", go_type).value_or("");
  if (!is_valid_model_name(source))
    throw api_error(400, "source " + go_quoted(source) + " is invalid");
  if (!is_valid_model_name(destination))
    throw api_error(400, "destination " + go_quoted(destination) + " is invalid");
  const auto model = server.catalogue.find(source);
  if (!model)
    throw api_error(404, "model " + go_quoted(source) + " not found");
  auto copy = *model;
  copy.display_name = canonical_model_name(destination);
  copy.modified_at = wall_now();
  server.catalogue.put(std::move(copy)); // replaces a model of that name
  send_empty(response, 200);
}

void handle_delete(fake_server& server, const std::string& body,
                   HTTPServerResponse& response) {
  const std::string go_type = "api.DeleteRequest";
  const auto request = parse_request_body(body, go_type);
  const auto name = requested_name(request, go_type);
  if (!is_valid_model_name(name))
    throw api_error(400, "name " + go_quoted(name) + " is invalid");
  const auto removed = server.catalogue.remove(name);
  if (!removed)
    throw api_error(404, "model '" + name + "' not found");
  server.models.unload_when_idle(*removed);
  send_empty(response, 200);
}

void handle_blob(fake_server& server, const std::string& method,
                 const std::string& digest, const std::string& body,
                 HTTPServerResponse& response) {
  if (!is_valid_digest(digest))
    throw api_error(400, "invalid digest format");
  const auto hex = digest.substr(7);
  if (method == "HEAD") {
    if (!server.blobs.contains(hex))
      throw api_error(404, "blob " + go_quoted(digest) + " not found");
    send_empty(response, 200);
    return;
  }
  if (server.blobs.contains(hex)) {
    send_empty(response, 200); // already there: Ollama does not read it again
    return;
  }
  // Ollama compares the path with the "sha256:" form, so an upload to
  // "sha256-<hex>" never matches.
  const auto actual = "sha256:" + sha256_hex(body);
  if (actual != digest)
    throw api_error(400, "digest mismatch, expected " + go_quoted(digest) + ", got "
                           + go_quoted(actual));
  server.blobs.add(hex);
  send_empty(response, 201);
}

} // namespace fake_ollama
