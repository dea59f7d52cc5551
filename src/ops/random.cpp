// SPDX-License-Identifier: Apache-2.0
#include "ops/random.hpp"

#include <cmath>
#include <random>
#include <string>

#include "autograd/node.hpp"
#include "backend/philox.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "backend/backend.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {
namespace random {
namespace {
thread_local Generator* t_current = nullptr;
thread_local bool t_count_only = false;
std::atomic<std::uint64_t> g_values_drawn{0};
}  // namespace

CountOnly::CountOnly() : previous_(t_count_only) { t_count_only = true; }
CountOnly::~CountOnly() { t_count_only = previous_; }
bool counting_only() { return t_count_only; }
std::uint64_t values_drawn() { return g_values_drawn.load(std::memory_order_relaxed); }

std::uint64_t Generator::next_bits() { return backend::random_bits(reserve(1), 0); }

std::uint64_t Generator::next_below(std::uint64_t bound) {
  if (bound == 0) throw ValueError("random: next_below needs a bound of at least 1, got 0");
  return backend::below(next_bits(), bound);
}

double Generator::next_uniform01() {
  return backend::unit_interval(next_bits());
}

Generator& global() {
  static Generator g(std::random_device{}(), Stream::global);
  return g;
}

Generator& current() { return t_current ? *t_current : global(); }

GeneratorScope::GeneratorScope(Generator& g) : previous_(t_current) { t_current = &g; }
GeneratorScope::~GeneratorScope() { t_current = previous_; }

std::uint64_t reserve(std::uint64_t count) { return current().reserve(count).offset; }

std::uint64_t bits(std::uint64_t c) { return backend::random_bits(current().at(c), 0); }

State get_state() { return {global().key(), global().offset()}; }
void set_state(State s) { global().reset(s.seed, s.counter); }

}  // namespace random

void set_seed(std::uint64_t seed) { random::global().reset(seed, 0); }

namespace {
// A tensor of `shape` on `device` drawn from the current generator (`per_block` values per
// counter).
Tensor generate(const Shape& shape, DType dtype, Device device, backend::Distribution d,
                int per_block, double a, double b) {
  Tensor out = make_tensor(shape, dtype, device);
  if (!is_floating(dtype))
    throw TypeError(std::string("random: expected a float32 or float64 dtype, got ") +
                    dtype_name(dtype));
  const backend::PhiloxPlace place = random::current().reserve(backend::counters(out.numel(), per_block));
  if (random::counting_only()) {
    backend::get(device).fill(out, 0.0);  // defined contents, at memset cost
    return out;
  }
  random::g_values_drawn.fetch_add(static_cast<std::uint64_t>(out.numel()), std::memory_order_relaxed);
  backend::get(device).random_fill(d, place, a, b, out);
  return out;
}

void check_rate(double rate) {
  if (rate < 0 || rate >= 1) throw ValueError("dropout: rate must be in [0, 1), got " + std::to_string(rate));
}

// A uint8 keep mask of `shape` (1 where u >= rate) on `device`.
Tensor keep_mask(const Shape& shape, double rate, Device device) {
  Tensor mask = make_tensor(shape, uint8, device);
  const std::int64_t n = mask.numel();
  backend::get(device).bernoulli_mask(
      random::current().reserve(backend::counters(n, backend::kMaskBitsPerBlock)), rate, mask);
  return mask;
}

// out = mask ? x·scale : 0, elementwise; x and out have mask's shape.
Tensor apply_mask(const Tensor& x, const Tensor& mask, double scale) {
  Tensor out = make_tensor(x.shape(), x.dtype(), x.device());
  backend::of("dropout", x, mask).masked_scale(mask, scale, x, out);
  return out;
}

Tensor permutation(std::int64_t n, random::Generator& g) {
  Tensor out = make_tensor(Shape{n}, int64);
  backend::get(Device::cpu()).random_permutation(g.reserve(static_cast<std::uint64_t>(n)), out);
  return out;
}
}  // namespace

Tensor random_uniform(const Shape& shape, double minval, double maxval, DType dtype,
                      Device device) {
  if (!(minval <= maxval))
    throw ValueError("random_uniform: minval " + std::to_string(minval) + " exceeds maxval " +
                     std::to_string(maxval));
  return generate(shape, dtype, device, backend::Distribution::uniform,
                  backend::kUniformsPerBlock, minval, maxval);
}

Tensor random_normal(const Shape& shape, double mean, double stddev, DType dtype, Device device) {
  return generate(shape, dtype, device, backend::Distribution::normal,
                  backend::kNormalsPerBlock, mean, stddev);
}

Tensor truncated_normal(const Shape& shape, double mean, double stddev, DType dtype,
                        Device device) {
  return generate(shape, dtype, device, backend::Distribution::truncated_normal,
                  backend::kNormalsPerBlock, mean, stddev);
}

Tensor random_permutation(std::int64_t n) { return permutation(n, random::current()); }

Tensor random::epoch_permutation(std::int64_t n, std::uint64_t key, int epoch) {
  Generator g(key, Stream::epoch_order, static_cast<std::uint64_t>(epoch) << 40);
  return permutation(n, g);
}

Tensor random::dropout_mask(const Shape& shape, double rate, DType dtype, Device device) {
  check_rate(rate);
  return keep_mask(shape, rate, device).astype(dtype) * (1.0 / (1.0 - rate));
}

Tensor dropout(const Tensor& x, double rate) {
  check_rate(rate);
  if (rate == 0) return x;
  const Tensor mask = keep_mask(x.shape(), rate, x.device());
  const double keep_scale = 1.0 / (1.0 - rate);
  return autograd::record_fn(apply_mask(x, mask, keep_scale), "Dropout", {x}, [mask, keep_scale](const Tensor& g) {
    return std::vector<Tensor>{apply_mask(g, mask, keep_scale)};
  });
}

}  // namespace lamina
