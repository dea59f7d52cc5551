// SPDX-License-Identifier: Apache-2.0
// ModelCheckpoint's decisions (when, which path, best-only) through a recording saver, its
// filepath templates (Python str.format results written out by hand), and its argument checks.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>

#include "callbacks/scripted.hpp"
#include "support/capture.hpp"

using namespace lamina;
using namespace lamina::testing;
using callbacks::ModelCheckpoint;
using callbacks::ModelCheckpointOptions;

namespace {

struct Saved {
  std::string path;
  bool weights_only;
  float tag;  ///< weight_tag of the model when saved: which epoch's weights
};

// Options whose saver records each save into `log`.
ModelCheckpointOptions recording(std::vector<Saved>& log, ModelCheckpointOptions o = {}) {
  o.saver = [&log](Model& model, const std::string& path, bool weights_only) {
    log.push_back({path, weights_only, weight_tag(model)});
  };
  return o;
}

std::vector<std::string> paths(const std::vector<Saved>& log) {
  std::vector<std::string> out;
  for (const Saved& s : log) out.push_back(s.path);
  return out;
}

}  // namespace

TEST_CASE("ModelCheckpoint fills {epoch:02d} and {val_loss:.4f} and saves every epoch",
          "[callbacks]") {
  Sequential m = tiny_model();
  std::vector<Saved> log;
  ModelCheckpoint cb("ckpt-{epoch:02d}-{val_loss:.4f}.h5", recording(log));
  run_epochs(cb, m, "val_loss", {0.5, 0.28714, 0.61});
  CHECK(paths(log) ==
        std::vector<std::string>{"ckpt-01-0.5000.h5", "ckpt-02-0.2871.h5", "ckpt-03-0.6100.h5"});
  CHECK(log[1].tag == 1.0f);
  CHECK_FALSE(log[1].weights_only);
}

TEST_CASE("ModelCheckpoint's templates follow Python's format specs", "[callbacks]") {
  ModelCheckpoint t("{epoch}_{epoch:03d}_{loss}_{loss:.2e}_{loss:8.3f}_{acc:.1%}_{{x}}.keras");
  const Logs logs{{"loss", 0.125}, {"acc", 0.8766}};
  CHECK(t.file_path(6, -1, logs) == "7_007_0.125_1.25e-01_   0.125_87.7%_{x}.keras");
  ModelCheckpoint b("w-{epoch:02d}-{batch:04d}.weights.h5", {.save_weights_only = true});
  CHECK(b.file_path(0, 41, {}) == "w-01-0042.weights.h5");
  ModelCheckpoint missing("m-{val_auc:.2f}.h5");
  CHECK_THROWS_WITH(missing.file_path(0, -1, {{"loss", 1.0}}),
                    Catch::Contains("m-{val_auc:.2f}.h5") && Catch::Contains("'val_auc'") &&
                        Catch::Contains("available: epoch, loss"));
  ModelCheckpoint float_as_int("m-{loss:d}.h5");
  CHECK_THROWS_AS(float_as_int.file_path(0, -1, {{"loss", 1.0}}), ValueError);
  ModelCheckpoint unclosed("m-{epoch.h5");
  CHECK_THROWS_WITH(unclosed.file_path(0, -1, {}), Catch::Contains("unclosed"));
}

TEST_CASE("ModelCheckpoint with save_best_only saves only improvements, "
          "after initial_value_threshold", "[callbacks]") {
  Sequential m = tiny_model();
  std::vector<Saved> log;
  ModelCheckpoint best("best.h5", recording(log, {.save_best_only = true}));
  run_epochs(best, m, "val_loss", {0.5, 0.6, 0.4, 0.4, 0.1});
  CHECK(paths(log).size() == 3);
  std::vector<float> tags;
  for (const Saved& s : log) tags.push_back(s.tag);
  CHECK(tags == std::vector<float>{0, 2, 4});
  CHECK(best.best() == 0.1);

  log.clear();
  ModelCheckpoint threshold("best.h5",
                            recording(log, {.save_best_only = true, .initial_value_threshold = 0.45}));
  run_epochs(threshold, m, "val_loss", {0.5, 0.6, 0.4, 0.3});
  CHECK(log.size() == 2);
  CHECK(log.at(0).tag == 2.0f);

  log.clear();
  ModelCheckpoint acc("best.h5", recording(log, {.monitor = "val_accuracy", .save_best_only = true}));
  run_epochs(acc, m, "val_accuracy", {0.5, 0.4, 0.7});
  CHECK(log.size() == 2);
  CHECK(log.at(1).tag == 2.0f);
}

