#pragma once

// Builds the stream:false answer from a chat or generate NDJSON stream, the
// way Ollama does: texts concatenated, tool calls gathered, the rest from the
// final chunk.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "messages/job.hpp"

namespace foreman::net {

class stream_aggregator {
public:
  explicit stream_aggregator(job_kind kind);
  ~stream_aggregator();

  stream_aggregator(const stream_aggregator&) = delete;
  stream_aggregator& operator=(const stream_aggregator&) = delete;

  /// Takes one line. Returns a description when the line is not a JSON
  /// object, or the target's message when it is an error line.
  std::optional<std::string> add(std::string_view line);

  /// True once the chunk with done:true arrived.
  bool finished() const;

  /// Tokens generated so far: one per chunk before the final one (Ollama
  /// streams a token a chunk), then the final chunk's eval_count when it
  /// reports one.
  int64_t tokens() const;

  /// The whole answer as one object; valid once finished.
  std::string result() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace foreman::net
