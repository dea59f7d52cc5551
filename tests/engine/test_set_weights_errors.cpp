// SPDX-License-Identifier: Apache-2.0
// Layer::set_weights and Model::set_weights: a value of the wrong shape fails naming the layer, the
// weight and both shapes, and leaves every weight as it was.
#include <catch2/catch.hpp>

#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/model.hpp>

using namespace lamina;

TEST_CASE("set_weights names the layer and the weight whose shape is wrong", "[training]") {
  auto dense = layers::Dense(3, {.name = "dense_1"});
  dense->build_for({-1, 4});
  const std::vector<Tensor> before = dense->get_weights();
  CHECK_THROWS_MATCHES(dense->set_weights({Tensor::zeros({3, 4}), Tensor::zeros({3})}), ShapeError,
                       Catch::Message("Dense 'dense_1': weight 'kernel' expects shape (4, 3), got (3, 4)"));
  CHECK_THROWS_MATCHES(dense->set_weights({Tensor::zeros({4, 3}), Tensor::zeros({4})}), ShapeError,
                       Catch::Message("Dense 'dense_1': weight 'bias' expects shape (3,), got (4,)"));
  CHECK_THROWS_AS(dense->set_weights({Tensor::zeros({4, 3})}), ValueError);
  // Nothing was assigned by the failed calls.
  CHECK(dense->get_weights()[1].to_vector<float>() == before[1].to_vector<float>());
  CHECK(dense->get_weights()[0].to_vector<float>() == before[0].to_vector<float>());
}

TEST_CASE("a model's set_weights names the weight by its path inside the model", "[training]") {
  Sequential m({layers::Input({2}), layers::Dense(5, {.name = "hidden"}), layers::Dense(1, {.name = "out"})},
               "net");
  std::vector<Tensor> values = m.get_weights();
  values[2] = Tensor::zeros({1, 5});
  CHECK_THROWS_MATCHES(m.set_weights(values), ShapeError,
                       Catch::Message("Sequential 'net': weight 'out/kernel' expects shape (5, 1), got (1, 5)"));
}
