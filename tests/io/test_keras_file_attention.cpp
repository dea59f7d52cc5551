// SPDX-License-Identifier: Apache-2.0
// The real tf.keras 2.11 file with an Attention layer (tests/fixtures/keras_files/
// k2_dl4j_functional_attention.h5) loads and predicts what an independent numpy forward pass over
// its weights gives (tests/fixtures/make_attention_fixtures.py, read with h5py).
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include <lamina/lamina.hpp>
#include <nlohmann/json.hpp>

#include "io/h5_test_files.hpp"
#include "support/keras_export.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using lamina::testing::keras_file;

namespace {
Tensor tensor_of(const nlohmann::json& values, const Shape& shape) {
  return Tensor::from_vector(values.get<std::vector<double>>(), shape).astype(float32);
}
}  // namespace

TEST_CASE("tf.keras 2.11's Functional model with Attention on rank-2 tensors loads and predicts its numpy forward pass",
          "[attention][h5io][keras_export]") {
  std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/attention.json");
  REQUIRE(in.good());
  const auto fixture = nlohmann::json::parse(in)["keras_file"];
  const Shape shape(fixture["input_shape"].get<std::vector<std::int64_t>>());
  const Tensor x = tensor_of(fixture["input"], shape);

  Model model = models::load_model(keras_file("k2_dl4j_functional_attention.h5"));
  CHECK(model.count_params() == 2849);
  auto* attention = dynamic_cast<layers::AttentionLayer*>(model.get_layer("attention").get());
  REQUIRE(attention);
  CHECK(attention->dropout() == Approx(0.2));
  CHECK_FALSE(attention->use_scale());
  CHECK(attention->score_mode() == "dot");

  // Keras 2 multiplied rank-2 query and key as matrices, so the rows of one predict batch attend
  // to each other: the output depends on how predict splits the input, as it did in Keras.
  const Tensor whole = model.predict(x);
  REQUIRE(whole.shape() == Shape{shape[0], 1});
  testing::check_values(whole, fixture["output"].get<std::vector<double>>(), 1e-5);
  testing::export_for_keras("h5_k2_dl4j_functional_attention", model, x);
  testing::check_values(model.predict(x, {.batch_size = 3}), fixture["output_batch_3"].get<std::vector<double>>(), 1e-5);
}
