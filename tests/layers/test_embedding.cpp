// SPDX-License-Identifier: Apache-2.0
// Embedding: lookup, scatter-add gradient (hand-derived and finite differences), mask_zero,
// out-of-range ids, config round trip.
#include <catch2/catch.hpp>

#include <lamina/lamina.hpp>

#include "support/gradcheck.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using lamina::testing::check_values;
using lamina::testing::seq;
using lamina::testing::values;

TEST_CASE("Embedding looks rows up and its gradient scatter-adds into the used rows",
          "[embedding]") {
  auto emb = layers::Embedding(5, 3);
  emb->build_for({-1, 4});
  emb->embeddings = seq({5, 3}).set_requires_grad(true);
  Tensor ids = Tensor::from_vector(std::vector<std::int64_t>{1, 4, 1, 0, 2, 2, 2, 3}, {2, 4});
  Tensor y = emb(ids);
  REQUIRE(y.shape() == Shape{2, 4, 3});
  const auto table = values(emb->embeddings);
  for (int j = 0; j < 3; ++j) {
    CHECK(y.at(0 * 3 + j) == table[1 * 3 + j]);
    CHECK(y.at(1 * 3 + j) == table[4 * 3 + j]);
    CHECK(y.at(7 * 3 + j) == table[3 * 3 + j]);
  }
  // d sum(y · w)/d table[r] = Σ over positions holding id r of w[position]; with w = 1 that is
  // the count of r: row 0 once, 1 twice, 2 three times, 3 once, 4 once.
  sum(y).backward();
  const std::vector<double> counts{1, 2, 3, 1, 1};
  for (int r = 0; r < 5; ++r)
    for (int j = 0; j < 3; ++j) CHECK(emb->embeddings.grad().at(r * 3 + j) == counts[r]);
  auto res = testing::gradcheck([&](const std::vector<Tensor>&) { return emb(ids); }, {},
                                {emb->embeddings});
  INFO(res.report);
  CHECK(res.ok);
}

TEST_CASE("Embedding refuses ids outside 0 <= id < input_dim, naming the id and input_dim", "[embedding]") {
  auto emb = layers::Embedding(10, 4, {.name = "words"});
  emb->build_for({-1, 3});
  NoGradGuard no_grad;
  CHECK_THROWS_WITH(emb(Tensor::from_vector(std::vector<std::int32_t>{1, 10, 2}, {1, 3})),
                    Contains("Embedding 'words'") && Contains("index 10") && Contains("input_dim=10"));
  CHECK_THROWS_WITH(emb(Tensor::from_vector(std::vector<float>{-1, 0, 2}, {1, 3})), Contains("index -1"));
  CHECK_THROWS_WITH(emb(Tensor::from_vector(std::vector<float>{0.5f, 0, 2}, {1, 3})), Contains("0.5"));
  CHECK_THROWS_AS(layers::Embedding(0, 4), ValueError);
}

TEST_CASE("Embedding mask_zero makes the mask ids != 0 and the default initializer is uniform(±0.05)",
          "[embedding][masking]") {
  auto emb = layers::Embedding(50, 8, {.mask_zero = true});
  emb->build_for({-1, 3});
  for (double v : values(emb->embeddings)) CHECK(std::abs(v) <= 0.05);
  Tensor ids = Tensor::from_vector(std::vector<std::int64_t>{3, 0, 7, 0, 0, 1}, {2, 3});
  Tensor m = emb->compute_mask(ids, Tensor());
  check_values(m, {1, 0, 1, 0, 0, 1}, 0);
  auto plain = layers::Embedding(50, 8);
  CHECK_FALSE(plain->compute_mask(ids, Tensor()).defined());
}

TEST_CASE("Embedding config uses Keras 3's keys and round-trips", "[embedding]") {
  auto emb = layers::Embedding(100, 16, {.mask_zero = true, .name = "tok"});
  nlohmann::json c = emb->get_config();
  CHECK(c["input_dim"] == 100);
  CHECK(c["output_dim"] == 16);
  CHECK(c["mask_zero"] == true);
  CHECK(c["embeddings_initializer"]["class_name"] == "RandomUniform");
  auto again = layer_from_config("Embedding", c);
  CHECK(again->get_config() == c);
}
