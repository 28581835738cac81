#include "app/cli.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

#include "app/text_table.hpp"
#include "core/duration.hpp"
#include "core/model_name.hpp"
#include "core/url.hpp"
#include "messages/job.hpp"
#include "net/api_client.hpp"
#include "net/jobs_api.hpp"

namespace foreman {

namespace {

using object_ptr = Poco::JSON::Object::Ptr;
using array_ptr = Poco::JSON::Array::Ptr;
using time_point = std::chrono::system_clock::time_point;

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

const char* const default_url = "http://127.0.0.1:11435";

/// Long values (payloads, answers) are cut in tables; --json has them whole.
constexpr std::size_t max_value_width = 200;
constexpr std::size_t max_error_width = 40;

const char* const usage_text
  = R"(usage: foreman jobs list [--state=STATE] [--model=MODEL] [--limit=N] [--all]
                         [client options]
       foreman jobs show ID [client options]
       foreman jobs cancel ID [client options]
       foreman status [client options]

Asks a running foreman over its HTTP API.

  jobs list     jobs newest first, one page of --limit (1-200, default 50);
                --all follows the pages to the end; --state (queued, loading,
                working, done, failed, cancelled) and --model filter
  jobs show     every field of a job, and its artifacts
  jobs cancel   cancels a queued or running job
  status        the worker, the target, resident models, the queue by model

client options:
  --url=URL      foreman's base URL (FOREMAN_URL, default http://127.0.0.1:11435)
  --api-key=KEY  sent as "Authorization: Bearer KEY" (FOREMAN_API_KEY)
  --timeout=T    for connecting and for each wait for an answer: seconds or a
                 duration such as 5s or 2m (default 30s)
  --json         the server's JSON instead of tables (with --all, one page
                 a line)
  --help         this text

Options may also be written --name VALUE. Exit status: 0 done, 1 the request
failed (foreman unreachable or an error answer), 2 bad usage.
`foreman --help` lists the settings of the foreman server itself.
)";

/// Bad usage: exit 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// foreman answered with an error, or with something unreadable: exit 1.
struct command_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct option_spec {
  const char* name;
  bool takes_value;
};

const std::vector<option_spec> client_options = {
  {"url", true}, {"api-key", true}, {"timeout", true}, {"json", false}};
const std::vector<option_spec> list_options = {
  {"state", true}, {"model", true}, {"limit", true}, {"all", false}};

struct command_line {
  /// "jobs list", "jobs show", "jobs cancel" or "status".
  std::string command;
  bool help = false;
  /// By name without dashes; flags have empty values.
  std::map<std::string, std::string> options;
  std::vector<std::string> operands;

  bool has(const std::string& name) const {
    return options.count(name) > 0;
  }
};

bool is_help(const std::string& arg) {
  return arg == "--help" || arg == "-h";
}

/// Reads `args` (after the command words) against the options `command`
/// takes.
command_line read_options(std::string command, const std::vector<std::string>& args,
                          std::size_t first) {
  command_line line;
  line.command = std::move(command);
  auto known = client_options;
  if (line.command == "jobs list")
    known.insert(known.end(), list_options.begin(), list_options.end());
  for (auto i = first; i < args.size(); ++i) {
    auto& arg = args[i];
    if (is_help(arg)) {
      line.help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      line.operands.push_back(arg);
      continue;
    }
    auto equals = arg.find('=');
    auto name = arg.substr(2, equals == std::string::npos ? equals : equals - 2);
    auto spec = std::find_if(known.begin(), known.end(),
                             [&](const option_spec& x) { return name == x.name; });
    if (spec == known.end())
      throw usage_error{"unknown option '--" + name + "' for 'foreman "
                        + line.command + "'"};
    if (!spec->takes_value) {
      if (equals != std::string::npos)
        throw usage_error{"option --" + name + " takes no value"};
      line.options[name] = "";
    } else if (equals != std::string::npos) {
      line.options[name] = arg.substr(equals + 1);
    } else if (i + 1 < args.size()) {
      line.options[name] = args[++i];
    } else {
      throw usage_error{"option --" + name + " needs a value"};
    }
  }
  return line;
}

