// SPDX-License-Identifier: Apache-2.0
// Reshaping layers: ZeroPadding/Cropping (hand-derived), UpSampling nearest and bilinear against
// PyTorch's interpolate (tests/fixtures/conv.json), Permute, RepeatVector, finite differences,
// configs and errors.
#include <catch2/catch.hpp>
#include <lamina/lamina.hpp>
#include <lamina/layers/reshaping.hpp>
#include <nlohmann/json.hpp>

#include "support/conv_fixture.hpp"
#include "support/gradcheck.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using lamina::testing::check_values;
using lamina::testing::conv_fixture;
using lamina::testing::cos_probe;
using lamina::testing::doubles;
using lamina::testing::seq;
using lamina::testing::shape_of;

namespace {
Tensor iota(const Shape& shape) {
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i + 1);
  return Tensor::from_vector(v, shape);
}

testing::GradcheckResult gradcheck_layer(const std::shared_ptr<Layer>& layer, const Shape& in) {
  return testing::gradcheck([&](const std::vector<Tensor>& xs) { return (*layer)(xs[0], true); },
                            {seq(in)});
}
}  // namespace

TEST_CASE("ZeroPadding2D and Cropping2D move pixels as Keras and are each other's inverse",
          "[reshaping]") {
  // x (1, 2, 3, 1) = [[1, 2, 3], [4, 5, 6]]; padding ((1, 0), (2, 1)) puts one zero row on top,
  // two zero columns on the left and one on the right.
  Tensor x = iota({1, 2, 3, 1});
  auto pad = layers::ZeroPadding2D({{1, 0}, {2, 1}});
  CHECK(pad->build_for({-1, 2, 3, 1}) == Shape{-1, 3, 6, 1});
  Tensor y = pad(x);
  REQUIRE(y.shape() == Shape{1, 3, 6, 1});
  check_values(y,
               {0, 0, 0, 0, 0, 0,  //
                0, 0, 1, 2, 3, 0,  //
                0, 0, 4, 5, 6, 0},
               0);
  auto crop = layers::Cropping2D({{1, 0}, {2, 1}});
  check_values(crop(y), testing::values(x), 0);
  // Symmetric forms: 1 pads every side, {1, 2} pads rows by 1 and columns by 2.
  CHECK(layers::ZeroPadding2D(1)->build_for({-1, 4, 5, 2}) == Shape{-1, 6, 7, 2});
  CHECK(layers::ZeroPadding2D({1, 2})->build_for({-1, 4, 5, 2}) == Shape{-1, 6, 9, 2});
  Tensor c = layers::Cropping2D({1, 1})(iota({1, 3, 4, 1}));
  check_values(c, {6, 7}, 0);  // the middle of [[1..4], [5..8], [9..12]]
  CHECK(layers::Cropping2D()->build_for({-1, 4, 5, 2}) == Shape{-1, 4, 5, 2});
}

TEST_CASE("ZeroPadding1D and Cropping1D pad and crop the steps axis", "[reshaping]") {
  Tensor x = iota({1, 3, 2});  // steps [1, 2], [3, 4], [5, 6]
  Tensor y = layers::ZeroPadding1D({2, 1})(x);
  REQUIRE(y.shape() == Shape{1, 6, 2});
  check_values(y, {0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0}, 0);
  Tensor c = layers::Cropping1D()(x);  // Keras's default (1, 1)
  REQUIRE(c.shape() == Shape{1, 1, 2});
  check_values(c, {3, 4}, 0);
  CHECK(layers::ZeroPadding1D()->build_for({-1, 7, 3}) == Shape{-1, 9, 3});
}

TEST_CASE("UpSampling2D matches PyTorch's nearest and half-pixel bilinear interpolation",
          "[reshaping]") {
  for (const auto& [name, c] : conv_fixture()["upsampling2d"].items()) {
    INFO("case " << name);
    auto size = c["size"].get<std::vector<std::int64_t>>();
    auto layer = layers::UpSampling2D({size[0], size[1]},
                                      {.interpolation = c["interpolation"].get<std::string>()});
    const Shape xs = shape_of(c["x_shape"]);
    Tensor x = seq(xs).set_requires_grad(true);
    Tensor y = layer(x);
    REQUIRE(y.shape() == shape_of(c["y_shape"]));
    CHECK(layer->build_for({-1, xs[1], xs[2], xs[3]}) == Shape{-1, y.dim(1), y.dim(2), y.dim(3)});
    check_values(y, doubles(c["y"]), 1e-13);
    sum(y * cos_probe(y.shape())).backward();
    check_values(x.grad(), doubles(c["dx"]), 1e-12);
    check_values(layer(x.detach().astype(float32)), doubles(c["y"]), 1e-6);
  }
}

TEST_CASE("UpSampling1D repeats each step", "[reshaping]") {
  Tensor y = layers::UpSampling1D(3)(iota({1, 2, 2}));
  REQUIRE(y.shape() == Shape{1, 6, 2});
  check_values(y, {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}, 0);
}

TEST_CASE("Permute and RepeatVector reorder and repeat as Keras", "[reshaping]") {
  Tensor x = iota({1, 2, 3});
  auto perm = layers::Permute({2, 1});
  CHECK(perm->build_for({-1, 2, 3}) == Shape{-1, 3, 2});
  check_values(perm(x), {1, 4, 2, 5, 3, 6}, 0);
  CHECK(layers::Permute({3, 1, 2})->build_for({-1, 4, 5, 6}) == Shape{-1, 6, 4, 5});
  auto rep = layers::RepeatVector(3);
  CHECK(rep->build_for({-1, 2}) == Shape{-1, 3, 2});
  check_values(rep(iota({2, 2})), {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}, 0);
}

