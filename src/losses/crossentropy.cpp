// SPDX-License-Identifier: Apache-2.0
// src/losses/crossentropy.cpp — binary, categorical and sparse categorical cross-entropies and
// their focal variants. The categorical ones from logits use the fused softmax + cross-entropy
// kernels; the rest is composed from differentiable ops.
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "lamina/errors.hpp"
#include "lamina/losses.hpp"
#include "lamina/ops.hpp"
#include "losses/common.hpp"

namespace lamina::losses {

using namespace detail;

namespace {

// The logits behind a probability tensor, when the loss may use them: the tensor itself when the
// user says it holds logits, else the input of the softmax/sigmoid that produced it (TF-Keras
// scores those from the logits too: exact where the clipped probabilities would saturate).
std::pair<Tensor, bool> logits_or_probabilities(const Tensor& y_pred, bool from_logits,
                                                Tensor (*logits_of)(const Tensor&)) {
  if (from_logits) return {as_floating(y_pred), true};
  Tensor logits = logits_of(y_pred);
  if (logits.defined()) return {logits, true};
  return {as_floating(y_pred), false};
}

Tensor mean_over(const Tensor& t, int axis) { return t.ndim() == 0 ? t : mean(t, {axis}); }

nlohmann::json with_crossentropy_keys(nlohmann::json c, bool from_logits, double label_smoothing,
                                      int axis) {
  c["from_logits"] = from_logits;
  c["label_smoothing"] = label_smoothing;
  c["axis"] = axis;
  return c;
}

// Binary targets aligned with y_pred (same shape), cast and label-smoothed towards 0.5.
Tensor binary_targets(const std::string& loss, const Tensor& y_true, const Tensor& y_pred,
                      const Tensor& x, double label_smoothing) {
  Tensor y = y_true.astype(x.dtype());
  Tensor aligned_x = x;
  align_ranks(y, aligned_x);
  if (y.shape() != aligned_x.shape())
    shapes_do_not_fit(loss, y_true, y_pred, "expected equal shapes");
  if (label_smoothing > 0) y = y * (1.0 - label_smoothing) + 0.5 * label_smoothing;
  return y.reshape(x.shape());
}

// One-hot targets with the class axis last, label-smoothed to y·(1 - ls) + ls/C.
Tensor categorical_targets(const std::string& loss, const Tensor& y_true, const Tensor& y_pred,
                           Tensor& x, int axis, double label_smoothing) {
  Tensor y = y_true.astype(x.dtype());
  align_ranks(y, x);
  if (x.ndim() == 0 || y.shape() != x.shape())
    shapes_do_not_fit(loss, y_true, y_pred,
                      "expected one-hot targets of the same shape (for integer labels use "
                      "sparse_categorical_crossentropy)");
  x = axis_last(x, axis, loss);
  y = axis_last(y, axis, loss);
  if (label_smoothing > 0) {
    const double classes = static_cast<double>(x.dim(-1));
    y = y * (1.0 - label_smoothing) + label_smoothing / classes;
  }
  return y;
}

// Keras renormalises probabilities over the class axis, then clips.
Tensor renormalised(const Tensor& p) {
  return clip(p / sum(p, {-1}, true), kEpsilon, 1.0 - kEpsilon);
}

// Names the first label that is not a class index in [0, classes). Runs on a host copy, and only
// once the device has found that there is one.
[[noreturn]] void bad_label(const std::string& loss, const Tensor& labels, std::int64_t classes) {
  for (double value : labels.to_vector<double>()) {
    std::ostringstream msg;
    if (value != std::floor(value)) {
      msg << loss << ": label " << value << " is not a class index (an integer in [0, " << classes
          << "))";
      throw ValueError(msg.str());
    }
    if (value < 0 || value >= static_cast<double>(classes)) {
      msg << loss << ": label " << static_cast<std::int64_t>(value) << " is out of range for "
          << classes << " classes; labels must be in [0, " << classes << ")";
      throw ValueError(msg.str());
    }
  }
  throw ValueError(loss + ": labels are not class indices in [0, " + std::to_string(classes) + ")");
}

// Class indices as int64 on the labels' device, checked against [0, classes) there (only the
// verdict comes to the host); float labels must hold integers.
Tensor class_indices(const std::string& loss, const Tensor& labels, std::int64_t classes) {
  NoGradGuard no_grad;
  Tensor indices = labels.dtype() == int64 ? labels : labels.astype(int64);
  if (labels.numel() == 0) return indices;
  // uint8 0/1 flags: out of range, or (floats) not a whole number (NaN included).
  Tensor bad = maximum(indices < 0.0, indices >= static_cast<double>(classes));
  if (is_floating(labels.dtype())) bad = maximum(bad, labels != indices.astype(labels.dtype()));
  if (max(bad).item() != 0) bad_label(loss, labels, classes);
  return indices;
}

// Labels with the trailing 1 of (N, 1) dropped, checked against y_pred's leading axes.
Tensor sparse_labels(const std::string& loss, const Tensor& y_true, const Tensor& y_pred) {
  if (y_pred.ndim() == 0)
    throw ShapeError(loss + ": predictions must have a class axis, got shape " + y_pred.shape().str());
  Shape label_shape = without_last(y_pred.shape());
  Tensor labels = y_true;
  if (labels.ndim() == y_pred.ndim() && labels.dim(-1) == 1) labels = labels.reshape(label_shape);
  if (labels.shape() != label_shape)
    throw ShapeError(loss + ": labels of shape " + y_true.shape().str() +
                     " do not fit predictions of shape " + y_pred.shape().str() + "; expected " +
                     label_shape.str() + " or " + with_last_one(label_shape).str() +
                     " (for one-hot targets use categorical_crossentropy)");
  return labels;
}

// 1 where the label is not `ignore`, as y_pred's dtype; `labels` has those entries set to 0.
Tensor keep_mask(Tensor& labels, std::int64_t ignore, DType dtype) {
  NoGradGuard no_grad;
  const Tensor keep = labels.astype(float64) != static_cast<double>(ignore);
  labels = where(keep, labels, scalar_like(0.0, labels));
  return keep.astype(dtype);
}

}  // namespace

// --- binary cross-entropy --------------------------------------------------------------------------

BinaryCrossentropy::BinaryCrossentropy(CrossentropyOptions o)
    : Loss(or_default(o.name, "binary_crossentropy"), o.reduction), options_(o) {}

Tensor BinaryCrossentropy::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  auto [x, logits] = logits_or_probabilities(y_pred, options_.from_logits, &sigmoid_logits_of);
  Tensor y = binary_targets(name(), y_true, y_pred, x, options_.label_smoothing);
  return mean_over(binary_crossentropy_elements(y, x, logits), options_.axis);
}

