// SPDX-License-Identifier: Apache-2.0
// Activations against PyTorch's float64 values and gradients (tests/fixtures/activations.json,
// made by make_activation_fixtures.py), finite-difference gradient checks, and lookup by name.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <functional>
#include <lamina/activations.hpp>
#include <lamina/errors.hpp>
#include <lamina/ops.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/gradcheck.hpp"

using namespace lamina;

namespace {

using Fn = std::function<Tensor(const Tensor&)>;

// Fixture name -> lamina. The by-name-only activations (relu6, mish, ...) go through Activation.
const std::map<std::string, Fn>& under_test() {
  static const std::map<std::string, Fn> table = {
      {"linear", activations::linear},
      {"relu", activations::relu},
      {"sigmoid", activations::sigmoid},
      {"tanh", activations::tanh},
      {"gelu", [](const Tensor& x) { return activations::gelu(x); }},
      {"gelu_tanh", [](const Tensor& x) { return activations::gelu(x, true); }},
      {"elu", [](const Tensor& x) { return activations::elu(x); }},
      {"elu_0.5", [](const Tensor& x) { return activations::elu(x, 0.5); }},
      {"selu", activations::selu},
      {"softplus", activations::softplus},
      {"softsign", activations::softsign},
      {"swish", activations::swish},
      {"silu", activations::silu},
      {"leaky_relu", [](const Tensor& x) { return activations::leaky_relu(x); }},
      {"leaky_relu_0.3", [](const Tensor& x) { return activations::leaky_relu(x, 0.3); }},
      {"hard_sigmoid", activations::hard_sigmoid},
      {"hard_sigmoid_keras2", activations::hard_sigmoid_keras2},
      {"relu6", Activation("relu6")},
      {"exponential", Activation("exponential")},
      {"mish", Activation("mish")},
      {"hard_silu", Activation("hard_silu")},
      {"hard_swish", Activation("hard_swish")},
      {"hard_tanh", Activation("hard_tanh")},
      {"log_sigmoid", Activation("log_sigmoid")},
      {"celu", Activation("celu")},
      {"hard_shrink", Activation("hard_shrink")},
      {"soft_shrink", Activation("soft_shrink")},
      {"tanh_shrink", Activation("tanh_shrink")},
      {"squareplus", Activation("squareplus")},
      {"sparse_plus", Activation("sparse_plus")},
      {"sparse_sigmoid", Activation("sparse_sigmoid")},
  };
  return table;
}

const nlohmann::json& fixture() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/activations.json");
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
  }();
  return j;
}

Tensor f64(const std::vector<double>& values, const Shape& shape) {
  return Tensor::from_vector(values, shape);
}

Tensor f64(const std::vector<double>& values) {
  return f64(values, Shape{static_cast<std::int64_t>(values.size())});
}

Tensor matrix(const nlohmann::json& rows) {
  std::vector<double> flat;
  for (const auto& row : rows)
    for (double v : row) flat.push_back(v);
  return f64(flat, Shape{static_cast<std::int64_t>(rows.size()),
                         static_cast<std::int64_t>(rows[0].size())});
}

// 1e-6, relative once the reference exceeds 1 (exponential reaches e^20 ≈ 4.9e8).
bool close(double got, double want) {
  return std::abs(got - want) <= 1e-6 * std::max(1.0, std::abs(want));
}

void check_close(const Tensor& got, const nlohmann::json& want_rows) {
  Tensor want = matrix(want_rows);
  REQUIRE(got.shape() == want.shape());
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    INFO("element " << i);
    CHECK(close(got.at(i), want.at(i)));
  }
}

}  // namespace

TEST_CASE("Every activation matches PyTorch's float64 values within 1e-6", "[activations]") {
  const auto& inputs = fixture()["inputs"].get<std::vector<double>>();
  for (const auto& [name, expected] : fixture()["elementwise"].items()) {
    REQUIRE(under_test().count(name) == 1);
    Tensor y = under_test().at(name)(f64(inputs));
    REQUIRE(y.dtype() == float64);
    REQUIRE(y.numel() == static_cast<std::int64_t>(inputs.size()));
    const auto want = expected["values"].get<std::vector<double>>();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      INFO(name << "(" << inputs[i] << ") = " << y.at(i) << ", PyTorch " << want[i]);
      CHECK(close(y.at(i), want[i]));
    }
  }
}

