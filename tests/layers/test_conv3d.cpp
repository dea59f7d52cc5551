// SPDX-License-Identifier: Apache-2.0
// The 3-D family (Conv3D, Conv3DTranspose, the 3-D poolings, ZeroPadding3D, Cropping3D,
// UpSampling3D, SpatialDropout3D) and the extra 1-D convolutions (Conv1DTranspose,
// SeparableConv1D, DepthwiseConv1D): the composed ops against direct loops written here, gradients
// against finite differences in float64, shapes, channels_first, configs and errors.
#include <catch2/catch.hpp>
#include <array>
#include <cmath>
#include <lamina/lamina.hpp>
#include <lamina/layers/conv3d.hpp>
#include <lamina/layers/depthwise_conv1d.hpp>
#include <lamina/layers/pooling3d.hpp>
#include <lamina/layers/reshaping3d.hpp>
#include <nlohmann/json.hpp>

#include "support/gradcheck.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using lamina::testing::check_values;
using lamina::testing::seq;

namespace {

using Dims = std::array<std::int64_t, 3>;

// TensorFlow's leading padding of one axis ('same': the smaller half before).
std::int64_t lead(std::int64_t in, std::int64_t out, std::int64_t span, std::int64_t stride, Padding p) {
  return p == Padding::same ? std::max<std::int64_t>((out - 1) * stride + span - in, 0) / 2 : 0;
}

// Row-major offset in (n, d, h, w, c) of shape s.
std::int64_t at5(const Shape& s, std::int64_t n, std::int64_t d, std::int64_t h, std::int64_t w, std::int64_t c) {
  return (((n * s[1] + d) * s[2] + h) * s[3] + w) * s[4] + c;
}

// y[n, o, f] = Σ x[n, o·s + k·dil − pad, c] · kernel[k, c − g·cg, f] over the window and the
// channels c of f's group, positions outside the input reading zero.
std::vector<double> direct_conv3d(const Tensor& x, const Tensor& kernel, Dims st, Dims dil, Padding p,
                                  std::int64_t groups, Shape& out) {
  const Shape xs = x.shape(), ks = kernel.shape();
  const auto xv = x.to_vector<double>(), kv = kernel.to_vector<double>();
  const std::int64_t f = ks[4], cg = ks[3], fg = f / groups;
  Dims o{}, pad{};
  for (int a = 0; a < 3; ++a) {
    const std::int64_t span = (ks[a] - 1) * dil[a] + 1;
    o[a] = conv_output_length(xs[a + 1], ks[a], st[a], p, dil[a]);
    pad[a] = lead(xs[a + 1], o[a], span, st[a], p);
  }
  out = {xs[0], o[0], o[1], o[2], f};
  std::vector<double> y(static_cast<std::size_t>(out.numel()), 0.0);
  for (std::int64_t n = 0; n < xs[0]; ++n)
    for (std::int64_t od = 0; od < o[0]; ++od)
      for (std::int64_t oh = 0; oh < o[1]; ++oh)
        for (std::int64_t ow = 0; ow < o[2]; ++ow)
          for (std::int64_t fo = 0; fo < f; ++fo) {
            double acc = 0;
            const std::int64_t g = fo / fg;
            for (std::int64_t a = 0; a < ks[0]; ++a)
              for (std::int64_t b = 0; b < ks[1]; ++b)
                for (std::int64_t e = 0; e < ks[2]; ++e) {
                  const std::int64_t d = od * st[0] + a * dil[0] - pad[0], h = oh * st[1] + b * dil[1] - pad[1],
                                     w = ow * st[2] + e * dil[2] - pad[2];
                  if (d < 0 || d >= xs[1] || h < 0 || h >= xs[2] || w < 0 || w >= xs[3]) continue;
                  for (std::int64_t c = 0; c < cg; ++c)
                    acc += xv[static_cast<std::size_t>(at5(xs, n, d, h, w, g * cg + c))] *
                           kv[static_cast<std::size_t>((((a * ks[1] + b) * ks[2] + e) * cg + c) * f + fo)];
                }
            y[static_cast<std::size_t>(at5(out, n, od, oh, ow, fo))] = acc;
          }
  return y;
}

// The transposed convolution as a scatter: each input voxel adds x · kernel[k, f, c] at
// i·s + k·dil of the full output, which is then cropped by TensorFlow's leading padding.
std::vector<double> direct_conv3d_transpose(const Tensor& x, const Tensor& kernel, Dims st, Dims dil, Padding p,
                                            std::optional<Dims> op, Shape& out) {
  const Shape xs = x.shape(), ks = kernel.shape();
  const auto xv = x.to_vector<double>(), kv = kernel.to_vector<double>();
  const std::int64_t f = ks[3], c_in = ks[4];
  Dims o{}, pad{};
  for (int a = 0; a < 3; ++a) {
    o[a] = conv_transpose_output_length(xs[a + 1], ks[a], st[a], p,
                                        op ? std::optional<std::int64_t>((*op)[a]) : std::nullopt, dil[a]);
    pad[a] = lead(o[a], xs[a + 1], (ks[a] - 1) * dil[a] + 1, st[a], p);
  }
  out = {xs[0], o[0], o[1], o[2], f};
  std::vector<double> y(static_cast<std::size_t>(out.numel()), 0.0);
  for (std::int64_t n = 0; n < xs[0]; ++n)
    for (std::int64_t i = 0; i < xs[1]; ++i)
      for (std::int64_t j = 0; j < xs[2]; ++j)
        for (std::int64_t l = 0; l < xs[3]; ++l)
          for (std::int64_t a = 0; a < ks[0]; ++a)
            for (std::int64_t b = 0; b < ks[1]; ++b)
              for (std::int64_t e = 0; e < ks[2]; ++e) {
                const std::int64_t d = i * st[0] + a * dil[0] - pad[0], h = j * st[1] + b * dil[1] - pad[1],
                                   w = l * st[2] + e * dil[2] - pad[2];
                if (d < 0 || d >= o[0] || h < 0 || h >= o[1] || w < 0 || w >= o[2]) continue;
                for (std::int64_t fo = 0; fo < f; ++fo)
                  for (std::int64_t c = 0; c < c_in; ++c)
                    y[static_cast<std::size_t>(at5(out, n, d, h, w, fo))] +=
                        xv[static_cast<std::size_t>(at5(xs, n, i, j, l, c))] *
                        kv[static_cast<std::size_t>((((a * ks[1] + b) * ks[2] + e) * f + fo) * c_in + c)];
              }
  return y;
}

Size3D size3(Dims d) { return {d[0], d[1], d[2]}; }

void gradcheck_ok(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, std::vector<Tensor> weights = {}) {
  auto r = lamina::testing::gradcheck([&](const std::vector<Tensor>& in) { return f(in[0]); }, {x},
                                      std::move(weights));
  INFO(r.report);
  CHECK(r.ok);
}

}  // namespace