nlohmann::json BinaryCrossentropy::get_config() const {
  return with_crossentropy_keys(Loss::get_config(), options_.from_logits, options_.label_smoothing,
                                options_.axis);
}

BinaryFocalCrossentropy::BinaryFocalCrossentropy(BinaryFocalOptions o)
    : Loss(or_default(o.name, "binary_focal_crossentropy"), o.reduction), options_(o) {}

Tensor BinaryFocalCrossentropy::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  const auto& o = options_;
  Tensor x = as_floating(y_pred);
  Tensor y = binary_targets(name(), y_true, y_pred, x, o.label_smoothing);
  Tensor bce = binary_crossentropy_elements(y, x, o.from_logits);
  // The focal factor uses the unclipped probabilities, as Keras does.
  Tensor p = o.from_logits ? sigmoid(x) : x;
  Tensor p_t = y * p + (1.0 - y) * (1.0 - p);
  Tensor focal = pow(1.0 - p_t, o.gamma) * bce;
  if (o.apply_class_balancing) focal = (y * o.alpha + (1.0 - y) * (1.0 - o.alpha)) * focal;
  return mean_over(focal, o.axis);
}

nlohmann::json BinaryFocalCrossentropy::get_config() const {
  nlohmann::json c = Loss::get_config();
  c["apply_class_balancing"] = options_.apply_class_balancing;
  c["alpha"] = options_.alpha;
  c["gamma"] = options_.gamma;
  return with_crossentropy_keys(c, options_.from_logits, options_.label_smoothing, options_.axis);
}

