// SPDX-License-Identifier: Apache-2.0
// lamina/callbacks/plot_history.hpp — training curves a person can open in any browser.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "lamina/callbacks/callback.hpp"

namespace lamina::callbacks {

struct PlotHistoryOptions {
  int chart_width = 480;   ///< pixels per chart
  int chart_height = 300;
  int columns = 2;         ///< charts per row
};

/// Beyond Keras: after each epoch rewrites `filepath` (atomically) with one chart per metric -
/// the training curve and, when validating, the "val_" curve against the epoch (1-based), with
/// labelled axes, a legend, and each point's value as a tooltip. ".html" gives a page embedding
/// the SVG; any other name a standalone SVG. Needs no external tool.
class PlotHistory : public Callback {
 public:
  explicit PlotHistory(std::string filepath = "history.svg", PlotHistoryOptions options = {});
  void on_train_begin(const Logs&) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  bool reads_batch_logs() const override { return false; }

  /// The SVG document for `epochs` (0-based) and per-key values (one per epoch; keys starting
  /// with "val_" join the chart of the key without it). Pure: for tests.
  static std::string render_svg(const std::vector<int>& epochs,
                                const std::map<std::string, std::vector<double>>& values,
                                const PlotHistoryOptions& options = {});

 private:
  std::string filepath_;
  PlotHistoryOptions options_;
  std::vector<int> epochs_;
  std::map<std::string, std::vector<double>> values_;
};

}  // namespace lamina::callbacks
