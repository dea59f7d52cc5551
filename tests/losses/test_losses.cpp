// SPDX-License-Identifier: Apache-2.0
// Losses against PyTorch's float64 values with Keras's clipping and reductions
// (tests/fixtures/losses.json, made by make_loss_optimizer_fixtures.py), gradient checks, the
// saturating softmax/sigmoid shortcut, extreme logits, bad labels and shapes, and lookup by name.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <lamina/errors.hpp>
#include <lamina/losses.hpp>
#include <lamina/ops.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/gradcheck.hpp"

using namespace lamina;
using Catch::Matchers::Contains;

namespace {

const nlohmann::json& fixture() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/losses.json");
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
  }();
  return j;
}

Tensor decode(const nlohmann::json& j) {
  Shape shape(j["shape"].get<std::vector<std::int64_t>>());
  if (j["dtype"] == "int64")
    return Tensor::from_vector(j["data"].get<std::vector<std::int64_t>>(), shape);
  return Tensor::from_vector(j["data"].get<std::vector<double>>(), shape);
}

Reduction reduction_named(const std::string& name) {
  if (name == "sum") return Reduction::sum;
  if (name == "none") return Reduction::none;
  return Reduction::sum_over_batch_size;
}

std::shared_ptr<Loss> loss_for(const nlohmann::json& c) {
  const std::string name = c["loss"];
  const Reduction reduction = reduction_named(c["reduction"]);
  const bool from_logits = c["from_logits"];
  const double ls = c["label_smoothing"];
  if (name == "mse" || name == "mean_squared_error")
    return std::make_shared<losses::MeanSquaredError>(losses::ReductionOptions{reduction});
  if (name == "mae")
    return std::make_shared<losses::MeanAbsoluteError>(losses::ReductionOptions{reduction});
  if (name == "binary_crossentropy")
    return std::make_shared<losses::BinaryCrossentropy>(
        losses::CrossentropyOptions{from_logits, ls, -1, reduction});
  if (name == "categorical_crossentropy")
    return std::make_shared<losses::CategoricalCrossentropy>(
        losses::CrossentropyOptions{from_logits, ls, -1, reduction});
  return std::make_shared<losses::SparseCategoricalCrossentropy>(
      losses::SparseCrossentropyOptions{from_logits, std::nullopt, reduction});
}

// Runs one fixture case with the inputs converted to `dtype`.
Tensor run_case(const nlohmann::json& c, DType dtype) {
  Tensor y_true = decode(c["y_true"]);
  if (is_floating(y_true.dtype())) y_true = y_true.astype(dtype);
  Tensor y_pred = decode(c["y_pred"]).astype(dtype);
  if (c.contains("through")) y_pred = c["through"] == "sigmoid" ? sigmoid(y_pred) : softmax(y_pred);
  Tensor weight = c.contains("sample_weight") ? decode(c["sample_weight"]).astype(dtype) : Tensor();
  return (*loss_for(c))(y_true, y_pred, weight);
}

void check_close(const Tensor& got, const Tensor& want, double tol) {
  REQUIRE(got.shape() == want.shape());
  for (std::int64_t i = 0; i < want.numel(); ++i) {
    INFO("element " << i);
    CHECK(std::abs(got.at(i) - want.at(i)) <= tol * std::max(1.0, std::abs(want.at(i))));
  }
}

Tensor f64(std::vector<double> values, Shape shape) { return Tensor::from_vector(values, shape); }

// A (4, 3) batch of probabilities away from the clipping bounds, rows not normalised.
Tensor probabilities() {
  return f64({0.2, 0.5, 0.3, 0.7, 0.1, 0.25, 0.15, 0.35, 0.6, 0.4, 0.45, 0.3}, {4, 3});
}
Tensor logits() {
  return f64({0.3, -1.2, 2.0, 1.5, 0.2, -0.7, -2.1, 0.4, 0.9, 1.1, -0.3, 0.05}, {4, 3});
}
Tensor one_hot_targets() { return f64({1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1}, {4, 3}); }
Tensor class_labels() { return Tensor::from_vector(std::vector<std::int64_t>{0, 2, 1, 2}, {4}); }
Tensor weights() { return f64({1.0, 0.5, 2.0, 0.25}, {4}); }

