// SPDX-License-Identifier: Apache-2.0
// The inference path (issue 23): predict and predict_on_batch record no autograd tape and, after
// the first call, take every buffer from the allocator's cache; a batch of one image runs on the
// calling thread without waking the pool, while a large batch still uses it; one row of C through
// gemv gives the same predictions as the batched GEMM, within float rounding.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>

#include <lamina/layers/conv.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/pooling.hpp>
#include <lamina/model.hpp>
#include <lamina/ops.hpp>

#include "backend/cpu/parallel.hpp"
#include "support/op_testing.hpp"
#include "support/thread_count.hpp"
#include "tensor/tensor_impl.hpp"

using namespace lamina;
using lamina::testing::seq;
using lamina::testing::ThreadCountGuard;

namespace {

Sequential mlp() {
  set_seed(11);
  return Sequential({layers::Input({28, 28, 1}), layers::Flatten(), layers::Dense(64, {.activation = "relu"}),
                     layers::Dense(10)});
}

// The benchmark CNN (bench/bench_models.hpp): its second im2col, 11 rows of 3168 values, once
// split into two chunks of less than a grain each and woke the pool on every one-image call.
Sequential cnn() {
  set_seed(12);
  return Sequential({layers::Input({28, 28, 1}), layers::Conv2D(32, 3, {.activation = "relu"}), layers::MaxPooling2D(2),
                     layers::Conv2D(64, 3, {.activation = "relu"}), layers::MaxPooling2D(2), layers::Flatten(),
                     layers::Dense(128, {.activation = "relu"}), layers::Dense(10, {.activation = "softmax"})});
}

Tensor images(std::int64_t n) { return seq({n, 28, 28, 1}, 0.5, float32, 0.5); }

// Requests the allocator served from its cache during `call`, and all requests.
template <class F>
std::pair<std::size_t, std::size_t> allocator_use(F call) {
  const MemoryStats before = memory_stats();
  call();
  const MemoryStats after = memory_stats();
  return {after.cache_hits - before.cache_hits, after.allocations - before.allocations};
}

}  // namespace

TEST_CASE("predict_on_batch and predict record no tape and reuse cached memory after the first call",
          "[engine][inference]") {
  for (auto make : {mlp, cnn}) {
    Sequential model = make();
    const Tensor one = images(1), batch = images(10);
    for (const Tensor& w : model.trainable_weights()) REQUIRE(w.requires_grad());
    model.predict_on_batch(one);
    model.predict(batch, {.batch_size = 4});
    const std::size_t in_use = memory_stats().bytes_in_use;

    Tensor y;
    const auto [hits, requests] = allocator_use([&] { y = model.predict_on_batch(one); });
    CHECK(requests > 0);
    CHECK(hits == requests);  // nothing new from the system
    CHECK_FALSE(y.requires_grad());
    CHECK(y.impl()->grad_fn == nullptr);

    Tensor all;
    const auto [batch_hits, batch_requests] =
        allocator_use([&] { all = model.predict(batch, {.batch_size = 4}); });
    CHECK(batch_hits == batch_requests);
    CHECK_FALSE(all.requires_grad());
    CHECK(all.impl()->grad_fn == nullptr);

    y = Tensor();
    all = Tensor();
    CHECK(memory_stats().bytes_in_use == in_use);  // the call's buffers are all back in the cache
  }
}

TEST_CASE("a one-image prediction stays on the calling thread, a large batch still uses the pool",
          "[engine][inference]") {
  ThreadCountGuard guard;
  set_num_threads(2);
  for (auto make : {mlp, cnn}) {
    Sequential model = make();
    model.predict_on_batch(images(1));
    const std::uint64_t jobs = cpu::pool_jobs();
    model.predict_on_batch(images(1));
    CHECK(cpu::pool_jobs() == jobs);
  }
  Sequential model = cnn();
  const std::uint64_t jobs = cpu::pool_jobs();
  model.predict_on_batch(images(64));
  CHECK(cpu::pool_jobs() > jobs);
}

TEST_CASE("parallel_for runs work below kMinChunkWork on the calling thread", "[backend][inference]") {
  ThreadCountGuard guard;
  set_num_threads(2);
  CHECK(cpu::grain_for(1) == cpu::kMinChunkWork);
  CHECK(cpu::grain_for(0) == cpu::kMinChunkWork);
  CHECK(cpu::grain_for(cpu::kMinChunkWork * 3) == 1);
  CHECK(cpu::grain_for(1000) == cpu::kMinChunkWork / 1000);
  const std::uint64_t jobs = cpu::pool_jobs();
  int calls = 0;
  cpu::parallel_for(20, cpu::grain_for(1000), [&](std::int64_t b, std::int64_t e) {
    ++calls;
    CHECK(b == 0);
    CHECK(e == 20);
  });
  CHECK(calls == 1);
  CHECK(cpu::pool_jobs() == jobs);
  std::atomic<int> chunks = 0;
  cpu::parallel_for(200, cpu::grain_for(1000), [&](std::int64_t, std::int64_t) { ++chunks; });
  CHECK(chunks == 2);
  CHECK(cpu::pool_jobs() == jobs + 1);
}

TEST_CASE("one image predicts what a batch predicts for it, repeatably", "[engine][inference]") {
  for (auto make : {mlp, cnn}) {
    Sequential model = make();
    const Tensor batch = images(6);
    const Tensor all = model.predict(batch, {.batch_size = 6});
    for (std::int64_t i = 0; i < 6; ++i) {
      const Tensor one = model.predict_on_batch(batch.slice(i, i + 1));
      lamina::testing::check_values(one, all.slice(i, i + 1).to_vector<double>(), 1e-5);
      CHECK(model.predict_on_batch(batch.slice(i, i + 1)).to_vector<float>() == one.to_vector<float>());
    }
  }
}
