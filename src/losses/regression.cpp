// SPDX-License-Identifier: Apache-2.0
// src/losses/regression.cpp — the regression losses: MSE, MAE, MAPE, MSLE, Huber, LogCosh and
// cosine similarity, composed from differentiable ops (gradients by autodiff).
#include <cmath>
#include <nlohmann/json.hpp>

#include "lamina/losses.hpp"
#include "lamina/ops.hpp"
#include "losses/common.hpp"

namespace lamina::losses {

using namespace detail;

MeanSquaredError::MeanSquaredError(ReductionOptions o)
    : Loss(or_default(o.name, "mean_squared_error"), o.reduction) {}

Tensor MeanSquaredError::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  auto [truth, pred] = operands(name(), y_true, y_pred);
  return mean_last(square(pred - truth));
}

MeanAbsoluteError::MeanAbsoluteError(ReductionOptions o)
    : Loss(or_default(o.name, "mean_absolute_error"), o.reduction) {}

Tensor MeanAbsoluteError::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  auto [truth, pred] = operands(name(), y_true, y_pred);
  return mean_last(abs(pred - truth));
}

MeanAbsolutePercentageError::MeanAbsolutePercentageError(ReductionOptions o)
    : Loss(or_default(o.name, "mean_absolute_percentage_error"), o.reduction) {}

Tensor MeanAbsolutePercentageError::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  auto [truth, pred] = operands(name(), y_true, y_pred);
  Tensor floor = scalar_like(kEpsilon, truth);
  return mean_last(abs((truth - pred) / maximum(abs(truth), floor))) * 100.0;
}

MeanSquaredLogarithmicError::MeanSquaredLogarithmicError(ReductionOptions o)
    : Loss(or_default(o.name, "mean_squared_logarithmic_error"), o.reduction) {}

Tensor MeanSquaredLogarithmicError::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  auto [truth, pred] = operands(name(), y_true, y_pred);
  Tensor floor = scalar_like(kEpsilon, pred);
  return mean_last(square(log(maximum(pred, floor) + 1.0) - log(maximum(truth, floor) + 1.0)));
}

Huber::Huber(HuberOptions o) : Loss(or_default(o.name, "huber_loss"), o.reduction), options_(o) {}

Tensor Huber::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  auto [truth, pred] = operands(name(), y_true, y_pred);
  const double d = options_.delta;
  Tensor error = pred - truth;
  Tensor abs_error = abs(error);
  return mean_last(where(abs_error <= d, square(error) * 0.5, abs_error * d - 0.5 * d * d));
}

nlohmann::json Huber::get_config() const {
  nlohmann::json c = Loss::get_config();
  c["delta"] = options_.delta;
  return c;
}

LogCosh::LogCosh(ReductionOptions o) : Loss(or_default(o.name, "log_cosh"), o.reduction) {}

Tensor LogCosh::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  auto [truth, pred] = operands(name(), y_true, y_pred);
  // log(cosh(e)) = e + log(1 + exp(-2e)) - log 2, finite for any e.
  Tensor e = pred - truth;
  return mean_last(e + softplus(e * -2.0) - std::log(2.0));
}

CosineSimilarity::CosineSimilarity(CosineSimilarityOptions o)
    : Loss(or_default(o.name, "cosine_similarity"), o.reduction), options_(o) {}

namespace {
// Keras's l2 normalisation: x · min(1/sqrt(sum x²), 1/eps), written as x / sqrt(max(sum x², eps²))
// so that a zero vector maps to zero with a finite gradient.
Tensor l2_normalize_last(const Tensor& x) {
  Tensor floor = scalar_like(kEpsilon * kEpsilon, x);
  return x / sqrt(maximum(sum(square(x), {-1}, true), floor));
}
}  // namespace

Tensor CosineSimilarity::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  auto [truth, pred] = operands(name(), y_true, y_pred, true);
  if (pred.ndim() == 0) shapes_do_not_fit(name(), y_true, y_pred, "expected vectors along an axis");
  pred = axis_last(pred, options_.axis, name());
  truth = axis_last(truth, options_.axis, name());
  return -sum(l2_normalize_last(truth) * l2_normalize_last(pred), {-1});
}

nlohmann::json CosineSimilarity::get_config() const {
  nlohmann::json c = Loss::get_config();
  c["axis"] = options_.axis;
  return c;
}

}  // namespace lamina::losses
