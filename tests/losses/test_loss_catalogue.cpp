// SPDX-License-Identifier: Apache-2.0
// The Keras loss catalogue: every loss against the float64 references of
// make_loss_metric_fixtures.py (rebuilt from its Keras config), Keras's own documented values,
// gradient checks, extreme logits, ignore_class, configs and names.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <lamina/errors.hpp>
#include <lamina/losses.hpp>
#include <lamina/ops.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "losses/loss_metric_fixture.hpp"
#include "support/gradcheck.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using testing::decode_tensor;

namespace {

Tensor f64(std::vector<double> values, Shape shape) { return Tensor::from_vector(values, shape); }

// Every loss class with a non-default config, for the round trips and gradient checks.
std::vector<std::shared_ptr<Loss>> every_loss() {
  using namespace losses;
  return {std::make_shared<MeanSquaredError>(ReductionOptions{Reduction::sum, "my_mse"}),
          std::make_shared<MeanAbsoluteError>(),
          std::make_shared<MeanAbsolutePercentageError>(),
          std::make_shared<MeanSquaredLogarithmicError>(),
          std::make_shared<Huber>(HuberOptions{.delta = 0.7}),
          std::make_shared<LogCosh>(),
          std::make_shared<CosineSimilarity>(CosineSimilarityOptions{.axis = 1}),
          std::make_shared<BinaryCrossentropy>(CrossentropyOptions{.from_logits = true, .label_smoothing = 0.1}),
          std::make_shared<CategoricalCrossentropy>(CrossentropyOptions{.label_smoothing = 0.2}),
          std::make_shared<SparseCategoricalCrossentropy>(
              SparseCrossentropyOptions{.from_logits = true, .ignore_class = 1}),
          std::make_shared<BinaryFocalCrossentropy>(
              BinaryFocalOptions{.apply_class_balancing = true, .alpha = 0.3, .gamma = 1.5, .from_logits = true}),
          std::make_shared<CategoricalFocalCrossentropy>(
              CategoricalFocalOptions{.gamma = 3.0, .from_logits = true}),
          std::make_shared<KLDivergence>(ReductionOptions{Reduction::none}),
          std::make_shared<Poisson>(),
          std::make_shared<Hinge>(),
          std::make_shared<SquaredHinge>(),
          std::make_shared<CategoricalHinge>()};
}

}  // namespace

TEST_CASE("Every Keras loss matches the float64 reference for each reduction, with and without sample weights",
          "[losses]") {
  const auto& cases = testing::loss_metric_fixture()["losses"];
  REQUIRE(cases.size() > 150);
  for (const auto& c : cases) {
    INFO(c["name"].get<std::string>());
    auto loss = Loss::from_config(c["class_name"], c["config"]);
    Tensor y_true = decode_tensor(c["y_true"]);
    Tensor weight = c.contains("sample_weight") ? decode_tensor(c["sample_weight"]) : Tensor();
    Tensor got = (*loss)(y_true, decode_tensor(c["y_pred"]), weight);
    Tensor want = decode_tensor(c["expected"]);
    REQUIRE(got.shape() == want.shape());
    for (std::int64_t i = 0; i < want.numel(); ++i) {
      INFO("element " << i);
      CHECK(got.at(i) == Approx(want.at(i)).epsilon(1e-9).margin(1e-12));
    }
  }
}

TEST_CASE("Losses reproduce the values in Keras's documentation", "[losses]") {
  // keras/src/losses/losses.py docstrings (Keras 3), computed there in float32.
  Tensor y_true = f64({0, 1, 0, 0}, {4});
  Tensor y_pred = f64({-18.6, 0.51, 2.94, -12.8}, {4});
  CHECK(losses::BinaryCrossentropy({.from_logits = true})(y_true, y_pred).item() ==
        Approx(0.8654).margin(1e-4));
  CHECK(losses::BinaryFocalCrossentropy({.gamma = 2, .from_logits = true})(y_true, y_pred).item() ==
        Approx(0.691).margin(5e-4));
  CHECK(losses::BinaryFocalCrossentropy({.apply_class_balancing = true, .gamma = 2, .from_logits = true})(
            y_true, y_pred).item() == Approx(0.51).margin(5e-3));
  Tensor y2 = f64({0, 1, 0, 0}, {2, 2});
  Tensor p2 = f64({-18.6, 0.51, 2.94, -12.8}, {2, 2});
  CHECK(losses::BinaryCrossentropy({.from_logits = true})(y2, p2, f64({0.8, 0.2}, {2})).item() ==
        Approx(0.243).margin(1e-3));
  CHECK(losses::BinaryFocalCrossentropy({.gamma = 3, .from_logits = true})(y2, p2).item() ==
        Approx(0.647).margin(5e-4));
  CHECK(losses::BinaryFocalCrossentropy({.gamma = 3, .from_logits = true})(y2, p2, f64({0.8, 0.2}, {2}))
            .item() == Approx(0.133).margin(5e-4));
  CHECK(losses::BinaryFocalCrossentropy({.apply_class_balancing = true, .gamma = 3, .from_logits = true})(
            y2, p2).item() == Approx(0.482).margin(5e-4));
  Tensor none = losses::BinaryCrossentropy({.from_logits = true, .reduction = Reduction::none})(y2, p2);
  CHECK(none.at(0) == Approx(0.235).margin(5e-4));
  CHECK(none.at(1) == Approx(1.496).margin(5e-4));
}