TEST_CASE("ModelCheckpoint with verbose 1 says why it saves or not", "[callbacks]") {
  Sequential m = tiny_model();
  std::vector<Saved> log;
  ModelCheckpoint cb("best.h5", recording(log, {.verbose = 1, .save_best_only = true}));
  StdoutCapture capture;
  run_epochs(cb, m, "val_loss", {0.5, 0.6});
  check_lines(capture.finish(),
              {"", "Epoch 1: val_loss improved from inf to 0.50000, saving model to best.h5", "",
               "Epoch 2: val_loss did not improve from 0.50000"});
}

TEST_CASE("ModelCheckpoint with save_freq N saves every N batches counted across epochs",
          "[callbacks]") {
  Sequential m = tiny_model();
  std::vector<Saved> log;
  ModelCheckpoint cb("c-{epoch}-{batch}.weights.h5",
                     recording(log, {.save_weights_only = true, .save_freq = 3}));
  cb.set_model(m);
  cb.on_train_begin({});
  for (int e = 0; e < 3; ++e) {
    cb.on_epoch_begin(e, {});
    for (int b = 0; b < 2; ++b) cb.on_train_batch_end(b, {{"loss", 1.0}});
    cb.on_epoch_end(e, {{"loss", 1.0}});
  }
  // Batches 1, 2 | 3, 4 | 5, 6 overall: saves after the 3rd (epoch 2, batch 1) and the 6th.
  CHECK(paths(log) == std::vector<std::string>{"c-2-1.weights.h5", "c-3-2.weights.h5"});
  CHECK(log.at(0).weights_only);
}

TEST_CASE("ModelCheckpoint checks its filepath's extension and save_freq", "[callbacks]") {
  CHECK_THROWS_WITH(ModelCheckpoint("model.bin"), Catch::Contains("must end in \".keras\" or \".h5\""));
  CHECK_THROWS_WITH(ModelCheckpoint("model.keras", {.save_weights_only = true}),
                    Catch::Contains(".weights.h5"));
  CHECK_NOTHROW(ModelCheckpoint("model.keras"));
  CHECK_THROWS_WITH(ModelCheckpoint("m.h5", {.save_freq = "batch"}),
                    Catch::Contains("Unrecognized save_freq: 'batch'"));
  CHECK_THROWS_AS(ModelCheckpoint("m.h5", {.save_freq = 0}), ValueError);
  CHECK_THROWS_AS(ModelCheckpoint("m.h5", {.mode = "best"}), ValueError);
}

TEST_CASE("ModelCheckpoint writes real files through Model::save_weights and Model::save",
          "[callbacks]") {
  const ScratchDir dir("checkpoint_files");
  Sequential m = tiny_model();
  ModelCheckpoint weights(dir / "w/ckpt-{epoch:02d}.weights.h5",
                          {.save_best_only = true, .save_weights_only = true});
  run_epochs(weights, m, "val_loss", {0.5, 0.6, 0.4});
  // Epochs 1 and 3 improved; the parent directory "w" was created.
  CHECK(std::filesystem::exists(dir / "w/ckpt-01.weights.h5"));
  CHECK_FALSE(std::filesystem::exists(dir / "w/ckpt-02.weights.h5"));
  REQUIRE(std::filesystem::exists(dir / "w/ckpt-03.weights.h5"));
  Sequential back = tiny_model();
  back.load_weights(dir / "w/ckpt-03.weights.h5");
  CHECK(weight_tag(back) == 2.0f);
  back.load_weights(dir / "w/ckpt-01.weights.h5");
  CHECK(weight_tag(back) == 0.0f);

  ModelCheckpoint whole(dir / "model.h5");
  run_epochs(whole, m, "val_loss", {0.5, 0.6});
  REQUIRE(std::filesystem::exists(dir / "model.h5"));
  back.load_weights(dir / "model.h5");  // the last epoch's save
  CHECK(weight_tag(back) == 1.0f);
}
