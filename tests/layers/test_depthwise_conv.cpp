// SPDX-License-Identifier: Apache-2.0
// DepthwiseConv2D and SeparableConv2D: outputs and gradients against PyTorch grouped convolutions
// (tests/fixtures/conv.json), finite differences in float64, shapes, config round trips, errors.
#include <catch2/catch.hpp>
#include <lamina/lamina.hpp>
#include <lamina/layers/depthwise_conv.hpp>
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
Size2D size_of(const nlohmann::json& j) {
  return {j[0].get<std::int64_t>(), j[1].get<std::int64_t>()};
}

// Sets the fixture's weights (same formulas as make_conv_fixtures.py) as float64 leaves, runs the
// layer on the fixture's input and checks y and every gradient.
void check_against_fixture(layers::BaseDepthwiseLayer& layer, layers::SeparableConv2DLayer* sep,
                           const nlohmann::json& c) {
  const Shape xs = shape_of(c["x_shape"]);
  layer.build_for({-1, xs[1], xs[2], xs[3]});
  layer.depthwise_kernel =
      seq(layer.depthwise_kernel.shape(), 0.4, float64, 0.05).set_requires_grad(true);
  if (sep)
    sep->pointwise_kernel =
        seq(sep->pointwise_kernel.shape(), 0.3, float64, -0.02).set_requires_grad(true);
  layer.bias = seq(layer.bias.shape(), 0.3).set_requires_grad(true);
  Tensor x = seq(xs).set_requires_grad(true);
  Tensor y = layer(x);
  REQUIRE(y.shape() == shape_of(c["y_shape"]));
  CHECK(layer.compute_output_shape({-1, xs[1], xs[2], xs[3]}) ==
        Shape{-1, y.dim(1), y.dim(2), y.dim(3)});
  check_values(y, doubles(c["y"]), 1e-12);
  sum(y * cos_probe(y.shape())).backward();
  check_values(x.grad(), doubles(c["dx"]), 1e-12);
  check_values(layer.depthwise_kernel.grad(), doubles(c["ddepthwise"]), 1e-12);
  if (sep) check_values(sep->pointwise_kernel.grad(), doubles(c["dpointwise"]), 1e-12);
  check_values(layer.bias.grad(), doubles(c["dbias"]), 1e-12);
}
}  // namespace

TEST_CASE(
    "DepthwiseConv2D matches PyTorch with depth_multiplier, stride 2, same padding and dilation",
    "[conv]") {
  for (const auto& [name, c] : conv_fixture()["depthwise_conv2d"].items()) {
    INFO("case " << name);
    auto layer = layers::DepthwiseConv2D(
        size_of(c["kernel_size"]), {.strides = size_of(c["strides"]),
                                    .padding = c["padding"].get<std::string>(),
                                    .depth_multiplier = c["depth_multiplier"].get<std::int64_t>(),
                                    .dilation_rate = size_of(c["dilation"])});
    check_against_fixture(*layer, nullptr, c);
  }
}

TEST_CASE("SeparableConv2D matches PyTorch's depthwise then pointwise convolution", "[conv]") {
  for (const auto& [name, c] : conv_fixture()["separable_conv2d"].items()) {
    INFO("case " << name);
    auto layer =
        layers::SeparableConv2D(c["filters"].get<std::int64_t>(), size_of(c["kernel_size"]),
                                {.strides = size_of(c["strides"]),
                                 .padding = c["padding"].get<std::string>(),
                                 .dilation_rate = size_of(c["dilation"]),
                                 .depth_multiplier = c["depth_multiplier"].get<std::int64_t>()});
    check_against_fixture(*layer, layer.ptr().get(), c);
  }
}

