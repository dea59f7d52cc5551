// SPDX-License-Identifier: Apache-2.0
// callbacks/monitor.hpp — what EarlyStopping and ModelCheckpoint share with Keras 3's
// MonitorCallback: reading the monitored value, its direction, and what counts as improvement.
#pragma once

#include <optional>
#include <string>

#include "lamina/callbacks/callback.hpp"

namespace lamina::callbacks::detail {

/// Throws ValueError naming `caller` unless mode is "auto", "min" or "max".
void check_mode(const std::string& caller, const std::string& mode);

/// logs[monitor]; when absent, warns on stderr ("<what> is conditioned on metric ...", listing
/// the available keys, as Keras does) and returns nothing.
std::optional<double> monitored_value(const std::string& what, const std::string& monitor,
                                      const Logs& logs);

/// The monitored quantity of one callback. In "auto" mode the direction comes from the metric's
/// name (without "val_"): losses and errors go down, accuracies, AUC, precision and recall go up;
/// any other name throws ValueError asking for mode "min" or "max", as Keras 3 does.
class Monitor {
 public:
  Monitor(std::string caller, std::string monitor, std::string mode, double min_delta);
  /// logs[monitor]; when absent, warns on stderr listing the available keys and returns nothing.
  std::optional<double> value(const Logs& logs) const;
  /// current beats reference by more than min_delta in the monitored direction.
  bool is_improvement(double current, double reference) const;
  /// +inf when lower is better, -inf when higher is better.
  double worst() const;
  bool higher_is_better() const;
  const std::string& name() const { return monitor_; }

 private:
  std::string caller_, monitor_, mode_;
  double min_delta_;
};

}  // namespace lamina::callbacks::detail
