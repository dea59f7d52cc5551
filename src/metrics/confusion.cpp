// SPDX-License-Identifier: Apache-2.0
// src/metrics/confusion.cpp — metrics built on confusion counts: Precision, Recall, AUC, the
// F-beta scores, and the confusion-matrix utility.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "lamina/errors.hpp"
#include "lamina/metrics.hpp"
#include "metrics/common.hpp"

namespace lamina::metrics {

using namespace detail;

namespace {

// Keras's NEG_INF: what top_k filtering gives the predictions it drops.
constexpr double kNegInf = -1e10;
constexpr double kEpsilon = 1e-7;

double divide_no_nan(double a, double b) { return b == 0.0 ? 0.0 : a / b; }

// y_true and y_pred as matrices of equal shape (rows = samples); (N) meets (N, 1).
std::pair<Matrix, Matrix> aligned(const std::string& metric, const Tensor& y_true,
                                  const Tensor& y_pred) {
  Matrix t = as_matrix(y_true), p = as_matrix(y_pred);
  if (t.rows != p.rows || t.cols != p.cols)
    shapes_do_not_fit(metric, y_true, y_pred, "expected equal shapes");
  return {std::move(t), std::move(p)};
}

std::string json_list(const std::vector<double>& v) { return nlohmann::json(v).dump(); }

}  // namespace

// --- Precision and Recall ----------------------------------------------------------------------

Precision::Precision(PrecisionRecallOptions options) : Precision(std::move(options), "precision") {}

Precision::Precision(PrecisionRecallOptions options, const char* default_name)
    : Metric(options.name.empty() ? default_name : options.name), options_(std::move(options)) {
  for (double t : options_.thresholds)
    if (!(t >= 0.0 && t <= 1.0))
      throw ValueError(name() + ": thresholds must be in [0, 1], got " + json_list(options_.thresholds));
  if (options_.top_k && *options_.top_k < 1)
    throw ValueError(name() + ": top_k must be at least 1, got " + std::to_string(*options_.top_k));
  if (options_.thresholds.empty()) options_.thresholds = {options_.top_k ? kNegInf : 0.5};
  reset_state();
}

void Precision::update_state(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) {
  auto [t, p] = aligned(name(), y_true, y_pred);
  const std::vector<double> w = row_weights(name(), sample_weight, p.rows);
  if (options_.top_k) {
    // Keep each row's top_k predictions (the first of equal values win, as top_k does).
    const std::int64_t k = std::min<std::int64_t>(*options_.top_k, p.cols);
    std::vector<std::int64_t> order(static_cast<std::size_t>(p.cols));
    for (std::int64_t r = 0; r < p.rows; ++r) {
      double* row = p.data.data() + r * p.cols;
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](std::int64_t a, std::int64_t b) { return row[a] > row[b]; });
      for (std::int64_t j = k; j < p.cols; ++j) row[order[j]] = kNegInf;
    }
  }
  std::int64_t first = 0, last = p.cols;
  if (options_.class_id) {
    if (*options_.class_id < 0 || *options_.class_id >= p.cols)
      throw ValueError(name() + ": class_id " + std::to_string(*options_.class_id) +
                       " is out of range for predictions of shape " + y_pred.shape().str());
    first = *options_.class_id;
    last = first + 1;
  }
  for (std::size_t i = 0; i < options_.thresholds.size(); ++i) {
    const double threshold = options_.thresholds[i];
    for (std::int64_t r = 0; r < p.rows; ++r)
      for (std::int64_t c = first; c < last; ++c) {
        const bool predicted = p.at(r, c) > threshold, actual = t.at(r, c) != 0.0;
        if (predicted && actual) tp_[i] += w[r];
        if (predicted && !actual) fp_[i] += w[r];
        if (!predicted && actual) fn_[i] += w[r];
      }
  }
}

std::vector<double> Precision::results() const {
  std::vector<double> out;
  for (std::size_t i = 0; i < tp_.size(); ++i) out.push_back(divide_no_nan(tp_[i], tp_[i] + fp_[i]));
  return out;
}

double Precision::result() const {
  const std::vector<double> all = results();
  return std::accumulate(all.begin(), all.end(), 0.0) / static_cast<double>(all.size());
}

void Precision::reset_state() {
  tp_.assign(options_.thresholds.size(), 0.0);
  fp_ = fn_ = tp_;
}

