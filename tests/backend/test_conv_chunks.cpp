// SPDX-License-Identifier: Apache-2.0
// The CPU convolution runs batches in chunks of a few images, one thread per chunk, and sums the
// kernel and bias gradients over fixed blocks of chunks (src/backend/cpu/conv.cpp). The fixture
// tests use batches of one or two images, a single chunk: here batches of the CNN benchmark's
// layer shapes span many chunks, with a short last chunk and uneven blocks, and are checked
// against a direct evaluation of the sums in double precision, and bit for bit across thread
// counts.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <lamina/lamina.hpp>

#include "support/op_testing.hpp"

using namespace lamina;
using lamina::testing::check_values;

namespace {

struct ThreadCountGuard {
  int saved = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

struct Case {
  std::string name;
  Shape x, k;
  std::int64_t stride, groups;
  Padding padding;
  FusedActivation act;
};

// Values in [-1, 1) from a linear congruential generator: signs vary, so ReLU masks half.
std::vector<double> noise(std::int64_t n, std::uint32_t seed, double scale) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (double& e : v) {
    seed = seed * 1664525u + 1013904223u;
    e = ((seed >> 8) / double(1u << 24) * 2.0 - 1.0) * scale;
  }
  return v;
}

double act_of(FusedActivation a, double z) {
  switch (a) {
    case FusedActivation::relu: return z < 0 ? 0 : z;
    case FusedActivation::tanh: return std::tanh(z);
    default: return z;
  }
}

// dy/dz through y = act(z).
double act_grad(FusedActivation a, double y) {
  switch (a) {
    case FusedActivation::relu: return y > 0 ? 1 : 0;
    case FusedActivation::tanh: return 1 - y * y;
    default: return 1;
  }
}

// (n, oh, ow, f) of the case's output.
Shape out_shape(const Case& c) {
  const bool same = c.padding == Padding::same;
  auto size = [&](std::int64_t in, std::int64_t k) {
    return same ? (in + c.stride - 1) / c.stride : (in - k) / c.stride + 1;
  };
  return {c.x[0], size(c.x[1], c.k[0]), size(c.x[2], c.k[1]), c.k[3]};
}

struct Reference {
  std::vector<double> y, dx, dk, db;
};

// y = act(conv(x, k) + b) and the gradients of Σ y·probe, as the defining sums.
Reference reference(const Case& c, const std::vector<double>& x, const std::vector<double>& k,
                    const std::vector<double>& b, const std::vector<double>& probe) {
  const std::int64_t n = c.x[0], h = c.x[1], w = c.x[2], ch = c.x[3];
  const std::int64_t kh = c.k[0], kw = c.k[1], cg = c.k[2], f = c.k[3], fg = f / c.groups;
  const bool same = c.padding == Padding::same;
  const std::int64_t oh = out_shape(c)[1], ow = out_shape(c)[2];
  const std::int64_t pt = same ? std::max<std::int64_t>((oh - 1) * c.stride + kh - h, 0) / 2 : 0;
  const std::int64_t pl = same ? std::max<std::int64_t>((ow - 1) * c.stride + kw - w, 0) / 2 : 0;
  Reference r{std::vector<double>(static_cast<std::size_t>(n * oh * ow * f)),
              std::vector<double>(x.size()), std::vector<double>(k.size()),
              std::vector<double>(b.size())};
  auto each_tap = [&](auto fn) {
    for (std::int64_t img = 0; img < n; ++img)
      for (std::int64_t oy = 0; oy < oh; ++oy)
        for (std::int64_t ox = 0; ox < ow; ++ox)
          for (std::int64_t fo = 0; fo < f; ++fo) {
            const std::int64_t o = ((img * oh + oy) * ow + ox) * f + fo, gi = fo / fg;
            for (std::int64_t ky = 0; ky < kh; ++ky)
              for (std::int64_t kx = 0; kx < kw; ++kx) {
                const std::int64_t iy = oy * c.stride - pt + ky, ix = ox * c.stride - pl + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                for (std::int64_t ci = 0; ci < cg; ++ci)
                  fn(o, ((img * h + iy) * w + ix) * ch + gi * cg + ci, ((ky * kw + kx) * cg + ci) * f + fo);
              }
          }
  };
  for (std::size_t o = 0; o < r.y.size(); ++o) r.y[o] = b[o % f];
  each_tap([&](std::int64_t o, std::int64_t xi, std::int64_t ki) { r.y[o] += x[xi] * k[ki]; });
  std::vector<double> gz(r.y.size());
  for (std::size_t o = 0; o < r.y.size(); ++o) {
    r.y[o] = act_of(c.act, r.y[o]);
    gz[o] = probe[o] * act_grad(c.act, r.y[o]);
    r.db[o % f] += gz[o];
  }
  each_tap([&](std::int64_t o, std::int64_t xi, std::int64_t ki) {
    r.dx[xi] += k[ki] * gz[o];
    r.dk[ki] += x[xi] * gz[o];
  });
  return r;
}

struct Result {
  Tensor y, dx, dk, db;
};

Result run(const Case& c, DType dt, const std::vector<double>& x, const std::vector<double>& k,
           const std::vector<double>& b, const Tensor& probe) {
  Tensor tx = Tensor::from_vector(x, c.x).astype(dt).set_requires_grad(true);
  Tensor tk = Tensor::from_vector(k, c.k).astype(dt).set_requires_grad(true);
  Tensor tb = Tensor::from_vector(b, {c.k[3]}).astype(dt).set_requires_grad(true);
  Tensor y = conv2d(tx, tk, tb, c.stride, c.padding, 1, c.groups, c.act);
  sum(y * probe.astype(dt)).backward();
  return {y.detach(), tx.grad(), tk.grad(), tb.grad()};
}

std::vector<Case> cases() {
  return {
      // The CNN benchmark's first layer: one input channel, three float32 images per chunk.
      {"28x28x1 -> 32, relu", {37, 28, 28, 1}, {3, 3, 1, 32}, 1, 1, Padding::valid, FusedActivation::relu},
      // Its second layer: two float32 images per chunk, 18 chunks in 16 blocks.
      {"13x13x32 -> 64, relu", {35, 13, 13, 32}, {3, 3, 32, 64}, 1, 1, Padding::valid, FusedActivation::relu},
      {"groups 2, stride 2, same, tanh", {23, 16, 16, 4}, {3, 3, 2, 6}, 2, 2, Padding::same, FusedActivation::tanh},
  };
}

}  // namespace

