// SPDX-License-Identifier: Apache-2.0
// The training loop (src/engine/model.cpp): fit / evaluate / predict and the single-batch calls,
// History, validation, shuffling, verbosity, reproducibility, argument checks, loss and metric
// resolution through compile, and the callback hooks. Every reference value is computed here by
// hand from the model's weights or the data, never copied from lamina's output.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/losses.hpp>
#include <lamina/metrics.hpp>
#include <lamina/model.hpp>
#include <lamina/ops.hpp>
#include <lamina/optimizers.hpp>

#include "support/capture.hpp"

using namespace lamina;
using lamina::testing::lines_of;
using lamina::testing::StdoutCapture;
using Catch::Matchers::Contains;

namespace {

// --- data ------------------------------------------------------------------------------------------

struct Data {
  Tensor x;  ///< (n, 2) float32
  Tensor y;  ///< (n) int64 class labels
  std::vector<float> xs;
  std::vector<std::int64_t> ys;
};

// XOR-like clusters: centres (±1, ±1); class 1 where the signs differ. Normal noise (sd 0.3) by
// Box-Muller from a seeded mt19937, so the data do not depend on lamina's random stream. Classes
// alternate through the array (so every tail holds both).
Data xor_blobs(int n, unsigned seed) {
  std::mt19937 gen(seed);
  auto uniform = [&] { return (static_cast<double>(gen()) + 0.5) / 4294967296.0; };
  auto normal = [&] {
    return std::sqrt(-2 * std::log(uniform())) * std::cos(6.283185307179586 * uniform());
  };
  Data d;
  for (int i = 0; i < n; ++i) {
    const int quadrant = i % 4;
    const double cx = quadrant == 0 || quadrant == 2 ? 1 : -1;
    const double cy = quadrant == 0 || quadrant == 3 ? 1 : -1;
    d.xs.push_back(static_cast<float>(cx + 0.3 * normal()));
    d.xs.push_back(static_cast<float>(cy + 0.3 * normal()));
    d.ys.push_back(cx * cy < 0 ? 1 : 0);
  }
  d.x = Tensor::from_vector(d.xs, {n, 2});
  d.y = Tensor::from_vector(d.ys, {n});
  return d;
}

Tensor one_hot_of(const std::vector<std::int64_t>& ys, int classes) {
  std::vector<float> v(ys.size() * classes, 0.0f);
  for (std::size_t i = 0; i < ys.size(); ++i) v[i * classes + ys[i]] = 1.0f;
  return Tensor::from_vector(v, {static_cast<std::int64_t>(ys.size()), classes});
}

Sequential mlp(int hidden = 8, int classes = 2, double dropout = 0.0) {
  std::vector<LayerItem> items{layers::Input({2}), layers::Dense(hidden, {.activation = "relu"})};
  if (dropout > 0) items.push_back(layers::Dropout(dropout));
  items.push_back(layers::Dense(classes, {.activation = "softmax"}));
  return Sequential(items);
}

void compile_sparse(Sequential& m, double lr = 0.01) {
  m.compile({.optimizer = optimizers::Adam({.learning_rate = lr}),
             .loss = "sparse_categorical_crossentropy",
             .metrics = {"accuracy"}});
}

// --- hand computations -----------------------------------------------------------------------------

// Forward pass of Input -> Dense(relu) -> Dense(softmax) from the weights, in double.
std::vector<double> mlp_by_hand(const Sequential& m, const std::vector<float>& xs) {
  const auto w = m.get_weights();  // kernel1, bias1, kernel2, bias2
  const auto k1 = w[0].to_vector<double>(), b1 = w[1].to_vector<double>();
  const auto k2 = w[2].to_vector<double>(), b2 = w[3].to_vector<double>();
  const std::int64_t in = w[0].shape()[0], hidden = w[0].shape()[1], out = w[2].shape()[1];
  const std::size_t n = xs.size() / in;
  std::vector<double> result;
  for (std::size_t r = 0; r < n; ++r) {
    std::vector<double> h(hidden), z(out);
    for (std::int64_t j = 0; j < hidden; ++j) {
      double a = b1[j];
      for (std::int64_t i = 0; i < in; ++i) a += xs[r * in + i] * k1[i * hidden + j];
      h[j] = a > 0 ? a : 0;
    }
    double mx = -1e300, s = 0;
    for (std::int64_t j = 0; j < out; ++j) {
      double a = b2[j];
      for (std::int64_t i = 0; i < hidden; ++i) a += h[i] * k2[i * out + j];
      z[j] = a;
      mx = std::max(mx, a);
    }
    for (double& v : z) s += (v = std::exp(v - mx));
    for (double v : z) result.push_back(v / s);
  }
  return result;
}

double crossentropy_by_hand(const std::vector<double>& probs, const std::vector<std::int64_t>& ys,
                            int classes) {
  double total = 0;
  for (std::size_t i = 0; i < ys.size(); ++i) total -= std::log(probs[i * classes + ys[i]]);
  return total / static_cast<double>(ys.size());
}

double accuracy_by_hand(const std::vector<double>& probs, const std::vector<std::int64_t>& ys,
                        int classes) {
  int hits = 0;
  for (std::size_t i = 0; i < ys.size(); ++i) {
    int best = 0;
    for (int c = 1; c < classes; ++c)
      if (probs[i * classes + c] > probs[i * classes + best]) best = c;
    hits += best == ys[i];
  }
  return static_cast<double>(hits) / static_cast<double>(ys.size());
}

bool bit_identical(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].shape() != b[i].shape()) return false;
    const auto va = a[i].to_vector<float>(), vb = b[i].to_vector<float>();
    for (std::size_t j = 0; j < va.size(); ++j)
      if (std::memcmp(&va[j], &vb[j], sizeof(float)) != 0) return false;
  }
  return true;
}

