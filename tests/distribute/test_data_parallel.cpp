// SPDX-License-Identifier: Apache-2.0
// Data-parallel training, run under `mpirun -np 2` (CTest label mpi): 2 ranks training with a
// global batch B give the weights and logs of 1 process training with batch B; the ranks end
// with identical weights; files and output come from rank 0 only. `--fault throw|die` instead
// runs a fit in which rank 1 throws or dies, for the fault tests (CMakeLists.txt checks what
// the job prints).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#define OMPI_SKIP_MPICXX 1  // the C API only
#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/callbacks/backup_and_restore.hpp>
#include <lamina/callbacks/csv_logger.hpp>
#include <lamina/callbacks/lambda_callback.hpp>
#include <lamina/callbacks/model_checkpoint.hpp>
#include <lamina/callbacks/terminate_on_nan.hpp>
#include <lamina/datasets/dataset.hpp>
#include <lamina/distribute.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/normalization.hpp>
#include <lamina/model.hpp>
#include <lamina/models.hpp>
#include <lamina/optimizers.hpp>

using namespace lamina;


namespace {

distribute::DataParallel& strategy() {
  static distribute::DataParallel s;
  return s;
}

// Inputs and one-hot labels from a formula: the same on every rank.
Tensor features(std::int64_t n, DType dtype = float32) {
  std::vector<float> v(static_cast<std::size_t>(n * 6));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i) + 0.1));
  return Tensor::from_vector(v, {n, 6}).astype(dtype);
}
Tensor labels(std::int64_t n, DType dtype = float32) {
  std::vector<float> v(static_cast<std::size_t>(n * 3), 0.0f);
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i * 3 + (i * 7 + i / 3) % 3)] = 1.0f;
  return Tensor::from_vector(v, {n, 3}).astype(dtype);
}

Sequential make_model(const char* optimizer, const char* dtype = "float32") {
  set_seed(7);
  Sequential m({layers::Input({6}), layers::Dense(16, {.activation = "tanh", .dtype = dtype}),
                layers::Dense(3, {.activation = "softmax", .dtype = dtype})});
  if (std::string(optimizer) == "adam") m.compile({.optimizer = optimizers::Adam({.learning_rate = 0.01}), .loss = "categorical_crossentropy", .metrics = {"accuracy"}});
  else m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1, .momentum = 0.9}), .loss = "categorical_crossentropy", .metrics = {"accuracy"}});
  return m;
}