command_line read_command_line(const std::vector<std::string>& args) {
  if (args.at(0) == "status")
    return read_options("status", args, 1);
  static const std::vector<std::string> subcommands = {"list", "show", "cancel"};
  if (args.size() < 2 || is_help(args[1])) {
    if (args.size() >= 2)
      return command_line{"jobs", true, {}, {}};
    throw usage_error{"'foreman jobs' needs a subcommand: list, show or cancel"};
  }
  if (std::find(subcommands.begin(), subcommands.end(), args[1]) == subcommands.end())
    throw usage_error{"unknown subcommand 'jobs " + args[1]
                      + "': expected list, show or cancel"};
  return read_options("jobs " + args[1], args, 2);
}

std::string option_or_env(const command_line& line, const std::string& option,
                          const std::string& variable, const env_lookup& env,
                          std::string fallback) {
  if (line.has(option))
    return line.options.at(option);
  if (auto value = env(variable))
    return *value;
  return fallback;
}

/// Where a value came from, for messages: "--url" or "FOREMAN_URL".
std::string source_of(const command_line& line, const std::string& option,
                      const std::string& variable) {
  return line.has(option) ? "--" + option : variable;
}

http_url read_url(const std::string& text, const std::string& source) {
  auto url = parse_http_url(text);
  if (!url || url->scheme != "http")
    throw usage_error{source + ": '" + text + "' is not an http URL such as "
                      + default_url};
  if (url->path_and_query.find('?') != std::string::npos)
    throw usage_error{source + ": '" + text + "' must not have a query"};
  return *url;
}

std::chrono::milliseconds read_timeout(const std::string& text) {
  auto ms = parse_seconds_or_duration_ms(text);
  if (!ms || *ms <= 0)
    throw usage_error{"--timeout: '" + text
                      + "' is not a positive duration such as 30, 5s or 2m"};
  return std::chrono::milliseconds{*ms};
}

std::optional<int64_t> positive_number(const std::string& text) {
  // 18 digits always fit in int64_t.
  if (text.empty() || text.size() > 18
      || !std::all_of(text.begin(), text.end(),
                      [](unsigned char c) { return std::isdigit(c); }))
    return std::nullopt;
  auto value = std::stoll(text);
  if (value <= 0)
    return std::nullopt;
  return value;
}

/// The one operand of `show` and `cancel`.
int64_t read_job_id(const command_line& line) {
  if (line.operands.empty())
    throw usage_error{"'foreman " + line.command + "' needs a job id"};
  if (line.operands.size() > 1)
    throw usage_error{"unexpected argument '" + line.operands[1] + "'"};
  auto id = positive_number(line.operands[0]);
  if (!id)
    throw usage_error{"invalid job id '" + line.operands[0]
                      + "': expected a positive integer"};
  return *id;
}

// -- answers --------------------------------------------------------------------

object_ptr parse_object(const std::string& text) {
  try {
    // Fields in the server's order, so that `show` lists them as sent.
    Poco::JSON::Parser parser{new Poco::JSON::ParseHandler(true)};
    auto value = parser.parse(text);
    if (value.type() == typeid(object_ptr))
      return value.extract<object_ptr>();
  } catch (const Poco::Exception&) {
  }
  throw command_failure{"unexpected answer from foreman (not a JSON object): "
                        + truncate_to_width(text, max_value_width)};
}

/// The answer's body when it is a success; the server's error otherwise.
const std::string& success_body(const net::api_response& response) {
  if (response.status >= 200 && response.status < 300)
    return response.body;
  std::string message;
  try {
    auto error = parse_object(response.body);
    if (error->has("error") && error->get("error").isString())
      message = error->getValue<std::string>("error");
  } catch (const command_failure&) {
  }
  if (message.empty())
    message = "foreman answered " + std::to_string(response.status) + ": "
              + truncate_to_width(response.body, max_value_width);
  throw command_failure{message};
}

object_ptr object_field(const object_ptr& obj, const std::string& name) {
  auto inner = obj->getObject(name);
  if (!inner)
    throw command_failure{"unexpected answer from foreman: no object '" + name + "'"};
  return inner;
}

array_ptr array_field(const object_ptr& obj, const std::string& name) {
  auto inner = obj->getArray(name);
  if (!inner)
    throw command_failure{"unexpected answer from foreman: no array '" + name + "'"};
  return inner;
}