nlohmann::json Precision::get_config() const {
  nlohmann::json c = Metric::get_config();
  const auto& t = options_.thresholds;
  if (options_.top_k && t.size() == 1 && t[0] == kNegInf)
    c["thresholds"] = nullptr;
  else
    c["thresholds"] = t.size() == 1 ? nlohmann::json(t[0]) : nlohmann::json(t);
  c["top_k"] = options_.top_k ? nlohmann::json(*options_.top_k) : nlohmann::json();
  c["class_id"] = options_.class_id ? nlohmann::json(*options_.class_id) : nlohmann::json();
  return c;
}

Recall::Recall(PrecisionRecallOptions options) : Precision(std::move(options), "recall") {}

std::vector<double> Recall::results() const {
  std::vector<double> out;
  for (std::size_t i = 0; i < tp_.size(); ++i) out.push_back(divide_no_nan(tp_[i], tp_[i] + fn_[i]));
  return out;
}

// --- AUC -----------------------------------------------------------------------------------------

AUC::AUC(AUCOptions options) : Metric(options.name), options_(std::move(options)) {
  const int n = options_.num_thresholds;
  if (n <= 1) throw ValueError(name() + ": num_thresholds must be > 1, got " + std::to_string(n));
  if (options_.curve != "ROC" && options_.curve != "PR")
    throw ValueError(name() + ": curve must be 'ROC' or 'PR', got '" + options_.curve + "'");
  const auto& s = options_.summation_method;
  if (s != "interpolation" && s != "minoring" && s != "majoring")
    throw ValueError(name() + ": summation_method must be 'interpolation', 'minoring' or "
                     "'majoring', got '" + s + "'");
  thresholds_.push_back(0.0 - kEpsilon);
  for (int i = 0; i < n - 2; ++i) thresholds_.push_back((i + 1) * 1.0 / (n - 1));
  thresholds_.push_back(1.0 + kEpsilon);
}

void AUC::update_state(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) {
  auto [t, p] = aligned(name(), y_true, y_pred);
  const std::vector<double> w = row_weights(name(), sample_weight, p.rows);
  const std::size_t labels = options_.multi_label ? static_cast<std::size_t>(p.cols) : 1;
  if (labels_ == 0) {
    labels_ = labels;
    reset_state();
  } else if (labels != labels_) {
    throw ShapeError(name() + ": multi_label AUC built for " + std::to_string(labels_) +
                     " labels, got y_pred of shape " + y_pred.shape().str());
  }
  if (options_.multi_label && !options_.label_weights.empty() && options_.label_weights.size() != labels)
    throw ValueError(name() + ": " + std::to_string(options_.label_weights.size()) +
                     " label_weights for " + std::to_string(labels) + " labels");
  // Per label, a histogram of weights by the number of thresholds below each prediction; the
  // counts at threshold i are then sums over the bins above or below i.
  const std::size_t T = thresholds_.size();
  std::vector<double> pos((T + 1) * labels, 0.0), neg((T + 1) * labels, 0.0);
  for (std::int64_t r = 0; r < p.rows; ++r)
    for (std::int64_t c = 0; c < p.cols; ++c) {
      double v = p.at(r, c);
      if (options_.from_logits) v = 1.0 / (1.0 + std::exp(-v));
      const std::size_t below = static_cast<std::size_t>(
          std::lower_bound(thresholds_.begin(), thresholds_.end(), v) - thresholds_.begin());
      const std::size_t label = options_.multi_label ? static_cast<std::size_t>(c) : 0;
      (t.at(r, c) != 0.0 ? pos : neg)[below * labels + label] += w[r];
    }
  for (std::size_t l = 0; l < labels; ++l) {
    double pos_above = 0.0, neg_above = 0.0, pos_total = 0.0, neg_total = 0.0;
    for (std::size_t b = 0; b <= T; ++b) pos_total += pos[b * labels + l], neg_total += neg[b * labels + l];
    // Threshold i sees as positive the predictions with more than i thresholds below them.
    for (std::size_t i = T; i-- > 0;) {
      pos_above += pos[(i + 1) * labels + l];
      neg_above += neg[(i + 1) * labels + l];
      tp_[i * labels + l] += pos_above;
      fp_[i * labels + l] += neg_above;
      fn_[i * labels + l] += pos_total - pos_above;
      tn_[i * labels + l] += neg_total - neg_above;
    }
  }
}

