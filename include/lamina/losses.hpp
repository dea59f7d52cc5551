// SPDX-License-Identifier: Apache-2.0
// lamina/losses.hpp — Keras's losses, by string and as objects, with Keras's reductions, configs
// and defaults.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "lamina/ref.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

/// Keras's reductions: "sum_over_batch_size" (the weighted sum over all per-sample values divided
/// by their number, not by the weights' sum; the default), "sum", "none".
enum class Reduction { sum_over_batch_size, sum, none };

/// Keras's string for a reduction ("sum_over_batch_size", "sum", "none").
const char* reduction_name(Reduction reduction);
/// Inverse of reduction_name ("mean" and "auto" mean sum_over_batch_size, JSON null means none).
/// Throws ValueError on anything else.
Reduction reduction_from_name(const std::string& name);

/// A loss: per-sample values from (y_true, y_pred), then a reduction. Subclasses implement
/// per_sample(); operator() applies the optional sample weights and reduces.
class Loss {
 public:
  using Fn = std::function<Tensor(const Tensor& y_true, const Tensor& y_pred)>;

  explicit Loss(std::string name, Reduction reduction = Reduction::sum_over_batch_size);
  virtual ~Loss();

  /// Per-sample losses (the last axis reduced where the loss is defined per vector), shape
  /// y_pred.shape[:-1] for vector losses. Throws ShapeError/ValueError naming the loss when
  /// y_true does not fit y_pred.
  virtual Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const = 0;
  /// Reduced loss (a scalar unless reduction is none). sample_weight: (N), (N, 1) or the shape of
  /// the per-sample values, or undefined. Differentiable in y_pred.
  Tensor operator()(const Tensor& y_true, const Tensor& y_pred,
                    const Tensor& sample_weight = Tensor()) const;

  /// The instance's name; Keras's default is the function name ("mean_squared_error").
  const std::string& name() const { return name_; }
  Reduction reduction() const { return reduction_; }
  /// Keras's class name ("MeanSquaredError"); "LossFunctionWrapper" for user functions.
  virtual std::string class_name() const = 0;
  /// Keras 3's config: {"name", "reduction", ...the loss's own arguments}.
  virtual nlohmann::json get_config() const;

  /// Resolves Keras names, aliases and class names ("mse", "sparse_categorical_crossentropy",
  /// "Huber"...) to a loss with Keras's defaults. Throws ValueError listing the known names.
  static std::shared_ptr<Loss> from_name(const std::string& name);
  /// Wraps a user function returning per-sample (or per-element) losses.
  static std::shared_ptr<Loss> from_function(Fn fn, std::string name = "custom_loss");
  /// Rebuilds a loss from its class name and get_config(). Throws ValueError for an unknown class
  /// (user functions cannot be rebuilt) or a bad config value.
  static std::shared_ptr<Loss> from_config(const std::string& class_name,
                                           const nlohmann::json& config);

 protected:
  /// Where per-sample values are valid (1) or ignored (0), same shape as per_sample's result;
  /// undefined when every value counts. sum_over_batch_size then divides by the valid count.
  virtual Tensor valid_mask(const Tensor& y_true, const Tensor& y_pred) const;

 private:
  std::string name_;
  Reduction reduction_;
};