TEST_CASE("conv3d matches a direct loop for strides, dilation, groups, same and valid padding", "[conv3d]") {
  struct Case {
    Shape x, kernel;
    Dims strides, dilation;
    Padding padding;
    std::int64_t groups;
  };
  const std::vector<Case> cases = {
      {{2, 5, 4, 6, 3}, {2, 3, 2, 3, 4}, {1, 1, 1}, {1, 1, 1}, Padding::valid, 1},
      {{1, 6, 5, 4, 2}, {3, 2, 3, 2, 3}, {2, 1, 2}, {1, 1, 1}, Padding::same, 1},
      {{1, 7, 4, 5, 2}, {2, 2, 1, 2, 2}, {1, 1, 1}, {3, 2, 1}, Padding::same, 1},
      {{2, 4, 3, 3, 4}, {3, 1, 2, 2, 6}, {2, 2, 1}, {1, 1, 1}, Padding::valid, 2},
      {{1, 5, 3, 4, 2}, {1, 3, 3, 2, 2}, {1, 1, 1}, {1, 1, 1}, Padding::same, 1},  // kd = 1: no gather
  };
  for (const Case& c : cases) {
    const Tensor x = seq(c.x, 1.0, float64), k = seq(c.kernel, 0.5, float64, 0.1), b = seq({c.kernel[4]}, 0.3);
    Shape out;
    const auto want = direct_conv3d(x, k, c.strides, c.dilation, c.padding, c.groups, out);
    const Tensor y = conv3d(x, k, Tensor(), size3(c.strides), c.padding, size3(c.dilation), c.groups);
    INFO("x " << c.x.str() << " kernel " << c.kernel.str());
    REQUIRE(y.shape() == out);
    check_values(y, want, 1e-12);
    // Bias and a fused activation on top.
    const Tensor yb = conv3d(x, k, b, size3(c.strides), c.padding, size3(c.dilation), c.groups, FusedActivation::relu);
    check_values(yb, relu(y + b).to_vector<double>(), 1e-12);
  }
}

