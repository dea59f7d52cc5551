// SPDX-License-Identifier: Apache-2.0
// Optimizer state that does not fit the model's optimizer (another class, another set of trainable
// weights) is skipped with one warning line, as Keras's "Skipping variable loading for optimizer"
// does, while the weights load; weights that do not fit still fail.
#include <catch2/catch.hpp>

#include <string>

#include <lamina/errors.hpp>
#include <lamina/optimizers.hpp>

#include "engine/training.hpp"
#include "io/h5_models.hpp"
#include "io/h5_test_files.hpp"
#include "io/hdf5.hpp"
#include "io/optimizer_state.hpp"
#include "support/capture.hpp"

using namespace lamina;
using lamina::testing::features;
using lamina::testing::labels;
using lamina::testing::same_bits;
using lamina::testing::ScratchDir;
using lamina::testing::small_mlp;
using Catch::Matchers::Contains;

namespace {

// small_mlp trained for two steps with `optimizer` (6 trainable weights).
Model trained(std::uint64_t seed, const Ref<Optimizer>& optimizer) {
  Model m = small_mlp(seed);
  m.compile({.optimizer = optimizer, .loss = "sparse_categorical_crossentropy"});
  m.fit(features(8, 6, seed), labels(8, 3), {.batch_size = 4, .verbose = 0});
  return m;
}

}  // namespace

TEST_CASE("load_weights of Adam's state into an SGD model warns, skips the state and loads the weights",
          "[h5io][optimizers]") {
  reset_layer_names();
  ScratchDir dir("optimizer_state");
  const Model source = trained(1, optimizers::Adam());
  const std::string path = dir.file("adam.weights.h5");
  source.save_weights(path);

  Model target = small_mlp(2);
  target.compile({.optimizer = optimizers::SGD({.momentum = 0.9}), .loss = "sparse_categorical_crossentropy"});
  lamina::testing::StderrCapture err;
  target.load_weights(path);
  const std::string warning = err.finish();
  CHECK(same_bits(target.get_weights(), source.get_weights()));
  CHECK(target.optimizer()->iterations() == 0);
  CHECK(lamina::testing::lines_of(warning).size() == 1);
  CHECK_THAT(warning, Contains(path) && Contains("skipping variable loading for optimizer SGD") &&
                          Contains("it has 8 variables, the file has 14"));
  // The fresh SGD state trains on.
  target.fit(features(8, 6, 3), labels(8, 3), {.batch_size = 4, .verbose = 0});
  CHECK(target.optimizer()->iterations() == 2);

  // Weights that do not fit are still an error.
  Model wider = small_mlp(3, 16);
  wider.compile({.optimizer = optimizers::Adam(), .loss = "sparse_categorical_crossentropy"});
  CHECK_THROWS_AS(wider.load_weights(path), FileFormatError);
}

TEST_CASE("Optimizer state for other trainable weights (a frozen layer) is skipped with a warning",
          "[h5io][optimizers]") {
  reset_layer_names();
  ScratchDir dir("optimizer_state");
  const Model source = trained(1, optimizers::Adam());
  const std::string path = dir.file("adam.weights.h5");
  source.save_weights(path);

  Model target = small_mlp(2);
  target.layers()[0]->set_trainable(false);  // 4 trainable weights: Adam has 2 + 2·4 variables
  target.compile({.optimizer = optimizers::Adam(), .loss = "sparse_categorical_crossentropy"});
  lamina::testing::StderrCapture err;
  target.load_weights(path);
  const std::string warning = err.finish();
  for (std::size_t i = 0; i < source.layers().size(); ++i)
    CHECK(same_bits(target.layers()[i]->get_weights(), source.layers()[i]->get_weights()));
  CHECK(target.optimizer()->iterations() == 0);
  CHECK_THAT(warning, Contains(path) && Contains("optimizer Adam: it has 10 variables, the file has 14"));

  // The same file into the model it was saved from restores the state (the check can fail).
  Model twin = small_mlp(2);
  twin.compile({.optimizer = optimizers::Adam(), .loss = "sparse_categorical_crossentropy"});
  twin.load_weights(path);
  CHECK(twin.optimizer()->iterations() == 2);
}

TEST_CASE("Named optimizer state of another class with the same shapes is skipped: RMSprop into SGD",
          "[h5io][optimizers]") {
  // RMSprop (velocity per weight) and SGD with momentum (momentum per weight) have the same count
  // and shapes of variables; a legacy .h5 names them, so the kinds tell them apart. (Keras 3's
  // .weights.h5 numbers them: there, as in Keras, only the count and shapes are checked.)
  reset_layer_names();
  ScratchDir dir("optimizer_state");
  const std::string path = dir.file("rmsprop.h5");
  trained(1, optimizers::RMSprop()).save(path);
  const io::h5::File file = io::h5::File::open(path);
  const io::h5::Group group = file.root().group("optimizer_weights");
  const auto names = group.read_chunked_list_attr("weight_names");
  const auto restore_into = [&](Model& m) {
    const auto trainable = m.trainable_weights();
    io::read_optimizer_state(*m.optimizer(), trainable, engine::variable_paths(m.impl(), trainable), group,
                             names)
        .commit();
  };

  Model sgd = small_mlp(2);
  sgd.compile({.optimizer = optimizers::SGD({.momentum = 0.9}), .loss = "sparse_categorical_crossentropy"});
  lamina::testing::StderrCapture err;
  restore_into(sgd);
  const std::string warning = err.finish();
  CHECK(sgd.optimizer()->iterations() == 0);
  CHECK_THAT(warning, Contains(path) && Contains("optimizer SGD: variable 2 is 'rmsprop/") &&
                          Contains("_velocity' in the file") && Contains("_momentum'"));

  Model rmsprop = small_mlp(2);
  rmsprop.compile({.optimizer = optimizers::RMSprop(), .loss = "sparse_categorical_crossentropy"});
  restore_into(rmsprop);
  CHECK(rmsprop.optimizer()->iterations() == 2);
}
