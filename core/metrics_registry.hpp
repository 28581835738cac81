#pragma once

// Counters, gauges and histograms rendered in the Prometheus text exposition
// format (version 0.0.4). Owned by one actor; not thread-safe.

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace foreman {

/// Label names and values, in the order they are written.
using metric_labels = std::vector<std::pair<std::string, std::string>>;

class metrics_registry {
public:
  /// Declares a metric; every sample's name must be declared first.
  void add_counter(const std::string& name, const std::string& help);
  void add_gauge(const std::string& name, const std::string& help);
  /// `bounds` are the buckets' upper bounds, ascending (+Inf is implied).
  void add_histogram(const std::string& name, const std::string& help,
                     std::vector<double> bounds);

  /// Shows a series at zero before anything happened to it, so queries and
  /// rates see it from the start.
  void start_series(const std::string& name, const metric_labels& labels);

  /// Adds to a counter (creating the labelled series at 0 first).
  void increment(const std::string& name, const metric_labels& labels,
                 double amount = 1);
  void set(const std::string& name, const metric_labels& labels, double value);
  /// Drops every series of a gauge (before setting the current ones).
  void clear(const std::string& name);
  void observe(const std::string& name, const metric_labels& labels, double value);

  std::string render() const;

private:
  struct histogram_series {
    std::vector<uint64_t> counts; // per bucket, not cumulative; last = +Inf
    double sum = 0;
    uint64_t count = 0;
  };

  struct metric {
    std::string type;
    std::string help;
    std::vector<double> bounds;
    std::map<metric_labels, double> values;
    std::map<metric_labels, histogram_series> histograms;
  };

  metric& find(const std::string& name, const char* type);

  std::map<std::string, metric> metrics_;
};

} // namespace foreman
