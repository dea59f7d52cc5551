// SPDX-License-Identifier: Apache-2.0
// lamina/metrics.hpp — stateful metrics (update_state / result / reset_state), as in Keras, with
// Keras's names, defaults and configs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "lamina/losses.hpp"
#include "lamina/name.hpp"
#include "lamina/ref.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

/// A metric accumulates over batches; result() is the running value (the epoch mean for the
/// mean-style metrics). Updates never record on the autodiff tape.
class Metric {
 public:
  using Fn = std::function<Tensor(const Tensor& y_true, const Tensor& y_pred)>;

  explicit Metric(std::string name);
  virtual ~Metric();
  /// Adds one batch. sample_weight: (N) (or broadcastable to the per-sample values), or undefined.
  virtual void update_state(const Tensor& y_true, const Tensor& y_pred,
                            const Tensor& sample_weight = Tensor()) = 0;
  /// The value so far (0 before any update). For vector-valued metrics (several thresholds,
  /// per-class scores) the mean of results(), which is what the logs show.
  virtual double result() const = 0;
  /// Every value of a vector-valued result, in Keras's order; {result()} for scalar metrics.
  virtual std::vector<double> results() const { return {result()}; }
  virtual void reset_state() = 0;
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  /// Keras's class name ("BinaryAccuracy").
  virtual std::string class_name() const { return "Metric"; }
  /// Keras 3's config: {"name", "dtype": "float32", ...the metric's own arguments}.
  virtual nlohmann::json get_config() const;

  /// Resolves Keras names ("mse", "binary_accuracy", "auc", class names...). A function name or
  /// alias keeps the name as written; a class name gives the class's default name. "accuracy"/
  /// "acc" cannot be resolved without the shapes: use metrics::get(name, y_true, y_pred shapes).
  static std::shared_ptr<Metric> from_name(const std::string& name);
  /// The weighted mean of a user function's per-sample values.
  static std::shared_ptr<Metric> from_function(Fn fn, std::string name = "custom_metric");
  /// Rebuilds a metric from its class name and get_config(). Throws ValueError for an unknown
  /// class or a bad value.
  static std::shared_ptr<Metric> from_config(const std::string& class_name,
                                             const nlohmann::json& config);

 private:
  std::string name_;
};

namespace metrics {

/// Weighted mean of per-sample values; the base of the mean-style metrics.
class MeanMetricWrapper : public Metric {
 public:
  MeanMetricWrapper(std::string name, Fn per_sample);
  void update_state(const Tensor& y_true, const Tensor& y_pred,
                    const Tensor& sample_weight = Tensor()) override;
  double result() const override;
  void reset_state() override;
  std::string class_name() const override { return "MeanMetricWrapper"; }

 private:
  Fn per_sample_;
  double total_ = 0.0;
  double count_ = 0.0;
};

/// The running weighted mean of the values given (the loss shown in the progress bar). Values of
/// shape (N, ...) count as N samples, each the mean of its trailing values.
class Mean : public Metric {
 public:
  explicit Mean(Name name = "mean");
  void update_state(const Tensor& values, const Tensor& unused = Tensor(),
                    const Tensor& sample_weight = Tensor()) override;
  void update(double value, double weight = 1.0);
  double result() const override;
  void reset_state() override;
  std::string class_name() const override { return "Mean"; }

 private:
  double total_ = 0.0;
  double count_ = 0.0;
};

/// The running weighted sum of the values given.
class Sum : public Metric {
 public:
  explicit Sum(Name name = "sum");
  void update_state(const Tensor& values, const Tensor& unused = Tensor(),
                    const Tensor& sample_weight = Tensor()) override;
  double result() const override { return total_; }
  void reset_state() override { total_ = 0.0; }
  std::string class_name() const override { return "Sum"; }

 private:
  double total_ = 0.0;
};

// --- accuracies --------------------------------------------------------------------------------

/// y_pred equals y_true, elementwise (averaged over the trailing axes of each sample).
class Accuracy : public MeanMetricWrapper {
 public:
  explicit Accuracy(Name name = "accuracy");
  std::string class_name() const override { return "Accuracy"; }
};
/// y_pred > threshold equals y_true.
class BinaryAccuracy : public MeanMetricWrapper {
 public:
  explicit BinaryAccuracy(Name name = "binary_accuracy", double threshold = 0.5);
  std::string class_name() const override { return "BinaryAccuracy"; }
  nlohmann::json get_config() const override;
  double threshold() const { return threshold_; }