TEST_CASE("Every activation's autodiff gradient matches PyTorch's away from its kinks",
          "[activations]") {
  const auto& inputs = fixture()["inputs"].get<std::vector<double>>();
  for (const auto& [name, expected] : fixture()["elementwise"].items()) {
    Tensor x = f64(inputs);
    x.set_requires_grad(true);
    sum(under_test().at(name)(x)).backward();
    Tensor grad = x.grad();
    REQUIRE(grad.defined());
    const auto want = expected["grads"].get<std::vector<double>>();
    const auto kinks = expected["kinks"].get<std::vector<double>>();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (std::find(kinks.begin(), kinks.end(), inputs[i]) != kinks.end()) continue;
      INFO(name << "'(" << inputs[i] << ") = " << grad.at(i) << ", PyTorch " << want[i]);
      CHECK(close(grad.at(i), want[i]));
    }
  }
}

TEST_CASE("Every activation's gradient matches finite differences", "[activations]") {
  // Clear of every kink (0, ±1, ±2.5, ±3, 6) by far more than the finite-difference step.
  Tensor x = f64({-2.7, -1.3, -0.4, -0.05, 0.35, 1.1, 2.2, 4.1}, Shape{2, 4});
  for (const auto& [name, fn] : under_test()) {
    auto result =
        testing::gradcheck([&fn](const std::vector<Tensor>& in) { return fn(in[0]); }, {x});
    INFO(name << "\n" << result.report);
    CHECK(result.ok);
  }
}

TEST_CASE("softmax normalises along the requested axis and Activation(\"softmax\") uses the last",
          "[activations]") {
  const auto& ref = fixture()["softmax"];
  Tensor x = matrix(ref["input"]);
  check_close(activations::softmax(x), ref["axis_last"]);
  check_close(activations::softmax(x, -1), ref["axis_last"]);
  check_close(activations::softmax(x, 0), ref["axis_0"]);
  check_close(Activation("softmax")(x), ref["axis_last"]);
  check_close(Activation("log_softmax")(x), ref["log_softmax_last"]);

  for (int axis : {0, -1}) {
    auto result = testing::gradcheck(
        [axis](const std::vector<Tensor>& in) { return activations::softmax(in[0], axis); },
        {f64({0.3, -1.2, 2.0, 0.5, 0.1, -0.7}, Shape{2, 3})});
    INFO("axis " << axis << "\n" << result.report);
    CHECK(result.ok);
  }
}

TEST_CASE("glu halves the last axis into x times sigmoid of gate, as Keras 3 and PyTorch do", "[activations]") {
  const auto& ref = fixture()["glu"];
  check_close(Activation("glu")(matrix(ref["input"])), ref["last_axis"]);
  // Three axes: the halves are taken along the last one only.
  auto result = testing::gradcheck([](const std::vector<Tensor>& in) { return Activation("glu")(in[0]); },
                                   {f64({0.3, -1.2, 2.0, 0.5, 0.1, -0.7, 1.5, -0.2, 0.9, -2.1, 0.4, 1.1}, Shape{3, 1, 4})});
  INFO(result.report);
  CHECK(result.ok);
  CHECK_THROWS_AS(Activation("glu")(f64({1.0, 2.0, 3.0})), ShapeError);
}

TEST_CASE("hard_sigmoid is Keras 3's x/6+0.5 and hard_sigmoid_keras2 is Keras 2's 0.2x+0.5",
          "[activations]") {
  Tensor one = f64({1.0});
  CHECK(activations::hard_sigmoid(one).item() == Approx(2.0 / 3.0).epsilon(1e-12));
  CHECK(activations::hard_sigmoid_keras2(one).item() == Approx(0.7).epsilon(1e-12));
  CHECK(Activation("hard_sigmoid")(one).item() == Approx(2.0 / 3.0).epsilon(1e-12));
  CHECK(Activation("hard_sigmoid_keras2")(one).item() == Approx(0.7).epsilon(1e-12));
  // Saturation points differ too: ±3 against ±2.5.
  Tensor edges = f64({-2.75, 2.75});
  CHECK(activations::hard_sigmoid_keras2(edges).at(0) == 0.0);
  CHECK(activations::hard_sigmoid_keras2(edges).at(1) == 1.0);
  CHECK(activations::hard_sigmoid(edges).at(1) == Approx(0.5 + 2.75 / 6.0));
}

TEST_CASE("softplus, elu and sigmoid-based activations stay finite for large inputs",
          "[activations]") {
  Tensor big64 = f64({-1000.0, 1000.0});
  CHECK(activations::softplus(big64).at(0) == 0.0);
  CHECK(activations::softplus(big64).at(1) == 1000.0);
  CHECK(Activation("log_sigmoid")(big64).at(0) == -1000.0);

  // float32 overflows exp at 89; the unused elu branch must not turn the gradient into NaN.
  Tensor big32 = Tensor::from_vector(std::vector<float>{-200.0f, 200.0f}, Shape{2});
  big32.set_requires_grad(true);
  Tensor y = activations::softplus(big32) + activations::elu(big32) + activations::selu(big32) +
             activations::swish(big32);
  REQUIRE(y.dtype() == float32);
  CHECK(all_finite(y));
  sum(y).backward();
  CHECK(all_finite(big32.grad()));
  // d/dx at +200: softplus 1, elu 1, selu scale, swish 1.
  CHECK(big32.grad().at(1) == Approx(3.0 + 1.05070098735548049342).epsilon(1e-6));
}