TEST_CASE("DepthwiseConv2D and SeparableConv2D gradients match finite differences in float64",
          "[conv]") {
  SECTION("DepthwiseConv2D, multiplier 2, stride 2, same, tanh") {
    auto layer = layers::DepthwiseConv2D(
        {3, 2}, {.strides = 2, .padding = "same", .depth_multiplier = 2, .activation = "tanh"});
    layer->build_for({-1, 5, 4, 2});
    layer->depthwise_kernel = seq(layer->depthwise_kernel.shape(), 0.5, float64, 0.1);
    layer->bias = seq({4}, 0.2);
    auto r = testing::gradcheck([&](const std::vector<Tensor>& in) { return layer(in[0]); },
                                {seq({2, 5, 4, 2})}, {layer->depthwise_kernel, layer->bias});
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("SeparableConv2D, dilation 2, softmax") {
    auto layer = layers::SeparableConv2D(3, 2, {.dilation_rate = 2, .activation = "softmax"});
    layer->build_for({-1, 4, 5, 2});
    layer->depthwise_kernel = seq(layer->depthwise_kernel.shape(), 0.5, float64);
    layer->pointwise_kernel = seq(layer->pointwise_kernel.shape(), 0.4, float64, 0.1);
    layer->bias = seq({3}, 0.2);
    auto r = testing::gradcheck([&](const std::vector<Tensor>& in) { return layer(in[0]); },
                                {seq({2, 4, 5, 2})},
                                {layer->depthwise_kernel, layer->pointwise_kernel, layer->bias});
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE(
    "DepthwiseConv2D and SeparableConv2D use Keras's weight layouts and round-trip their configs",
    "[conv]") {
  auto dw = layers::DepthwiseConv2D(3, {.padding = "same", .depth_multiplier = 2, .name = "dw"});
  CHECK(dw->build_for({-1, 8, 8, 3}) == Shape{-1, 8, 8, 6});
  CHECK(dw->depthwise_kernel.shape() == Shape{3, 3, 3, 2});
  CHECK(dw->bias.shape() == Shape{6});
  CHECK(dw->count_params() == 3 * 3 * 3 * 2 + 6);
  CHECK(dw->own_weights()[0].name == "depthwise_kernel");
  auto cfg = dw->get_config();
  CHECK(cfg["depth_multiplier"] == 2);
  CHECK(cfg["kernel_size"] == nlohmann::json::array({3, 3}));
  CHECK(cfg["padding"] == "same");
  CHECK(cfg["depthwise_initializer"]["class_name"] == "GlorotUniform");
  CHECK(cfg.contains("depthwise_regularizer"));
  auto dw2 = layer_from_config("DepthwiseConv2D", cfg);
  CHECK(dw2->get_config() == cfg);
  CHECK(dw2->class_name() == "DepthwiseConv2D");

  auto sep = layers::SeparableConv2D(
      5, {3, 2}, {.strides = 2, .depth_multiplier = 3, .activation = "relu", .name = "sep"});
  CHECK(sep->build_for({-1, 9, 9, 2}) == Shape{-1, 4, 4, 5});
  CHECK(sep->depthwise_kernel.shape() == Shape{3, 2, 2, 3});
  CHECK(sep->pointwise_kernel.shape() == Shape{1, 1, 6, 5});
  CHECK(sep->bias.shape() == Shape{5});
  std::vector<std::string> names;
  for (const auto& w : sep->own_weights()) names.push_back(w.name);
  CHECK(names == std::vector<std::string>{"depthwise_kernel", "pointwise_kernel", "bias"});
  auto scfg = sep->get_config();
  CHECK(scfg["filters"] == 5);
  CHECK(scfg["strides"] == nlohmann::json::array({2, 2}));
  CHECK(scfg["activation"] == "relu");
  CHECK(scfg["pointwise_initializer"]["class_name"] == "GlorotUniform");
  auto sep2 = layer_from_config("SeparableConv2D", scfg);
  CHECK(sep2->get_config() == scfg);
  CHECK(sep2->build_for({-1, 9, 9, 2}) == Shape{-1, 4, 4, 5});
}

TEST_CASE("DepthwiseConv2D and SeparableConv2D reject bad arguments and inputs naming the layer",
          "[conv]") {
  CHECK_THROWS_WITH(layers::DepthwiseConv2D(3, {.depth_multiplier = 0}),
                    Contains("DepthwiseConv2D: depth_multiplier must be a positive integer"));
  CHECK_THROWS_WITH(layers::SeparableConv2D(4, 3, {.strides = 2, .dilation_rate = 2}),
                    Contains("SeparableConv2D: strides > 1 is not supported"));
  CHECK_THROWS_AS(layers::SeparableConv2D(0, 3), ValueError);
  auto dw = layers::DepthwiseConv2D(5, {.name = "dw_small"});
  CHECK_THROWS_WITH(dw->build_for({-1, 3, 3, 2}),
                    Contains("DepthwiseConv2D 'dw_small': kernel_size (5, 5)") &&
                        Contains("output would be empty"));
  CHECK_THROWS_WITH(dw->build_for({-1, 12}),
                    "DepthwiseConv2D 'dw_small': input must be 4-D (batch, height, width, "
                    "channels), got (None, 12)");
  auto sep = layers::SeparableConv2D(4, 3, {.name = "sep_b"});
  sep->build_for({-1, 6, 6, 3});
  CHECK_THROWS_WITH(sep(Tensor::zeros({1, 6, 6, 2})),
                    Contains("SeparableConv2D 'sep_b': expected 3 input channels"));
  CHECK_THROWS_WITH(
      sep->set_weights(
          {Tensor::zeros({3, 3, 3, 1}), Tensor::zeros({1, 1, 2, 4}), Tensor::zeros({4})}),
      Contains("SeparableConv2D 'sep_b'") && Contains("(1, 1, 3, 4)") && Contains("(1, 1, 2, 4)"));
}
