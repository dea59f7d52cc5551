// SPDX-License-Identifier: Apache-2.0
// GPU training throughput of lamina on cuda:0, against bench/gpu/gpu_bench_torch.py (PyTorch
// eager, same models, batch, optimizer and synthetic data). bench/gpu/check.sh runs both.
//
//   gpu_bench --model mlp|cnn|resnet20 [--batch N] [--steps S] [--policy float32|mixed_bfloat16]
//             [--device cuda:0]
//
// mlp and cnn are bench/fashion_mnist.cpp's models on Fashion-MNIST-shaped images (28×28×1);
// resnet20 is He et al.'s CIFAR ResNet-20 (3 stages of 3 basic blocks, 16/32/64 filters, 1×1
// projection shortcuts where the shape changes) on CIFAR-10-shaped images (32×32×3). The data is
// random (uniform pixels, uniform labels over 10 classes): throughput does not depend on it.
// Timing: `steps` training steps of one fit() after a warm-up fit of 3 steps, the device
// synchronised before the clock stops. Reports images/s and lamina's peak GPU memory (bytes held
// by tensors, memory_stats(cuda:0).peak_bytes_in_use).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <lamina/cuda.hpp>
#include <lamina/lamina.hpp>

using namespace lamina;

namespace {

std::string text_arg(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return fallback;
}

void compile(Model& m, bool from_logits) {
  if (from_logits)
    m.compile({.optimizer = optimizers::Adam({.learning_rate = 1e-3, .epsilon = 1e-7}),
               .loss = losses::SparseCategoricalCrossentropy({.from_logits = true})});
  else
    m.compile({.optimizer = optimizers::Adam({.learning_rate = 1e-3, .epsilon = 1e-7}),
               .loss = "sparse_categorical_crossentropy"});
}

Model mlp() {
  Sequential m({layers::Input({28, 28, 1}), layers::Flatten(), layers::Dense(512, {.activation = "relu"}),
                layers::Dense(256, {.activation = "relu"}), layers::Dense(10)});
  compile(m, true);
  return m;
}

Model cnn() {
  Sequential m({layers::Input({28, 28, 1}), layers::Conv2D(32, 3, {.activation = "relu"}), layers::MaxPooling2D(2),
                layers::Conv2D(64, 3, {.activation = "relu"}), layers::MaxPooling2D(2), layers::Flatten(),
                layers::Dense(128, {.activation = "relu"}), layers::Dense(10, {.activation = "softmax"})});
  compile(m, false);
  return m;
}

KerasTensor conv_bn(const KerasTensor& x, std::int64_t filters, std::int64_t kernel, std::int64_t stride,
                       bool relu) {
  KerasTensor y = layers::Conv2D(filters, kernel, {.strides = stride, .padding = "same", .use_bias = false})(x);
  y = layers::BatchNormalization()(y);
  return relu ? layers::Activation("relu")(y) : y;
}

Model resnet20() {
  auto input = layers::Input({32, 32, 3});
  KerasTensor x = conv_bn(input, 16, 3, 1, true);
  std::int64_t filters = 16;
  for (int stage = 0; stage < 3; ++stage) {
    for (int block = 0; block < 3; ++block) {
      const std::int64_t stride = stage > 0 && block == 0 ? 2 : 1;
      KerasTensor y = conv_bn(x, filters, 3, stride, true);
      y = conv_bn(y, filters, 3, 1, false);
      KerasTensor shortcut = stride == 1 ? x : conv_bn(x, filters, 1, stride, false);
      x = layers::Activation("relu")(layers::Add()({y, shortcut}));
    }
    filters *= 2;
  }
  x = layers::GlobalAveragePooling2D()(x);
  Model m(input, layers::Dense(10)(x));
  compile(m, true);
  return m;
}

}  // namespace

int run(int argc, char** argv) {
  const std::string which = text_arg(argc, argv, "--model", "mlp");
  const long batch = std::strtol(text_arg(argc, argv, "--batch", "128").c_str(), nullptr, 10);
  const long steps = std::strtol(text_arg(argc, argv, "--steps", "200").c_str(), nullptr, 10);
  const std::string policy = text_arg(argc, argv, "--policy", "float32");
  const Device device = Device::parse(text_arg(argc, argv, "--device", "cuda:0"));
  if (batch < 1 || steps < 1 || (which != "mlp" && which != "cnn" && which != "resnet20")) {
    std::fprintf(stderr, "usage: %s --model mlp|cnn|resnet20 [--batch N] [--steps S] [--policy P] [--device D]\n", argv[0]);
    return 2;
  }
  set_dtype_policy(policy);
  set_seed(42);
  const Shape image = which == "resnet20" ? Shape{32, 32, 3} : Shape{28, 28, 1};
  const std::int64_t n = batch * steps;
  Tensor x = random_uniform(Shape{n, image[0], image[1], image[2]});
  // Uniform in [0, 10) truncated to the class index.
  Tensor y = random_uniform(Shape{n}, 0.0, 10.0).astype(int64);
  Model model = which == "mlp" ? mlp() : which == "cnn" ? cnn() : resnet20();
  model.to(device);
  const bool on_gpu = device.type == DeviceType::CUDA;
  // Warm-up: cuBLAS/cuDNN handles, the memory pool, the optimizer's slots.
  const std::int64_t warm = std::min<std::int64_t>(3, steps) * batch;
  model.fit(x.slice(0, warm), y.slice(0, warm), {.batch_size = batch, .epochs = 1, .verbose = 0});
  if (on_gpu) cuda::synchronize(device.index);
  reset_peak_memory_stats(device);
  const auto start = std::chrono::steady_clock::now();
  History h = model.fit(x, y, {.batch_size = batch, .epochs = 1, .verbose = 0, .shuffle = false});
  if (on_gpu) cuda::synchronize(device.index);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double peak_mb = static_cast<double>(memory_stats(device).peak_bytes_in_use) / (1 << 20);
  std::printf("RESULT framework=lamina model=%s batch=%ld policy=%s device=%s steps=%ld images_per_s=%.1f "
              "peak_gpu_mb=%.1f loss=%.4f\n",
              which.c_str(), batch, policy.c_str(), device.str().c_str(), steps, static_cast<double>(n) / seconds,
              peak_mb, h.history["loss"].back());
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpu_bench: error: %s\n", e.what());
    return 1;
  }
}
