#include "core/settings.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/duration.hpp"
#include "core/log.hpp"
#include "core/model_name.hpp"
#include "core/text.hpp"

namespace foreman {

namespace {

/// Applies a text to the settings; returns an explanation when it is invalid.
using apply_fn = std::function<std::optional<std::string>(settings&, const std::string&)>;

struct option {
  const char* name;          // command-line option without "--"
  const char* env;           // environment variable
  const char* default_text;  // for --help
  const char* description;
  apply_fn apply;
};

std::optional<int64_t> parse_integer(const std::string& text, int64_t min,
                                     int64_t max) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(),
                                   value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()
      || value < min || value > max)
    return std::nullopt;
  return value;
}

const std::vector<option>& options() {
  static const std::vector<option> table{
    {"listen", "FOREMAN_LISTEN", "127.0.0.1:11435",
     "address and port of foreman's HTTP API",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto hp = parse_host_port(v);
       if (!hp)
         return "expected host:port, e.g. 127.0.0.1:11435 (port 0 = any free port)";
       s.listen_host = hp->first;
       s.listen_port = hp->second;
       return std::nullopt;
     }},
    {"ollama-url", "FOREMAN_OLLAMA_URL", "http://127.0.0.1:11434",
     "the Ollama target foreman runs jobs on",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto url = parse_http_url(v);
       if (!url || url->scheme != "http" || url->path_and_query != "/")
         return "expected an http URL without a path, e.g. http://127.0.0.1:11434";
       s.ollama_url = *url;
       return std::nullopt;
     }},
    {"db", "FOREMAN_DB", "foreman.db", "path of the SQLite job database",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       if (v.empty())
         return "expected a file path";
       s.db_path = v;
       return std::nullopt;
     }},
    {"db-sync", "FOREMAN_DB_SYNC", "full",
     "full: every commit on disk before it counts (no job lost to a power cut); "
     "normal: survives crashes, not power cuts, about twice the job rate",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       if (v != "full" && v != "normal")
         return "expected full or normal";
       s.db_sync_full = v == "full";
       return std::nullopt;
     }},
    {"embed-model", "FOREMAN_EMBED_MODEL", "(none)",
     "embedding model kept loaded on the target (keep_alive -1)",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       if (!v.empty() && !is_valid_model_name(v))
         return "expected an Ollama model name such as all-minilm or nomic-embed-text:v1.5";
       s.embed_model = v;
       return std::nullopt;
     }},
    {"keep-alive", "FOREMAN_KEEP_ALIVE", "-1",
     "keep_alive sent with every job's request to the target (empty means -1)",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       // Set but empty means the default, as in the original Go foreman.
       if (v.empty()) {
         s.worker_keep_alive = keep_alive::forever();
         return std::nullopt;
       }
       auto value = keep_alive::parse(v);
       if (!value)
         return "expected " + std::string{keep_alive::accepted_forms};
       s.worker_keep_alive = *value;
       return std::nullopt;
     }},
    {"max-attempts", "FOREMAN_MAX_ATTEMPTS", "3",
     "attempts per job when the target cannot be reached",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto n = parse_integer(v, 1, 100);
       if (!n)
         return "expected an integer from 1 to 100";
       s.max_attempts = static_cast<int32_t>(*n);
       return std::nullopt;
     }},
    {"max-wait", "FOREMAN_MAX_WAIT", "5m",
     "a job queued this long runs next whatever its model",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto ms = parse_seconds_or_duration_ms(v);
       if (!ms || *ms <= 0)
         return "expected a positive duration such as 30s or 5m, or plain seconds";
       s.max_wait_ms = *ms;
       return std::nullopt;
     }},
    {"max-queue", "FOREMAN_MAX_QUEUE", "512",
     "queued jobs beyond which new ones get 503 (server busy)",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto n = parse_integer(v, 1, 10000000);
       if (!n)
         return "expected an integer from 1 to 10000000";
       s.max_queue = static_cast<int32_t>(*n);
       return std::nullopt;
     }},
    {"job-timeout", "FOREMAN_JOB_TIMEOUT", "10m",
     "a call to the target taking longer is aborted and counts as an attempt",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto ms = parse_seconds_or_duration_ms(v);
       if (!ms || *ms <= 0)
         return "expected a positive duration such as 90s or 10m, or plain seconds";
       s.job_timeout_ms = *ms;
       return std::nullopt;
     }},
    {"retry-backoff", "FOREMAN_RETRY_BACKOFF", "1s",
     "first retry delay after a connection error; doubles per attempt, with jitter",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto ms = parse_seconds_or_duration_ms(v);
       if (!ms || *ms <= 0)
         return "expected a positive duration such as 500ms or 2s";
       s.retry_backoff_ms = *ms;
       return std::nullopt;
     }},
    {"scheduling", "FOREMAN_SCHEDULING", "drain-by-model",
     "drain-by-model, or fifo to turn grouping by resident model off",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       if (v != "drain-by-model" && v != "fifo")
         return "expected drain-by-model or fifo";
       s.drain_by_model = v == "drain-by-model";
       return std::nullopt;
     }},
    {"unload-on-switch", "FOREMAN_UNLOAD_ON_SWITCH", "auto",
     "before loading another model, unload the chat model run last: auto (once "
     "the target has evicted a model to make room), always, or never",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       if (v == "auto")
         s.unload_mode = unload_on_switch::automatic;
       else if (v == "always")
         s.unload_mode = unload_on_switch::always;
       else if (v == "never")
         s.unload_mode = unload_on_switch::never;
       else
         return "expected auto, always or never";
       return std::nullopt;
     }},
    {"max-waiting", "FOREMAN_MAX_WAITING", "10000",
     "synchronous callers that may wait for their jobs at once; more get 503",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto n = parse_integer(v, 1, 1000000);
       if (!n)
         return "expected an integer from 1 to 1000000";
       s.max_waiting = static_cast<int32_t>(*n);
       return std::nullopt;
     }},
    {"max-body", "FOREMAN_MAX_BODY", "67108864",
     "request bodies larger than this many bytes get 413",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto n = parse_integer(v, 1024, int64_t{1} << 32);
       if (!n)
         return "expected a number of bytes from 1024 to 4294967296";
       s.max_body_bytes = *n;
       return std::nullopt;
     }},
    {"read-timeout", "FOREMAN_READ_TIMEOUT", "30s",
     "a request whose head and body do not arrive within this gets 408",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto ms = parse_seconds_or_duration_ms(v);
       if (!ms || *ms < 100)
         return "expected a duration of at least 100ms, such as 30s";
       s.read_timeout_ms = *ms;
       return std::nullopt;
     }},
    {"inventory-poll", "FOREMAN_INVENTORY_POLL", "2s",
     "how often the target's resident models are read from /api/ps",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto ms = parse_seconds_or_duration_ms(v);
       if (!ms || *ms < 100)
         return "expected a duration of at least 100ms, such as 2s";
       s.inventory_poll_ms = *ms;
       return std::nullopt;
     }},
    {"event-stats", "FOREMAN_EVENT_STATS", "5s",
     "how often GET /events sends a stats event",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto ms = parse_seconds_or_duration_ms(v);
       if (!ms || *ms < 100)
         return "expected a duration of at least 100ms, such as 5s";
       s.event_stats_ms = *ms;
       return std::nullopt;
     }},
    {"webhook-secret", "FOREMAN_WEBHOOK_SECRET", "(none)",
     "signs webhook deliveries: X-Foreman-Signature is sha256=HMAC-SHA256 of "
     "<X-Foreman-Timestamp>.<body>",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       s.webhook_secret = v;
       return std::nullopt;
     }},
    {"webhook-max-attempts", "FOREMAN_WEBHOOK_MAX_ATTEMPTS", "10",
     "delivery attempts per webhook event before it is given up",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto n = parse_integer(v, 1, 1000);
       if (!n)
         return "expected an integer from 1 to 1000";
       s.webhook_max_attempts = static_cast<int32_t>(*n);
       return std::nullopt;
     }},
    {"webhook-inline-limit", "FOREMAN_WEBHOOK_INLINE_LIMIT", "65536",
     "artifacts up to this many bytes are sent inside done events; larger "
     "ones by URL",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto n = parse_integer(v, 0, 16 * 1024 * 1024);
       if (!n)
         return "expected a number of bytes from 0 to 16777216";
       s.webhook_inline_limit = *n;
       return std::nullopt;
     }},
    {"webhook-hosts", "FOREMAN_WEBHOOK_HOSTS", "(any)",
     "comma-separated hosts that webhook URLs may name",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       std::vector<std::string> hosts;
       std::istringstream in{v};
       for (std::string entry; std::getline(in, entry, ',');) {
         auto host = trim(entry);
         if (host.empty())
           return "expected host names separated by commas, e.g. "
                  "hooks.example,10.0.0.7";
         // IPv6 literals are listed bare, as URLs' hosts are compared.
         auto probe = host.find(':') != std::string::npos ? "[" + host + "]" : host;
         auto url = parse_http_url("http://" + probe + "/");
         if (!url || url->host != host || url->path_and_query != "/")
           return "'" + host + "' is not a host name or address";
         hosts.push_back(host);
       }
       s.webhook_hosts = std::move(hosts);
       return std::nullopt;
     }},
    {"webhook-ca-file", "FOREMAN_WEBHOOK_CA_FILE", "(system CAs only)",
     "PEM file of CA certificates trusted for https webhook receivers, "
     "besides the system's",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       std::error_code ec;
       if (!v.empty() && !std::filesystem::is_regular_file(v, ec))
         return "expected the path of an existing PEM file";
       s.webhook_ca_file = v;
       return std::nullopt;
     }},
    {"webhook-backoff", "FOREMAN_WEBHOOK_BACKOFF", "1s",
     "first webhook retry delay; doubles per attempt (at most 10m), with jitter",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto ms = parse_seconds_or_duration_ms(v);
       if (!ms || *ms <= 0)
         return "expected a positive duration such as 500ms or 2s";
       s.webhook_backoff_ms = *ms;
       return std::nullopt;
     }},
    {"webhook-timeout", "FOREMAN_WEBHOOK_TIMEOUT", "10s",
     "a webhook receiver silent this long is a failed attempt",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto ms = parse_seconds_or_duration_ms(v);
       if (!ms || *ms <= 0)
         return "expected a positive duration such as 5s";
       s.webhook_timeout_ms = *ms;
       return std::nullopt;
     }},
    {"public-url", "FOREMAN_PUBLIC_URL", "http://<listen address>",
     "foreman's base URL as webhook receivers reach it, for artifact links",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto url = parse_http_url(v);
       if (!url || url->path_and_query != "/")
         return "expected an http(s) URL without a path, e.g. "
                "http://foreman.example:11435";
       s.public_url = url->origin();
       return std::nullopt;
     }},
    {"api-keys", "FOREMAN_API_KEYS", "(none: no authentication)",
     "comma-separated callers' keys, each `key` or `key:scope` (scope client, "
     "the default, or admin), sent as Authorization: Bearer <key>",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto parsed = parse_api_keys(v);
       if (auto problem = std::get_if<std::string>(&parsed))
         return *problem;
       s.api_keys = std::get<std::vector<api_key>>(std::move(parsed));
       return std::nullopt;
     }},
    {"shutdown-grace", "FOREMAN_SHUTDOWN_GRACE", "30s",
     "on SIGTERM the running job may finish within this; then it is aborted "
     "and queued again",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       auto ms = parse_seconds_or_duration_ms(v);
       if (!ms || *ms < 0)
         return "expected a duration such as 30s or 2m, or plain seconds (0 = "
                "abort at once)";
       s.shutdown_grace_ms = *ms;
       return std::nullopt;
     }},
    {"log-level", "FOREMAN_LOG_LEVEL", "info", "error, warning, info or debug",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       if (!parse_log_level(v))
         return "expected error, warning, info or debug";
       s.log_level = v;
       return std::nullopt;
     }},
    {"log-format", "FOREMAN_LOG_FORMAT", "text",
     "text (key=value after the message) or json (one object per line)",
     [](settings& s, const std::string& v) -> std::optional<std::string> {
       if (!parse_log_format(v))
         return "expected text or json";
       s.log_format = v;
       return std::nullopt;
     }},
  };
  return table;
}

