// SPDX-License-Identifier: Apache-2.0
// Regularizers and constraints on Conv2DTranspose, DepthwiseConv2D and SeparableConv2D, with
// Keras's argument names: each penalty joins the loss with the value computed here by hand from the
// weights and outputs (L1: l1·Σ|w|, L2: l2·Σw²), constraints project the weights after an update,
// and get_config -> from_config keeps them.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/callbacks.hpp>
#include <lamina/constraints.hpp>
#include <lamina/layers/conv_transpose.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/depthwise_conv.hpp>
#include <lamina/model.hpp>
#include <lamina/optimizers.hpp>
#include <lamina/regularizers.hpp>

using namespace lamina;

namespace {

double sum_abs(const Tensor& t) {
  double s = 0;
  for (float v : t.to_vector<float>()) s += std::fabs(v);
  return s;
}
double sum_sq(const Tensor& t) {
  double s = 0;
  for (float v : t.to_vector<float>()) s += static_cast<double>(v) * v;
  return s;
}

// (2, 4, 4, 2) inputs and the model's mse against zeros, computed from its predictions.
Tensor inputs() {
  std::vector<float> v(2 * 4 * 4 * 2);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((static_cast<int>(i * 7) % 13) - 6) / 6.0f;
  return Tensor::from_vector(v, {2, 4, 4, 2});
}

double mse_to_zero(const Tensor& pred) { return sum_sq(pred) / static_cast<double>(pred.numel()); }

// evaluate's loss minus the plain mse: what the layer's penalties added.
double penalty_in_loss(Model& m, const Tensor& x) {
  const Tensor pred = m.predict(x);
  const double loss = m.evaluate(x, Tensor::zeros(pred.shape()), {.verbose = 0}).at("loss");
  return loss - mse_to_zero(pred);
}

Sequential compiled(std::shared_ptr<Layer> layer) {
  Sequential m({layers::Input({4, 4, 2}), layer});
  m.compile({.optimizer = optimizers::SGD({.learning_rate = 1.0}), .loss = "mse"});
  return m;
}

// One SGD step of rate 1 toward targets of `value`: far below the outputs, it drives the weights
// negative.
void step_toward(Sequential& m, const Tensor& x, double value) {
  m.train_on_batch(x, Tensor::full(m.predict(x).shape(), value));
}

// Every float of every weight of `m` is >= 0, and at least one is exactly 0 (was projected).
void check_non_negative_and_clipped(const std::vector<Tensor>& weights) {
  bool clipped = false;
  for (const Tensor& w : weights)
    for (float v : w.to_vector<float>()) {
      CHECK(v >= 0.0f);
      clipped = clipped || v == 0.0f;
    }
  CHECK(clipped);
}

}  // namespace

TEST_CASE("Conv2DTranspose's kernel, bias and activity penalties join the loss exactly",
          "[training][layers]") {
  set_seed(11);
  auto conv = layers::Conv2DTranspose(3, 2, {.strides = 2,
                                              .bias_initializer = initializers::Constant(0.3),
                                              .kernel_regularizer = regularizers::L2(0.1),
                                              .bias_regularizer = regularizers::L1(0.2),
                                              .activity_regularizer = regularizers::L2(0.01)});
  Sequential m = compiled(conv);
  const Tensor x = inputs();
  const Tensor out = m.predict(x);
  // The activity penalty is divided by the batch size (2), as tf.keras 2 and Keras 3.15 do.
  const double expected = 0.1 * sum_sq(conv->kernel) + 0.2 * sum_abs(conv->bias) + 0.01 * sum_sq(out) / 2;
  CHECK(penalty_in_loss(m, x) == Approx(expected).epsilon(1e-5));
}

TEST_CASE("DepthwiseConv2D's depthwise, bias and activity penalties join the loss exactly",
          "[training][layers]") {
  set_seed(12);
  auto conv = layers::DepthwiseConv2D(3, {.padding = "same",
                                          .depth_multiplier = 2,
                                          .bias_initializer = initializers::Constant(-0.2),
                                          .depthwise_regularizer = regularizers::L1L2(0.05, 0.1),
                                          .bias_regularizer = regularizers::L2(0.3),
                                          .activity_regularizer = regularizers::L1(0.01)});
  Sequential m = compiled(conv);
  const Tensor x = inputs();
  const Tensor out = m.predict(x);
  const Tensor& k = conv->depthwise_kernel;
  const double expected =
      0.05 * sum_abs(k) + 0.1 * sum_sq(k) + 0.3 * sum_sq(conv->bias) + 0.01 * sum_abs(out) / 2;
  CHECK(penalty_in_loss(m, x) == Approx(expected).epsilon(1e-5));
}

