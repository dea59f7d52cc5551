// SPDX-License-Identifier: Apache-2.0
// Core layers (layers/core.cpp): Input, Dense, Activation, Dropout, Flatten, Reshape.
// Forward values against hand loops, finite-difference gradients (float64) with respect to inputs
// and weights, output shapes, Keras configs (the reference JSON is copied from a file Keras 3.11
// wrote: tests/fixtures/keras_files/k3_churn_mlp.keras), names, weight bookkeeping and bad arguments.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/model.hpp>
#include <lamina/ops.hpp>
#include <nlohmann/json.hpp>

#include "support/gradcheck.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using lamina::testing::gradcheck;
using lamina::testing::seq;

namespace {

// gradcheck runs in float64: swap a built Dense's weights for float64 copies (call() converts
// the input to the kernel's dtype, so the whole layer then computes in float64).
void use_float64(layers::DenseLayer& d) {
  NoGradGuard no_grad;
  d.kernel = d.kernel.astype(float64).clone().detach();
  if (d.bias.defined()) d.bias = d.bias.astype(float64).clone().detach();
}

// Deterministic, non-trivial weights (seq with distinct phases), so a test never depends on the
// initializer.
void set_dense_weights(layers::DenseLayer& d) {
  const Shape ks = d.kernel.shape();
  d.kernel.assign(seq(ks, 0.7, d.kernel.dtype(), 0.05));
  if (d.bias.defined()) {
    std::vector<double> b;
    for (std::int64_t j = 0; j < d.bias.numel(); ++j) b.push_back(0.1 * j - 0.15);
    d.bias.assign(Tensor::from_vector(b, d.bias.shape()).astype(d.bias.dtype()));
  }
}

double apply_activation(const std::string& name, double v) {
  if (name == "linear") return v;
  if (name == "relu") return v > 0 ? v : 0;
  if (name == "sigmoid") return 1 / (1 + std::exp(-v));
  if (name == "tanh") return std::tanh(v);
  if (name == "elu") return v > 0 ? v : std::exp(v) - 1;
  if (name == "softplus") return std::log1p(std::exp(v));
  if (name == "swish") return v / (1 + std::exp(-v));
  FAIL("no hand formula for " << name);
  return 0;
}

// y[r][j] = act(sum_i x[r][i]·W[i][j] + b[j]) by hand, over every leading row of x.
std::vector<double> dense_by_hand(const Tensor& x, const Tensor& w, const Tensor& b,
                                  const std::string& activation) {
  const std::int64_t in = w.shape()[0], units = w.shape()[1], rows = x.numel() / in;
  std::vector<double> xs = x.to_vector<double>(), ws = w.to_vector<double>();
  std::vector<double> bs = b.defined() ? b.to_vector<double>() : std::vector<double>(units, 0.0);
  std::vector<double> y(static_cast<std::size_t>(rows * units));
  for (std::int64_t r = 0; r < rows; ++r) {
    std::vector<double> z(units);
    for (std::int64_t j = 0; j < units; ++j) {
      double acc = bs[j];
      for (std::int64_t i = 0; i < in; ++i) acc += xs[r * in + i] * ws[i * units + j];
      z[j] = acc;
    }
    if (activation == "softmax") {
      double m = *std::max_element(z.begin(), z.end()), s = 0;
      for (double& v : z) s += (v = std::exp(v - m));
      for (double& v : z) v /= s;
    } else {
      for (double& v : z) v = apply_activation(activation, v);
    }
    for (std::int64_t j = 0; j < units; ++j) y[r * units + j] = z[j];
  }
  return y;
}

std::set<std::string> keys_of(const nlohmann::json& j) {
  std::set<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) out.insert(it.key());
  return out;
}

}  // namespace

// --- Dense -----------------------------------------------------------------------------------------

TEST_CASE("Dense forwards x·W+b then its activation as a hand loop computes it", "[layers][dense]") {
  for (const char* act : {"linear", "relu", "sigmoid", "tanh", "softmax", "elu", "swish"}) {
    INFO("activation " << act);
    auto d = layers::Dense(4, {.activation = act});
    Tensor x = seq({5, 3}, 1.3, float32);
    d->build_for({-1, 3});
    set_dense_weights(*d);
    Tensor y = d(x);
    REQUIRE(y.shape() == Shape{5, 4});
    CHECK(y.dtype() == float32);
    lamina::testing::check_values(y, dense_by_hand(x, d->kernel, d->bias, act), 1e-5);
  }
}

