// SPDX-License-Identifier: Apache-2.0
// Conv1D / Conv2D: outputs and gradients against PyTorch (tests/fixtures/conv.json), finite
// differences in float64, shapes, configs and the build-time error messages.
#include <cstdio>

#include <catch2/catch.hpp>

#include <lamina/lamina.hpp>

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
FusedActivation act_of(const std::string& name) {
  if (name == "relu") return FusedActivation::relu;
  if (name == "sigmoid") return FusedActivation::sigmoid;
  if (name == "tanh") return FusedActivation::tanh;
  return FusedActivation::linear;
}

// Runs one fixture case through `op` in float64 and checks y, dx, dkernel, dbias.
template <class Op>
void check_case(const std::string& name, const nlohmann::json& c, Op op) {
  INFO("case " << name);
  Tensor x = seq(shape_of(c["x_shape"])).set_requires_grad(true);
  Tensor k = seq(shape_of(c["kernel_shape"]), 0.4, float64, 0.05).set_requires_grad(true);
  const std::int64_t filters = c["kernel_shape"].back().get<std::int64_t>();
  const bool use_bias = c.value("use_bias", true);
  Tensor b = use_bias ? seq({filters}, 0.3).set_requires_grad(true) : Tensor();
  Tensor y = op(x, k, b);
  REQUIRE(y.shape() == shape_of(c["y_shape"]));
  check_values(y, doubles(c["y"]), 1e-12);
  sum(y * cos_probe(y.shape())).backward();
  check_values(x.grad(), doubles(c["dx"]), 1e-12);
  check_values(k.grad(), doubles(c["dkernel"]), 1e-12);
  if (use_bias) check_values(b.grad(), doubles(c["dbias"]), 1e-12);
  // float32 runs the same kernels at single precision.
  NoGradGuard no_grad;
  Tensor y32 = op(x.astype(float32), k.astype(float32), use_bias ? b.astype(float32) : Tensor());
  CHECK(y32.dtype() == float32);
  check_values(y32, doubles(c["y"]), 1e-5);
}
}  // namespace

TEST_CASE("conv2d matches PyTorch for odd sizes, stride 2, dilation, same padding and groups",
          "[conv]") {
  for (const auto& [name, c] : conv_fixture()["conv2d"].items()) {
    auto s = c["strides"].get<std::vector<std::int64_t>>();
    auto d = c["dilation"].get<std::vector<std::int64_t>>();
    check_case(name, c, [&](const Tensor& x, const Tensor& k, const Tensor& b) {
      return conv2d(x, k, b, {s[0], s[1]}, padding_from_name(c["padding"]), {d[0], d[1]},
                    c["groups"].get<std::int64_t>(), act_of(c["activation"]));
    });
  }
}

TEST_CASE("conv1d matches PyTorch with causal, same and valid padding", "[conv]") {
  for (const auto& [name, c] : conv_fixture()["conv1d"].items()) {
    check_case(name, c, [&](const Tensor& x, const Tensor& k, const Tensor& b) {
      return conv1d(x, k, b, c["strides"].get<std::int64_t>(), padding_from_name(c["padding"]),
                    c["dilation"].get<std::int64_t>(), c["groups"].get<std::int64_t>(),
                    act_of(c["activation"]));
    });
  }
}

TEST_CASE("Conv2D layer with Keras-layout weights reproduces PyTorch's asymmetric same padding",
          "[conv]") {
  const auto& c = conv_fixture()["conv2d"]["stride2_same"];
  auto conv = layers::Conv2D(5, 3, {.strides = 2, .padding = "same", .activation = "relu"});
  Shape out = conv->build_for({-1, 7, 8, 3});
  CHECK(out == Shape{-1, 4, 4, 5});
  REQUIRE(conv->kernel.shape() == Shape{3, 3, 3, 5});
  conv->set_weights({seq({3, 3, 3, 5}, 0.4, float32, 0.05), seq({5}, 0.3, float32)});
  Tensor y = conv(seq({2, 7, 8, 3}, 1.0, float32));
  check_values(y, doubles(c["y"]), 1e-5);
}

TEST_CASE("Conv1D layer with causal padding and dilation matches PyTorch", "[conv]") {
  const auto& c = conv_fixture()["conv1d"]["causal_dilation2"];
  auto conv = layers::Conv1D(4, 3, {.padding = "causal", .dilation_rate = 2});
  CHECK(conv->build_for({-1, 9, 3}) == Shape{-1, 9, 4});
  conv->set_weights({seq({3, 3, 4}, 0.4, float32, 0.05), seq({4}, 0.3, float32)});
  check_values(conv(seq({2, 9, 3}, 1.0, float32)), doubles(c["y"]), 1e-5);
}

