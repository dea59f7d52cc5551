// SPDX-License-Identifier: Apache-2.0
// BatchNormalization and LayerNormalization: training-mode output, gradients and moving-statistic
// updates against PyTorch (tests/fixtures/conv.json), inference mode, frozen layers, finite
// differences and build-time errors.
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
// A built BatchNormalization whose four weights are the fixture's float64 values, as leaves.
layers::BatchNormalization fixture_bn(std::int64_t c, int axis = -1, int rank = 2) {
  auto bn = layers::BatchNormalization({.axis = axis});
  Shape in(static_cast<std::size_t>(rank), 2);
  in[0] = -1;
  in[static_cast<std::size_t>(axis < 0 ? axis + rank : axis)] = c;
  bn->build_for(in);
  bn->gamma = seq({c}, 0.5, float64, 1.0).set_requires_grad(true);
  bn->beta = seq({c}, 0.3, float64, 0.1).set_requires_grad(true);
  bn->moving_mean = seq({c}, 0.2, float64, 0.3);
  bn->moving_variance = seq({c}, 0.3, float64, 1.2);
  return bn;
}
}  // namespace

TEST_CASE(
    "BatchNormalization on the last axis or axis 1 or 2 matches PyTorch and updates moving "
    "statistics as Keras 3",
    "[normalization]") {
  for (const auto& [name, c] : conv_fixture()["batch_norm"].items()) {
    INFO("case " << name);
    const Shape shape = shape_of(c["x_shape"]);
    const int axis = c["axis"].get<int>();
    auto bn = fixture_bn(shape[static_cast<std::size_t>(axis)], axis, shape.rank());
    Tensor x = seq(shape, 2.0, float64, 0.5).set_requires_grad(true);
    Tensor y = bn(x, c["training"].get<bool>());
    REQUIRE(y.shape() == shape);
    check_values(y, doubles(c["y"]), 1e-11);
    sum(y * cos_probe(shape)).backward();
    check_values(x.grad(), doubles(c["dx"]), 1e-10);
    check_values(bn->gamma.grad(), doubles(c["dgamma"]), 1e-10);
    check_values(bn->beta.grad(), doubles(c["dbeta"]), 1e-10);
    check_values(bn->moving_mean, doubles(c["moving_mean"]), 1e-13);
    check_values(bn->moving_variance, doubles(c["moving_variance"]), 1e-13);
  }
}

TEST_CASE("BatchNormalization with trainable=false runs in inference mode even when training",
          "[normalization]") {
  const auto& c = conv_fixture()["batch_norm"]["infer_4d"];
  auto bn = fixture_bn(5);
  bn->set_trainable(false);
  Tensor x = seq({4, 3, 3, 5}, 2.0, float64, 0.5);
  check_values(bn(x, true), doubles(c["y"]), 1e-11);
  check_values(bn->moving_mean, doubles(c["moving_mean"]), 0);  // untouched
  CHECK(bn->trainable_weights().empty());
  CHECK(bn->non_trainable_weights().size() == 4);
}

TEST_CASE("BatchNormalization float32 layer: weights in Keras's order, config, momentum",
          "[normalization]") {
  auto bn = layers::BatchNormalization({.momentum = 0.5, .name = "bn"});
  CHECK(bn->build_for({-1, 4, 4, 3}) == Shape{-1, 4, 4, 3});
  auto ws = bn->weights();
  REQUIRE(ws.size() == 4);
  CHECK(bn->own_weights()[0].name == "gamma");
  CHECK(bn->own_weights()[1].name == "beta");
  CHECK(bn->own_weights()[2].name == "moving_mean");
  CHECK(bn->own_weights()[3].name == "moving_variance");
  CHECK(bn->trainable_weights().size() == 2);
  CHECK(bn->count_params() == 12);
  // Hand computation: channel-wise batch of (1, 3) and (3, 7) -> mean (2, 5), biased var (1, 4);
  // moving = 0.5·initial + 0.5·batch with initial mean 0 and variance 1.
  Tensor x = Tensor::from_vector<float>({1, 3, 3, 7}, {2, 2});
  auto bn2 = layers::BatchNormalization({.momentum = 0.5});
  Tensor y = bn2(x, true);
  check_values(bn2->moving_mean, {1.0, 2.5}, 1e-7);
  check_values(bn2->moving_variance, {1.0, 2.5}, 1e-7);
  // y = (x − mean)/sqrt(var + 1e-3)
  check_values(
      y, {-1 / std::sqrt(1.001), -2 / std::sqrt(4.001), 1 / std::sqrt(1.001), 2 / std::sqrt(4.001)},
      1e-6);
  // Inference uses the moving statistics: (x − 1)/sqrt(1 + 1e-3) for channel 0.
  Tensor yi = bn2(x, false);
  CHECK(yi.at(0) == Approx(0.0).margin(1e-7));
  CHECK(yi.at(2) == Approx(2 / std::sqrt(1.001)).epsilon(1e-6));
  auto cfg = bn->get_config();
  CHECK(bn->class_name() == "BatchNormalization");
  CHECK(cfg["axis"] == -1);
  CHECK(cfg["momentum"] == 0.5);
  CHECK(cfg["epsilon"] == 1e-3);
  CHECK(cfg["center"] == true);
  CHECK(cfg["scale"] == true);
  CHECK(cfg["gamma_initializer"]["class_name"] == "Ones");
  CHECK(cfg["moving_variance_initializer"]["class_name"] == "Ones");
  auto bare = layers::BatchNormalization({.center = false, .scale = false});
  bare->build_for({-1, 6});
  CHECK(bare->weights().size() == 2);
  CHECK(bare->trainable_weights().empty());
}