// ||a - b|| / ||b||: the relative error of a weight tensor (elementwise ratios blow up where a
// weight crosses zero).
double rel_diff(const Tensor& a, const Tensor& b) {
  double diff = 0, norm = 0;
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  for (std::size_t i = 0; i < x.size(); ++i) {
    diff += (x[i] - y[i]) * (x[i] - y[i]);
    norm += y[i] * y[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

// A directory of rank 0's naming, the same on every rank (defined below).
std::filesystem::path shared_dir(const char* tag);

// Every weight of `m` equals rank 0's, bit for bit.
bool same_on_all_ranks(const Model& m) {
  int all_same = 1;
  for (const Tensor& w : m.weights()) {
    std::vector<float> mine = w.to_vector<float>(), root = mine;
    MPI_Bcast(root.data(), static_cast<int>(root.size()), MPI_FLOAT, 0, MPI_COMM_WORLD);
    if (mine != root) all_same = 0;
  }
  int everywhere = 0;
  MPI_Allreduce(&all_same, &everywhere, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return everywhere == 1;
}

// One process's training (on each rank alike), then the same under the strategy, starting from
// the same weights (rank 1's scrambled first: fit must broadcast rank 0's). Compares the weights
// after 21 steps (within `tolerance`, relative) and every epoch log. In float64 the two differ
// by rounding only (the gradients of a batch are summed in another order); in float32 that
// rounding, amplified by training, reaches about 1e-6.
void check_equivalence(const char* optimizer, bool dataset, const char* dtype, double tolerance,
                       distribute::DataParallel& dp = strategy(), bool through_options = false) {
  const DType dt = std::string(dtype) == "float64" ? float64 : float32;
  const Tensor x = features(100, dt), y = labels(100, dt), xv = features(30, dt), yv = labels(30, dt);
  Sequential single = make_model(optimizer, dtype);
  Sequential multi = make_model(optimizer, dtype);
  multi.set_weights(single.get_weights());
  if (strategy().rank() != 0)
    for (Tensor w : multi.weights()) w.fill(0.5);
  FitOptions o{.batch_size = 16, .epochs = 3, .verbose = 0};
  o.validation_data = ValidationData(std::make_pair(xv, yv));
  History h1, h2;
  {
    if (dataset) {
      auto ds = Dataset::from_tensor_slices(x, y).batch(16);
      set_seed(11);
      h1 = single.fit(ds, {.epochs = 3, .verbose = 0, .validation_data = ValidationData(std::make_pair(xv, yv))});
      auto scope = dp.scope();
      set_seed(11);
      h2 = multi.fit(ds, {.epochs = 3, .verbose = 0, .validation_data = ValidationData(std::make_pair(xv, yv))});
    } else {
      set_seed(11);  // the same shuffling
      h1 = single.fit(x, y, o);
      set_seed(11);
      if (through_options) {
        o.distribution = dp;
        h2 = multi.fit(x, y, o);
      } else {
        auto scope = dp.scope();
        h2 = multi.fit(x, y, o);
      }
    }
  }
  const std::vector<Tensor> w1 = single.weights(), w2 = multi.weights();
  double worst = 0;
  for (std::size_t i = 0; i < w1.size(); ++i) worst = std::max(worst, rel_diff(w2[i], w1[i]));
  if (strategy().is_chief())
    std::printf("equivalence (%s, %s, %s): largest relative weight error (L2) %.3g after %d steps\n", optimizer,
                dataset ? "dataset" : "arrays", dtype, worst, 3 * 7);
  CHECK(worst < tolerance);
  REQUIRE(h1.history.size() == h2.history.size());
  for (const auto& [key, values] : h1.history) {
    INFO(key);
    REQUIRE(h2.history.count(key));
    for (std::size_t e = 0; e < values.size(); ++e)
      CHECK(h2.history.at(key)[e] == Approx(values[e]).epsilon(1e-6));
  }
  CHECK(same_on_all_ranks(multi));
}

}  // namespace

TEST_CASE("DataParallel runs over 2 ranks", "[mpi]") {
  CHECK(strategy().num_replicas() == 2);
  CHECK(strategy().is_chief() == (strategy().rank() == 0));
}

TEST_CASE("2 ranks with global batch B equal 1 process with batch B: SGD with momentum", "[mpi]") {
  check_equivalence("sgd", false, "float64", 1e-6);
  check_equivalence("sgd", false, "float32", 1e-5);
}

TEST_CASE("2 ranks with global batch B equal 1 process with batch B: Adam", "[mpi]") {
  check_equivalence("adam", false, "float64", 1e-6);
  check_equivalence("adam", false, "float32", 1e-5);
}

TEST_CASE("2 ranks equal 1 process on a batched dataset, each batch split over the ranks", "[mpi]") {
  check_equivalence("adam", true, "float64", 1e-6);
  check_equivalence("sgd", true, "float32", 1e-5);
}

TEST_CASE("FitOptions distribution trains through the strategy without set_distribution", "[mpi]") {
  REQUIRE(distribute::distribution() == nullptr);
  check_equivalence("sgd", false, "float64", 1e-6, strategy(), true);
  CHECK(distribute::distribution() == nullptr);
}

TEST_CASE("Buckets all-reduced during backward, many small ones or after backward, give the same training", "[mpi]") {
  // 64-byte buckets: the 6x16 model's 5 weights (in reverse order: 3, 48, 16, 96 values) in 4
  // buckets of one weight each, the first started while backward still computes the others.
  distribute::DataParallel small({.bucket_bytes = 64});
  small.reset_communication_stats();
  check_equivalence("adam", false, "float64", 1e-6, small, true);
  const distribute::CommunicationStats stats = small.communication_stats();
  CHECK(stats.steps == 21);
  CHECK(stats.backward_seconds > 0);
  CHECK(stats.exposed_seconds > 0);
  distribute::DataParallel after({.bucket_bytes = 64, .overlap_backward = false});
  check_equivalence("sgd", false, "float64", 1e-6, after, true);
  CHECK(after.communication_stats().steps == 21);
}

namespace {

Sequential bn_model(const char* optimizer, bool synchronized) {
  set_seed(13);
  // No bias before the normalisation: its gradient is 0 but for rounding, which momentum and
  // Adam would turn into a drift that differs between any two computations.
  Sequential m({layers::Input({6}), layers::Dense(12, {.use_bias = false, .dtype = "float64"}),
                layers::BatchNormalization({.momentum = 0.8, .synchronized = synchronized, .dtype = "float64"}),
                layers::Dense(3, {.activation = "softmax", .dtype = "float64"})});
  if (std::string(optimizer) == "adam") m.compile({.optimizer = optimizers::Adam({.learning_rate = 0.01}), .loss = "categorical_crossentropy", .metrics = {"accuracy"}});
  else m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1, .momentum = 0.9}), .loss = "categorical_crossentropy", .metrics = {"accuracy"}});
  return m;
}