 private:
  double threshold_;
};
/// argmax(y_pred) equals argmax(y_true).
class CategoricalAccuracy : public MeanMetricWrapper {
 public:
  explicit CategoricalAccuracy(Name name = "categorical_accuracy");
  std::string class_name() const override { return "CategoricalAccuracy"; }
};
/// argmax(y_pred) equals the integer y_true.
class SparseCategoricalAccuracy : public MeanMetricWrapper {
 public:
  explicit SparseCategoricalAccuracy(Name name = "sparse_categorical_accuracy");
  std::string class_name() const override { return "SparseCategoricalAccuracy"; }
};
/// The target class (argmax of one-hot y_true) is among the k highest predictions. Ties at the
/// k-th place count as in (TensorFlow's in_top_k): fewer than k predictions are strictly higher.
class TopKCategoricalAccuracy : public MeanMetricWrapper {
 public:
  explicit TopKCategoricalAccuracy(int k = 5, Name name = "top_k_categorical_accuracy");
  std::string class_name() const override { return "TopKCategoricalAccuracy"; }
  nlohmann::json get_config() const override;
  int k() const { return k_; }

 private:
  int k_;
};
/// As TopKCategoricalAccuracy with integer labels (N) or (N, 1).
class SparseTopKCategoricalAccuracy : public MeanMetricWrapper {
 public:
  explicit SparseTopKCategoricalAccuracy(int k = 5,
                                         Name name = "sparse_top_k_categorical_accuracy");
  std::string class_name() const override { return "SparseTopKCategoricalAccuracy"; }
  nlohmann::json get_config() const override;
  int k() const { return k_; }

 private:
  int k_;
};

// --- regression --------------------------------------------------------------------------------

class MeanSquaredError : public MeanMetricWrapper {
 public:
  explicit MeanSquaredError(Name name = "mean_squared_error");
  std::string class_name() const override { return "MeanSquaredError"; }
};
/// sqrt of the weighted mean of the squared errors (over every element, then the root).
class RootMeanSquaredError : public MeanMetricWrapper {
 public:
  explicit RootMeanSquaredError(Name name = "root_mean_squared_error");
  std::string class_name() const override { return "RootMeanSquaredError"; }
  double result() const override;
};
class MeanAbsoluteError : public MeanMetricWrapper {
 public:
  explicit MeanAbsoluteError(Name name = "mean_absolute_error");
  std::string class_name() const override { return "MeanAbsoluteError"; }
};
class MeanAbsolutePercentageError : public MeanMetricWrapper {
 public:
  explicit MeanAbsolutePercentageError(Name name = "mean_absolute_percentage_error");
  std::string class_name() const override { return "MeanAbsolutePercentageError"; }
};
/// The mean cosine similarity of y_true and y_pred along axis (+1 for parallel vectors).
class CosineSimilarity : public MeanMetricWrapper {
 public:
  explicit CosineSimilarity(Name name = "cosine_similarity", int axis = -1);
  std::string class_name() const override { return "CosineSimilarity"; }
  nlohmann::json get_config() const override;

 private:
  int axis_;
};

/// A loss's per-sample values as a mean metric ("binary_crossentropy", "kl_divergence"... as
/// metrics), named and configured like the loss.
class LossMetric : public MeanMetricWrapper {
 public:
  LossMetric(std::shared_ptr<Loss> loss, Name name = {});
  std::string class_name() const override;
  nlohmann::json get_config() const override;
  const Loss& loss() const { return *loss_; }

 private:
  std::shared_ptr<Loss> loss_;
};

struct R2ScoreOptions {
  /// "uniform_average" (the mean over outputs), "variance_weighted_average", or "" (per output,
  /// Keras's None: results() holds one score per output).
  std::string class_aggregation = "uniform_average";
  /// Adjusted R²: 1 - (1 - R²)(n - 1)/(n - p - 1) with n the number of values seen.
  int num_regressors = 0;
  std::string name = "r2_score";
};

/// Keras's R2Score over (N, outputs) (or (N)) targets, weighted per sample.
class R2Score : public Metric {
 public:
  explicit R2Score(R2ScoreOptions options = {});
  void update_state(const Tensor& y_true, const Tensor& y_pred,
                    const Tensor& sample_weight = Tensor()) override;
  double result() const override;
  std::vector<double> results() const override;
  void reset_state() override;
  std::string class_name() const override { return "R2Score"; }
  nlohmann::json get_config() const override;

 private:
  std::vector<double> raw_scores() const;
  double adjusted(double score) const;
  R2ScoreOptions options_;
  std::vector<double> sum_, squared_sum_, total_mse_, count_;
  double num_samples_ = 0.0;
};

// --- confusion-matrix metrics ------------------------------------------------------------------

struct PrecisionRecallOptions {
  /// Predictions strictly above a threshold count as positive; empty means Keras's default (0.5,
  /// or "any of the top_k" when top_k is set). Several thresholds give several results().
  std::vector<double> thresholds{};
  /// Only the k highest predictions of each sample may count as positive.
  std::optional<int> top_k{};
  /// Score one class (a column of y_true/y_pred) only.
  std::optional<int> class_id{};
  std::string name{};
};

/// TP / (TP + FP), 0 when nothing was predicted positive; counts weighted by sample_weight.
class Precision : public Metric {
 public:
  explicit Precision(PrecisionRecallOptions options = {});
  void update_state(const Tensor& y_true, const Tensor& y_pred,
                    const Tensor& sample_weight = Tensor()) override;
  double result() const override;
  std::vector<double> results() const override;
  void reset_state() override;
  std::string class_name() const override { return "Precision"; }
  nlohmann::json get_config() const override;