TEST_CASE("Dense without bias computes x·W only", "[layers][dense]") {
  auto d = layers::Dense(3, {.use_bias = false});
  d->build_for({-1, 4});
  CHECK_FALSE(d->bias.defined());
  REQUIRE(d->weights().size() == 1);
  set_dense_weights(*d);
  Tensor x = seq({2, 4}, 0.9, float32);
  lamina::testing::check_values(d(x), dense_by_hand(x, d->kernel, Tensor(), "linear"), 1e-5);
}

TEST_CASE("Dense acts on the last axis of a 3-D input", "[layers][dense]") {
  auto d = layers::Dense(4, {.activation = "relu"});
  CHECK(d->compute_output_shape({-1, 5, 3}) == Shape{-1, 5, 4});
  d->build_for({-1, 5, 3});
  CHECK(d->kernel.shape() == Shape{3, 4});
  set_dense_weights(*d);
  Tensor x = seq({2, 5, 3}, 1.1, float32);
  Tensor y = d(x);
  REQUIRE(y.shape() == Shape{2, 5, 4});
  lamina::testing::check_values(y, dense_by_hand(x, d->kernel, d->bias, "relu"), 1e-5);
}

TEST_CASE("Dense gradients with respect to input and kernel and bias match finite differences",
          "[layers][dense][gradcheck]") {
  // The fused kernels (linear, relu, sigmoid, tanh) and activations applied after the GEMM.
  for (const char* act : {"linear", "relu", "sigmoid", "tanh", "softmax", "elu", "softplus"}) {
    for (bool use_bias : {true, false}) {
      INFO("activation " << act << ", use_bias " << use_bias);
      auto d = layers::Dense(3, {.activation = act, .use_bias = use_bias});
      d->build_for({-1, 4});
      use_float64(*d);
      set_dense_weights(*d);
      std::vector<Tensor> leaves{d->kernel};
      if (use_bias) leaves.push_back(d->bias);
      auto r = gradcheck([&](const std::vector<Tensor>& in) { return d(in[0]); },
                         {seq({5, 4}, 1.2)}, leaves);
      INFO(r.report);
      CHECK(r.ok);
      // Every leaf actually received a gradient.
      CHECK(d->kernel.grad().defined());
    }
  }
}

TEST_CASE("Dense on a 3-D input has gradients that match finite differences",
          "[layers][dense][gradcheck]") {
  auto d = layers::Dense(2, {.activation = "tanh"});
  d->build_for({-1, 3, 4});
  use_float64(*d);
  set_dense_weights(*d);
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return d(in[0]); }, {seq({2, 3, 4}, 0.8)},
                     {d->kernel, d->bias});
  INFO(r.report);
  CHECK(r.ok);
}

TEST_CASE("Dense get_config has Keras 3's keys and values", "[layers][dense][config]") {
  reset_layer_names();
  auto d = layers::Dense(64, {.activation = "relu"});
  // From a Dense(64, activation="relu") in a file Keras 3.11.3 saved (dtype aside: lamina writes
  // the plain "float32" that Keras 3.0-3.2 wrote and every Keras reads).
  const auto keras = nlohmann::json::parse(R"({"name": "dense", "trainable": true,
    "dtype": "float32", "units": 64, "activation": "relu", "use_bias": true,
    "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform",
                           "config": {"seed": null}, "registered_name": null},
    "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {},
                         "registered_name": null},
    "kernel_regularizer": null, "bias_regularizer": null, "kernel_constraint": null,
    "bias_constraint": null})");
  const nlohmann::json c = d->get_config();
  CHECK(keys_of(c) == keys_of(keras));
  for (auto it = keras.begin(); it != keras.end(); ++it) {
    INFO("key " << it.key() << ": lamina " << c[it.key()].dump() << ", Keras " << it.value().dump());
    CHECK(c[it.key()] == it.value());
  }
}

