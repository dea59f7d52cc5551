// SPDX-License-Identifier: Apache-2.0
// NaN in, NaN out: every activation, the fused dense/conv epilogues, max-pooling, maximum/minimum
// and the recurrent kernels keep a NaN (as TensorFlow, PyTorch and JAX do) instead of turning it
// into 0, which would hide a broken input behind plausible outputs. Gradients of relu at NaN pass
// the incoming gradient, as PyTorch's.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <lamina/activations.hpp>
#include <lamina/layers/pooling.hpp>
#include <lamina/layers/recurrent.hpp>
#include <lamina/ops.hpp>
#include <lamina/tensor.hpp>

using namespace lamina;

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();

Tensor with_nan(const Shape& shape, std::int64_t at, DType dtype = float32) {
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = (static_cast<double>(i % 7) - 3.0) * 0.5;
  v[static_cast<std::size_t>(at)] = kNaN;
  return Tensor::from_vector<double>(v, shape).astype(dtype);
}
}  // namespace

TEST_CASE("every activation maps NaN to NaN", "[ops][nan]") {
  for (const std::string name :
       {"linear", "relu", "sigmoid", "tanh", "softmax", "gelu", "elu", "selu", "softplus", "softsign", "swish",
        "silu", "leaky_relu", "hard_sigmoid", "hard_sigmoid_keras2", "relu6", "exponential", "mish", "hard_silu",
        "hard_swish", "hard_tanh", "log_sigmoid", "log_softmax", "celu", "hard_shrink", "soft_shrink", "tanh_shrink",
        "squareplus", "sparse_plus", "sparse_sigmoid"}) {
    for (DType dt : {float32, float64}) {
      INFO(name << " " << dtype_name(dt));
      Tensor x = Tensor::from_vector<double>({kNaN, -2.0, 3.0}, {1, 3}).astype(dt);
      Tensor y = Activation(name)(x);
      CHECK(std::isnan(y.at(0)));
      if (name != "softmax" && name != "log_softmax") CHECK_FALSE(std::isnan(y.at(1)));
    }
  }
  CHECK(std::isnan(activations::elu(Tensor::scalar(kNaN), 0.5).item()));
  CHECK(std::isnan(activations::leaky_relu(Tensor::scalar(kNaN), 0.1).item()));
}

TEST_CASE("relu's and elu's gradient at NaN pass the incoming gradient", "[ops][nan]") {
  for (auto* f : {&activations::relu, &activations::selu}) {
    Tensor x = Tensor::from_vector<double>({kNaN, -1.0, 2.0}, {3}).set_requires_grad();
    sum((*f)(x)).backward();
    CHECK_FALSE(std::isnan(x.grad().at(1)));
    CHECK(x.grad().at(2) > 0);
    if (f == &activations::relu) {
      CHECK(x.grad().at(0) == 1.0);
      CHECK(x.grad().at(1) == 0.0);
    }
  }
}

TEST_CASE("maximum and minimum propagate NaN from either side", "[ops][nan]") {
  Tensor a = Tensor::from_vector<float>({std::nanf(""), 1.0f, 5.0f}, {3});
  Tensor b = Tensor::from_vector<float>({1.0f, std::nanf(""), 2.0f}, {3});
  for (const Tensor& y : {maximum(a, b), maximum(b, a), minimum(a, b), minimum(b, a)}) {
    CHECK(std::isnan(y.at(0)));
    CHECK(std::isnan(y.at(1)));
  }
  CHECK(maximum(a, b).at(2) == 5.0);
  CHECK(minimum(a, b).at(2) == 2.0);
}

TEST_CASE("the fused dense + relu keeps NaN, forward and backward", "[ops][nan]") {
  for (DType dt : {float32, float64}) {
    // Row 0 holds a NaN: all of its outputs are NaN; row 1 is finite and unchanged.
    Tensor x = with_nan({2, 4}, 1, dt).set_requires_grad();
    Tensor k = Tensor::full({4, 3}, 0.25, dt).set_requires_grad();
    Tensor b = Tensor::zeros({3}, dt).set_requires_grad();
    Tensor y = dense(x, k, b, FusedActivation::relu);
    for (int j = 0; j < 3; ++j) CHECK(std::isnan(y.at(j)));
    Tensor reference = relu(matmul(x.detach(), k.detach()));
    for (int j = 3; j < 6; ++j) CHECK(y.at(j) == Approx(reference.at(j)));
    sum(y).backward();
    // dz passes the gradient at NaN (PyTorch): the bias sees 1 from the NaN row.
    CHECK(b.grad().at(0) == Approx(1.0 + (reference.at(3) > 0 ? 1.0 : 0.0)));
    CHECK(std::isnan(k.grad().at(3)));  // the NaN input reaches the kernel's gradient
  }
}

TEST_CASE("the fused conv2d + relu keeps NaN", "[ops][nan]") {
  Tensor x = with_nan({1, 3, 3, 1}, 4);  // the centre pixel
  Tensor k = Tensor::ones({2, 2, 1, 2});
  Tensor y = conv2d(x, k, Tensor::zeros({2}), {1, 1}, Padding::valid, {1, 1}, 1, FusedActivation::relu);
  REQUIRE(y.shape() == Shape{1, 2, 2, 2});
  for (std::int64_t i = 0; i < y.numel(); ++i) CHECK(std::isnan(y.at(i)));  // every window holds it
  Tensor z = conv2d(with_nan({1, 3, 3, 1}, 0), k, Tensor(), {1, 1}, Padding::valid, {1, 1}, 1,
                    FusedActivation::relu);
  CHECK(std::isnan(z.at(0)));
  CHECK_FALSE(std::isnan(z.at(7)));
}

TEST_CASE("max-pooling over a window holding NaN gives NaN", "[ops][nan]") {
  for (bool grad : {false, true}) {
    // The NaN sits after the window's maximum, so a plain running max would drop it.
    Tensor x = Tensor::from_vector<float>({5, std::nanf(""), 1, 2, 0, 1, 2, 3}, {1, 2, 4, 1});
    if (grad) x.set_requires_grad();
    Tensor y = max_pool2d(x, {2, 2}, {2, 2}, Padding::valid);
    CHECK(std::isnan(y.at(0)));
    CHECK(y.at(1) == 3.0f);
    Tensor y1 = max_pool1d(x.reshape({1, 8, 1}), 2, 2, Padding::valid);
    CHECK(std::isnan(y1.at(0)));
    CHECK(y1.at(3) == 3.0f);
    if (grad) {
      sum(y).backward();
      CHECK(x.grad().at(1) == 1.0f);  // the gradient goes to the NaN that won
      CHECK(x.grad().at(0) == 0.0f);
    }
  }
  Tensor g = layers::GlobalMaxPooling2D()(with_nan({1, 2, 2, 1}, 3));
  CHECK(std::isnan(g.at(0)));
}

TEST_CASE("recurrent layers with relu keep NaN", "[ops][nan]") {
  for (bool lstm : {false, true}) {
    Tensor x = with_nan({1, 3, 2}, 2);  // step 1
    layers::RecurrentOptions o{.activation = "relu", .return_sequences = true};
    Tensor y = lstm ? layers::LSTM(2, o)(x) : layers::SimpleRNN(2, o)(x);
    INFO((lstm ? "LSTM" : "SimpleRNN"));
    CHECK_FALSE(std::isnan(y.at(0)));
    CHECK(std::isnan(y.at(2)));
    CHECK(std::isnan(y.at(4)));  // carried on through the state
  }
}