TEST_CASE("Gradients at exactly zero are the smooth functions' true derivatives", "[activations]") {
  struct Case {
    std::string name;
    double derivative;
  };
  // softplus and swish: 1/2; elu (alpha 1), softsign, gelu: 1 and 1/2 from both sides.
  for (const auto& c : std::vector<Case>{{"softplus", 0.5},
                                         {"swish", 0.5},
                                         {"elu", 1.0},
                                         {"softsign", 1.0},
                                         {"gelu", 0.5},
                                         {"mish", 0.6}}) {
    Tensor x = f64({0.0});
    x.set_requires_grad(true);
    sum(Activation(c.name)(x)).backward();
    INFO(c.name);
    CHECK(x.grad().item() == Approx(c.derivative).epsilon(1e-12));
  }
}

TEST_CASE("Activations keep a float32 input float32", "[activations]") {
  Tensor x = Tensor::from_vector(std::vector<float>{-1.5f, 0.25f, 2.0f}, Shape{3});
  for (const char* name : {"relu", "gelu", "elu", "selu", "softplus", "softsign", "swish",
                           "leaky_relu", "hard_sigmoid", "hard_sigmoid_keras2", "softmax"}) {
    INFO(name);
    CHECK(Activation(name)(x).dtype() == float32);
  }
  CHECK(Activation("selu")(x).at(1) == Approx(1.05070098735548049342 * 0.25).epsilon(1e-6));
}

TEST_CASE("Activations are found by Keras name, and swish and silu are the same function",
          "[activations]") {
  Tensor x = f64({-1.5, 0.5, 3.0});
  CHECK(Activation("relu").name() == "relu");
  CHECK(allclose(Activation("relu")(x), activations::relu(x)));
  CHECK(allclose(activations::get("swish")(x), activations::silu(x)));
  CHECK(allclose(Activation(std::string("silu"))(x), x * sigmoid(x)));
  CHECK(allclose(activations::get("leaky_relu")(x), activations::leaky_relu(x, 0.2)));
  CHECK(activations::get("leaky_relu")(x).at(0) == Approx(-0.3));
  CHECK(Activation().is_linear());
  CHECK(Activation().name() == "linear");
  CHECK(Activation(static_cast<const char*>(nullptr)).is_linear());
  CHECK_FALSE(Activation("relu").is_linear());
}

TEST_CASE("An unknown activation name throws ValueError naming it and listing the known ones",
          "[activations]") {
  CHECK_THROWS_AS(Activation("rellu"), ValueError);
  CHECK_THROWS_AS(activations::get("Relu"), ValueError);
  try {
    Activation bad("rellu");
    FAIL("no exception");
  } catch (const ValueError& e) {
    std::string message = e.what();
    CHECK(message.find("'rellu'") != std::string::npos);
    CHECK(message.find("relu") != std::string::npos);
    CHECK(message.find("softmax") != std::string::npos);
    CHECK(message.find("hard_sigmoid_keras2") != std::string::npos);
  }
}

TEST_CASE("fused() offers a kernel form only for the built-in linear, relu, sigmoid and tanh",
          "[activations]") {
  CHECK(Activation().fused() == FusedActivation::linear);
  CHECK(Activation("linear").fused() == FusedActivation::linear);
  CHECK(Activation("relu").fused() == FusedActivation::relu);
  CHECK(Activation("sigmoid").fused() == FusedActivation::sigmoid);
  CHECK(Activation("tanh").fused() == FusedActivation::tanh);
  CHECK_FALSE(Activation("gelu").fused().has_value());
  CHECK_FALSE(Activation("softmax").fused().has_value());
  // A custom function that merely carries the name is not the built-in.
  CHECK_FALSE(Activation([](const Tensor& x) { return x * 2.0; }, "relu").fused().has_value());
}

TEST_CASE("A custom callable becomes an Activation with the name it is given", "[activations]") {
  Activation twice([](const Tensor& x) { return x * 2.0; }, "twice");
  CHECK(twice.name() == "twice");
  CHECK_FALSE(twice.is_linear());
  CHECK(twice(f64({1.5})).item() == 3.0);
  Activation unnamed([](const Tensor& x) { return x; });
  CHECK(unnamed.name() == "custom");
}