bool all_finite(const std::vector<Tensor>& ws) {
  for (const Tensor& w : ws)
    for (double v : w.to_vector<double>())
      if (!std::isfinite(v)) return false;
  return true;
}

// --- a recording callback --------------------------------------------------------------------------

struct Recorder : Callback {
  std::vector<std::string> events;
  std::vector<Logs> epoch_logs, batch_logs;
  std::vector<double> lr_at_batch;
  std::map<std::string, std::int64_t> seen_params;
  int stop_after_epoch = -1;
  std::int64_t stop_after_batch = -1;

  void on_train_begin(const Logs&) override {
    events.push_back("train_begin");
    seen_params = params;
  }
  void on_train_end(const Logs&) override { events.push_back("train_end"); }
  void on_epoch_begin(int e, const Logs&) override {
    events.push_back("epoch_begin " + std::to_string(e));
  }
  void on_epoch_end(int e, const Logs& logs) override {
    events.push_back("epoch_end " + std::to_string(e));
    epoch_logs.push_back(logs);
    if (e == stop_after_epoch) model().stop_training() = true;
  }
  void on_train_batch_begin(std::int64_t b, const Logs&) override {
    events.push_back("batch_begin " + std::to_string(b));
    lr_at_batch.push_back(model().optimizer()->learning_rate());
  }
  void on_train_batch_end(std::int64_t b, const Logs& logs) override {
    events.push_back("batch_end " + std::to_string(b));
    batch_logs.push_back(logs);
    if (b == stop_after_batch) model().stop_training() = true;
  }
  void on_test_begin(const Logs&) override { events.push_back("test_begin"); }
  void on_test_end(const Logs&) override { events.push_back("test_end"); }
  void on_test_batch_begin(std::int64_t b, const Logs&) override {
    events.push_back("test_batch_begin " + std::to_string(b));
  }
  void on_test_batch_end(std::int64_t b, const Logs&) override {
    events.push_back("test_batch_end " + std::to_string(b));
  }
  void on_predict_begin(const Logs&) override { events.push_back("predict_begin"); }
  void on_predict_end(const Logs&) override { events.push_back("predict_end"); }
  void on_predict_batch_end(std::int64_t b, const Logs&) override {
    events.push_back("predict_batch_end " + std::to_string(b));
  }
};

std::set<std::string> keys_of(const std::map<std::string, std::vector<double>>& h) {
  std::set<std::string> out;
  for (const auto& [k, v] : h) out.insert(k);
  return out;
}

}  // namespace

// --- learning --------------------------------------------------------------------------------------

TEST_CASE("fit learns XOR-like blobs with a small MLP to at least 95% test accuracy",
          "[engine][fit]") {
  set_seed(1234);
  const Data train = xor_blobs(200, 1), test = xor_blobs(200, 2);
  Sequential m = mlp(16);
  compile_sparse(m, 0.02);
  History h = m.fit(train.x, train.y, {.batch_size = 16, .epochs = 40, .verbose = 0});
  REQUIRE(h.history.at("loss").size() == 40);
  CHECK(h.history.at("loss").back() < h.history.at("loss").front());
  auto scores = m.evaluate(test.x, test.y, {.verbose = 0});
  CHECK(scores.at("accuracy") >= 0.95);
  // The reported accuracy is the fraction of argmax hits, computed here from the weights.
  const auto probs = mlp_by_hand(m, test.xs);
  CHECK(scores.at("accuracy") == Approx(accuracy_by_hand(probs, test.ys, 2)));
  CHECK(scores.at("loss") == Approx(crossentropy_by_hand(probs, test.ys, 2)).epsilon(1e-4));
}

// --- History ---------------------------------------------------------------------------------------

TEST_CASE("History holds every metric once per epoch with the epoch indices run",
          "[engine][fit][history]") {
  set_seed(5);
  const Data d = xor_blobs(40, 3);
  Sequential m = mlp();
  compile_sparse(m);
  History h = m.fit(d.x, d.y, {.batch_size = 8, .epochs = 3, .verbose = 0, .validation_split = 0.25});
  CHECK(keys_of(h.history) ==
        std::set<std::string>{"loss", "accuracy", "val_loss", "val_accuracy"});
  for (const auto& [name, values] : h.history) {
    INFO(name);
    CHECK(values.size() == 3);
    for (double v : values) CHECK(std::isfinite(v));
  }
  for (double a : h.history.at("accuracy")) CHECK((a >= 0 && a <= 1));
  CHECK(h.epoch == std::vector<int>{0, 1, 2});
  CHECK(h.params.at("epochs") == 3);
  CHECK(h.params.at("steps") == 4);  // 30 training samples in batches of 8
  CHECK(h.params.at("verbose") == 0);
}

TEST_CASE("initial_epoch runs epochs minus initial_epoch epochs numbered from initial_epoch",
          "[engine][fit][history]") {
  set_seed(5);
  const Data d = xor_blobs(16, 3);
  Sequential m = mlp();
  compile_sparse(m);
  auto rec = std::make_shared<Recorder>();
  History h = m.fit(d.x, d.y,
                    {.batch_size = 8, .epochs = 5, .verbose = 0, .callbacks = {rec}, .initial_epoch = 2});
  CHECK(h.epoch == std::vector<int>{2, 3, 4});
  CHECK(h.history.at("loss").size() == 3);
  CHECK(rec->events[1] == "epoch_begin 2");
  CHECK(m.optimizer()->iterations() == 3 * 2);
  // Nothing to do when initial_epoch reaches epochs.
  History none = m.fit(d.x, d.y, {.epochs = 2, .verbose = 0, .initial_epoch = 2});
  CHECK(none.epoch.empty());
  CHECK(m.optimizer()->iterations() == 6);
}