// --- categorical cross-entropies -------------------------------------------------------------------

CategoricalCrossentropy::CategoricalCrossentropy(CrossentropyOptions o)
    : Loss(or_default(o.name, "categorical_crossentropy"), o.reduction), options_(o) {}

Tensor CategoricalCrossentropy::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  auto [x, logits] = logits_or_probabilities(y_pred, options_.from_logits, &softmax_logits_of);
  if (logits && options_.axis != -1 && options_.axis != x.ndim() - 1 && !options_.from_logits) {
    // The softmax ran over the last axis, not over `axis`: score its probabilities instead.
    x = as_floating(y_pred);
    logits = false;
  }
  Tensor y = categorical_targets(name(), y_true, y_pred, x, options_.axis, options_.label_smoothing);
  if (logits) return softmax_cross_entropy(x, y);
  return -sum(y * log(renormalised(x)), {-1});
}

nlohmann::json CategoricalCrossentropy::get_config() const {
  return with_crossentropy_keys(Loss::get_config(), options_.from_logits, options_.label_smoothing,
                                options_.axis);
}

CategoricalFocalCrossentropy::CategoricalFocalCrossentropy(CategoricalFocalOptions o)
    : Loss(or_default(o.name, "categorical_focal_crossentropy"), o.reduction), options_(o) {}

Tensor CategoricalFocalCrossentropy::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  const auto& o = options_;
  Tensor x = as_floating(y_pred);
  Tensor y = categorical_targets(name(), y_true, y_pred, x, o.axis, o.label_smoothing);
  Tensor p = renormalised(o.from_logits ? softmax(x) : x);
  return sum(pow(1.0 - p, o.gamma) * o.alpha * (-y * log(p)), {-1});
}

nlohmann::json CategoricalFocalCrossentropy::get_config() const {
  nlohmann::json c = Loss::get_config();
  c["alpha"] = options_.alpha;
  c["gamma"] = options_.gamma;
  return with_crossentropy_keys(c, options_.from_logits, options_.label_smoothing, options_.axis);
}

// --- sparse categorical cross-entropy --------------------------------------------------------------

SparseCategoricalCrossentropy::SparseCategoricalCrossentropy(SparseCrossentropyOptions o)
    : Loss(or_default(o.name, "sparse_categorical_crossentropy"), o.reduction), options_(o) {}

Tensor SparseCategoricalCrossentropy::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  Tensor labels = sparse_labels(name(), y_true, y_pred);
  auto [x, logits] = logits_or_probabilities(y_pred, options_.from_logits, &softmax_logits_of);
  Tensor keep;
  if (options_.ignore_class) keep = keep_mask(labels, *options_.ignore_class, x.dtype());
  const std::int64_t classes = x.dim(-1);
  Tensor indices = class_indices(name(), labels, classes);
  Tensor values = logits ? sparse_softmax_cross_entropy(x, indices)
                         : -sum(one_hot(indices, classes, x.dtype()) * log(renormalised(x)), {-1});
  return keep.defined() ? values * keep : values;
}

Tensor SparseCategoricalCrossentropy::valid_mask(const Tensor& y_true, const Tensor& y_pred) const {
  if (!options_.ignore_class) return Tensor();
  Tensor labels = sparse_labels(name(), y_true, y_pred);
  return keep_mask(labels, *options_.ignore_class, float64);
}

nlohmann::json SparseCategoricalCrossentropy::get_config() const {
  nlohmann::json c = Loss::get_config();
  c["from_logits"] = options_.from_logits;
  c["ignore_class"] = options_.ignore_class ? nlohmann::json(*options_.ignore_class) : nlohmann::json();
  return c;
}

}  // namespace lamina::losses