namespace losses {

/// The options of losses that have no arguments of their own. An empty name means Keras's.
struct ReductionOptions {
  Reduction reduction = Reduction::sum_over_batch_size;
  std::string name{};
};

/// mean((y_true - y_pred)^2) over the last axis.
class MeanSquaredError : public Loss {
 public:
  explicit MeanSquaredError(ReductionOptions options = {});
  std::string class_name() const override { return "MeanSquaredError"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
};

/// mean(|y_true - y_pred|) over the last axis.
class MeanAbsoluteError : public Loss {
 public:
  explicit MeanAbsoluteError(ReductionOptions options = {});
  std::string class_name() const override { return "MeanAbsoluteError"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
};

/// 100 · mean(|y_true - y_pred| / max(|y_true|, 1e-7)) over the last axis.
class MeanAbsolutePercentageError : public Loss {
 public:
  explicit MeanAbsolutePercentageError(ReductionOptions options = {});
  std::string class_name() const override { return "MeanAbsolutePercentageError"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
};

/// mean((log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1))^2) over the last axis.
class MeanSquaredLogarithmicError : public Loss {
 public:
  explicit MeanSquaredLogarithmicError(ReductionOptions options = {});
  std::string class_name() const override { return "MeanSquaredLogarithmicError"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
};

struct HuberOptions {
  double delta = 1.0;
  Reduction reduction = Reduction::sum_over_batch_size;
  std::string name{};
};

/// e = y_pred - y_true: 0.5·e² where |e| <= delta, else delta·|e| - 0.5·delta²; mean over the
/// last axis. Keras's name: "huber_loss".
class Huber : public Loss {
 public:
  explicit Huber(HuberOptions options = {});
  std::string class_name() const override { return "Huber"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
  nlohmann::json get_config() const override;
  const HuberOptions& options() const { return options_; }

 private:
  HuberOptions options_;
};

/// mean(log(cosh(y_pred - y_true))) over the last axis, computed as e + softplus(-2e) - log 2
/// (no overflow for any e).
class LogCosh : public Loss {
 public:
  explicit LogCosh(ReductionOptions options = {});
  std::string class_name() const override { return "LogCosh"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
};

struct CosineSimilarityOptions {
  int axis = -1;
  Reduction reduction = Reduction::sum_over_batch_size;
  std::string name{};
};

/// -sum(l2_normalize(y_true) · l2_normalize(y_pred)) along axis; 0 where either is a zero vector.
class CosineSimilarity : public Loss {
 public:
  explicit CosineSimilarity(CosineSimilarityOptions options = {});
  std::string class_name() const override { return "CosineSimilarity"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
  nlohmann::json get_config() const override;
  const CosineSimilarityOptions& options() const { return options_; }

 private:
  CosineSimilarityOptions options_;
};

struct CrossentropyOptions {
  bool from_logits = false;
  double label_smoothing = 0.0;
  int axis = -1;
  Reduction reduction = Reduction::sum_over_batch_size;
  std::string name{};
};
struct SparseCrossentropyOptions {
  bool from_logits = false;
  /// Labels equal to this value are ignored: their loss is 0 and sum_over_batch_size averages
  /// over the others only.
  std::optional<std::int64_t> ignore_class{};
  Reduction reduction = Reduction::sum_over_batch_size;
  std::string name{};
};

/// Keras: probabilities clipped to [1e-7, 1 - 1e-7]; mean over axis. Label smoothing squeezes
/// targets towards 0.5. A y_pred that came out of a sigmoid is scored from the sigmoid's logits
/// (exact and stable), as TF Keras does.
class BinaryCrossentropy : public Loss {
 public:
  explicit BinaryCrossentropy(CrossentropyOptions options = {});
  std::string class_name() const override { return "BinaryCrossentropy"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
  nlohmann::json get_config() const override;
  const CrossentropyOptions& options() const { return options_; }

 private:
  CrossentropyOptions options_;
};

/// One-hot (or probability) targets along axis; label smoothing gives y·(1-ls) + ls/C. A y_pred
/// that came out of a softmax is scored from the softmax's logits with the fused kernel.
class CategoricalCrossentropy : public Loss {
 public:
  explicit CategoricalCrossentropy(CrossentropyOptions options = {});
  std::string class_name() const override { return "CategoricalCrossentropy"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
  nlohmann::json get_config() const override;
  const CrossentropyOptions& options() const { return options_; }

 private:
  CrossentropyOptions options_;
};

/// Integer class targets, shape (N) or (N, 1) (or (N, T) for sequences). A y_pred that came out
/// of a softmax is scored from the softmax's logits with the fused kernel.
class SparseCategoricalCrossentropy : public Loss {
 public:
  explicit SparseCategoricalCrossentropy(SparseCrossentropyOptions options = {});
  std::string class_name() const override { return "SparseCategoricalCrossentropy"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
  nlohmann::json get_config() const override;
  const SparseCrossentropyOptions& options() const { return options_; }

 protected:
  Tensor valid_mask(const Tensor& y_true, const Tensor& y_pred) const override;

 private:
  SparseCrossentropyOptions options_;
};

struct BinaryFocalOptions {
  bool apply_class_balancing = false;
  double alpha = 0.25;
  double gamma = 2.0;
  bool from_logits = false;
  double label_smoothing = 0.0;
  int axis = -1;
  Reduction reduction = Reduction::sum_over_batch_size;
  std::string name{};
};

/// Keras: (1 - p_t)^gamma · bce, with p_t = y·p + (1-y)·(1-p) from the unclipped probabilities;
/// with class balancing times alpha for positives and 1 - alpha for negatives; mean over axis.
class BinaryFocalCrossentropy : public Loss {
 public:
  explicit BinaryFocalCrossentropy(BinaryFocalOptions options = {});
  std::string class_name() const override { return "BinaryFocalCrossentropy"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
  nlohmann::json get_config() const override;
  const BinaryFocalOptions& options() const { return options_; }

 private:
  BinaryFocalOptions options_;
};

struct CategoricalFocalOptions {
  double alpha = 0.25;
  double gamma = 2.0;
  bool from_logits = false;
  double label_smoothing = 0.0;
  int axis = -1;
  Reduction reduction = Reduction::sum_over_batch_size;
  std::string name{};
};

/// Keras: p = clip(softmax or renormalised y_pred, 1e-7, 1 - 1e-7);
/// sum(alpha · (1 - p)^gamma · -y·log p) over axis.
class CategoricalFocalCrossentropy : public Loss {
 public:
  explicit CategoricalFocalCrossentropy(CategoricalFocalOptions options = {});
  std::string class_name() const override { return "CategoricalFocalCrossentropy"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
  nlohmann::json get_config() const override;
  const CategoricalFocalOptions& options() const { return options_; }

 private:
  CategoricalFocalOptions options_;
};

/// sum(y·log(y/p)) over the last axis, y and p clipped to [1e-7, 1].
class KLDivergence : public Loss {
 public:
  explicit KLDivergence(ReductionOptions options = {});
  std::string class_name() const override { return "KLDivergence"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
};

/// mean(y_pred - y_true·log(y_pred + 1e-7)) over the last axis.
class Poisson : public Loss {
 public:
  explicit Poisson(ReductionOptions options = {});
  std::string class_name() const override { return "Poisson"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
};

/// mean(max(1 - y·y_pred, 0)) over the last axis; targets of 0/1 are mapped to -1/1.
class Hinge : public Loss {
 public:
  explicit Hinge(ReductionOptions options = {});
  std::string class_name() const override { return "Hinge"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
};

/// mean(max(1 - y·y_pred, 0)²) over the last axis; targets of 0/1 are mapped to -1/1.
class SquaredHinge : public Loss {
 public:
  explicit SquaredHinge(ReductionOptions options = {});
  std::string class_name() const override { return "SquaredHinge"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
};

/// max(max((1 - y)·y_pred) - sum(y·y_pred) + 1, 0) over the last axis (one-hot y).
class CategoricalHinge : public Loss {
 public:
  explicit CategoricalHinge(ReductionOptions options = {});
  std::string class_name() const override { return "CategoricalHinge"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
};

/// Loss::from_name.
std::shared_ptr<Loss> get(const std::string& name);
/// Keras 3's serialized form: {"module": "keras.losses", "class_name", "config",
/// "registered_name": null}.
nlohmann::json serialize(const Loss& loss);
/// A loss from a name or from serialize()'s object (Keras 2's {"class_name", "config"} too).
std::shared_ptr<Loss> deserialize(const nlohmann::json& value);

}  // namespace losses
}  // namespace lamina
