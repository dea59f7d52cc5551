// SPDX-License-Identifier: Apache-2.0
// Writes the examples' Fashion-MNIST MLP (Flatten → Dense(512, relu) → Dropout → Dense(10,
// softmax), freshly initialised) to the .keras file named on the command line: the model
// bench/serve.sh serves with lamina_serve. Serving speed does not depend on training.
#include <cstdio>

#include <lamina/lamina.hpp>

#include "fashion_mnist_common.hpp"

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: serve_mlp_model OUT.keras\n"), 2;
  lamina::set_seed(42);
  auto model = fashion_mnist::mlp();
  model.save(argv[1]);
  return 0;
}
