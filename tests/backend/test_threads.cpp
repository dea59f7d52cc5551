// SPDX-License-Identifier: Apache-2.0
// The thread knob and the CPU pool: results do not depend on the thread count, the setting is
// reported back, bad counts are rejected, and the pool survives concurrent callers and exceptions.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

#include <lamina/errors.hpp>
#include <lamina/ops.hpp>
#include <lamina/tensor.hpp>

#include "backend/cpu/parallel.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using lamina::testing::seq;

namespace {

// Restores the thread count a test started with.
struct ThreadCountGuard {
  int saved = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

std::vector<Tensor> workload() {
  Tensor a = seq({1000, 1003}, 1.0, float32);
  Tensor b = seq({1003}, 0.5, float32, 1.0);
  // Backward kernels too: softmax's and dropout's are row- and element-parallel.
  Tensor leaf = a.clone().set_requires_grad();
  set_seed(3);
  sum(dropout(softmax(leaf), 0.25) * b).backward();
  return {
      leaf.grad(),
      exp(a) * b + 1.0,              // large elementwise, broadcast row path
      tanh(a) - sigmoid(a),          // large unary
      sum(a),                        // full reduction
      sum(a, {0}),                   // column sums
      mean(a, {1}),                  // row sums
      max(a, {0}),                   // extremes
      softmax(a),                    // row-wise kernel
      sum(a * b, {1}, true) + b,     // reduction feeding a broadcast
  };
  // GEMMs are left out: OpenBLAS splits K differently per thread count, so dense/matmul are
  // bit-identical only for a fixed thread count (which is all the design promises).
}

}  // namespace

TEST_CASE("results are identical with 1 and 2 threads", "[backend]") {
  ThreadCountGuard guard;
  set_num_threads(1);
  auto one = workload();
  set_num_threads(2);
  auto two = workload();
  REQUIRE(one.size() == two.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    INFO("output " << i);
    CHECK(one[i].to_vector<float>() == two[i].to_vector<float>());
  }
}

TEST_CASE("get_num_threads reports set_num_threads, which rejects n < 1", "[backend]") {
  ThreadCountGuard guard;
  CHECK(get_num_threads() >= 1);
  set_num_threads(1);
  CHECK(get_num_threads() == 1);
  set_num_threads(2);
  CHECK(get_num_threads() == 2);
  set_num_threads(3);
  CHECK(get_num_threads() == 3);
  CHECK_THROWS_AS(set_num_threads(0), ValueError);
  CHECK_THROWS_AS(set_num_threads(-2), ValueError);
  CHECK(get_num_threads() == 3);  // a rejected value changes nothing
}

TEST_CASE("parallel_for covers every index exactly once", "[backend]") {
  ThreadCountGuard guard;
  set_num_threads(3);
  for (std::int64_t n : {0, 1, 7, 1000, 100003}) {
    std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
    cpu::parallel_for(n, 10, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) hits[i]++;
    });
    std::int64_t wrong = 0;
    for (auto& h : hits) wrong += h.load() != 1;
    INFO("n = " << n);
    CHECK(wrong == 0);
  }
}

TEST_CASE("an exception inside a parallel job reaches the caller and the pool keeps working",
          "[backend]") {
  ThreadCountGuard guard;
  set_num_threads(2);
  for (std::int64_t failing_chunk_start : {0, 500}) {
    CHECK_THROWS_AS(cpu::parallel_for(1000, 1, [&](std::int64_t b, std::int64_t) {
                      if (b == failing_chunk_start) throw std::runtime_error("kernel failed");
                    }),
                    std::runtime_error);
  }
  std::atomic<std::int64_t> total{0};
  cpu::parallel_for(1000, 1, [&](std::int64_t b, std::int64_t e) { total += e - b; });
  CHECK(total.load() == 1000);
}

TEST_CASE("ops called from several threads at once give correct results", "[backend]") {
  ThreadCountGuard guard;
  set_num_threads(2);
  Tensor a = seq({400, 1000}, 1.0, float32);
  const std::vector<float> want_sum = sum(a, {1}).to_vector<float>();
  const std::vector<float> want_mul = (a * 3.0).to_vector<float>();
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int rep = 0; rep < 20; ++rep) {
        if (sum(a, {1}).to_vector<float>() != want_sum) ++mismatches;
        if ((a * 3.0).to_vector<float>() != want_mul) ++mismatches;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(mismatches.load() == 0);
}
