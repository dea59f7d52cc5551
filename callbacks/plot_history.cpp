// SPDX-License-Identifier: Apache-2.0
// PlotHistory: hand-written SVG line charts (no plotting library), rewritten after each epoch.
#include "lamina/callbacks/plot_history.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include "io/atomic_file.hpp"
#include "lamina/errors.hpp"

namespace lamina::callbacks {
namespace {

constexpr const char* kTrainColour = "#1f77b4";
constexpr const char* kValColour = "#ff7f0e";
constexpr double kLeft = 64, kRight = 16, kTop = 34, kBottom = 46;  // plot-area margins

std::string num(double v, const char* format = "%.6g") {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Round tick values 1, 2 or 5 times a power of ten, about `target` of them over [lo, hi]: the
// round step nearest (by ratio) to the even spacing, so a range is not left with two ticks.
std::vector<double> nice_ticks(double lo, double hi, int target) {
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {2.0, 5.0, 10.0})
    if (std::fabs(std::log(m * magnitude / raw)) < std::fabs(std::log(step / raw))) step = m * magnitude;
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

struct Series {
  std::string label, colour;
  const std::vector<double>* values;
};

std::string chart(const std::string& metric, const std::vector<int>& epochs,
                  const std::vector<Series>& series, double x0, double y0, double width,
                  double height) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const Series& s : series)
    for (double v : *s.values)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!(lo <= hi)) lo = 0, hi = 1;  // nothing finite to show
  if (hi - lo < 1e-12 * std::max(1.0, std::fabs(hi))) {
    const double pad = std::max(std::fabs(hi) * 0.1, 1e-3);
    lo -= pad, hi += pad;
  } else {
    const double pad = (hi - lo) * 0.05;
    lo -= pad, hi += pad;
  }
  const double first = epochs.empty() ? 1 : epochs.front() + 1;
  const double last = epochs.empty() ? 1 : epochs.back() + 1;
  const double xlo = first == last ? first - 1 : first, xhi = first == last ? last + 1 : last;
  const double pw = width - kLeft - kRight, ph = height - kTop - kBottom;
  auto px = [&](double e) { return x0 + kLeft + (e - xlo) / (xhi - xlo) * pw; };
  auto py = [&](double v) { return y0 + kTop + (hi - v) / (hi - lo) * ph; };

  std::string out = "<g class=\"chart\" data-metric=\"" + escape(metric) + "\">\n";
  out += "<text x=\"" + num(x0 + width / 2) + "\" y=\"" + num(y0 + 20) +
         "\" text-anchor=\"middle\" font-weight=\"bold\">" + escape(metric) + "</text>\n";
  out += "<rect x=\"" + num(x0 + kLeft) + "\" y=\"" + num(y0 + kTop) + "\" width=\"" + num(pw) +
         "\" height=\"" + num(ph) + "\" fill=\"none\" stroke=\"#444\"/>\n";
  for (double t : nice_ticks(lo, hi, 5)) {
    out += "<line x1=\"" + num(x0 + kLeft) + "\" x2=\"" + num(x0 + kLeft + pw) + "\" y1=\"" +
           num(py(t)) + "\" y2=\"" + num(py(t)) + "\" stroke=\"#ddd\"/>\n";
    out += "<text x=\"" + num(x0 + kLeft - 6) + "\" y=\"" + num(py(t) + 4) +
           "\" text-anchor=\"end\" font-size=\"11\">" + num(t, "%.4g") + "</text>\n";
  }
  for (double t : nice_ticks(xlo, xhi, std::min(8, static_cast<int>(xhi - xlo) + 1))) {
    if (t != std::floor(t)) continue;  // epochs are whole numbers
    out += "<text x=\"" + num(px(t)) + "\" y=\"" + num(y0 + kTop + ph + 16) +
           "\" text-anchor=\"middle\" font-size=\"11\">" + num(t, "%.0f") + "</text>\n";
  }
  out += "<text x=\"" + num(x0 + kLeft + pw / 2) + "\" y=\"" + num(y0 + height - 8) +
         "\" text-anchor=\"middle\" font-size=\"12\">epoch</text>\n";
  out += "<text transform=\"translate(" + num(x0 + 14) + " " + num(y0 + kTop + ph / 2) +
         ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">" + escape(metric) + "</text>\n";