TEST_CASE("Dense get_config reflects its options", "[layers][dense][config]") {
  auto d = layers::Dense(7, {.activation = "sigmoid", .use_bias = false,
                             .kernel_initializer = "he_normal", .bias_initializer = "ones",
                             .name = "head"});
  const nlohmann::json c = d->get_config();
  CHECK(c["name"] == "head");
  CHECK(c["units"] == 7);
  CHECK(c["activation"] == "sigmoid");
  CHECK(c["use_bias"] == false);
  CHECK(c["kernel_initializer"]["class_name"] == "HeNormal");
  CHECK(c["bias_initializer"]["class_name"] == "Ones");
  CHECK(c["trainable"] == true);
  d->set_trainable(false);
  CHECK(d->get_config()["trainable"] == false);
}

TEST_CASE("Dense counts its parameters and lists kernel then bias", "[layers][dense]") {
  auto d = layers::Dense(4);
  CHECK(d->weights().empty());  // unbuilt
  d->build_for({-1, 3});
  CHECK(d->count_params() == 3 * 4 + 4);
  auto ws = d->weights();
  REQUIRE(ws.size() == 2);
  CHECK(ws[0].shares_storage(d->kernel));
  CHECK(ws[1].shares_storage(d->bias));
  CHECK(ws[0].shape() == Shape{3, 4});
  CHECK(ws[1].shape() == Shape{4});
  CHECK(d->own_weights()[0].name == "kernel");
  CHECK(d->own_weights()[1].name == "bias");
  // Bias starts at zeros (bias_initializer "zeros"); the kernel is within Glorot's bound.
  for (double b : ws[1].to_vector<double>()) CHECK(b == 0.0);
  const double limit = std::sqrt(6.0 / (3 + 4));
  for (double k : ws[0].to_vector<double>()) CHECK(std::abs(k) <= limit);
  CHECK(layers::Dense(5, {.use_bias = false})->build_for({-1, 2}) == Shape{-1, 5});
}

TEST_CASE("set_trainable(false) moves a layer's weights to non-trainable", "[layers][dense]") {
  auto d = layers::Dense(2);
  d->build_for({-1, 3});
  CHECK(d->trainable_weights().size() == 2);
  CHECK(d->non_trainable_weights().empty());
  d->set_trainable(false);
  CHECK_FALSE(d->trainable());
  CHECK(d->trainable_weights().empty());
  CHECK(d->non_trainable_weights().size() == 2);
  CHECK(d->weights().size() == 2);
  CHECK(d->count_params() == 8);
  d->set_trainable(true);
  CHECK(d->trainable_weights().size() == 2);
}

TEST_CASE("set_weights copies values in and rejects wrong shapes naming the layer",
          "[layers][dense]") {
  auto d = layers::Dense(2, {.name = "proj"});
  d->build_for({-1, 3});
  Tensor k = seq({3, 2}, 1.0, float32), b = Tensor::from_vector(std::vector<float>{0.5f, -0.5f}, {2});
  d->set_weights({k, b});
  lamina::testing::check_same(d->kernel, k, 0);
  lamina::testing::check_same(d->bias, b, 0);
  // get_weights returns copies.
  auto copies = d->get_weights();
  copies[0].fill(9);
  CHECK(d->kernel.at(0) == Approx(k.at(0)));
  CHECK_THROWS_AS(d->set_weights({k}), ValueError);
  CHECK_THROWS_WITH(d->set_weights({Tensor::zeros({2, 3}), b}),
                    Contains("Dense 'proj'") && Contains("(3, 2)") && Contains("(2, 3)"));
}

TEST_CASE("Dense rejects zero or negative units", "[layers][dense][errors]") {
  CHECK_THROWS_AS(layers::Dense(0), ValueError);
  CHECK_THROWS_WITH(layers::Dense(0), Contains("units") && Contains("0"));
  CHECK_THROWS_WITH(layers::Dense(-3), Contains("units") && Contains("-3"));
}

TEST_CASE("An unknown activation string is a ValueError that names it", "[layers][errors]") {
  CHECK_THROWS_AS(layers::Dense(3, {.activation = "relux"}), ValueError);
  CHECK_THROWS_WITH(layers::Dense(3, {.activation = "relux"}), Contains("relux"));
  CHECK_THROWS_AS(layers::Activation("sigmoidd"), ValueError);
  CHECK_THROWS_WITH(layers::Activation("sigmoidd"), Contains("sigmoidd"));
}

