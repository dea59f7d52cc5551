// SPDX-License-Identifier: Apache-2.0
// Conv2DTranspose: outputs and gradients against PyTorch (tests/fixtures/conv.json, cropped the
// TensorFlow way), finite differences in float64, shapes, config round trip and errors.
#include <catch2/catch.hpp>
#include <lamina/lamina.hpp>
#include <lamina/layers/conv_transpose.hpp>
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
}  // namespace

TEST_CASE(
    "Conv2DTranspose matches PyTorch for strides, same and valid padding, output_padding and "
    "dilation",
    "[conv]") {
  for (const auto& [name, c] : conv_fixture()["conv2d_transpose"].items()) {
    INFO("case " << name);
    const Shape ks = shape_of(c["kernel_shape"]);
    std::optional<Size2D> op;
    if (!c["output_padding"].is_null()) op = size_of(c["output_padding"]);
    auto layer = layers::Conv2DTranspose(ks[2], {ks[0], ks[1]},
                                         {.strides = size_of(c["strides"]),
                                          .padding = c["padding"].get<std::string>(),
                                          .output_padding = op,
                                          .dilation_rate = size_of(c["dilation"]),
                                          .activation = c["activation"].get<std::string>()});
    const Shape xs = shape_of(c["x_shape"]);
    Shape inferred = layer->build_for({-1, xs[1], xs[2], xs[3]});
    REQUIRE(layer->kernel.shape() == ks);
    layer->kernel = seq(ks, 0.4, float64, 0.05);
    layer->bias = seq({ks[2]}, 0.3);
    layer->kernel.set_requires_grad(true);
    layer->bias.set_requires_grad(true);
    Tensor x = seq(xs).set_requires_grad(true);
    Tensor y = layer(x);
    REQUIRE(y.shape() == shape_of(c["y_shape"]));
    CHECK(inferred == Shape{-1, y.dim(1), y.dim(2), y.dim(3)});
    check_values(y, doubles(c["y"]), 1e-12);
    sum(y * cos_probe(y.shape())).backward();
    check_values(x.grad(), doubles(c["dx"]), 1e-12);
    check_values(layer->kernel.grad(), doubles(c["dkernel"]), 1e-12);
    check_values(layer->bias.grad(), doubles(c["dbias"]), 1e-12);
    NoGradGuard no_grad;  // float32 runs the same kernels
    Tensor y32 = conv2d_transpose(x.astype(float32), layer->kernel.astype(float32),
                                  layer->bias.astype(float32), size_of(c["strides"]),
                                  padding_from_name(c["padding"]), op, size_of(c["dilation"]),
                                  c["activation"] == "relu"      ? FusedActivation::relu
                                  : c["activation"] == "tanh"    ? FusedActivation::tanh
                                  : c["activation"] == "sigmoid" ? FusedActivation::sigmoid
                                                                 : FusedActivation::linear);
    check_values(y32, doubles(c["y"]), 1e-5);
  }
}

