// lamina/metrics.hpp — stateful metrics (update_state / result / reset_state), as in Keras.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "lamina/losses.hpp"
#include "lamina/ref.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

/// A metric accumulates over batches; result() is the running value (the epoch mean for the
/// mean-style metrics). Updates never record on the autodiff tape.
class Metric {
 public:
  explicit Metric(std::string name);
  virtual ~Metric();
  virtual void update_state(const Tensor& y_true, const Tensor& y_pred,
                            const Tensor& sample_weight = Tensor()) = 0;
  virtual double result() const = 0;
  virtual void reset_state() = 0;
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  /// Resolves Keras names ("mse", "mae", "binary_accuracy"...). "accuracy"/"acc" cannot be
  /// resolved without the loss: use metrics::get(name, loss).
  static std::shared_ptr<Metric> from_name(const std::string& name);

 private:
  std::string name_;
};

namespace metrics {

/// Weighted mean of per-sample values; the base of the mean-style metrics.
class MeanMetricWrapper : public Metric {
 public:
  using Fn = std::function<Tensor(const Tensor& y_true, const Tensor& y_pred)>;
  MeanMetricWrapper(std::string name, Fn per_sample);
  void update_state(const Tensor& y_true, const Tensor& y_pred,
                    const Tensor& sample_weight = Tensor()) override;
  double result() const override;
  void reset_state() override;

 private:
  Fn per_sample_;
  double total_ = 0.0;
  double count_ = 0.0;
};

/// The running weighted mean of the values given (the loss shown in the progress bar).
class Mean : public Metric {
 public:
  explicit Mean(std::string name = "mean");
  void update_state(const Tensor& values, const Tensor& unused = Tensor(),
                    const Tensor& sample_weight = Tensor()) override;
  void update(double value, double weight = 1.0);
  double result() const override;
  void reset_state() override;

 private:
  double total_ = 0.0;
  double count_ = 0.0;
};

/// y_pred > threshold equals y_true.
class BinaryAccuracy : public MeanMetricWrapper {
 public:
  explicit BinaryAccuracy(std::string name = "binary_accuracy", double threshold = 0.5);
};
/// argmax(y_pred) equals argmax(y_true).
class CategoricalAccuracy : public MeanMetricWrapper {
 public:
  explicit CategoricalAccuracy(std::string name = "categorical_accuracy");
};
/// argmax(y_pred) equals the integer y_true.
class SparseCategoricalAccuracy : public MeanMetricWrapper {
 public:
  explicit SparseCategoricalAccuracy(std::string name = "sparse_categorical_accuracy");
};
class MeanSquaredError : public MeanMetricWrapper {
 public:
  explicit MeanSquaredError(std::string name = "mean_squared_error");
};
class MeanAbsoluteError : public MeanMetricWrapper {
 public:
  explicit MeanAbsoluteError(std::string name = "mean_absolute_error");
};

/// Resolves a metric name the way Keras 3's compile does, from the first batch's shapes:
/// "accuracy"/"acc" become BinaryAccuracy when y_pred's last dimension is 1, else
/// SparseCategoricalAccuracy when y_true has lower rank than y_pred or a last dimension of 1,
/// else CategoricalAccuracy — each named as the user wrote it; "mse"/"mae" likewise keep the
/// user's name. Unknown names throw ValueError.
std::shared_ptr<Metric> get(const std::string& name, const Shape& y_true_shape,
                            const Shape& y_pred_shape);

}  // namespace metrics
}  // namespace lamina
