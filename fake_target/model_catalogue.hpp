#pragma once

// The models the fake "has installed", and how request names map onto them.
// The catalogue changes at run time (pull, create, copy, delete), so entries
// are shared immutable specs: a request keeps using the spec it found even if
// the model is deleted meanwhile.

#include "wire_format.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace fake_ollama {

enum class model_kind { chat, embed };

/// One installed model. Everything the API reports about it is derived from
/// these fields so that a catalogue is one short command-line option.
struct model_spec {
  std::string display_name; // "llama3.2:latest": lower case, tag included
  model_kind kind = model_kind::chat;
  uint64_t size_mb = 0;
  std::chrono::milliseconds load_time{0};
  /// When it was pulled, created or copied; the epoch for models given on
  /// the command line (they count as installed when the server started).
  wall_time modified_at{};

  /// What `ollama pull` of a name the fake does not know installs.
  static model_spec pulled(const std::string& name);

  uint64_t size_bytes() const {
    return size_mb * 1000 * 1000;
  }
  std::string digest() const;        // 64 hex characters, stable per name
  std::string family() const;        // "llama", "qwen", "bert", ...
  std::string parameter_size() const; // "3.2B"
  std::string quantization_level() const;
  int context_length() const;
  int embedding_length() const;
  std::string capability() const; // "completion" or "embedding"
};

using model_ptr = std::shared_ptr<const model_spec>;

/// Lower-cases a name, drops the default registry/namespace and adds
/// ":latest" when there is no tag, so "LLama3.2" finds "llama3.2:latest".
std::string canonical_model_name(const std::string& name);

/// Ollama's name grammar (ollama-api.md §3): `[host/][namespace/]model[:tag]`
/// with its character and length rules.
bool is_valid_model_name(const std::string& name);

/// The installed models; every member is thread-safe.
class model_catalogue {
public:
  explicit model_catalogue(std::vector<model_spec> models);
  model_catalogue(const model_catalogue& other);
  model_catalogue& operator=(const model_catalogue& other);

  /// Parses `name:kind:size_mb:load_ms[,...]`; kind, size and load time are
  /// taken from the right so names may carry a tag. Throws
  /// std::invalid_argument naming the bad entry.
  static model_catalogue parse(const std::string& spec);

  /// llama3.2, qwen2.5 and mistral (chat) plus all-minilm (embed).
  static model_catalogue defaults();

  /// Nullptr when the model is not installed.
  model_ptr find(const std::string& requested_name) const;

  /// A snapshot, in installation order.
  std::vector<model_ptr> models() const;

  /// Installs `model` unless one of that name exists; true if it was added.
  bool add(model_spec model);

  /// Installs `model`, replacing one of the same name in place.
  void put(model_spec model);

  /// Uninstalls a model; returns it, or nullptr when it was not installed.
  model_ptr remove(const std::string& requested_name);

private:
  mutable std::mutex mutex_;
  std::vector<model_ptr> models_;
};

} // namespace fake_ollama
