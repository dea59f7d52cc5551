// SPDX-License-Identifier: Apache-2.0
// src/metrics/accuracy.cpp — the accuracies. They run every batch, so they are ops on the
// predictions' device, producing per-sample 0/1 values that MeanMetricWrapper averages.
#include <nlohmann/json.hpp>

#include "lamina/errors.hpp"
#include "lamina/metrics.hpp"
#include "lamina/ops.hpp"
#include "metrics/common.hpp"

namespace lamina::metrics {

using namespace detail;

namespace {

// y_true (moved to y_pred's device) and y_pred aligned as Keras's squeeze_or_expand_to_same_rank, both as float64 (exact for
// every label and prediction type but int64 past 2^53, as the comparison in double always was)
// with the shape of the higher-rank one; `same(t, p)` gives the uint8 verdict of each element.
template <class Same>
Tensor elementwise_matches(const char* metric, const Tensor& y_true_in, const Tensor& y_pred,
                           Same same) {
  const Tensor y_true = y_true_in.to(y_pred.device());
  const Shape& ts = y_true.shape();
  const Shape& ps = y_pred.shape();
  bool fits = ts == ps;
  if (ts.rank() == ps.rank() + 1 && ts.back() == 1) fits = Shape(ts.begin(), ts.end() - 1) == ps;
  if (ps.rank() == ts.rank() + 1 && ps.back() == 1) fits = Shape(ps.begin(), ps.end() - 1) == ts;
  if (!fits) shapes_do_not_fit(metric, y_true, y_pred, "expected equal shapes");
  const Shape out = ts.rank() > ps.rank() ? ts : ps;
  NoGradGuard no_grad;
  return same(y_true.astype(float64).reshape(out), y_pred.astype(float64).reshape(out))
      .astype(float32);
}

// Target class of each row (int64, y_pred's shape without its class axis): the argmax of one-hot
// y_true, or the integer label (truncated, as a cast does).
Tensor targets(const char* metric, const Tensor& y_true, const Tensor& y_pred, bool sparse) {
  const Shape& ps = y_pred.shape();
  if (ps.rank() == 0) shapes_do_not_fit(metric, y_true, y_pred, "predictions need a class axis");
  const Shape label_shape(ps.begin(), ps.end() - 1);
  if (sparse) {
    Shape ts = y_true.shape();
    if (ts.rank() == ps.rank() && ts.back() == 1) ts.pop_back();
    if (ts != label_shape) {
      Shape with_one = label_shape;
      with_one.push_back(1);
      shapes_do_not_fit(metric, y_true, y_pred,
                        "expected labels of shape " + label_shape.str() + " or " + with_one.str());
    }
    return y_true.astype(int64).reshape(label_shape);
  }
  if (y_true.shape() != ps)
    shapes_do_not_fit(metric, y_true, y_pred,
                      "expected one-hot targets of the same shape (for integer labels use the "
                      "sparse_ accuracy)");
  return ps.back() == 0 ? Tensor::zeros(label_shape, int64, y_true.device()) : argmax(y_true, -1);
}

// 1 where the target is among the k highest predictions (fewer than k strictly higher); k = 0
// means "the argmax" (first maximum), as the plain categorical accuracies use. Targets outside
// [0, classes) never match.
Tensor top_k_matches(const char* metric, const Tensor& y_true, const Tensor& y_pred, int k,
                     bool sparse) {
  NoGradGuard no_grad;
  const Tensor target = targets(metric, y_true.to(y_pred.device()), y_pred, sparse);
  const std::int64_t classes = y_pred.dim(-1);
  const Device device = y_pred.device();
  Shape label_shape(y_pred.shape().begin(), y_pred.shape().end() - 1);
  const Shape out_shape = sparse && y_true.ndim() == y_pred.ndim() ? y_true.shape() : label_shape;
  if (classes == 0) return Tensor::zeros(out_shape, float32, device);
  Tensor hit;
  if (k == 0) {
    hit = argmax(y_pred, -1) == target;
  } else {
    // The target's own score (where() picks it exactly, NaN and infinities included), then the
    // number of strictly higher scores in its row.
    const Tensor pred = is_floating(y_pred.dtype()) ? y_pred : y_pred.astype(float64);
    label_shape.push_back(1);
    const Tensor is_target =
        Tensor::arange(classes, int64).to(device) == target.reshape(label_shape);
    const Tensor score = sum(where(is_target, pred, Tensor::zeros({}, pred.dtype(), device)), {-1},
                             true);
    hit = sum((pred > score).astype(int64), {-1}) < static_cast<double>(k);
  }
  const Tensor valid = minimum(target >= 0.0, target < static_cast<double>(classes));
  return minimum(hit, valid).astype(float32).reshape(out_shape);
}

}  // namespace

Accuracy::Accuracy(Name name)
    : MeanMetricWrapper(std::move(name), [](const Tensor& y_true, const Tensor& y_pred) {
        return elementwise_matches("accuracy", y_true, y_pred,
                                   [](const Tensor& t, const Tensor& p) { return t == p; });
      }) {}

BinaryAccuracy::BinaryAccuracy(Name name, double threshold)
    : MeanMetricWrapper(std::move(name),
                        [threshold](const Tensor& y_true, const Tensor& y_pred) {
                          return elementwise_matches("binary_accuracy", y_true, y_pred,
                                                     [threshold](const Tensor& t, const Tensor& p) {
                                                       return t == (p > threshold).astype(float64);
                                                     });
                        }),
      threshold_(threshold) {}

nlohmann::json BinaryAccuracy::get_config() const {
  nlohmann::json c = Metric::get_config();
  c["threshold"] = threshold_;
  return c;
}

CategoricalAccuracy::CategoricalAccuracy(Name name)
    : MeanMetricWrapper(std::move(name), [](const Tensor& y_true, const Tensor& y_pred) {
        return top_k_matches("categorical_accuracy", y_true, y_pred, 0, false);
      }) {}

SparseCategoricalAccuracy::SparseCategoricalAccuracy(Name name)
    : MeanMetricWrapper(std::move(name), [](const Tensor& y_true, const Tensor& y_pred) {
        return top_k_matches("sparse_categorical_accuracy", y_true, y_pred, 0, true);
      }) {}

namespace {
int checked_k(int k, const char* metric) {
  if (k < 1) throw ValueError(std::string(metric) + ": k must be at least 1, got " + std::to_string(k));
  return k;
}
}  // namespace

TopKCategoricalAccuracy::TopKCategoricalAccuracy(int k, Name name)
    : MeanMetricWrapper(std::move(name),
                        [k = checked_k(k, "TopKCategoricalAccuracy")](const Tensor& y_true,
                                                                      const Tensor& y_pred) {
                          return top_k_matches("top_k_categorical_accuracy", y_true, y_pred, k,
                                               false);
                        }),
      k_(k) {}

nlohmann::json TopKCategoricalAccuracy::get_config() const {
  nlohmann::json c = Metric::get_config();
  c["k"] = k_;
  return c;
}

SparseTopKCategoricalAccuracy::SparseTopKCategoricalAccuracy(int k, Name name)
    : MeanMetricWrapper(std::move(name),
                        [k = checked_k(k, "SparseTopKCategoricalAccuracy")](const Tensor& y_true,
                                                                            const Tensor& y_pred) {
                          return top_k_matches("sparse_top_k_categorical_accuracy", y_true, y_pred,
                                               k, true);
                        }),
      k_(k) {}

nlohmann::json SparseTopKCategoricalAccuracy::get_config() const {
  nlohmann::json c = Metric::get_config();
  c["k"] = k_;
  return c;
}

}  // namespace lamina::metrics