double AUC::area(std::size_t l) const {
  const std::size_t T = thresholds_.size(), L = labels_;
  auto at = [&](const std::vector<double>& v, std::size_t i) { return v[i * L + l]; };
  double total = 0.0;
  if (options_.curve == "PR" && options_.summation_method == "interpolation") {
    // Davis & Goadrich: precision interpolated linearly in the number of positives predicted.
    for (std::size_t i = 0; i + 1 < T; ++i) {
      const double dtp = at(tp_, i) - at(tp_, i + 1);
      const double p0 = at(tp_, i) + at(fp_, i), p1 = at(tp_, i + 1) + at(fp_, i + 1);
      const double slope = divide_no_nan(dtp, std::max(p0 - p1, 0.0));
      const double intercept = at(tp_, i + 1) - slope * p1;
      const double ratio = p0 > 0 && p1 > 0 ? divide_no_nan(p0, std::max(p1, 0.0)) : 1.0;
      total += divide_no_nan(slope * (dtp + intercept * std::log(ratio)),
                             std::max(at(tp_, i + 1) + at(fn_, i + 1), 0.0));
    }
    return total;
  }
  auto point = [&](std::size_t i) {  // (x, y) of the curve at threshold i
    const double recall = divide_no_nan(at(tp_, i), at(tp_, i) + at(fn_, i));
    if (options_.curve == "ROC") return std::pair{divide_no_nan(at(fp_, i), at(fp_, i) + at(tn_, i)), recall};
    return std::pair{recall, divide_no_nan(at(tp_, i), at(tp_, i) + at(fp_, i))};
  };
  for (std::size_t i = 0; i + 1 < T; ++i) {
    auto [x0, y0] = point(i);
    auto [x1, y1] = point(i + 1);
    const double height = options_.summation_method == "interpolation" ? (y0 + y1) / 2
                          : options_.summation_method == "minoring"    ? std::min(y0, y1)
                                                                       : std::max(y0, y1);
    total += (x0 - x1) * height;
  }
  return total;
}

double AUC::result() const {
  if (labels_ == 0) return 0.0;
  if (labels_ == 1 && !options_.multi_label) return area(0);
  double weighted = 0.0, weights = 0.0;
  for (std::size_t l = 0; l < labels_; ++l) {
    const double w = options_.label_weights.empty() ? 1.0 : options_.label_weights[l];
    weighted += area(l) * w;
    weights += w;
  }
  return divide_no_nan(weighted, weights);
}

void AUC::reset_state() {
  tp_.assign(thresholds_.size() * std::max<std::size_t>(labels_, 1), 0.0);
  fp_ = tn_ = fn_ = tp_;
}

nlohmann::json AUC::get_config() const {
  nlohmann::json c = Metric::get_config();
  c["num_thresholds"] = options_.num_thresholds;
  c["curve"] = options_.curve;
  c["summation_method"] = options_.summation_method;
  c["multi_label"] = options_.multi_label;
  c["num_labels"] = options_.multi_label && labels_ ? nlohmann::json(labels_) : nlohmann::json();
  c["label_weights"] = options_.label_weights.empty() ? nlohmann::json() : nlohmann::json(options_.label_weights);
  c["from_logits"] = options_.from_logits;
  return c;
}

// --- F-beta --------------------------------------------------------------------------------------

FBetaScore::FBetaScore(FBetaOptions options) : Metric(options.name), options_(std::move(options)) {
  const auto& a = options_.average;
  if (!a.empty() && a != "micro" && a != "macro" && a != "weighted")
    throw ValueError(name() + ": average must be None, 'micro', 'macro' or 'weighted', got '" + a + "'");
  if (!(options_.beta > 0))
    throw ValueError(name() + ": beta must be positive, got " + std::to_string(options_.beta));
  if (options_.threshold && !(*options_.threshold > 0 && *options_.threshold <= 1))
    throw ValueError(name() + ": threshold must be in (0, 1], got " + std::to_string(*options_.threshold));
}

void FBetaScore::update_state(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) {
  if (y_true.ndim() != 2 || y_pred.ndim() != 2)
    shapes_do_not_fit(name(), y_true, y_pred, "expected 2-D (batch, classes) inputs");
  auto [t, p] = aligned(name(), y_true, y_pred);
  const std::vector<double> w = row_weights(name(), sample_weight, p.rows);
  if (tp_.empty()) tp_.assign(p.cols, 0.0), fp_ = fn_ = support_ = tp_;
  if (static_cast<std::int64_t>(tp_.size()) != p.cols)
    throw ShapeError(name() + ": built for " + std::to_string(tp_.size()) +
                     " classes, got y_pred of shape " + y_pred.shape().str());
  for (std::int64_t r = 0; r < p.rows; ++r) {
    double top = p.at(r, 0);
    for (std::int64_t c = 1; c < p.cols; ++c) top = std::max(top, p.at(r, c));
    for (std::int64_t c = 0; c < p.cols; ++c) {
      const double v = p.at(r, c), y = t.at(r, c);
      // Without a threshold each row predicts its maximum, unless the row is all zeros.
      const double predicted = options_.threshold ? (v > *options_.threshold ? 1.0 : 0.0)
                                                  : (v >= top && std::abs(v) > 1e-9 ? 1.0 : 0.0);
      tp_[c] += predicted * y * w[r];
      fp_[c] += predicted * (1.0 - y) * w[r];
      fn_[c] += (1.0 - predicted) * y * w[r];
      support_[c] += y * w[r];
    }
  }
}

