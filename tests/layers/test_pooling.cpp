// SPDX-License-Identifier: Apache-2.0
// Pooling layers: windowed max/average against PyTorch (tests/fixtures/conv.json), including
// Keras's 'same' padding that averages over real elements only; global pooling by hand; finite
// differences; build-time errors.
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

TEST_CASE("max and average pooling match PyTorch with valid, same and overlapping windows",
          "[pooling]") {
  for (const auto& [name, c] : conv_fixture()["pool2d"].items()) {
    INFO("case " << name);
    auto p = c["pool"].get<std::vector<std::int64_t>>();
    auto s = c["strides"].get<std::vector<std::int64_t>>();
    layers::Pooling2DOptions opts{.strides = Size2D{s[0], s[1]},
                                  .padding = c["padding"].get<std::string>()};
    std::shared_ptr<Layer> layer =
        c["kind"] == "max" ? std::shared_ptr<Layer>(layers::MaxPooling2D({p[0], p[1]}, opts))
                           : std::shared_ptr<Layer>(layers::AveragePooling2D({p[0], p[1]}, opts));
    Tensor x = seq(shape_of(c["x_shape"])).set_requires_grad(true);
    Shape inferred = layer->build_for(Shape{-1, x.dim(1), x.dim(2), x.dim(3)});
    Tensor y = (*layer)(x, true);
    REQUIRE(y.shape() == shape_of(c["y_shape"]));
    CHECK(inferred[1] == y.dim(1));
    CHECK(inferred[2] == y.dim(2));
    check_values(y, doubles(c["y"]), 1e-13);
    sum(y * cos_probe(y.shape())).backward();
    check_values(x.grad(), doubles(c["dx"]), 1e-13);
    NoGradGuard no_grad;
    check_values((*layer)(x.detach().astype(float32), false), doubles(c["y"]), 1e-6);
  }
}

TEST_CASE("average pooling with same padding divides by the real elements of each window",
          "[pooling]") {
  // 3x3 input of ones except x[0,0]=4; pool 2, stride 1, same: the last row/column windows hold
  // 2 or 1 real elements. Hand-derived: every window mean of ones is 1, and windows over (0,0)
  // add 3/count.
  std::vector<double> v(9, 1.0);
  v[0] = 4.0;
  Tensor x = Tensor::from_vector(v, {1, 3, 3, 1});
  Tensor y = avg_pool2d(x, 2, 1, Padding::same);
  REQUIRE(y.shape() == Shape{1, 3, 3, 1});
  check_values(y, {1 + 3.0 / 4, 1, 1, 1, 1, 1, 1, 1, 1}, 1e-14);
  Tensor y1 =
      avg_pool1d(Tensor::from_vector<double>({1, 2, 3, 4, 5}, {1, 5, 1}), 2, 2, Padding::same);
  check_values(y1, {1.5, 3.5, 5.0}, 1e-14);  // the last window holds only 5
  Tensor m1 =
      max_pool1d(Tensor::from_vector<double>({-5, -2, -3, -4, -1}, {1, 5, 1}), 2, 2, Padding::same);
  check_values(m1, {-2, -3, -1}, 1e-14);  // padding never wins, even over negatives
}

TEST_CASE("1-D pooling layers and default strides follow Keras", "[pooling]") {
  auto mp = layers::MaxPooling1D(3, {.strides = 2, .padding = "same"});
  CHECK(mp->build_for({-1, 9, 3}) == Shape{-1, 5, 3});
  Tensor x = Tensor::from_vector<double>({0, 5, 1, 2, 9, 3, 4}, {1, 7, 1});
  check_values(mp(x), {5, 5, 9, 4}, 0);  // windows [pad,0,5] [5,1,2] [2,9,3] [3,4,pad]
  auto ap = layers::AveragePooling1D(2);
  CHECK(ap->strides() == Size2D{1, 2});
  check_values(ap(x), {2.5, 1.5, 6.0}, 1e-14);
  auto mp2 = layers::MaxPooling2D();
  CHECK(mp2->pool_size() == Size2D{2, 2});
  CHECK(mp2->strides() == Size2D{2, 2});
  CHECK(mp2->build_for({-1, 7, 5, 4}) == Shape{-1, 3, 2, 4});
  auto cfg = mp2->get_config();
  CHECK(mp2->class_name() == "MaxPooling2D");
  CHECK(mp2->name().rfind("max_pooling2d", 0) == 0);
  CHECK(cfg["pool_size"] == nlohmann::json::array({2, 2}));
  CHECK(cfg["strides"] == nlohmann::json::array({2, 2}));
  CHECK(cfg["padding"] == "valid");
  CHECK(cfg["data_format"] == "channels_last");
  CHECK(layers::AveragePooling1D(3)->get_config()["pool_size"] == nlohmann::json::array({3}));
  CHECK(layers::AveragePooling2D(2)->class_name() == "AveragePooling2D");
}

