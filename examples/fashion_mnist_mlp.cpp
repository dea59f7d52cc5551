// SPDX-License-Identifier: Apache-2.0
// Trains Flatten → Dense(512, relu) → Dropout(0.2) → Dense(10, softmax) on the real
// Fashion-MNIST (Debian's dataset-fashion-mnist), reports the test accuracy, saves the model as
// a Keras .h5 file and reloads it into a fresh model, whose accuracy is the same.
#include <cstdio>
#include <cstring>

#include <lamina/lamina.hpp>
#include <lamina/models.hpp>

#include "fashion_mnist_common.hpp"

using namespace lamina;

// fashion_mnist_mlp [--dtype-policy mixed_bfloat16]: Keras's dtype policy for every layer
// (float32 variables, bfloat16 activations).
int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--dtype-policy") == 0) set_dtype_policy(argv[2]);
  set_seed(42);
  auto [train, test] = datasets::fashion_mnist::load_data();
  // Standardised pixels: Adam converges faster than on [0, 1].
  auto [x_train, x_test] = fashion_mnist::standardized(train, test);
  Sequential model = fashion_mnist::mlp();
  model.summary();
  fashion_mnist::to_chosen_device(model);  // LAMINA_DEVICE=cuda:0 trains on the GPU
  model.fit(x_train, train.y,
            {.batch_size = 128, .epochs = 5,
             .callbacks = {fashion_mnist::halve_late()}});

  auto scores = model.evaluate(x_test, test.y, {.verbose = 0});
  std::printf("test loss: %.4f\ntest accuracy: %.4f\n", scores["loss"], scores["accuracy"]);

  model.save("fashion_mnist_mlp.h5");  // Keras's HDF5 format: Keras can load it too
  Model reloaded = models::load_model("fashion_mnist_mlp.h5");
  fashion_mnist::to_chosen_device(reloaded);  // the same device's kernels: the same accuracy
  auto again = reloaded.evaluate(x_test, test.y, {.verbose = 0});
  std::printf("saved fashion_mnist_mlp.h5\nreloaded test accuracy: %.4f\n", again["accuracy"]);
  return again["accuracy"] == scores["accuracy"] ? 0 : 1;
}
