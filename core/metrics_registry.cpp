#include "core/metrics_registry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace foreman {

namespace {

/// Backslashes and newlines escaped, and double quotes too in label values
/// (HELP text keeps them).
std::string escaped(const std::string& text, bool quotes) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && quotes)
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

/// Prometheus' float notation: integers without a fraction, +Inf spelled so.
std::string format_value(double value) {
  if (std::isinf(value))
    return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value))
    return "NaN";
  // The shortest text that reads back as the same double.
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc{} ? std::string{buffer, end} : std::string{"NaN"};
}

std::string format_labels(const metric_labels& labels,
                          const std::pair<std::string, std::string>* extra = nullptr) {
  if (labels.empty() && extra == nullptr)
    return {};
  std::string out = "{";
  auto append = [&](const std::pair<std::string, std::string>& label) {
    if (out.size() > 1)
      out += ",";
    out += label.first + "=\"" + escaped(label.second, true) + "\"";
  };
  for (auto& label : labels)
    append(label);
  if (extra != nullptr)
    append(*extra);
  return out + "}";
}

} // namespace

void metrics_registry::add_counter(const std::string& name, const std::string& help) {
  metrics_[name] = metric{"counter", help, {}, {}, {}};
}

void metrics_registry::add_gauge(const std::string& name, const std::string& help) {
  metrics_[name] = metric{"gauge", help, {}, {}, {}};
}

void metrics_registry::add_histogram(const std::string& name, const std::string& help,
                                     std::vector<double> bounds) {
  std::sort(bounds.begin(), bounds.end());
  metrics_[name] = metric{"histogram", help, std::move(bounds), {}, {}};
}

metrics_registry::metric& metrics_registry::find(const std::string& name,
                                                 const char* type) {
  auto i = metrics_.find(name);
  if (i == metrics_.end() || i->second.type != type)
    throw std::logic_error{"metric " + name + " is not a declared " + type};
  return i->second;
}

void metrics_registry::increment(const std::string& name, const metric_labels& labels,
                                 double amount) {
  find(name, "counter").values[labels] += amount;
}

void metrics_registry::start_series(const std::string& name,
                                    const metric_labels& labels) {
  auto i = metrics_.find(name);
  if (i == metrics_.end())
    throw std::logic_error{"metric " + name + " is not declared"};
  auto& m = i->second;
  if (m.type == "histogram") {
    auto& series = m.histograms[labels];
    if (series.counts.empty())
      series.counts.assign(m.bounds.size() + 1, 0);
  } else {
    m.values.emplace(labels, 0.0);
  }
}

void metrics_registry::set(const std::string& name, const metric_labels& labels,
                           double value) {
  find(name, "gauge").values[labels] = value;
}

void metrics_registry::clear(const std::string& name) {
  find(name, "gauge").values.clear();
}

void metrics_registry::observe(const std::string& name, const metric_labels& labels,
                               double value) {
  auto& m = find(name, "histogram");
  auto& series = m.histograms[labels];
  if (series.counts.empty())
    series.counts.assign(m.bounds.size() + 1, 0);
  auto bucket = std::lower_bound(m.bounds.begin(), m.bounds.end(), value)
                - m.bounds.begin();
  ++series.counts[static_cast<size_t>(bucket)];
  series.sum += value;
  ++series.count;
}

std::string metrics_registry::render() const {
  std::ostringstream out;
  for (auto& [name, m] : metrics_) {
    out << "# HELP " << name << " " << escaped(m.help, false) << "\n";
    out << "# TYPE " << name << " " << m.type << "\n";
    for (auto& [labels, value] : m.values)
      out << name << format_labels(labels) << " " << format_value(value) << "\n";
    for (auto& [labels, series] : m.histograms) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < series.counts.size(); ++i) {
        cumulative += series.counts[i];
        std::pair<std::string, std::string> le{
          "le", i < m.bounds.size() ? format_value(m.bounds[i]) : "+Inf"};
        out << name << "_bucket" << format_labels(labels, &le) << " " << cumulative
            << "\n";
      }
      out << name << "_sum" << format_labels(labels) << " "
          << format_value(series.sum) << "\n";
      out << name << "_count" << format_labels(labels) << " " << series.count << "\n";
    }
  }
  return out.str();
}

} // namespace foreman
