#include "net/events_api.hpp"

#include <charconv>

#include "net/api_mapping.hpp"
#include "net/jobs_api.hpp"
#include "net/json_util.hpp"

namespace foreman::net {

std::string sse_frame(const sse_event& event) {
  std::string out;
  if (event.seq > 0)
    out += "id: " + std::to_string(event.seq) + "\n";
  // The data is one line of JSON (json_quote escapes every line break).
  out += "event: " + event.name + "\ndata: " + event.data + "\n\n";
  return out;
}

sse_event job_sse(const job_event& event) {
  auto data = webhook_event_json(event.transition, "");
  data.pop_back(); // the closing brace: who and what follow
  data += ",\"kind\":" + json_quote(to_string(event.kind));
  data += ",\"client\":" + json_quote(event.client);
  data += ",\"priority\":" + std::to_string(event.priority);
  data += ",\"created_at\":" + json_quote(rfc3339_utc(event.created_at_ms)) + "}";
  return {event.transition.seq, "job", std::move(data)};
}

sse_event progress_sse(const job_progress& progress) {
  return {0, "progress",
          "{\"job_id\":" + std::to_string(progress.job_id)
            + ",\"tokens\":" + std::to_string(progress.tokens)
            + ",\"final\":" + (progress.final ? "true" : "false") + "}"};
}

sse_event worker_sse(const worker_status& worker) {
  return {0, "worker",
          "{\"state\":" + json_quote(worker.state) + ",\"running_job_id\":"
            + (worker.running_job_id > 0 ? std::to_string(worker.running_job_id)
                                         : std::string{"null"})
            + "}"};
}

sse_event target_sse(const target_health& target, const std::string& target_url,
                     const std::string& embed_model) {
  std::string residents;
  for (auto& model : target.residents)
    residents += (residents.empty() ? "" : ",") + json_quote(model);
  return {0, "target",
          "{\"url\":" + json_quote(target_url)
            + ",\"reachable\":" + (target.reachable ? "true" : "false")
            + ",\"error\":"
            + (target.reachable ? std::string{"null"} : json_quote(target.problem))
            + ",\"residents\":[" + residents + "],\"embed_model\":"
            + (embed_model.empty() ? std::string{"null"} : json_quote(embed_model))
            + "}"};
}

sse_event stats_sse(const event_stats& stats) {
  return {0, "stats",
          "{\"timestamp\":" + json_quote(rfc3339_utc(stats.at_ms))
            + ",\"queue\":" + queue_json(stats.depths)
            + ",\"jobs_per_minute\":" + std::to_string(stats.jobs_per_minute)
            + ",\"loads_per_minute\":" + std::to_string(stats.loads_per_minute)
            + "}"};
}

sse_event snapshot_sse(const service_status& status, const event_snapshot& snapshot) {
  std::string jobs;
  for (auto& x : snapshot.recent)
    jobs += (jobs.empty() ? "" : ",") + job_json(job_status{x, -1, 0});
  return {snapshot.last_seq, "snapshot",
          "{\"status\":" + status_json(status) + ",\"jobs\":[" + jobs + "]}"};
}

std::optional<int64_t> parse_last_event_id(std::string_view header) {
  int64_t value = 0;
  auto end = header.data() + header.size();
  auto [last, ec] = std::from_chars(header.data(), end, value);
  if (ec != std::errc{} || last != end || value < 0)
    return std::nullopt;
  return value;
}

} // namespace foreman::net