TEST_CASE("An epoch's loss is the sample-weighted mean of its batch losses",
          "[engine][fit][history]") {
  // With a learning rate of 0 the weights never move, so every batch is scored with the same
  // weights and the epoch's loss must equal the loss over the whole training set.
  set_seed(8);
  const Data d = xor_blobs(21, 4);  // batches of 8, 8, 5
  Sequential m = mlp();
  m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.0}),
             .loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  const auto before = m.get_weights();
  History h = m.fit(d.x, d.y, {.batch_size = 8, .epochs = 2, .verbose = 0, .shuffle = false});
  CHECK(bit_identical(before, m.get_weights()));
  const auto probs = mlp_by_hand(m, d.xs);
  for (double loss : h.history.at("loss"))
    CHECK(loss == Approx(crossentropy_by_hand(probs, d.ys, 2)).epsilon(1e-5));
  for (double acc : h.history.at("accuracy")) CHECK(acc == Approx(accuracy_by_hand(probs, d.ys, 2)));
}

// --- validation ------------------------------------------------------------------------------------

TEST_CASE("validation_split holds out the last fraction before shuffling", "[engine][fit][validation]") {
  set_seed(21);
  Data d = xor_blobs(50, 5);
  // Poison the last 20%: if any of those rows reached training, the weights would turn NaN.
  std::vector<float> poisoned = d.xs;
  for (int i = 40; i < 50; ++i) poisoned[2 * i] = poisoned[2 * i + 1] = std::nanf("");
  Tensor x = Tensor::from_vector(poisoned, {50, 2});
  // tanh, unlike lamina's relu, carries a NaN through to the loss.
  Sequential m({layers::Input({2}), layers::Dense(8, {.activation = "tanh"}),
                layers::Dense(2, {.activation = "softmax"})});
  compile_sparse(m);
  auto rec = std::make_shared<Recorder>();
  History h = m.fit(x, d.y, {.batch_size = 8, .epochs = 3, .verbose = 0, .callbacks = {rec},
                             .validation_split = 0.2, .shuffle = true});
  CHECK(all_finite(m.get_weights()));
  CHECK(rec->seen_params.at("steps") == 5);  // 40 training rows
  for (double v : h.history.at("loss")) CHECK(std::isfinite(v));
  for (double v : h.history.at("val_loss")) CHECK(std::isnan(v));
}

TEST_CASE("Validation metrics are those of evaluate on the held-out tail", "[engine][fit][validation]") {
  set_seed(22);
  const Data d = xor_blobs(50, 6);
  Sequential m = mlp();
  compile_sparse(m);
  History h = m.fit(d.x, d.y, {.batch_size = 8, .epochs = 2, .verbose = 0, .validation_split = 0.2});
  const auto tail = m.evaluate(d.x.slice(40, 50), d.y.slice(40, 50), {.batch_size = 8, .verbose = 0});
  CHECK(h.history.at("val_loss").back() == Approx(tail.at("loss")).epsilon(1e-12));
  CHECK(h.history.at("val_accuracy").back() == Approx(tail.at("accuracy")));
  const auto head = m.evaluate(d.x.slice(0, 10), d.y.slice(0, 10), {.batch_size = 8, .verbose = 0});
  CHECK(h.history.at("val_loss").back() != Approx(head.at("loss")).epsilon(1e-9));
  // And the same numbers follow from the weights by hand.
  std::vector<float> tail_x(d.xs.begin() + 80, d.xs.end());
  std::vector<std::int64_t> tail_y(d.ys.begin() + 40, d.ys.end());
  CHECK(h.history.at("val_loss").back() ==
        Approx(crossentropy_by_hand(mlp_by_hand(m, tail_x), tail_y, 2)).epsilon(1e-4));
}

TEST_CASE("validation_data overrides validation_split", "[engine][fit][validation]") {
  set_seed(23);
  const Data d = xor_blobs(48, 7), val = xor_blobs(12, 8);
  Sequential m = mlp();
  compile_sparse(m);
  auto rec = std::make_shared<Recorder>();
  History h = m.fit(d.x, d.y, {.batch_size = 8, .epochs = 1, .verbose = 0, .callbacks = {rec},
                               .validation_split = 0.5,
                               .validation_data = std::pair{val.x, val.y}});
  CHECK(rec->seen_params.at("steps") == 6);  // all 48 samples train
  const auto scores = m.evaluate(val.x, val.y, {.batch_size = 8, .verbose = 0});
  CHECK(h.history.at("val_loss").back() == Approx(scores.at("loss")).epsilon(1e-12));
  CHECK(h.history.at("val_accuracy").back() == Approx(scores.at("accuracy")));
}

// --- shuffling -------------------------------------------------------------------------------------

TEST_CASE("shuffle=false trains on consecutive batches exactly as train_on_batch does",
          "[engine][fit][shuffle]") {
  set_seed(31);
  const Data d = xor_blobs(20, 9);  // batches [0,8) [8,16) [16,20)
  Sequential a = mlp(), b = mlp();
  b.set_weights(a.get_weights());
  a.compile({.optimizer = optimizers::SGD({.learning_rate = 0.3}),
             .loss = "sparse_categorical_crossentropy"});
  b.compile({.optimizer = optimizers::SGD({.learning_rate = 0.3}),
             .loss = "sparse_categorical_crossentropy"});
  a.fit(d.x, d.y, {.batch_size = 8, .epochs = 2, .verbose = 0, .shuffle = false});
  for (int epoch = 0; epoch < 2; ++epoch)
    for (std::int64_t s : {0, 8, 16})
      b.train_on_batch(d.x.slice(s, std::min<std::int64_t>(s + 8, 20)),
                       d.y.slice(s, std::min<std::int64_t>(s + 8, 20)));
  CHECK(bit_identical(a.get_weights(), b.get_weights()));
}

