// Trains Flatten → Dense(512, relu) → Dropout(0.2) → Dense(10, softmax) on the real
// Fashion-MNIST (Debian's dataset-fashion-mnist), reports the test accuracy, saves the model as
// a Keras .h5 file and reloads it into a fresh model, whose accuracy is the same.
#include <cmath>
#include <cstdio>

#include <lamina/lamina.hpp>
#include <lamina/models.hpp>

using namespace lamina;

int main() {
  set_seed(42);
  auto [train, test] = datasets::fashion_mnist::load_data();
  // Standardise with the training set's statistics: Adam converges faster than on [0, 1].
  Tensor x_train = train.x.astype(float32) / 255.0;
  const double mu = x_train.mean().item();
  const double sd = std::sqrt(((x_train - mu) * (x_train - mu)).mean().item());
  x_train = (x_train - mu) / sd;
  Tensor x_test = (test.x.astype(float32) / 255.0 - mu) / sd;

  Sequential model({
      layers::Input({28, 28}),
      layers::Flatten(),
      layers::Dense(512, {.activation = "relu"}),
      layers::Dropout(0.2),
      layers::Dense(10, {.activation = "softmax"}),
  });
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 1e-3}),
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  model.summary();
  // Halve the rate for each of the last three epochs: the final weights settle instead of
  // bouncing around the minimum.
  auto halve_late = [](int epoch, double lr) { return epoch >= 2 ? lr * 0.5 : lr; };
  model.fit(x_train, train.y,
            {.batch_size = 128, .epochs = 5,
             .callbacks = {callbacks::LearningRateScheduler(halve_late)}});

  auto scores = model.evaluate(x_test, test.y, {.verbose = 0});
  std::printf("test loss: %.4f\ntest accuracy: %.4f\n", scores["loss"], scores["accuracy"]);

  model.save("fashion_mnist_mlp.h5");  // Keras's HDF5 format: Keras can load it too
  Model reloaded = models::load_model("fashion_mnist_mlp.h5");
  auto again = reloaded.evaluate(x_test, test.y, {.verbose = 0});
  std::printf("saved fashion_mnist_mlp.h5\nreloaded test accuracy: %.4f\n", again["accuracy"]);
  return again["accuracy"] == scores["accuracy"] ? 0 : 1;
}
