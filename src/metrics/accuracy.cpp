// SPDX-License-Identifier: Apache-2.0
// src/metrics/accuracy.cpp — the accuracies. They run every batch, so they are plain loops over the
// raw data, producing per-sample 0/1 values that MeanMetricWrapper averages.
#include <nlohmann/json.hpp>

#include "lamina/errors.hpp"
#include "lamina/metrics.hpp"
#include "metrics/common.hpp"

namespace lamina::metrics {

using namespace detail;

namespace {

template <class T>
std::int64_t argmax_row(const T* row, std::int64_t n) {
  std::int64_t best = 0;
  for (std::int64_t j = 1; j < n; ++j)
    if (row[j] > row[best]) best = j;
  return best;
}

// y_true and y_pred aligned as Keras's squeeze_or_expand_to_same_rank; the result has the shape of
// the higher-rank one. `same(t, p)` decides each element.
template <class Same>
Tensor elementwise_matches(const char* metric, const Tensor& y_true_in, const Tensor& y_pred_in,
                           Same same) {
  Tensor y_true = on_cpu(y_true_in), y_pred = on_cpu(y_pred_in);
  const Shape& ts = y_true.shape();
  const Shape& ps = y_pred.shape();
  bool fits = ts == ps;
  if (ts.rank() == ps.rank() + 1 && ts.back() == 1) fits = Shape(ts.begin(), ts.end() - 1) == ps;
  if (ps.rank() == ts.rank() + 1 && ps.back() == 1) fits = Shape(ps.begin(), ps.end() - 1) == ts;
  if (!fits) shapes_do_not_fit(metric, y_true_in, y_pred_in, "expected equal shapes");
  Tensor out = Tensor::empty(ts.rank() > ps.rank() ? ts : ps, float32);
  float* dst = out.data<float>();
  const std::int64_t n = y_pred.numel();
  visit(y_pred, [&](const auto* pred) {
    visit(y_true, [&](const auto* truth) {
      for (std::int64_t i = 0; i < n; ++i)
        dst[i] = same(static_cast<double>(truth[i]), static_cast<double>(pred[i])) ? 1.0f : 0.0f;
    });
  });
  return out;
}

// Target class of each row: argmax of one-hot y_true, or the integer label.
std::vector<std::int64_t> targets(const char* metric, const Tensor& y_true_in,
                                  const Tensor& y_pred_in, bool sparse) {
  Tensor y_true = on_cpu(y_true_in);
  const Shape& ps = y_pred_in.shape();
  if (ps.rank() == 0)
    shapes_do_not_fit(metric, y_true_in, y_pred_in, "predictions need a class axis");
  const Shape label_shape(ps.begin(), ps.end() - 1);
  const std::int64_t classes = ps.back();
  std::vector<std::int64_t> out;
  if (sparse) {
    Shape ts = y_true.shape();
    if (ts.rank() == ps.rank() && ts.back() == 1) ts.pop_back();
    if (ts != label_shape) {
      Shape with_one = label_shape;
      with_one.push_back(1);
      shapes_do_not_fit(metric, y_true_in, y_pred_in,
                        "expected labels of shape " + label_shape.str() + " or " + with_one.str());
    }
    for (double v : y_true.to_vector<double>()) out.push_back(static_cast<std::int64_t>(v));
    return out;
  }
  if (y_true.shape() != ps)
    shapes_do_not_fit(metric, y_true_in, y_pred_in,
                      "expected one-hot targets of the same shape (for integer labels use the "
                      "sparse_ accuracy)");
  const std::int64_t rows = label_shape.numel();
  visit(y_true, [&](const auto* truth) {
    for (std::int64_t r = 0; r < rows; ++r)
      out.push_back(classes == 0 ? 0 : argmax_row(truth + r * classes, classes));
  });
  return out;
}

// 1 where the target is among the k highest predictions (fewer than k strictly higher); k = 0
// means "the argmax" (first maximum), as the plain categorical accuracies use.
Tensor top_k_matches(const char* metric, const Tensor& y_true, const Tensor& y_pred_in, int k,
                     bool sparse) {
  const std::vector<std::int64_t> target = targets(metric, y_true, y_pred_in, sparse);
  Tensor y_pred = on_cpu(y_pred_in);
  const std::int64_t classes = y_pred.dim(-1);
  Shape out_shape(y_pred.shape().begin(), y_pred.shape().end() - 1);
  if (sparse && y_true.ndim() == y_pred.ndim()) out_shape = y_true.shape();
  Tensor out = Tensor::empty(out_shape, float32);
  float* dst = out.data<float>();
  visit(y_pred, [&](const auto* pred) {
    for (std::size_t r = 0; r < target.size(); ++r) {
      const auto* row = pred + static_cast<std::int64_t>(r) * classes;
      const std::int64_t t = target[r];
      bool hit = false;
      if (classes > 0 && t >= 0 && t < classes) {
        if (k == 0) {
          hit = argmax_row(row, classes) == t;
        } else {
          std::int64_t higher = 0;
          for (std::int64_t j = 0; j < classes; ++j) higher += row[j] > row[t];
          hit = higher < k;
        }
      }
      dst[r] = hit ? 1.0f : 0.0f;
    }
  });
  return out;
}

}  // namespace

Accuracy::Accuracy(Name name)
    : MeanMetricWrapper(std::move(name), [](const Tensor& y_true, const Tensor& y_pred) {
        return elementwise_matches("accuracy", y_true, y_pred,
                                   [](double t, double p) { return t == p; });
      }) {}

BinaryAccuracy::BinaryAccuracy(Name name, double threshold)
    : MeanMetricWrapper(std::move(name),
                        [threshold](const Tensor& y_true, const Tensor& y_pred) {
                          return elementwise_matches("binary_accuracy", y_true, y_pred,
                                                     [threshold](double t, double p) {
                                                       return t == (p > threshold ? 1.0 : 0.0);
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