/// The objects of `list`, e.g. an array field's jobs.
std::vector<object_ptr> objects_in(const array_ptr& list) {
  std::vector<object_ptr> objects;
  for (unsigned i = 0; i < list->size(); ++i) {
    auto item = list->getObject(i);
    if (!item)
      throw command_failure{"unexpected answer from foreman: a list holds a non-object"};
    objects.push_back(item);
  }
  return objects;
}

bool is_null(const object_ptr& obj, const std::string& name) {
  return !obj->has(name) || obj->isNull(name);
}

/// A field as text: "-" when null or missing, nested JSON compact.
std::string text_of(const object_ptr& obj, const std::string& name) {
  if (is_null(obj, name))
    return "-";
  auto value = obj->get(name);
  // Poco's own conversion of objects and arrays indents them.
  std::ostringstream nested;
  if (value.type() == typeid(object_ptr))
    value.extract<object_ptr>()->stringify(nested);
  else if (value.type() == typeid(array_ptr))
    value.extract<array_ptr>()->stringify(nested);
  else
    return value.convert<std::string>();
  return nested.str();
}

std::optional<time_point> parse_time(const std::string& text) {
  Poco::DateTime parsed;
  int zone = 0;
  if (!Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT,
                                      text, parsed, zone))
    return std::nullopt;
  parsed.makeUTC(zone);
  return time_point{std::chrono::microseconds{parsed.timestamp().epochMicroseconds()}};
}

/// "just now", "42s ago", "3m ago", "in 2h".
std::string relative_time(time_point when, time_point now) {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - when).count();
  if (seconds == 0)
    return "just now";
  auto amount = std::abs(seconds);
  auto text = amount < 60      ? std::to_string(amount) + "s"
              : amount < 3600  ? std::to_string(amount / 60) + "m"
              : amount < 86400 ? std::to_string(amount / 3600) + "h"
                               : std::to_string(amount / 86400) + "d";
  return seconds > 0 ? text + " ago" : "in " + text;
}

std::string local_time(time_point when) {
  auto seconds = std::chrono::system_clock::to_time_t(when);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
  return text;
}

/// An RFC 3339 field as its age ("3m ago"); "-" when null.
std::string age_of(const object_ptr& obj, const std::string& name, time_point now) {
  auto when = is_null(obj, name) ? std::nullopt
                                 : parse_time(obj->getValue<std::string>(name));
  return when ? relative_time(*when, now) : text_of(obj, name);
}

// -- commands -------------------------------------------------------------------

struct session {
  net::api_client client;
  bool json = false;
  std::ostream& out;
  time_point now = std::chrono::system_clock::now();
};

void print_raw(session& s, const std::string& body) {
  s.out << body;
  if (body.empty() || body.back() != '\n')
    s.out << "\n";
}

/// A successful answer's object, for a table; null when --json has printed
/// the answer as it came.
object_ptr answer_object(session& s, const net::api_response& response) {
  auto& body = success_body(response);
  if (!s.json)
    return parse_object(body);
  print_raw(s, body);
  return nullptr;
}

std::string job_path(int64_t id) {
  return "/jobs/" + std::to_string(id);
}

void add_job_rows(text_table& table, const array_ptr& jobs, time_point now) {
  for (auto& job : objects_in(jobs))
    table.add_row({text_of(job, "id"), text_of(job, "state"), text_of(job, "kind"),
                   text_of(job, "model"), text_of(job, "client"),
                   text_of(job, "attempt") + "/" + text_of(job, "max_attempts"),
                   age_of(job, "created_at", now),
                   truncate_to_width(text_of(job, "error"), max_error_width)});
}

