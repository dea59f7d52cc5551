// SPDX-License-Identifier: Apache-2.0
// Regularizers and constraints: penalties and projections against hand-derived values, their
// configs and names, and their effect inside training (loss, gradient step, projection after the
// update) on Dense.
#include <catch2/catch.hpp>
#include <cmath>
#include <lamina/lamina.hpp>
#include <nlohmann/json.hpp>
#include <vector>

#include "support/gradcheck.hpp"

using namespace lamina;
using Catch::Matchers::Contains;

namespace {
Tensor f64(std::vector<double> values, Shape shape) { return Tensor::from_vector(values, shape); }
Tensor f32(std::vector<float> values, Shape shape) { return Tensor::from_vector(values, shape); }
}  // namespace

TEST_CASE("L1, L2 and L1L2 penalties are l1·sum|x| and l2·sum(x²), without a half", "[regularizers]") {
  Tensor x = f64({1.0, -2.0, 0.5, 3.0}, {2, 2});  // sum|x| = 6.5, sum x² = 14.25
  CHECK(regularizers::L1(0.1)(x).item() == Approx(0.65));
  CHECK(regularizers::L2(0.1)(x).item() == Approx(1.425));
  CHECK(regularizers::L1L2(0.1, 0.2)(x).item() == Approx(0.65 + 2.85));
  CHECK(regularizers::L1L2()(x).item() == 0.0);
  // Keras's strings: factor 0.01 (l1_l2: 0.01 each, as Keras's l1_l2 function).
  CHECK(Regularizer("l2")(x).item() == Approx(0.1425));
  CHECK(Regularizer("l1")(x).item() == Approx(0.065));
  CHECK(Regularizer("l1_l2")(x).item() == Approx(0.065 + 0.1425));
  CHECK_FALSE(static_cast<bool>(Regularizer()));
  CHECK_THROWS_WITH(Regularizer("l3"), Contains("'l3'") && Contains("'l1_l2'"));
  CHECK_THROWS_AS(regularizers::L2(-1.0), ValueError);
  for (const Regularizer& r : {regularizers::L1(0.3), regularizers::L2(0.2), regularizers::L1L2(0.1, 0.4)}) {
    INFO(r.class_name());
    auto result = testing::gradcheck([&](const std::vector<Tensor>& in) { return r(in[0]); },
                                     {f64({0.7, -1.3, 0.2, 2.1}, {2, 2})});
    INFO(result.report);
    CHECK(result.ok);
  }
}

TEST_CASE("Regularizers write Keras's config and are rebuilt from it", "[regularizers]") {
  const nlohmann::json l2 = regularizers::serialize(regularizers::L2(0.001));
  CHECK(l2 == nlohmann::json::parse(R"({"module": "keras.regularizers", "class_name": "L2",
                                        "config": {"l2": 0.001}, "registered_name": null})"));
  for (const Regularizer& r : {regularizers::L1(0.3), regularizers::L2(0.2), regularizers::L1L2(0.1, 0.4)}) {
    const auto j = regularizers::serialize(r);
    CHECK(regularizers::serialize(regularizers::deserialize(j)) == j);
  }
  CHECK(regularizers::serialize(Regularizer()).is_null());
  CHECK_FALSE(static_cast<bool>(regularizers::deserialize(nullptr)));
  CHECK(regularizers::deserialize("l2").config().at("l2") == 0.01);
  CHECK(regularizers::deserialize({{"class_name", "L1L2"}, {"config", {{"l1", 0.5}}}}).config().at("l2") == 0.0);
  CHECK_THROWS_WITH(regularizers::deserialize({{"class_name", "OrthogonalRegularizer"}}),
                    Contains("OrthogonalRegularizer"));
}