TEST_CASE("conv3d_transpose matches a direct scatter for strides, output_padding, dilation and padding", "[conv3d]") {
  struct Case {
    Shape x, kernel;
    Dims strides, dilation;
    Padding padding;
    std::optional<Dims> output_padding;
  };
  const std::vector<Case> cases = {
      {{2, 3, 2, 4, 3}, {2, 3, 2, 4, 3}, {1, 1, 1}, {1, 1, 1}, Padding::valid, std::nullopt},
      {{1, 3, 4, 2, 2}, {3, 2, 2, 3, 2}, {2, 2, 3}, {1, 1, 1}, Padding::same, std::nullopt},
      {{1, 2, 3, 3, 2}, {3, 3, 1, 2, 2}, {2, 3, 2}, {1, 1, 1}, Padding::same, Dims{1, 0, 1}},
      {{1, 2, 3, 2, 2}, {2, 3, 2, 2, 2}, {3, 2, 2}, {1, 1, 1}, Padding::valid, Dims{2, 1, 0}},
      {{1, 3, 2, 3, 2}, {2, 2, 2, 3, 2}, {1, 1, 1}, {2, 1, 2}, Padding::same, std::nullopt},
  };
  for (const Case& c : cases) {
    const Tensor x = seq(c.x, 1.0, float64), k = seq(c.kernel, 0.5, float64, 0.1);
    Shape out;
    const auto want = direct_conv3d_transpose(x, k, c.strides, c.dilation, c.padding, c.output_padding, out);
    std::optional<Size3D> op;
    if (c.output_padding) op = size3(*c.output_padding);
    const Tensor y = conv3d_transpose(x, k, Tensor(), size3(c.strides), c.padding, op, size3(c.dilation));
    INFO("x " << c.x.str() << " kernel " << c.kernel.str());
    REQUIRE(y.shape() == out);
    check_values(y, want, 1e-12);
  }
}

TEST_CASE("max_pool3d, avg_pool3d, zero_pad3d, crop3d and upsample3d match direct loops", "[conv3d]") {
  const Shape xs{2, 5, 4, 3, 2};
  const Tensor x = seq(xs, 1.0, float64);
  const auto xv = x.to_vector<double>();
  auto value = [&](std::int64_t n, std::int64_t d, std::int64_t h, std::int64_t w, std::int64_t c) {
    return xv[static_cast<std::size_t>(at5(xs, n, d, h, w, c))];
  };
  for (Padding p : {Padding::valid, Padding::same}) {
    const Dims pool{3, 2, 2}, st{2, 1, 2};
    Dims o{}, pad{};
    for (int a = 0; a < 3; ++a) {
      o[a] = conv_output_length(xs[a + 1], pool[a], st[a], p);
      pad[a] = lead(xs[a + 1], o[a], pool[a], st[a], p);
    }
    const Shape out{2, o[0], o[1], o[2], 2};
    std::vector<double> mx, av;
    for (std::int64_t n = 0; n < 2; ++n)
      for (std::int64_t od = 0; od < o[0]; ++od)
        for (std::int64_t oh = 0; oh < o[1]; ++oh)
          for (std::int64_t ow = 0; ow < o[2]; ++ow)
            for (std::int64_t c = 0; c < 2; ++c) {
              double best = -1e300, total = 0;
              int count = 0;
              for (std::int64_t a = 0; a < pool[0]; ++a)
                for (std::int64_t b = 0; b < pool[1]; ++b)
                  for (std::int64_t e = 0; e < pool[2]; ++e) {
                    const std::int64_t d = od * st[0] + a - pad[0], h = oh * st[1] + b - pad[1], w = ow * st[2] + e - pad[2];
                    if (d < 0 || d >= xs[1] || h < 0 || h >= xs[2] || w < 0 || w >= xs[3]) continue;
                    best = std::max(best, value(n, d, h, w, c));
                    total += value(n, d, h, w, c);
                    ++count;
                  }
              mx.push_back(best);
              av.push_back(total / count);
            }
    INFO(padding_name(p));
    const Tensor ym = max_pool3d(x, size3(pool), size3(st), p), ya = avg_pool3d(x, size3(pool), size3(st), p);
    REQUIRE(ym.shape() == out);
    REQUIRE(ya.shape() == out);
    check_values(ym, mx, 1e-12);
    check_values(ya, av, 1e-12);
  }

  const Tensor padded = zero_pad3d(x, {1, 0, 2}, {0, 2, 1});
  REQUIRE(padded.shape() == Shape{2, 6, 6, 6, 2});
  const Tensor cropped = crop3d(padded, {1, 0, 2}, {0, 2, 1});
  check_values(cropped, xv, 0);  // cropping the padding off gives the input back
  CHECK(padded.at(at5(padded.shape(), 1, 0, 1, 3, 1)) == 0.0);
  CHECK(padded.at(at5(padded.shape(), 1, 1, 1, 3, 1)) == value(1, 0, 1, 1, 1));
  CHECK_THROWS_AS(crop3d(x, {3, 0, 0}, {2, 0, 0}), ShapeError);

  const Tensor up = upsample3d(x, {2, 1, 3});
  REQUIRE(up.shape() == Shape{2, 10, 4, 9, 2});
  for (std::int64_t i = 0; i < up.numel(); i += 7) {
    std::int64_t r = i;
    const std::int64_t c = r % 2, w = (r /= 2) % 9, h = (r /= 9) % 4, d = (r /= 4) % 10, n = r / 10;
    CHECK(up.at(i) == value(n, d / 2, h, w / 3, c));
  }
}

