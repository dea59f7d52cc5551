// SPDX-License-Identifier: Apache-2.0
// ActivityRegularization: an identity layer that adds an L1/L2 penalty of its input to the loss.
#include "lamina/layers/activity_regularization.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "lamina/regularizers.hpp"

namespace lamina::layers {

ActivityRegularizationLayer::ActivityRegularizationLayer(double l1, double l2, std::string name)
    : Layer(std::move(name)), l1_(l1), l2_(l2) {
  if (!(l1 >= 0 && l2 >= 0))
    throw ValueError("ActivityRegularization: l1 and l2 must be >= 0, got l1=" +
                     std::to_string(l1) + ", l2=" + std::to_string(l2));
}

Tensor ActivityRegularizationLayer::call(const Tensor& x, bool) {
  if (l1_ == 0 && l2_ == 0) return x;
  return regularize_activity(x, regularizers::L1L2(l1_, l2_));
}

nlohmann::json ActivityRegularizationLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["l1"] = l1_;
  c["l2"] = l2_;
  return c;
}

ActivityRegularization::ActivityRegularization(ActivityRegularizationOptions o)
    : LayerHandle(std::make_shared<ActivityRegularizationLayer>(o.l1, o.l2, std::move(o.name))) {
  apply_dtype_option(**this, o.dtype);
}

void register_activity_regularization_layers() {
  engine::register_layer_spec({
      .class_name = "ActivityRegularization",
      .factory = [](const nlohmann::json& c) -> std::shared_ptr<Layer> {
        return ActivityRegularization(
                   {.l1 = c.value("l1", 0.0), .l2 = c.value("l2", 0.0), .name = engine::name_of(c)})
            .ptr();
      },
      .honoured_keys = {"l1", "l2"},
      .build_config = false,
  });
}

}  // namespace lamina::layers
