// SPDX-License-Identifier: Apache-2.0
// One model used from several threads (issue 19): predict runs concurrently on a built model,
// activity regularizers included; the first call on an unbuilt model builds it once; a second
// fit while one runs is refused. Tagged [tsan]: CI runs this file under ThreadSanitizer.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/model.hpp>
#include <lamina/ops.hpp>
#include <lamina/regularizers.hpp>

using namespace lamina;
using Catch::Matchers::Contains;

namespace {

Tensor inputs(std::int64_t rows) {
  std::vector<float> v(static_cast<std::size_t>(rows * 4));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 7) * 0.25f - 0.5f;
  return Tensor::from_vector(v, {rows, 4});
}

// Runs `work(thread index)` on 4 threads at once and returns their results.
template <class Work>
auto on_four_threads(Work work) {
  using Result = decltype(work(0));
  std::vector<std::future<Result>> futures;
  std::atomic<int> ready{0};
  for (int t = 0; t < 4; ++t)
    futures.push_back(std::async(std::launch::async, [&, t] {
      ++ready;
      while (ready.load() < 4) std::this_thread::yield();  // start together
      return work(t);
    }));
  std::vector<Result> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

}  // namespace

TEST_CASE("predict runs concurrently on one built model with an activity regularizer", "[engine][tsan]") {
  set_seed(3);
  Sequential model({layers::Input({4}),
                    layers::Dense(8, {.activation = "relu", .activity_regularizer = regularizers::L2(0.1)}),
                    layers::Dense(2)});
  const Tensor x = inputs(16);
  const std::vector<float> expected = model.predict(x, {.verbose = 0}).to_vector<float>();
  const auto results = on_four_threads([&](int) {
    std::vector<float> last;
    for (int i = 0; i < 20; ++i) last = model.predict(x, {.verbose = 0}).to_vector<float>();
    return last;
  });
  for (const auto& r : results) CHECK(r == expected);
}

TEST_CASE("The first predict on an unbuilt model from four threads builds it once", "[engine][tsan]") {
  set_seed(4);
  Sequential model({layers::Dense(3, {.name = "only"})});
  const Tensor x = inputs(5);
  const auto results = on_four_threads([&](int) { return model.predict(x, {.verbose = 0}).to_vector<float>(); });
  for (const auto& r : results) CHECK(r == results[0]);
  CHECK(model.layers()[0]->weights().size() == 2);
}

TEST_CASE("fit on a model that is already training is refused, then fit works again", "[engine][tsan]") {
  set_seed(5);
  Sequential model({layers::Input({4}), layers::Dense(1)});
  model.compile({.optimizer = "sgd", .loss = "mse"});
  const Tensor x = inputs(8), y = Tensor::zeros({8, 1});
  std::promise<void> inside, release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> first = true;
  auto hold = callbacks::LambdaCallback({.on_train_begin = [&](const auto&) {
    if (!first.exchange(false)) return;
    inside.set_value();
    released.wait();
  }});
  std::thread trainer([&] { model.fit(x, y, {.batch_size = 4, .epochs = 1, .verbose = 0, .callbacks = {hold}}); });
  inside.get_future().wait();
  CHECK_THROWS_WITH(model.fit(x, y, {.epochs = 1, .verbose = 0}), Contains("already training"));
  CHECK_THROWS_WITH(model.train_on_batch(x, y), Contains("already training"));
  release.set_value();
  trainer.join();
  CHECK_NOTHROW(model.fit(x, y, {.epochs = 1, .verbose = 0}));
}