TEST_CASE("Conv3D and Conv3DTranspose gradients match finite differences in float64", "[conv3d]") {
  SECTION("Conv3D, same, strides, groups, softmax") {
    auto layer = layers::Conv3D(4, {2, 3, 2}, {.strides = {2, 1, 2}, .padding = "same", .groups = 2, .activation = "softmax"});
    layer->build_for({-1, 3, 3, 4, 4});
    layer->kernel = seq(layer->kernel.shape(), 0.5, float64, 0.1);
    layer->bias = seq({4}, 0.2);
    gradcheck_ok([&](const Tensor& x) { return layer(x); }, seq({2, 3, 3, 4, 4}), {layer->kernel, layer->bias});
  }
  SECTION("Conv3D, channels_first, dilation, tanh") {
    auto layer = layers::Conv3D(2, 2, {.data_format = "channels_first", .dilation_rate = {2, 1, 1}, .activation = "tanh"});
    layer->build_for({-1, 3, 4, 3, 3});
    layer->kernel = seq(layer->kernel.shape(), 0.5, float64, 0.1);
    layer->bias = seq({2}, 0.2);
    gradcheck_ok([&](const Tensor& x) { return layer(x); }, seq({1, 3, 4, 3, 3}), {layer->kernel, layer->bias});
  }
  SECTION("Conv3DTranspose, same, strides, output_padding") {
    auto layer = layers::Conv3DTranspose(2, {3, 2, 2}, {.strides = {2, 2, 1}, .padding = "same", .output_padding = Size3D{1, 0, 0}});
    layer->build_for({-1, 2, 3, 2, 3});
    layer->kernel = seq(layer->kernel.shape(), 0.5, float64, 0.1);
    layer->bias = seq({2}, 0.2);
    gradcheck_ok([&](const Tensor& x) { return layer(x); }, seq({2, 2, 3, 2, 3}), {layer->kernel, layer->bias});
  }
  SECTION("Conv3DTranspose, channels_first, valid, dilation, sigmoid") {
    auto layer = layers::Conv3DTranspose(2, 2, {.data_format = "channels_first", .dilation_rate = {1, 2, 1},
                                               .activation = "sigmoid", .use_bias = false});
    layer->build_for({-1, 2, 2, 2, 3});
    layer->kernel = seq(layer->kernel.shape(), 0.5, float64, 0.1);
    gradcheck_ok([&](const Tensor& x) { return layer(x); }, seq({1, 2, 2, 2, 3}), {layer->kernel});
  }
}

