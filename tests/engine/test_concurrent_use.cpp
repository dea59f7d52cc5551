// SPDX-License-Identifier: Apache-2.0
// One model used from several threads (issue 19): predict, predict_on_batch, evaluate and summary
// run concurrently on a built model, activity regularizers and masks included; a model with a
// stateful layer refuses a second concurrent call; the first call on an unbuilt model builds it
// once; a second fit while one runs is refused. Tagged [tsan]: CI runs this file under
// ThreadSanitizer.
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/embedding.hpp>
#include <lamina/layers/recurrent.hpp>
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
// Token ids (4 rows of 6) with trailing zeros, which Embedding(mask_zero) masks.
Tensor token_ids() {
  return Tensor::from_vector(std::vector<std::int32_t>{3, 1, 4, 0, 0, 0, 2, 7, 1, 8, 2, 0, 5, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6},
                             {4, 6});
}

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

TEST_CASE("predict, predict_on_batch, evaluate and summary run concurrently on one model with masks and regularizers",
          "[engine][tsan]") {
  set_seed(6);
  // The mask (Embedding mask_zero) reaches the LSTM and the loss; the activity regularizer adds
  // a loss on each call.
  Sequential model({layers::Input({6}, {.dtype = DType::int32}), layers::Embedding(9, 4, {.mask_zero = true}),
                    layers::LSTM(3, {.activity_regularizer = regularizers::L2(0.01), .return_sequences = true}),
                    layers::Dense(2)});
  model.compile({.optimizer = "sgd", .loss = "mse", .metrics = {"mae"}});
  const Tensor x = token_ids(), y = Tensor::ones({4, 6, 2});
  const std::vector<float> predicted = model.predict(x, {.verbose = 0}).to_vector<float>();
  const std::vector<float> on_batch = model.predict_on_batch(x).to_vector<float>();
  const std::map<std::string, double> scores = model.evaluate(x, y, {.batch_size = 2, .verbose = 0});
  const std::string summary = model.summary_string();
  // Each thread runs all four, starting at a different one, so that every pair overlaps; it
  // counts the results that differ from the single-threaded ones, per call.
  const auto mismatches = on_four_threads([&](int t) {
    std::array<int, 4> wrong{};
    for (int i = 0; i < 12; ++i) {
      const int call = (t + i) % 4;
      switch (call) {
        case 0: wrong[0] += model.predict(x, {.verbose = 0}).to_vector<float>() != predicted; break;
        case 1: wrong[1] += model.predict_on_batch(x).to_vector<float>() != on_batch; break;
        case 2: wrong[2] += model.evaluate(x, y, {.batch_size = 2, .verbose = 0}) != scores; break;
        default: wrong[3] += model.summary_string() != summary; break;
      }
    }
    return wrong;
  });
  for (const auto& wrong : mismatches) {
    CHECK(wrong[0] == 0);  // predict
    CHECK(wrong[1] == 0);  // predict_on_batch
    CHECK(wrong[2] == 0);  // evaluate
    CHECK(wrong[3] == 0);  // summary
  }
}

TEST_CASE("A model with a stateful layer refuses a second concurrent call, then works again", "[engine][tsan]") {
  set_seed(7);
  Sequential model({layers::Input({5, 2}), layers::LSTM(3, {.stateful = true, .name = "kept"}), layers::Dense(1)});
  model.compile({.optimizer = "sgd", .loss = "mse"});
  const Tensor x = Tensor::ones({2, 5, 2});
  std::promise<void> inside, release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> first = true;
  auto hold = callbacks::LambdaCallback({.on_predict_batch_begin = [&](std::int64_t, const auto&) {
    if (!first.exchange(false)) return;
    inside.set_value();
    released.wait();
  }});
  std::thread holder([&] { model.predict(x, {.verbose = 0, .callbacks = {hold}}); });
  inside.get_future().wait();
  // The layer's kept states are one sequence's: a second caller would interleave with it.
  CHECK_THROWS_WITH(model.predict(x, {.verbose = 0}), Contains("stateful") && Contains("kept"));
  CHECK_THROWS_WITH(model.predict_on_batch(x), Contains("stateful") && Contains("kept"));
  CHECK_THROWS_WITH(model.evaluate(x, Tensor::zeros({2, 1}), {.verbose = 0}), Contains("stateful"));
  release.set_value();
  holder.join();
  CHECK_NOTHROW(model.predict(x, {.verbose = 0}));
  CHECK_NOTHROW(model.predict_on_batch(x));
}
