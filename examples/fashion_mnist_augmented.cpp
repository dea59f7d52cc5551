// Trains the Fashion-MNIST CNN (as examples/fashion_mnist_cnn.cpp) on an augmented input
// pipeline: shuffled, randomly mirrored and shifted (a 28x28 crop of the image padded by 2) on
// parallel map workers, batched and prefetched while the model trains. Reports the test accuracy.
#include <cstdio>

#include <lamina/lamina.hpp>

using namespace lamina;

int main() {
  set_seed(42);
  auto [train, test] = datasets::fashion_mnist::load_data();
  Tensor x_train = train.x.astype(float32).reshape({-1, 28, 28, 1}) / 255.0;
  Tensor x_test = test.x.astype(float32).reshape({-1, 28, 28, 1}) / 255.0;

  auto augment = [](Tensor x, Tensor y) {
    x = image::random_flip_left_right(x);
    x = image::random_crop(x, 28, 28, {.padding = 2});
    return std::pair{x, y};
  };
  auto train_ds = Dataset::from_tensor_slices(x_train, train.y)
                      .shuffle(10'000, {.seed = 42})
                      .map(augment, {.num_parallel_calls = AUTOTUNE, .seed = 42})
                      .batch(128)
                      .prefetch(AUTOTUNE);
  auto test_ds = Dataset::from_tensor_slices(x_test, test.y).batch(256);

  Sequential model({
      layers::Input({28, 28, 1}),
      layers::Conv2D(32, 3, {.use_bias = false}),
      layers::BatchNormalization(),
      layers::Activation("relu"),
      layers::MaxPooling2D(2),
      layers::Conv2D(64, 3, {.use_bias = false}),
      layers::BatchNormalization(),
      layers::Activation("relu"),
      layers::MaxPooling2D(2),
      layers::Flatten(),
      layers::Dense(128, {.activation = "relu"}),
      layers::Dropout(0.3),
      layers::Dense(10, {.activation = "softmax"}),
  });
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 1e-3}),
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  auto halve_late = [](int epoch, double lr) { return epoch >= 2 ? lr * 0.5 : lr; };
  model.fit(train_ds, {.epochs = 5, .callbacks = {callbacks::LearningRateScheduler(halve_late)}});

  auto scores = model.evaluate(test_ds, {.verbose = 0});
  std::printf("test loss: %.4f\ntest accuracy: %.4f\n", scores["loss"], scores["accuracy"]);
}