TEST_CASE("SeparableConv2D's depthwise, pointwise and bias penalties join the loss exactly",
          "[training][layers]") {
  set_seed(13);
  auto conv = layers::SeparableConv2D(4, 3, {.bias_initializer = initializers::Constant(0.5),
                                             .depthwise_regularizer = regularizers::L2(0.2),
                                             .pointwise_regularizer = regularizers::L1(0.1),
                                             .bias_regularizer = regularizers::L1(0.05)});
  Sequential m = compiled(conv);
  const Tensor x = inputs();
  const double expected = 0.2 * sum_sq(conv->depthwise_kernel) + 0.1 * sum_abs(conv->pointwise_kernel) +
                          0.05 * sum_abs(conv->bias);
  CHECK(penalty_in_loss(m, x) == Approx(expected).epsilon(1e-5));
  // The penalty is minimised with the loss: training on zero targets shrinks it.
  const double before = m.evaluate(x, Tensor::zeros(m.predict(x).shape()), {.verbose = 0}).at("loss");
  m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.05}), .loss = "mse"});
  m.fit(x, Tensor::zeros(m.predict(x).shape()), {.batch_size = 2, .epochs = 3, .verbose = 0});
  CHECK(m.evaluate(x, Tensor::zeros(m.predict(x).shape()), {.verbose = 0}).at("loss") < before);
}

TEST_CASE("constraints on the three layers project their weights after each update",
          "[training][layers]") {
  const Tensor x = inputs();
  // NonNeg clips what the step drove below zero.
  SECTION("Conv2DTranspose") {
    set_seed(21);
    auto conv = layers::Conv2DTranspose(2, 2, {.kernel_constraint = constraints::NonNeg(),
                                               .bias_constraint = constraints::NonNeg()});
    Sequential m = compiled(conv);
    step_toward(m, x, -100.0);
    check_non_negative_and_clipped(conv->get_weights());
  }
  SECTION("DepthwiseConv2D") {
    set_seed(22);
    auto conv = layers::DepthwiseConv2D(2, {.depthwise_constraint = constraints::NonNeg(),
                                            .bias_constraint = constraints::NonNeg()});
    Sequential m = compiled(conv);
    step_toward(m, x, -100.0);
    check_non_negative_and_clipped(conv->get_weights());
  }
  SECTION("SeparableConv2D") {
    set_seed(23);
    auto conv = layers::SeparableConv2D(2, 2, {.depthwise_constraint = constraints::NonNeg(),
                                               .pointwise_constraint = constraints::NonNeg(),
                                               .bias_constraint = constraints::NonNeg()});
    Sequential m = compiled(conv);
    step_toward(m, x, -100.0);
    check_non_negative_and_clipped(conv->get_weights());
  }
  SECTION("MaxNorm bounds each depthwise filter's norm") {
    set_seed(24);
    auto conv = layers::DepthwiseConv2D(2, {.depthwise_constraint = constraints::MaxNorm(0.5, 0)});
    Sequential m = compiled(conv);
    step_toward(m, x, 100.0);
    // Keras's MaxNorm(axis 0) over a (2, 2, 2, 1) kernel: the norm along the first axis.
    const std::vector<float> k = conv->depthwise_kernel.to_vector<float>();
    for (int j = 0; j < 4; ++j)
      CHECK(std::sqrt(k[j] * k[j] + k[4 + j] * k[4 + j]) <= 0.5 + 1e-5);
  }
}

TEST_CASE("get_config writes the regularizers and constraints under Keras's keys and from_config "
          "rebuilds them", "[training][layers]") {
  auto transpose = layers::Conv2DTranspose(2, 3, {.kernel_regularizer = regularizers::L1L2(0.01, 0.02),
                                                  .activity_regularizer = regularizers::L2(0.5),
                                                  .bias_constraint = constraints::MaxNorm(2.0)});
  auto depthwise = layers::DepthwiseConv2D(3, {.depthwise_regularizer = regularizers::L2(0.1),
                                               .depthwise_constraint = constraints::UnitNorm()});
  auto separable = layers::SeparableConv2D(4, 3, {.pointwise_regularizer = regularizers::L1(0.3),
                                                  .bias_regularizer = regularizers::L2(0.4),
                                                  .depthwise_constraint = constraints::NonNeg(),
                                                  .pointwise_constraint = constraints::MinMaxNorm(0.1, 0.9)});
  const nlohmann::json t = transpose->get_config(), d = depthwise->get_config(), s = separable->get_config();
  CHECK(t["kernel_regularizer"]["class_name"] == "L1L2");
  CHECK(t["kernel_regularizer"]["config"]["l2"] == Approx(0.02));
  CHECK(t["activity_regularizer"]["class_name"] == "L2");
  CHECK(t["bias_constraint"]["class_name"] == "MaxNorm");
  CHECK(t["bias_regularizer"].is_null());
  CHECK(d["depthwise_regularizer"]["class_name"] == "L2");
  CHECK(d["depthwise_constraint"]["class_name"] == "UnitNorm");
  CHECK(d["activity_regularizer"].is_null());
  CHECK_FALSE(d.contains("kernel_regularizer"));
  CHECK(s["pointwise_regularizer"]["config"]["l1"] == Approx(0.3));
  CHECK(s["pointwise_constraint"]["class_name"] == "MinMaxNorm");
  CHECK(s["depthwise_constraint"]["class_name"] == "NonNeg");
  CHECK(s["depthwise_regularizer"].is_null());
  CHECK_FALSE(s.contains("kernel_constraint"));
  CHECK(layer_from_config("Conv2DTranspose", t)->get_config() == t);
  CHECK(layer_from_config("DepthwiseConv2D", d)->get_config() == d);
  CHECK(layer_from_config("SeparableConv2D", s)->get_config() == s);
}
