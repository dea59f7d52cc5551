// SPDX-License-Identifier: Apache-2.0
// A user's script against an installed lamina: a 2-layer Sequential, predict, checked output, and
// its weights saved and loaded back (the load runs the installed HDF5 probe helper).
// Then a model read from JSON whose layer classes this program never names: linked against the
// static library, the catalogue must still hold them.
// Prints "lamina VERSION consumer OK" and returns 0 when the prediction has the expected shape,
// each softmax row sums to 1 and the loaded weights predict the same; returns 1 otherwise.
#include <lamina/lamina.hpp>
#include <lamina/version.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>

#include <unistd.h>

using namespace lamina;

int main() {
  try {
    set_seed(42);
    Sequential model({
        layers::Input({4}),
        layers::Dense(8, {.activation = "relu"}),
        layers::Dense(3, {.activation = "softmax"}),
    });
    Tensor x = Tensor::arange(20, float32).reshape({5, 4}) / 20.0f;
    Tensor probs = model.predict(x);

    if (probs.shape() != Shape{5, 3}) {
      std::printf("unexpected output shape %s\n", probs.shape().str().c_str());
      return 1;
    }
    for (std::int64_t i = 0; i < 5; ++i) {
      double row = 0;
      for (std::int64_t j = 0; j < 3; ++j) {
        double p = probs.at(i * 3 + j);
        if (!(p > 0.0 && p < 1.0)) {
          std::printf("probability out of range: %g\n", p);
          return 1;
        }
        row += p;
      }
      if (std::abs(row - 1.0) > 1e-5) {
        std::printf("row %lld sums to %.7f, not 1\n", static_cast<long long>(i), row);
        return 1;
      }
    }
    std::printf("params=%lld output=%s\n", static_cast<long long>(model.count_params()),
                probs.shape().str().c_str());
    if (model.count_params() != 4 * 8 + 8 + 8 * 3 + 3) {
      std::printf("unexpected parameter count\n");
      return 1;
    }
    // Saved and loaded back into a fresh model: the same predictions.
    const std::filesystem::path weights = std::filesystem::temp_directory_path() /
                                          ("lamina_consumer_" + std::to_string(::getpid()) + ".weights.h5");
    model.save_weights(weights.string());
    Sequential loaded({
        layers::Input({4}),
        layers::Dense(8, {.activation = "relu"}),
        layers::Dense(3, {.activation = "softmax"}),
    });
    try {
      loaded.load_weights(weights.string());
    } catch (...) {
      std::filesystem::remove(weights);
      throw;
    }
    std::filesystem::remove(weights);
    Tensor again = loaded.predict(x);
    for (std::int64_t i = 0; i < 15; ++i)
      if (again.at(i) != probs.at(i)) {
        std::printf("the loaded weights predict %g, not %g\n", again.at(i), probs.at(i));
        return 1;
      }
    // Classes named only in the file: GRU, Conv1D, GlobalAveragePooling1D.
    const char* json = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [null, 6, 2], "name": "in"}},
        {"class_name": "Conv1D", "config": {"name": "c", "filters": 3, "kernel_size": 2}},
        {"class_name": "GRU", "config": {"name": "g", "units": 4, "return_sequences": true}},
        {"class_name": "GlobalAveragePooling1D", "config": {"name": "p"}}]}})";
    Model from_file = models::model_from_json(json);
    if (from_file.predict(Tensor::ones({2, 6, 2})).shape() != Shape{2, 4}) {
      std::printf("the model read from JSON predicts the wrong shape\n");
      return 1;
    }
    // The library loaded is the one these headers describe.
    if (std::strcmp(lamina::version(), LAMINA_VERSION_STRING) != 0) {
      std::printf("library version %s, headers %s\n", lamina::version(), LAMINA_VERSION_STRING);
      return 1;
    }
    std::printf("lamina %s consumer OK\n", lamina::version());
    return 0;
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
}