TEST_CASE("Constraints project weights as Keras does, along axis 0 by default", "[regularizers]") {
  // Columns (axis 0 norms): (3, 4) has norm 5, (0, 1) has norm 1.
  Tensor w = f64({3.0, 0.0, 4.0, 1.0}, {2, 2});
  Tensor max_norm = constraints::MaxNorm(2.0)(w);
  CHECK(max_norm.at(0) == Approx(3.0 * 2.0 / (5.0 + 1e-7)));
  CHECK(max_norm.at(2) == Approx(4.0 * 2.0 / (5.0 + 1e-7)));
  CHECK(max_norm.at(3) == Approx(1.0 / (1.0 + 1e-7)));  // under the limit: kept
  Tensor unit = constraints::UnitNorm()(w);
  CHECK(unit.at(0) == Approx(0.6));
  CHECK(unit.at(2) == Approx(0.8));
  Tensor rows = constraints::UnitNorm(1)(w);  // rows: (3, 0) and (4, 1)
  CHECK(rows.at(0) == Approx(1.0));
  CHECK(rows.at(3) == Approx(1.0 / std::sqrt(17.0)));
  // MinMaxNorm(min 2, max 3, rate 0.5): norm 5 -> 0.5·3 + 0.5·5 = 4; norm 1 -> 0.5·2 + 0.5 = 1.5.
  Tensor mm = constraints::MinMaxNorm(2.0, 3.0, 0.5)(w);
  CHECK(mm.at(0) == Approx(3.0 * 4.0 / 5.0));
  CHECK(mm.at(3) == Approx(1.5));
  Tensor nonneg = constraints::NonNeg()(f64({-1.0, 2.0, 0.0, -0.5}, {4}));
  CHECK(nonneg.to_vector<double>() == std::vector<double>{0.0, 2.0, 0.0, 0.0});
  CHECK_THROWS_WITH(constraints::MaxNorm(2.0, 3)(w), Contains("MaxNorm") && Contains("axis 3"));
}

TEST_CASE("Constraints write Keras's config and are rebuilt from it", "[regularizers]") {
  CHECK(constraints::serialize(constraints::MaxNorm(3.0)) ==
        nlohmann::json::parse(R"({"module": "keras.constraints", "class_name": "MaxNorm",
                                  "config": {"max_value": 3.0, "axis": 0}, "registered_name": null})"));
  for (const Constraint& c : {constraints::MaxNorm(1.5, 1), constraints::MinMaxNorm(0.5, 2.0, 0.7, 1),
                              constraints::NonNeg(), constraints::UnitNorm(-1)}) {
    const auto j = constraints::serialize(c);
    CHECK(constraints::serialize(constraints::deserialize(j)) == j);
  }
  for (const char* name : {"max_norm", "min_max_norm", "non_neg", "unit_norm", "MaxNorm", "NonNeg"})
    CHECK(static_cast<bool>(Constraint(name)));
  CHECK(Constraint("max_norm").config().at("max_value") == 2.0);
  CHECK_THROWS_WITH(Constraint("maxnorm2"), Contains("'maxnorm2'"));
  CHECK_THROWS_WITH(constraints::deserialize({{"class_name", "MaxNorm"}, {"config", {{"axis", {0, 1}}}}}),
                    Contains("single integer axis"));
}

TEST_CASE("Dense's kernel regularizer adds its penalty to the loss training minimises and reports",
          "[regularizers]") {
  // Dense(1) without bias, kernel (1, 1): x·w = 3 on x = (1, 2); mse against 0 gives 9, and
  // L2(0.1) adds 0.1·(1 + 1) = 0.2.
  auto dense = layers::Dense(1, {.use_bias = false, .kernel_initializer = "ones",
                                 .kernel_regularizer = regularizers::L2(0.1)});
  Sequential model({layers::Input({2}), dense});
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.01}), .loss = "mse"});
  Tensor x = f32({1, 2}, {1, 2}), y = f32({0}, {1, 1});
  REQUIRE(dense->losses().size() == 1);
  CHECK(dense->losses()[0].item() == Approx(0.2));
  CHECK(model.evaluate(x, y, {.verbose = 0}).at("loss") == Approx(9.2));
  // One SGD step: gradient 2·3·x + 2·0.1·w = (6.2, 12.2).
  auto logs = model.train_on_batch(x, y);
  CHECK(logs.at("loss") == Approx(9.2));
  CHECK(dense->kernel.at(0) == Approx(1 - 0.01 * 6.2));
  CHECK(dense->kernel.at(1) == Approx(1 - 0.01 * 12.2));
}

