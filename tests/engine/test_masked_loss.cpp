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
