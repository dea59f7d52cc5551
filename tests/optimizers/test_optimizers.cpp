// SPDX-License-Identifier: Apache-2.0
// SGD and Adam against Keras's update rules written out in float64 (tests/fixtures/optimizers.json,
// made by make_loss_optimizer_fixtures.py and cross-checked there against torch.optim), the
// RMSprop rule by hand, state naming, argument checks and lookup by name.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/model.hpp>
#include <lamina/ops.hpp>
#include <lamina/optimizers.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using namespace lamina;
using Catch::Matchers::Contains;

namespace {

const nlohmann::json& fixture() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/optimizers.json");
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
  }();
  return j;
}

Tensor decode(const nlohmann::json& j) {
  return Tensor::from_vector(j["data"].get<std::vector<double>>(),
                             Shape(j["shape"].get<std::vector<std::int64_t>>()));
}

std::shared_ptr<Optimizer> make(const nlohmann::json& c) {
  const auto& o = c["options"];
  if (c["optimizer"] == "sgd")
    return std::make_shared<optimizers::SGD>(
        optimizers::SGDOptions{.learning_rate = o["learning_rate"].get<double>(),
                               .momentum = o.value("momentum", 0.0),
                               .nesterov = o.value("nesterov", false)});
  return std::make_shared<optimizers::Adam>(
      optimizers::AdamOptions{.learning_rate = o["learning_rate"].get<double>(),
                              .beta_1 = 0.9,
                              .beta_2 = o.value("beta_2", 0.999),
                              .epsilon = o.value("epsilon", 1e-7),
                              .amsgrad = o.value("amsgrad", false)});
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double worst = 0.0;
  for (std::int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(a.at(i) - b.at(i)));
  return worst;
}

Tensor slot(const Optimizer& opt, const std::string& name) {
  for (const auto& [n, t] : opt.variables())
    if (n == name) return t;
  return Tensor();
}

Tensor f64(std::vector<double> values, Shape shape) { return Tensor::from_vector(values, shape); }

}  // namespace

TEST_CASE("SGD and Adam follow Keras's update rules step by step in float64 and float32",
          "[optimizers]") {
  const auto& fx = fixture();
  REQUIRE(fx["cases"].size() == 6);
  for (DType dtype : {float64, float32}) {
    const double tol = dtype == float64 ? 1e-10 : 1e-6;
    for (const auto& c : fx["cases"]) {
      INFO(c["name"].get<std::string>() << " in " << dtype_name(dtype));
      auto opt = make(c);
      Tensor w = decode(fx["initial"]).astype(dtype).clone();
      for (std::size_t step = 0; step < fx["gradients"].size(); ++step) {
        INFO("step " << step + 1);
        opt->apply_gradients({decode(fx["gradients"][step]).astype(dtype)}, {w});
        CHECK(max_abs_diff(w, decode(c["weights"][step])) <= tol);
      }
      CHECK(opt->iterations() == 5);
      for (const auto& [name, want] : c["slots"].items()) {
        const std::string keras_slot = name == "m" ? "momentum" : name == "v" ? "velocity" : "velocity_hat";
        Tensor got = slot(*opt, (c["optimizer"] == "sgd" ? "SGD" : "adam") + std::string("/variable_0_") + keras_slot);
        INFO("slot " << name);
        REQUIRE(got.defined());
        CHECK(got.dtype() == dtype);
        CHECK(max_abs_diff(got, decode(want)) <= tol);
      }
    }
  }
}

TEST_CASE(
    "Optimizer state is listed as iteration, learning_rate, then the slots in Keras 3's "
    "order",
    "[optimizers]") {
  Tensor a = Tensor::zeros({2, 3}, float32), b = Tensor::zeros({3}, float32);
  Tensor ga = Tensor::ones({2, 3}, float32), gb = Tensor::ones({3}, float32);

  optimizers::Adam adam({.amsgrad = true});
  adam.apply_gradients({ga, gb}, {a, b});
  std::vector<std::string> names;
  for (const auto& [n, t] : adam.variables()) names.push_back(n);
  CHECK(names == std::vector<std::string>{
                     "adam/iteration", "adam/learning_rate", "adam/variable_0_momentum",
                     "adam/variable_0_velocity", "adam/variable_1_momentum",
                     "adam/variable_1_velocity", "adam/variable_0_velocity_hat",
                     "adam/variable_1_velocity_hat"});
  auto vars = adam.variables();
  CHECK(vars[0].second.dtype() == int64);
  CHECK(vars[0].second.item() == 1.0);
  CHECK(vars[1].second.item() == Approx(0.001));
  CHECK(vars[4].second.shape() == Shape{3});

  optimizers::SGD plain;
  plain.apply_gradients({ga}, {a});
  CHECK(plain.variables().size() == 2);  // no momentum, no slots (as in Keras)
  optimizers::SGD momentum({.momentum = 0.5});
  momentum.apply_gradients({ga}, {a});
  REQUIRE(momentum.variables().size() == 3);
  CHECK(momentum.variables()[2].first == "SGD/variable_0_momentum");
}