TEST_CASE("Conv2D and Conv1D gradients match finite differences in float64", "[conv]") {
  SECTION("Conv2D, same padding, stride 2, groups, tanh") {
    auto conv = layers::Conv2D(
        4, {3, 2}, {.strides = {2, 1}, .padding = "same", .groups = 2, .activation = "tanh"});
    conv->build_for({-1, 5, 4, 2});
    conv->kernel = seq(conv->kernel.shape(), 0.5, float64, 0.1);
    conv->bias = seq({4}, 0.2);
    auto r = testing::gradcheck([&](const std::vector<Tensor>& in) { return conv(in[0]); },
                                {seq({2, 5, 4, 2})}, {conv->kernel, conv->bias});
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("Conv2D, dilation 2, valid, softmax (unfused activation)") {
    auto conv = layers::Conv2D(3, 2, {.dilation_rate = 2, .activation = "softmax"});
    conv->build_for({-1, 5, 5, 2});
    conv->kernel = seq(conv->kernel.shape(), 0.5, float64);
    conv->bias = seq({3}, 0.2);
    auto r = testing::gradcheck([&](const std::vector<Tensor>& in) { return conv(in[0]); },
                                {seq({2, 5, 5, 2})}, {conv->kernel, conv->bias});
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("Conv1D, causal, stride 2") {
    auto conv = layers::Conv1D(3, 3, {.strides = 2, .padding = "causal", .activation = "sigmoid"});
    conv->build_for({-1, 7, 2});
    conv->kernel = seq(conv->kernel.shape(), 0.5, float64);
    conv->bias = seq({3}, 0.2);
    auto r = testing::gradcheck([&](const std::vector<Tensor>& in) { return conv(in[0]); },
                                {seq({2, 7, 2})}, {conv->kernel, conv->bias});
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("Conv2D infers output shapes, counts parameters and writes Keras's config", "[conv]") {
  auto conv = layers::Conv2D(8, 3, {.padding = "same", .activation = "relu", .name = "c1"});
  CHECK(conv->build_for({-1, 28, 28, 1}) == Shape{-1, 28, 28, 8});
  CHECK(conv->kernel.shape() == Shape{3, 3, 1, 8});
  CHECK(conv->bias.shape() == Shape{8});
  CHECK(conv->count_params() == 3 * 3 * 8 + 8);
  CHECK(conv->compute_output_shape({-1, 7, 9, 1}) == Shape{-1, 7, 9, 8});
  auto strided = layers::Conv2D(2, {3, 5}, {.strides = {2, 3}, .use_bias = false});
  CHECK(strided->build_for({-1, 11, 17, 4}) == Shape{-1, 5, 5, 2});
  CHECK(strided->weights().size() == 1);
  auto cfg = conv->get_config();
  CHECK(conv->class_name() == "Conv2D");
  CHECK(cfg["name"] == "c1");
  CHECK(cfg["filters"] == 8);
  CHECK(cfg["kernel_size"] == nlohmann::json::array({3, 3}));
  CHECK(cfg["strides"] == nlohmann::json::array({1, 1}));
  CHECK(cfg["padding"] == "same");
  CHECK(cfg["data_format"] == "channels_last");
  CHECK(cfg["dilation_rate"] == nlohmann::json::array({1, 1}));
  CHECK(cfg["groups"] == 1);
  CHECK(cfg["activation"] == "relu");
  CHECK(cfg["use_bias"] == true);
  CHECK(cfg["kernel_initializer"]["class_name"] == "GlorotUniform");
  auto c1 = layers::Conv1D(4, 5, {.padding = "causal"});
  CHECK(c1->get_config()["kernel_size"] == nlohmann::json::array({5}));
  CHECK(c1->get_config()["padding"] == "causal");
  CHECK(c1->class_name() == "Conv1D");
}

TEST_CASE("Conv layers reject bad inputs at build time with the layer's name and the shapes",
          "[conv]") {
  auto not_image = layers::Conv2D(4, 3, {.name = "conv_a"});
  CHECK_THROWS_WITH(not_image->build_for({-1, 784}),
                    "Conv2D 'conv_a': input must be 4-D (batch, height, width, channels), got "
                    "(None, 784)");
  CHECK_THROWS_AS(Sequential({layers::Input({784}), layers::Conv2D(4, 3)}), ShapeError);

  auto too_big = layers::Conv2D(4, 5, {.name = "conv_b"});
  CHECK_THROWS_AS(too_big->build_for({-1, 3, 3, 1}), ShapeError);
  CHECK_THROWS_WITH(too_big->build_for({-1, 3, 3, 1}),
                    Contains("Conv2D 'conv_b': kernel_size (5, 5)") &&
                        Contains("larger than the input (None, 3, 3, 1)") &&
                        Contains("output would be empty"));
  CHECK(too_big->weights().empty());
  // The same kernel fits with 'same' padding.
  CHECK(layers::Conv2D(4, 5, {.padding = "same"})->build_for({-1, 3, 3, 1}) == Shape{-1, 3, 3, 4});
  auto dilated = layers::Conv1D(2, 3, {.dilation_rate = 3, .name = "conv_c"});
  CHECK_THROWS_WITH(dilated->build_for({-1, 6, 1}),
                    Contains("Conv1D 'conv_c'") && Contains("dilation_rate (3,)"));

  auto grouped = layers::Conv2D(4, 3, {.groups = 2, .name = "conv_d"});
  CHECK_THROWS_WITH(grouped->build_for({-1, 8, 8, 3}),
                    "Conv2D 'conv_d': input channels (3) must be divisible by groups (2), got "
                    "input (None, 8, 8, 3)");
  CHECK_THROWS_WITH(layers::Conv2D(6, 3, {.groups = 4}),
                    Contains("Conv2D") && Contains("filters must be divisible by groups") &&
                        Contains("filters=6, groups=4"));
  CHECK_THROWS_AS(layers::Conv2D(0, 3), ValueError);
  CHECK_THROWS_AS(layers::Conv2D(4, 3, {.padding = "causal"}), ValueError);
  CHECK_THROWS_WITH(layers::Conv2D(4, 3, {.padding = "full"}), Contains("padding"));

  // After build, an input with other channels is rejected by name too.
  auto built = layers::Conv2D(2, 1, {.name = "conv_e"});
  built->build_for({-1, 4, 4, 3});
  CHECK_THROWS_WITH(built(Tensor::zeros({1, 4, 4, 2})),
                    Contains("Conv2D 'conv_e': expected 3 input channels"));
}

TEST_CASE("conv2d op rejects mismatched kernels and dtypes", "[conv]") {
  Tensor x = Tensor::zeros({1, 5, 5, 3});
  CHECK_THROWS_AS(conv2d(x, Tensor::zeros({3, 3, 2, 4})), ShapeError);
  CHECK_THROWS_AS(conv2d(x, Tensor::zeros({3, 3, 3, 4}), Tensor::zeros({5})), ShapeError);
  CHECK_THROWS_AS(conv2d(x, Tensor::zeros({3, 3, 3, 4}, float64)), TypeError);
  CHECK_THROWS_AS(conv2d(x, Tensor::zeros({6, 6, 3, 4})), ShapeError);
  CHECK_THROWS_AS(conv1d(Tensor::zeros({1, 5}), Tensor::zeros({3, 1, 2})), ShapeError);
  CHECK(conv2d(x, Tensor::zeros({6, 6, 3, 4}), Tensor(), 1, Padding::same).shape() ==
        Shape{1, 5, 5, 4});
}

TEST_CASE("Conv1D and Conv2D configs round-trip through from_config, Keras 3's own included",
          "[conv]") {
  auto c2 = layers::Conv2D(6, {3, 5}, {.strides = {2, 1}, .padding = "same", .dilation_rate = 1,
                                       .groups = 2, .activation = "tanh", .use_bias = false,
                                       .kernel_initializer = "he_uniform", .name = "c2"});
  auto cfg2 = c2->get_config();
  auto again2 = layer_from_config("Conv2D", cfg2);
  CHECK(again2->get_config() == cfg2);
  CHECK(again2->build_for({-1, 9, 9, 4}) == c2->build_for({-1, 9, 9, 4}));
  CHECK(again2->count_params() == c2->count_params());
  auto c1 = layers::Conv1D(3, 4, {.strides = 2, .padding = "causal", .dilation_rate = 1,
                                  .activation = "relu", .name = "c1"});
  auto cfg1 = c1->get_config();
  CHECK(layer_from_config("Conv1D", cfg1)->get_config() == cfg1);

  // The first Conv2D of tests/fixtures/keras_files/k3_fashion_cnn.keras's config.json, as Keras 3 wrote it.
  const auto keras = nlohmann::json::parse(R"({"name": "conv2d", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "filters": 32, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null})");
  auto layer = layer_from_config("Conv2D", keras);
  CHECK(layer->build_for({-1, 28, 28, 1}) == Shape{-1, 26, 26, 32});
  auto ours = layer->get_config();
  for (const auto& [key, value] : keras.items()) {
    INFO("key " << key);
    REQUIRE(ours.contains(key));
    if (key != "dtype") CHECK(ours[key] == value);
  }
}

TEST_CASE("A loaded Conv2D kernel with the wrong channel count fails naming the layer and weight",
          "[conv]") {
  auto conv = layers::Conv2D(4, 3, {.name = "conv_w"});
  conv->build_for({-1, 8, 8, 3});
  CHECK_THROWS_MATCHES(conv->set_weights({Tensor::zeros({3, 3, 2, 4}), Tensor::zeros({4})}), ShapeError,
                       Catch::Message("Conv2D 'conv_w': weight 'kernel' expects shape (3, 3, 3, 4), got "
                                      "(3, 3, 2, 4)"));

  // The same through a weights file saved by a model whose input has 2 channels.
  const std::string path = "test_conv_channels.weights.h5";
  Sequential two({layers::Input({8, 8, 2}), layers::Conv2D(4, 3, {.name = "conv"})});
  two.save_weights(path);
  Sequential three({layers::Input({8, 8, 3}), layers::Conv2D(4, 3, {.name = "conv"})});
  const std::vector<Tensor> before = three.get_weights();
  CHECK_THROWS_WITH(three.load_weights(path), Contains(path) && Contains("conv") &&
                                                  Contains("(3, 3, 3, 4)") && Contains("(3, 3, 2, 4)"));
  CHECK(three.get_weights()[0].to_vector<float>() == before[0].to_vector<float>());
  std::remove(path.c_str());
}
