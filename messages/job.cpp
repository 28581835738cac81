#include "messages/job.hpp"

#include "messages/enum_names.hpp"

namespace foreman {

namespace {

constexpr enum_names<job_kind, 3> kind_names{{
  {job_kind::chat, "chat"},
  {job_kind::generate, "generate"},
  {job_kind::embed, "embed"},
}};

constexpr enum_names<job_state, 6> state_names{{
  {job_state::queued, "queued"},
  {job_state::loading, "loading"},
  {job_state::working, "working"},
  {job_state::done, "done"},
  {job_state::failed, "failed"},
  {job_state::cancelled, "cancelled"},
}};

} // namespace

std::string to_string(job_kind x) {
  return std::string{name_of(kind_names, x)};
}

std::optional<job_kind> parse_job_kind(std::string_view text) {
  return value_of(kind_names, text);
}

std::string to_string(job_state x) {
  return std::string{name_of(state_names, x)};
}

std::optional<job_state> parse_job_state(std::string_view text) {
  return value_of(state_names, text);
}

bool is_terminal(job_state x) {
  return x == job_state::done || x == job_state::failed
         || x == job_state::cancelled;
}

} // namespace foreman

namespace foreman {

bool is_allowed_transition(job_state from, job_state to) {
  if (is_terminal(from))
    return false;
  switch (to) {
    case job_state::queued:
      return from == job_state::loading || from == job_state::working;
    case job_state::loading:
      return from == job_state::queued;
    case job_state::working:
      return from == job_state::queued || from == job_state::loading;
    case job_state::done:
      return from == job_state::working;
    case job_state::failed:
    case job_state::cancelled:
      return true;
  }
  return false;
}

} // namespace foreman
