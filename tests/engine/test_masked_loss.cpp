// SPDX-License-Identifier: Apache-2.0
// Masks through merge layers (Keras's Merge.compute_mask and Concatenate.compute_mask) in a
// Functional model, and masks reaching the loss and the metrics.
#include <catch2/catch.hpp>

#include <lamina/lamina.hpp>

#include "support/op_testing.hpp"

using namespace lamina;
using lamina::testing::check_values;
using lamina::testing::values;

namespace {

Tensor ids(std::vector<float> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return Tensor::from_vector(v, {1, n});
}

}  // namespace

TEST_CASE("Add of two masked sequences keeps the steps both masks keep", "[graph]") {
  set_seed(11);
  auto emb = layers::Embedding(10, 4, {.mask_zero = true});
  auto lstm = layers::LSTM(3);
  auto a = layers::Input({4}), b = layers::Input({4});
  Model model({a, b}, lstm(layers::Add()({emb(a), emb(b)})));
  NoGradGuard no_grad;
  Tensor xa = ids({3, 5, 0, 0}), xb = ids({2, 7, 4, 0});
  // Keras ANDs the masks: steps 0 and 1 only, so the output is the LSTM over those two steps.
  Tensor want = lstm(add(emb(ids({3, 5})), emb(ids({2, 7}))));
  check_values(model({xa, xb})[0], values(want), 1e-6);
  // An OR would read step 2 as well, which changes the result.
  Tensor or_mask = Tensor::from_vector(std::vector<float>{1, 1, 1, 0}, {1, 4});
  Tensor with_or = lstm->call_with_state(add(emb(xa), emb(xb)), or_mask).output;
  CHECK_FALSE(allclose(with_or, want, 1e-4, 1e-6));
}

TEST_CASE("Concatenate along the time axis joins the masks", "[graph]") {
  set_seed(12);
  auto emb = layers::Embedding(10, 4, {.mask_zero = true});
  auto lstm = layers::LSTM(3);
  auto a = layers::Input({2}), b = layers::Input({3});
  Model model({a, b}, lstm(layers::Concatenate(1)({emb(a), emb(b)})));
  NoGradGuard no_grad;
  // Joined mask [1, 0, 1, 1, 0]: the LSTM reads ids 3, 4, 5.
  Tensor got = model({ids({3, 0}), ids({4, 5, 0})})[0];
  check_values(got, values(lstm(emb(ids({3, 4, 5})))), 1e-6);
}

TEST_CASE("Concatenate along the features keeps a step when any input keeps it", "[graph]") {
  set_seed(13);
  auto masked = layers::Embedding(10, 2, {.mask_zero = true});
  auto masked2 = layers::Embedding(10, 2, {.mask_zero = true});
  auto plain = layers::Embedding(10, 2);
  auto lstm = layers::LSTM(3);
  auto a = layers::Input({3}), b = layers::Input({3});
  NoGradGuard no_grad;
  Tensor xa = ids({3, 0, 0}), xb = ids({0, 4, 0});

  // Both masked: [1, 0, 0] or [0, 1, 0] -> [1, 1, 0] (Keras 3's any over the widened masks).
  Model both({a, b}, lstm(layers::Concatenate()({masked(a), masked2(b)})));
  Tensor joined = concatenate({masked(xa), masked2(xb)}, -1);
  Tensor keep = Tensor::from_vector(std::vector<float>{1, 1, 0}, {1, 3});
  check_values(both({xa, xb})[0], values(lstm->call_with_state(joined, keep).output), 1e-6);

  // One input without a mask counts as all ones: every step is read.
  auto c = layers::Input({3}), d = layers::Input({3});
  Model one({c, d}, lstm(layers::Concatenate()({masked(c), plain(d)})));
  check_values(one({xa, xb})[0], values(lstm(concatenate({masked(xa), plain(xb)}, -1))), 1e-6);
}

TEST_CASE("Dot drops the mask as Keras's does", "[graph]") {
  auto dot = layers::Dot(2);
  Tensor x = Tensor::ones({1, 3, 2});
  Tensor m = Tensor::from_vector(std::vector<float>{1, 0, 1}, {1, 3});
  CHECK_FALSE(dot->compute_mask(std::vector<Tensor>{x, x}, std::vector<Tensor>{m, m}).defined());
  auto add_layer = layers::Add();
  Tensor anded = add_layer->compute_mask(std::vector<Tensor>{x, x},
                                         std::vector<Tensor>{m, Tensor::from_vector(std::vector<float>{1, 1, 0}, {1, 3})});
  check_values(anded, {1, 0, 0}, 0);
}

namespace {

// Per-step -log p[target] and hits of argmax, summed over the steps whose id is not 0.
struct Unmasked {
  double loss = 0, hits = 0, count = 0;
};

Unmasked by_hand(const Tensor& probs, const Tensor& ids, const Tensor& targets) {
  Unmasked u;
  const std::int64_t n = probs.shape()[0], t = probs.shape()[1], c = probs.shape()[2];
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t s = 0; s < t; ++s) {
      if (ids.at(i * t + s) == 0) continue;
      const auto y = static_cast<std::int64_t>(targets.at(i * t + s));
      std::int64_t best = 0;
      for (std::int64_t k = 1; k < c; ++k)
        if (probs.at((i * t + s) * c + k) > probs.at((i * t + s) * c + best)) best = k;
      u.loss -= std::log(probs.at((i * t + s) * c + y));
      u.hits += best == y;
      u.count += 1;
    }
  return u;
}

}  // namespace

TEST_CASE("The output's mask weights the loss and the metrics: a padded batch scores only its real steps",
          "[graph]") {
  set_seed(14);
  // Two sequences of 3 and 2 real steps, right-padded with id 0 to 5 steps.
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 0, 0, 4, 5, 0, 0, 0}, {2, 5});
  Tensor y = Tensor::from_vector(std::vector<float>{0, 2, 1, 1, 1, 2, 0, 2, 2, 2}, {2, 5});
  auto emb = layers::Embedding(8, 4, {.mask_zero = true});
  auto lstm = layers::LSTM(6, {.return_sequences = true});
  auto head = layers::TimeDistributed(layers::Dense(3, {.activation = "softmax"}));
  auto in = layers::Input({5});
  Model functional(in, head(lstm(emb(in))));
  Sequential sequential({layers::Input({5}), emb, lstm, head});
  for (Model* model : {&functional, static_cast<Model*>(&sequential)}) {
    model->compile({.optimizer = "sgd", .loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
    Tensor probs = model->predict(x);
    const Unmasked want = by_hand(probs, x, y);
    REQUIRE(want.count == 5);
    // Keras: sum over the real steps / their count (the padded steps weigh nothing).
    auto logs = model->evaluate(x, y, {.verbose = 0});
    CHECK(logs["loss"] == Approx(want.loss / want.count).epsilon(1e-5));
    CHECK(logs["accuracy"] == Approx(want.hits / want.count).epsilon(1e-6));
    // With sample weights (1, 3): Keras multiplies them into the masked weights.
    auto weighted = model->evaluate(x, y, {.verbose = 0, .sample_weight = Tensor::from_vector(std::vector<float>{1, 3}, {2})});
    const Unmasked first = by_hand(probs.slice(0, 1), x.slice(0, 1), y.slice(0, 1));
    const Unmasked second = by_hand(probs.slice(1, 2), x.slice(1, 2), y.slice(1, 2));
    CHECK(weighted["loss"] == Approx((first.loss + 3 * second.loss) / want.count).epsilon(1e-5));
  }
}
