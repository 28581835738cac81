#pragma once

// foreman's job API over HTTP: validating POST /jobs bodies and GET /jobs
// queries, and writing jobs, pages, artifacts and webhook events as JSON.

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "messages/job.hpp"
#include "messages/webhook.hpp"
#include "net/api_mapping.hpp"
#include "net/webhook_policy.hpp"

namespace foreman::net {

/// Listing pages hold at most this many jobs.
constexpr int32_t max_page_size = 200;
constexpr int32_t default_page_size = 50;

/// Validates a POST /jobs body: kind, model, payload (the Ollama request
/// body for the kind), and the optional priority, max_attempts,
/// state_webhook_url and idempotency_key. Every problem is a 400 whose
/// message names the field.
std::variant<job_spec, request_problem>
parse_job_submission(std::string_view body, const webhook_policy& policy);

/// Validates a GET /jobs query string: state, model, limit, cursor.
std::variant<job_query, request_problem> parse_job_query(std::string_view query);

/// A path under /jobs/: a job, its artifact list, one artifact, or its
/// webhook delivery log.
struct job_path {
  enum class target { job, artifacts, artifact, webhooks };
  int64_t job_id = 0;
  target what = target::job;
  /// Percent-decoded; set for target::artifact.
  std::string artifact_name;
};

/// Reads `/jobs/{id}`, `/jobs/{id}/artifacts`,
/// `/jobs/{id}/artifacts/{name}` or `/jobs/{id}/webhooks` from a
/// percent-decoded path; 400 for a malformed id, 404 otherwise.
std::variant<job_path, request_problem> parse_job_path(std::string_view path);

/// {"jobs":[...],"next_cursor":"..."|null}
std::string job_page_json(const job_page& page);

/// {"artifacts":[{"name","content_type","size","url"}]}
std::string artifacts_json(int64_t job_id, const std::vector<artifact_info>& list);

/// {"deliveries":[{"event_id","state","url","attempt","outcome",
/// "http_status"|null,"error"|null,"at","next_attempt_at"|null}]}
std::string deliveries_json(const std::vector<webhook_delivery>& log);

/// The path of a job's artifact on foreman's API.
std::string artifact_path(int64_t job_id, const std::string& name);

/// The JSON body POSTed to a webhook for `event`; artifacts not inline are
/// given by URL under `public_base_url` (e.g. http://foreman.example:11435).
std::string webhook_event_json(const webhook_event& event,
                               const std::string& public_base_url);

} // namespace foreman::net
