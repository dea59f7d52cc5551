// SPDX-License-Identifier: Apache-2.0
// src/losses/hinge.cpp — the hinge losses and the distribution losses (KL divergence, Poisson).
#include <nlohmann/json.hpp>

#include "lamina/losses.hpp"
#include "lamina/ops.hpp"
#include "losses/common.hpp"

namespace lamina::losses {

using namespace detail;

namespace {
// Keras: targets that are all 0 or 1 are mapped to -1 or 1; other targets are used as they are.
Tensor signed_targets(const Tensor& y) {
  // Only whether some target is neither 0 nor 1 comes to the host.
  if (y.numel() > 0 && max(minimum(y != 0.0, y != 1.0)).item() != 0) return y;
  return y * 2.0 - 1.0;
}
Tensor hinge_margin(const std::string& loss, const Tensor& y_true, const Tensor& y_pred) {
  auto [truth, pred] = operands(loss, y_true, y_pred);
  return maximum(1.0 - signed_targets(truth) * pred, scalar_like(0.0, pred));
}
}  // namespace

Hinge::Hinge(ReductionOptions o) : Loss(or_default(o.name, "hinge"), o.reduction) {}

Tensor Hinge::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  return mean_last(hinge_margin(name(), y_true, y_pred));
}

SquaredHinge::SquaredHinge(ReductionOptions o)
    : Loss(or_default(o.name, "squared_hinge"), o.reduction) {}

Tensor SquaredHinge::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  return mean_last(square(hinge_margin(name(), y_true, y_pred)));
}

CategoricalHinge::CategoricalHinge(ReductionOptions o)
    : Loss(or_default(o.name, "categorical_hinge"), o.reduction) {}

Tensor CategoricalHinge::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  auto [truth, pred] = operands(name(), y_true, y_pred, true);
  if (pred.ndim() == 0) shapes_do_not_fit(name(), y_true, y_pred, "expected one-hot vectors");
  Tensor pos = sum(truth * pred, {-1});
  Tensor neg = max((1.0 - truth) * pred, {-1});
  return maximum(neg - pos + 1.0, scalar_like(0.0, pred));
}

KLDivergence::KLDivergence(ReductionOptions o)
    : Loss(or_default(o.name, "kl_divergence"), o.reduction) {}

Tensor KLDivergence::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  auto [truth, pred] = operands(name(), y_true, y_pred);
  Tensor t = clip(truth, kEpsilon, 1.0);
  Tensor p = clip(pred, kEpsilon, 1.0);
  Tensor values = t * log(t / p);
  return values.ndim() == 0 ? values : sum(values, {-1});
}

Poisson::Poisson(ReductionOptions o) : Loss(or_default(o.name, "poisson"), o.reduction) {}

Tensor Poisson::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  auto [truth, pred] = operands(name(), y_true, y_pred);
  return mean_last(pred - truth * log(pred + kEpsilon));
}

}  // namespace lamina::losses