TEST_CASE("Dense rejects an input whose last dimension does not fit its kernel",
          "[layers][dense][errors]") {
  auto d = layers::Dense(2, {.name = "fc"});
  d->build_for({-1, 3});
  CHECK_THROWS_AS(d->compute_output_shape({-1, 5}), ShapeError);
  CHECK_THROWS_WITH(d->compute_output_shape({-1, 5}),
                    Contains("Dense 'fc'") && Contains("expected last dimension 3") &&
                        Contains("(None, 5)"));
  CHECK_THROWS_WITH(d(Tensor::zeros({4, 5})), Contains("Dense 'fc'") && Contains("(4, 5)"));
  CHECK_THROWS_WITH(layers::Dense(2)->build_for({-1}), Contains("Dense") && Contains("(None,)"));
}

// --- names -----------------------------------------------------------------------------------------

TEST_CASE("Layers get unique Keras-style names per class", "[layers][names]") {
  reset_layer_names();
  CHECK(layers::Dense(2)->name() == "dense");
  CHECK(layers::Dense(2)->name() == "dense_1");
  CHECK(layers::Dense(2)->name() == "dense_2");
  CHECK(layers::Activation("relu")->name() == "activation");
  CHECK(layers::Dropout(0.5)->name() == "dropout");
  CHECK(layers::Flatten()->name() == "flatten");
  CHECK(layers::Reshape({2, 2})->name() == "reshape");
  CHECK(layers::Flatten()->name() == "flatten_1");
  CHECK(layers::Input({3}).layer->name() == "input_layer");
  CHECK(layers::Input({3}).name == "input_layer_1");
  // A given name is kept, and does not use up a default one.
  CHECK(layers::Dense(2, {.name = "logits"})->name() == "logits");
  CHECK(layers::Dense(2)->name() == "dense_3");
  CHECK(layers::Input({3}, {.name = "image"}).layer->name() == "image");
  reset_layer_names();
  CHECK(layers::Dense(2)->name() == "dense");
  CHECK(to_snake_case("MaxPooling2D") == "max_pooling2d");
  CHECK(to_snake_case("BatchNormalization") == "batch_normalization");
}

// --- Input -----------------------------------------------------------------------------------------

TEST_CASE("Input declares a batch shape with an unknown batch and passes data through",
          "[layers][input]") {
  reset_layer_names();
  KerasTensor t = layers::Input({28, 28, 1});
  CHECK(t.shape == Shape{-1, 28, 28, 1});
  CHECK(t.dtype == float32);
  auto layer = std::dynamic_pointer_cast<layers::InputLayer>(t.layer);
  REQUIRE(layer);
  CHECK(layer->batch_shape() == Shape{-1, 28, 28, 1});
  CHECK(layer->compute_output_shape({-1, 28, 28, 1}) == Shape{-1, 28, 28, 1});
  CHECK(layers::Input({4}, {.batch_size = 8}).shape == Shape{8, 4});
  CHECK(layer->count_params() == 0);

  // Keras 3.11 InputLayer config (from k3_churn_mlp.keras, shape (12,)).
  const auto keras = nlohmann::json::parse(
      R"({"batch_shape": [null, 12], "dtype": "float32", "sparse": false, "ragged": false,
          "name": "input_layer"})");
  reset_layer_names();
  auto in12 = layers::Input({12});
  CHECK(in12.layer->get_config() == keras);

  Tensor x = seq({2, 3}, 1.0);
  auto pass = layers::Input({3});
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return (*pass.layer)(in[0]); }, {x});
  CHECK(r.ok);
  lamina::testing::check_same((*pass.layer)(x), x, 0);
}

TEST_CASE("Input rejects zero or negative dimensions", "[layers][input][errors]") {
  CHECK_THROWS_AS(layers::Input({0, 3}), ValueError);
  CHECK_THROWS_WITH(layers::Input({4, -2}), Contains("(4, -2)"));
}

// --- Activation ------------------------------------------------------------------------------------

