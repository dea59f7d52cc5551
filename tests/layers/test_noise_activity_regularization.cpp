// SPDX-License-Identifier: Apache-2.0
// ActivityRegularization: identity output, the L1/L2 penalty it adds through add_loss (by hand),
// the penalty inside a compiled model's reported loss, config round trip.
#include <catch2/catch.hpp>
#include <lamina/lamina.hpp>
#include <nlohmann/json.hpp>

using namespace lamina;

TEST_CASE(
    "ActivityRegularization passes its input through and adds (l1·sum|x| + l2·sum(x²)) / batch to the loss",
    "[noise]") {
  // x = [[1, -2, 3], [0.5, 0, -1]]: sum|x| = 7.5, sum x² = 15.25.
  Tensor x = Tensor::from_vector<float>({1, -2, 3, 0.5f, 0, -1}, {2, 3});
  auto reg = layers::ActivityRegularization({.l1 = 0.01, .l2 = 0.1, .name = "act_reg"});
  Tensor y = reg(x);
  CHECK(allclose(y, x, 0, 0));
  auto losses = reg->losses();
  REQUIRE(losses.size() == 1);
  CHECK(losses[0].item() == Approx((0.01 * 7.5 + 0.1 * 15.25) / 2).epsilon(1e-6));
  // Through a model: with a zero Dense after it, the MSE is 0 and the reported loss is the
  // penalty of the batch divided by its size, as tf.keras 2 and Keras 3.15 do.
  Sequential model({layers::Input({3}), layers::ActivityRegularization({.l1 = 0.01, .l2 = 0.1}),
                    layers::Dense(1, {.kernel_initializer = "zeros"})});
  model.compile({.optimizer = optimizers::SGD(), .loss = "mse"});
  const double loss =
      model.evaluate(x, Tensor::zeros({2, 1}), {.batch_size = 2, .verbose = 0})["loss"];
  CHECK(loss == Approx((0.01 * 7.5 + 0.1 * 15.25) / 2).epsilon(1e-5));
  auto cfg = reg->get_config();
  CHECK(cfg["l1"] == 0.01);
  CHECK(cfg["l2"] == 0.1);
  CHECK(layer_from_config("ActivityRegularization", cfg)->get_config() == cfg);
  CHECK_THROWS_AS(layers::ActivityRegularization({.l1 = -1}), ValueError);
}
