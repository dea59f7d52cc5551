// SPDX-License-Identifier: Apache-2.0
// Every optimizer and common option against Keras 3's rules written out in float64 by
// tests/fixtures/make_optimizer_fixtures.py (cross-checked there against torch.optim where the
// rules coincide). The optimizers are built from the fixture's Keras configs.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <lamina/errors.hpp>
#include <lamina/optimizers.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using namespace lamina;

namespace {

const nlohmann::json& fixture() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/optimizer_trajectories.json");
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
  }();
  return j;
}

Tensor decode(const nlohmann::json& j, DType dtype = float64) {
  return Tensor::from_vector(j["data"].get<std::vector<double>>(),
                             Shape(j["shape"].get<std::vector<std::int64_t>>()))
      .astype(dtype);
}

// Largest |a − b| / (1 + |b|).
double worst_error(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double worst = 0.0;
  for (std::int64_t i = 0; i < a.numel(); ++i)
    worst = std::max(worst, std::abs(a.at(i) - b.at(i)) / (1.0 + std::abs(b.at(i))));
  return worst;
}

Tensor variable(const Optimizer& opt, const std::string& name) {
  for (const auto& [n, t] : opt.variables())
    if (n == name) return t;
  return Tensor();
}

}  // namespace

TEST_CASE("Every optimizer and common option follows Keras 3's rule step by step",
          "[optimizers]") {
  const auto& fx = fixture();
  REQUIRE(fx["cases"].size() >= 27);
  for (DType dtype : {float64, float32}) {
    const double tol = dtype == float64 ? 1e-10 : 2e-5;
    for (const auto& c : fx["cases"]) {
      INFO(c["name"].get<std::string>() << " in " << dtype_name(dtype));
      auto opt = optimizers::deserialize({{"class_name", c["class_name"]}, {"config", c["config"]}});
      REQUIRE(opt->class_name() == c["class_name"].get<std::string>());
      std::vector<Tensor> ws;
      for (const auto& w : fx["initial"]) ws.push_back(decode(w, dtype).clone());
      for (std::size_t step = 0; step < fx["gradients"].size(); ++step) {
        INFO("step " << step + 1);
        std::vector<Tensor> grads;
        for (const auto& g : fx["gradients"][step]) grads.push_back(decode(g, dtype));
        opt->apply_gradients(grads, ws);
        for (std::size_t i = 0; i < ws.size(); ++i)
          CHECK(worst_error(ws[i], decode(c["weights"][step][i])) <= tol);
      }
      const auto accumulate = c["config"].value("gradient_accumulation_steps", 1);
      CHECK(opt->iterations() == 6 / accumulate);
      const std::string prefix = opt->get_config()["name"].get<std::string>() + "/variable_0_";
      for (const auto& [name, want] : c["slots"].items()) {
        INFO("slot " << name);
        Tensor got = variable(*opt, prefix + name);
        REQUIRE(got.defined());
        CHECK(got.dtype() == dtype);
        CHECK(worst_error(got, decode(want)) <= tol);
      }
      if (c.contains("average")) CHECK(worst_error(variable(*opt, prefix + "average"), decode(c["average"])) <= tol);
    }
  }
}

TEST_CASE("Every optimizer's config round-trips through serialize and deserialize with Keras keys",
          "[optimizers]") {
  for (const auto& c : fixture()["cases"]) {
    INFO(c["name"].get<std::string>());
    auto opt = optimizers::deserialize({{"class_name", c["class_name"]}, {"config", c["config"]}});
    const nlohmann::json saved = optimizers::serialize(*opt);
    CHECK(saved["module"] == "keras.optimizers");
    CHECK(saved["class_name"] == c["class_name"]);
    for (const auto& [key, value] : c["config"].items()) {
      INFO("key " << key);
      if (value.is_object()) {
        CHECK(saved["config"][key]["class_name"] == value["class_name"]);
        for (const auto& [inner, v] : value["config"].items())
          CHECK(saved["config"][key]["config"][inner] == v);
      } else {
        CHECK(saved["config"][key] == value);
      }
    }
    for (const char* key : {"name", "learning_rate", "weight_decay", "clipnorm", "global_clipnorm",
                            "clipvalue", "use_ema", "ema_momentum", "ema_overwrite_frequency",
                            "loss_scale_factor", "gradient_accumulation_steps"})
      CHECK(saved["config"].contains(key));
    auto again = optimizers::deserialize(saved);
    CHECK(optimizers::serialize(*again) == saved);
  }
}