void require_gradcheck(const std::function<Tensor(const Tensor&)>& loss_of_pred, Tensor y_pred) {
  auto result = testing::gradcheck(
      [&](const std::vector<Tensor>& in) { return loss_of_pred(in[0]); }, {y_pred});
  INFO(result.report);
  REQUIRE(result.ok);
}

}  // namespace

TEST_CASE(
    "Each loss matches PyTorch's float64 reference for every reduction, with and without "
    "sample weights",
    "[losses]") {
  const auto& cases = fixture()["cases"];
  REQUIRE(cases.size() > 100);
  for (const auto& c : cases) {
    INFO(c["name"].get<std::string>());
    check_close(run_case(c, float64), decode(c["expected"]), 1e-6);
  }
}

TEST_CASE("Losses computed in float32 agree with the float64 reference where nothing is clipped",
          "[losses]") {
  int checked = 0;
  for (const auto& c : fixture()["cases"]) {
    const std::string name = c["loss"];
    // Clipping bounds round differently in float32 (1 - 1e-7), as they do in Keras.
    if (!c["from_logits"] && !c.contains("through") && name != "mse" && name != "mae" &&
        name != "mean_squared_error")
      continue;
    INFO(c["name"].get<std::string>());
    Tensor got = run_case(c, float32);
    CHECK(got.dtype() == float32);
    check_close(got, decode(c["expected"]), 1e-5);
    ++checked;
  }
  CHECK(checked > 50);
}

TEST_CASE(
    "sum_over_batch_size divides the weighted sum by the number of samples, not by the "
    "sum of the weights",
    "[losses]") {
  Tensor y_true = f64({0, 0, 0, 0}, {4});
  Tensor y_pred = f64({1, 2, 3, 4}, {4, 1});  // per-sample squared errors 1, 4, 9, 16
  Tensor w = f64({1, 0, 0, 0}, {4});
  CHECK(losses::MeanSquaredError()(y_true, y_pred, w).item() == Approx(0.25));
  CHECK(losses::MeanSquaredError({Reduction::sum})(y_true, y_pred, w).item() == Approx(1.0));
  Tensor none = losses::MeanSquaredError({Reduction::none})(y_true, y_pred, w);
  CHECK(none.shape() == Shape{4});
  CHECK(none.to_vector<double>() == std::vector<double>{1, 0, 0, 0});
}

TEST_CASE("Per-sample weights (N) weigh every timestep of a sequence loss", "[losses]") {
  Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 1, 0}, {2, 2});
  Tensor x = f64({0, 0, 0, 0, 0, 0, 0, 0}, {2, 2, 2});  // uniform: log 2 per timestep
  losses::SparseCategoricalCrossentropy loss({.from_logits = true, .reduction = Reduction::none});
  Tensor out = loss(labels, x, f64({1.0, 3.0}, {2}));
  REQUIRE(out.shape() == Shape{2, 2});
  CHECK(out.at(1) == Approx(std::log(2.0)));
  CHECK(out.at(2) == Approx(3 * std::log(2.0)));
}

TEST_CASE(
    "Softmax and sigmoid outputs are scored from their logits, exactly where clipped "
    "probabilities would saturate",
    "[losses]") {
  // softmax([40, 0])[1] = 4e-18: the clipped formula would give -log(1e-7) = 16.1181.
  Tensor x = f64({40.0, 0.0}, {1, 2});
  Tensor label = Tensor::from_vector(std::vector<std::int64_t>{1}, {1});
  Tensor onehot = f64({0.0, 1.0}, {1, 2});
  const double clipped = -std::log(1e-7);
  CHECK(losses::SparseCategoricalCrossentropy()(label, softmax(x)).item() ==
        Approx(40.0).epsilon(1e-12));
  CHECK(losses::CategoricalCrossentropy()(onehot, softmax(x)).item() ==
        Approx(40.0).epsilon(1e-12));
  // The same probabilities without their history take the clipped path.
  Tensor detached_probs = Tensor::from_vector(softmax(x).to_vector<double>(), {1, 2});
  CHECK(losses::SparseCategoricalCrossentropy()(label, detached_probs).item() ==
        Approx(clipped).epsilon(1e-9));

  Tensor z = f64({-40.0}, {1, 1});
  Tensor one = f64({1.0}, {1, 1});
  CHECK(losses::BinaryCrossentropy()(one, sigmoid(z)).item() == Approx(40.0).epsilon(1e-12));
  Tensor detached_sig = Tensor::from_vector(sigmoid(z).to_vector<double>(), {1, 1});
  CHECK(losses::BinaryCrossentropy()(one, detached_sig).item() == Approx(clipped).epsilon(1e-6));
}