  // The legend goes over the curves, on a white box, in the top right corner.
  const double lx = x0 + kLeft + pw - 70;
  std::string legend = "<rect x=\"" + num(lx - 6) + "\" y=\"" + num(y0 + kTop + 3) +
                       "\" width=\"70\" height=\"" + num(16.0 * static_cast<double>(series.size()) + 2) +
                       "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n";
  double legend_y = y0 + kTop + 14;
  for (const Series& s : series) {
    std::string points, values;
    for (std::size_t i = 0; i < s.values->size() && i < epochs.size(); ++i) {
      const double v = (*s.values)[i];
      values += (i ? " " : "") + num(v, "%.9g");
      if (!std::isfinite(v)) continue;
      points += num(px(epochs[i] + 1)) + "," + num(py(v)) + " ";
    }
    out += "<polyline class=\"" + s.label + "\" data-values=\"" + values + "\" points=\"" + points +
           "\" fill=\"none\" stroke=\"" + s.colour + "\" stroke-width=\"2\"/>\n";
    for (std::size_t i = 0; i < s.values->size() && i < epochs.size(); ++i) {
      const double v = (*s.values)[i];
      if (!std::isfinite(v)) continue;
      out += "<circle cx=\"" + num(px(epochs[i] + 1)) + "\" cy=\"" + num(py(v)) + "\" r=\"3\" fill=\"" +
             s.colour + "\"><title>" + s.label + " " + escape(metric) + ", epoch " +
             std::to_string(epochs[i] + 1) + ": " + num(v, "%.6g") + "</title></circle>\n";
    }
    legend += "<line x1=\"" + num(lx) + "\" x2=\"" + num(lx + 18) + "\" y1=\"" + num(legend_y - 4) +
              "\" y2=\"" + num(legend_y - 4) + "\" stroke=\"" + s.colour + "\" stroke-width=\"2\"/>\n";
    legend += "<text x=\"" + num(lx + 24) + "\" y=\"" + num(legend_y) + "\" font-size=\"11\">" +
              s.label + "</text>\n";
    legend_y += 16;
  }
  return out + legend + "</g>\n";
}

}  // namespace

PlotHistory::PlotHistory(std::string filepath, PlotHistoryOptions options)
    : filepath_(std::move(filepath)), options_(options) {
  if (options_.chart_width < 200 || options_.chart_height < 150 || options_.columns < 1)
    throw ValueError("PlotHistory: charts must be at least 200x150 pixels in at least one column");
}

std::string PlotHistory::render_svg(const std::vector<int>& epochs,
                                    const std::map<std::string, std::vector<double>>& values,
                                    const PlotHistoryOptions& options) {
  std::vector<std::string> metrics;  // "loss" first, then the rest by name
  for (const auto& [key, v] : values) {
    const std::string base = key.rfind("val_", 0) == 0 ? key.substr(4) : key;
    if (std::find(metrics.begin(), metrics.end(), base) == metrics.end()) metrics.push_back(base);
  }
  std::stable_partition(metrics.begin(), metrics.end(), [](const auto& m) { return m == "loss"; });
  const int columns = std::min<int>(options.columns, std::max<std::size_t>(metrics.size(), 1));
  const int rows = (static_cast<int>(metrics.size()) + columns - 1) / columns;
  const double w = options.chart_width, h = options.chart_height;
  const double total_w = w * columns, total_h = h * std::max(rows, 1);
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(total_w) +
                    "\" height=\"" + num(total_h) + "\" viewBox=\"0 0 " + num(total_w) + " " +
                    num(total_h) + "\" font-family=\"sans-serif\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    std::vector<Series> series;
    if (auto it = values.find(metrics[i]); it != values.end())
      series.push_back({"train", kTrainColour, &it->second});
    if (auto it = values.find("val_" + metrics[i]); it != values.end())
      series.push_back({"val", kValColour, &it->second});
    svg += chart(metrics[i], epochs, series, w * static_cast<double>(i % columns),
                 h * static_cast<double>(i / columns), w, h);
  }
  return svg + "</svg>\n";
}

void PlotHistory::on_train_begin(const Logs&) {
  epochs_.clear();
  values_.clear();
}

void PlotHistory::on_epoch_end(int epoch, const Logs& logs) {
  epochs_.push_back(epoch);
  for (const auto& [key, value] : logs) {
    auto& series = values_[key];
    // A key first seen late is NaN (not drawn) for the epochs before it.
    series.resize(epochs_.size() - 1, std::numeric_limits<double>::quiet_NaN());
    series.push_back(value);
  }
  for (auto& [key, series] : values_) series.resize(epochs_.size(), std::numeric_limits<double>::quiet_NaN());
  std::string text = render_svg(epochs_, values_, options_);
  const bool html = filepath_.size() >= 5 && filepath_.compare(filepath_.size() - 5, 5, ".html") == 0;
  if (html)
    text = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/><title>Training history</title>"
           "</head>\n<body>\n" + text + "</body></html>\n";
  io::write_atomically(filepath_, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    if (!out.flush()) throw FileFormatError("PlotHistory: cannot write '" + tmp + "'");
  });
}

}  // namespace lamina::callbacks
