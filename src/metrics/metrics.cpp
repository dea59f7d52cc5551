// src/metrics/metrics.cpp — Keras's stateful metrics. They run every batch, so the accuracies are
// plain loops over the raw data and the running means accumulate in double precision.
#include "lamina/metrics.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>

#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "tensor/dispatch.hpp"

namespace lamina {
namespace {

/// Calls f(const T* data) with the tensor's elements in their own type (on the CPU).
template <class F>
void visit(const Tensor& t, F&& f) {
  detail::dispatch_all(t.dtype(), [&](auto tag) { f(t.template data<decltype(tag)>()); });
}

Tensor on_cpu(const Tensor& t) { return t.device() == Device::cpu() ? t : t.to(Device::cpu()); }

std::int64_t product(const Shape& s, int from, int to) {
  std::int64_t p = 1;
  for (int i = from; i < to; ++i) p *= s[i];
  return p;
}

[[noreturn]] void shapes_do_not_fit(const std::string& metric, const Tensor& y_true,
                                    const Tensor& y_pred, const std::string& expected) {
  throw ShapeError(metric + ": y_true of shape " + y_true.shape().str() +
                   " does not fit y_pred of shape " + y_pred.shape().str() + "; " + expected);
}

// Keras's reduce_to_samplewise_values followed by Mean.update_state: values are averaged over the
// axes the weights do not cover, multiplied by the (broadcast) weights and summed into `total`;
// `count` grows by the number of samples, or by the weights' sum when weights are given.
void accumulate(const std::string& metric, const Tensor& values_in, const Tensor& weight_in,
                double& total, double& count) {
  Tensor values_t = on_cpu(values_in);
  const std::vector<double> values = values_t.to_vector<double>();
  Shape vs = values_t.shape();
  if (!weight_in.defined()) {
    if (vs.rank() == 0) {
      total += values[0];
      count += 1.0;
      return;
    }
    if (vs[0] == 0 || values.empty()) return;
    double sum = 0.0;
    for (double v : values) sum += v;
    double per_sample = static_cast<double>(values.size()) / static_cast<double>(vs[0]);
    total += sum / per_sample;
    count += static_cast<double>(vs[0]);
    return;
  }

  const std::vector<double> weights = on_cpu(weight_in).to_vector<double>();
  Shape ws = weight_in.shape();
  // Keras's squeeze_or_expand_to_same_rank, on shapes only (the data is contiguous either way).
  if (vs.rank() == ws.rank() + 1 && vs.back() == 1) {
    if (ws.rank() == 1)
      ws.push_back(1);
    else
      vs.pop_back();
  } else if (ws.rank() == vs.rank() + 1 && ws.back() == 1) {
    if (vs.rank() == 1)
      vs.push_back(1);
    else
      ws.pop_back();
  }
  const int k = ws.rank();
  bool fits = k <= vs.rank();
  for (int i = 0; fits && i < k; ++i) fits = ws[i] == vs[i] || ws[i] == 1;
  if (!fits)
    throw ShapeError(metric + ": sample_weight of shape " + weight_in.shape().str() +
                     " does not fit values of shape " + values_in.shape().str());

  // Values averaged over the trailing axes beyond the weights' rank: `groups` means of `group`.
  const std::int64_t group = product(vs, k, vs.rank());
  const std::int64_t groups = product(vs, 0, k);
  if (groups == 0 || group == 0) return;
  // Weight index of each group: row-major over vs[:k] with stride 0 on broadcast axes.
  std::vector<std::int64_t> stride(k, 0), index(k, 0);
  for (std::int64_t s = 1, i = k - 1; i >= 0; --i) {
    stride[i] = ws[i] == 1 ? 0 : s;
    s *= ws[i];
  }
  double weighted = 0.0, weight_sum = 0.0;
  std::int64_t w_at = 0;
  for (std::int64_t g = 0; g < groups; ++g) {
    double mean = 0.0;
    for (std::int64_t j = 0; j < group; ++j) mean += values[g * group + j];
    mean /= static_cast<double>(group);
    weighted += mean * weights[w_at];
    weight_sum += weights[w_at];
    for (int i = k - 1; i >= 0; --i) {  // advance the multi-index over vs[:k]
      w_at += stride[i];
      if (++index[i] < vs[i]) break;
      w_at -= stride[i] * vs[i];
      index[i] = 0;
    }
  }
  // Per-sample weights over several axes are averaged over all but the first (Keras).
  const double inner = k > 1 ? static_cast<double>(groups / vs[0]) : 1.0;
  total += weighted / inner;
  count += weight_sum / inner;
}

template <class T>
std::int64_t argmax_row(const T* row, std::int64_t n) {
  std::int64_t best = 0;
  for (std::int64_t j = 1; j < n; ++j)
    if (row[j] > row[best]) best = j;
  return best;
}

// (y_pred > threshold) == y_true, elementwise, after Keras's rank alignment.
Tensor binary_matches(const Tensor& y_true_in, const Tensor& y_pred_in, double threshold) {
  Tensor y_true = on_cpu(y_true_in), y_pred = on_cpu(y_pred_in);
  const Shape& ts = y_true.shape();
  const Shape& ps = y_pred.shape();
  bool fits = ts == ps;
  if (ts.rank() == ps.rank() + 1 && ts.back() == 1) fits = Shape(ts.begin(), ts.end() - 1) == ps;
  if (ps.rank() == ts.rank() + 1 && ps.back() == 1) fits = Shape(ps.begin(), ps.end() - 1) == ts;
  if (!fits) shapes_do_not_fit("binary_accuracy", y_true_in, y_pred_in, "expected equal shapes");
  Tensor out = Tensor::empty(ts.rank() > ps.rank() ? ts : ps, float32);
  float* dst = out.data<float>();
  const std::int64_t n = y_pred.numel();
  visit(y_pred, [&](const auto* pred) {
    visit(y_true, [&](const auto* truth) {
      for (std::int64_t i = 0; i < n; ++i) {
        double predicted = static_cast<double>(pred[i]) > threshold ? 1.0 : 0.0;
        dst[i] = static_cast<double>(truth[i]) == predicted ? 1.0f : 0.0f;
      }
    });
  });
  return out;
}

// argmax(y_pred) == argmax(y_true) over the last axis.
Tensor categorical_matches(const Tensor& y_true_in, const Tensor& y_pred_in) {
  Tensor y_true = on_cpu(y_true_in), y_pred = on_cpu(y_pred_in);
  if (y_pred.ndim() == 0 || y_true.shape() != y_pred.shape())
    shapes_do_not_fit("categorical_accuracy", y_true_in, y_pred_in,
                      "expected one-hot targets of the same shape (for integer labels use "
                      "sparse_categorical_accuracy)");
  const std::int64_t classes = y_pred.dim(-1);
  Tensor out = Tensor::empty(Shape(y_pred.shape().begin(), y_pred.shape().end() - 1), float32);
  float* dst = out.data<float>();
  const std::int64_t rows = out.numel();
  if (classes == 0) return out.fill(0.0);
  visit(y_pred, [&](const auto* pred) {
    visit(y_true, [&](const auto* truth) {
      for (std::int64_t r = 0; r < rows; ++r)
        dst[r] = argmax_row(pred + r * classes, classes) == argmax_row(truth + r * classes, classes)
                     ? 1.0f
                     : 0.0f;
    });
  });
  return out;
}

// argmax(y_pred) == the integer label; the result has y_true's shape ((N) or (N, 1)).
Tensor sparse_categorical_matches(const Tensor& y_true_in, const Tensor& y_pred_in) {
  Tensor y_true = on_cpu(y_true_in), y_pred = on_cpu(y_pred_in);
  if (y_pred.ndim() == 0)
    shapes_do_not_fit("sparse_categorical_accuracy", y_true_in, y_pred_in,
                      "predictions need a class axis");
  Shape label_shape(y_pred.shape().begin(), y_pred.shape().end() - 1);
  Shape ts = y_true.shape();
  if (ts.rank() == y_pred.ndim() && ts.back() == 1) ts.pop_back();
  if (ts != label_shape) {
    Shape with_one = label_shape;
    with_one.push_back(1);
    shapes_do_not_fit("sparse_categorical_accuracy", y_true_in, y_pred_in,
                      "expected labels of shape " + label_shape.str() + " or " + with_one.str());
  }
  const std::int64_t classes = y_pred.dim(-1);
  Tensor out = Tensor::empty(y_true.shape(), float32);
  float* dst = out.data<float>();
  const std::int64_t rows = out.numel();
  if (classes == 0) return out.fill(0.0);
  visit(y_pred, [&](const auto* pred) {
    visit(y_true, [&](const auto* label) {
      for (std::int64_t r = 0; r < rows; ++r)
        dst[r] = static_cast<double>(label[r]) ==
                         static_cast<double>(argmax_row(pred + r * classes, classes))
                     ? 1.0f
                     : 0.0f;
    });
  });
  return out;
}

template <class L>
metrics::MeanMetricWrapper::Fn per_sample_of() {
  return [](const Tensor& y_true, const Tensor& y_pred) {
    static const L loss;
    return loss.per_sample(y_true, y_pred);
  };
}

template <class M>
std::shared_ptr<Metric> named(const std::string& name) {
  return std::make_shared<M>(name);
}

// A loss's per-sample values, averaged like any mean metric ("binary_crossentropy" as a metric).
template <class L>
std::shared_ptr<Metric> loss_metric(const std::string& name) {
  return std::make_shared<metrics::MeanMetricWrapper>(name, per_sample_of<L>());
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

// --- Metric -------------------------------------------------------------------------------------

Metric::Metric(std::string name) : name_(std::move(name)) {}
Metric::~Metric() = default;

std::shared_ptr<Metric> Metric::from_name(const std::string& name) {
  using Factory = std::shared_ptr<Metric> (*)(const std::string&);
  // Canonical names; each metric is named as the user wrote it, as Keras's compile does.
  static const std::map<std::string, Factory> known = {
      {"binary_accuracy", &named<metrics::BinaryAccuracy>},
      {"categorical_accuracy", &named<metrics::CategoricalAccuracy>},
      {"sparse_categorical_accuracy", &named<metrics::SparseCategoricalAccuracy>},
      {"mean_squared_error", &named<metrics::MeanSquaredError>},
      {"mean_absolute_error", &named<metrics::MeanAbsoluteError>},
      {"binary_crossentropy", &loss_metric<losses::BinaryCrossentropy>},
      {"categorical_crossentropy", &loss_metric<losses::CategoricalCrossentropy>},
      {"sparse_categorical_crossentropy", &loss_metric<losses::SparseCategoricalCrossentropy>},
  };
  static const std::map<std::string, std::string> aliases = {
      {"BinaryAccuracy", "binary_accuracy"},
      {"CategoricalAccuracy", "categorical_accuracy"},
      {"SparseCategoricalAccuracy", "sparse_categorical_accuracy"},
      {"mse", "mean_squared_error"},
      {"MSE", "mean_squared_error"},
      {"MeanSquaredError", "mean_squared_error"},
      {"mae", "mean_absolute_error"},
      {"MAE", "mean_absolute_error"},
      {"MeanAbsoluteError", "mean_absolute_error"},
      {"BinaryCrossentropy", "binary_crossentropy"},
      {"CategoricalCrossentropy", "categorical_crossentropy"},
      {"SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"},
  };
  if (const std::string l = lower(name); l == "accuracy" || l == "acc")
    throw ValueError("metric '" + name +
                     "' depends on the shapes of the targets and predictions: resolve it with "
                     "metrics::get(name, y_true_shape, y_pred_shape), or name the accuracy "
                     "('binary_accuracy', 'categorical_accuracy', 'sparse_categorical_accuracy')");
  std::string key = name;
  if (auto a = aliases.find(name); a != aliases.end()) key = a->second;
  if (auto k = known.find(key); k != known.end()) return k->second(name);
  std::string list = "'accuracy'";
  for (const auto& entry : known) list += ", '" + entry.first + "'";
  throw ValueError("unknown metric '" + name + "'; available metrics: " + list +
                   " (and the aliases 'acc', 'mse', 'mae' and the class names)");
}

namespace metrics {

// --- MeanMetricWrapper and Mean
// --------------------------------------------------------------------

MeanMetricWrapper::MeanMetricWrapper(std::string name, Fn per_sample)
    : Metric(std::move(name)), per_sample_(std::move(per_sample)) {
  if (!per_sample_) throw ValueError("MeanMetricWrapper '" + this->name() + "': empty function");
}

void MeanMetricWrapper::update_state(const Tensor& y_true, const Tensor& y_pred,
                                     const Tensor& sample_weight) {
  NoGradGuard no_grad;
  accumulate(name(), per_sample_(y_true, y_pred), sample_weight, total_, count_);
}

double MeanMetricWrapper::result() const { return count_ == 0.0 ? 0.0 : total_ / count_; }

void MeanMetricWrapper::reset_state() { total_ = count_ = 0.0; }

Mean::Mean(std::string name) : Metric(std::move(name)) {}

void Mean::update_state(const Tensor& values, const Tensor&, const Tensor& sample_weight) {
  NoGradGuard no_grad;
  accumulate(name(), values, sample_weight, total_, count_);
}

void Mean::update(double value, double weight) {
  total_ += value * weight;
  count_ += weight;
}

double Mean::result() const { return count_ == 0.0 ? 0.0 : total_ / count_; }

void Mean::reset_state() { total_ = count_ = 0.0; }

// --- the concrete metrics
// ---------------------------------------------------------------------------

BinaryAccuracy::BinaryAccuracy(std::string name, double threshold)
    : MeanMetricWrapper(std::move(name), [threshold](const Tensor& y_true, const Tensor& y_pred) {
        return binary_matches(y_true, y_pred, threshold);
      }) {}

CategoricalAccuracy::CategoricalAccuracy(std::string name)
    : MeanMetricWrapper(std::move(name), &categorical_matches) {}

SparseCategoricalAccuracy::SparseCategoricalAccuracy(std::string name)
    : MeanMetricWrapper(std::move(name), &sparse_categorical_matches) {}

MeanSquaredError::MeanSquaredError(std::string name)
    : MeanMetricWrapper(std::move(name), per_sample_of<losses::MeanSquaredError>()) {}

MeanAbsoluteError::MeanAbsoluteError(std::string name)
    : MeanMetricWrapper(std::move(name), per_sample_of<losses::MeanAbsoluteError>()) {}

std::shared_ptr<Metric> get(const std::string& name, const Shape& y_true_shape,
                            const Shape& y_pred_shape) {
  const std::string l = lower(name);
  if (l != "accuracy" && l != "acc") return Metric::from_name(name);
  // Keras 3's compile rule. A rank-1 y_pred (one value per sample) counts as binary too: an argmax
  // over the batch axis would be meaningless.
  const bool binary = y_pred_shape.rank() <= 1 || y_pred_shape.back() == 1;
  const bool sparse = y_true_shape.rank() < y_pred_shape.rank() ||
                      (y_true_shape.rank() > 0 && y_true_shape.back() == 1);
  if (binary) return std::make_shared<BinaryAccuracy>(name);
  if (sparse) return std::make_shared<SparseCategoricalAccuracy>(name);
  return std::make_shared<CategoricalAccuracy>(name);
}

}  // namespace metrics
}  // namespace lamina
