#include "net/stream_aggregator.hpp"

#include "net/json_util.hpp"

namespace foreman::net {

namespace {

void append_all(const array_ptr& from, array_ptr& to) {
  for (size_t i = 0; i < from->size(); ++i)
    to->add(from->get(static_cast<unsigned>(i)));
}

} // namespace

struct stream_aggregator::impl {
  job_kind kind;
  std::string text;
  std::string thinking;
  array_ptr tool_calls = new Poco::JSON::Array;
  array_ptr logprobs = new Poco::JSON::Array;
  object_ptr last;
  bool done = false;
  int64_t tokens = 0;
};

stream_aggregator::stream_aggregator(job_kind kind)
  : impl_(std::make_unique<impl>()) {
  impl_->kind = kind;
}

stream_aggregator::~stream_aggregator() = default;

std::optional<std::string> stream_aggregator::add(std::string_view line) {
  auto chunk = parse_object(line);
  if (!chunk)
    return "the target streamed a line that is not a JSON object";
  if (chunk->has("error"))
    return chunk->get("error").isString() ? chunk->getValue<std::string>("error")
                                          : std::string{"the target reported an error"};
  auto& st = *impl_;
  if (st.kind == job_kind::chat) {
    auto message = chunk->getObject("message");
    st.text += string_field(message, "content");
    st.thinking += string_field(message, "thinking");
    if (message && message->isArray("tool_calls"))
      append_all(message->getArray("tool_calls"), st.tool_calls);
  } else {
    st.text += string_field(chunk, "response");
    st.thinking += string_field(chunk, "thinking");
    if (chunk->isArray("tool_calls"))
      append_all(chunk->getArray("tool_calls"), st.tool_calls);
  }
  if (chunk->isArray("logprobs"))
    append_all(chunk->getArray("logprobs"), st.logprobs);
  st.last = chunk;
  if (chunk->has("done") && chunk->get("done").isBoolean()
      && chunk->getValue<bool>("done")) {
    st.done = true;
    if (chunk->has("eval_count") && chunk->get("eval_count").isInteger())
      st.tokens = chunk->getValue<int64_t>("eval_count");
  } else {
    ++st.tokens;
  }
  return std::nullopt;
}

bool stream_aggregator::finished() const {
  return impl_->done;
}

int64_t stream_aggregator::tokens() const {
  return impl_->tokens;
}

std::string stream_aggregator::result() const {
  auto& st = *impl_;
  if (!st.last)
    return "{}";
  object_ptr out = new Poco::JSON::Object(*st.last);
  if (st.kind == job_kind::chat) {
    object_ptr message = new Poco::JSON::Object;
    auto last_message = st.last->getObject("message");
    message->set("role", last_message && last_message->has("role")
                           ? last_message->get("role")
                           : Poco::Dynamic::Var{"assistant"});
    message->set("content", st.text);
    if (!st.thinking.empty())
      message->set("thinking", st.thinking);
    if (st.tool_calls->size() > 0)
      message->set("tool_calls", st.tool_calls);
    out->set("message", message);
  } else {
    out->set("response", st.text);
    if (!st.thinking.empty())
      out->set("thinking", st.thinking);
    if (st.tool_calls->size() > 0)
      out->set("tool_calls", st.tool_calls);
  }
  if (st.logprobs->size() > 0)
    out->set("logprobs", st.logprobs);
  return to_json(out);
}

} // namespace foreman::net
