// SPDX-License-Identifier: Apache-2.0
// Optimizer state (names, restore, EMA finalisation), lookup by Keras name, Keras configs from
// real files, and the errors for options Keras rejects.
#include <catch2/catch.hpp>
#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/model.hpp>
#include <lamina/optimizers.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using namespace lamina;
using Catch::Matchers::Contains;

namespace {

std::vector<std::string> names_of(const Optimizer& opt) {
  std::vector<std::string> names;
  for (const auto& [n, t] : opt.variables()) names.push_back(n);
  return names;
}

Tensor f64(std::vector<double> values) {
  const auto n = static_cast<std::int64_t>(values.size());
  return Tensor::from_vector(values, {n});
}

}  // namespace

TEST_CASE("Slots are named from the variables' Keras paths in Keras 3's order", "[optimizers]") {
  Tensor k = Tensor::zeros({2, 2}, float32), b = Tensor::zeros({2}, float32);
  optimizers::RMSprop rms({.momentum = 0.5, .centered = true});
  rms.build({k, b}, {"dense/kernel", "dense/bias"});
  CHECK(names_of(rms) == std::vector<std::string>{
                             "rmsprop/iteration", "rmsprop/learning_rate",
                             "rmsprop/dense_kernel_velocity", "rmsprop/dense_bias_velocity",
                             "rmsprop/dense_kernel_momentum", "rmsprop/dense_bias_momentum",
                             "rmsprop/dense_kernel_average_gradient",
                             "rmsprop/dense_bias_average_gradient"});
  // EMA averages and gradient accumulators come first, interleaved per variable, as in Keras.
  optimizers::Ftrl ftrl({.use_ema = true, .gradient_accumulation_steps = 2, .name = "f"});
  ftrl.build({k}, {"d/kernel"});
  CHECK(names_of(ftrl) == std::vector<std::string>{"f/iteration", "f/learning_rate",
                                                   "f/d_kernel_average",
                                                   "f/d_kernel_gradient_accumulator",
                                                   "f/d_kernel_accumulator", "f/d_kernel_linear"});
  CHECK(ftrl.variables()[4].second.at(0) == Approx(0.1));  // initial_accumulator_value
  optimizers::Nadam nadam;
  nadam.build({b});
  CHECK(names_of(nadam).back() == "nadam/u_product");
  CHECK_THROWS_AS(optimizers::Adam().build({k, b}, {"only/one"}), ValueError);
}

TEST_CASE("Restoring variables into a fresh optimizer continues the same trajectory",
          "[optimizers]") {
  const std::vector<std::vector<double>> grads = {{0.5, -1.0}, {0.25, 2.0}, {-1.0, 0.5}, {2.0, 1.0}};
  optimizers::AdamOptions options{.learning_rate = 0.1, .amsgrad = true};
  optimizers::Adam straight(options), first(options), second(options);
  Tensor a = f64({1.0, -1.0}), b = f64({1.0, -1.0});
  for (const auto& g : grads) straight.apply_gradients({f64(g)}, {a});
  for (int i = 0; i < 2; ++i) first.apply_gradients({f64(grads[i])}, {b});
  std::vector<Tensor> saved;
  for (const auto& [n, t] : first.variables()) saved.push_back(t.clone());
  CHECK_THROWS_WITH(second.set_variables(saved), Contains("not built"));
  second.build({b});
  std::vector<Tensor> wrong = saved;
  wrong[2] = Tensor::zeros({3}, float64);
  CHECK_THROWS_WITH(second.set_variables(wrong),
                    Contains("adam/variable_0_momentum") && Contains("(2,)") && Contains("(3,)"));
  second.set_variables(saved);
  CHECK(second.iterations() == 2);
  for (int i = 2; i < 4; ++i) second.apply_gradients({f64(grads[i])}, {b});
  CHECK(b.to_vector<double>() == a.to_vector<double>());
}

TEST_CASE("finalize_variable_values swaps the moving average into the weights", "[optimizers]") {
  // EMA with momentum 0.5 over SGD steps w: 1 -> 0 -> -1: average 0 (first step copies), then
  // 0.5·0 + 0.5·(−1) = −0.5.
  optimizers::SGD sgd({.learning_rate = 1.0, .use_ema = true, .ema_momentum = 0.5});
  Tensor w = f64({1.0});
  sgd.apply_gradients({f64({1.0})}, {w});
  sgd.apply_gradients({f64({1.0})}, {w});
  CHECK(w.item() == -1.0);
  sgd.finalize_variable_values({w});
  CHECK(w.item() == -0.5);
  optimizers::SGD plain;
  Tensor v = f64({2.0});
  plain.finalize_variable_values({v});  // no EMA: nothing happens
  CHECK(v.item() == 2.0);
}