TEST_CASE("Loss gradients with respect to y_pred match finite differences", "[losses]") {
  Tensor y_reg = f64({0.1, -0.4, 0.9, 1.3, 0.0, -1.0, 0.5, 0.5, 0.2, -0.3, 0.8, 2.0}, {4, 3});
  Tensor y_bin = f64({1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0}, {4, 3});

  SECTION("mse and mae, weighted") {
    require_gradcheck(
        [&](const Tensor& p) { return losses::MeanSquaredError()(y_reg, p, weights()); }, logits());
    require_gradcheck(
        [&](const Tensor& p) { return losses::MeanAbsoluteError()(y_reg, p, weights()); },
        logits());
  }
  SECTION("binary crossentropy on probabilities, logits and sigmoid outputs") {
    losses::BinaryCrossentropy on_probs({.label_smoothing = 0.1});
    require_gradcheck([&](const Tensor& p) { return on_probs(y_bin, p, weights()); },
                      probabilities());
    losses::BinaryCrossentropy on_logits({.from_logits = true, .label_smoothing = 0.2});
    require_gradcheck([&](const Tensor& p) { return on_logits(y_bin, p); }, logits());
    require_gradcheck(
        [&](const Tensor& p) { return losses::BinaryCrossentropy()(y_bin, sigmoid(p)); }, logits());
  }
  SECTION("categorical crossentropy on probabilities, logits and softmax outputs") {
    losses::CategoricalCrossentropy on_probs({.label_smoothing = 0.1});
    require_gradcheck([&](const Tensor& p) { return on_probs(one_hot_targets(), p, weights()); },
                      probabilities());
    losses::CategoricalCrossentropy on_logits({.from_logits = true, .label_smoothing = 0.2});
    require_gradcheck([&](const Tensor& p) { return on_logits(one_hot_targets(), p); }, logits());
    require_gradcheck(
        [&](const Tensor& p) {
          return losses::CategoricalCrossentropy()(one_hot_targets(), softmax(p));
        },
        logits());
  }
  SECTION("sparse categorical crossentropy on probabilities, logits and softmax outputs") {
    require_gradcheck(
        [&](const Tensor& p) { return losses::SparseCategoricalCrossentropy()(class_labels(), p); },
        probabilities());
    losses::SparseCategoricalCrossentropy on_logits({.from_logits = true});
    require_gradcheck([&](const Tensor& p) { return on_logits(class_labels(), p, weights()); },
                      logits());
    require_gradcheck(
        [&](const Tensor& p) {
          return losses::SparseCategoricalCrossentropy()(class_labels(), softmax(p));
        },
        logits());
  }
  SECTION("binary crossentropy from logits at exactly zero has gradient sigmoid(0) - y") {
    Tensor x = f64({0.0, 0.0}, {1, 2});
    x.set_requires_grad(true);
    losses::BinaryCrossentropy({.from_logits = true})(f64({1.0, 0.0}, {1, 2}), x).backward();
    CHECK(x.grad().at(0) == Approx(-0.25));  // (0.5 - 1) / 2 elements
    CHECK(x.grad().at(1) == Approx(0.25));
  }
}