TEST_CASE("Conv1DTranspose, SeparableConv1D and DepthwiseConv1D gradients match finite differences in float64",
          "[conv3d]") {
  SECTION("Conv1DTranspose, same, strides, output_padding") {
    auto layer = layers::Conv1DTranspose(3, 3, {.strides = 2, .padding = "same", .output_padding = 0});
    layer->build_for({-1, 4, 2});
    CHECK(layer->kernel.shape() == Shape{3, 3, 2});  // (k, filters, in)
    layer->kernel = seq(layer->kernel.shape(), 0.5, float64, 0.1);
    layer->bias = seq({3}, 0.2);
    gradcheck_ok([&](const Tensor& x) { return layer(x); }, seq({2, 4, 2}), {layer->kernel, layer->bias});
  }
  SECTION("Conv1DTranspose, channels_first") {
    auto layer = layers::Conv1DTranspose(2, 2, {.strides = 3, .data_format = "channels_first", .activation = "tanh"});
    layer->build_for({-1, 3, 4});
    layer->kernel = seq(layer->kernel.shape(), 0.5, float64, 0.1);
    layer->bias = seq({2}, 0.2);
    gradcheck_ok([&](const Tensor& x) { return layer(x); }, seq({1, 3, 4}), {layer->kernel, layer->bias});
  }
  SECTION("SeparableConv1D, causal, dilation, depth_multiplier") {
    auto layer = layers::SeparableConv1D(3, 3, {.padding = "causal", .dilation_rate = 2, .depth_multiplier = 2, .activation = "elu"});
    layer->build_for({-1, 6, 2});
    CHECK(layer->depthwise_kernel.shape() == Shape{3, 2, 2});
    CHECK(layer->pointwise_kernel.shape() == Shape{1, 4, 3});
    layer->depthwise_kernel = seq(layer->depthwise_kernel.shape(), 0.5, float64, 0.1);
    layer->pointwise_kernel = seq(layer->pointwise_kernel.shape(), 0.4, float64, -0.1);
    layer->bias = seq({3}, 0.2);
    gradcheck_ok([&](const Tensor& x) { return layer(x); }, seq({2, 6, 2}),
                 {layer->depthwise_kernel, layer->pointwise_kernel, layer->bias});
  }
  SECTION("DepthwiseConv1D, channels_first, same, strides") {
    auto layer = layers::DepthwiseConv1D(3, {.strides = 2, .padding = "same", .depth_multiplier = 2,
                                             .data_format = "channels_first", .activation = "relu"});
    layer->build_for({-1, 2, 7});
    CHECK(layer->depthwise_kernel.shape() == Shape{3, 2, 2});
    layer->depthwise_kernel = seq(layer->depthwise_kernel.shape(), 0.5, float64, 0.1);
    layer->bias = seq({4}, 0.2, float64, 0.05);
    gradcheck_ok([&](const Tensor& x) { return layer(x); }, seq({2, 2, 7}), {layer->depthwise_kernel, layer->bias});
  }
}

TEST_CASE("the 3-D poolings, padding, cropping and upsampling have finite-difference gradients", "[conv3d]") {
  const Tensor x = seq({2, 4, 3, 4, 2});
  const Tensor xf = seq({1, 2, 4, 3, 4});  // channels first
  gradcheck_ok([](const Tensor& t) { return layers::MaxPooling3D({2, 2, 3}, {.strides = {1, 2, 1}, .padding = "same"})(t); }, x);
  gradcheck_ok([](const Tensor& t) { return layers::AveragePooling3D(2, {.padding = "same"})(t); }, x);
  gradcheck_ok([](const Tensor& t) { return layers::AveragePooling3D({2, 1, 2}, {.data_format = "channels_first"})(t); }, xf);
  gradcheck_ok([](const Tensor& t) { return layers::GlobalMaxPooling3D()(t); }, x);
  gradcheck_ok([](const Tensor& t) { return layers::GlobalAveragePooling3D({.keepdims = true, .data_format = "channels_first"})(t); }, xf);
  gradcheck_ok([](const Tensor& t) { return layers::ZeroPadding3D({{1, 0}, {0, 2}, {1, 1}})(t); }, x);
  gradcheck_ok([](const Tensor& t) { return layers::Cropping3D({{1, 0}, {0, 1}, {1, 1}}, {.data_format = "channels_first"})(t); }, xf);
  gradcheck_ok([](const Tensor& t) { return layers::UpSampling3D({2, 1, 2})(t); }, x);
}