TEST_CASE("shuffle=true permutes x and y together and reshuffles by seed", "[engine][fit][shuffle]") {
  set_seed(32);
  const Data d = xor_blobs(24, 10);
  Sequential base = mlp();
  const auto initial = base.get_weights();
  auto run = [&](std::uint64_t seed, bool shuffle, std::int64_t batch) {
    Sequential m = mlp();
    m.set_weights(initial);
    m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.2}),
               .loss = "sparse_categorical_crossentropy"});
    set_seed(seed);
    m.fit(d.x, d.y, {.batch_size = batch, .epochs = 2, .verbose = 0, .shuffle = shuffle});
    return m.get_weights();
  };
  // One batch holding every sample: the order cannot matter (up to rounding) if rows of x and y
  // are permuted together and none is lost or repeated.
  const auto full_shuffled = run(1, true, 24), full_plain = run(1, false, 24);
  for (std::size_t i = 0; i < full_plain.size(); ++i) {
    const auto p = full_plain[i].to_vector<double>(), s = full_shuffled[i].to_vector<double>();
    for (std::size_t j = 0; j < p.size(); ++j) CHECK(s[j] == Approx(p[j]).margin(1e-5));
  }
  // Small batches: the order matters; the seed fixes it, and without shuffling the seed is moot.
  CHECK(bit_identical(run(7, true, 4), run(7, true, 4)));
  CHECK_FALSE(bit_identical(run(7, true, 4), run(8, true, 4)));
  CHECK(bit_identical(run(7, false, 4), run(8, false, 4)));
  CHECK_FALSE(bit_identical(run(7, true, 4), run(7, false, 4)));
}

// --- reproducibility -------------------------------------------------------------------------------

TEST_CASE("set_seed makes training with Dropout and shuffling bit-identical", "[engine][fit][seed]") {
  const Data d = xor_blobs(40, 11);
  auto train = [&](std::uint64_t seed) {
    set_seed(seed);
    Sequential m = mlp(16, 2, 0.3);
    compile_sparse(m);
    m.fit(d.x, d.y, {.batch_size = 8, .epochs = 3, .verbose = 0, .validation_split = 0.2,
                     .shuffle = true});
    return m.get_weights();
  };
  const auto first = train(2024), second = train(2024), other = train(2025);
  CHECK(bit_identical(first, second));
  CHECK_FALSE(bit_identical(first, other));
}

// --- verbosity -------------------------------------------------------------------------------------

TEST_CASE("verbose 0 prints nothing and verbose 2 prints one line per epoch", "[engine][fit][verbose]") {
  set_seed(41);
  const Data d = xor_blobs(32, 12);
  Sequential m = mlp();
  compile_sparse(m);
  {
    StdoutCapture capture;
    m.fit(d.x, d.y, {.batch_size = 8, .epochs = 2, .verbose = 0, .validation_split = 0.25});
    m.evaluate(d.x, d.y, {.verbose = 0});
    m.predict(d.x, {.verbose = 0});
    CHECK(capture.finish().empty());
  }
  {
    StdoutCapture capture;
    m.fit(d.x, d.y, {.batch_size = 8, .epochs = 3, .verbose = 2, .initial_epoch = 0});
    const auto lines = lines_of(capture.finish());
    REQUIRE(lines.size() == 6);
    for (int e = 0; e < 3; ++e) {
      CHECK(lines[2 * e] == "Epoch " + std::to_string(e + 1) + "/3");
      CHECK_THAT(lines[2 * e + 1], Contains("4/4 - ") && Contains(" - loss: ") &&
                                       Contains(" - accuracy: "));
      CHECK(lines[2 * e + 1].find('\r') == std::string::npos);
    }
  }
  {
    StdoutCapture capture;
    m.fit(d.x, d.y, {.batch_size = 8, .epochs = 4, .verbose = 2, .initial_epoch = 2});
    const auto lines = lines_of(capture.finish());
    REQUIRE(lines.size() == 4);
    CHECK(lines[0] == "Epoch 3/4");
    CHECK(lines[2] == "Epoch 4/4");
  }
}

// --- evaluate / predict / single batches -----------------------------------------------------------

TEST_CASE("predict and predict_on_batch agree with a hand forward pass",
          "[engine][predict]") {
  set_seed(51);
  const Data d = xor_blobs(23, 13);
  Sequential m = mlp();
  Tensor p = m.predict(d.x, {.batch_size = 5});
  Tensor q = m.predict_on_batch(d.x);
  REQUIRE(p.shape() == Shape{23, 2});
  REQUIRE(q.shape() == Shape{23, 2});
  const auto want = mlp_by_hand(m, d.xs);
  for (std::size_t i = 0; i < want.size(); ++i) {
    CHECK(p.at(i) == Approx(want[i]).margin(1e-6));
    CHECK(q.at(i) == Approx(p.at(i)).margin(1e-6));
  }
  // predict never needs compile, and runs the predict hooks once per batch.
  auto rec = std::make_shared<Recorder>();
  m.predict(d.x, {.batch_size = 10, .callbacks = {rec}});
  CHECK(rec->events == std::vector<std::string>{"predict_begin", "predict_batch_end 0",
                                                "predict_batch_end 1", "predict_batch_end 2",
                                                "predict_end"});
}