TEST_CASE("BatchNormalization gradients match finite differences in float64", "[normalization]") {
  for (bool training : {true, false}) {
    INFO("training " << training);
    auto bn = fixture_bn(3);
    // Moving statistics change on every training call; the check needs a pure function.
    auto f = [&](const std::vector<Tensor>& in) {
      Tensor mm = bn->moving_mean.clone(), mv = bn->moving_variance.clone();
      Tensor y = bn(in[0], training);
      bn->moving_mean = mm;
      bn->moving_variance = mv;
      return y;
    };
    auto r = testing::gradcheck(f, {seq({2, 3, 2, 3}, 1.5)}, {bn->gamma, bn->beta});
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("LayerNormalization matches PyTorch and finite differences", "[normalization]") {
  const auto& c = conv_fixture()["layer_norm"]["3d"];
  auto ln = layers::LayerNormalization();
  CHECK(ln->build_for({-1, 4, 6}) == Shape{-1, 4, 6});
  ln->gamma = seq({6}, 0.5, float64, 1.0).set_requires_grad(true);
  ln->beta = seq({6}, 0.3, float64, 0.1).set_requires_grad(true);
  Tensor x = seq({3, 4, 6}, 2.0, float64, 0.5).set_requires_grad(true);
  Tensor y = ln(x, true);
  check_values(y, doubles(c["y"]), 1e-12);
  sum(y * cos_probe(y.shape())).backward();
  check_values(x.grad(), doubles(c["dx"]), 1e-11);
  check_values(ln->gamma.grad(), doubles(c["dgamma"]), 1e-11);
  check_values(ln->beta.grad(), doubles(c["dbeta"]), 1e-11);
  auto r = testing::gradcheck([&](const std::vector<Tensor>& in) { return ln(in[0]); },
                              {seq({2, 3, 6}, 1.5)}, {ln->gamma, ln->beta});
  INFO(r.report);
  CHECK(r.ok);
  CHECK(ln->class_name() == "LayerNormalization");
  CHECK(ln->get_config()["epsilon"] == 1e-3);
  CHECK(ln->get_config()["axis"] == -1);
}

TEST_CASE("normalisation layers reject unsupported axes and mismatched inputs by name",
          "[normalization]") {
  auto bn = layers::BatchNormalization({.axis = 4, .name = "bn_a"});
  CHECK_THROWS_WITH(bn->build_for({-1, 4, 4, 3}),
                    "BatchNormalization 'bn_a': axis=4 is out of range for input (None, 4, 4, 3) "
                    "(the batch axis cannot be normalised over)");
  CHECK_THROWS_AS(layers::BatchNormalization({.axis = 0})->build_for({-1, 3}), ShapeError);
  CHECK_THROWS_AS(layers::BatchNormalization({.axis = -3})->build_for({-1, 3}), ShapeError);
  auto channels_first = layers::BatchNormalization({.axis = 1, .name = "bn_c"});
  CHECK(channels_first->build_for({-1, 3, 4, 4}) == Shape{-1, 3, 4, 4});
  CHECK(channels_first->gamma.shape() == Shape{3});
  CHECK_THROWS_WITH(channels_first(Tensor::zeros({2, 4, 4, 4})),
                    "BatchNormalization 'bn_c': expected dimension 3 on axis 1, got (2, 4, 4, 4)");
  // LayerNormalization normalises any axes (issue 18); the batch axis is refused by name.
  CHECK(layers::LayerNormalization({.axis = 1, .name = "ln_a"})->build_for({-1, 4, 3}) == Shape{-1, 4, 3});
  CHECK_THROWS_WITH(layers::LayerNormalization({.axis = 0, .name = "ln_b"})->build_for({-1, 4, 3}),
                    Contains("LayerNormalization 'ln_b': axis 0 is the batch axis"));
  auto built = layers::BatchNormalization({.name = "bn_b"});
  built->build_for({-1, 8});
  CHECK_THROWS_WITH(built(Tensor::zeros({2, 5})),
                    "BatchNormalization 'bn_b': expected last dimension 8, got (2, 5)");
  CHECK_THROWS_AS(layers::BatchNormalization({.epsilon = 0}), ValueError);
  CHECK_THROWS_AS(layers::LayerNormalization()->build_for({-1}), ShapeError);
}

TEST_CASE("a CNN with BatchNormalization learns through fit and evaluates with moving statistics",
          "[normalization]") {
  // Label: is the left half of a 6x6 image brighter than the right half? Learnable by
  // Conv2D -> BN -> ReLU -> pooling -> Dense; labels are computed here, independently.
  set_seed(7);
  Tensor x = random_uniform({64, 6, 6, 1});
  std::vector<std::int64_t> labels(64);
  for (int n = 0; n < 64; ++n) {
    double left = 0, right = 0;
    for (int r = 0; r < 6; ++r)
      for (int c = 0; c < 6; ++c) (c < 3 ? left : right) += x.at((n * 6 + r) * 6 + c);
    labels[n] = left > right ? 1 : 0;
  }
  Tensor y = Tensor::from_vector(labels, {64});
  auto bn = layers::BatchNormalization();
  Sequential model({layers::Input({6, 6, 1}), layers::Conv2D(4, 3, {.padding = "same"}), bn,
                    layers::Activation("relu"), layers::MaxPooling2D(2), layers::Flatten(),
                    layers::Dense(2, {.activation = "softmax"})});
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 1e-2}),
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  const double before = model.evaluate(x, y, {.verbose = 0})["loss"];
  CHECK(lamina::abs(bn->moving_mean).max().item() == 0.0);  // evaluation never updates the statistics
  model.fit(x, y, {.batch_size = 16, .epochs = 40, .verbose = 0});
  auto after = model.evaluate(x, y, {.verbose = 0});
  INFO("loss before " << before << ", after " << after["loss"]);
  CHECK(after["loss"] < 0.5 * before);
  CHECK(after["accuracy"] >= 0.85);
  // fit ran the layer in training mode: the moving statistics left their initial 0 and 1.
  CHECK(lamina::abs(bn->moving_mean).max().item() > 1e-3);
  CHECK(lamina::abs(bn->moving_variance - 1.0).max().item() > 1e-3);
}

