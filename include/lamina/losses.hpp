// lamina/losses.hpp — Keras's losses, by string and as objects, with Keras's reductions.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "lamina/ref.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

/// Keras's reductions: "sum_over_batch_size" (the mean over all per-sample values, the default),
/// "sum", "none".
enum class Reduction { sum_over_batch_size, sum, none };

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
  /// Reduced loss (a scalar unless reduction is none). sample_weight: (N) or undefined.
  Tensor operator()(const Tensor& y_true, const Tensor& y_pred,
                    const Tensor& sample_weight = Tensor()) const;

  /// Keras's function name: "sparse_categorical_crossentropy", "mean_squared_error"...
  const std::string& name() const { return name_; }
  Reduction reduction() const { return reduction_; }

  /// Resolves Keras names and aliases ("mse", "sparse_categorical_crossentropy", ...).
  static std::shared_ptr<Loss> from_name(const std::string& name);
  /// Wraps a user function returning per-sample (or per-element) losses.
  static std::shared_ptr<Loss> from_function(Fn fn, std::string name = "custom_loss");

 private:
  std::string name_;
  Reduction reduction_;
};

namespace losses {

struct CrossentropyOptions {
  bool from_logits = false;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::sum_over_batch_size;
};
struct SparseCrossentropyOptions {
  bool from_logits = false;
  Reduction reduction = Reduction::sum_over_batch_size;
};
struct ReductionOptions {
  Reduction reduction = Reduction::sum_over_batch_size;
};

/// mean((y_true - y_pred)^2) over the last axis.
class MeanSquaredError : public Loss {
 public:
  explicit MeanSquaredError(ReductionOptions options = {});
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
};

/// mean(|y_true - y_pred|) over the last axis.
class MeanAbsoluteError : public Loss {
 public:
  explicit MeanAbsoluteError(ReductionOptions options = {});
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
};

/// Keras: probabilities clipped to [1e-7, 1 - 1e-7]; mean over the last axis. A y_pred that came
/// out of a sigmoid is scored from the sigmoid's logits (exact and stable), as TF Keras does.
class BinaryCrossentropy : public Loss {
 public:
  explicit BinaryCrossentropy(CrossentropyOptions options = {});
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
  const CrossentropyOptions& options() const { return options_; }

 private:
  CrossentropyOptions options_;
};

/// One-hot (or probability) targets. A y_pred that came out of a softmax is scored from the
/// softmax's logits with the fused kernel.
class CategoricalCrossentropy : public Loss {
 public:
  explicit CategoricalCrossentropy(CrossentropyOptions options = {});
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
  const CrossentropyOptions& options() const { return options_; }

 private:
  CrossentropyOptions options_;
};

/// Integer class targets, shape (N) or (N, 1). A y_pred that came out of a softmax is scored from
/// the softmax's logits with the fused kernel.
class SparseCategoricalCrossentropy : public Loss {
 public:
  explicit SparseCategoricalCrossentropy(SparseCrossentropyOptions options = {});
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override;
  const SparseCrossentropyOptions& options() const { return options_; }

 private:
  SparseCrossentropyOptions options_;
};

std::shared_ptr<Loss> get(const std::string& name);

}  // namespace losses
}  // namespace lamina