TEST_CASE("evaluate and test_on_batch report the cross-entropy and accuracy of the predictions",
          "[engine][evaluate]") {
  set_seed(52);
  const Data d = xor_blobs(23, 14);
  Sequential m = mlp();
  compile_sparse(m);
  const auto probs = mlp_by_hand(m, d.xs);
  const double loss = crossentropy_by_hand(probs, d.ys, 2), acc = accuracy_by_hand(probs, d.ys, 2);
  auto whole = m.test_on_batch(d.x, d.y);
  CHECK(whole.at("loss") == Approx(loss).epsilon(1e-5));
  CHECK(whole.at("accuracy") == Approx(acc));
  // In batches of 5 (the last one of 3), the means are weighted by batch size.
  auto batched = m.evaluate(d.x, d.y, {.batch_size = 5, .verbose = 0});
  CHECK(batched.at("loss") == Approx(loss).epsilon(1e-5));
  CHECK(batched.at("accuracy") == Approx(acc));
  auto one_batch = m.evaluate(d.x, d.y, {.batch_size = 64, .verbose = 0});
  CHECK(one_batch.at("loss") == Approx(whole.at("loss")).epsilon(1e-12));
  CHECK(one_batch.size() == 2);
}

TEST_CASE("train_on_batch reports the loss before its step and lowers it on repeated calls",
          "[engine][train_on_batch]") {
  set_seed(53);
  const Data d = xor_blobs(32, 15);
  Sequential m = mlp(16);
  compile_sparse(m, 0.05);
  const auto before = m.get_weights();
  const double start = m.test_on_batch(d.x, d.y).at("loss");
  const auto first = m.train_on_batch(d.x, d.y);
  CHECK(first.at("loss") == Approx(start).epsilon(1e-6));
  CHECK(first.count("accuracy") == 1);
  CHECK_FALSE(bit_identical(before, m.get_weights()));
  double last = first.at("loss");
  for (int i = 0; i < 30; ++i) last = m.train_on_batch(d.x, d.y).at("loss");
  CHECK(last < 0.7 * start);
  CHECK(m.test_on_batch(d.x, d.y).at("loss") < start);
}

TEST_CASE("train_on_batch takes the SGD step a hand-derived MSE gradient gives", "[engine][train_on_batch]") {
  // y = x·W + b, loss = mean over samples and units of (y - t)^2:
  // dL/dW = X^T·G, dL/db = sum_rows G, with G = 2·(y - t)/(N·units).
  set_seed(54);
  Sequential m({layers::Input({3}), layers::Dense(2)});
  const double lr = 0.1;
  m.compile({.optimizer = optimizers::SGD({.learning_rate = lr}), .loss = "mse"});
  const std::vector<float> xs{0.5f, -1.0f, 2.0f, 1.5f, 0.25f, -0.75f, -2.0f, 1.0f, 0.5f, 0.1f, 0.2f, 0.3f};
  const std::vector<float> ts{1.0f, 0.0f, -1.0f, 2.0f, 0.5f, 0.5f, 0.0f, 1.0f};
  const int n = 4, in = 3, units = 2;
  auto w = m.get_weights();
  const auto k = w[0].to_vector<double>(), b = w[1].to_vector<double>();
  std::vector<double> gk(in * units, 0.0), gb(units, 0.0);
  double loss = 0;
  for (int r = 0; r < n; ++r)
    for (int j = 0; j < units; ++j) {
      double y = b[j];
      for (int i = 0; i < in; ++i) y += xs[r * in + i] * k[i * units + j];
      const double diff = y - ts[r * units + j];
      loss += diff * diff / (n * units);
      const double g = 2 * diff / (n * units);
      gb[j] += g;
      for (int i = 0; i < in; ++i) gk[i * units + j] += xs[r * in + i] * g;
    }
  const auto logs = m.train_on_batch(Tensor::from_vector(xs, {n, in}), Tensor::from_vector(ts, {n, units}));
  CHECK(logs.at("loss") == Approx(loss).epsilon(1e-5));
  w = m.get_weights();
  const auto k2 = w[0].to_vector<double>(), b2 = w[1].to_vector<double>();
  for (int i = 0; i < in * units; ++i) CHECK(k2[i] == Approx(k[i] - lr * gk[i]).margin(1e-6));
  for (int j = 0; j < units; ++j) CHECK(b2[j] == Approx(b[j] - lr * gb[j]).margin(1e-6));
}

// --- bad arguments ---------------------------------------------------------------------------------