TEST_CASE("A variable whose gradient is undefined is left alone while the others step",
          "[optimizers]") {
  Tensor a = f64({1, 2}, {2}), b = f64({3, 4}, {2});
  optimizers::SGD sgd({.learning_rate = 0.5, .momentum = 0.9});
  sgd.apply_gradients({f64({1, 1}, {2}), Tensor()}, {a, b});
  CHECK(a.to_vector<double>() == std::vector<double>{0.5, 1.5});
  CHECK(b.to_vector<double>() == std::vector<double>{3, 4});
  sgd.apply_gradients({Tensor(), f64({2, 2}, {2})}, {a, b});
  CHECK(b.to_vector<double>() == std::vector<double>{2, 3});
  CHECK(sgd.iterations() == 2);
}

TEST_CASE("Gradients of another float type are converted to the variable's", "[optimizers]") {
  Tensor w = Tensor::full({3}, 1.0, float32);
  optimizers::SGD sgd({.learning_rate = 0.25});
  sgd.apply_gradients({Tensor::full({3}, 2.0, float64)}, {w});
  CHECK(w.dtype() == float32);
  CHECK(w.to_vector<double>() == std::vector<double>{0.5, 0.5, 0.5});
}

TEST_CASE("The learning rate can change between steps", "[optimizers]") {
  Tensor w = f64({0}, {1});
  optimizers::SGD sgd({.learning_rate = 1.0});
  sgd.apply_gradients({f64({1}, {1})}, {w});
  sgd.set_learning_rate(0.5);
  sgd.apply_gradients({f64({1}, {1})}, {w});
  CHECK(w.item() == -1.5);
  CHECK(sgd.learning_rate() == 0.5);
}

TEST_CASE("Adam updates a large variable (split across threads) like the small ones",
          "[optimizers]") {
  const std::int64_t n = 300'000;
  std::vector<double> g(n);
  for (std::int64_t i = 0; i < n; ++i) g[i] = std::sin(0.001 * i) + 0.01;
  Tensor grad = Tensor::from_vector(g, {n});
  Tensor w = Tensor::zeros({n}, float64);
  optimizers::Adam adam({.learning_rate = 0.1});
  adam.apply_gradients({grad}, {w});
  adam.apply_gradients({grad}, {w});
  // Two steps with the same gradient, by hand: m_t = (1 - 0.9^t) g, v_t = (1 - 0.999^t) g², so
  // w_t = w_{t-1} - 0.1·g / (|g| + 1e-7 / sqrt(1 - 0.999^t)).
  auto step = [](double gi, int t) {
    return 0.1 * gi / (std::abs(gi) + 1e-7 / std::sqrt(1 - std::pow(0.999, t)));
  };
  const auto got = w.to_vector<double>();
  double worst = 0.0;
  for (std::int64_t i = 0; i < n; ++i)
    worst = std::max(worst, std::abs(got[i] + step(g[i], 1) + step(g[i], 2)));
  CHECK(worst <= 1e-12);
}

TEST_CASE("apply_gradients rejects mismatched lists and shapes, and a changed variable list",
          "[optimizers]") {
  Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  optimizers::Adam adam;
  CHECK_THROWS_AS(adam.apply_gradients({f64({1}, {1})}, {a, a}), ValueError);
  CHECK_THROWS_WITH(adam.apply_gradients({f64({1}, {1})}, {a, a}),
                    Contains("1 gradients") && Contains("2 variables"));
  CHECK_THROWS_AS(adam.apply_gradients({Tensor::zeros({3, 2}, float64)}, {a}), ValueError);
  CHECK_THROWS_WITH(adam.apply_gradients({Tensor::zeros({3, 2}, float64)}, {a}),
                    Contains("(3, 2)") && Contains("(2, 3)"));
  CHECK(adam.iterations() == 0);
  CHECK(a.to_vector<double>() == std::vector<double>{1, 2, 3, 4, 5, 6});

  adam.apply_gradients({Tensor::ones({2, 3}, float64)}, {a});
  Tensor other = Tensor::zeros({4}, float64);
  CHECK_THROWS_AS(
      adam.apply_gradients({Tensor::ones({2, 3}, float64), Tensor::ones({4}, float64)}, {a, other}),
      ValueError);
  CHECK_THROWS_AS(adam.apply_gradients({Tensor::ones({4}, float64)}, {other}), ValueError);
  CHECK_THROWS_AS(adam.apply_gradients({Tensor::ones({3}, int64)}, {Tensor::zeros({3}, int64)}),
                  TypeError);
}

