// SPDX-License-Identifier: Apache-2.0
// LossScaleOptimizer: Keras 3's dynamic loss-scale schedule step by step (the values below are
// hand-computed, and match keras.optimizers.LossScaleOptimizer(SGD(0.1), initial_scale=8,
// dynamic_growth_steps=3) run on the same gradients with Keras 3.15), its state, its config, and
// the training step's scale_loss hook.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/callbacks.hpp>
#include <lamina/dtype_policy.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/model.hpp>
#include <lamina/optimizers.hpp>

using namespace lamina;
using Catch::Matchers::Contains;

namespace {

Tensor vec(std::vector<float> v) { return Tensor::from_vector(v, {static_cast<std::int64_t>(v.size())}); }

// The global policy for one test, restored after it.
struct PolicyScope {
  explicit PolicyScope(const std::string& name) { set_dtype_policy(name); }
  ~PolicyScope() { set_dtype_policy("float32"); }
};

}  // namespace

TEST_CASE("LossScaleOptimizer: Keras's defaults and argument checks", "[optimizers][loss_scale]") {
  optimizers::LossScaleOptimizer o(optimizers::SGD({.learning_rate = 0.1}));
  CHECK(o.options().initial_scale == 32768.0);
  CHECK(o.options().dynamic_growth_steps == 2000);
  CHECK(o.dynamic_scale() == 32768.0);
  CHECK(o.class_name() == "LossScaleOptimizer");
  CHECK(o.inner_optimizer()->class_name() == "SGD");
  CHECK(o.learning_rate() == Approx(0.1));
  CHECK_THROWS_AS(optimizers::LossScaleOptimizer("sgd", {.initial_scale = 0}), ValueError);
  CHECK_THROWS_AS(optimizers::LossScaleOptimizer("sgd", {.dynamic_growth_steps = 0}), ValueError);
  CHECK_THROWS_AS(optimizers::LossScaleOptimizer(std::shared_ptr<Optimizer>()), ValueError);
}

TEST_CASE("LossScaleOptimizer schedule, step by step: unscale, skip non-finite steps and halve, "
          "double after dynamic_growth_steps finite steps", "[optimizers][loss_scale]") {
  optimizers::LossScaleOptimizer o(optimizers::SGD({.learning_rate = 0.1}),
                                   {.initial_scale = 8.0, .dynamic_growth_steps = 3});
  Tensor w = vec({1.0f, 2.0f});
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  struct Step {
    std::vector<float> grad;
    std::vector<float> w;  // after the step: w -= 0.1 · grad / scale-before
    double scale;
    std::int64_t counter, iterations;
  };
  const std::vector<Step> steps = {
      {{1, 2}, {1 - 0.0125f, 2 - 0.025f}, 8, 1, 1},          // finite: unscaled by 8
      {{inf, 1}, {1 - 0.0125f, 2 - 0.025f}, 4, 0, 1},        // skipped, halved
      {{1, 1}, {0.9625f, 1.95f}, 4, 1, 2},                   // unscaled by 4
      {{1, 1}, {0.9375f, 1.925f}, 4, 2, 3},
      {{1, 1}, {0.9125f, 1.9f}, 8, 0, 4},                    // third finite step: doubled after
      {{nan, 0}, {0.9125f, 1.9f}, 4, 0, 4},                  // NaN: skipped, halved
  };
  for (std::size_t i = 0; i < steps.size(); ++i) {
    INFO("step " << i + 1);
    o.apply_gradients({vec(steps[i].grad)}, {w});
    const auto got = w.to_vector<float>();
    CHECK(got[0] == Approx(steps[i].w[0]).epsilon(1e-6));
    CHECK(got[1] == Approx(steps[i].w[1]).epsilon(1e-6));
    CHECK(o.dynamic_scale() == steps[i].scale);
    CHECK(o.step_counter() == steps[i].counter);
    CHECK(o.iterations() == steps[i].iterations);
  }
}