// Synchronised BatchNormalization on 2 ranks against the ordinary layer in one process with the
// global batch: every weight (the moving statistics too) and the logs. The same layer without
// synchronized normalises each rank's half with its own statistics: far from it.
void check_sync_bn(const char* optimizer) {
  const Tensor x = features(96, float64), y = labels(96, float64);
  Sequential single = bn_model(optimizer, true), multi = bn_model(optimizer, true), local = bn_model(optimizer, false);
  multi.set_weights(single.get_weights());
  local.set_weights(single.get_weights());
  FitOptions o{.batch_size = 16, .epochs = 2, .verbose = 0, .validation_split = 0.25};
  set_seed(11);
  const History h1 = single.fit(x, y, o);  // no distribution: the ordinary layer
  o.distribution = strategy();
  set_seed(11);
  const History h2 = multi.fit(x, y, o);
  set_seed(11);
  local.fit(x, y, o);
  const std::vector<Tensor> w1 = single.weights(), w2 = multi.weights(), w3 = local.weights();
  double worst = 0, unsynchronized = 0;
  for (std::size_t i = 0; i < w1.size(); ++i) {
    worst = std::max(worst, rel_diff(w2[i], w1[i]));
    unsynchronized = std::max(unsynchronized, rel_diff(w3[i], w1[i]));
  }
  if (strategy().is_chief())
    std::printf("synchronised BatchNormalization (%s, float64): largest relative weight error (L2) %.3g after 10 steps "
                "(each rank's own statistics: %.3g)\n", optimizer, worst, unsynchronized);
  CHECK(worst < 1e-6);
  CHECK(unsynchronized > 1e-3);
  for (const auto& [key, values] : h1.history) {
    INFO(key);
    REQUIRE(h2.history.count(key));
    for (std::size_t e = 0; e < values.size(); ++e) CHECK(h2.history.at(key)[e] == Approx(values[e]).epsilon(1e-6));
  }
  CHECK(same_on_all_ranks(multi));
}

}  // namespace

TEST_CASE("synchronised BatchNormalization: 2 ranks with global batch B equal 1 process with batch B, SGD", "[mpi]") {
  check_sync_bn("sgd");
}

TEST_CASE("synchronised BatchNormalization: 2 ranks with global batch B equal 1 process with batch B, Adam", "[mpi]") {
  check_sync_bn("adam");
}

namespace {

// `x` with NaN in every row this rank does not read when batches of `batch` rows are split over
// the 2 ranks: a result computed from any of them is NaN.
Tensor poisoned_outside_shard(const Tensor& x, std::int64_t batch) {
  std::vector<double> v = x.to_vector<double>();
  const std::int64_t n = x.shape()[0], width = x.shape()[1], r = strategy().rank();
  for (std::int64_t b = 0; b < n; b += batch) {
    const std::int64_t e = std::min(b + batch, n), rows = e - b;
    const std::int64_t lo = b + rows * r / 2, hi = b + rows * (r + 1) / 2;
    for (std::int64_t i = b; i < e; ++i)
      if (i < lo || i >= hi)
        for (std::int64_t j = 0; j < width; ++j) v[static_cast<std::size_t>(i * width + j)] = std::nan("");
  }
  return Tensor::from_vector(v, x.shape());
}

}  // namespace

