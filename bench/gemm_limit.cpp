// SPDX-License-Identifier: Apache-2.0
// "The limit" of the benchmark tables: the time of the GEMMs a model cannot avoid, with OpenBLAS
// alone at the model's exact shapes — nothing else of a training step or a prediction. For
// training, per Dense layer the forward product and both backward ones (dW = Xᵀ·dY, and
// dX = dY·Wᵀ except for the first layer, whose input needs no gradient); for the CNN the same
// three on the im2col matrices of each convolution (NHWC, valid 3×3: M = batch·oh·ow, K = 9·c).
// An epoch is 60,000 images: ⌊60000/batch⌋ full steps and one partial. For inference: the
// forward products for 10,000 images at batch 1000 (images/s), and for one image (µs).
//
//   gemm_limit [--model mlp|cnn] [--batch N] [--threads T] [--repeat R]
//
// OpenBLAS runs on one thread and each figure is its CPU time (CLOCK_THREAD_CPUTIME_ID, median of
// R timings of the whole set of products after one untimed run) divided by T: perfect scaling
// over T cores, a bound no T-thread run beats. CPU time, not wall time, so that other load on a
// shared machine does not inflate the bound (OpenBLAS's own threads, spinning beside other
// processes, made it 2x slower still).
#include <cblas.h>

#include <algorithm>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Gemm {
  int m, n, k;
  bool ta, tb;
};

// One Dense or convolution layer as a product (rows, in) · (in, out) with `rows` per image.
struct Layer {
  int rows_per_image, in, out;
};

std::vector<Layer> layers_of(const std::string& model) {
  if (model == "mlp") return {{1, 784, 512}, {1, 512, 256}, {1, 256, 10}};
  // Conv2D(32, 3) on 28×28×1 → 26×26; pool → 13×13; Conv2D(64, 3) → 11×11; pool → 5×5×64.
  return {{26 * 26, 9 * 1, 32}, {11 * 11, 9 * 32, 64}, {1, 1600, 128}, {1, 128, 10}};
}

std::vector<Gemm> forward(const std::vector<Layer>& layers, int batch) {
  std::vector<Gemm> g;
  for (const Layer& l : layers) g.push_back({batch * l.rows_per_image, l.out, l.in, false, false});
  return g;
}

std::vector<Gemm> training_step(const std::vector<Layer>& layers, int batch) {
  std::vector<Gemm> g = forward(layers, batch);
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    const int m = batch * l.rows_per_image;
    g.push_back({l.in, l.out, m, true, false});        // dW = Xᵀ·dY
    if (i > 0) g.push_back({m, l.in, l.out, false, true});  // dX = dY·Wᵀ
  }
  return g;
}

struct Buffers {
  std::vector<float> a, b, c;
  explicit Buffers(const std::vector<Gemm>& gs) {
    std::size_t sa = 0, sb = 0, sc = 0;
    for (const Gemm& g : gs) {
      sa = std::max<std::size_t>(sa, std::size_t(g.m) * g.k);
      sb = std::max<std::size_t>(sb, std::size_t(g.k) * g.n);
      sc = std::max<std::size_t>(sc, std::size_t(g.m) * g.n);
    }
    a.assign(sa, 0.01f);
    b.assign(sb, 0.02f);
    c.assign(sc, 0.0f);
  }
};

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double run(const std::vector<Gemm>& gs, Buffers& buf) {
  const double start = cpu_seconds();
  for (const Gemm& g : gs)
    cblas_sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans, g.tb ? CblasTrans : CblasNoTrans, g.m, g.n, g.k,
                1.0f, buf.a.data(), g.ta ? g.m : g.k, buf.b.data(), g.tb ? g.k : g.n, 0.0f, buf.c.data(), g.n);
  return cpu_seconds() - start;
}

double median_time(const std::vector<Gemm>& gs, int repeat) {
  Buffers buf(gs);
  run(gs, buf);
  std::vector<double> t;
  for (int r = 0; r < repeat; ++r) t.push_back(run(gs, buf));
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

long arg(int argc, char** argv, const char* name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::strtol(argv[i + 1], nullptr, 10);
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = "mlp";
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--model") == 0) model = argv[i + 1];
  const int batch = static_cast<int>(arg(argc, argv, "--batch", 128));
  const int threads = static_cast<int>(arg(argc, argv, "--threads", 2));
  const int repeat = static_cast<int>(arg(argc, argv, "--repeat", 5));
  if ((model != "mlp" && model != "cnn") || batch < 1 || threads < 1 || repeat < 1) {
    std::fprintf(stderr, "usage: %s [--model mlp|cnn] [--batch N] [--threads T] [--repeat R]\n", argv[0]);
    return 2;
  }
  openblas_set_num_threads(1);
  const std::vector<Layer> layers = layers_of(model);

  const int full = 60000 / batch, rest = 60000 % batch;
  double epoch_s = full * median_time(training_step(layers, batch), repeat * 5);
  if (rest) epoch_s += median_time(training_step(layers, rest), repeat * 5);
  epoch_s /= threads;
  const double predict_s = 10 * median_time(forward(layers, 1000), repeat) / threads;
  const double one_us = 1e6 * median_time(forward(layers, 1), repeat * 200) / threads;

  std::printf("OpenBLAS alone (1-thread CPU time / %d), %s: training batch %d %.3f s/epoch; predict %.0f images/s (batch 1000); "
              "one image %.1f µs\n",
              threads, model.c_str(), batch, epoch_s, 10000 / predict_s, one_us);
  std::printf("RESULT framework=limit model=%s batch=%d threads=%d epoch_s=%.4f images_per_s=%.1f one_us=%.2f\n",
              model.c_str(), batch, threads, epoch_s, 10000 / predict_s, one_us);
}