TEST_CASE("LossScaleOptimizer: a skipped step leaves the weights and the inner state untouched",
          "[optimizers][loss_scale]") {
  optimizers::LossScaleOptimizer o(optimizers::Adam({.learning_rate = 0.01}), {.initial_scale = 1024});
  Tensor w = vec({0.5f, -0.5f, 2.0f});
  o.apply_gradients({vec({100.0f, -50.0f, 25.0f})}, {w});
  const std::vector<float> before = w.to_vector<float>();
  std::vector<std::vector<float>> state_before;
  for (const auto& [name, value] : o.variables())
    if (name.rfind("adam/", 0) == 0) state_before.push_back(value.astype(float32).to_vector<float>());
  o.apply_gradients({vec({1.0f, std::numeric_limits<float>::infinity(), 1.0f})}, {w});
  CHECK(w.to_vector<float>() == before);
  std::vector<std::vector<float>> state_after;
  for (const auto& [name, value] : o.variables())
    if (name.rfind("adam/", 0) == 0) state_after.push_back(value.astype(float32).to_vector<float>());
  CHECK(state_after == state_before);
  CHECK(o.dynamic_scale() == 512.0);
  CHECK(o.iterations() == 1);
}

TEST_CASE("LossScaleOptimizer variables: Keras's names and order, and set_variables restores them",
          "[optimizers][loss_scale]") {
  optimizers::LossScaleOptimizer o(optimizers::SGD({.learning_rate = 0.1}),
                                   {.initial_scale = 8.0, .dynamic_growth_steps = 3});
  Tensor w = vec({1.0f, 2.0f});
  o.build({w}, {"dense/kernel"});
  std::vector<std::string> names;
  for (const auto& [name, value] : o.variables()) names.push_back(name);
  // As Keras 3.15 lists them for LossScaleOptimizer(SGD(0.1)).variables.
  CHECK(names == std::vector<std::string>{"loss_scale_optimizer/iteration", "loss_scale_optimizer/learning_rate",
                                          "loss_scale_optimizer/step_counter", "loss_scale_optimizer/dynamic_scale",
                                          "SGD/iteration", "SGD/learning_rate"});
  CHECK(o.variables()[2].second.dtype() == int64);
  CHECK(o.variables()[3].second.dtype() == float32);
  o.apply_gradients({vec({1, 1})}, {w});
  o.apply_gradients({vec({1, 1})}, {w});
  std::vector<Tensor> saved;
  for (const auto& [name, value] : o.variables()) saved.push_back(value.clone());
  optimizers::LossScaleOptimizer fresh(optimizers::SGD({.learning_rate = 0.1}),
                                       {.initial_scale = 8.0, .dynamic_growth_steps = 3});
  fresh.build({w}, {"dense/kernel"});
  fresh.set_variables(saved);
  CHECK(fresh.step_counter() == 2);
  CHECK(fresh.iterations() == 2);
  Tensor w2 = w.clone();
  o.apply_gradients({vec({1, 1})}, {w});
  fresh.apply_gradients({vec({1, 1})}, {w2});
  CHECK(fresh.dynamic_scale() == 16.0);  // the third finite step in a row
  CHECK(w2.to_vector<float>() == w.to_vector<float>());
  CHECK_THROWS_AS(fresh.set_variables({saved[0]}), ValueError);
}

TEST_CASE("LossScaleOptimizer config: Keras 3's form, round trip and refusals", "[optimizers][loss_scale]") {
  optimizers::LossScaleOptimizer o(optimizers::SGD({.learning_rate = 0.1}),
                                   {.initial_scale = 8.0, .dynamic_growth_steps = 3});
  const nlohmann::json j = optimizers::serialize(o);
  CHECK(j["class_name"] == "LossScaleOptimizer");
  CHECK(j["module"] == "keras.optimizers");
  CHECK(j["config"]["name"] == "loss_scale_optimizer");
  CHECK(j["config"]["initial_scale"] == 8.0);
  CHECK(j["config"]["dynamic_growth_steps"] == 3);
  CHECK(j["config"]["inner_optimizer"]["class_name"] == "SGD");
  CHECK(j["config"].size() == 4);
  auto back = optimizers::deserialize(j);
  auto* lso = dynamic_cast<optimizers::LossScaleOptimizer*>(back.get());
  REQUIRE(lso != nullptr);
  CHECK(lso->options().initial_scale == 8.0);
  CHECK(lso->options().dynamic_growth_steps == 3);
  CHECK(lso->learning_rate() == Approx(0.1));
  CHECK(optimizers::serialize(*lso) == j);
  // What Keras 3.15 writes for the same optimizer reads the same way.
  const auto keras = nlohmann::json::parse(R"({"module": "keras.optimizers", "class_name": "LossScaleOptimizer",
      "config": {"name": "loss_scale_optimizer", "inner_optimizer": {"module": "keras.optimizers",
      "class_name": "SGD", "config": {"name": "sgd", "learning_rate": 0.10000000149011612, "weight_decay": null,
      "clipnorm": null, "global_clipnorm": null, "clipvalue": null, "use_ema": false, "ema_momentum": 0.99,
      "ema_overwrite_frequency": null, "loss_scale_factor": null, "gradient_accumulation_steps": null,
      "momentum": 0.0, "nesterov": false}, "registered_name": null}, "initial_scale": 8.0,
      "dynamic_growth_steps": 3}, "registered_name": null})");
  auto from_keras = optimizers::deserialize(keras);
  CHECK(dynamic_cast<optimizers::LossScaleOptimizer&>(*from_keras).options().dynamic_growth_steps == 3);
  nlohmann::json bad = keras;
  bad["config"]["dynamic"] = false;
  CHECK_THROWS_WITH(optimizers::deserialize(bad), Contains("dynamic"));
  bad = keras;
  bad["config"]["clipnorm"] = 1.0;
  CHECK_THROWS_WITH(optimizers::deserialize(bad), Contains("clipnorm"));
  bad = keras;
  bad["config"]["surprise"] = 1;
  CHECK_THROWS_WITH(optimizers::deserialize(bad), Contains("surprise"));
  bad = keras;
  bad["config"].erase("inner_optimizer");
  CHECK_THROWS_WITH(optimizers::deserialize(bad), Contains("inner_optimizer"));
}

