// SPDX-License-Identifier: Apache-2.0
// src/metrics/regression.cpp — regression metrics (the error means, cosine similarity, R²) and
// losses scored as metrics.
#include <cmath>
#include <nlohmann/json.hpp>

#include "lamina/errors.hpp"
#include "lamina/metrics.hpp"
#include "lamina/ops.hpp"
#include "metrics/common.hpp"

namespace lamina::metrics {

using namespace detail;

namespace {
template <class L>
Metric::Fn per_sample_of() {
  return [](const Tensor& y_true, const Tensor& y_pred) {
    static const L loss;
    return loss.per_sample(y_true, y_pred);
  };
}
}  // namespace

MeanSquaredError::MeanSquaredError(Name name)
    : MeanMetricWrapper(std::move(name), per_sample_of<losses::MeanSquaredError>()) {}

RootMeanSquaredError::RootMeanSquaredError(Name name)
    : MeanMetricWrapper(std::move(name), per_sample_of<losses::MeanSquaredError>()) {}

double RootMeanSquaredError::result() const { return std::sqrt(MeanMetricWrapper::result()); }

MeanAbsoluteError::MeanAbsoluteError(Name name)
    : MeanMetricWrapper(std::move(name), per_sample_of<losses::MeanAbsoluteError>()) {}

MeanAbsolutePercentageError::MeanAbsolutePercentageError(Name name)
    : MeanMetricWrapper(std::move(name), per_sample_of<losses::MeanAbsolutePercentageError>()) {}

CosineSimilarity::CosineSimilarity(Name name, int axis)
    : MeanMetricWrapper(std::move(name),
                        [loss = losses::CosineSimilarity({.axis = axis})](const Tensor& y_true,
                                                                         const Tensor& y_pred) {
                          return -loss.per_sample(y_true, y_pred);
                        }),
      axis_(axis) {}

nlohmann::json CosineSimilarity::get_config() const {
  nlohmann::json c = Metric::get_config();
  c["axis"] = axis_;
  return c;
}

// --- losses as metrics

namespace {
std::string metric_class_of(const Loss& loss) {
  return loss.class_name() == "LogCosh" ? "LogCoshError" : loss.class_name();
}
std::string default_name(const Loss& loss, const std::string& name) {
  if (!name.empty()) return name;
  return loss.class_name() == "LogCosh" ? "logcosh" : loss.name();
}
}  // namespace

LossMetric::LossMetric(std::shared_ptr<Loss> loss, Name name)
    : MeanMetricWrapper(default_name(*loss, name),
                        [l = loss](const Tensor& y_true, const Tensor& y_pred) {
                          return l->per_sample(y_true, y_pred);
                        }),
      loss_(std::move(loss)) {}

std::string LossMetric::class_name() const { return metric_class_of(*loss_); }

nlohmann::json LossMetric::get_config() const {
  nlohmann::json c = loss_->get_config();
  c.erase("reduction");
  c["name"] = name();
  c["dtype"] = "float32";
  return c;
}

// --- R2Score

R2Score::R2Score(R2ScoreOptions options) : Metric(options.name), options_(std::move(options)) {
  const auto& a = options_.class_aggregation;
  if (a != "uniform_average" && a != "variance_weighted_average" && !a.empty())
    throw ValueError("R2Score: class_aggregation must be 'uniform_average', "
                     "'variance_weighted_average' or None, got '" + a + "'");
  if (options_.num_regressors < 0)
    throw ValueError("R2Score: num_regressors must be >= 0, got " +
                     std::to_string(options_.num_regressors));
}

void R2Score::update_state(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) {
  Matrix t = as_matrix(y_true), p = as_matrix(y_pred);
  if (y_true.ndim() > 2 || y_pred.ndim() > 2 || t.rows != p.rows || t.cols != p.cols)
    shapes_do_not_fit(name(), y_true, y_pred, "expected (batch, outputs) of equal shapes");
  if (sum_.empty()) sum_.assign(t.cols, 0.0), squared_sum_ = total_mse_ = count_ = sum_;
  if (static_cast<std::int64_t>(sum_.size()) != t.cols)
    throw ShapeError(name() + ": built for " + std::to_string(sum_.size()) +
                     " outputs, got y_true of shape " + y_true.shape().str());
  const std::vector<double> w = row_weights(name(), sample_weight, t.rows);
  for (std::int64_t r = 0; r < t.rows; ++r)
    for (std::int64_t c = 0; c < t.cols; ++c) {
      const double y = t.at(r, c), e = y - p.at(r, c);
      sum_[c] += y * w[r];
      squared_sum_[c] += y * y * w[r];
      total_mse_[c] += e * e * w[r];
      count_[c] += w[r];
    }
  num_samples_ += static_cast<double>(t.data.size());
}

std::vector<double> R2Score::raw_scores() const {
  std::vector<double> raw(sum_.size());
  for (std::size_t c = 0; c < sum_.size(); ++c) {
    const double mean = sum_[c] / count_[c];
    const double total = squared_sum_[c] - sum_[c] * mean;
    raw[c] = 1.0 - total_mse_[c] / total;
    if (std::isinf(raw[c])) raw[c] = 0.0;  // constant targets: Keras reports 0
  }
  return raw;
}

double R2Score::adjusted(double score) const {
  const double n = num_samples_, p = options_.num_regressors;
  // Keras leaves the score unadjusted (with a warning) when n - p - 1 <= 0.
  return p != 0 && p < n - 1 ? 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0) : score;
}

std::vector<double> R2Score::results() const {
  if (!options_.class_aggregation.empty() || sum_.empty()) return {result()};
  std::vector<double> scores = raw_scores();
  for (double& s : scores) s = adjusted(s);
  return scores;
}

double R2Score::result() const {
  if (sum_.empty()) return 0.0;
  const std::vector<double> raw = raw_scores();
  double score = 0.0;
  if (options_.class_aggregation == "variance_weighted_average") {
    double weighted = 0.0, weights = 0.0;
    for (std::size_t c = 0; c < raw.size(); ++c) {
      const double total = squared_sum_[c] - sum_[c] * sum_[c] / count_[c];
      weighted += total * raw[c];
      weights += total;
    }
    score = weighted / weights;
  } else {
    for (double r : raw) score += r;
    score /= static_cast<double>(raw.size());
  }
  return adjusted(score);
}

void R2Score::reset_state() {
  sum_.clear();
  squared_sum_.clear();
  total_mse_.clear();
  count_.clear();
  num_samples_ = 0.0;
}

nlohmann::json R2Score::get_config() const {
  nlohmann::json c = Metric::get_config();
  c["class_aggregation"] = options_.class_aggregation.empty() ? nlohmann::json()
                                                              : nlohmann::json(options_.class_aggregation);
  c["num_regressors"] = options_.num_regressors;
  return c;
}

}  // namespace lamina::metrics