TEST_CASE("global pooling reduces the spatial axes, with and without keepdims", "[pooling]") {
  Tensor x = seq({2, 3, 4, 5});
  auto gap = layers::GlobalAveragePooling2D();
  CHECK(gap->build_for({-1, 3, 4, 5}) == Shape{-1, 5});
  Tensor y = gap(x);
  REQUIRE(y.shape() == Shape{2, 5});
  // Hand computation of the mean over (h, w) for sample 1, channel 2.
  double acc = 0;
  for (int h = 0; h < 3; ++h)
    for (int w = 0; w < 4; ++w) acc += x.at(((1 * 3 + h) * 4 + w) * 5 + 2);
  CHECK(y.at(1 * 5 + 2) == Approx(acc / 12).epsilon(1e-14));
  auto gmp = layers::GlobalMaxPooling2D({.keepdims = true});
  CHECK(gmp->build_for({-1, 3, 4, 5}) == Shape{-1, 1, 1, 5});
  Tensor m = gmp(x);
  REQUIRE(m.shape() == Shape{2, 1, 1, 5});
  double best = -1e9;
  for (int h = 0; h < 3; ++h)
    for (int w = 0; w < 4; ++w) best = std::max(best, x.at(((0 * 3 + h) * 4 + w) * 5 + 3));
  CHECK(m.at(3) == best);
  auto g1 = layers::GlobalMaxPooling1D();
  CHECK(g1->build_for({-1, 7, 3}) == Shape{-1, 3});
  CHECK(layers::GlobalAveragePooling1D()(seq({2, 7, 3})).shape() == Shape{2, 3});
  CHECK(gap->class_name() == "GlobalAveragePooling2D");
  CHECK(gmp->get_config()["keepdims"] == true);
}

TEST_CASE("pooling gradients match finite differences in float64", "[pooling]") {
  std::vector<std::pair<std::string, std::shared_ptr<Layer>>> cases = {
      {"max same", layers::MaxPooling2D(3, {.strides = 2, .padding = "same"})},
      {"avg same", layers::AveragePooling2D({2, 3}, {.strides = {1, 2}, .padding = "same"})},
      {"max 1d", layers::MaxPooling1D(2, {.strides = 1})},
      {"avg 1d same", layers::AveragePooling1D(3, {.strides = 2, .padding = "same"})},
      {"global avg", layers::GlobalAveragePooling2D()},
      {"global max", layers::GlobalMaxPooling1D()},
  };
  for (auto& [name, layer] : cases) {
    INFO(name);
    const bool one_d = layer->class_name().find("1D") != std::string::npos;
    Tensor x = one_d ? seq({2, 7, 3}) : seq({2, 5, 6, 2});
    auto r = testing::gradcheck(
        [&](const std::vector<Tensor>& in) { return (*layer)(in[0], true); }, {x});
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("pooling layers reject bad inputs with the layer's name and the shape", "[pooling]") {
  auto big = layers::MaxPooling2D(3, {.name = "pool_a"});
  CHECK_THROWS_WITH(big->build_for({-1, 2, 5, 4}),
                    "MaxPooling2D 'pool_a': pool_size (3, 3) is larger than the input "
                    "(None, 2, 5, 4) with 'valid' padding: the output would be empty");
  CHECK(layers::MaxPooling2D(3, {.padding = "same"})->build_for({-1, 2, 5, 4}) ==
        Shape{-1, 1, 2, 4});
  auto flat = layers::AveragePooling2D(2, {.name = "pool_b"});
  CHECK_THROWS_WITH(flat->build_for({-1, 784}),
                    "AveragePooling2D 'pool_b': input must be 4-D (batch, height, width, "
                    "channels), got (None, 784)");
  CHECK_THROWS_WITH(layers::AveragePooling1D(4, {.name = "pool_c"})->build_for({-1, 3, 2}),
                    Contains("AveragePooling1D 'pool_c': pool_size (4,)"));
  CHECK_THROWS_AS(layers::GlobalMaxPooling2D()->build_for({-1, 5, 3}), ShapeError);
  CHECK_THROWS_AS(layers::MaxPooling2D(0), ValueError);
  CHECK_THROWS_AS(layers::MaxPooling2D(2, {.padding = "causal"}), ValueError);
  CHECK_THROWS_AS(max_pool2d(Tensor::zeros({1, 2, 2, 1}), 3, 1, Padding::valid), ShapeError);
}

TEST_CASE("pooling configs round-trip through from_config, Keras 3's own included", "[pooling]") {
  std::vector<std::shared_ptr<Layer>> all = {
      layers::MaxPooling2D({3, 2}, {.strides = Size2D{1, 2}, .padding = "same"}),
      layers::AveragePooling2D(2),
      layers::MaxPooling1D(3, {.strides = 2}),
      layers::AveragePooling1D(2, {.padding = "same"}),
      layers::GlobalMaxPooling2D({.keepdims = true}),
      layers::GlobalAveragePooling2D(),
      layers::GlobalMaxPooling1D(),
      layers::GlobalAveragePooling1D({.keepdims = true})};
  for (const auto& layer : all) {
    INFO(layer->class_name());
    auto cfg = layer->get_config();
    auto again = layer_from_config(layer->class_name(), cfg);
    CHECK(again->class_name() == layer->class_name());
    CHECK(again->get_config() == cfg);
    const bool one_d = layer->class_name().find("1D") != std::string::npos;
    const Shape in = one_d ? Shape{-1, 9, 3} : Shape{-1, 9, 7, 3};
    CHECK(again->build_for(in) == layer->build_for(in));
  }
  // MaxPooling2D from tests/fixtures/keras_files/k3_fashion_cnn.keras, as Keras 3 wrote it.
  const auto keras = nlohmann::json::parse(R"({"name": "max_pooling2d", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null, "shared_object_id": 139979014837440}, "pool_size": [2, 2], "padding": "valid", "strides": [2, 2], "data_format": "channels_last"})");
  auto pool = layer_from_config("MaxPooling2D", keras);
  CHECK(pool->build_for({-1, 26, 26, 32}) == Shape{-1, 13, 13, 32});
  auto ours = pool->get_config();
  for (const auto& [key, value] : keras.items())
    if (key != "dtype") CHECK(ours[key] == value);
  // Keras's strides=None (hand-written configs) means pool_size.
  auto none = layer_from_config("AveragePooling1D",
                                nlohmann::json::parse(R"({"pool_size": 3, "strides": null})"));
  CHECK(none->build_for({-1, 9, 2}) == Shape{-1, 3, 2});
}
