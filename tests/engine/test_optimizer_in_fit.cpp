// SPDX-License-Identifier: Apache-2.0
// The optimizer's lifecycle inside fit (src/engine/model.cpp): built once before the first step
// with Keras 3's variable paths (so its slots carry Keras's names), finalize_variable_values at the
// end (use_ema), and its state through a save and load.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/model.hpp>
#include <lamina/models.hpp>
#include <lamina/optimizers.hpp>

#include "../datasets/temp_dir.hpp"

using namespace lamina;

namespace {

std::vector<std::string> names_of(const Optimizer& opt) {
  std::vector<std::string> out;
  for (const auto& [name, value] : opt.variables()) out.push_back(name);
  return out;
}

Tensor column(std::vector<float> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return Tensor::from_vector(v, {n, 1});
}

}  // namespace

TEST_CASE("fit builds the optimizer with Keras 3's slot names, as a real Keras 3 file has them",
          "[training][optimizers]") {
  // k3_churn_mlp.h5 (Keras 3.11.3, tests/fixtures/keras_files) is this model; its
  // optimizer_weights/weight_names begin with these names.
  Sequential m({layers::Input({12}), layers::Dense(64, {.activation = "relu", .name = "dense_3"}),
                layers::Dense(32, {.activation = "relu", .name = "dense_4"}),
                layers::Dense(1, {.activation = "sigmoid", .name = "dense_5"})},
               "sequential");
  m.compile({.optimizer = optimizers::Adam({.learning_rate = 0.01}), .loss = "binary_crossentropy"});
  REQUIRE_FALSE(m.optimizer()->built());
  m.fit(Tensor::zeros({4, 12}), Tensor::zeros({4, 1}), {.batch_size = 4, .verbose = 0});
  const std::vector<std::string> keras = {
      "adam/iteration",
      "adam/learning_rate",
      "adam/sequential_dense_3_kernel_momentum",
      "adam/sequential_dense_3_kernel_velocity",
      "adam/sequential_dense_3_bias_momentum",
      "adam/sequential_dense_3_bias_velocity",
      "adam/sequential_dense_4_kernel_momentum",
      "adam/sequential_dense_4_kernel_velocity"};
  const auto names = names_of(*m.optimizer());
  REQUIRE(names.size() == 2 + 3 * 2 * 2);
  CHECK(std::vector<std::string>(names.begin(), names.begin() + 8) == keras);
  CHECK(names.back() == "adam/sequential_dense_5_bias_velocity");
  CHECK(m.optimizer()->iterations() == 1);
}

TEST_CASE("a Functional model's slots have no model prefix and a nested Sequential's have its name",
          "[training][optimizers]") {
  // Keras 3 builds a Functional model's layers outside any name scope (k3_functional_multi_output.h5
  // names its slots "adam/dense_2_kernel_momentum"), and a Sequential's inside its own.
  Sequential inner({layers::Input({2}), layers::Dense(2, {.name = "d_inner"})}, "inner");
  auto x = layers::Input({2});
  auto h = layers::Dense(2, {.name = "d_outer"})(x);
  Model m(x, inner(h));
  m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1, .momentum = 0.9}), .loss = "mse"});
  m.train_on_batch(Tensor::ones({3, 2}), Tensor::zeros({3, 2}));
  CHECK(names_of(*m.optimizer()) == std::vector<std::string>{
                                        "SGD/iteration", "SGD/learning_rate",
                                        "SGD/d_outer_kernel_momentum", "SGD/d_outer_bias_momentum",
                                        "SGD/inner_d_inner_kernel_momentum",
                                        "SGD/inner_d_inner_bias_momentum"});
}

TEST_CASE("fit with use_ema ends with the moving average of the weight trajectory",
          "[training][optimizers]") {
  // One weight w, x = 1, y = 0, mse: the gradient is 2w, so SGD(0.1) gives w ← 0.8·w:
  // w = 1 → 0.8 → 0.64 → 0.512. Keras's average: a1 = w1 (momentum 0 at the first step), then
  // a = 0.5·a + 0.5·w: a2 = 0.72, a3 = 0.616. fit leaves a3 in the weight.
  Sequential m({layers::Input({1}), layers::Dense(1, {.use_bias = false,
                                                      .kernel_initializer = initializers::Constant(1.0)})});
  m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1, .use_ema = true, .ema_momentum = 0.5}),
             .loss = "mse"});
  History h = m.fit(column({1.0f}), column({0.0f}), {.batch_size = 1, .epochs = 3, .verbose = 0});
  CHECK(m.get_weights()[0].item() == Approx(0.616).epsilon(1e-6));
  // The losses were computed on the raw trajectory: w² = 1, 0.64, 0.4096.
  CHECK(h.history.at("loss")[2] == Approx(0.4096).epsilon(1e-6));

  // Without EMA the weight is the raw trajectory's last value.
  Sequential plain({layers::Input({1}), layers::Dense(1, {.use_bias = false,
                                                          .kernel_initializer = initializers::Constant(1.0)})});
  plain.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}), .loss = "mse"});
  plain.fit(column({1.0f}), column({0.0f}), {.batch_size = 1, .epochs = 3, .verbose = 0});
  CHECK(plain.get_weights()[0].item() == Approx(0.512).epsilon(1e-6));
}

