#pragma once

// Writes one job's answer onto its caller's exchange, in the dialect the
// caller spoke: Ollama's NDJSON or whole object, OpenAI's SSE or whole
// object, the legacy embeddings shape.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "messages/job.hpp"
#include "net/http_server.hpp"

namespace foreman::net {

namespace openai {
class stream_translator;
} // namespace openai

/// Which API a caller speaks, and so how its job's answer is written.
enum class api_dialect {
  ollama,
  ollama_legacy_embeddings,
  openai_chat,
  openai_completion,
  openai_embeddings,
};

bool is_openai(api_dialect d);

/// Ollama's exact answer when too many requests are pending.
extern const char* const busy_message;
extern const char* const shutting_down_message;
/// Seconds a refused caller is asked to wait before trying again.
extern const char* const retry_after_seconds;
extern const char* const json_content_type;

/// Sends an error in the caller's dialect.
void send_error(http_exchange& out, api_dialect dialect, int status,
                const std::string& message, const header_list& headers = {});

/// Ollama's 503 for a full queue or too many waiting callers.
void send_busy(http_exchange& out, api_dialect dialect);

/// 503: foreman is shutting down.
void send_shutting_down(http_exchange& out, api_dialect dialect);

/// A request that becomes a job, with what its caller expects back.
struct queued_request {
  job_spec spec;
  bool stream = false;
  api_dialect dialect = api_dialect::ollama;
  bool include_usage = false;
  bool base64_embeddings = false;
};

/// Writes one job's answer: streamed chunk by chunk, or whole at the end.
class answer_writer {
public:
  answer_writer(exchange_ptr out, queued_request req);
  ~answer_writer();

  answer_writer(answer_writer&&) noexcept;
  answer_writer& operator=(answer_writer&&) noexcept;

  const queued_request& request() const {
    return req_;
  }

  /// Headers every answer carries once the job is stored.
  void on_accepted(int64_t job_id, int64_t queue_position);

  /// Passes one chunk on; false when the caller has gone.
  bool on_chunk(const std::string& line);

  void on_outcome(const job_outcome& outcome);

  /// The job could not be stored or waited for.
  void on_failure(const std::string& description, bool queue_full);

  /// foreman stops before the answer began: the job stays stored and runs
  /// when foreman is back.
  void on_shutdown();

private:
  std::string openai_id() const;
  std::string whole_answer(const std::string& native) const;

  exchange_ptr out_;
  queued_request req_;
  header_list headers_;
  int64_t job_id_ = 0;
  bool started_ = false;
  std::unique_ptr<openai::stream_translator> translator_;
};

} // namespace foreman::net
