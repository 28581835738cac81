#include "net/ops_api.hpp"

#include <array>
#include <map>

#include "net/api_mapping.hpp"
#include "net/json_util.hpp"

namespace foreman::net {

std::string queue_json(const std::vector<queue_depth>& depths) {
  // Per model: queued, loading, working.
  std::map<std::string, std::array<int64_t, 3>> by_model;
  int64_t total = 0;
  for (auto& d : depths) {
    auto& counts = by_model[d.model_key];
    auto slot = d.state == job_state::queued ? 0 : d.state == job_state::loading ? 1 : 2;
    counts[slot] += d.count;
    total += d.count;
  }
  std::string out = "{\"total\":" + std::to_string(total) + ",\"by_model\":[";
  bool first = true;
  for (auto& [model, counts] : by_model) {
    out += first ? "" : ",";
    first = false;
    out += "{\"model\":" + json_quote(model) + ",\"queued\":" + std::to_string(counts[0])
           + ",\"loading\":" + std::to_string(counts[1])
           + ",\"working\":" + std::to_string(counts[2]) + "}";
  }
  return out + "]}";
}

std::string status_json(const service_status& s) {
  std::string out = "{\"worker\":{\"state\":" + json_quote(s.worker.state);
  out += ",\"running_job\":"
         + (s.running ? job_json(job_status{*s.running, -1, 0}) : std::string{"null"});
  out += "},\"queue\":" + queue_json(s.depths) + ",\"residents\":[";
  bool first = true;
  for (auto& model : s.target.residents) {
    out += (first ? "" : ",") + json_quote(model);
    first = false;
  }
  out += "],\"embed_model\":"
         + (s.embed_model.empty() ? std::string{"null"} : json_quote(s.embed_model));
  out += ",\"target\":{\"url\":" + json_quote(s.target_url)
         + ",\"reachable\":" + (s.target.reachable ? "true" : "false")
         + ",\"error\":"
         + (s.target.reachable ? std::string{"null"} : json_quote(s.target.problem))
         + "}}";
  return out;
}

readiness_answer readiness_json(const std::vector<readiness_check>& checks) {
  std::string failing;
  std::string listed;
  for (auto& check : checks) {
    auto verdict = check.skipped ? std::string{"not configured"}
                   : check.problem.empty() ? std::string{"ok"}
                                           : check.problem;
    listed += (listed.empty() ? "" : ",") + json_quote(check.name) + ":"
              + json_quote(verdict);
    if (!check.skipped && !check.problem.empty())
      failing += (failing.empty() ? "" : "; ") + check.name + ": " + check.problem;
  }
  if (failing.empty())
    return {200, "{\"status\":\"ready\",\"checks\":{" + listed + "}}"};
  return {503, "{\"error\":" + json_quote("not ready: " + failing) + ",\"checks\":{"
                 + listed + "}}"};
}

std::string metrics_route(const std::string& path) {
  static const char* const fixed[]
    = {"/",           "/api/chat",     "/api/generate",   "/api/embed",
       "/api/embeddings", "/api/version", "/api/tags",    "/api/ps",
       "/api/show",   "/api/pull",     "/api/push",       "/api/create",
       "/api/copy",   "/api/delete",   "/v1/chat/completions", "/v1/completions",
       "/v1/embeddings", "/v1/models", "/jobs",           "/healthz",
       "/readyz",     "/status",       "/metrics",      "/events",
       "/ui"};
  for (auto route : fixed)
    if (path == route)
      return path;
  if (path.rfind("/api/blobs/", 0) == 0)
    return "/api/blobs/{digest}";
  if (path.rfind("/v1/models/", 0) == 0)
    return "/v1/models/{model}";
  if (path.rfind("/jobs/", 0) == 0) {
    auto rest = path.substr(6);
    auto slash = rest.find('/');
    if (slash == std::string::npos)
      return "/jobs/{id}";
    auto tail = rest.substr(slash);
    if (tail == "/artifacts")
      return "/jobs/{id}/artifacts";
    if (tail.rfind("/artifacts/", 0) == 0)
      return "/jobs/{id}/artifacts/{name}";
    if (tail == "/webhooks")
      return "/jobs/{id}/webhooks";
  }
  return "other";
}

} // namespace foreman::net
