// SPDX-License-Identifier: Apache-2.0
// Inference speed of a benchmark model (bench/bench_models.hpp, untrained: the arithmetic does not
// depend on the weights' values):
//   throughput: predict the 10,000 Fashion-MNIST test images at batch 1000, images/s (median of
//               --rounds passes after one warm-up pass; 0 skips it);
//   latency:    predict_on_batch of one image, --calls timed calls after --warmup untimed ones:
//               median, p99 and max µs, with what the timed calls cost besides time — heap
//               allocations (operator new), device-allocator requests that missed its cache,
//               minor page faults and context switches — per call, to tell where a slow call
//               comes from. --histogram prints the latencies' distribution.
// bench/infer_torch.py is the PyTorch side; `bench/run.sh infer` compares them.
//
//   infer [--model mlp|cnn|lstm] [--threads T] [--rounds R] [--calls N] [--warmup W] [--histogram 1]
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include <lamina/lamina.hpp>

#include "bench_models.hpp"

// Counts the heap allocations of the whole program: the latency loop reports those of its calls.
namespace {
std::atomic<std::size_t> g_news{0};
}
void* operator new(std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace lamina;
using bench::arg;
using bench::text_arg;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())));
  return v[i];
}

struct Usage {
  long minflt, nvcsw, nivcsw;
  static Usage now() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);  // the whole process: the pool's workers switch too
    return {ru.ru_minflt, ru.ru_nvcsw, ru.ru_nivcsw};
  }
};

}  // namespace

int main(int argc, char** argv) {
  const std::string which = text_arg(argc, argv, "--model", "mlp");
  const int threads = static_cast<int>(arg(argc, argv, "--threads", 2));
  const int rounds = static_cast<int>(arg(argc, argv, "--rounds", 5));
  const long calls = arg(argc, argv, "--calls", 2000);
  const long warmup = arg(argc, argv, "--warmup", 200);
  const bool histogram = arg(argc, argv, "--histogram", 0) != 0;
  if (!bench::known(which) || threads < 1 || rounds < 0 || calls < 1 || warmup < 0) {
    std::fprintf(stderr, "usage: %s [--model mlp|cnn|lstm] [--threads T] [--rounds R] [--calls N] [--warmup W]\n",
                 argv[0]);
    return 2;
  }
  set_num_threads(threads);
  set_seed(42);
  auto [train, test] = datasets::fashion_mnist::load_data();
  const Tensor x = bench::images(test.x, which);
  const std::int64_t n = x.shape()[0];
  Sequential model = bench::build(which);

  // Throughput (--rounds 0 skips it, to profile the latency loop alone).
  if (rounds > 0) model.predict(x, {.batch_size = 1000});
  std::vector<double> rates;
  for (int r = 0; r < rounds; ++r) {
    const auto t = Clock::now();
    const Tensor y = model.predict(x, {.batch_size = 1000});
    rates.push_back(static_cast<double>(n) / seconds_since(t));
  }
  const double images_per_s = rates.empty() ? 0.0 : quantile(rates, 0.5);

  // Batch-1 latency, one image after another as a server would see them.
  const Tensor one = x.slice(0, 1);
  for (long i = 0; i < warmup; ++i) model.predict_on_batch(one);
  std::vector<double> us(static_cast<std::size_t>(calls));
  const MemoryStats m0 = memory_stats();
  const Usage u0 = Usage::now();
  const std::size_t news0 = g_news.load();
  for (long i = 0; i < calls; ++i) {
    const auto t = Clock::now();
    const Tensor y = model.predict_on_batch(one);
    us[static_cast<std::size_t>(i)] = 1e6 * seconds_since(t);
  }
  const std::size_t news = g_news.load() - news0;
  const Usage u1 = Usage::now();
  const MemoryStats m1 = memory_stats();
  const double per_call = 1.0 / static_cast<double>(calls);
  const double misses = static_cast<double>((m1.allocations - m0.allocations) - (m1.cache_hits - m0.cache_hits));
  const double median_us = quantile(us, 0.5), p99_us = quantile(us, 0.99), max_us = quantile(us, 1.0);

  if (histogram) {
    std::printf("latency histogram (µs, calls):\n");
    const double edges[] = {10, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200, 300, 500, 1000, 2000, 5000, 1e9};
    double lo = 0;
    for (double hi : edges) {
      const auto c = std::count_if(us.begin(), us.end(), [&](double v) { return v >= lo && v < hi; });
      if (c) std::printf("  [%6.0f, %6.0f) %ld\n", lo, hi, static_cast<long>(c));
      lo = hi;
    }
  }
  std::printf("lamina %s threads %d: predict %.0f images/s (batch 1000); predict_on_batch(1) median %.1f µs, "
              "p99 %.1f µs, max %.0f µs; per call: %.2f heap allocations, %.2f allocator misses, "
              "%.2f page faults, %.2f voluntary + %.2f involuntary context switches\n",
              which.c_str(), get_num_threads(), images_per_s, median_us, p99_us, max_us, news * per_call,
              misses * per_call, (u1.minflt - u0.minflt) * per_call, (u1.nvcsw - u0.nvcsw) * per_call,
              (u1.nivcsw - u0.nivcsw) * per_call);
  std::printf("RESULT framework=lamina model=%s threads=%d images_per_s=%.1f median_us=%.2f p99_us=%.2f "
              "max_us=%.1f news_per_call=%.2f misses_per_call=%.3f faults_per_call=%.3f csw_per_call=%.3f\n",
              which.c_str(), get_num_threads(), images_per_s, median_us, p99_us, max_us, news * per_call,
              misses * per_call, (u1.minflt - u0.minflt) * per_call,
              (u1.nvcsw - u0.nvcsw + u1.nivcsw - u0.nivcsw) * per_call);
}