TEST_CASE("Extreme logits (+-1e4) and saturated probabilities give finite losses and gradients",
          "[losses]") {
  Tensor big = f64({1e4, -1e4, 1e4, -1e4, 1e4, -1e4}, {2, 3});
  auto loss_and_grad = [](const std::function<Tensor(const Tensor&)>& f, Tensor x) {
    x = x.clone().detach().set_requires_grad(true);
    Tensor loss = f(x);
    loss.backward();
    return std::pair{loss, x.grad()};
  };
  SECTION("binary crossentropy") {
    Tensor y = f64({0, 1, 1, 0, 1, 1}, {2, 3});
    auto [loss, grad] = loss_and_grad(
        [&](const Tensor& x) { return losses::BinaryCrossentropy({.from_logits = true})(y, x); },
        big);
    // Wrong-side logits cost |x| each: 1e4 on 3 of 6 elements.
    CHECK(loss.item() == Approx(0.5e4));
    CHECK(all_finite(grad));
    auto [loss2, grad2] = loss_and_grad(
        [&](const Tensor& x) { return losses::BinaryCrossentropy()(y, sigmoid(x)); }, big);
    CHECK(std::isfinite(loss2.item()));
    CHECK(all_finite(grad2));
  }
  SECTION("categorical and sparse categorical crossentropy") {
    // Sample 0 ties its target class with another (log 2); sample 1 misses it by 2e4.
    Tensor onehot = f64({1, 0, 0, 1, 0, 0}, {2, 3});
    Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{0, 0}, {2});
    const double want = (std::log(2.0) + 2e4) / 2;
    auto [cce, cce_grad] = loss_and_grad(
        [&](const Tensor& x) {
          return losses::CategoricalCrossentropy({.from_logits = true})(onehot, x);
        },
        big);
    CHECK(cce.item() == Approx(want).epsilon(1e-12));
    CHECK(all_finite(cce_grad));
    auto [scce, scce_grad] = loss_and_grad(
        [&](const Tensor& x) {
          return losses::SparseCategoricalCrossentropy()(labels, softmax(x));
        },
        big);
    CHECK(scce.item() == Approx(want).epsilon(1e-12));
    CHECK(all_finite(scce_grad));
  }
  SECTION("probabilities of exactly 0 and 1 are clipped") {
    Tensor p = f64({0.0, 1.0, 1.0, 0.0, 0.5, 0.5}, {2, 3});
    Tensor y = f64({1, 0, 1, 0, 1, 0}, {2, 3});
    auto [bce, bce_grad] =
        loss_and_grad([&](const Tensor& x) { return losses::BinaryCrossentropy()(y, x); }, p);
    CHECK(std::isfinite(bce.item()));
    CHECK(all_finite(bce_grad));
    Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{0, 2}, {2});
    auto [scce, scce_grad] = loss_and_grad(
        [&](const Tensor& x) { return losses::SparseCategoricalCrossentropy()(labels, x); }, p);
    CHECK(std::isfinite(scce.item()));
    CHECK(all_finite(scce_grad));
  }
}

TEST_CASE(
    "Sparse categorical crossentropy accepts integer labels of any type, float labels and "
    "(N, 1) labels alike",
    "[losses]") {
  losses::SparseCategoricalCrossentropy loss({.from_logits = true});
  const double want = loss(class_labels(), logits()).item();
  CHECK(loss(class_labels().astype(int32), logits()).item() == Approx(want));
  CHECK(loss(class_labels().astype(uint8), logits()).item() == Approx(want));
  CHECK(loss(class_labels().astype(float32).reshape({4, 1}), logits()).item() == Approx(want));
  CHECK(loss(class_labels().astype(float64), logits().astype(float32)).item() ==
        Approx(want).epsilon(1e-5));
}

TEST_CASE(
    "Sparse categorical crossentropy rejects labels outside 0..C-1 and shapes that do not "
    "fit, naming them",
    "[losses]") {
  losses::SparseCategoricalCrossentropy loss({.from_logits = true});
  auto labels = [](std::vector<std::int64_t> v) { return Tensor::from_vector(v, {4}); };
  CHECK_THROWS_AS(loss(labels({0, 3, 1, 2}), logits()), ValueError);
  CHECK_THROWS_WITH(loss(labels({0, 3, 1, 2}), logits()),
                    Contains("label 3") && Contains("3 classes") && Contains("[0, 3)"));
  CHECK_THROWS_WITH(loss(labels({0, -1, 1, 2}), logits()), Contains("label -1"));
  CHECK_THROWS_AS(loss(f64({0, 1.5, 1, 2}, {4}), logits()), ValueError);
  CHECK_THROWS_AS(losses::SparseCategoricalCrossentropy()(labels({0, 7, 1, 2}), probabilities()),
                  ValueError);

  CHECK_THROWS_AS(loss(one_hot_targets(), logits()), ShapeError);
  CHECK_THROWS_WITH(loss(one_hot_targets(), logits()),
                    Contains("sparse_categorical_crossentropy") && Contains("(4, 3)") &&
                        Contains("expected (4,) or (4, 1)"));
  CHECK_THROWS_AS(loss(Tensor::from_vector(std::vector<std::int64_t>{0, 1, 2}, {3}), logits()),
                  ShapeError);
}

