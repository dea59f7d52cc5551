// SPDX-License-Identifier: Apache-2.0
// Masking and mask propagation: the Masking layer, masks flowing from Embedding / Masking through
// Sequential and Functional models into recurrent layers.
#include <catch2/catch.hpp>

#include <lamina/lamina.hpp>

#include "support/op_testing.hpp"

using namespace lamina;
using lamina::testing::check_values;
using lamina::testing::seq;
using lamina::testing::values;

TEST_CASE("Masking zeroes the steps whose features all equal mask_value and masks them",
          "[masking]") {
  auto masking = layers::Masking(-1.0);
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2, -1, -1, -1, 3, 0, 0}, {1, 4, 2});
  Tensor y = masking(x);
  check_values(y, {1, 2, 0, 0, -1, 3, 0, 0}, 0);
  check_values(masking->compute_mask(x, Tensor()), {1, 0, 1, 1}, 0);
  // y = x·keep(step): d sum(y)/dx is 1 on kept steps and 0 on masked ones (finite differences do
  // not apply: nudging a masked step's value unmasks it).
  Tensor xg = x.astype(float64).detach().set_requires_grad(true);
  sum(masking(xg)).backward();
  check_values(xg.grad(), {1, 1, 0, 0, 1, 1, 1, 1}, 0);
  nlohmann::json c = masking->get_config();
  CHECK(c["mask_value"] == -1.0);
  CHECK(layer_from_config("Masking", c)->get_config() == c);
  CHECK_THROWS_AS(masking->compute_output_shape({-1, 4}), ShapeError);
}

TEST_CASE("Sequential and Functional models carry Embedding's mask into the LSTM", "[masking][rnn]") {
  set_seed(4);
  auto emb = layers::Embedding(20, 6, {.mask_zero = true});
  auto lstm = layers::LSTM(5);
  Sequential model({layers::Input({7}), emb, lstm});
  // Right-padded ids: the padded model's output equals the unpadded sequence's.
  Tensor padded = Tensor::from_vector(std::vector<float>{4, 9, 2, 0, 0, 0, 0}, {1, 7});
  Tensor unpadded = Tensor::from_vector(std::vector<float>{4, 9, 2}, {1, 3});
  NoGradGuard no_grad;
  Tensor y = model.predict(padded, {.verbose = 0});
  Tensor want = lstm(emb(unpadded));
  check_values(y, values(want), 1e-6);
  // Without mask_zero the padding steps change the result.
  auto emb2 = layers::Embedding(20, 6);
  emb2->build_for({-1, 7});
  emb2->set_weights(emb->get_weights());
  CHECK_FALSE(allclose(lstm(emb2(padded)), want, 1e-4, 1e-6));

  auto in = layers::Input({7});
  auto out = lstm(emb(in));
  Model functional(in, out);
  check_values(functional.predict(padded, {.verbose = 0}), values(want), 1e-6);
}

TEST_CASE("Masking before an LSTM skips all-zero steps inside a Sequential", "[masking][rnn]") {
  set_seed(6);
  auto lstm = layers::LSTM(3);
  Sequential model({layers::Input({4, 2}), layers::Masking(), lstm});
  Tensor x = Tensor::from_vector(std::vector<float>{0.5f, 1, 0, 0, -1, 2, 0, 0}, {1, 4, 2});
  Tensor kept = Tensor::from_vector(std::vector<float>{0.5f, 1, -1, 2}, {1, 2, 2});
  NoGradGuard no_grad;
  check_values(model.predict(x, {.verbose = 0}), values(lstm(kept)), 1e-6);
}