TEST_CASE("evaluate and predict under a distribution: each rank reads its rows, every rank gets the whole data's results", "[mpi]") {
  Sequential m = make_model("adam", "float64");
  const Tensor x = features(40, float64), y = labels(40, float64);
  m.fit(x, y, {.batch_size = 8, .epochs = 1, .verbose = 0});
  const std::map<std::string, double> single = m.evaluate(x, y, {.batch_size = 16, .verbose = 0});
  const Tensor p1 = m.predict(x, {.batch_size = 16});
  const Tensor poisoned = poisoned_outside_shard(x, 16);
  SECTION("arrays") {
    const auto multi = m.evaluate(poisoned, y, {.batch_size = 16, .verbose = 0, .distribution = strategy()});
    REQUIRE(multi.size() == single.size());
    for (const auto& [key, value] : single) CHECK(multi.at(key) == Approx(value).epsilon(1e-12));
    const Tensor p2 = m.predict(poisoned, {.batch_size = 16, .distribution = strategy()});
    REQUIRE(p2.shape() == p1.shape());
    CHECK(rel_diff(p2, p1) < 1e-12);
  }
  SECTION("datasets, under set_distribution") {
    auto scope = strategy().scope();
    const auto multi = m.evaluate(Dataset::from_tensor_slices(poisoned, y).batch(16), {.verbose = 0});
    for (const auto& [key, value] : single) CHECK(multi.at(key) == Approx(value).epsilon(1e-12));
    const Tensor p2 = m.predict(Dataset::from_tensor_slices(poisoned).batch(16));
    REQUIRE(p2.shape() == p1.shape());
    CHECK(rel_diff(p2, p1) < 1e-12);
  }
  CHECK(same_on_all_ranks(m));
}

namespace {

Model two_heads() {
  set_seed(3);
  auto x = layers::Input({6}, {.name = "x"});
  auto h = layers::Dense(8, {.activation = "tanh", .dtype = "float64"})(x);
  auto cls = layers::Dense(3, {.activation = "softmax", .name = "cls", .dtype = "float64"})(h);
  auto group = layers::Dense(2, {.activation = "softmax", .name = "group", .dtype = "float64"})(h);
  Model m(x, {cls, group});
  m.compile({.optimizer = "adam",
             .loss = {{"cls", "sparse_categorical_crossentropy"}, {"group", "sparse_categorical_crossentropy"}},
             .loss_weights = {{"cls", 1.0}, {"group", 0.5}},
             .metrics = {{"cls", {"accuracy"}}, {"group", {"accuracy"}}}});
  return m;
}

Tensor classes(std::int64_t n, int k, int salt) {
  std::vector<std::int64_t> v;
  for (std::int64_t i = 0; i < n; ++i) v.push_back((i * 7 + i / 5 + salt) % k);
  return Tensor::from_vector(v, {n});
}

}  // namespace

TEST_CASE("2 ranks equal 1 process on a two-head model with sample weights: per-output losses and metrics", "[mpi]") {
  const Tensor x = features(80, float64);
  std::vector<double> w(80);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.5 + static_cast<double>(i % 4) * 0.25;
  const Tensor sw = Tensor::from_vector(w, {80});
  const TensorArg y = std::map<std::string, Tensor>{{"cls", classes(80, 3, 1)}, {"group", classes(80, 2, 4)}};
  Model single = two_heads(), multi = two_heads();
  multi.set_weights(single.get_weights());
  const FitOptions o{.batch_size = 16, .epochs = 2, .verbose = 0, .validation_split = 0.2, .sample_weight = sw};
  set_seed(8);
  const History h1 = single.fit(x, y, o);
  History h2;
  {
    auto scope = strategy().scope();
    set_seed(8);
    h2 = multi.fit(x, y, o);
  }
  CHECK(h1.history.count("val_group_accuracy"));
  for (const auto& [key, values] : h1.history) {
    INFO(key);
    REQUIRE(h2.history.count(key));
    for (std::size_t e = 0; e < values.size(); ++e) CHECK(h2.history.at(key)[e] == Approx(values[e]).epsilon(1e-9));
  }
  const std::vector<Tensor> w1 = single.weights(), w2 = multi.weights();
  for (std::size_t i = 0; i < w1.size(); ++i) CHECK(rel_diff(w2[i], w1[i]) < 1e-9);
  CHECK(same_on_all_ranks(multi));
}