TEST_CASE("Every Keras optimizer name resolves with Keras's defaults", "[optimizers]") {
  const std::vector<std::pair<std::string, std::string>> names = {
      {"sgd", "SGD"},         {"adam", "Adam"},         {"adamw", "AdamW"},
      {"rmsprop", "RMSprop"}, {"adagrad", "Adagrad"},   {"adadelta", "Adadelta"},
      {"adamax", "Adamax"},   {"nadam", "Nadam"},       {"lion", "Lion"},
      {"ftrl", "Ftrl"}};
  for (const auto& [key, cls] : names) {
    INFO(key);
    auto opt = optimizers::get(key);
    CHECK(opt->class_name() == cls);
    CHECK(Optimizer::from_name(cls)->class_name() == cls);
    CHECK(opt->learning_rate() == (key == "sgd" ? 0.01 : 0.001));
    const auto config = opt->get_config();
    CHECK(config["name"] == (key == "sgd" ? "SGD" : key));
    CHECK(config["weight_decay"] == (key == "adamw" ? nlohmann::json(0.004) : nlohmann::json()));
  }
  const auto adagrad = optimizers::get("adagrad")->get_config();
  CHECK(adagrad["initial_accumulator_value"] == 0.1);
  CHECK(optimizers::get("adadelta")->get_config()["rho"] == 0.95);
  CHECK(optimizers::get("lion")->get_config()["beta_2"] == 0.99);
  CHECK(optimizers::get("ftrl")->get_config()["learning_rate_power"] == -0.5);
}

TEST_CASE("compile takes every optimizer by name and trains with it", "[optimizers]") {
  Tensor x = Tensor::from_vector(std::vector<double>{-1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5}, {8, 1})
                 .astype(float32);
  Tensor y = x * 2.0 + 1.0;
  for (const char* name : {"adamw", "adagrad", "adamax", "nadam", "lion", "adadelta"}) {
    INFO(name);
    set_seed(5);
    Sequential model({layers::Input({1}), layers::Dense(1)});
    model.compile({.optimizer = name, .loss = "mse"});
    const double before = model.evaluate(x, y, {.verbose = 0})["loss"];
    model.fit(x, y, {.batch_size = 8, .epochs = 20, .verbose = 0});
    CHECK(model.evaluate(x, y, {.verbose = 0})["loss"] < before);
    CHECK(model.optimizer()->iterations() == 20);
  }
}

TEST_CASE("Optimizer configs written by Keras 3, tf.keras and Keras 2 are read", "[optimizers]") {
  // Keras 3 (k3_fashion_cnn.keras's compile_config).
  auto keras3 = optimizers::deserialize(nlohmann::json::parse(R"({"module": "keras.optimizers",
      "class_name": "Adam", "config": {"name": "adam", "learning_rate": 0.0010000000474974513,
      "weight_decay": null, "clipnorm": null, "global_clipnorm": null, "clipvalue": null,
      "use_ema": false, "ema_momentum": 0.99, "ema_overwrite_frequency": null,
      "loss_scale_factor": null, "gradient_accumulation_steps": null, "beta_1": 0.9,
      "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": false}, "registered_name": null})"));
  CHECK(keras3->learning_rate() == Approx(0.001));
  // tf.keras 2.11+: "Custom>" prefix and keys Keras 3 ignores.
  auto tf211 = optimizers::deserialize(nlohmann::json::parse(R"({"class_name": "Custom>Adam",
      "config": {"name": "Adam", "weight_decay": null, "clipnorm": null, "global_clipnorm": null,
      "clipvalue": null, "use_ema": false, "ema_momentum": 0.99, "ema_overwrite_frequency": null,
      "jit_compile": true, "is_legacy_optimizer": false, "learning_rate": 0.002, "beta_1": 0.9,
      "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": false}})"));
  CHECK(tf211->class_name() == "Adam");
  CHECK(tf211->learning_rate() == 0.002);
  // Keras 2: "lr" and "decay".
  auto keras2 = optimizers::deserialize(nlohmann::json::parse(R"({"class_name": "RMSprop",
      "config": {"lr": 0.01, "rho": 0.8, "decay": 0.0, "epsilon": 1e-07}})"));
  CHECK(keras2->learning_rate() == 0.01);
  CHECK(keras2->get_config()["rho"] == 0.8);
}

TEST_CASE("Options Keras rejects are rejected with the optimizer's name", "[optimizers]") {
  CHECK_THROWS_WITH(optimizers::SGD({.clipnorm = 1.0, .clipvalue = 0.5}),
                    Contains("SGD") && Contains("only one of"));
  CHECK_THROWS_WITH(optimizers::Adam({.gradient_accumulation_steps = 1}),
                    Contains("gradient_accumulation_steps"));
  CHECK_THROWS_WITH(optimizers::Adam({.use_ema = true, .ema_momentum = 1.5}),
                    Contains("ema_momentum"));
  CHECK_THROWS_WITH(optimizers::AdamW({.weight_decay = std::nullopt}), Contains("weight_decay"));
  CHECK_THROWS_WITH(optimizers::Lion({.beta_1 = 0.0}), Contains("Lion") && Contains("beta_1"));
  CHECK_THROWS_WITH(optimizers::Ftrl({.learning_rate_power = 0.5}),
                    Contains("learning_rate_power"));
  CHECK_THROWS_AS(optimizers::Adagrad({.initial_accumulator_value = -1.0}), ValueError);
  CHECK_THROWS_WITH(optimizers::SGD({.learning_rate = -0.1}), Contains("learning_rate"));
  CHECK_THROWS_WITH(optimizers::deserialize({{"class_name", "Adam"},
                                             {"config", {{"learning_rat", 0.1}}}}),
                    Contains("Adam") && Contains("learning_rat"));
  CHECK_THROWS_WITH(optimizers::deserialize({{"class_name", "Adam"},
                                             {"config", {{"loss_scale_factor", 128.0}}}}),
                    Contains("loss_scale_factor"));
  CHECK_THROWS_WITH(optimizers::deserialize({{"class_name", "Lamb"}}), Contains("'Lamb'"));
}