TEST_CASE("the optimizer state fit builds survives save and load in both formats",
          "[training][optimizers][io]") {
  lamina::testing::TempDir dir;
  set_seed(3);
  auto x = layers::Input({3});
  Model m(x, layers::Dense(2, {.name = "head"})(layers::Dense(4, {.activation = "tanh", .name = "body"})(x)));
  m.compile({.optimizer = optimizers::Adam({.learning_rate = 0.01}), .loss = "mse"});
  Tensor xs = Tensor::from_vector(std::vector<float>{0.1f, -0.2f, 0.3f, 0.5f, 0.4f, -0.6f}, {2, 3});
  Tensor ys = Tensor::from_vector(std::vector<float>{1.0f, 0.0f, -1.0f, 0.5f}, {2, 2});
  m.fit(xs, ys, {.batch_size = 1, .epochs = 2, .verbose = 0});
  const auto saved = m.optimizer()->variables();
  for (const std::string ext : {".keras", ".h5"}) {
    INFO(ext);
    const std::string path = dir.file("model" + ext);
    m.save(path);
    Model again = models::load_model(path);
    const auto loaded = again.optimizer()->variables();
    REQUIRE(loaded.size() == saved.size());
    for (std::size_t i = 0; i < saved.size(); ++i) {
      CHECK(loaded[i].first == saved[i].first);
      CHECK(loaded[i].second.to_vector<double>() == saved[i].second.to_vector<double>());
    }
    // Both continue from the same state to the same weights.
    Model twin = models::load_model(path);
    twin.fit(xs, ys, {.batch_size = 2, .verbose = 0});
    again.fit(xs, ys, {.batch_size = 2, .verbose = 0});
    CHECK(again.get_weights()[0].to_vector<float>() == twin.get_weights()[0].to_vector<float>());
    CHECK(again.optimizer()->iterations() == 5);
  }
}

TEST_CASE("optimizer state saved with lamina's earlier variable_N slot names still loads",
          "[training][optimizers][io]") {
  lamina::testing::TempDir dir;
  set_seed(4);
  auto x = layers::Input({2});
  Model m(x, layers::Dense(1)(x));
  m.compile({.optimizer = optimizers::Adam(), .loss = "mse"});
  // Built by hand without paths, as fit did before it named the slots.
  m.optimizer()->build(m.trainable_weights());
  m.fit(Tensor::ones({2, 2}), Tensor::zeros({2, 1}), {.batch_size = 1, .verbose = 0});
  REQUIRE(names_of(*m.optimizer())[2] == "adam/variable_0_momentum");
  const std::string path = dir.file("old.h5");
  m.save(path);
  Model again = models::load_model(path);
  const auto a = m.optimizer()->variables(), b = again.optimizer()->variables();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    CHECK(a[i].second.to_vector<double>() == b[i].second.to_vector<double>());
  CHECK(again.optimizer()->iterations() == 2);
}

TEST_CASE("a Sequential loaded from a file names its optimizer slots as fit does, in its scope",
          "[training][optimizers][io]") {
  lamina::testing::TempDir dir;
  set_seed(5);
  Sequential m({layers::Input({3}), layers::Dense(2, {.name = "out"})}, "net");
  m.compile({.optimizer = optimizers::Adam(), .loss = "mse"});
  m.fit(Tensor::ones({2, 3}), Tensor::zeros({2, 2}), {.batch_size = 2, .verbose = 0});
  REQUIRE(names_of(*m.optimizer())[2] == "adam/net_out_kernel_momentum");
  for (const std::string ext : {".keras", ".h5"}) {
    INFO(ext);
    const std::string path = dir.file("seq" + ext);
    m.save(path);
    CHECK(names_of(*models::load_model(path).optimizer()) == names_of(*m.optimizer()));
  }
}