std::vector<double> FBetaScore::results() const {
  if (tp_.empty()) return {0.0};
  std::vector<double> tp = tp_, fp = fp_, fn = fn_;
  if (options_.average == "micro") {
    tp = {std::accumulate(tp_.begin(), tp_.end(), 0.0)};
    fp = {std::accumulate(fp_.begin(), fp_.end(), 0.0)};
    fn = {std::accumulate(fn_.begin(), fn_.end(), 0.0)};
  }
  const double b2 = options_.beta * options_.beta;
  std::vector<double> f(tp.size());
  for (std::size_t c = 0; c < tp.size(); ++c) {
    const double precision = tp[c] / (tp[c] + fp[c] + kEpsilon);
    const double recall = tp[c] / (tp[c] + fn[c] + kEpsilon);
    f[c] = precision * recall / (b2 * precision + recall + kEpsilon) * (1 + b2);
  }
  if (options_.average == "weighted") {
    const double total = std::accumulate(support_.begin(), support_.end(), 0.0);
    double score = 0.0;
    for (std::size_t c = 0; c < f.size(); ++c) score += f[c] * support_[c] / (total + kEpsilon);
    return {score};
  }
  if (!options_.average.empty())
    return {std::accumulate(f.begin(), f.end(), 0.0) / static_cast<double>(f.size())};
  return f;
}

double FBetaScore::result() const {
  const std::vector<double> all = results();
  return std::accumulate(all.begin(), all.end(), 0.0) / static_cast<double>(all.size());
}

void FBetaScore::reset_state() {
  tp_.clear();
  fp_.clear();
  fn_.clear();
  support_.clear();
}

nlohmann::json FBetaScore::get_config() const {
  nlohmann::json c = Metric::get_config();
  c["average"] = options_.average.empty() ? nlohmann::json() : nlohmann::json(options_.average);
  c["beta"] = options_.beta;
  c["threshold"] = options_.threshold ? nlohmann::json(*options_.threshold) : nlohmann::json();
  return c;
}

F1Score::F1Score(std::string average, std::optional<double> threshold, Name name)
    : FBetaScore(FBetaOptions{std::move(average), 1.0, threshold, std::move(name)}) {}

nlohmann::json F1Score::get_config() const {
  nlohmann::json c = FBetaScore::get_config();
  c.erase("beta");
  return c;
}

// --- confusion matrix ----------------------------------------------------------------------------

Tensor confusion_matrix(const Tensor& labels, const Tensor& predictions, std::int64_t num_classes,
                        const Tensor& weights) {
  if (num_classes <= 0)
    throw ValueError("confusion_matrix: num_classes must be positive, got " + std::to_string(num_classes));
  if (labels.numel() != predictions.numel() || labels.ndim() > 1 || predictions.ndim() > 1)
    throw ShapeError("confusion_matrix: labels of shape " + labels.shape().str() +
                     " and predictions of shape " + predictions.shape().str() +
                     " must be 1-D of the same length");
  const std::vector<double> l = on_cpu(labels).to_vector<double>();
  const std::vector<double> p = on_cpu(predictions).to_vector<double>();
  const std::vector<double> w = row_weights("confusion_matrix", weights, static_cast<std::int64_t>(l.size()));
  std::vector<double> m(static_cast<std::size_t>(num_classes * num_classes), 0.0);
  for (std::size_t i = 0; i < l.size(); ++i) {
    for (double v : {l[i], p[i]})
      if (v < 0 || v >= static_cast<double>(num_classes) || v != std::floor(v))
        throw ValueError("confusion_matrix: value " + std::to_string(v) + " at position " +
                         std::to_string(i) + " is not a class in [0, " + std::to_string(num_classes) + ")");
    m[static_cast<std::size_t>(static_cast<std::int64_t>(l[i]) * num_classes +
                               static_cast<std::int64_t>(p[i]))] += w[i];
  }
  return Tensor::from_vector(m, {num_classes, num_classes});
}

}  // namespace lamina::metrics