TEST_CASE("reshaping layers' gradients match finite differences in float64", "[reshaping]") {
  std::vector<std::pair<std::shared_ptr<Layer>, Shape>> cases = {
      {layers::ZeroPadding2D({{1, 2}, {0, 1}}), {2, 3, 2, 2}},
      {layers::Cropping2D({{1, 0}, {1, 2}}), {1, 4, 5, 2}},
      {layers::ZeroPadding1D({1, 2}), {2, 3, 2}},
      {layers::Cropping1D({0, 2}), {2, 5, 2}},
      {layers::UpSampling2D({2, 3}, {.interpolation = "bilinear"}), {1, 3, 2, 2}},
      {layers::UpSampling2D(2), {1, 2, 3, 2}},
      {layers::UpSampling1D(2), {2, 3, 2}},
      {layers::Permute({2, 3, 1}), {2, 2, 3, 2}},
      {layers::RepeatVector(2), {3, 2}}};
  for (const auto& [layer, shape] : cases) {
    INFO(layer->class_name());
    auto r = gradcheck_layer(layer, shape);
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("reshaping layers write Keras's configs and round-trip through from_config",
          "[reshaping]") {
  auto pad = layers::ZeroPadding2D({{1, 0}, {2, 3}}, {"pad"});
  auto cfg = pad->get_config();
  CHECK(cfg["padding"] == nlohmann::json::parse("[[1, 0], [2, 3]]"));
  CHECK(cfg["data_format"] == "channels_last");
  CHECK(layers::Cropping1D({1, 2})->get_config()["cropping"] == nlohmann::json::array({1, 2}));
  CHECK(layers::ZeroPadding1D(2)->get_config()["padding"] == nlohmann::json::array({2, 2}));
  auto up = layers::UpSampling2D({2, 3}, {.interpolation = "BILINEAR"});
  CHECK(up->get_config()["size"] == nlohmann::json::array({2, 3}));
  CHECK(up->get_config()["interpolation"] == "bilinear");
  CHECK(layers::UpSampling1D(4)->get_config()["size"] == 4);
  CHECK(layers::Permute({2, 1})->get_config()["dims"] == nlohmann::json::array({2, 1}));
  CHECK(layers::RepeatVector(5)->get_config()["n"] == 5);
  std::vector<std::pair<std::shared_ptr<Layer>, Shape>> all = {
      {pad, {-1, 4, 4, 3}},
      {layers::ZeroPadding1D({0, 2}), {-1, 4, 3}},
      {layers::Cropping2D({{1, 1}, {0, 2}}), {-1, 4, 4, 3}},
      {layers::Cropping1D(1), {-1, 4, 3}},
      {up, {-1, 4, 4, 3}},
      {layers::UpSampling1D(3), {-1, 4, 3}},
      {layers::Permute({2, 1}), {-1, 4, 3}},
      {layers::RepeatVector(2), {-1, 3}}};
  for (const auto& [layer, shape] : all) {
    INFO(layer->class_name());
    auto c = layer->get_config();
    auto again = layer_from_config(layer->class_name(), c);
    CHECK(again->class_name() == layer->class_name());
    CHECK(again->get_config() == c);
    CHECK(again->build_for(shape) == layer->build_for(shape));
  }
  // Keras's shorthand forms in configs: an integer for every side.
  CHECK(layer_from_config("ZeroPadding2D", nlohmann::json::parse(R"({"padding": 2})"))
            ->build_for({-1, 3, 3, 1}) == Shape{-1, 7, 7, 1});
}

TEST_CASE("reshaping layers reject bad arguments and shapes naming the layer", "[reshaping]") {
  CHECK_THROWS_WITH(layers::ZeroPadding2D({{-1, 0}, {0, 0}}),
                    "ZeroPadding2D: padding must be >= 0 and at most 2147483647, got ((-1, 0), (0, 0))");
  auto crop = layers::Cropping2D({{2, 2}, {0, 0}}, {"crop"});
  CHECK_THROWS_WITH(crop->build_for({-1, 4, 5, 1}),
                    "Cropping2D 'crop': cropping (2, 2) leaves nothing of axis 1 of input "
                    "(None, 4, 5, 1)");
  CHECK_THROWS_WITH(layers::ZeroPadding1D(1, {"zp"})->build_for({-1, 4, 4, 1}),
                    "ZeroPadding1D 'zp': input must be 3-D (batch, steps, channels), got "
                    "(None, 4, 4, 1)");
  CHECK_THROWS_WITH(layers::UpSampling2D(2, {.interpolation = "bicubic"}),
                    Contains("interpolation must be \"nearest\" or \"bilinear\""));
  CHECK_THROWS_AS(layers::UpSampling2D(0), ValueError);
  CHECK_THROWS_WITH(layers::Permute({1, 3}),
                    Contains("Permute: dims must be a permutation of 1..2"));
  CHECK_THROWS_WITH(layers::Permute({2, 1}, "perm")->build_for({-1, 2, 3, 4}),
                    Contains("Permute 'perm': dims has 2 axes but the input (None, 2, 3, 4)"));
  CHECK_THROWS_WITH(layers::RepeatVector(2, "rep")->build_for({-1, 2, 3}),
                    "RepeatVector 'rep': input must be 2-D (batch, features), got (None, 2, 3)");
  CHECK_THROWS_AS(layers::RepeatVector(0), ValueError);
  CHECK_THROWS_AS(crop2d(Tensor::zeros({1, 3, 3, 1}), 2, 1, 0, 0), ShapeError);
  CHECK_THROWS_AS(image_resize(Tensor::zeros({1, 3, 3}), 6, 6), ShapeError);
}