TEST_CASE("Dense's activity regularizer penalises its outputs, divided by the batch size", "[regularizers]") {
  auto dense = layers::Dense(2, {.use_bias = false, .kernel_initializer = "ones",
                                 .activity_regularizer = regularizers::L1(0.5)});
  Sequential model({layers::Input({1}), dense});
  model.compile({.optimizer = "sgd", .loss = "mae"});
  // Outputs (1, 1) and (-2, -2): sum |out| = 6, so 0.5·6/2 = 1.5 is added (tf.keras 2 and Keras
  // 3.15 divide by the batch size); mae against the outputs themselves is 0.
  Tensor x = f32({1, -2}, {2, 1});
  Tensor y = f32({1, 1, -2, -2}, {2, 2});
  CHECK(model.evaluate(x, y, {.verbose = 0}).at("loss") == Approx(1.5));
  // Each call starts afresh: the penalty is not carried over from call to call.
  model(x);
  model(x);
  CHECK(dense->losses().size() == 1);
  CHECK(dense->losses()[0].item() == Approx(1.5));
}

TEST_CASE("Dense's constraints project its weights after every optimizer update", "[regularizers]") {
  auto dense = layers::Dense(2, {.kernel_initializer = "ones", .bias_initializer = "ones",
                                 .kernel_constraint = constraints::MaxNorm(1.0),
                                 .bias_constraint = constraints::NonNeg()});
  Sequential model({layers::Input({2}), dense});
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 1.0}), .loss = "mse"});
  // A large step towards -10 drives the bias negative and the kernel columns far from norm 1.
  model.train_on_batch(f32({1, 1}, {1, 2}), f32({-10, -10}, {1, 2}));
  for (double b : dense->bias.to_vector<double>()) CHECK(b == 0.0);
  Tensor k = dense->kernel;
  for (int col = 0; col < 2; ++col) {
    const double norm = std::sqrt(k.at(col) * k.at(col) + k.at(2 + col) * k.at(2 + col));
    CHECK(norm == Approx(1.0).epsilon(1e-5));
  }
}

TEST_CASE("Dense writes its regularizers and constraints in its config and is rebuilt with them",
          "[regularizers]") {
  auto dense = layers::Dense(3, {.kernel_regularizer = regularizers::L1L2(0.01, 0.02),
                                 .bias_regularizer = "l2",
                                 .activity_regularizer = regularizers::L1(0.001),
                                 .kernel_constraint = constraints::UnitNorm(),
                                 .bias_constraint = "non_neg"});
  const nlohmann::json c = dense->get_config();
  CHECK(c.at("kernel_regularizer").at("class_name") == "L1L2");
  CHECK(c.at("kernel_regularizer").at("config").at("l2") == 0.02);
  CHECK(c.at("bias_regularizer").at("config").at("l2") == 0.01);
  CHECK(c.at("activity_regularizer").at("class_name") == "L1");
  CHECK(c.at("kernel_constraint").at("class_name") == "UnitNorm");
  CHECK(c.at("bias_constraint").at("class_name") == "NonNeg");
  auto again = layer_from_config("Dense", c);
  CHECK(again->get_config() == c);
  CHECK_FALSE(layers::Dense(3)->get_config().contains("activity_regularizer"));
  CHECK(layers::Dense(3)->get_config().at("kernel_regularizer").is_null());
}
