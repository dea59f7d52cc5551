// SPDX-License-Identifier: Apache-2.0
// Trains one of the benchmark models (bench/bench_models.hpp: mlp, cnn, lstm) on Fashion-MNIST
// and reports seconds per epoch, images/s and peak RSS.
// bench/fashion_mnist_torch.py runs the same models in PyTorch; bench/run.sh compares them.
//
//   fashion_mnist [--model mlp|cnn|lstm] [--batch N] [--epochs E] [--threads T]  (mlp, 128, 3, 2)
//   mpirun -np 2 fashion_mnist --distributed 1 --threads 1 ...   data-parallel (batch N global)
//
// The reported epoch time is the median over epochs 2..E: the first epoch also pays for first
// touches of the allocator cache, OpenBLAS's buffers and the page cache, which a long run does
// not. With E == 1 the single epoch is reported.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <lamina/distribute.hpp>
#include <lamina/lamina.hpp>

#include "bench_models.hpp"

using namespace lamina;
using bench::arg;
using bench::text_arg;

namespace {

class EpochTimer : public Callback {
 public:
  explicit EpochTimer(std::vector<double>* seconds) : seconds_(seconds) {}
  void on_epoch_begin(int, const Logs&) override { start_ = Clock::now(); }
  void on_epoch_end(int, const Logs& logs) override {
    seconds_->push_back(std::chrono::duration<double>(Clock::now() - start_).count());
    auto it = logs.find("loss");
    last_loss_ = it == logs.end() ? 0.0 : it->second;
  }
  double last_loss() const { return last_loss_; }

 private:
  using Clock = std::chrono::steady_clock;
  std::vector<double>* seconds_;
  Clock::time_point start_;
  double last_loss_ = 0.0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux reports KiB
}

}  // namespace

int main(int argc, char** argv) {
  const long batch = arg(argc, argv, "--batch", 128);
  const int epochs = static_cast<int>(arg(argc, argv, "--epochs", 3));
  const int threads = static_cast<int>(arg(argc, argv, "--threads", 2));
  const std::string which = text_arg(argc, argv, "--model", "mlp");
  if (batch < 1 || epochs < 1 || threads < 1 || !bench::known(which)) {
    std::fprintf(stderr,
                 "usage: %s [--model mlp|cnn|lstm] [--batch N>=1] [--epochs E>=1] [--threads T>=1]\n",
                 argv[0]);
    return 2;
  }
  std::unique_ptr<distribute::DataParallel> strategy;
  if (arg(argc, argv, "--distributed", 0)) {
    // --bucket-kb: the buckets' cap; --overlap 0: every bucket after backward (the baseline of
    // the overlap figure).
    strategy = std::make_unique<distribute::DataParallel>(distribute::DataParallelOptions{
        .bucket_bytes = static_cast<std::size_t>(arg(argc, argv, "--bucket-kb", 25 * 1024)) * 1024,
        .overlap_backward = arg(argc, argv, "--overlap", 1) != 0});
    if (!strategy->is_chief()) std::freopen("/dev/null", "w", stdout);  // rank 0 reports
  }
  const int processes = strategy ? strategy->num_replicas() : 1;
  set_num_threads(threads);
  set_seed(42);

  auto [train, test] = datasets::fashion_mnist::load_data();
  test = {};  // only the training split is used
  Tensor x_train = bench::images(train.x, which);
  train.x = Tensor();  // the uint8 source, converted
  const std::int64_t n = x_train.shape()[0];

  Sequential model = bench::build(which);

  std::vector<double> seconds;
  auto timer = std::make_shared<EpochTimer>(&seconds);
  FitOptions options{.batch_size = batch, .epochs = epochs, .verbose = 0, .callbacks = {timer}};
  if (strategy) options.distribution = *strategy;
  model.fit(x_train, train.y, options);

  for (std::size_t e = 0; e < seconds.size(); ++e)
    std::printf("epoch %zu: %.3f s\n", e + 1, seconds[e]);
  std::vector<double> steady(seconds.begin() + (seconds.size() > 1 ? 1 : 0), seconds.end());
  const double epoch_s = median(steady);
  const double rss = peak_rss_mb();
  std::printf("lamina %s batch %ld threads %d: %.3f s/epoch (median of epochs %s), %.0f images/s, "
              "peak RSS %.1f MB, final loss %.4f\n",
              which.c_str(), batch, get_num_threads(), epoch_s, seconds.size() > 1 ? "2..E" : "1",
              static_cast<double>(n) / epoch_s, rss, timer->last_loss());
  // Per train step: backward, and the gradients' all-reduce not hidden behind it (rank 0's).
  distribute::CommunicationStats comm;
  if (strategy) comm = strategy->communication_stats();
  const double per_step = comm.steps > 0 ? 1e3 / static_cast<double>(comm.steps) : 0.0;
  std::printf("RESULT framework=lamina model=%s batch=%ld threads=%d processes=%d epoch_s=%.4f images_per_s=%.1f "
              "peak_rss_mb=%.1f loss=%.4f overlap=%ld backward_ms=%.3f exposed_ms=%.3f\n",
              which.c_str(), batch, get_num_threads(), processes, epoch_s, static_cast<double>(n) / epoch_s,
              rss, timer->last_loss(), arg(argc, argv, "--overlap", 1), comm.backward_seconds * per_step,
              comm.exposed_seconds * per_step);
}
