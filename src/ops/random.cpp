// SPDX-License-Identifier: Apache-2.0
#include "ops/random.hpp"

#include <atomic>
#include <cmath>
#include <random>

#include "autograd/node.hpp"
#include "backend/cpu/parallel.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {
namespace random {
namespace {
std::uint64_t g_seed = std::random_device{}();
std::atomic<std::uint64_t> g_counter{0};

std::uint64_t splitmix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

std::uint64_t reserve(std::uint64_t count) { return g_counter.fetch_add(count); }
std::uint64_t seed() { return g_seed; }
std::uint64_t bits(std::uint64_t c) { return splitmix(splitmix(g_seed) ^ (c * 0xd1b54a32d192ed03ULL)); }

// Uses only its own two counters: deriving them (say 2c, 2c+1) would reach into counters that
// later draws reserve, correlating, e.g., dropout masks with the weights drawn before them.
double normal(std::uint64_t c) {
  double u1 = uniform01(c), u2 = uniform01(c + 1);
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

State get_state() { return {g_seed, g_counter.load()}; }
void set_state(State s) {
  g_seed = s.seed;
  g_counter = s.counter;
}
}  // namespace random

void set_seed(std::uint64_t seed) {
  random::g_seed = seed;
  random::g_counter = 0;
}

namespace {
template <class Gen>
Tensor generate(const Shape& shape, DType dtype, const char* op, std::uint64_t counters_per_elem,
                Gen gen) {
  Tensor out = make_tensor(shape, dtype);
  const std::int64_t n = out.numel();
  const std::uint64_t base = random::reserve(n * counters_per_elem);
  detail::dispatch_float(dtype, op, [&](auto z) {
    using T = decltype(z);
    T* p = out.data<T>();
    cpu::parallel_for(n, 1 << 14, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) p[i] = static_cast<T>(gen(base + i * counters_per_elem));
    });
  });
  return out;
}
}  // namespace

Tensor random_uniform(const Shape& shape, double minval, double maxval, DType dtype) {
  if (!(minval <= maxval))
    throw ValueError("random_uniform: minval " + std::to_string(minval) + " exceeds maxval " +
                     std::to_string(maxval));
  // Rounding could land on maxval itself; the largest value below it (in dtype) stands in.
  const double top =
      dtype == float32
          ? static_cast<double>(std::nextafter(static_cast<float>(maxval), static_cast<float>(minval)))
          : std::nextafter(maxval, minval);
  return generate(shape, dtype, "random_uniform", 1, [=](std::uint64_t c) {
    double v = minval + (maxval - minval) * random::uniform01(c);
    return v < top || minval == maxval ? v : top;
  });
}

Tensor random_normal(const Shape& shape, double mean, double stddev, DType dtype) {
  return generate(shape, dtype, "random_normal", 2,
                  [=](std::uint64_t c) { return mean + stddev * random::normal(c); });
}

Tensor truncated_normal(const Shape& shape, double mean, double stddev, DType dtype) {
  // Each element owns 64 counters (32 normal draws): redraws stay inside the element's own slice
  // of the stream. All 32 falling outside ±2σ has probability 0.0455^32, about 1e-43.
  return generate(shape, dtype, "truncated_normal", 64, [=](std::uint64_t c) {
    for (std::uint64_t k = 0; k < 32; ++k) {
      double z = random::normal(c + 2 * k);
      if (std::abs(z) <= 2.0) return mean + stddev * z;
    }
    return mean;
  });
}

Tensor random_permutation(std::int64_t n) {
  Tensor out = Tensor::arange(n, int64);
  std::int64_t* p = out.data<std::int64_t>();
  const std::uint64_t base = random::reserve(static_cast<std::uint64_t>(n));
  for (std::int64_t i = n - 1; i > 0; --i) {
    std::int64_t j = static_cast<std::int64_t>(random::bits(base + i) % static_cast<std::uint64_t>(i + 1));
    std::swap(p[i], p[j]);
  }
  return out;
}

Tensor dropout(const Tensor& x, double rate) {
  if (rate < 0 || rate >= 1)
    throw ValueError("dropout: rate must be in [0, 1), got " + std::to_string(rate));
  if (rate == 0) return x;
  Tensor out = make_tensor(x.shape(), x.dtype());
  Tensor mask = make_tensor(x.shape(), uint8);
  const std::int64_t n = x.numel();
  const std::uint64_t base = random::reserve(n);
  const double keep_scale = 1.0 / (1.0 - rate);
  detail::dispatch_float(x.dtype(), "dropout", [&](auto z) {
    using T = decltype(z);
    const T* xs = x.data<T>();
    T* o = out.data<T>();
    std::uint8_t* m = mask.data<std::uint8_t>();
    const T s = static_cast<T>(keep_scale);
    cpu::parallel_for(n, 1 << 14, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        m[i] = random::uniform01(base + i) >= rate;
        o[i] = m[i] ? xs[i] * s : T(0);
      }
    });
  });
  return autograd::record_fn(out, "Dropout", {x}, [mask, keep_scale](const Tensor& g) {
    Tensor dx = make_tensor(g.shape(), g.dtype());
    detail::dispatch_float(g.dtype(), "dropout", [&](auto z) {
      using T = decltype(z);
      const T* gs = g.data<T>();
      const std::uint8_t* m = mask.data<std::uint8_t>();
      T* d = dx.data<T>();
      const T s = static_cast<T>(keep_scale);
      cpu::parallel_for(g.numel(), 1 << 15, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) d[i] = m[i] ? gs[i] * s : T(0);
      });
    });
    return std::vector<Tensor>{dx};
  });
}

}  // namespace lamina
