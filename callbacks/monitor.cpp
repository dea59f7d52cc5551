// SPDX-License-Identifier: Apache-2.0
// The monitored-quantity rules of Keras 3's MonitorCallback.
#include "monitor.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

#include "lamina/errors.hpp"

namespace lamina::callbacks::detail {
namespace {

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

bool ends_with(const std::string& s, const std::string& end) {
  return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}

}  // namespace

void check_mode(const std::string& caller, const std::string& mode) {
  if (mode != "auto" && mode != "min" && mode != "max")
    throw ValueError(caller + ": mode must be 'auto', 'min' or 'max', got '" + mode + "'");
}

Monitor::Monitor(std::string caller, std::string monitor, std::string mode, double min_delta)
    : caller_(std::move(caller)),
      monitor_(std::move(monitor)),
      mode_(std::move(mode)),
      min_delta_(std::fabs(min_delta)) {
  check_mode(caller_, mode_);
}

bool Monitor::higher_is_better() const {
  if (mode_ != "auto") return mode_ == "max";
  std::string metric = monitor_;
  if (metric.rfind("val_", 0) == 0) metric = metric.substr(4);
  if (metric == "loss" || ends_with(metric, "_loss") || ends_with(metric, "error") ||
      contains(metric, "crossentropy") || ends_with(metric, "mse") || ends_with(metric, "mae") ||
      ends_with(metric, "hinge"))
    return false;
  if (contains(metric, "acc") || contains(metric, "auc") || contains(metric, "precision") ||
      contains(metric, "recall"))
    return true;
  throw ValueError(caller_ + " callback received monitor=" + monitor_ +
                   ", but lamina isn't able to automatically determine whether that metric "
                   "should be maximized or minimized. Pass mode = \"max\" in order to monitor "
                   "based on the highest metric value, or mode = \"min\" in order to use the "
                   "lowest value.");
}

std::optional<double> monitored_value(const std::string& what, const std::string& monitor,
                                      const Logs& logs) {
  if (auto it = logs.find(monitor); it != logs.end()) return it->second;
  std::string available;
  for (const auto& [key, v] : logs) available += (available.empty() ? "" : ",") + key;
  std::fprintf(stderr, "Warning: %s is conditioned on metric `%s` which is not available. "
               "Available metrics are: %s\n", what.c_str(), monitor.c_str(), available.c_str());
  return std::nullopt;
}

std::optional<double> Monitor::value(const Logs& logs) const {
  return monitored_value(caller_, monitor_, logs);
}

bool Monitor::is_improvement(double current, double reference) const {
  return higher_is_better() ? current - min_delta_ > reference : current + min_delta_ < reference;
}

double Monitor::worst() const {
  const double inf = std::numeric_limits<double>::infinity();
  return higher_is_better() ? -inf : inf;
}

}  // namespace lamina::callbacks::detail