TEST_CASE("Every loss's gradient with respect to y_pred matches finite differences", "[losses]") {
  Tensor regression_true = f64({0.3, 1.2, 0.8, 2.0, 0.1, 0.6, 1.5, 0.9, 0.4, 0.7, 1.1, 0.2}, {4, 3});
  Tensor binary_true = f64({1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0}, {4, 3});
  Tensor onehot = f64({1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1}, {4, 3});
  Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{0, 2, 1, 2}, {4});
  Tensor positive = f64({0.2, 0.5, 0.3, 0.7, 0.15, 0.25, 0.15, 0.35, 0.6, 0.4, 0.45, 0.3}, {4, 3});
  Tensor signed_pred = f64({0.3, -1.2, 2.0, 1.5, 0.2, -0.7, -2.1, 0.4, 0.9, 1.1, -0.3, 0.05}, {4, 3});
  Tensor weights = f64({1.0, 0.5, 2.0, 0.25}, {4});
  for (const auto& loss : every_loss()) {
    INFO(loss->class_name());
    const std::string cls = loss->class_name();
    Tensor y = regression_true;
    Tensor x = positive;
    if (cls == "BinaryCrossentropy" || cls == "Hinge" || cls == "SquaredHinge" ||
        cls == "BinaryFocalCrossentropy")
      y = binary_true;
    if (cls == "CategoricalCrossentropy" || cls == "CategoricalFocalCrossentropy" ||
        cls == "CategoricalHinge" || cls == "KLDivergence")
      y = onehot;
    if (cls == "SparseCategoricalCrossentropy") y = labels;
    if (cls == "BinaryCrossentropy" || cls == "MeanSquaredError" || cls == "Huber" ||
        cls == "LogCosh" || cls == "CosineSimilarity" || cls == "Hinge" || cls == "SquaredHinge" ||
        cls == "CategoricalHinge" || cls == "SparseCategoricalCrossentropy" ||
        cls == "CategoricalFocalCrossentropy")
      x = signed_pred;
    auto result = testing::gradcheck(
        [&](const std::vector<Tensor>& in) {
          return cls == "CosineSimilarity" || cls == "KLDivergence" ? (*loss)(y, in[0])
                                                                    : (*loss)(y, in[0], weights);
        },
        {x});
    INFO(result.report);
    CHECK(result.ok);
  }
}

TEST_CASE("Extreme logits and saturated predictions give finite losses and gradients for every loss",
          "[losses]") {
  Tensor big = f64({1e4, -1e4, 1e4, -1e4, 1e4, -1e4}, {2, 3});
  Tensor onehot = f64({1, 0, 0, 0, 1, 0}, {2, 3});
  Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{0, 1}, {2});
  for (const auto& loss : every_loss()) {
    if (loss->class_name() == "Poisson" || loss->class_name() == "MeanSquaredLogarithmicError")
      continue;  // defined for non-negative predictions only (Keras gives NaN too)
    INFO(loss->class_name());
    Tensor x = big.clone().detach().set_requires_grad(true);
    Tensor y = loss->class_name() == "SparseCategoricalCrossentropy" ? labels : onehot;
    Tensor value = (*loss)(y, x);
    sum(value).backward();
    CHECK(all_finite(value));
    CHECK(all_finite(x.grad()));
  }
  // The focal losses from logits: the wrong side costs about |x|, the right side nothing.
  losses::BinaryFocalCrossentropy focal({.gamma = 2.0, .from_logits = true});
  CHECK(focal(f64({0, 1}, {1, 2}), f64({1e4, 1e4}, {1, 2})).item() == Approx(0.5e4));
}

