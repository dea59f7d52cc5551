// SPDX-License-Identifier: Apache-2.0
// Learning-rate schedules against an independent Python implementation of Keras 3's formulas
// (tests/fixtures/make_optimizer_fixtures.py), their configs, and their use as a learning rate.
#include <catch2/catch.hpp>
#include <fstream>
#include <lamina/errors.hpp>
#include <lamina/optimizers.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using namespace lamina;
using namespace lamina::optimizers::schedules;
using Catch::Matchers::Contains;

namespace {

const nlohmann::json& cases() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/optimizer_trajectories.json");
    REQUIRE(in.good());
    return nlohmann::json::parse(in)["schedules"];
  }();
  return j;
}

}  // namespace

TEST_CASE("Every schedule gives Keras's learning rate at each step", "[schedules]") {
  REQUIRE(cases().size() == 13);
  for (const auto& c : cases()) {
    INFO(c["class_name"].get<std::string>() << " " << c["config"].dump());
    auto schedule = deserialize({{"class_name", c["class_name"]}, {"config", c["config"]}});
    for (std::size_t i = 0; i < c["steps"].size(); ++i) {
      INFO("step " << c["steps"][i]);
      CHECK((*schedule)(c["steps"][i].get<std::int64_t>()) ==
            Approx(c["values"][i].get<double>()).epsilon(1e-12).margin(1e-15));
    }
    // The config round-trips: the rebuilt schedule gives the same values.
    const nlohmann::json saved = serialize(*schedule);
    CHECK(saved["class_name"] == c["class_name"]);
    CHECK(saved["module"] == "keras.optimizers.schedules");
    for (const auto& [key, value] : c["config"].items()) CHECK(saved["config"][key] == value);
    auto again = deserialize(saved);
    for (std::int64_t step : {0, 5, 17}) CHECK((*again)(step) == (*schedule)(step));
  }
}

TEST_CASE("Schedules built in C++ use Keras's defaults and names", "[schedules]") {
  CosineDecay cosine(0.1, 10, {.alpha = 0.1});
  CHECK(cosine(10) == Approx(0.01));  // decays to alpha·initial
  CHECK(cosine(0) == Approx(0.1));
  const auto config = cosine.get_config();
  CHECK(config["name"] == "CosineDecay");
  CHECK(config["warmup_target"].is_null());
  CHECK(config["warmup_steps"] == 0);
  CHECK(CosineDecayRestarts(1.0, 4).get_config()["name"] == "SGDRDecay");
  CHECK(PolynomialDecay(0.1, 8).get_config()["end_learning_rate"] == 0.0001);
  CHECK(PiecewiseConstantDecay({3, 7}, {1.0, 0.5, 0.1}).get_config()["boundaries"] ==
        nlohmann::json::array({3, 7}));
  ExponentialDecay staircase(0.1, 4, 0.5, {.staircase = true});
  CHECK(staircase(3) == 0.1);
  CHECK(staircase(4) == 0.05);
}

TEST_CASE("Schedules reject bad arguments and unknown configs by name", "[schedules]") {
  CHECK_THROWS_WITH(ExponentialDecay(0.1, 0, 0.5), Contains("ExponentialDecay") && Contains("decay_steps"));
  CHECK_THROWS_AS(CosineDecayRestarts(0.1, -1), ValueError);
  CHECK_THROWS_WITH(PiecewiseConstantDecay({1, 2}, {1.0, 0.5}),
                    Contains("2 boundaries and 2 values"));
  CHECK_THROWS_AS(PiecewiseConstantDecay({5, 2}, {1.0, 0.5, 0.1}), ValueError);
  CHECK_THROWS_WITH(deserialize({{"class_name", "StepDecay"}, {"config", nlohmann::json::object()}}),
                    Contains("StepDecay") && Contains("CosineDecay"));
  CHECK_THROWS_WITH(deserialize({{"class_name", "ExponentialDecay"},
                                 {"config", {{"initial_learning_rate", 0.1}, {"decay_steps", 2},
                                             {"decay_rate", 0.5}, {"decay_sped", 1}}}}),
                    Contains("decay_sped"));
  CHECK_THROWS_WITH(deserialize({{"class_name", "ExponentialDecay"},
                                 {"config", {{"initial_learning_rate", 0.1}, {"decay_steps", 2}}}}),
                    Contains("decay_rate"));
}

TEST_CASE("A schedule drives an optimizer's learning rate by its step and cannot be overwritten",
          "[schedules]") {
  optimizers::SGD sgd({.learning_rate = ExponentialDecay(0.8, 1, 0.5)});
  Tensor w = Tensor::zeros({1}, float64);
  CHECK(sgd.learning_rate() == 0.8);
  sgd.apply_gradients({Tensor::ones({1}, float64)}, {w});  // step 0: lr 0.8
  CHECK(sgd.learning_rate() == 0.4);
  sgd.apply_gradients({Tensor::ones({1}, float64)}, {w});  // step 1: lr 0.4
  CHECK(w.item() == Approx(-1.2));
  CHECK_THROWS_AS(sgd.set_learning_rate(0.1), TypeError);
  // Keras keeps no learning_rate variable when the rate is a schedule.
  CHECK(sgd.variables().size() == 1);
  CHECK(sgd.get_config()["learning_rate"]["class_name"] == "ExponentialDecay");
  // A schedule may replace a fixed rate.
  optimizers::Adam adam;
  adam.set_learning_rate(PiecewiseConstantDecay({0}, {0.5, 0.25}));
  CHECK(adam.learning_rate() == 0.5);
}
