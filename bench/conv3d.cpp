// SPDX-License-Identifier: Apache-2.0
// A small volumetric CNN: Conv3D(8, 3, same, relu) -> MaxPooling3D(2) -> Conv3D(16, 3, same, relu)
// -> MaxPooling3D(2) -> GlobalAveragePooling3D -> Dense(10, softmax) on random (batch, 16, 16, 16, 1)
// volumes. Prints RESULT lines with the median milliseconds of a forward pass (predict_on_batch)
// and of a training step (forward, backward, Adam) over --steps repetitions.
// bench/conv3d_keras.py times the same model in Keras 3 on TensorFlow.
//
//   conv3d [--threads T] [--steps S] [--batch B] [--size N]   (2, 10, 8, 16)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <lamina/lamina.hpp>

using namespace lamina;
using Clock = std::chrono::steady_clock;

namespace {

long arg(int argc, char** argv, const char* name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::strtol(argv[i + 1], nullptr, 10);
  return fallback;
}

template <class F>
double median_ms(long repeats, F&& f) {
  std::vector<double> ms;
  for (long i = 0; i < repeats; ++i) {
    const auto t = Clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const long threads = arg(argc, argv, "--threads", 2), steps = arg(argc, argv, "--steps", 10),
             batch = arg(argc, argv, "--batch", 8), size = arg(argc, argv, "--size", 16);
  set_num_threads(static_cast<int>(threads));
  set_seed(1);
  Sequential model({
      layers::Input({size, size, size, 1}),
      layers::Conv3D(8, 3, {.padding = "same", .activation = "relu"}),
      layers::MaxPooling3D(2),
      layers::Conv3D(16, 3, {.padding = "same", .activation = "relu"}),
      layers::MaxPooling3D(2),
      layers::GlobalAveragePooling3D(),
      layers::Dense(10, {.activation = "softmax"}),
  });
  model.compile({.optimizer = optimizers::Adam(), .loss = "sparse_categorical_crossentropy"});
  const Tensor x = random_uniform({batch, size, size, size, 1});
  const Tensor y = Tensor::from_vector(std::vector<float>(static_cast<std::size_t>(batch), 3.0f), {batch});
  model.train_on_batch(x, y);  // warm-up: allocator caches, thread pool
  const double forward = median_ms(steps, [&] { model.predict_on_batch(x); });
  const double train = median_ms(steps, [&] { model.train_on_batch(x, y); });
  std::printf("RESULT conv3d forward_ms=%.2f train_step_ms=%.2f batch=%ld size=%ld threads=%ld\n", forward, train,
              batch, size, threads);
  return 0;
}