TEST_CASE("fit refuses bad arguments with messages that say what is wrong", "[engine][fit][errors]") {
  set_seed(61);
  const Data d = xor_blobs(10, 16);
  Sequential m = mlp();
  SECTION("before compile") {
    CHECK_THROWS_AS(m.fit(d.x, d.y, {.verbose = 0}), ValueError);
    CHECK_THROWS_WITH(m.fit(d.x, d.y, {.verbose = 0}), Contains("compile"));
    CHECK_THROWS_WITH(m.evaluate(d.x, d.y, {.verbose = 0}), Contains("compile"));
    CHECK_THROWS_WITH(m.train_on_batch(d.x, d.y), Contains("compile"));
  }
  SECTION("after compile") {
    compile_sparse(m);
    const auto before = m.get_weights();
    CHECK_THROWS_AS(m.fit(d.x, d.y.slice(0, 9), {.verbose = 0}), ValueError);
    CHECK_THROWS_WITH(m.fit(d.x, d.y.slice(0, 9), {.verbose = 0}),
                      Contains("10 samples") && Contains("9"));
    CHECK_THROWS_WITH(m.evaluate(d.x.slice(0, 7), d.y, {.verbose = 0}),
                      Contains("7 samples") && Contains("10"));
    CHECK_THROWS_WITH(m.fit(Tensor::zeros({0, 2}), Tensor::zeros({0}, int64), {.verbose = 0}),
                      Contains("empty"));
    CHECK_THROWS_WITH(m.predict(Tensor::zeros({0, 2})), Contains("empty"));
    CHECK_THROWS_WITH(m.fit(d.x, d.y, {.batch_size = 0, .verbose = 0}),
                      Contains("batch_size") && Contains("0"));
    CHECK_THROWS_WITH(m.evaluate(d.x, d.y, {.batch_size = -2, .verbose = 0}),
                      Contains("batch_size") && Contains("-2"));
    CHECK_THROWS_WITH(m.predict(d.x, {.batch_size = 0}), Contains("batch_size"));
    for (double split : {1.0, -0.1, 1.5}) {
      INFO("validation_split " << split);
      CHECK_THROWS_AS(m.fit(d.x, d.y, {.verbose = 0, .validation_split = split}), ValueError);
      CHECK_THROWS_WITH(m.fit(d.x, d.y, {.verbose = 0, .validation_split = split}),
                        Contains("validation_split"));
    }
    // 10 samples with split 0.95 leave no training sample.
    CHECK_THROWS_WITH(m.fit(d.x, d.y, {.verbose = 0, .validation_split = 0.95}), Contains("empty"));
    // Input of the wrong shape: named with the model's expected shape and the data's.
    Tensor wide = Tensor::zeros({10, 3});
    CHECK_THROWS_AS(m.fit(wide, d.y, {.verbose = 0}), ShapeError);
    CHECK_THROWS_WITH(m.fit(wide, d.y, {.verbose = 0}), Contains("(None, 2)") && Contains("(10, 3)"));
    CHECK_THROWS_WITH(m.evaluate(wide, d.y, {.verbose = 0}), Contains("(None, 2)") && Contains("(10, 3)"));
    CHECK_THROWS_WITH(m.predict(Tensor::zeros({4, 2, 1})), Contains("(None, 2)") && Contains("(4, 2, 1)"));
    CHECK_THROWS_AS(m.fit(d.x, d.y, {.verbose = 0, .validation_data = std::pair{wide, d.y}}), ShapeError);
    // None of that touched the weights.
    CHECK(bit_identical(before, m.get_weights()));
    CHECK(m.optimizer()->iterations() == 0);
  }
}

TEST_CASE("fit refuses labels whose shape does not fit the loss before any training",
          "[engine][fit][errors]") {
  set_seed(62);
  const Data d = xor_blobs(20, 17);
  Sequential m = mlp(8, 3);  // 3 classes
  SECTION("sparse_categorical_crossentropy with one-hot labels") {
    compile_sparse(m);
    const auto before = m.get_weights();
    Tensor wrong_width = one_hot_of(d.ys, 5);
    CHECK_THROWS_AS(m.fit(d.x, wrong_width, {.verbose = 0}), ShapeError);
    CHECK_THROWS_WITH(m.fit(d.x, wrong_width, {.verbose = 0}),
                      Contains("sparse_categorical_crossentropy") && Contains("(20, 5)") &&
                          Contains("(None, 3)"));
    // Right width, still one-hot: the message points to categorical_crossentropy.
    CHECK_THROWS_WITH(m.fit(d.x, one_hot_of(d.ys, 3), {.verbose = 0}),
                      Contains("(20, 3)") && Contains("use categorical_crossentropy"));
    CHECK_THROWS_AS(m.evaluate(d.x, wrong_width, {.verbose = 0}), ShapeError);
    CHECK(bit_identical(before, m.get_weights()));
    CHECK(m.optimizer()->iterations() == 0);
    // A label outside [0, classes) names the label and the class count.
    std::vector<std::int64_t> bad = d.ys;
    bad[13] = 7;
    CHECK_THROWS_AS(m.fit(d.x, Tensor::from_vector(bad, {20}), {.verbose = 0}), ValueError);
    CHECK_THROWS_WITH(m.fit(d.x, Tensor::from_vector(bad, {20}), {.verbose = 0}),
                      Contains("7") && Contains("3 classes"));
  }
  SECTION("categorical_crossentropy with labels of the wrong width or integer labels") {
    m.compile({.optimizer = "adam", .loss = "categorical_crossentropy"});
    CHECK_THROWS_AS(m.fit(d.x, one_hot_of(d.ys, 4), {.verbose = 0}), ShapeError);
    CHECK_THROWS_WITH(m.fit(d.x, one_hot_of(d.ys, 4), {.verbose = 0}),
                      Contains("categorical_crossentropy") && Contains("(20, 4)") &&
                          Contains("(None, 3)"));
    CHECK_THROWS_WITH(m.fit(d.x, d.y, {.verbose = 0}),
                      Contains("(20,)") && Contains("sparse_categorical_crossentropy"));
    CHECK(m.optimizer()->iterations() == 0);
  }
}

TEST_CASE("compile rejects unknown loss and optimizer and metric names by name",
          "[engine][compile][errors]") {
  Sequential m = mlp();
  CHECK_THROWS_AS(m.compile({.optimizer = "adam", .loss = "squared_wrongness"}), ValueError);
  CHECK_THROWS_WITH(m.compile({.optimizer = "adam", .loss = "squared_wrongness"}),
                    Contains("squared_wrongness"));
  CHECK_THROWS_WITH(m.compile({.optimizer = "adamant", .loss = "mse"}), Contains("adamant"));
  CHECK_THROWS_AS(m.compile({.optimizer = "adam", .loss = "mse", .metrics = {"accuracy", "precisionn"}}),
                  ValueError);
  CHECK_THROWS_WITH(m.compile({.optimizer = "adam", .loss = "mse", .metrics = {"precisionn"}}),
                    Contains("precisionn"));
  CHECK_THROWS_WITH(m.compile({.optimizer = "adam"}), Contains("loss"));
}

