#include "model_catalogue.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/NumberParser.h>
#include <Poco/SHA2Engine.h>
#include <Poco/String.h>

#include <cctype>
#include <cstdio>
#include <stdexcept>

namespace fake_ollama {

namespace {

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

model_kind parse_kind(const std::string& text, const std::string& entry) {
  if (text == "chat")
    return model_kind::chat;
  if (text == "embed")
    return model_kind::embed;
  throw std::invalid_argument("model entry '" + entry
                              + "': kind must be chat or embed, not '" + text
                              + "'");
}

uint64_t parse_count(const std::string& text, const std::string& what,
                     const std::string& entry) {
  Poco::UInt64 value = 0;
  if (!Poco::NumberParser::tryParseUnsigned64(text, value))
    throw std::invalid_argument("model entry '" + entry + "': " + what
                                + " must be a non-negative integer, not '"
                                + text + "'");
  return value;
}

bool is_name_start(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

enum class name_part { host, name_space, model_or_tag };

// One part of a model name, as Ollama's types/model/name.go checks it.
bool is_valid_part(const std::string& part, name_part kind) {
  const std::size_t max_length = kind == name_part::host ? 350 : 80;
  if (part.empty() || part.size() > max_length || !is_name_start(part[0]))
    return false;
  for (std::size_t i = 1; i < part.size(); ++i) {
    const char c = part[i];
    if (is_name_start(c) || c == '-')
      continue;
    if (c == '.' && kind != name_part::name_space)
      continue;
    if (c == ':' && kind == name_part::host)
      continue;
    return false;
  }
  return true;
}

model_spec parse_entry(const std::string& entry) {
  // Split off the last three fields; whatever is left is the name.
  std::string rest = entry;
  std::string fields[3];
  for (int i = 2; i >= 0; --i) {
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos)
      throw std::invalid_argument("model entry '" + entry
                                  + "' is not name:kind:size_mb:load_ms");
    fields[i] = rest.substr(colon + 1);
    rest.erase(colon);
  }
  if (rest.empty())
    throw std::invalid_argument("model entry '" + entry + "' has no name");
  model_spec spec;
  spec.display_name = canonical_model_name(rest);
  spec.kind = parse_kind(fields[0], entry);
  spec.size_mb = parse_count(fields[1], "size_mb", entry);
  spec.load_time = std::chrono::milliseconds{
    static_cast<int64_t>(parse_count(fields[2], "load_ms", entry))};
  return spec;
}

} // namespace

model_spec model_spec::pulled(const std::string& name) {
  model_spec spec;
  spec.display_name = canonical_model_name(name);
  spec.kind = model_kind::chat;
  spec.size_mb = 1000;
  spec.load_time = std::chrono::milliseconds{100};
  spec.modified_at = wall_now();
  return spec;
}

std::string model_spec::digest() const {
  Poco::SHA2Engine engine;
  engine.update(display_name);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

std::string model_spec::family() const {
  if (kind == model_kind::embed)
    return "bert";
  std::string family;
  const auto slash = display_name.rfind('/');
  const auto start = slash == std::string::npos ? 0 : slash + 1;
  for (auto i = start; i < display_name.size()
                       && std::isalpha(static_cast<unsigned char>(display_name[i]));
       ++i)
    family += display_name[i];
  return family.empty() ? "llama" : family;
}

std::string model_spec::parameter_size() const {
  // Roughly what a Q4 quantisation of that many bytes holds.
  char text[32];
  if (kind == model_kind::embed)
    std::snprintf(text, sizeof text, "%lluM",
                  static_cast<unsigned long long>(size_mb / 2));
  else
    std::snprintf(text, sizeof text, "%.1fB", static_cast<double>(size_mb) / 620.0);
  return text;
}

std::string model_spec::quantization_level() const {
  return kind == model_kind::embed ? "F16" : "Q4_K_M";
}

int model_spec::context_length() const {
  return kind == model_kind::embed ? 512 : 4096;
}

int model_spec::embedding_length() const {
  return kind == model_kind::embed ? 384 : 3072;
}

std::string model_spec::capability() const {
  return kind == model_kind::embed ? "embedding" : "completion";
}

std::string canonical_model_name(const std::string& name) {
  std::string canonical = Poco::toLower(name);
  for (const std::string prefix : {"registry.ollama.ai/library/", "library/"})
    if (starts_with(canonical, prefix)) {
      canonical.erase(0, prefix.size());
      break;
    }
  const auto colon = canonical.rfind(':');
  const auto slash = canonical.rfind('/');
  if (colon == std::string::npos
      || (slash != std::string::npos && colon < slash))
    canonical += ":latest";
  return canonical;
}

bool is_valid_model_name(const std::string& name) {
  std::string rest = name;
  for (const std::string scheme : {"https://", "http://"})
    if (starts_with(rest, scheme)) {
      rest.erase(0, scheme.size());
      break;
    }
  // The tag follows the last ':' only when that comes after the last '/'
  // (otherwise the ':' belongs to a host's port).
  const auto colon = rest.rfind(':');
  const auto slash = rest.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    if (!is_valid_part(rest.substr(colon + 1), name_part::model_or_tag))
      return false;
    rest.erase(colon);
  }
  std::vector<std::string> parts;
  std::string::size_type start = 0;
  for (;;) {
    const auto end = rest.find('/', start);
    parts.push_back(rest.substr(start, end - start));
    if (end == std::string::npos)
      break;
    start = end + 1;
  }
  if (parts.size() > 3)
    return false;
  const auto count = parts.size();
  if (!is_valid_part(parts[count - 1], name_part::model_or_tag))
    return false;
  if (count >= 2 && !is_valid_part(parts[count - 2], name_part::name_space))
    return false;
  return count < 3 || is_valid_part(parts[0], name_part::host);
}

model_catalogue::model_catalogue(std::vector<model_spec> models) {
  for (auto& model : models)
    models_.push_back(std::make_shared<const model_spec>(std::move(model)));
}

model_catalogue::model_catalogue(const model_catalogue& other)
  : models_(other.models()) {
}

model_catalogue& model_catalogue::operator=(const model_catalogue& other) {
  if (this != &other) {
    auto models = other.models();
    std::lock_guard<std::mutex> lock(mutex_);
    models_ = std::move(models);
  }
  return *this;
}

model_catalogue model_catalogue::parse(const std::string& spec) {
  std::vector<model_spec> models;
  std::string::size_type start = 0;
  while (start <= spec.size()) {
    auto comma = spec.find(',', start);
    if (comma == std::string::npos)
      comma = spec.size();
    const std::string entry = Poco::trim(spec.substr(start, comma - start));
    if (!entry.empty()) {
      auto model = parse_entry(entry);
      for (const auto& known : models)
        if (known.display_name == model.display_name)
          throw std::invalid_argument("model '" + model.display_name
                                      + "' is listed twice");
      models.push_back(std::move(model));
    }
    start = comma + 1;
  }
  if (models.empty())
    throw std::invalid_argument("the model list is empty");
  return model_catalogue{std::move(models)};
}

model_catalogue model_catalogue::defaults() {
  return parse("llama3.2:chat:2000:200,qwen2.5:chat:4700:250,"
               "mistral:chat:4100:300,all-minilm:embed:45:100");
}

model_ptr model_catalogue::find(const std::string& requested_name) const {
  const auto wanted = canonical_model_name(requested_name);
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& model : models_)
    if (model->display_name == wanted)
      return model;
  return nullptr;
}

std::vector<model_ptr> model_catalogue::models() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return models_;
}

bool model_catalogue::add(model_spec model) {
  auto added = std::make_shared<const model_spec>(std::move(model));
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& known : models_)
    if (known->display_name == added->display_name)
      return false;
  models_.push_back(std::move(added));
  return true;
}

void model_catalogue::put(model_spec model) {
  auto added = std::make_shared<const model_spec>(std::move(model));
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& known : models_)
    if (known->display_name == added->display_name) {
      known = std::move(added);
      return;
    }
  models_.push_back(std::move(added));
}

model_ptr model_catalogue::remove(const std::string& requested_name) {
  const auto wanted = canonical_model_name(requested_name);
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = models_.begin(); it != models_.end(); ++it)
    if ((*it)->display_name == wanted) {
      auto removed = *it;
      models_.erase(it);
      return removed;
    }
  return nullptr;
}

} // namespace fake_ollama
