// SPDX-License-Identifier: Apache-2.0
// The input pipeline alone, and the CNN fed by it. Prints RESULT lines:
//   pipeline: elements/s of from_tensor_slices -> shuffle(10000) -> map(random crop with padding
//             2 + random flip, num_parallel_calls threads) -> batch(128) -> prefetch(AUTOTUNE)
//             over the 60000 Fashion-MNIST training images (the median of --epochs passes);
//   cnn:      seconds of one training epoch of the CNN of examples/fashion_mnist_cnn.cpp fed by
//             preloaded tensors and by the pipeline above (--cnn P: the medians of P epochs each,
//             alternating; --map N: the map's num_parallel_calls there, default --threads,
//             -1 for AUTOTUNE); each epoch's wall and CPU seconds go to stderr.
// bench/dataset_pipeline_torch.py measures PyTorch's DataLoader doing the same work.
//
//   dataset_pipeline [--threads T] [--epochs E] [--cnn P] [--map N]   (2, 3, 0, T)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <sys/resource.h>

#include <lamina/lamina.hpp>

#include "fashion_mnist_common.hpp"

using namespace lamina;
using Clock = std::chrono::steady_clock;

namespace {

long arg(int argc, char** argv, const char* name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::strtol(argv[i + 1], nullptr, 10);
  return fallback;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double cpu_seconds() {  // user + system time of the whole process
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

auto pipeline(const Tensor& x, const Tensor& y, int threads) {
  auto augment = [](Tensor img, Tensor label) {
    return std::pair{image::random_flip_left_right(image::random_crop(img, 28, 28, {.padding = 2})), label};
  };
  return Dataset::from_tensor_slices(x, y)
      .shuffle(10'000, {.seed = 1})
      .map(augment, {.num_parallel_calls = threads, .seed = 1})
      .batch(128)
      .prefetch(AUTOTUNE);
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = static_cast<int>(arg(argc, argv, "--threads", 2));
  const int epochs = static_cast<int>(arg(argc, argv, "--epochs", 3));
  set_num_threads(threads);
  set_seed(42);
  auto [train, test] = datasets::fashion_mnist::load_data();
  Tensor x = train.x.astype(float32).reshape({-1, 28, 28, 1}) / 255.0;

  std::vector<double> rates;
  auto ds = pipeline(x, train.y, threads);
  for (int e = 0; e < epochs; ++e) {
    const auto start = Clock::now();
    std::int64_t seen = 0;
    for (auto [xb, yb] : ds) seen += xb.dim(0);
    rates.push_back(static_cast<double>(seen) / seconds_since(start));
  }
  std::printf("RESULT framework=lamina what=pipeline threads=%d elements_per_s=%.0f\n", threads, median(rates));

  const int pairs = static_cast<int>(arg(argc, argv, "--cnn", 0));
  if (pairs == 0) return 0;
  // Pairs of epochs, one fed by preloaded tensors and one by the pipeline, alternating which goes
  // first (preloaded, pipeline, pipeline, preloaded, ...: the machine's load drifts, and the first
  // epoch of a process also warms the allocator's cache); the medians count.
  const int map_calls = static_cast<int>(arg(argc, argv, "--map", threads));
  auto epoch_seconds = [&](bool pipelined) {
    set_seed(7);
    Sequential model = fashion_mnist::cnn();
    const auto start = Clock::now();
    const double cpu_start = cpu_seconds();
    if (pipelined)
      model.fit(pipeline(x, train.y, map_calls), {.epochs = 1, .verbose = 0});
    else
      model.fit(x, train.y, {.batch_size = 128, .epochs = 1, .verbose = 0});
    const double wall = seconds_since(start);
    std::fprintf(stderr, "%s epoch: %.2f s, %.2f CPU s\n", pipelined ? "pipeline" : "preloaded", wall,
                 cpu_seconds() - cpu_start);
    return wall;
  };
  std::vector<double> preloaded_runs, fed_runs;
  for (int round = 0; round < 2 * pairs; ++round) {
    const bool pipelined = round % 4 == 1 || round % 4 == 2;
    (pipelined ? fed_runs : preloaded_runs).push_back(epoch_seconds(pipelined));
  }
  const double preloaded = median(preloaded_runs), fed = median(fed_runs);
  std::printf("RESULT framework=lamina what=cnn_epoch threads=%d map_calls=%d preloaded_s=%.2f pipeline_s=%.2f "
              "overhead_pct=%.1f\n", threads, map_calls, preloaded, fed, 100.0 * (fed / preloaded - 1.0));
}