int list_jobs(session& s, const command_line& line) {
  Poco::URI query{"/jobs"};
  if (line.has("state")) {
    auto& state = line.options.at("state");
    if (!parse_job_state(state))
      throw usage_error{"--state: '" + state + "' is not one of queued, loading, "
                        "working, done, failed, cancelled"};
    query.addQueryParameter("state", state);
  }
  if (line.has("model")) {
    auto& model = line.options.at("model");
    if (!is_valid_model_name(model))
      throw usage_error{"--model: '" + model + "' is not a model name"};
    query.addQueryParameter("model", model);
  }
  if (line.has("limit")) {
    auto& limit = line.options.at("limit");
    auto n = positive_number(limit);
    if (!n || *n > net::max_page_size)
      throw usage_error{"--limit: '" + limit + "' is not an integer from 1 to "
                        + std::to_string(net::max_page_size)};
    query.addQueryParameter("limit", limit);
  }
  if (!line.operands.empty())
    throw usage_error{"unexpected argument '" + line.operands[0] + "'"};
  text_table table{{{"ID", true}, {"STATE"}, {"KIND"}, {"MODEL"}, {"CLIENT"},
                    {"ATTEMPT"}, {"CREATED"}, {"ERROR"}}};
  std::size_t listed = 0;
  std::string cursor;
  bool more = false;
  do {
    auto page_query = query;
    if (!cursor.empty())
      page_query.addQueryParameter("cursor", cursor);
    auto body = success_body(s.client.get(page_query.getPathAndQuery()));
    auto page = parse_object(body);
    auto jobs = array_field(page, "jobs");
    auto next = is_null(page, "next_cursor") ? std::string{}
                                             : text_of(page, "next_cursor");
    if (!next.empty() && next == cursor)
      throw command_failure{"foreman returned the same page cursor twice"};
    cursor = next;
    more = !cursor.empty();
    if (s.json)
      print_raw(s, body);
    else
      add_job_rows(table, jobs, s.now);
    listed += jobs->size();
  } while (more && line.has("all"));
  if (s.json)
    return exit_ok;
  if (listed == 0) {
    s.out << "no jobs\n";
    return exit_ok;
  }
  s.out << table.render();
  if (more)
    s.out << "more jobs follow; --all lists every page\n";
  return exit_ok;
}

/// Whether `show` lists a field: the queue's fields only while the job is
/// queued (a retry's time only during its backoff), the error only when
/// there is one.
bool worth_showing(const object_ptr& job, const std::string& name, bool queued) {
  if (name == "queue_position" || name == "estimated_start_at")
    return queued;
  if (name == "next_attempt_at")
    return queued && !is_null(job, name);
  return name != "error" || !is_null(job, name);
}

/// A done job's answer as `show` prints it: the text of a chat or generate
/// reply, the number of an embed reply's vectors (--json has the whole
/// answer); nullopt for another shape.
std::optional<std::string> answer_summary(const object_ptr& result) {
  if (auto message = result->getObject("message"))
    return text_of(message, "content");
  if (result->has("response"))
    return text_of(result, "response");
  if (auto embeddings = result->getArray("embeddings"))
    return std::to_string(embeddings->size()) + " embeddings";
  return std::nullopt;
}

std::string show_value(const object_ptr& job, const std::string& name, time_point now) {
  if (name == "estimated_start_at" && is_null(job, name))
    return "not yet known (no run timed yet)";
  if (auto result = name == "result" ? job->getObject(name) : nullptr)
    if (auto answer = answer_summary(result))
      return truncate_to_width(*answer, max_value_width);
  auto text = text_of(job, name);
  auto when = name.size() > 3 && name.compare(name.size() - 3, 3, "_at") == 0
                  && !is_null(job, name)
                ? parse_time(text)
                : std::nullopt;
  if (when)
    return local_time(*when) + " (" + relative_time(*when, now) + ")";
  return truncate_to_width(text, max_value_width);
}

int show_job(session& s, const command_line& line) {
  auto id = read_job_id(line);
  auto job = answer_object(s, s.client.get(job_path(id)));
  if (!job)
    return exit_ok;
  auto queued = text_of(job, "state") == "queued";
  text_table fields{{{"field"}, {"value"}}, false};
  std::vector<std::string> names;
  job->getNames(names);
  for (auto& name : names)
    if (worth_showing(job, name, queued))
      fields.add_row({name, show_value(job, name, s.now)});
  s.out << fields.render();
  auto artifacts = array_field(
    parse_object(success_body(s.client.get(job_path(id) + "/artifacts"))), "artifacts");
  if (artifacts->size() == 0) {
    s.out << "\nartifacts: none\n";
    return exit_ok;
  }
  text_table table{{{"NAME"}, {"CONTENT TYPE"}, {"SIZE", true}, {"PATH"}}};
  for (auto& artifact : objects_in(artifacts))
    table.add_row({text_of(artifact, "name"), text_of(artifact, "content_type"),
                   text_of(artifact, "size"), text_of(artifact, "url")});
  s.out << "\nartifacts:\n" << table.render();
  return exit_ok;
}

