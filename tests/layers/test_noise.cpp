// SPDX-License-Identifier: Apache-2.0
// Noise layers: identity in inference, Keras's statistics in training (checked on large seeded
// draws), reproducible under set_seed, gradients through the noise, configs and errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <lamina/lamina.hpp>
#include <lamina/layers/noise.hpp>
#include <nlohmann/json.hpp>

#include "support/op_testing.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using lamina::testing::seq;

namespace {
// Mean and (population) standard deviation of a tensor's elements.
std::pair<double, double> moments(const Tensor& t) {
  const auto v = t.to_vector<double>();
  double m = 0, s = 0;
  for (double e : v) m += e;
  m /= static_cast<double>(v.size());
  for (double e : v) s += (e - m) * (e - m);
  return {m, std::sqrt(s / static_cast<double>(v.size()))};
}
}  // namespace

TEST_CASE("noise layers are the identity outside training", "[noise]") {
  Tensor x = seq({2, 4, 4, 3}, 1.0, float32);
  std::vector<std::shared_ptr<Layer>> all = {
      layers::SpatialDropout2D(0.5), layers::GaussianNoise(1.0), layers::GaussianDropout(0.4)};
  for (const auto& layer : all) {
    INFO(layer->class_name());
    Tensor y = (*layer)(x, false);
    CHECK(y.shares_storage(x));
  }
  Tensor s = seq({2, 5, 3});
  CHECK(layers::SpatialDropout1D(0.3)(s, false).shares_storage(s));
}

TEST_CASE("SpatialDropout2D drops whole feature maps at the given rate and rescales the rest",
          "[noise]") {
  set_seed(11);
  const double rate = 0.3;
  Tensor x = Tensor::ones({50, 3, 4, 40});
  Tensor y = layers::SpatialDropout2D(rate)(x, true);
  REQUIRE(y.shape() == x.shape());
  int dropped = 0, mixed = 0;
  for (int n = 0; n < 50; ++n)
    for (int c = 0; c < 40; ++c) {
      const double first = y.at((n * 12) * 40 + c);
      CHECK((first == 0.0 || first == Approx(1.0 / (1.0 - rate))));
      for (int p = 1; p < 12; ++p) mixed += y.at((n * 12 + p) * 40 + c) != first;
      dropped += first == 0.0;
    }
  CHECK(mixed == 0);  // every (sample, channel) map is all kept or all dropped
  const double frac = dropped / 2000.0;
  INFO("dropped fraction " << frac);
  CHECK(frac > 0.25);
  CHECK(frac < 0.35);
  // The same seed draws the same maps; the gradient is the same mask.
  set_seed(11);
  Tensor x2 = Tensor::ones({50, 3, 4, 40}).set_requires_grad(true);
  Tensor y2 = layers::SpatialDropout2D(rate)(x2, true);
  CHECK(allclose(y2.detach(), y, 0, 0));
  sum(y2).backward();
  CHECK(allclose(x2.grad(), y, 0, 1e-6));
}

TEST_CASE("SpatialDropout1D drops whole channels across the steps", "[noise]") {
  set_seed(3);
  Tensor y = layers::SpatialDropout1D(0.5)(Tensor::ones({20, 6, 10}), true);
  int dropped = 0;
  for (int n = 0; n < 20; ++n)
    for (int c = 0; c < 10; ++c) {
      const double first = y.at(n * 60 + c);
      for (int t = 1; t < 6; ++t) CHECK(y.at(n * 60 + t * 10 + c) == first);
      dropped += first == 0.0;
    }
  CHECK(dropped > 70);
  CHECK(dropped < 130);
}

TEST_CASE(
    "GaussianNoise adds N(0, stddev²) and GaussianDropout multiplies by N(1, rate/(1 - rate))",
    "[noise]") {
  set_seed(5);
  Tensor x = seq({100, 1000}, 2.0, float64);
  auto [nm, ns] = moments(layers::GaussianNoise(0.5)(x, true) - x);
  CHECK(std::abs(nm) < 0.01);
  CHECK(ns == Approx(0.5).epsilon(0.02));
  Tensor ones = Tensor::ones({100, 1000});
  auto [dm, ds] = moments(layers::GaussianDropout(0.2)(ones, true));
  CHECK(std::abs(dm - 1.0) < 0.01);
  CHECK(ds == Approx(std::sqrt(0.2 / 0.8)).epsilon(0.02));
  // Reproducible under set_seed, different on the next call.
  set_seed(9);
  Tensor a = layers::GaussianNoise(1.0)(ones, true);
  Tensor b = layers::GaussianNoise(1.0)(ones, true);
  set_seed(9);
  Tensor a2 = layers::GaussianNoise(1.0)(ones, true);
  CHECK(allclose(a, a2, 0, 0));
  CHECK_FALSE(allclose(a, b, 0, 0));
  // Gradients pass through: d(x + noise)/dx = 1, d(x·noise)/dx = noise.
  Tensor v = seq({3, 4}).set_requires_grad(true);
  sum(layers::GaussianNoise(1.0)(v, true)).backward();
  CHECK(allclose(v.grad(), Tensor::ones({3, 4}, float64), 0, 0));
  set_seed(2);
  Tensor w = Tensor::ones({3, 4}, float64).set_requires_grad(true);
  Tensor noisy = layers::GaussianDropout(0.5)(w, true);
  sum(noisy).backward();
  CHECK(allclose(w.grad(), noisy.detach(), 0, 1e-12));
}

TEST_CASE("noise layers write Keras's configs, round-trip and reject bad rates", "[noise]") {
  std::vector<std::shared_ptr<Layer>> all = {
      layers::SpatialDropout1D(0.1, "sd1"), layers::SpatialDropout2D(0.2),
      layers::GaussianNoise(0.3), layers::GaussianDropout(0.4)};
  for (const auto& layer : all) {
    INFO(layer->class_name());
    auto c = layer->get_config();
    CHECK(c.contains("seed"));
    auto again = layer_from_config(layer->class_name(), c);
    CHECK(again->get_config() == c);
  }
  CHECK(all[0]->get_config()["rate"] == 0.1);
  CHECK(all[1]->get_config()["data_format"] == "channels_last");
  CHECK(all[2]->get_config()["stddev"] == 0.3);
  CHECK_THROWS_WITH(layers::SpatialDropout2D(1.0),
                    "SpatialDropout2D: rate must be in [0, 1), got 1.000000");
  CHECK_THROWS_AS(layers::GaussianDropout(-0.1), ValueError);
  CHECK_THROWS_AS(layers::GaussianNoise(-1), ValueError);
  CHECK_THROWS_WITH(layers::SpatialDropout2D(0.5, "sd")->build_for({-1, 8, 3}),
                    "SpatialDropout2D 'sd': input must be 4-D (batch, height, width, channels), "
                    "got (None, 8, 3)");
}