TEST_CASE("the 3-D layers infer Keras's shapes, channels_first included, and round-trip their configs", "[conv3d]") {
  CHECK(layers::Conv3D(4, 3)->build_for({-1, 5, 6, 7, 2}) == Shape{-1, 3, 4, 5, 4});
  CHECK(layers::Conv3D(4, 3, {.strides = 2, .padding = "same"})->build_for({-1, 5, 6, 7, 2}) == Shape{-1, 3, 3, 4, 4});
  CHECK(layers::Conv3D(4, 3, {.data_format = "channels_first"})->build_for({-1, 2, 5, 6, 7}) == Shape{-1, 4, 3, 4, 5});
  CHECK(layers::Conv3DTranspose(4, 3, {.strides = 2})->build_for({-1, 2, 3, 4, 2}) == Shape{-1, 5, 7, 9, 4});
  CHECK(layers::Conv3DTranspose(4, 3, {.strides = 2, .padding = "same"})->build_for({-1, 2, 3, 4, 2}) ==
        Shape{-1, 4, 6, 8, 4});
  CHECK(layers::Conv1DTranspose(4, 3, {.strides = 2})->build_for({-1, 5, 2}) == Shape{-1, 11, 4});
  CHECK(layers::SeparableConv1D(4, 3, {.padding = "causal"})->build_for({-1, 5, 2}) == Shape{-1, 5, 4});
  CHECK(layers::DepthwiseConv1D(3, {.depth_multiplier = 3})->build_for({-1, 5, 2}) == Shape{-1, 3, 6});
  CHECK(layers::MaxPooling3D()->build_for({-1, 5, 6, 7, 2}) == Shape{-1, 2, 3, 3, 2});
  CHECK(layers::AveragePooling3D(2, {.padding = "same", .data_format = "channels_first"})->build_for({-1, 2, 5, 6, 7}) ==
        Shape{-1, 2, 3, 3, 4});
  CHECK(layers::GlobalMaxPooling3D({.data_format = "channels_first"})->build_for({-1, 3, 5, 6, 7}) == Shape{-1, 3});
  CHECK(layers::ZeroPadding3D()->build_for({-1, 5, 6, 7, 2}) == Shape{-1, 7, 8, 9, 2});
  CHECK(layers::Cropping3D()->build_for({-1, 5, 6, 7, 2}) == Shape{-1, 3, 4, 5, 2});
  CHECK(layers::UpSampling3D({1, 2, 3}, {.data_format = "channels_first"})->build_for({-1, 2, 5, 6, 7}) ==
        Shape{-1, 2, 5, 12, 21});

  auto conv = layers::Conv3D(8, {3, 1, 2}, {.strides = {1, 2, 1}, .padding = "same", .data_format = "channels_first",
                                            .dilation_rate = 1, .groups = 2, .activation = "relu", .use_bias = false,
                                            .kernel_initializer = "he_normal", .name = "vol"});
  conv->build_for({-1, 4, 5, 6, 7});
  CHECK(conv->kernel.shape() == Shape{3, 1, 2, 2, 8});  // (kd, kh, kw, in/groups, filters)
  auto cfg = conv->get_config();
  CHECK(cfg["kernel_size"] == nlohmann::json::array({3, 1, 2}));
  CHECK(cfg["data_format"] == "channels_first");
  CHECK(cfg["groups"] == 2);
  CHECK(cfg["kernel_initializer"]["class_name"] == "HeNormal");
  CHECK(layer_from_config("Conv3D", cfg)->get_config() == cfg);

  auto up = layers::Conv3DTranspose(3, 2, {.strides = 2, .output_padding = Size3D{1, 0, 1}, .name = "up"});
  up->build_for({-1, 2, 2, 2, 5});
  CHECK(up->kernel.shape() == Shape{2, 2, 2, 3, 5});  // (kd, kh, kw, filters, in)
  cfg = up->get_config();
  CHECK(cfg["output_padding"] == nlohmann::json::array({1, 0, 1}));
  CHECK_FALSE(cfg.contains("groups"));
  CHECK(layer_from_config("Conv3DTranspose", cfg)->get_config() == cfg);

  auto t1 = layers::Conv1DTranspose(3, 2, {.strides = 2, .output_padding = 1, .name = "t1"});
  cfg = t1->get_config();
  CHECK(cfg["output_padding"] == nlohmann::json::array({1}));
  CHECK(cfg["kernel_size"] == nlohmann::json::array({2}));
  auto t1_again = layer_from_config("Conv1DTranspose", cfg);
  CHECK(t1_again->get_config() == cfg);
  CHECK(t1_again->build_for({-1, 4, 2}) == Shape{-1, 9, 3});

  auto sep = layers::SeparableConv1D(5, 3, {.padding = "causal", .depth_multiplier = 2, .pointwise_initializer = "ones",
                                            .name = "sep"});
  cfg = sep->get_config();
  CHECK(cfg["filters"] == 5);
  CHECK(cfg["pointwise_initializer"]["class_name"] == "Ones");
  CHECK(layer_from_config("SeparableConv1D", cfg)->get_config() == cfg);
  auto dw = layers::DepthwiseConv1D(3, {.depth_multiplier = 2, .data_format = "channels_first", .name = "dw"});
  cfg = dw->get_config();
  CHECK_FALSE(cfg.contains("filters"));
  CHECK(layer_from_config("DepthwiseConv1D", cfg)->get_config() == cfg);

  for (const auto& [cls, layer] : std::vector<std::pair<std::string, std::shared_ptr<Layer>>>{
           {"MaxPooling3D", layers::MaxPooling3D({1, 2, 3}, {.strides = {1, 1, 2}, .padding = "same", .name = "p"})},
           {"AveragePooling3D", layers::AveragePooling3D(2, {.data_format = "channels_first", .name = "a"})},
           {"GlobalAveragePooling3D", layers::GlobalAveragePooling3D({.keepdims = true, .name = "g"})},
           {"ZeroPadding3D", layers::ZeroPadding3D({{1, 0}, {2, 2}, {0, 3}}, {.name = "z"})},
           {"Cropping3D", layers::Cropping3D({1, 2, 3}, {.data_format = "channels_first", .name = "c"})},
           {"UpSampling3D", layers::UpSampling3D({1, 2, 3}, {.name = "u"})},
           {"SpatialDropout3D", layers::SpatialDropout3D(0.25, {.name = "s"})}}) {
    INFO(cls);
    cfg = layer->get_config();
    CHECK(layer->class_name() == cls);
    CHECK(layer_from_config(cls, cfg)->get_config() == cfg);
  }
  CHECK(layers::ZeroPadding3D({{1, 0}, {2, 2}, {0, 3}})->get_config()["padding"] ==
        nlohmann::json::parse("[[1, 0], [2, 2], [0, 3]]"));
}