int cancel_job(session& s, const command_line& line) {
  auto id = read_job_id(line);
  auto job = answer_object(s, s.client.del(job_path(id)));
  if (job)
    s.out << "job " << id << " " << text_of(job, "state") << "\n";
  return exit_ok;
}

std::string names_in(const array_ptr& list) {
  std::string text;
  for (unsigned i = 0; i < list->size(); ++i)
    text += (i > 0 ? ", " : "") + list->get(i).convert<std::string>();
  return text.empty() ? "none" : text;
}

int show_status(session& s, const command_line& line) {
  if (!line.operands.empty())
    throw usage_error{"unexpected argument '" + line.operands[0] + "'"};
  auto status = answer_object(s, s.client.get("/status"));
  if (!status)
    return exit_ok;
  auto worker = object_field(status, "worker");
  auto doing = text_of(worker, "state");
  if (!is_null(worker, "running_job")) {
    auto job = object_field(worker, "running_job");
    doing += ": job " + text_of(job, "id") + " (" + text_of(job, "model") + ", "
             + text_of(job, "state") + ")";
  }
  auto target = object_field(status, "target");
  auto reachable = target->has("reachable") && target->get("reachable").isBoolean()
                   && target->getValue<bool>("reachable");
  auto reach = reachable ? std::string{"reachable"} : std::string{"unreachable"};
  if (!reachable && !is_null(target, "error"))
    reach += ": " + truncate_to_width(text_of(target, "error"), max_value_width);
  auto embedder = text_of(status, "embed_model");
  text_table summary{{{"field"}, {"value"}}, false};
  summary.add_row({"worker", doing});
  summary.add_row({"target", text_of(target, "url") + " (" + reach + ")"});
  summary.add_row({"residents", names_in(array_field(status, "residents"))});
  summary.add_row({"embedder", embedder == "-" ? "none" : embedder});
  s.out << summary.render() << "\n";
  auto queue = object_field(status, "queue");
  auto by_model = array_field(queue, "by_model");
  text_table depth{{{"MODEL"}, {"QUEUED", true}, {"LOADING", true}, {"WORKING", true}}};
  for (auto& row : objects_in(by_model))
    depth.add_row({text_of(row, "model"), text_of(row, "queued"),
                   text_of(row, "loading"), text_of(row, "working")});
  if (by_model->size() > 0)
    s.out << depth.render();
  s.out << "total: " << text_of(queue, "total") << "\n";
  return exit_ok;
}

} // namespace

bool is_cli_command(std::string_view word) {
  return word == "jobs" || word == "status";
}

int run_cli(const std::vector<std::string>& args, const env_lookup& env,
            std::ostream& out, std::ostream& err) {
  std::string url_text;
  try {
    auto line = read_command_line(args);
    if (line.help) {
      out << usage_text;
      return exit_ok;
    }
    url_text = option_or_env(line, "url", "FOREMAN_URL", env, default_url);
    net::api_client_options options;
    options.base = read_url(url_text, source_of(line, "url", "FOREMAN_URL"));
    options.api_key = option_or_env(line, "api-key", "FOREMAN_API_KEY", env, "");
    if (line.has("timeout"))
      options.timeout = read_timeout(line.options.at("timeout"));
    session s{net::api_client{options}, line.has("json"), out};
    if (line.command == "jobs list")
      return list_jobs(s, line);
    if (line.command == "jobs show")
      return show_job(s, line);
    if (line.command == "jobs cancel")
      return cancel_job(s, line);
    return show_status(s, line);
  } catch (const usage_error& e) {
    err << "foreman: " << e.what() << "\n(see foreman " << args.at(0) << " --help)\n";
    return exit_usage;
  } catch (const net::api_unreachable& e) {
    err << "foreman: cannot reach foreman at " << url_text << ": " << e.what() << "\n";
    return exit_failure;
  } catch (const command_failure& e) {
    err << "foreman: " << e.what() << "\n";
    return exit_failure;
  }
}

} // namespace foreman