TEST_CASE("Activation applies its function element-wise and keeps the shape",
          "[layers][activation]") {
  for (const char* act : {"relu", "sigmoid", "tanh", "elu", "softplus", "swish", "linear"}) {
    INFO("activation " << act);
    auto a = layers::Activation(act);
    Tensor x = seq({3, 4}, 2.0);
    Tensor y = a(x);
    REQUIRE(y.shape() == x.shape());
    std::vector<double> want;
    for (double v : x.to_vector<double>()) want.push_back(apply_activation(act, v));
    lamina::testing::check_values(y, want, 1e-9);
    CHECK(a->compute_output_shape({-1, 7, 2}) == Shape{-1, 7, 2});
    CHECK(a->get_config()["activation"] == act);
    CHECK(a->count_params() == 0);
  }
  auto sm = layers::Activation("softmax");
  Tensor p = sm(seq({2, 5}, 3.0));
  for (int r = 0; r < 2; ++r) {
    double s = 0;
    for (int j = 0; j < 5; ++j) s += p.at(r * 5 + j);
    CHECK(s == Approx(1.0).epsilon(1e-12));
  }
}

TEST_CASE("Activation gradients match finite differences", "[layers][activation][gradcheck]") {
  for (const char* act :
       {"relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus", "softsign", "swish", "gelu",
        "linear"}) {
    INFO("activation " << act);
    auto a = layers::Activation(act);
    auto r = gradcheck([&](const std::vector<Tensor>& in) { return a(in[0]); }, {seq({3, 4}, 2.0)});
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("Activation config has Keras's keys", "[layers][activation][config]") {
  auto a = layers::Activation("tanh", "act");
  const nlohmann::json c = a->get_config();
  CHECK(keys_of(c) == std::set<std::string>{"name", "trainable", "dtype", "activation"});
  CHECK(c["name"] == "act");
  CHECK(c["activation"] == "tanh");
}

// --- Dropout ---------------------------------------------------------------------------------------

TEST_CASE("Dropout is the identity outside training and at rate 0", "[layers][dropout]") {
  auto d = layers::Dropout(0.5);
  Tensor x = seq({4, 6}, 1.0, float32);
  lamina::testing::check_same(d(x, false), x, 0);
  lamina::testing::check_same(layers::Dropout(0.0)(x, true), x, 0);
  CHECK(d->compute_output_shape({-1, 6}) == Shape{-1, 6});
}

TEST_CASE("Dropout in training zeroes about rate of the inputs and scales the rest by 1/(1-rate)",
          "[layers][dropout]") {
  const double rate = 0.25;
  auto d = layers::Dropout(rate);
  set_seed(3);
  Tensor x = Tensor::full({200, 50}, 2.0);
  Tensor y = d(x, true);
  std::int64_t zeros = 0;
  for (double v : y.to_vector<double>()) {
    if (v == 0) ++zeros;
    else CHECK(v == Approx(2.0 / (1 - rate)));
  }
  const double frac = static_cast<double>(zeros) / static_cast<double>(x.numel());
  // 10,000 Bernoulli(0.25) draws: standard deviation 0.0043; 0.02 is over 4.5 sigma.
  CHECK(std::abs(frac - rate) < 0.02);
  // A different draw (the stream moves on) gives a different mask.
  Tensor y2 = d(x, true);
  CHECK(y.to_vector<double>() != y2.to_vector<double>());
}

TEST_CASE("Dropout gradients match finite differences in inference and with a fixed mask",
          "[layers][dropout][gradcheck]") {
  auto d = layers::Dropout(0.4);
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return d(in[0], false); },
                     {seq({3, 5}, 1.0)});
  CHECK(r.ok);
  auto r0 = gradcheck([&](const std::vector<Tensor>& in) { return layers::Dropout(0.0)(in[0], true); },
                      {seq({3, 5}, 1.0)});
  CHECK(r0.ok);
  // Training mode: reseeding before every evaluation fixes the mask, so the function is smooth.
  auto rt = gradcheck(
      [&](const std::vector<Tensor>& in) {
        set_seed(11);
        return d(in[0], true);
      },
      {seq({3, 5}, 1.0)});
  INFO(rt.report);
  CHECK(rt.ok);
}

TEST_CASE("Dropout rejects a rate below 0 or at or above 1", "[layers][dropout][errors]") {
  for (double rate : {-0.1, 1.0, 1.5, std::nan("")}) {
    INFO("rate " << rate);
    CHECK_THROWS_AS(layers::Dropout(rate), ValueError);
    CHECK_THROWS_WITH(layers::Dropout(rate), Contains("rate"));
  }
  const nlohmann::json c = layers::Dropout(0.3)->get_config();
  CHECK(keys_of(c) ==
        std::set<std::string>{"name", "trainable", "dtype", "rate", "seed", "noise_shape"});
  CHECK(c["rate"] == Approx(0.3));
}