void apply(settings& s, const option& opt, const std::string& value,
           const std::string& source) {
  if (auto problem = opt.apply(s, value))
    throw settings_error{"invalid " + source + " '" + value + "': " + *problem};
}

const option* find_option(const std::string& name) {
  for (auto& opt : options())
    if (name == opt.name)
      return &opt;
  return nullptr;
}

constexpr const char* config_option = "config";
constexpr const char* config_env = "FOREMAN_CONFIG";

/// One `--name value` pair from the command line.
struct command_line_setting {
  std::string name;
  std::string value;
};

/// Applies a config file: `name = value` lines, `#` comments, values
/// optionally in double quotes; each setting at most once.
void apply_config_file(settings& s, const std::string& path) {
  std::ifstream in{path};
  if (!in)
    throw settings_error{"cannot read config file '" + path + "' (from --"
                         + std::string{config_option} + " or " + config_env
                         + ")"};
  std::vector<std::string> seen;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    auto where = path + ":" + std::to_string(number);
    auto text = trim(line);
    if (text.empty() || text[0] == '#')
      continue;
    auto eq = text.find('=');
    if (eq == std::string::npos)
      throw settings_error{where + ": expected `name = value`, e.g. "
                                   "`max-queue = 100`"};
    auto name = trim(text.substr(0, eq));
    auto value = trim(text.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    auto opt = find_option(name);
    if (opt == nullptr)
      throw settings_error{where + ": unknown setting '" + name
                           + "' (names as the command-line options, see --help)"};
    if (std::find(seen.begin(), seen.end(), name) != seen.end())
      throw settings_error{where + ": '" + name + "' is set twice"};
    seen.push_back(name);
    apply(s, *opt, value, where + " " + name);
  }
}

} // namespace