// --- losses and metrics through compile ------------------------------------------------------------

TEST_CASE("Losses given by name or as objects or as functions train the same way",
          "[engine][compile][losses]") {
  set_seed(71);
  const Data d = xor_blobs(16, 18);
  Tensor targets = one_hot_of(d.ys, 2);
  Sequential base({layers::Input({2}), layers::Dense(2)});
  const auto initial = base.get_weights();
  auto train = [&](Ref<Loss> loss) {
    Sequential m({layers::Input({2}), layers::Dense(2)});
    m.set_weights(initial);
    m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}), .loss = loss,
               .metrics = {"mae", metrics::MeanSquaredError()}});
    History h = m.fit(d.x, targets, {.batch_size = 4, .epochs = 2, .verbose = 0, .shuffle = false});
    return std::pair{h, m.get_weights()};
  };
  auto [h_name, w_name] = train("mse");
  auto [h_alias, w_alias] = train("mean_squared_error");
  auto [h_object, w_object] = train(losses::MeanSquaredError());
  auto [h_fn, w_fn] = train(Loss::from_function(
      [](const Tensor& t, const Tensor& p) { return mean(square(p - t), {-1}); }, "my_mse"));
  CHECK(keys_of(h_name.history) == std::set<std::string>{"loss", "mae", "mean_squared_error"});
  CHECK(bit_identical(w_name, w_alias));
  CHECK(bit_identical(w_name, w_object));
  for (std::size_t i = 0; i < w_name.size(); ++i) {
    const auto a = w_name[i].to_vector<double>(), b = w_fn[i].to_vector<double>();
    for (std::size_t j = 0; j < a.size(); ++j) CHECK(b[j] == Approx(a[j]).margin(1e-6));
  }
  // The mse metric tracks the mse loss.
  for (std::size_t e = 0; e < 2; ++e)
    CHECK(h_name.history.at("mean_squared_error")[e] == Approx(h_name.history.at("loss")[e]).epsilon(1e-5));
}

TEST_CASE("\"accuracy\" resolves to binary or sparse or categorical accuracy as Keras does",
          "[engine][compile][metrics]") {
  set_seed(72);
  const Data d = xor_blobs(24, 19);
  SECTION("sparse labels with softmax outputs") {
    Sequential m = mlp();
    compile_sparse(m);
    m.fit(d.x, d.y, {.batch_size = 8, .epochs = 1, .verbose = 0});
    const auto scores = m.evaluate(d.x, d.y, {.verbose = 0});
    CHECK(scores.at("accuracy") == Approx(accuracy_by_hand(mlp_by_hand(m, d.xs), d.ys, 2)));
  }
  SECTION("one-hot labels with categorical_crossentropy, under the name acc") {
    Sequential m = mlp();
    m.compile({.optimizer = "adam", .loss = "categorical_crossentropy", .metrics = {"acc"}});
    History h = m.fit(d.x, one_hot_of(d.ys, 2), {.batch_size = 8, .epochs = 1, .verbose = 0});
    CHECK(h.history.count("acc") == 1);
    const auto scores = m.evaluate(d.x, one_hot_of(d.ys, 2), {.verbose = 0});
    CHECK(scores.at("acc") == Approx(accuracy_by_hand(mlp_by_hand(m, d.xs), d.ys, 2)));
  }
  SECTION("one sigmoid output with binary_crossentropy") {
    Sequential m({layers::Input({2}), layers::Dense(8, {.activation = "relu"}),
                  layers::Dense(1, {.activation = "sigmoid"})});
    m.compile({.optimizer = "adam", .loss = "binary_crossentropy", .metrics = {"accuracy"}});
    std::vector<float> labels(d.ys.begin(), d.ys.end());
    Tensor y = Tensor::from_vector(labels, {24, 1});
    m.fit(d.x, y, {.batch_size = 8, .epochs = 1, .verbose = 0});
    const auto scores = m.evaluate(d.x, y, {.verbose = 0});
    Tensor p = m.predict(d.x);
    int hits = 0;
    for (int i = 0; i < 24; ++i) hits += (p.at(i) > 0.5 ? 1 : 0) == d.ys[i];
    CHECK(scores.at("accuracy") == Approx(hits / 24.0));
    // Binary accuracy, not an argmax over one column (which would always be 0 == class 0).
    int zeros = 0;
    for (auto v : d.ys) zeros += v == 0;
    if (hits != zeros) CHECK(scores.at("accuracy") != Approx(zeros / 24.0));
  }
}

// --- callbacks -------------------------------------------------------------------------------------