TEST_CASE("fit scales the loss through the optimizer's hook: loss scaling by a power of two "
          "trains to the same weights", "[optimizers][loss_scale]") {
  const auto train = [](Ref<Optimizer> optimizer, double* scale_after, int epochs = 3) {
    reset_layer_names();
    Sequential model({layers::Input({3}), layers::Dense(2, {.kernel_initializer = "ones"})});
    model.compile({.optimizer = optimizer, .loss = "mse"});
    const Tensor x = Tensor::from_vector<float>({1, 2, 3, -1, 0.5f, 2}, {2, 3});
    const Tensor y = Tensor::from_vector<float>({1, 0, 0, 1}, {2, 2});
    model.fit(x, y, {.batch_size = 2, .epochs = epochs, .verbose = 0, .shuffle = false});
    if (scale_after)
      *scale_after = dynamic_cast<optimizers::LossScaleOptimizer&>(*model.optimizer()).dynamic_scale();
    return model.get_weights()[0].to_vector<float>();
  };
  double scale = 0;
  const auto plain = train(optimizers::SGD({.learning_rate = 0.05}), nullptr);
  const auto scaled = train(optimizers::LossScaleOptimizer(optimizers::SGD({.learning_rate = 0.05}),
                                                           {.initial_scale = 1024, .dynamic_growth_steps = 2}),
                            &scale);
  CHECK(scaled == plain);
  CHECK(scale == 2048.0);  // 3 finite steps, growth every 2
  // A scale large enough to overflow the float32 gradients: both steps are skipped, each halving
  // the scale.
  const auto skipped = train(optimizers::LossScaleOptimizer(optimizers::SGD({.learning_rate = 0.05}),
                                                            {.initial_scale = 1e38}),
                             &scale, 2);
  CHECK(scale == Approx(2.5e37).epsilon(1e-6));
  CHECK(skipped == std::vector<float>(6, 1.0f));  // the kernel keeps its initial ones
}

TEST_CASE("compile wraps the optimizer in a LossScaleOptimizer under mixed_float16, as Keras",
          "[optimizers][loss_scale]") {
  {
    PolicyScope policy("mixed_float16");
    Sequential model({layers::Input({2}), layers::Dense(1)});
    model.compile({.optimizer = optimizers::SGD(), .loss = "mse"});
    auto* lso = dynamic_cast<optimizers::LossScaleOptimizer*>(model.optimizer().get());
    REQUIRE(lso != nullptr);
    CHECK(optimizers::serialize(*lso)["config"]["name"] == "loss_scale_optimizer");
    CHECK(lso->inner_optimizer()->class_name() == "SGD");
  }
  for (const char* name : {"float32", "mixed_bfloat16"}) {
    PolicyScope policy(name);
    Sequential model({layers::Input({2}), layers::Dense(1)});
    model.compile({.optimizer = "sgd", .loss = "mse"});
    CHECK(dynamic_cast<optimizers::LossScaleOptimizer*>(model.optimizer().get()) == nullptr);
  }
}
