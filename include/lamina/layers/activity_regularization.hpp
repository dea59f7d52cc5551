// SPDX-License-Identifier: Apache-2.0
// lamina/layers/activity_regularization.hpp — ActivityRegularization: passes its input through
// and adds l1·sum(|x|) + l2·sum(x²) of it to the training loss (Keras's add_loss).
#pragma once

#include <string>

#include "lamina/layer.hpp"

namespace lamina::layers {

/// Identity whose every call adds the penalty l1·Σ|x| + l2·Σx² over the whole batch (no division
/// by the batch size, as Keras 3) to losses(); fit() adds it to the minimised and reported loss.
class ActivityRegularizationLayer : public Layer {
 public:
  /// Throws ValueError on a negative factor.
  ActivityRegularizationLayer(double l1, double l2, std::string name);
  std::string class_name() const override { return "ActivityRegularization"; }
  bool supports_masking() const override { return true; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override { return input_shape; }
  nlohmann::json get_config() const override;
  double l1() const { return l1_; }
  double l2() const { return l2_; }

 private:
  double l1_, l2_;
};

struct ActivityRegularizationOptions {
  double l1 = 0.0;
  double l2 = 0.0;
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// `ActivityRegularization({.l1 = 1e-3})`.
struct ActivityRegularization : LayerHandle<ActivityRegularizationLayer> {
  explicit ActivityRegularization(ActivityRegularizationOptions options = {});
};

}  // namespace lamina::layers