TEST_CASE("TerminateOnNaN stops every rank on the last good weights when one rank's loss is NaN", "[mpi]") {
  // Sample 40 (rank 1's half of the third batch of 16) is NaN: the third step is skipped on both.
  std::vector<double> v = features(64, float64).to_vector<double>();
  v[40 * 6] = std::nan("");
  const Tensor x = Tensor::from_vector(v, {64, 6});
  Sequential m = make_model("sgd", "float64"), two_steps = make_model("sgd", "float64");
  auto scope = strategy().scope();
  m.fit(x, labels(64, float64),
        {.batch_size = 16, .epochs = 1, .verbose = 0, .callbacks = {std::make_shared<callbacks::TerminateOnNaN>()},
         .shuffle = false});
  two_steps.fit(x.slice(0, 32), labels(32, float64), {.batch_size = 16, .epochs = 1, .verbose = 0, .shuffle = false});
  const std::vector<Tensor> a = m.weights(), b = two_steps.weights();
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(rel_diff(a[i], b[i]) < 1e-12);
  CHECK(same_on_all_ranks(m));
}

TEST_CASE("a batch smaller than the number of ranks is refused on every rank", "[mpi]") {
  Sequential m = make_model("sgd");
  auto scope = strategy().scope();
  // 17 samples in batches of 16: the last holds 1.
  CHECK_THROWS_WITH(m.fit(features(17), labels(17), {.batch_size = 16, .verbose = 0}),
                    Catch::Contains("cannot be split over 2 replicas"));
}

namespace {
struct Counted : Callback {
  int epochs = 0;
  void on_epoch_end(int, const Logs&) override { ++epochs; }
};
}  // namespace

TEST_CASE("files and output come from rank 0 only", "[mpi]") {
  const std::filesystem::path dir = shared_dir("lamina_mpi_files_");
  static const bool registered = [] {
    distribute::register_chief_only(typeid(Counted));
    return true;
  }();
  (void)registered;
  auto counted = std::make_shared<Counted>();
  int wrapped_calls = 0, plain_calls = 0;
  auto wrapped = distribute::chief_only(std::make_shared<callbacks::LambdaCallback>(
      callbacks::LambdaCallbackOptions{.on_epoch_end = [&](int, const Logs&) { ++wrapped_calls; }}));
  auto plain = std::make_shared<callbacks::LambdaCallback>(
      callbacks::LambdaCallbackOptions{.on_epoch_end = [&](int, const Logs&) { ++plain_calls; }});
  Sequential m = make_model("sgd");
  {
    auto scope = strategy().scope();
    m.fit(features(64), labels(64),
          {.batch_size = 16, .epochs = 2, .verbose = 0,
           .callbacks = {std::make_shared<callbacks::CSVLogger>((dir / "log.csv").string()),
                         std::make_shared<callbacks::ModelCheckpoint>((dir / "ckpt.keras").string()), counted,
                         wrapped, plain}});
  }
  strategy().barrier();
  const bool chief = strategy().is_chief();
  CHECK(plain_calls == 2);  // every rank runs the others
  CHECK(wrapped_calls == (chief ? 2 : 0));
  CHECK(counted->epochs == (chief ? 2 : 0));
  if (chief) {
    std::ifstream csv(dir / "log.csv");
    int lines = 0;
    for (std::string line; std::getline(csv, line);) ++lines;
    CHECK(lines == 3);  // the header and one row per epoch, written once
    CHECK(std::filesystem::exists(dir / "ckpt.keras"));
  }
  strategy().barrier();
  if (chief) std::filesystem::remove_all(dir);
}