TEST_CASE("ignore_class zeroes the ignored samples and averages over the others", "[losses]") {
  Tensor logits = f64({2.0, 0.0, 0.0, 2.0, 1.0, 1.0}, {3, 2});
  Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{0, -1, 1}, {3});
  losses::SparseCategoricalCrossentropy loss({.from_logits = true, .ignore_class = -1});
  const double a = std::log(1 + std::exp(-2.0)), b = std::log(2.0);  // samples 0 and 2
  CHECK(loss(labels, logits).item() == Approx((a + b) / 2).epsilon(1e-6));
  losses::SparseCategoricalCrossentropy none({.from_logits = true, .ignore_class = -1,
                                              .reduction = Reduction::none});
  Tensor per = none(labels, logits);
  CHECK(per.at(1) == 0.0);
  CHECK(per.at(2) == Approx(b));
  // The ignored sample gets no gradient.
  Tensor x = logits.clone().detach().set_requires_grad(true);
  loss(labels, x).backward();
  CHECK(x.grad().at(2) == 0.0);
  CHECK(x.grad().at(3) == 0.0);
  // Without ignore_class, -1 is an invalid label.
  CHECK_THROWS_WITH(losses::SparseCategoricalCrossentropy({.from_logits = true})(labels, logits),
                    Contains("label -1"));
}

TEST_CASE("Every loss writes Keras's config and is rebuilt from it", "[losses]") {
  for (const auto& loss : every_loss()) {
    INFO(loss->class_name());
    const nlohmann::json config = loss->get_config();
    CHECK(config.at("name") == loss->name());
    CHECK(config.at("reduction") == reduction_name(loss->reduction()));
    auto again = Loss::from_config(loss->class_name(), config);
    CHECK(again->class_name() == loss->class_name());
    CHECK(again->get_config() == config);
    auto serialized = losses::serialize(*loss);
    CHECK(serialized.at("module") == "keras.losses");
    CHECK(losses::deserialize(serialized)->get_config() == config);
  }
  auto scce = losses::SparseCategoricalCrossentropy({.ignore_class = 255}).get_config();
  CHECK(scce.at("ignore_class") == 255);
  CHECK(losses::SparseCategoricalCrossentropy().get_config().at("ignore_class").is_null());
  CHECK(losses::BinaryCrossentropy().get_config() ==
        nlohmann::json{{"name", "binary_crossentropy"}, {"reduction", "sum_over_batch_size"},
                       {"from_logits", false}, {"label_smoothing", 0.0}, {"axis", -1}});
  // Keras 2's form, and a null reduction (Keras's None).
  auto k2 = losses::deserialize({{"class_name", "Huber"}, {"config", {{"delta", 2.5}, {"reduction", nullptr}}}});
  CHECK(dynamic_cast<losses::Huber&>(*k2).options().delta == 2.5);
  CHECK(k2->reduction() == Reduction::none);
  CHECK_THROWS_WITH(Loss::from_config("Hubber", {}), Contains("Hubber"));
  CHECK_THROWS_WITH(Loss::from_config("LossFunctionWrapper", {{"name", "mine"}}),
                    Contains("mine") && Contains("user function"));
  CHECK_THROWS_AS(reduction_from_name("avg"), ValueError);
}

TEST_CASE("Every loss name, alias and class name resolves with Keras's defaults", "[losses]") {
  struct Case {
    const char* name;
    const char* keras_name;
  };
  for (Case c : {Case{"mape", "mean_absolute_percentage_error"},
                 Case{"MAPE", "mean_absolute_percentage_error"},
                 Case{"mean_absolute_percentage_error", "mean_absolute_percentage_error"},
                 Case{"msle", "mean_squared_logarithmic_error"},
                 Case{"MeanSquaredLogarithmicError", "mean_squared_logarithmic_error"},
                 Case{"huber", "huber_loss"}, Case{"Huber", "huber_loss"},
                 Case{"log_cosh", "log_cosh"}, Case{"logcosh", "log_cosh"},
                 Case{"binary_focal_crossentropy", "binary_focal_crossentropy"},
                 Case{"CategoricalFocalCrossentropy", "categorical_focal_crossentropy"},
                 Case{"kl_divergence", "kl_divergence"}, Case{"kld", "kl_divergence"},
                 Case{"KLD", "kl_divergence"}, Case{"poisson", "poisson"}, Case{"hinge", "hinge"},
                 Case{"squared_hinge", "squared_hinge"}, Case{"CategoricalHinge", "categorical_hinge"},
                 Case{"cosine_similarity", "cosine_similarity"}, Case{"BCE", "binary_crossentropy"}}) {
    INFO(c.name);
    auto loss = Loss::from_name(c.name);
    CHECK(loss->name() == c.keras_name);
    CHECK(loss->reduction() == Reduction::sum_over_batch_size);
  }
  auto huber = std::dynamic_pointer_cast<losses::Huber>(Loss::from_name("huber"));
  REQUIRE(huber);
  CHECK(huber->options().delta == 1.0);
  auto focal = std::dynamic_pointer_cast<losses::BinaryFocalCrossentropy>(losses::get("binary_focal_crossentropy"));
  REQUIRE(focal);
  CHECK(focal->options().gamma == 2.0);
  CHECK(focal->options().alpha == 0.25);
  CHECK_FALSE(focal->options().apply_class_balancing);
}