// --- Flatten ---------------------------------------------------------------------------------------

TEST_CASE("Flatten keeps the batch axis and joins the rest in row-major order", "[layers][flatten]") {
  auto f = layers::Flatten();
  CHECK(f->compute_output_shape({-1, 2, 3, 4}) == Shape{-1, 24});
  CHECK(f->compute_output_shape({-1, 5}) == Shape{-1, 5});
  CHECK(f->compute_output_shape({8, 3, 2}) == Shape{8, 6});
  Tensor x = seq({2, 3, 4}, 1.0);
  Tensor y = f(x);
  REQUIRE(y.shape() == Shape{2, 12});
  const auto xs = x.to_vector<double>();
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) CHECK(y.at(b * 12 + i * 4 + j) == xs[b * 12 + i * 4 + j]);
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return f(in[0]); }, {x});
  CHECK(r.ok);
  const nlohmann::json c = f->get_config();
  CHECK(keys_of(c) == std::set<std::string>{"name", "trainable", "dtype", "data_format"});
  CHECK(c["data_format"] == "channels_last");
}

// --- Reshape ---------------------------------------------------------------------------------------

TEST_CASE("Reshape infers -1 and reshapes everything but the batch axis", "[layers][reshape]") {
  CHECK(layers::Reshape({3, 4})->compute_output_shape({-1, 12}) == Shape{-1, 3, 4});
  CHECK(layers::Reshape({3, -1})->compute_output_shape({-1, 12}) == Shape{-1, 3, 4});
  CHECK(layers::Reshape({-1, 2})->compute_output_shape({-1, 3, 4}) == Shape{-1, 6, 2});
  CHECK(layers::Reshape({-1})->compute_output_shape({5, 2, 3}) == Shape{5, 6});
  auto r = layers::Reshape({2, -1});
  Tensor x = seq({3, 6}, 1.0);
  Tensor y = r(x);
  REQUIRE(y.shape() == Shape{3, 2, 3});
  lamina::testing::check_values(y, x.to_vector<double>(), 0);
  auto g = gradcheck([&](const std::vector<Tensor>& in) { return r(in[0]); }, {x});
  CHECK(g.ok);
  const nlohmann::json c = layers::Reshape({3, 4})->get_config();
  CHECK(keys_of(c) == std::set<std::string>{"name", "trainable", "dtype", "target_shape"});
  CHECK(c["target_shape"] == nlohmann::json::array({3, 4}));
}

TEST_CASE("Reshape to an incompatible size is a ShapeError naming the layer and shapes",
          "[layers][reshape][errors]") {
  auto r = layers::Reshape({5}, "to5");
  CHECK_THROWS_AS(r->compute_output_shape({-1, 12}), ShapeError);
  CHECK_THROWS_WITH(r->compute_output_shape({-1, 12}),
                    Contains("Reshape 'to5'") && Contains("(None, 12)") && Contains("(5,)"));
  CHECK_THROWS_WITH(layers::Reshape({5, -1}, "r5")->compute_output_shape({-1, 12}),
                    Contains("Reshape 'r5'") && Contains("(None, 12)") && Contains("(5, -1)"));
  // Also when the layer is first called on data.
  CHECK_THROWS_AS(layers::Reshape({5})(Tensor::zeros({2, 12})), ShapeError);
  // In a model, at add time.
  Sequential m({layers::Input({12})});
  CHECK_THROWS_WITH(m.add(layers::Reshape({7})), Contains("Reshape") && Contains("(None, 12)"));
  CHECK(m.layers().empty());
}

TEST_CASE("Reshape rejects bad target shapes", "[layers][reshape][errors]") {
  CHECK_THROWS_AS(layers::Reshape({0, 3}), ValueError);
  CHECK_THROWS_AS(layers::Reshape({-2, 3}), ValueError);
  CHECK_THROWS_WITH(layers::Reshape({-2, 3}), Contains("(-2, 3)"));
  CHECK_THROWS_WITH(layers::Reshape({-1, -1}), Contains("-1"));
}