 protected:
  Precision(PrecisionRecallOptions options, const char* default_name);
  PrecisionRecallOptions options_;
  std::vector<double> tp_, fp_, fn_;
};

/// TP / (TP + FN), 0 when there were no positives.
class Recall : public Precision {
 public:
  explicit Recall(PrecisionRecallOptions options = {});
  std::vector<double> results() const override;
  std::string class_name() const override { return "Recall"; }
};

struct AUCOptions {
  int num_thresholds = 200;
  std::string curve = "ROC";  ///< "ROC" or "PR"
  std::string summation_method = "interpolation";  ///< or "minoring", "majoring"
  /// Several labels (the last axis) scored separately and averaged (label_weights weigh them);
  /// otherwise every value counts as one binary prediction.
  bool multi_label = false;
  std::vector<double> label_weights{};
  bool from_logits = false;
  std::string name = "auc";
};

/// Keras's AUC: confusion counts at num_thresholds evenly spaced thresholds (0 - 1e-7, i/(n-1),
/// 1 + 1e-7), then a Riemann sum of the ROC or PR curve (PR interpolated as Davis & Goadrich).
/// With only one class present the undefined rates are taken as 0, as Keras does.
class AUC : public Metric {
 public:
  explicit AUC(AUCOptions options = {});
  void update_state(const Tensor& y_true, const Tensor& y_pred,
                    const Tensor& sample_weight = Tensor()) override;
  double result() const override;
  void reset_state() override;
  std::string class_name() const override { return "AUC"; }
  nlohmann::json get_config() const override;

 private:
  double area(std::size_t label) const;
  AUCOptions options_;
  std::vector<double> thresholds_;
  std::size_t labels_ = 0;  ///< columns of the counts (1 unless multi_label)
  std::vector<double> tp_, fp_, tn_, fn_;  ///< [threshold · labels_ + label]
};

struct FBetaOptions {
  /// None (per class, ""), "micro", "macro" or "weighted" (by support).
  std::string average{};
  double beta = 1.0;
  /// Predictions above it are positive; unset: each sample's highest prediction (if non-zero).
  std::optional<double> threshold{};
  std::string name = "fbeta_score";
};

/// Keras's FBetaScore over (N, classes) one-hot or multi-label targets.
class FBetaScore : public Metric {
 public:
  explicit FBetaScore(FBetaOptions options = {});
  void update_state(const Tensor& y_true, const Tensor& y_pred,
                    const Tensor& sample_weight = Tensor()) override;
  double result() const override;
  std::vector<double> results() const override;
  void reset_state() override;
  std::string class_name() const override { return "FBetaScore"; }
  nlohmann::json get_config() const override;

 protected:
  FBetaOptions options_;
  std::vector<double> tp_, fp_, fn_, support_;
};

/// FBetaScore with beta = 1.
class F1Score : public FBetaScore {
 public:
  explicit F1Score(std::string average = "", std::optional<double> threshold = std::nullopt,
                   Name name = "f1_score");
  std::string class_name() const override { return "F1Score"; }
  nlohmann::json get_config() const override;
};

/// The (num_classes, num_classes) confusion matrix of integer labels against integer
/// predictions, rows = labels, columns = predictions, each count weighted (float64). Throws
/// ValueError for a label or prediction outside [0, num_classes).
Tensor confusion_matrix(const Tensor& labels, const Tensor& predictions, std::int64_t num_classes,
                        const Tensor& weights = Tensor());

/// Resolves a metric name the way Keras 3's compile does, from the first batch's shapes:
/// "accuracy"/"acc" become BinaryAccuracy when y_pred's last dimension is 1, else
/// SparseCategoricalAccuracy when y_true has lower rank than y_pred or a last dimension of 1,
/// else CategoricalAccuracy — each named as the user wrote it; other names as from_name.
/// Unknown names throw ValueError.
std::shared_ptr<Metric> get(const std::string& name, const Shape& y_true_shape,
                            const Shape& y_pred_shape);
/// Keras 3's serialized form: {"module": "keras.metrics", "class_name", "config",
/// "registered_name": null}.
nlohmann::json serialize(const Metric& metric);
/// A metric from a name or from serialize()'s object.
std::shared_ptr<Metric> deserialize(const nlohmann::json& value);

}  // namespace metrics
}  // namespace lamina