TEST_CASE("Losses reject y_true and sample weights whose shapes do not fit, naming both",
          "[losses]") {
  Tensor y_pred = logits();  // (4, 3)
  Tensor y_true = f64({0, 0, 0, 0, 0, 0, 0, 0}, {4, 2});
  CHECK_THROWS_AS(losses::MeanSquaredError()(y_true, y_pred), ShapeError);
  CHECK_THROWS_WITH(losses::MeanSquaredError()(y_true, y_pred),
                    Contains("mean_squared_error") && Contains("(4, 2)") && Contains("(4, 3)"));
  CHECK_THROWS_AS(losses::MeanAbsoluteError()(y_true, y_pred), ShapeError);
  CHECK_THROWS_AS(losses::BinaryCrossentropy()(y_true, probabilities()), ShapeError);
  CHECK_THROWS_WITH(losses::CategoricalCrossentropy()(class_labels(), probabilities()),
                    Contains("categorical_crossentropy") && Contains("(4,)") && Contains("(4, 3)"));
  CHECK_THROWS_AS(losses::MeanSquaredError()(one_hot_targets(), y_pred, f64({1, 2, 3}, {3})),
                  ShapeError);
}

TEST_CASE("Losses resolve Keras's names, aliases and class names", "[losses]") {
  struct Case {
    const char* name;
    const char* keras_name;
  };
  for (Case c :
       {Case{"mse", "mean_squared_error"}, Case{"mean_squared_error", "mean_squared_error"},
        Case{"MeanSquaredError", "mean_squared_error"}, Case{"mae", "mean_absolute_error"},
        Case{"MeanAbsoluteError", "mean_absolute_error"}, Case{"bce", "binary_crossentropy"},
        Case{"BinaryCrossentropy", "binary_crossentropy"},
        Case{"categorical_crossentropy", "categorical_crossentropy"},
        Case{"SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"}}) {
    INFO(c.name);
    auto loss = Loss::from_name(c.name);
    REQUIRE(loss);
    CHECK(loss->name() == c.keras_name);
    CHECK(loss->reduction() == Reduction::sum_over_batch_size);
  }
  CHECK(dynamic_cast<losses::SparseCategoricalCrossentropy*>(
            losses::get("sparse_categorical_crossentropy").get()) != nullptr);
  CHECK_FALSE(dynamic_cast<losses::BinaryCrossentropy*>(losses::get("mse").get()) != nullptr);
  Ref<Loss> by_name = "mse";
  CHECK(by_name->name() == "mean_squared_error");
  CHECK_THROWS_AS(Loss::from_name("mean_squared_eror"), ValueError);
  CHECK_THROWS_WITH(Loss::from_name("mean_squared_eror"),
                    Contains("mean_squared_eror") && Contains("'mean_squared_error'"));
}

TEST_CASE("A loss from a user function is reduced and weighted like the built-in ones",
          "[losses]") {
  auto twice_squared = [](const Tensor& y_true, const Tensor& y_pred) {
    return square(y_pred - y_true) * 2.0;  // per element, shape (N, D)
  };
  Ref<Loss> loss = twice_squared;
  CHECK(loss->name() == "custom_loss");
  Tensor y_true = f64({0, 0, 0, 0}, {2, 2});
  Tensor y_pred = f64({1, 2, 3, 4}, {2, 2});  // elements 2, 8, 18, 32
  CHECK((*loss)(y_true, y_pred).item() == Approx(15.0));
  // (N) weights broadcast along the trailing axis: (2 + 8) * 1 + (18 + 32) * 0.5 = 35, over 4.
  CHECK((*loss)(y_true, y_pred, f64({1.0, 0.5}, {2})).item() == Approx(35.0 / 4));
  auto named = Loss::from_function(twice_squared, "twice_squared");
  CHECK(named->name() == "twice_squared");
}