TEST_CASE("Optimizers resolve Keras names case-insensitively and refuse those lamina lacks",
          "[optimizers]") {
  for (const char* name : {"adam", "Adam", "ADAM"}) {
    auto opt = Optimizer::from_name(name);
    CHECK(dynamic_cast<optimizers::Adam*>(opt.get()) != nullptr);
    CHECK(opt->name() == "Adam");
    CHECK(opt->learning_rate() == 0.001);
  }
  auto sgd = optimizers::get("SGD");
  CHECK(dynamic_cast<optimizers::SGD*>(sgd.get()) != nullptr);
  CHECK(sgd->learning_rate() == 0.01);
  Ref<Optimizer> by_name = "sgd";
  CHECK(by_name->name() == "SGD");

  auto rmsprop = Optimizer::from_name("RMSprop");
  CHECK(dynamic_cast<optimizers::RMSprop*>(rmsprop.get()) != nullptr);
  CHECK(rmsprop->learning_rate() == 0.001);
  CHECK_THROWS_AS(Optimizer::from_name("lamb"), ValueError);
  CHECK_THROWS_WITH(Optimizer::from_name("Lamb"), Contains("Lamb") && Contains("not available") &&
                                                      Contains("'sgd'") && Contains("'nadam'"));
  CHECK_THROWS_WITH(Optimizer::from_name("adamm"), Contains("'adamm'") && Contains("'adam'"));
  CHECK_THROWS_AS(optimizers::SGD({.momentum = 1.5}), ValueError);
}

// Keras 3's RMSprop, stepped by hand in double: v = ρv + (1−ρ)g², a = ρa + (1−ρ)g (centered),
// Δ = lr·g/sqrt(v [− a²] + ε), m = μm + Δ; w −= m or Δ. Epsilon sits inside the square root,
// unlike PyTorch's RMSprop.
TEST_CASE("RMSprop follows Keras 3's rule with and without momentum and centering",
          "[optimizers]") {
  const std::vector<double> w0 = {1.0, -2.0, 0.5};
  const std::vector<std::vector<double>> steps = {{0.5, -1.0, 0.0}, {0.25, 2.0, -3.0}};
  for (const double momentum : {0.0, 0.9}) {
    for (const bool centered : {false, true}) {
      INFO("momentum " << momentum << ", centered " << centered);
      optimizers::RMSprop opt({.learning_rate = 0.01, .rho = 0.8, .momentum = momentum,
                               .epsilon = 1e-7, .centered = centered});
      Tensor w = Tensor::from_vector(w0, {3});
      std::vector<double> want = w0, v(3, 0.0), a(3, 0.0), m(3, 0.0);
      for (const auto& g : steps) {
        opt.apply_gradients({Tensor::from_vector(g, {3})}, {w});
        for (int j = 0; j < 3; ++j) {
          v[j] = 0.8 * v[j] + 0.2 * g[j] * g[j];
          a[j] = 0.8 * a[j] + 0.2 * g[j];
          const double d = v[j] - (centered ? a[j] * a[j] : 0.0) + 1e-7;
          const double delta = 0.01 * g[j] / std::sqrt(d);
          m[j] = momentum * m[j] + delta;
          want[j] -= momentum > 0 ? m[j] : delta;
        }
      }
      const auto got = w.to_vector<double>();
      for (int j = 0; j < 3; ++j) CHECK(got[j] == Approx(want[j]).epsilon(1e-12));
      // Slots as Keras keeps them: velocity always, momentum and average gradient on demand.
      CHECK(opt.variables().size() == 2 + 1 + (momentum > 0) + centered);
    }
  }
  CHECK_THROWS_AS(optimizers::RMSprop({.rho = 1.5}), ValueError);
  CHECK_THROWS_AS(optimizers::RMSprop({.momentum = -0.1}), ValueError);
}

TEST_CASE("compile without an optimizer uses Keras's default RMSprop and trains", "[optimizers]") {
  set_seed(3);
  Sequential model({layers::Input({1}), layers::Dense(1)});
  model.compile({.loss = "mse"});
  REQUIRE(model.optimizer()->name() == "RMSprop");
  // A start one unit from the solution: at about lr per step, 1500 steps reach it from there
  // (a random kernel may start farther away than that).
  model.set_weights({Tensor::full({1, 1}, 1.0), Tensor::zeros({1})});
  Tensor x = Tensor::from_vector(std::vector<double>{-1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5}, {8, 1})
                 .astype(float32);
  Tensor y = x * 2.0 + 1.0;
  const double before = model.evaluate(x, y, {.verbose = 0})["loss"];
  model.fit(x, y, {.batch_size = 8, .epochs = 1500, .verbose = 0});  // lr 1e-3: ~1e-3 per step
  const double after = model.evaluate(x, y, {.verbose = 0})["loss"];
  CHECK(after < 0.05 * before);
}
