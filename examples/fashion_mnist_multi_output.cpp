// SPDX-License-Identifier: Apache-2.0
// One image, two heads: the Fashion-MNIST class (10) and a coarser group (3: tops, footwear,
// other), trained together through the Functional API with per-head losses, weights and metrics.
#include <cstdint>
#include <cstdio>
#include <vector>

#include <lamina/lamina.hpp>

#include "fashion_mnist_common.hpp"

using namespace lamina;

// Tops: T-shirt 0, Pullover 2, Dress 3, Coat 4, Shirt 6; footwear: Sandal 5, Sneaker 7, Ankle
// boot 9; other: Trouser 1, Bag 8.
Tensor group_of(const Tensor& y) {
  static const std::int64_t group[10] = {0, 2, 0, 0, 0, 1, 0, 1, 2, 1};
  std::vector<std::int64_t> g;
  for (auto c : y.to_vector<std::int64_t>()) g.push_back(group[c]);
  return Tensor::from_vector(g, y.shape());
}

int main() {
  set_seed(42);
  auto [train, test] = datasets::fashion_mnist::load_data();
  auto [x_train, x_test] = fashion_mnist::standardized(train, test);

  auto image = layers::Input({28, 28}, {.name = "image"});
  auto x = layers::Flatten()(image);
  x = layers::Dense(512, {.activation = "relu"})(x);
  x = layers::Dropout(0.2)(x);
  auto cls = layers::Dense(10, {.activation = "softmax", .name = "cls"})(x);
  auto group = layers::Dense(3, {.activation = "softmax", .name = "group"})(x);
  Model model(image, {cls, group});
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 1e-3}),
                 .loss = {{"cls", "sparse_categorical_crossentropy"},
                          {"group", "sparse_categorical_crossentropy"}},
                 .loss_weights = {{"cls", 1.0}, {"group", 0.5}},
                 .metrics = {{"cls", {"accuracy"}}, {"group", {"accuracy"}}}});
  model.summary();
  model.fit(x_train, {{"cls", train.y}, {"group", group_of(train.y)}},
            {.batch_size = 128, .epochs = 5,
             .callbacks = {fashion_mnist::halve_late()}});

  auto scores = model.evaluate(x_test, {{"cls", test.y}, {"group", group_of(test.y)}}, {.verbose = 0});
  std::printf("test loss: %.4f\n", scores["loss"]);
  std::printf("group accuracy: %.4f\n", scores["group_accuracy"]);
  std::printf("class accuracy: %.4f\n", scores["cls_accuracy"]);
  std::printf("test accuracy: %.4f\n", scores["cls_accuracy"]);
}