TEST_CASE("conv2d over many image chunks matches the defining sums", "[conv][backend]") {
  for (const Case& c : cases()) {
    for (DType dt : {float32, float64}) {
      INFO(c.name << " in " << dtype_name(dt));
      const auto x = noise(c.x.numel(), 1, 1.0), k = noise(c.k.numel(), 2, 0.3);
      const auto b = noise(c.k[3], 3, 0.2);
      const auto probe = noise(out_shape(c).numel(), 4, 1.0);
      const Reference want = reference(c, x, k, b, probe);
      Result got = run(c, dt, x, k, b, Tensor::from_vector(probe, out_shape(c)));
      const double tol = dt == float32 ? 2e-5 : 1e-12;
      check_values(got.y, want.y, tol);
      check_values(got.dx, want.dx, tol);
      check_values(got.dk, want.dk, tol * 10);  // sums over every output position
      check_values(got.db, want.db, tol * 10);
    }
  }
}

TEST_CASE("conv2d's chunked forward and backward give the same bits with 1 and 2 threads",
          "[conv][backend]") {
  ThreadCountGuard guard;
  for (const Case& c : cases()) {
    INFO(c.name);
    const auto x = noise(c.x.numel(), 5, 1.0), k = noise(c.k.numel(), 6, 0.3);
    const auto b = noise(c.k[3], 7, 0.2);
    const Tensor probe = Tensor::from_vector(noise(out_shape(c).numel(), 8, 1.0), out_shape(c));
    set_num_threads(1);
    const Result one = run(c, float32, x, k, b, probe);
    set_num_threads(2);
    const Result two = run(c, float32, x, k, b, probe);
    CHECK(one.y.to_vector<float>() == two.y.to_vector<float>());
    CHECK(one.dx.to_vector<float>() == two.dx.to_vector<float>());
    CHECK(one.dk.to_vector<float>() == two.dk.to_vector<float>());
    CHECK(one.db.to_vector<float>() == two.db.to_vector<float>());
  }
}