TEST_CASE("Conv2DTranspose gradients match finite differences in float64", "[conv]") {
  SECTION("stride 2, same, output_padding, unfused softmax") {
    auto layer = layers::Conv2DTranspose(3, {3, 2},
                                         {.strides = {2, 3},
                                          .padding = "same",
                                          .output_padding = Size2D{1, 2},
                                          .activation = "softmax"});
    layer->build_for({-1, 3, 2, 2});
    layer->kernel = seq(layer->kernel.shape(), 0.5, float64, 0.1);
    layer->bias = seq({3}, 0.2);
    auto r = testing::gradcheck([&](const std::vector<Tensor>& in) { return layer(in[0]); },
                                {seq({2, 3, 2, 2})}, {layer->kernel, layer->bias});
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("dilation 2, valid, no bias, sigmoid") {
    auto layer = layers::Conv2DTranspose(
        2, 2, {.dilation_rate = 2, .activation = "sigmoid", .use_bias = false});
    layer->build_for({-1, 3, 3, 2});
    layer->kernel = seq(layer->kernel.shape(), 0.5, float64);
    auto r = testing::gradcheck([&](const std::vector<Tensor>& in) { return layer(in[0]); },
                                {seq({1, 3, 3, 2})}, {layer->kernel});
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("Conv2DTranspose infers Keras's output shapes and round-trips its config", "[conv]") {
  // valid: (in - 1)·s + max(k, s); same: in·s; with output_padding: (in - 1)·s + k % 2 + op.
  CHECK(layers::Conv2DTranspose(4, 3)->build_for({-1, 5, 6, 2}) == Shape{-1, 7, 8, 4});
  CHECK(layers::Conv2DTranspose(4, 2, {.strides = 3})->build_for({-1, 5, 6, 2}) ==
        Shape{-1, 15, 18, 4});
  CHECK(
      layers::Conv2DTranspose(4, 3, {.strides = 2, .padding = "same"})->build_for({-1, 5, 6, 2}) ==
      Shape{-1, 10, 12, 4});
  CHECK(layers::Conv2DTranspose(4, 3,
                                {.strides = 2, .padding = "same", .output_padding = Size2D{0, 1}})
            ->build_for({-1, 5, 6, 2}) == Shape{-1, 9, 12, 4});
  auto layer = layers::Conv2DTranspose(8, {3, 5},
                                       {.strides = 2,
                                        .padding = "same",
                                        .output_padding = Size2D{1, 0},
                                        .activation = "relu",
                                        .use_bias = false,
                                        .kernel_initializer = "he_normal",
                                        .name = "up"});
  layer->build_for({-1, 4, 4, 3});
  CHECK(layer->kernel.shape() == Shape{3, 5, 8, 3});  // (kh, kw, filters, in)
  CHECK(layer->count_params() == 3 * 5 * 8 * 3);
  auto cfg = layer->get_config();
  CHECK(cfg["name"] == "up");
  CHECK(cfg["filters"] == 8);
  CHECK(cfg["kernel_size"] == nlohmann::json::array({3, 5}));
  CHECK(cfg["strides"] == nlohmann::json::array({2, 2}));
  CHECK(cfg["padding"] == "same");
  CHECK(cfg["output_padding"] == nlohmann::json::array({1, 0}));
  CHECK(cfg["data_format"] == "channels_last");
  CHECK(cfg["activation"] == "relu");
  CHECK(cfg["use_bias"] == false);
  CHECK(cfg["kernel_initializer"]["class_name"] == "HeNormal");
  auto again = layer_from_config("Conv2DTranspose", cfg);
  CHECK(again->get_config() == cfg);
  CHECK(again->build_for({-1, 4, 4, 3}) == layer->compute_output_shape({-1, 4, 4, 3}));
  // Keras 3 does not write output_padding when it is None.
  cfg.erase("output_padding");
  cfg["name"] = "up_2";
  CHECK(layer_from_config("Conv2DTranspose", cfg)->build_for({-1, 4, 4, 3}) == Shape{-1, 8, 8, 8});
}

TEST_CASE("Conv2DTranspose rejects bad arguments and inputs naming the layer", "[conv]") {
  CHECK_THROWS_WITH(layers::Conv2DTranspose(4, 3, {.strides = 2, .output_padding = Size2D{2, 0}}),
                    Contains("Conv2DTranspose: output_padding must be >= 0 and < strides"));
  CHECK_THROWS_WITH(layers::Conv2DTranspose(4, 3, {.strides = 2, .dilation_rate = 2}),
                    Contains("strides > 1 is not supported together with dilation_rate > 1"));
  CHECK_THROWS_AS(layers::Conv2DTranspose(0, 3), ValueError);
  CHECK_THROWS_AS(layers::Conv2DTranspose(4, 3, {.padding = "causal"}), ValueError);
  auto layer = layers::Conv2DTranspose(4, 3, {.name = "deconv"});
  CHECK_THROWS_WITH(layer->build_for({-1, 16}),
                    "Conv2DTranspose 'deconv': input must be 4-D (batch, height, width, channels), "
                    "got (None, 16)");
  layer->build_for({-1, 5, 5, 2});
  CHECK_THROWS_WITH(layer(Tensor::zeros({1, 5, 5, 3})),
                    Contains("Conv2DTranspose 'deconv': expected 2 input channels"));
  CHECK_THROWS_WITH(
      layer->set_weights({Tensor::zeros({3, 3, 4, 3}), Tensor::zeros({4})}),
      Contains("Conv2DTranspose 'deconv'") && Contains("(3, 3, 4, 2)") && Contains("(3, 3, 4, 3)"));
  CHECK_THROWS_AS(conv2d_transpose(Tensor::zeros({1, 3, 3, 2}), Tensor::zeros({3, 3, 4, 5})),
                  ShapeError);
}