TEST_CASE("SpatialDropout3D drops whole feature volumes in training only", "[conv3d]") {
  set_seed(5);
  const Tensor x = Tensor::ones({3, 2, 3, 2, 4});
  auto drop = layers::SpatialDropout3D(0.5);
  const Tensor y = drop(x, true);
  int dropped = 0;
  for (std::int64_t n = 0; n < 3; ++n)
    for (std::int64_t c = 0; c < 4; ++c) {
      const double first = y.at(n * 48 + c);
      CHECK((first == 0.0 || first == 2.0));
      dropped += first == 0.0;
      for (std::int64_t v = 1; v < 12; ++v) CHECK(y.at(n * 48 + v * 4 + c) == first);
    }
  CHECK(dropped > 0);
  CHECK(dropped < 12);
  CHECK(drop(x, false).at(5) == 1.0);
  // channels_first: one draw per (sample, channel) along axis 1.
  const Tensor yf = layers::SpatialDropout3D(0.5, {.data_format = "channels_first"})(x, true);
  for (std::int64_t n = 0; n < 3; ++n)
    for (std::int64_t c = 0; c < 2; ++c)
      for (std::int64_t v = 1; v < 24; ++v) CHECK(yf.at(n * 48 + c * 24 + v) == yf.at(n * 48 + c * 24));
}

