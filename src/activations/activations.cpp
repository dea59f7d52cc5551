// SPDX-License-Identifier: Apache-2.0
// Keras's activations, each composed from differentiable ops so autodiff needs nothing extra.
// Inside namespace activations the op names (relu, tanh, ...) are shadowed by the activations
// themselves, so every op call is qualified with lamina::.
#include "lamina/activations.hpp"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "common/registry.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"

namespace lamina {
namespace activations {
namespace {

constexpr double kSeluAlpha = 1.67326324235437728481;
constexpr double kSeluScale = 1.05070098735548049342;
constexpr double kSqrtHalf = 0.70710678118654752440;       // 1/sqrt(2)
constexpr double kSqrtTwoOverPi = 0.79788456080286535588;  // sqrt(2/pi)

Tensor zero_like_scalar(const Tensor& x) { return Tensor::scalar(0.0, x.dtype()); }

// Activations Keras knows that lamina offers by name only (no public function in the header).
Tensor relu6(const Tensor& x) { return lamina::clip(x, 0.0, 6.0); }
Tensor exponential(const Tensor& x) { return lamina::exp(x); }
Tensor mish(const Tensor& x) { return x * lamina::tanh(softplus(x)); }
Tensor hard_silu(const Tensor& x) { return x * hard_sigmoid(x); }
Tensor hard_tanh(const Tensor& x) { return lamina::clip(x, -1.0, 1.0); }
// log(sigmoid(x)) = -softplus(-x), which stays finite where sigmoid underflows.
Tensor log_sigmoid(const Tensor& x) { return -softplus(-x); }
Tensor log_softmax_last(const Tensor& x) { return lamina::log_softmax(x, -1); }
// Keras 3's names with their default parameters (alpha = 1, threshold = 0.5, b = 4). Each is
// written so that NaN fails every comparison into the branch that carries x, and comes out NaN
// (Keras's tf.where forms turn NaN into 0 in the shrinks).
// max(x, 0) + alpha·expm1(min(x, 0)/alpha) is elu's formula when alpha = 1.
Tensor celu(const Tensor& x) { return elu(x, 1.0); }
Tensor hard_shrink(const Tensor& x) { return lamina::where(lamina::abs(x) <= 0.5, zero_like_scalar(x), x); }
Tensor soft_shrink(const Tensor& x) {
  return lamina::where(lamina::abs(x) <= 0.5, zero_like_scalar(x), x - 0.5 * lamina::sign(x));
}
Tensor tanh_shrink(const Tensor& x) { return x - lamina::tanh(x); }
Tensor squareplus(const Tensor& x) { return 0.5 * (x + lamina::sqrt(lamina::square(x) + 4.0)); }
Tensor sparse_sigmoid(const Tensor& x) { return lamina::clip(0.5 * (x + 1.0), 0.0, 1.0); }
Tensor sparse_plus(const Tensor& x) {
  return lamina::where(x <= -1.0, zero_like_scalar(x), lamina::where(x < 1.0, 0.25 * lamina::square(x + 1.0), x));
}
// x[..., :n/2] * sigmoid(x[..., n/2:]): the last axis moved to the front, where take() picks halves.
Tensor glu(const Tensor& x) {
  const int rank = x.ndim();
  const std::int64_t n = rank == 0 ? 0 : x.shape()[rank - 1];
  if (rank == 0 || n % 2 != 0)
    throw ShapeError("activation 'glu': the last axis must have an even size, got shape " + x.shape().str());
  std::vector<int> to_front{rank - 1}, to_back;
  for (int i = 0; i + 1 < rank; ++i) to_front.push_back(i);
  for (int i = 1; i < rank; ++i) to_back.push_back(i);
  to_back.push_back(0);
  const Tensor front = lamina::transpose(x, to_front);
  const Shape rest = front.shape();
  const Tensor halves = lamina::reshape(front, Shape{2, front.numel() / 2});
  Shape half_shape = rest;
  half_shape[0] = n / 2;
  const auto half = [&](std::int64_t i) {
    const Tensor row = lamina::take(halves, Tensor::from_vector<std::int64_t>({i}, Shape{1}));
    return lamina::transpose(lamina::reshape(row, half_shape), to_back);
  };
  return half(0) * lamina::sigmoid(half(1));
}
// Softmax of 16-bit inputs is computed, and returned, in float32 (mixed precision keeps it there,
// as Keras's guide does with the output softmax): a loss then reads exact probabilities and
// still finds their logits.
Tensor softmax_float32(const Tensor& x, int axis) {
  return lamina::softmax(x.dtype() == float16 || x.dtype() == bfloat16 ? x.astype(float32) : x, axis);
}
Tensor softmax_last(const Tensor& x) { return softmax_float32(x, -1); }
Tensor gelu_exact(const Tensor& x) { return gelu(x, false); }
Tensor elu_default(const Tensor& x) { return elu(x); }
Tensor leaky_relu_default(const Tensor& x) { return leaky_relu(x); }

using UnaryFn = Tensor (*)(const Tensor&);

// Keras names in the order the error message lists them. Plain function pointers (not lambdas)
// let Activation::fused() recognise the built-ins by identity rather than by name.
const Registry<UnaryFn>& registry() {
  static const Registry<UnaryFn> entries = {
      {"linear", &linear},
      {"relu", &relu},
      {"sigmoid", &sigmoid},
      {"tanh", &tanh},
      {"softmax", &softmax_last},
      {"gelu", &gelu_exact},
      {"elu", &elu_default},
      {"selu", &selu},
      {"softplus", &softplus},
      {"softsign", &softsign},
      {"swish", &swish},
      {"silu", &silu},
      {"leaky_relu", &leaky_relu_default},
      {"hard_sigmoid", &hard_sigmoid},
      {"hard_sigmoid_keras2", &hard_sigmoid_keras2},
      {"relu6", &relu6},
      {"exponential", &exponential},
      {"mish", &mish},
      {"hard_silu", &hard_silu},
      {"hard_swish", &hard_silu},
      {"hard_tanh", &hard_tanh},
      {"log_sigmoid", &log_sigmoid},
      {"log_softmax", &log_softmax_last},
      {"celu", &celu},
      {"glu", &glu},
      {"hard_shrink", &hard_shrink},
      {"soft_shrink", &soft_shrink},
      {"tanh_shrink", &tanh_shrink},
      {"squareplus", &squareplus},
      {"sparse_plus", &sparse_plus},
      {"sparse_sigmoid", &sparse_sigmoid},
  };
  return entries;
}

UnaryFn lookup(const std::string& name) {
  if (const auto fn = registry().find(name)) return *fn;
  throw ValueError("Unknown activation '" + name + "'. Known activations: " + registry().listing("") + ".");
}

}  // namespace

Tensor linear(const Tensor& x) { return x; }
Tensor relu(const Tensor& x) { return lamina::relu(x); }
Tensor sigmoid(const Tensor& x) { return lamina::sigmoid(x); }
Tensor tanh(const Tensor& x) { return lamina::tanh(x); }
Tensor softmax(const Tensor& x, int axis) { return softmax_float32(x, axis); }

// exact:  x·Φ(x) = 0.5·x·(1 + erf(x/√2))
// approx: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
Tensor gelu(const Tensor& x, bool approximate) {
  if (approximate) {
    Tensor inner = kSqrtTwoOverPi * (x + 0.044715 * (x * x * x));
    return 0.5 * x * (1.0 + lamina::tanh(inner));
  }
  return 0.5 * x * (1.0 + lamina::erf(x * kSqrtHalf));
}

// x > 0 ? x : alpha·(exp(x) − 1). exp sees min(x, 0) so a large positive x cannot overflow to inf
// and turn the unused branch's zero gradient into NaN. At x = 0 the gradient is alpha, as in
// TensorFlow and PyTorch (minimum sends it to x on a tie). The test is x <= 0 so that NaN fails it
// and comes out as NaN.
Tensor elu(const Tensor& x, double alpha) {
  Tensor negative_part = alpha * (lamina::exp(lamina::minimum(x, zero_like_scalar(x))) - 1.0);
  return lamina::where(x <= 0.0, negative_part, x);
}

Tensor selu(const Tensor& x) { return kSeluScale * elu(x, kSeluAlpha); }

// max(x, 0) + log(1 + exp(−|x|)), with max(x, 0) written as (x + |x|)/2: whatever subgradient abs
// takes at 0, the two terms' contributions then cancel to the true derivative 1/2 there.
Tensor softplus(const Tensor& x) {
  Tensor a = lamina::abs(x);
  return 0.5 * (x + a) + lamina::log(1.0 + lamina::exp(-a));
}

Tensor softsign(const Tensor& x) { return x / (1.0 + lamina::abs(x)); }
Tensor swish(const Tensor& x) { return x * lamina::sigmoid(x); }
Tensor silu(const Tensor& x) { return swish(x); }

// x > 0 ? x : slope·x; at 0 the gradient is the slope, as TensorFlow's LeakyReluGrad gives.
Tensor leaky_relu(const Tensor& x, double negative_slope) {
  return lamina::where(x > 0.0, x, x * negative_slope);
}

Tensor hard_sigmoid(const Tensor& x) { return lamina::clip(x * (1.0 / 6.0) + 0.5, 0.0, 1.0); }
Tensor hard_sigmoid_keras2(const Tensor& x) { return lamina::clip(0.2 * x + 0.5, 0.0, 1.0); }

Activation get(const std::string& name) { return Activation(name); }

}  // namespace activations

Activation::Activation() : name_("linear"), fn_(&activations::linear) {}

// A null name is Keras's None, which means linear.
Activation::Activation(const char* name)
    : Activation(name == nullptr ? std::string("linear") : std::string(name)) {}

Activation::Activation(const std::string& name) : name_(name), fn_(activations::lookup(name)) {}

Activation::Activation(Fn fn, std::string name) : name_(std::move(name)), fn_(std::move(fn)) {
  if (!fn_) throw ValueError("Activation '" + name_ + "': the function is empty.");
}

std::optional<FusedActivation> Activation::fused() const {
  const auto* target = fn_.target<activations::UnaryFn>();
  if (target == nullptr) return std::nullopt;
  if (*target == &activations::linear) return FusedActivation::linear;
  if (*target == &activations::relu) return FusedActivation::relu;
  if (*target == &activations::sigmoid) return FusedActivation::sigmoid;
  if (*target == &activations::tanh) return FusedActivation::tanh;
  return std::nullopt;
}

}  // namespace lamina