namespace {

// A directory of rank 0's naming, the same on every rank.
std::filesystem::path shared_dir(const char* tag) {
  char name[256] = {};
  if (strategy().is_chief()) {
    const auto dir = std::filesystem::temp_directory_path() / (std::string(tag) + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::snprintf(name, sizeof name, "%s", dir.c_str());
  }
  MPI_Bcast(name, sizeof name, MPI_CHAR, 0, MPI_COMM_WORLD);
  return name;
}

}  // namespace

TEST_CASE("BackupAndRestore resumes an interrupted distributed fit where it stopped", "[mpi]") {
  const std::filesystem::path dir = shared_dir("lamina_mpi_backup_");
  const Tensor x = features(96, float64), y = labels(96, float64);
  const FitOptions base{.batch_size = 16, .epochs = 4, .verbose = 0};
  auto scope = strategy().scope();
  // Uninterrupted.
  Sequential whole = make_model("adam", "float64");
  set_seed(5);
  whole.fit(x, y, base);
  // Interrupted in epoch 2 (every rank stops, as when the job is killed), then run again from a
  // fresh model: rank 0 restores the backup, fit hands it to every rank.
  Sequential interrupted = make_model("adam", "float64");
  auto stop = std::make_shared<callbacks::LambdaCallback>(callbacks::LambdaCallbackOptions{
      .on_epoch_begin = [](int epoch, const Logs&) {
        if (epoch == 2) throw ValueError("interrupted");
      }});
  FitOptions o = base;
  o.callbacks = {std::make_shared<callbacks::BackupAndRestore>(dir.string()), stop};
  set_seed(5);
  CHECK_THROWS_WITH(interrupted.fit(x, y, o), Catch::Contains("interrupted"));
  Sequential resumed = make_model("adam", "float64");
  for (Tensor w : resumed.weights()) w.fill(strategy().rank() + 2.0);  // any start: the backup wins
  o.callbacks = {std::make_shared<callbacks::BackupAndRestore>(dir.string())};
  set_seed(99);  // the shuffling comes from the backup too
  resumed.fit(x, y, o);
  const std::vector<Tensor> a = resumed.weights(), b = whole.weights();
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, rel_diff(a[i], b[i]));
  CHECK(worst < 1e-12);
  CHECK(same_on_all_ranks(resumed));
  strategy().barrier();
  if (strategy().is_chief()) std::filesystem::remove_all(dir);
}

namespace {

// Rank 1 throws (or dies) in its third step; rank 0 reports what it was told.
int run_fault(const std::string& mode) {
  Sequential m = make_model("sgd");
  auto failing = std::make_shared<callbacks::LambdaCallback>(callbacks::LambdaCallbackOptions{
      .on_train_batch_begin = [&](std::int64_t batch, const Logs&) {
        if (strategy().rank() != 1 || batch != 2) return;
        if (mode == "die") std::raise(SIGKILL);
        throw ValueError("injected failure");
      }});
  auto scope = strategy().scope();
  try {
    m.fit(features(64), labels(64), {.batch_size = 16, .epochs = 2, .verbose = 0, .callbacks = {failing}});
    std::printf("rank %d: fit ended without an error\n", strategy().rank());
  } catch (const std::exception& e) {
    std::printf("rank %d stopped: %s\n", strategy().rank(), e.what());
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  set_num_threads(1);  // 2 ranks × 1 thread on a 2-core machine
  strategy();          // initialises MPI
  if (argc == 3 && std::string(argv[1]) == "--fault") return run_fault(argv[2]);
  // Only rank 0 reports; both run every test.
  std::vector<char*> args(argv, argv + argc);
  if (strategy().rank() != 0) {
    std::freopen("/dev/null", "w", stdout);
  }
  const int failed = Catch::Session().run(static_cast<int>(args.size()), args.data());
  int any = failed, worst = 0;
  MPI_Allreduce(&any, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return worst;
}
