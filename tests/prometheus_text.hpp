#pragma once

// A strict reader of the Prometheus text exposition format (0.0.4), for
// tests: it throws on anything a Prometheus server would reject, and checks
// what histograms promise (cumulative buckets, +Inf equal to _count).

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

namespace foreman_test {

/// Samples by series, written as `name{a="x",b="y"}` with labels sorted.
using prometheus_samples = std::map<std::string, double>;

inline bool is_metric_name(const std::string& name) {
  if (name.empty())
    return false;
  for (size_t i = 0; i < name.size(); ++i) {
    auto c = name[i];
    auto letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
                  || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9'))
      return false;
  }
  return true;
}

inline double parse_prometheus_value(const std::string& text) {
  if (text == "+Inf")
    return INFINITY;
  if (text == "-Inf")
    return -INFINITY;
  if (text == "NaN")
    return NAN;
  char* end = nullptr;
  auto value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size())
    throw std::runtime_error{"bad sample value '" + text + "'"};
  return value;
}

/// Parses the whole exposition; throws std::runtime_error naming the line.
inline prometheus_samples parse_prometheus_text(const std::string& text) {
  prometheus_samples samples;
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::istringstream in{text};
  std::string line;
  int number = 0;
  auto family_of = [&](const std::string& name) {
    for (auto suffix : {"_bucket", "_sum", "_count"}) {
      std::string s = suffix;
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
        auto base = name.substr(0, name.size() - s.size());
        if (types.count(base) && types[base] == "histogram")
          return base;
      }
    }
    return name;
  };
  while (std::getline(in, line)) {
    ++number;
    auto where = "line " + std::to_string(number) + " '" + line + "': ";
    if (line.empty())
      continue;
    if (line[0] == '#') {
      std::istringstream words{line};
      std::string hash, keyword, name;
      words >> hash >> keyword >> name;
      if (keyword == "TYPE") {
        std::string type;
        words >> type;
        if (!is_metric_name(name) || types.count(name))
          throw std::runtime_error{where + "bad or repeated TYPE"};
        if (type != "counter" && type != "gauge" && type != "histogram"
            && type != "summary" && type != "untyped")
          throw std::runtime_error{where + "unknown type"};
        types[name] = type;
      } else if (keyword == "HELP") {
        if (!is_metric_name(name) || !helped.insert(name).second)
          throw std::runtime_error{where + "bad or repeated HELP"};
      }
      continue;
    }
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ')
      ++i;
    auto name = line.substr(0, i);
    if (!is_metric_name(name))
      throw std::runtime_error{where + "bad metric name"};
    std::map<std::string, std::string> labels;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        auto eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"')
          throw std::runtime_error{where + "bad label"};
        auto label = line.substr(i, eq - i);
        if (!is_metric_name(label) || label.find(':') != std::string::npos)
          throw std::runtime_error{where + "bad label name"};
        std::string value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\') {
            if (++j >= line.size())
              throw std::runtime_error{where + "bad escape"};
            auto c = line[j];
            if (c != '\\' && c != '"' && c != 'n')
              throw std::runtime_error{where + "bad escape"};
            value += c == 'n' ? '\n' : c;
          } else {
            value += line[j];
          }
        }
        if (j >= line.size())
          throw std::runtime_error{where + "unterminated label value"};
        if (!labels.emplace(label, value).second)
          throw std::runtime_error{where + "repeated label"};
        i = j + 1;
        if (i < line.size() && line[i] == ',')
          ++i;
      }
      if (i >= line.size())
        throw std::runtime_error{where + "unterminated labels"};
      ++i;
    }
    if (i >= line.size() || line[i] != ' ')
      throw std::runtime_error{where + "no value"};
    auto rest = line.substr(i + 1);
    auto space = rest.find(' ');
    auto value = parse_prometheus_value(rest.substr(0, space));
    if (space != std::string::npos)
      parse_prometheus_value(rest.substr(space + 1)); // a timestamp
    if (!types.count(family_of(name)))
      throw std::runtime_error{where + "sample before its TYPE"};
    std::string key = name;
    if (!labels.empty()) {
      key += "{";
      bool first = true;
      for (auto& [label, v] : labels) {
        key += (first ? "" : ",") + label + "=\"" + v + "\"";
        first = false;
      }
      key += "}";
    }
    if (!samples.emplace(key, value).second)
      throw std::runtime_error{where + "repeated series"};
  }
  // Histograms: buckets cumulative, +Inf equal to _count.
  for (auto& [name, type] : types) {
    if (type != "histogram")
      continue;
    std::map<std::string, std::map<double, double>> buckets; // by other labels
    for (auto& [key, value] : samples) {
      if (key.rfind(name + "_bucket{", 0) != 0)
        continue;
      auto le_at = key.find("le=\"");
      auto le_end = key.find('"', le_at + 4);
      auto le = parse_prometheus_value(key.substr(le_at + 4, le_end - le_at - 4));
      auto others = key.substr(0, le_at) + key.substr(le_end + 1);
      buckets[others][le] = value;
    }
    for (auto& [others, series] : buckets) {
      double previous = 0;
      for (auto& [le, count] : series) {
        if (count < previous)
          throw std::runtime_error{name + " buckets are not cumulative"};
        previous = count;
      }
      if (!std::isinf(series.rbegin()->first))
        throw std::runtime_error{name + " has no +Inf bucket"};
      auto count_key = others;
      count_key.replace(0, (name + "_bucket").size(), name + "_count");
      // "name_count{,x=..}" or "name_count{}" after removing le: normalise.
      for (auto bad : {"{,", ",}", "{}"}) {
        auto at = count_key.find(bad);
        if (at != std::string::npos)
          count_key.replace(at, std::string{bad}.size(),
                            std::string{bad} == "{," ? "{"
                            : std::string{bad} == ",}" ? "}"
                                                        : "");
      }
      if (!samples.count(count_key) || samples[count_key] != previous)
        throw std::runtime_error{name + ": +Inf bucket differs from " + count_key};
    }
  }
  return samples;
}

/// A sample's value, 0 when the series is absent.
inline double sample(const prometheus_samples& samples, const std::string& key) {
  auto i = samples.find(key);
  return i == samples.end() ? 0 : i->second;
}

} // namespace foreman_test
