// SPDX-License-Identifier: Apache-2.0
// The Philox draws (src/backend/cpu/random.hpp, src/ops/random.hpp): Random123's known answers,
// the stream layout against an independent implementation (tests/fixtures/philox.json, made by
// tests/fixtures/make_philox_fixtures.py), the same numbers on 1, 2 and 4 threads, and the
// statistics of a million draws.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <lamina/initializers.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/ops.hpp>
#include <lamina/tensor.hpp>
#include <nlohmann/json.hpp>

#include "backend/cpu/random.hpp"
#include "ops/random.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using lamina::testing::values;

namespace {

const nlohmann::json& fixture() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/philox.json");
    if (!in.good()) throw std::runtime_error("missing tests/fixtures/philox.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

struct ThreadCountGuard {
  int saved = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

template <class T>
std::vector<T> as(const Tensor& t) {
  return t.to_vector<T>();
}

struct Moments {
  double mean, var;
};
Moments moments(const std::vector<double>& v) {
  double s = 0, s2 = 0;
  for (double x : v) s += x;
  const double m = s / static_cast<double>(v.size());
  for (double x : v) s2 += (x - m) * (x - m);
  return {m, s2 / static_cast<double>(v.size())};
}

double fraction(const std::vector<double>& v, bool (*pred)(double)) {
  return static_cast<double>(std::count_if(v.begin(), v.end(), pred)) / static_cast<double>(v.size());
}

}  // namespace

TEST_CASE("Philox4x32-10 reproduces Random123's published known-answer vectors", "[random]") {
  // The three "philox4x32 10" lines of Random123's tests/kat_vectors: counter, key, expected.
  struct Kat {
    std::array<std::uint32_t, 4> counter;
    std::array<std::uint32_t, 2> key;
    std::array<std::uint32_t, 4> expected;
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) CHECK(cpu::philox4x32_10(k.counter, k.key) == k.expected);
  // The fixture script checked its own Philox against the same vectors.
  CHECK(fixture()["kat"].size() == 3);
}

TEST_CASE("set_seed's draws match an independent Philox implementation value for value", "[random]") {
  const auto& fx = fixture();
  set_seed(fx["seed"].get<std::uint64_t>());
  // The draws of the fixture script, in its order: each reserves as many counters as values.
  CHECK(values(random_uniform({8}, 0.0, 1.0, float64)) == fx["uniform_f64"].get<std::vector<double>>());
  CHECK(values(random_uniform({8}, -2.0, 3.0, float32)) == fx["uniform_f32"].get<std::vector<double>>());
  // Box–Muller through lamina's own log and cos against Python's libm: a few ulp apart.
  lamina::testing::check_values(random_normal({8}, 1.0, 2.0, float64), fx["normal_f64"].get<std::vector<double>>(),
                                1e-14);
  lamina::testing::check_values(truncated_normal({64}, 0.0, 1.0, float64),
                                fx["truncated_normal_f64"].get<std::vector<double>>(), 1e-14);
  std::vector<double> keep;
  for (double v : values(dropout(Tensor::ones({16}, float64), 0.3))) keep.push_back(v != 0.0);
  CHECK(keep == fx["dropout_keep_0.3"].get<std::vector<double>>());
  CHECK(as<std::int64_t>(random_permutation(10)) == fx["permutation_10"].get<std::vector<std::int64_t>>());

  std::vector<std::int64_t> ints(16);
  cpu::random_integers({fx["seed"].get<std::uint64_t>(), 5, 2}, 16, -3, 7, ints.data());
  CHECK(ints == fx["integers_-3_7_stream2_offset5"].get<std::vector<std::int64_t>>());
}

TEST_CASE("every draw kind gives the same numbers on 1, 2 and 4 threads", "[random][backend]") {
  ThreadCountGuard guard;
  // Well above the kernels' grain (8192 elements per chunk), so 2 and 4 threads split the range.
  const std::int64_t n = 300'000;
  auto draw = [n] {
    set_seed(11);
    std::vector<Tensor> out;
    for (DType dt : {float32, float64}) {
      out.push_back(random_uniform({n}, -1.0, 2.0, dt));
      out.push_back(random_normal({n}, 0.5, 3.0, dt));
      out.push_back(truncated_normal({n}, 0.0, 1.0, dt));
      Tensor x = Tensor::ones({n}, dt).set_requires_grad();
      Tensor y = dropout(x, 0.4);
      y.backward(Tensor::full({n}, 2.0, dt));
      out.push_back(y);
      out.push_back(x.grad());
    }
    out.push_back(random_permutation(n));
    std::vector<std::int64_t> ints(static_cast<std::size_t>(n));
    cpu::random_integers({11, 0, 7}, n, -1000, 1000, ints.data());
    out.push_back(Tensor::from_vector(ints, {n}));
    return out;
  };
  set_num_threads(1);
  const auto one = draw();
  for (int threads : {2, 4}) {
    set_num_threads(threads);
    const auto many = draw();
    REQUIRE(many.size() == one.size());
    for (std::size_t k = 0; k < one.size(); ++k) {
      INFO(threads << " threads, draw " << k);
      CHECK(values(many[k]) == values(one[k]));
    }
  }
}

TEST_CASE("a float32 draw is the float64 draw of the same counters, rounded", "[random]") {
  set_seed(5);
  const auto u64 = as<double>(random_uniform({1000}, -3.0, 4.0, float64));
  const auto n64 = as<double>(random_normal({1000}, 0.0, 1.0, float64));
  set_seed(5);
  const auto u32 = as<float>(random_uniform({1000}, -3.0, 4.0, float32));
  const auto n32 = as<float>(random_normal({1000}, 0.0, 1.0, float32));
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < 1000; ++i) {
    // A uniform rounding up to maxval is pulled back below it; that cannot happen here.
    bad += u32[i] != static_cast<float>(u64[i]);
    bad += n32[i] != static_cast<float>(n64[i]);
  }
  CHECK(bad == 0);
}

TEST_CASE("a million draws have the distributions' moments", "[random]") {
  const std::int64_t n = 1'000'000;
  set_seed(2718);
  // 5 standard errors of each estimate.
  const auto u = as<double>(random_uniform({n}, 0.0, 1.0, float64));
  const Moments mu = moments(u);
  CHECK(std::abs(mu.mean - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
  CHECK(std::abs(mu.var - 1.0 / 12) < 5 * std::sqrt((1.0 / 80 - 1.0 / 144) / n));
  CHECK(*std::min_element(u.begin(), u.end()) >= 0.0);
  CHECK(*std::max_element(u.begin(), u.end()) < 1.0);

  const auto z = as<double>(random_normal({n}, 0.0, 1.0, float64));
  const Moments mz = moments(z);
  CHECK(std::abs(mz.mean) < 5 / std::sqrt(double(n)));
  CHECK(std::abs(mz.var - 1.0) < 5 * std::sqrt(2.0 / n));
  // Inside one sigma 68.27 %, beyond three 0.270 %: the log and cos hold in the tails too.
  CHECK(std::abs(fraction(z, [](double x) { return std::abs(x) < 1.0; }) - 0.682689) < 5 * 4.7e-4);
  CHECK(std::abs(fraction(z, [](double x) { return std::abs(x) > 3.0; }) - 0.0026998) < 5 * 5.2e-5);
  CHECK(std::abs(fraction(z, [](double x) { return x > 0.0; }) - 0.5) < 5 * 5e-4);
  // The two normals of a block (cosine and sine of one angle) are uncorrelated.
  double pair_sum = 0;
  for (std::size_t i = 0; i + 1 < z.size(); i += 2) pair_sum += z[i] * z[i + 1];
  CHECK(std::abs(pair_sum / (n / 2)) < 5 / std::sqrt(n / 2.0));

  const auto t = as<double>(truncated_normal({n}, 1.0, 0.5, float64));
  const Moments mt = moments(t);
  CHECK(*std::min_element(t.begin(), t.end()) >= 0.0);
  CHECK(*std::max_element(t.begin(), t.end()) <= 2.0);
  CHECK(std::abs(mt.mean - 1.0) < 5 * 0.44 / std::sqrt(double(n)));
  // A unit normal truncated at ±2 has standard deviation 0.879626.
  CHECK(std::abs(std::sqrt(mt.var) - 0.879626 * 0.5) < 2e-3);

  for (double rate : {0.2, 0.5}) {
    const auto d = as<double>(dropout(Tensor::ones({n}, float64), rate));
    const double kept = fraction(d, [](double x) { return x != 0.0; });
    CHECK(std::abs(kept - (1 - rate)) < 5 * std::sqrt(rate * (1 - rate) / n));
  }

  // Integers in [0, 10): each value about n/10 times.
  std::vector<std::int64_t> ints(static_cast<std::size_t>(n));
  cpu::random_integers({2718, 0, 9}, n, 0, 10, ints.data());
  std::vector<std::int64_t> counts(10);
  for (auto v : ints) ++counts.at(static_cast<std::size_t>(v));
  for (auto c : counts) CHECK(std::abs(c - n / 10) < 5 * std::sqrt(n * 0.09));
}

TEST_CASE("a permutation puts each value in each place alike", "[random]") {
  // 20000 permutations of 8: value v lands at place p with probability 1/8.
  set_seed(31);
  const int reps = 20000;
  std::vector<int> where(64);
  for (int r = 0; r < reps; ++r) {
    const auto p = as<std::int64_t>(random_permutation(8));
    for (int k = 0; k < 8; ++k) ++where[static_cast<std::size_t>(p[k] * 8 + k)];
  }
  const double sd = std::sqrt(reps * (1.0 / 8) * (7.0 / 8));
  for (int c : where) CHECK(std::abs(c - reps / 8.0) < 5 * sd);
}

TEST_CASE("successive draws advance the offset by the number of values drawn", "[random]") {
  set_seed(3);
  random_uniform({5});
  CHECK(random::get_state().counter == 5);
  random_normal({2, 3});
  truncated_normal({4});
  random_permutation(7);
  dropout(Tensor::ones({6}), 0.5);  // normals take two values per counter, dropout four
  CHECK(random::get_state().counter == 5 + 3 + 2 + 7 + 2);
  // Draw k of a generator reads where the previous one stopped: one draw of 10 equals two of 5.
  set_seed(3);
  const auto whole = values(random_uniform({10}, 0.0, 1.0, float64));
  set_seed(3);
  auto parts = values(random_uniform({5}, 0.0, 1.0, float64));
  const auto rest = values(random_uniform({5}, 0.0, 1.0, float64));
  parts.insert(parts.end(), rest.begin(), rest.end());
  CHECK(parts == whole);
}

TEST_CASE("seeded layers and initializers use their own stream, not the global one", "[random]") {
  // Keras's SeedGenerator(seed): initializer(seed) gives the same values on every call and leaves
  // the global stream where it was.
  set_seed(42);
  const auto global_first = values(random_normal({20}, 0.0, 1.0, float64));
  set_seed(42);
  auto init = initializers::seeded(initializers::RandomNormal(0.0, 1.0), 42);
  const auto a = values(init({20}, float64));
  CHECK(random::get_state().counter == 0);
  CHECK(values(init({20}, float64)) == a);
  CHECK(a != global_first);  // the same number as a seed, another stream

  // A seeded Dropout's masks repeat for its seed whatever the global stream does.
  auto masks = [](std::uint64_t global_seed) {
    set_seed(global_seed);
    layers::Dropout drop(0.5, {.seed = 7});
    std::vector<std::vector<double>> out;
    for (int k = 0; k < 3; ++k) out.push_back(values(drop(Tensor::ones({50}, float64), true)));
    return out;
  };
  const auto m1 = masks(1), m2 = masks(2);
  CHECK(m1 == m2);
  CHECK(m1[0] != m1[1]);  // successive calls draw new masks
}

TEST_CASE("fit's epoch order depends on the shuffle key and the epoch alone", "[random]") {
  const auto e0 = as<std::int64_t>(random::epoch_permutation(100, 9, 0));
  set_seed(1);
  random_uniform({1000});
  CHECK(as<std::int64_t>(random::epoch_permutation(100, 9, 0)) == e0);
  CHECK(as<std::int64_t>(random::epoch_permutation(100, 9, 1)) != e0);
  CHECK(as<std::int64_t>(random::epoch_permutation(100, 10, 0)) != e0);
  auto sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 0; i < 100; ++i) CHECK(sorted[static_cast<std::size_t>(i)] == i);
}
