#include "net/events_api.hpp"

#include <charconv>

#include "core/queue_history.hpp"
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

sse_event history_sse(const journal_history& history) {
  std::vector<std::string> queue;
  for (auto& x : queue_samples(history))
    queue.push_back(object_writer{}
                      .add_string("timestamp", rfc3339_utc(x.at_ms))
                      .add("queued", std::to_string(x.queued))
                      .add("jobs_per_minute", std::to_string(x.jobs_per_minute))
                      .done());
  std::vector<std::string> loads;
  for (auto& x : history.loads)
    loads.push_back(object_writer{}
                      .add_string("timestamp", rfc3339_utc(x.at_ms))
                      .add_string("model", x.model)
                      .done());
  std::vector<std::string> waits;
  for (auto x : history.first_waits_ms)
    waits.push_back(std::to_string(x));
  return {0, "history",
          object_writer{}
            .add_string("from", rfc3339_utc(history.from_ms))
            .add_string("to", rfc3339_utc(history.to_ms))
            .add("queue", join_array(queue))
            .add("loads", join_array(loads))
            .add("waits_ms", join_array(waits))
            .done()};
}

std::optional<int64_t> parse_last_event_id(std::string_view header) {
  int64_t value = 0;
  auto end = header.data() + header.size();
  auto [last, ec] = std::from_chars(header.data(), end, value);
  if (ec != std::errc{} || last != end || value < 0)
    return std::nullopt;
  return value;
}

std::variant<events_query, request_problem> parse_events_query(std::string_view query) {
  events_query result;
  auto parsed = parse_query_string(query);
  if (auto problem = std::get_if<request_problem>(&parsed))
    return *problem;
  for (auto& [name, value] : std::get<query_parameters>(parsed)) {
    if (name != "history")
      return request_problem{400, "unknown query parameter '" + name + "'"};
    if (value != "1")
      return request_problem{400, "history must be 1"};
    result.history = true;
  }
  return result;
}

} // namespace foreman::net