TEST_CASE("Callback hooks run in Keras's order with batch and epoch indices and logs",
          "[engine][callbacks]") {
  set_seed(81);
  const Data d = xor_blobs(20, 20), val = xor_blobs(6, 21);
  Sequential m = mlp();
  compile_sparse(m);
  auto rec = std::make_shared<Recorder>();
  m.fit(d.x, d.y, {.batch_size = 8, .epochs = 2, .verbose = 0, .callbacks = {rec},
                   .validation_data = std::pair{val.x, val.y}});
  std::vector<std::string> want{"train_begin"};
  for (int e = 0; e < 2; ++e) {
    want.push_back("epoch_begin " + std::to_string(e));
    for (int b = 0; b < 3; ++b) {
      want.push_back("batch_begin " + std::to_string(b));
      want.push_back("batch_end " + std::to_string(b));
    }
    for (const char* t : {"test_begin", "test_batch_begin 0", "test_batch_end 0", "test_end"})
      want.push_back(t);
    want.push_back("epoch_end " + std::to_string(e));
  }
  want.push_back("train_end");
  CHECK(rec->events == want);
  CHECK(rec->seen_params == std::map<std::string, std::int64_t>{{"epochs", 2}, {"steps", 3}, {"verbose", 0}});
  REQUIRE(rec->epoch_logs.size() == 2);
  for (const Logs& logs : rec->epoch_logs) {
    std::set<std::string> keys;
    for (const auto& [k, v] : logs) keys.insert(k);
    CHECK(keys == std::set<std::string>{"loss", "accuracy", "val_loss", "val_accuracy"});
  }
  REQUIRE(rec->batch_logs.size() == 6);
  for (const Logs& logs : rec->batch_logs) {
    CHECK(logs.count("loss") == 1);
    CHECK(logs.count("val_loss") == 0);
  }
  // The last batch's running means are the epoch's values.
  CHECK(rec->batch_logs[2].at("loss") == rec->epoch_logs[0].at("loss"));
  CHECK(rec->batch_logs[5].at("accuracy") == rec->epoch_logs[1].at("accuracy"));
  // evaluate runs the test hooks and no train hooks.
  auto rec2 = std::make_shared<Recorder>();
  m.evaluate(d.x, d.y, {.batch_size = 8, .verbose = 0, .callbacks = {rec2}});
  CHECK(rec2->events == std::vector<std::string>{"test_begin", "test_batch_begin 0",
                                                 "test_batch_end 0", "test_batch_begin 1",
                                                 "test_batch_end 1", "test_batch_begin 2",
                                                 "test_batch_end 2", "test_end"});
}

TEST_CASE("A callback setting stop_training ends fit after that epoch or batch",
          "[engine][callbacks]") {
  set_seed(82);
  const Data d = xor_blobs(20, 22);
  Sequential m = mlp();
  compile_sparse(m);
  auto at_epoch = std::make_shared<Recorder>();
  at_epoch->stop_after_epoch = 1;
  History h = m.fit(d.x, d.y, {.batch_size = 8, .epochs = 10, .verbose = 0, .callbacks = {at_epoch}});
  CHECK(h.epoch == std::vector<int>{0, 1});
  CHECK(at_epoch->events.back() == "train_end");
  CHECK(m.optimizer()->iterations() == 2 * 3);

  auto at_batch = std::make_shared<Recorder>();
  at_batch->stop_after_batch = 0;
  h = m.fit(d.x, d.y, {.batch_size = 8, .epochs = 10, .verbose = 0, .callbacks = {at_batch}});
  CHECK(h.epoch == std::vector<int>{0});
  CHECK(at_batch->batch_logs.size() == 1);
  CHECK(m.optimizer()->iterations() == 6 + 1);
  // The flag does not leak into the next fit.
  h = m.fit(d.x, d.y, {.batch_size = 8, .epochs = 2, .verbose = 0});
  CHECK(h.epoch.size() == 2);
}

TEST_CASE("LearningRateScheduler sets the optimizer's rate before each epoch", "[engine][callbacks]") {
  set_seed(83);
  const Data d = xor_blobs(16, 23);
  Sequential m = mlp();
  m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.5}),
             .loss = "sparse_categorical_crossentropy"});
  std::vector<std::pair<int, double>> calls;
  auto rec = std::make_shared<Recorder>();
  m.fit(d.x, d.y,
        {.batch_size = 8, .epochs = 3, .verbose = 0,
         .callbacks = {callbacks::LearningRateScheduler([&](int epoch, double lr) {
                         calls.emplace_back(epoch, lr);
                         return 0.1 / (epoch + 1);
                       }),
                       rec}});
  // schedule(epoch, current rate), called once per epoch with the rate it set last time.
  REQUIRE(calls.size() == 3);
  CHECK(calls[0] == std::pair<int, double>{0, 0.5});
  CHECK(calls[1].first == 1);
  CHECK(calls[1].second == Approx(0.1));
  CHECK(calls[2].second == Approx(0.05));
  REQUIRE(rec->lr_at_batch.size() == 6);
  const std::vector<double> want{0.1, 0.1, 0.05, 0.05, 0.1 / 3, 0.1 / 3};
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(rec->lr_at_batch[i] == Approx(want[i]));
  CHECK(m.optimizer()->learning_rate() == Approx(0.1 / 3));

  // A rate of 0 from the schedule really stops the updates.
  const auto before = m.get_weights();
  m.fit(d.x, d.y, {.batch_size = 8, .epochs = 2, .verbose = 0,
                   .callbacks = {callbacks::LearningRateScheduler([](int, double) { return 0.0; })}});
  CHECK(bit_identical(before, m.get_weights()));
}

TEST_CASE("LearningRateScheduler rejects a negative or non-finite rate naming the epoch",
          "[engine][callbacks][errors]") {
  set_seed(84);
  const Data d = xor_blobs(16, 24);
  Sequential m = mlp();
  compile_sparse(m);
  auto negative = callbacks::LearningRateScheduler(
      [](int epoch, double lr) { return epoch == 1 ? -0.5 : lr; });
  CHECK_THROWS_AS(m.fit(d.x, d.y, {.batch_size = 8, .epochs = 3, .verbose = 0, .callbacks = {negative}}),
                  ValueError);
  CHECK_THROWS_WITH(m.fit(d.x, d.y, {.batch_size = 8, .epochs = 3, .verbose = 0, .callbacks = {negative}}),
                    Contains("-0.5") && Contains("epoch 1"));
  auto nan = callbacks::LearningRateScheduler([](int, double) { return std::nan(""); });
  CHECK_THROWS_AS(m.fit(d.x, d.y, {.epochs = 1, .verbose = 0, .callbacks = {nan}}), ValueError);
  CHECK_THROWS_AS(callbacks::LearningRateScheduler(nullptr), ValueError);
}