TEST_CASE("BatchNormalization on axis 1 gradients match finite differences in float64",
          "[normalization]") {
  auto bn = fixture_bn(3, 1, 4);
  for (bool training : {true, false}) {
    INFO("training " << training);
    auto r = testing::gradcheck(
        [&](const std::vector<Tensor>& in) { return bn(in[0], training); },
        {seq({2, 3, 2, 3}, 2.0, float64, 0.5)}, {bn->gamma, bn->beta});
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("normalisation configs round-trip through from_config, Keras 3's own included",
          "[normalization]") {
  auto bn = layers::BatchNormalization({.axis = 1, .momentum = 0.9, .epsilon = 1e-5,
                                        .center = false, .gamma_initializer = "zeros",
                                        .name = "bn_rt"});
  auto cfg = bn->get_config();
  auto again = layer_from_config("BatchNormalization", cfg);
  CHECK(again->get_config() == cfg);
  CHECK(again->build_for({-1, 3, 5}) == Shape{-1, 3, 5});
  CHECK(again->weights().size() == 3);  // no beta
  auto ln = layers::LayerNormalization({.epsilon = 1e-6, .scale = false, .name = "ln_rt"});
  auto lcfg = ln->get_config();
  CHECK(layer_from_config("LayerNormalization", lcfg)->get_config() == lcfg);
  // batch_normalization_7 of tests/fixtures/keras_files/k3_functional_bn.keras, as Keras 3 wrote it.
  const auto keras = nlohmann::json::parse(R"({"name": "batch_normalization_7", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null, "shared_object_id": 135862367191216}, "axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": true, "scale": true, "beta_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "gamma_initializer": {"module": "keras.initializers", "class_name": "Ones", "config": {}, "registered_name": null}, "moving_mean_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "moving_variance_initializer": {"module": "keras.initializers", "class_name": "Ones", "config": {}, "registered_name": null}, "beta_regularizer": null, "gamma_regularizer": null, "beta_constraint": null, "gamma_constraint": null, "synchronized": false})");
  auto kbn = layer_from_config("BatchNormalization", keras);
  auto ours = kbn->get_config();
  for (const auto& [key, value] : keras.items()) {
    INFO("key " << key);
    REQUIRE(ours.contains(key));
    if (key != "dtype") CHECK(ours[key] == value);
  }
  // Keras 2 writes the axis as a list.
  CHECK(layer_from_config("BatchNormalization", nlohmann::json::parse(R"({"axis": [1]})"))->get_config()["axis"] == 1);
}