TEST_CASE("the 3-D and extra 1-D layers reject bad arguments and inputs naming the layer", "[conv3d]") {
  CHECK_THROWS_WITH(layers::Conv3D(0, 3), Contains("Conv3D") && Contains("filters"));
  CHECK_THROWS_WITH(layers::Conv3D(2, {3, 0, 3}), Contains("Conv3D: kernel_size") && Contains("(3, 0, 3)"));
  CHECK_THROWS_WITH(layers::Conv3D(3, 2, {.groups = 2}), Contains("divisible by groups"));
  CHECK_THROWS_WITH(layers::Conv3D(2, 2, {.padding = "causal"}), Contains("Conv3D") && Contains("causal"));
  CHECK_THROWS_WITH(layers::Conv3D(2, 2, {.data_format = "channels_middle"}),
                    Contains("Conv3D: data_format") && Contains("channels_middle"));
  CHECK_THROWS_WITH(layers::Conv3DTranspose(2, 3, {.strides = 2, .dilation_rate = 2}),
                    Contains("Conv3DTranspose") && Contains("dilation_rate"));
  CHECK_THROWS_WITH(layers::Conv3DTranspose(2, 3, {.strides = 2, .output_padding = Size3D{0, 2, 0}}),
                    Contains("output_padding") && Contains("(0, 2, 0)"));
  CHECK_THROWS_WITH(layers::Conv1DTranspose(2, 3, {.strides = 2, .output_padding = 2}), Contains("(2,)"));
  CHECK_THROWS_WITH(layers::DepthwiseConv1D(3, {.strides = 2, .dilation_rate = 2}), Contains("DepthwiseConv1D"));
  CHECK_THROWS_WITH(layers::SeparableConv1D(0, 3), Contains("SeparableConv1D") && Contains("filters"));
  CHECK_THROWS_WITH(layers::MaxPooling3D({2, 0, 2}), Contains("MaxPooling3D") && Contains("pool_size"));
  CHECK_THROWS_WITH(layers::ZeroPadding3D({-1, 0, 0}), Contains("ZeroPadding3D") && Contains("padding"));
  CHECK_THROWS_WITH(layers::SpatialDropout3D(1.0), Contains("SpatialDropout3D") && Contains("rate"));
  CHECK_THROWS_WITH(layers::UpSampling3D({1, 0, 1}), Contains("UpSampling3D") && Contains("size"));

  auto conv = layers::Conv3D(2, 3, {.name = "vol"});
  CHECK_THROWS_WITH(conv->build_for({-1, 5, 5, 2}), Contains("Conv3D 'vol'") && Contains("5-D"));
  CHECK_THROWS_WITH(conv->build_for({-1, 2, 5, 5, 2}), Contains("Conv3D 'vol'") && Contains("empty"));
  conv->build_for({-1, 5, 5, 5, 2});
  CHECK_THROWS_WITH(conv(Tensor::zeros({1, 5, 5, 5, 3})), Contains("Conv3D 'vol'") && Contains("expected 2 input channels"));
  CHECK_THROWS_WITH(layers::Conv1DTranspose(2, 3, {.name = "t"})->build_for({-1, 5, 5, 2}),
                    Contains("Conv1DTranspose 't'") && Contains("3-D"));
  CHECK_THROWS_WITH(layers::MaxPooling3D(3, {.name = "p"})->build_for({-1, 2, 5, 5, 1}),
                    Contains("MaxPooling3D 'p'") && Contains("empty"));
  CHECK_THROWS_WITH(layers::Cropping3D({2, 0, 0}, {.name = "c"})->build_for({-1, 4, 5, 5, 1}),
                    Contains("Cropping3D 'c'") && Contains("leaves nothing"));
  CHECK_THROWS_WITH(layers::GlobalMaxPooling3D({.name = "g"})->build_for({-1, 4, 5}), Contains("GlobalMaxPooling3D 'g'"));
  auto dw = layers::DepthwiseConv1D(2, {.name = "dw"});
  dw->build_for({-1, 5, 3});
  CHECK_THROWS_WITH(dw(Tensor::zeros({1, 5, 4})), Contains("DepthwiseConv1D 'dw'") && Contains("expected 3 input channels"));
}