settings_result parse_settings(const std::vector<std::string>& args,
                               const env_lookup& env) {
  settings_result result;
  std::vector<command_line_setting> command_line;
  std::optional<std::string> config_path = env(config_env);
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      result.help_requested = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0)
      throw settings_error{"unexpected argument '" + arg + "' (see --help)"};
    auto eq = arg.find('=');
    auto name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    if (name != config_option && find_option(name) == nullptr)
      throw settings_error{"unknown option '--" + name + "' (see --help)"};
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      throw settings_error{"option '--" + name + "' needs a value"};
    }
    if (name == config_option)
      config_path = value;
    else
      command_line.push_back({name, value});
  }
  if (config_path && !config_path->empty()) {
    apply_config_file(result.values, *config_path);
    result.values.config_file = *config_path;
  }
  for (auto& opt : options())
    if (auto value = env(opt.env))
      apply(result.values, opt, *value, opt.env);
  for (auto& [name, value] : command_line)
    apply(result.values, *find_option(name), value, "--" + name);
  return result;
}

std::optional<std::string> process_env(const std::string& name) {
  if (auto value = std::getenv(name.c_str()))
    return std::string{value};
  return std::nullopt;
}

logger configured_logger(const settings& s) {
  return logger{parse_log_level(s.log_level).value_or(log_level::info),
                parse_log_format(s.log_format).value_or(log_format::text),
                logger::stderr_sink()};
}

std::string settings_help() {
  std::ostringstream out;
  out << "usage: foreman [--option=value ...]\n"
         "       foreman jobs list|show|cancel ... | foreman status ...  "
         "(a running foreman's jobs and state; see foreman jobs --help)\n\n"
         "Every option is also a key in the config file (`name = value` lines) "
         "and an environment variable;\nthe environment beats the file and the "
         "command line beats both.\n\n"
         "  --config (FOREMAN_CONFIG, default none)\n"
         "      config file to read first\n";
  for (auto& opt : options()) {
    out << "  --" << opt.name << " (" << opt.env << ", default "
        << opt.default_text << ")\n      " << opt.description << "\n";
  }
  return out.str();
}

} // namespace foreman
