#include "net/answer_writer.hpp"

#include "core/clock.hpp"
#include "net/api_mapping.hpp"
#include "net/json_util.hpp"
#include "net/openai_mapping.hpp"

namespace foreman::net {

namespace {

constexpr const char* ndjson_type = "application/x-ndjson";
constexpr const char* sse_type = "text/event-stream";

} // namespace

const char* const busy_message
  = "server busy, please try again.  maximum pending requests exceeded";
const char* const shutting_down_message = "foreman is shutting down";
const char* const retry_after_seconds = "2";
const char* const json_content_type = "application/json; charset=utf-8";

bool is_openai(api_dialect d) {
  return d == api_dialect::openai_chat || d == api_dialect::openai_completion
         || d == api_dialect::openai_embeddings;
}

void send_error(http_exchange& out, api_dialect dialect, int status,
                const std::string& message, const header_list& headers) {
  out.send(status, json_content_type,
           is_openai(dialect) ? openai::error_body(status, message) : error_json(message),
           headers);
}

void send_busy(http_exchange& out, api_dialect dialect) {
  send_error(out, dialect, 503, busy_message, {{"Retry-After", retry_after_seconds}});
}

void send_shutting_down(http_exchange& out, api_dialect dialect) {
  send_error(out, dialect, 503, shutting_down_message,
             {{"Retry-After", retry_after_seconds}});
}

answer_writer::answer_writer(exchange_ptr out, queued_request req)
  : out_(std::move(out)), req_(std::move(req)) {
}

answer_writer::~answer_writer() = default;
answer_writer::answer_writer(answer_writer&&) noexcept = default;
answer_writer& answer_writer::operator=(answer_writer&&) noexcept = default;

void answer_writer::on_accepted(int64_t job_id, int64_t queue_position) {
  job_id_ = job_id;
  headers_.emplace_back("X-Foreman-Job-Id", std::to_string(job_id));
  headers_.emplace_back("X-Foreman-Queue-Position", std::to_string(queue_position));
  if (req_.dialect == api_dialect::openai_chat
      || req_.dialect == api_dialect::openai_completion) {
    auto kind = req_.dialect == api_dialect::openai_chat ? job_kind::chat
                                                         : job_kind::generate;
    translator_ = std::make_unique<openai::stream_translator>(
      kind, req_.spec.model, openai_id(), now_unix_ms() / 1000, req_.include_usage);
  }
}

bool answer_writer::on_chunk(const std::string& line) {
  if (!started_) {
    out_->begin_stream(200, req_.dialect == api_dialect::ollama ? ndjson_type : sse_type,
                       headers_);
    started_ = true;
  }
  return out_->write(translator_ ? translator_->translate(line) : line + "\n");
}

void answer_writer::on_outcome(const job_outcome& outcome) {
  auto ok = outcome.http_status == 200;
  if (started_) {
    // Ollama ends a broken stream with an error line and no done object;
    // OpenAI callers see the stream end without [DONE].
    if (translator_ && ok)
      out_->write(translator_->finish());
    else if (!ok && !translator_)
      out_->write(outcome.body + "\n");
    out_->end_stream();
    return;
  }
  if (!ok)
    return send_error(*out_, req_.dialect, outcome.http_status,
                      error_message(outcome.body), headers_);
  if (req_.stream) {
    // No chunk was streamed (an answer without chunks): one event.
    on_chunk(outcome.body);
    if (translator_)
      out_->write(translator_->finish());
    out_->end_stream();
    return;
  }
  out_->send(200, json_content_type, whole_answer(outcome.body), headers_);
}

void answer_writer::on_failure(const std::string& description, bool queue_full) {
  if (started_) {
    out_->end_stream();
    return;
  }
  if (queue_full)
    return send_busy(*out_, req_.dialect);
  send_error(*out_, req_.dialect, 500, description, headers_);
}

void answer_writer::on_shutdown() {
  if (started_) {
    out_->end_stream();
    return;
  }
  send_error(*out_, req_.dialect, 503, shutting_down_message,
             {{"Retry-After", retry_after_seconds}});
}

std::string answer_writer::openai_id() const {
  return req_.dialect == api_dialect::openai_chat ? openai::chat_id(job_id_)
                                                  : openai::completion_id(job_id_);
}

std::string answer_writer::whole_answer(const std::string& native) const {
  auto created = now_unix_ms() / 1000;
  switch (req_.dialect) {
    case api_dialect::openai_chat:
      return openai::chat_response(native, req_.spec.model, openai_id(), created);
    case api_dialect::openai_completion:
      return openai::completion_response(native, req_.spec.model, openai_id(), created);
    case api_dialect::openai_embeddings:
      return openai::embeddings_response(native, req_.spec.model,
                                         req_.base64_embeddings);
    case api_dialect::ollama_legacy_embeddings:
      return legacy_embedding_reply(native);
    default:
      return native;
  }
}

} // namespace foreman::net
