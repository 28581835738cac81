#pragma once

// The models the fake "has installed", and how request names map onto them.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace fake_ollama {

enum class model_kind { chat, embed };

/// One installed model. Everything the API reports about it is derived from
/// these four fields so that a catalogue is one short command-line option.
struct model_spec {
  std::string display_name; // "llama3.2:latest": lower case, tag included
  model_kind kind = model_kind::chat;
  uint64_t size_mb = 0;
  std::chrono::milliseconds load_time{0};

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

/// Lower-cases a name, drops the default registry/namespace and adds
/// ":latest" when there is no tag, so "LLama3.2" finds "llama3.2:latest".
std::string canonical_model_name(const std::string& name);

class model_catalogue {
public:
  explicit model_catalogue(std::vector<model_spec> models);

  /// Parses `name:kind:size_mb:load_ms[,...]`; kind, size and load time are
  /// taken from the right so names may carry a tag. Throws
  /// std::invalid_argument naming the bad entry.
  static model_catalogue parse(const std::string& spec);

  /// llama3.2, qwen2.5 and mistral (chat) plus all-minilm (embed).
  static model_catalogue defaults();

  /// Nullptr when the model is not installed.
  const model_spec* find(const std::string& requested_name) const;

  const std::vector<model_spec>& models() const {
    return models_;
  }

private:
  std::vector<model_spec> models_;
};

} // namespace fake_ollama
