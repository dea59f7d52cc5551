// Trains a small CNN with BatchNormalization and Dropout on the real Fashion-MNIST (Debian's
// dataset-fashion-mnist), prints seconds per epoch, then reports the test accuracy.
//
//   Conv2D(32, 3) → BN → ReLU → MaxPooling2D(2)
//   Conv2D(64, 3) → BN → ReLU → MaxPooling2D(2)
//   Flatten → Dense(128, relu) → Dropout(0.3) → Dense(10, softmax)
#include <chrono>
#include <cstdio>

#include <lamina/lamina.hpp>

using namespace lamina;

namespace {
// Prints the wall time of each epoch (the number the README and the benchmarks quote).
class EpochTimer : public Callback {
 public:
  void on_epoch_begin(int, const Logs&) override { start_ = std::chrono::steady_clock::now(); }
  void on_epoch_end(int epoch, const Logs&) override {
    std::chrono::duration<double> s = std::chrono::steady_clock::now() - start_;
    std::printf("epoch %d took %.1f s\n", epoch + 1, s.count());
  }

 private:
  std::chrono::steady_clock::time_point start_;
};
}  // namespace

int main() {
  set_seed(42);
  auto [train, test] = datasets::fashion_mnist::load_data();
  Tensor x_train = train.x.astype(float32).reshape({-1, 28, 28, 1}) / 255.0;
  Tensor x_test = test.x.astype(float32).reshape({-1, 28, 28, 1}) / 255.0;

  // The convolutions have no bias: BatchNormalization's beta takes its place.
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
  model.summary();
  // Halve the rate for each of the last three epochs: the weights settle instead of bouncing
  // around the minimum (the same schedule as the MLP trainer).
  auto halve_late = [](int epoch, double lr) { return epoch >= 2 ? lr * 0.5 : lr; };
  model.fit(x_train, train.y,
            {.batch_size = 128,
             .epochs = 5,
             .callbacks = {callbacks::LearningRateScheduler(halve_late), EpochTimer()}});

  auto scores = model.evaluate(x_test, test.y, {.verbose = 0});
  std::printf("test loss: %.4f\ntest accuracy: %.4f\n", scores["loss"], scores["accuracy"]);
}
