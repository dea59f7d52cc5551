// SPDX-License-Identifier: Apache-2.0
// The cross-backend op harness (in the spirit of ggml's test-backend-ops): every op runs over a
// grid of shapes, dtypes and edge cases (empty tensors, broadcasting, views, NaN) on every
// registered backend besides the CPU, and its outputs and input gradients are compared with the
// CPU's. A new backend (CUDA) joins by being listed in other_devices(); nothing else changes.
#include <catch2/catch.hpp>

#include <cmath>
#include <array>
#include <functional>
#include <string>
#include <vector>

#include <lamina/errors.hpp>
#include <lamina/ops.hpp>

#include "support/op_testing.hpp"
#include "support/test_device.hpp"

namespace lamina::testing {
namespace {

using Inputs = std::vector<Tensor>;
using OpFn = std::function<Tensor(const Inputs&)>;

/// One input of a case: values made on the CPU; `view` makes it a slice of a larger tensor on
/// each device (a view with an offset); `grad` asks for its gradient.
struct Input {
  Tensor value;
  bool grad = true;
  bool view = false;
};

struct OpCase {
  std::string name;
  std::vector<Input> inputs;
  OpFn fn;
};

// Relative tolerance per dtype: what a device may differ from the CPU by (reassociated sums,
// fused multiply-adds, other exp/log implementations).
double tolerance(DType dtype) { return dtype == float64 ? 1e-10 : dtype == float32 ? 2e-5 : 0; }

Input f(const Shape& s, DType dt, double scale = 1.0, double shift = 0.0) {
  return {seq(s, scale, dt, shift), true, false};
}
Input positive(const Shape& s, DType dt) { return f(s, dt, 0.9, 1.0); }
Input fixed(Tensor t) { return {std::move(t), false, false}; }
Input as_view(Input in) {
  in.view = true;
  return in;
}

std::vector<OpCase> cases(DType dt) {
  std::vector<OpCase> c;
  auto add = [&](std::string name, std::vector<Input> in, OpFn fn) {
    c.push_back({name + " " + dtype_name(dt), std::move(in), std::move(fn)});
  };
  const std::vector<Shape> shapes = {Shape{}, Shape{0}, Shape{7}, Shape{3, 5}, Shape{2, 3, 4},
                                     Shape{0, 3}};
  // Unary maths over every shape, including empty ones.
  for (const Shape& s : shapes) {
    const std::string tag = "(" + s.str() + ")";
    add("negative" + tag, {f(s, dt)}, [](const Inputs& x) { return negative(x[0]); });
    add("exp" + tag, {f(s, dt)}, [](const Inputs& x) { return exp(x[0]); });
    add("log" + tag, {positive(s, dt)}, [](const Inputs& x) { return log(x[0]); });
    add("sqrt" + tag, {positive(s, dt)}, [](const Inputs& x) { return sqrt(x[0]); });
    add("square" + tag, {f(s, dt)}, [](const Inputs& x) { return square(x[0]); });
    add("abs" + tag, {f(s, dt)}, [](const Inputs& x) { return abs(x[0]); });
    add("pow" + tag, {positive(s, dt)}, [](const Inputs& x) { return pow(x[0], 1.7); });
    add("tanh" + tag, {f(s, dt, 3.0)}, [](const Inputs& x) { return tanh(x[0]); });
    add("sigmoid" + tag, {f(s, dt, 9.0)}, [](const Inputs& x) { return sigmoid(x[0]); });
    add("relu" + tag, {f(s, dt)}, [](const Inputs& x) { return relu(x[0]); });
    add("erf" + tag, {f(s, dt, 2.0)}, [](const Inputs& x) { return erf(x[0]); });
    add("clip" + tag, {f(s, dt)}, [](const Inputs& x) { return clip(x[0], -0.3, 0.5); });
    add("sum" + tag, {f(s, dt)}, [](const Inputs& x) { return sum(x[0]); });
  }
  // NaN must survive every unary op that keeps it (relu included).
  const Tensor with_nan = Tensor::from_vector(std::vector<double>{1.0, NAN, -2.0, 0.5}, {4}).astype(dt);
  add("relu(NaN)", {fixed(with_nan)}, [](const Inputs& x) { return relu(x[0]); });
  add("maximum(NaN)", {fixed(with_nan), fixed(with_nan.reshape({4}) * 0.0)},
      [](const Inputs& x) { return maximum(x[0], x[1]); });
  add("max(NaN)", {fixed(with_nan)}, [](const Inputs& x) { return max(x[0]); });
  // Binary ops with broadcasting, scalars and empty operands; views as inputs.
  const std::vector<std::pair<Shape, Shape>> pairs = {
      {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 1}, {1, 4}}, {{2, 3, 4}, {3, 1}}, {{5}, {}},
      {{}, {5}},        {{0, 4}, {4}}, {{2, 1, 4}, {3, 1}}};
  for (const auto& [sa, sb] : pairs) {
    const std::string tag = "(" + sa.str() + ", " + sb.str() + ")";
    add("add" + tag, {f(sa, dt), f(sb, dt, 0.5)}, [](const Inputs& x) { return x[0] + x[1]; });
    add("subtract" + tag, {f(sa, dt), f(sb, dt, 0.5)}, [](const Inputs& x) { return x[0] - x[1]; });
    add("multiply" + tag, {f(sa, dt), f(sb, dt, 0.5)}, [](const Inputs& x) { return x[0] * x[1]; });
    add("divide" + tag, {f(sa, dt), positive(sb, dt)}, [](const Inputs& x) { return x[0] / x[1]; });
    add("maximum" + tag, {f(sa, dt), f(sb, dt, 0.5)},
        [](const Inputs& x) { return maximum(x[0], x[1]); });
    add("minimum" + tag, {f(sa, dt), f(sb, dt, 0.5)},
        [](const Inputs& x) { return minimum(x[0], x[1]); });
    add("less" + tag, {fixed(seq(sa, 1.0, dt)), fixed(seq(sb, 0.5, dt))},
        [](const Inputs& x) { return x[0] < x[1]; });
    add("equal" + tag, {fixed(seq(sa, 1.0, dt)), fixed(seq(sb, 1.0, dt))},
        [](const Inputs& x) { return x[0] == x[1]; });
    add("where" + tag, {fixed(seq(sa, 1.0, dt) > 0.0), f(sa, dt), f(sb, dt, 0.5)},
        [](const Inputs& x) { return where(x[0], x[1], x[2]); });
  }
  add("add(view)", {as_view(f({3, 4}, dt)), f({4}, dt)}, [](const Inputs& x) { return x[0] + x[1]; });
  add("exp(view)", {as_view(f({2, 3}, dt))}, [](const Inputs& x) { return exp(x[0]); });
  add("int32 add", {fixed(Tensor::arange(12, int32).reshape({3, 4})), fixed(Tensor::arange(4, int32))},
      [](const Inputs& x) { return x[0] + x[1]; });
  add("uint8 to float", {fixed(Tensor::arange(6, uint8))}, [dt](const Inputs& x) { return x[0].astype(dt); });
  // Reductions over every axis set.
  for (const std::vector<int>& axes : std::vector<std::vector<int>>{{}, {0}, {1}, {2}, {0, 2}, {-1}}) {
    std::string tag = "(axes";
    for (int a : axes) tag += " " + std::to_string(a);
    tag += ")";
    add("sum" + tag, {f({2, 3, 4}, dt)}, [axes](const Inputs& x) { return sum(x[0], axes); });
    add("mean" + tag, {f({2, 3, 4}, dt)}, [axes](const Inputs& x) { return mean(x[0], axes, true); });
    add("max" + tag, {f({2, 3, 4}, dt)}, [axes](const Inputs& x) { return max(x[0], axes); });
    add("min" + tag, {f({2, 3, 4}, dt)}, [axes](const Inputs& x) { return min(x[0], axes); });
  }
  add("sum(long row)", {f({70000}, dt)}, [](const Inputs& x) { return sum(x[0]); });
  add("argmax", {fixed(seq({4, 6}, 1.0, dt))}, [](const Inputs& x) { return argmax(x[0], 1); });
  add("broadcast_to", {f({3, 1}, dt)}, [](const Inputs& x) { return broadcast_to(x[0], {2, 3, 4}); });
  // Layout.
  add("transpose", {f({2, 3, 4}, dt)}, [](const Inputs& x) { return transpose(x[0], {2, 0, 1}); });
  add("concatenate(axis 1)", {f({2, 3, 2}, dt), f({2, 1, 2}, dt), f({2, 0, 2}, dt)},
      [](const Inputs& x) { return concatenate({x[0], x[1], x[2]}, 1); });
  add("concatenate(axis -1)", {f({3, 2}, dt), as_view(f({3, 4}, dt))},
      [](const Inputs& x) { return concatenate({x[0], x[1]}, -1); });
  add("take", {f({5, 3}, dt), fixed(Tensor::from_vector(std::vector<std::int64_t>{4, 0, 4, 2}, {2, 2}))},
      [](const Inputs& x) { return take(x[0], x[1]); });
  add("one_hot", {fixed(Tensor::from_vector(std::vector<std::int32_t>{2, 0, 1}, {3}))},
      [dt](const Inputs& x) { return one_hot(x[0], 4, dt); });
  add("slice", {f({4, 3}, dt)}, [](const Inputs& x) { return x[0].slice(1, 3) * 2.0; });
  add("clone", {f({4, 3}, dt)}, [](const Inputs& x) { return x[0].clone(); });
  // Matrix products and the fused layers.
  add("matmul", {f({3, 4}, dt), f({4, 5}, dt)}, [](const Inputs& x) { return matmul(x[0], x[1]); });
  add("matmul(batched, transposed)", {f({2, 4, 3}, dt), f({2, 5, 4}, dt)},
      [](const Inputs& x) { return matmul(x[0], x[1], true, true); });
  add("matmul(batch x 2-D)", {f({2, 3, 4}, dt), f({4, 2}, dt)},
      [](const Inputs& x) { return matmul(x[0], x[1]); });
  for (FusedActivation act : {FusedActivation::linear, FusedActivation::relu,
                              FusedActivation::sigmoid, FusedActivation::tanh}) {
    const std::string tag = "(act " + std::to_string(static_cast<int>(act)) + ")";
    add("dense" + tag, {f({6, 4}, dt), f({4, 3}, dt), f({3}, dt)},
        [act](const Inputs& x) { return dense(x[0], x[1], x[2], act); });
    add("conv2d" + tag, {f({2, 5, 5, 3}, dt), f({3, 3, 3, 4}, dt, 0.3), f({4}, dt)},
        [act](const Inputs& x) { return conv2d(x[0], x[1], x[2], 1, Padding::same, 1, 1, act); });
  }
  add("dense(3-D, no bias)", {f({2, 3, 4}, dt), f({4, 5}, dt)},
      [](const Inputs& x) { return dense(x[0], x[1], Tensor()); });
  // Enough images for the CPU's per-thread chunks (a short last one) and blocked kernel sums.
  add("conv2d(many image chunks)", {f({11, 13, 13, 8}, dt), f({3, 3, 8, 16}, dt, 0.3), f({16}, dt)},
      [](const Inputs& x) {
        return conv2d(x[0], x[1], x[2], 1, Padding::valid, 1, 1, FusedActivation::relu);
      });
  add("conv2d(stride 2, dilation, groups)", {f({1, 7, 7, 4}, dt), f({2, 2, 2, 4}, dt, 0.3)},
      [](const Inputs& x) { return conv2d(x[0], x[1], Tensor(), 2, Padding::valid, 1, 2); });
  add("conv1d(causal)", {f({2, 6, 3}, dt), f({3, 3, 2}, dt, 0.3)},
      [](const Inputs& x) { return conv1d(x[0], x[1], Tensor(), 1, Padding::causal); });
  add("conv2d_transpose", {f({1, 3, 3, 2}, dt), f({3, 3, 4, 2}, dt, 0.3), f({4}, dt)},
      [](const Inputs& x) { return conv2d_transpose(x[0], x[1], x[2], 2, Padding::same); });
  add("depthwise_conv2d", {f({1, 5, 5, 3}, dt), f({3, 3, 3, 2}, dt, 0.3)},
      [](const Inputs& x) { return depthwise_conv2d(x[0], x[1], Tensor(), 1, Padding::same); });
  add("max_pool2d", {f({2, 5, 5, 3}, dt)},
      [](const Inputs& x) { return max_pool2d(x[0], 2, 2, Padding::same); });
  add("avg_pool2d", {f({2, 5, 5, 3}, dt)},
      [](const Inputs& x) { return avg_pool2d(x[0], 3, 2, Padding::valid); });
  add("zero_pad2d", {f({1, 3, 4, 2}, dt)}, [](const Inputs& x) { return zero_pad2d(x[0], 1, 2, 0, 1); });
  add("crop2d", {f({1, 5, 4, 2}, dt)}, [](const Inputs& x) { return crop2d(x[0], 1, 2, 0, 1); });
  add("image_resize(bilinear)", {f({1, 3, 4, 2}, dt)},
      [](const Inputs& x) { return image_resize(x[0], 5, 7); });
  add("image_resize(nearest)", {f({1, 4, 4, 2}, dt)},
      [](const Inputs& x) { return image_resize(x[0], 2, 3, "nearest"); });
  // The preprocessing kernels: sorted search, integer hashing, projective transforms.
  add("search_sorted", {fixed(Tensor::from_vector(std::vector<double>{-1, 0, 0, 2.5}, {4}).astype(dt)),
                        fixed(seq({3, 4}, 1.0, dt))},
      [](const Inputs& x) { return search_sorted(x[0], x[1], true) + search_sorted(x[0], x[1]); });
  add("hash_bucket", {fixed(Tensor::from_vector(std::vector<std::int64_t>{0, -7, 123456789, 42}, {2, 2}))},
      [](const Inputs& x) {
        return hash_bucket(x[0], 97) + hash_bucket(x[0], 97, "siphash", std::array<std::uint64_t, 2>{3, 5}) +
               hash_bucket(x[0], 5, "floormod");
      });
  for (const char* fill : {"reflect", "wrap", "constant", "nearest"})
    for (const char* interp : {"bilinear", "nearest"}) {
      const Tensor t = Tensor::from_vector(std::vector<double>{0.8, -0.6, 2.5, 0.6, 0.8, -1.7, 0, 0,  //
                                                               1.3, 0.2, -4.1, -0.2, 1.4, 3.3, 0.01, -0.02},
                                           {2, 8});
      add(std::string("affine_transform(") + fill + ", " + interp + ")", {f({2, 4, 5, 2}, dt), fixed(t)},
          [fill, interp](const Inputs& x) { return affine_transform(x[0], x[1], interp, fill, 0.5); });
    }
  add("batch_norm_training", {f({4, 3, 5}, dt), f({5}, dt, 0.5, 1.0), f({5}, dt)},
      [](const Inputs& x) { return batch_norm_training(x[0], x[1], x[2], 1e-3); });
  add("layer_norm", {f({4, 6}, dt), f({6}, dt, 0.5, 1.0), f({6}, dt)},
      [](const Inputs& x) { return layer_norm(x[0], x[1], x[2], 1e-3); });
  // Softmax and the cross-entropies.
  add("softmax(axis -1)", {f({3, 5}, dt, 4.0)}, [](const Inputs& x) { return softmax(x[0]); });
  add("softmax(axis 0)", {f({3, 5}, dt, 4.0)}, [](const Inputs& x) { return softmax(x[0], 0); });
  add("log_softmax", {f({2, 3, 4}, dt, 4.0)}, [](const Inputs& x) { return log_softmax(x[0], 1); });
  add("sparse_softmax_cross_entropy",
      {f({4, 5}, dt, 3.0), fixed(Tensor::from_vector(std::vector<std::int64_t>{0, 4, 2, 2}, {4}))},
      [](const Inputs& x) { return sparse_softmax_cross_entropy(x[0], x[1]); });
  add("softmax_cross_entropy", {f({4, 5}, dt, 3.0), positive({4, 5}, dt)},
      [](const Inputs& x) { return softmax_cross_entropy(x[0], x[1]); });
  return c;
}

// Each device that is not the CPU and has a backend in this process.
std::vector<Device> other_devices() { return {test_device()}; }

// An input on `device`: a fresh leaf, or a view into a larger tensor made there.
Tensor place(const Input& in, Device device) {
  Tensor t;
  if (in.view) {
    Shape big = in.value.shape();
    big[0] += 2;
    Tensor whole = Tensor::zeros(big, in.value.dtype(), device);
    whole.slice(1, 1 + in.value.shape()[0]).assign(in.value);
    t = whole.slice(1, 1 + in.value.shape()[0]);
  } else {
    t = in.value.to(device);
  }
  if (in.grad && is_floating(t.dtype())) {
    if (in.view) t = t.clone();  // a leaf of the same values (views of leaves are not leaves)
    t = t.detach();
    t.set_requires_grad();
  }
  return t;
}

struct Run {
  Tensor out;
  std::vector<Tensor> grads;
};

Run run(const OpCase& c, Device device) {
  Inputs xs;
  for (const Input& in : c.inputs) xs.push_back(place(in, device));
  Run r;
  r.out = c.fn(xs);
  if (r.out.requires_grad()) {
    // A weighted sum, so that every output element gets a distinct upstream gradient.
    Tensor w = seq(r.out.shape(), 1.0, r.out.dtype(), 0.1).to(device);
    sum(r.out * w).backward();
  }
  for (const Tensor& x : xs) r.grads.push_back(x.requires_grad() ? x.grad() : Tensor());
  return r;
}

void compare(const std::string& what, const Tensor& got, const Tensor& want, Device device) {
  INFO(what);
  REQUIRE(got.defined() == want.defined());
  if (!want.defined()) return;
  REQUIRE(got.device() == device);
  REQUIRE(got.shape() == want.shape());
  REQUIRE(got.dtype() == want.dtype());
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  const double tol = tolerance(want.dtype());
  for (std::size_t i = 0; i < w.size(); ++i) {
    const bool same = (std::isnan(g[i]) && std::isnan(w[i])) ||
                      std::abs(g[i] - w[i]) <= tol * (1 + std::abs(w[i]));
    if (!same) {
      INFO("element " << i << ": device " << g[i] << ", cpu " << w[i]);
      REQUIRE(same);
    }
  }
}

}  // namespace

TEST_CASE("every op on every backend matches the CPU backend", "[backend][harness]") {
  std::size_t count = 0;
  for (Device device : other_devices()) {
    for (DType dt : {float32, float64}) {
      for (const OpCase& c : cases(dt)) {
        INFO(c.name << " on " << device.str());
        const Run want = run(c, Device::cpu());
        const Run got = run(c, device);
        compare("output", got.out, want.out, device);
        REQUIRE(got.grads.size() == want.grads.size());
        for (std::size_t i = 0; i < want.grads.size(); ++i)
          compare("gradient of input " + std::to_string(i), got.grads[i], want.grads[i], device);
        ++count;
      }
    }
  }
  // The grid above: keep the count in the suite's output (the issue asks for it).
  WARN("backend harness cases run: " << count);
  CHECK(count > 300);
}

}  // namespace lamina::testing
