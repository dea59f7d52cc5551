// SPDX-License-Identifier: Apache-2.0
// Optimizer state survives a file: 2 epochs, save, load in a new process, 1 more epoch gives the
// weights of 3 uninterrupted epochs, bit for bit. The data order is fixed with shuffle = false
// (the model has no dropout, so nothing else draws random numbers during fit).
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <lamina/models.hpp>

#include "io/h5_models.hpp"
#include "io/h5_test_files.hpp"

using namespace lamina;
using lamina::testing::same_bits;

namespace {

constexpr const char* kChildTest = "h5io resume child loads a checkpoint and trains one more epoch";

void fit_epochs(Model& m, int epochs) {
  m.fit(lamina::testing::features(64, 6, 5), lamina::testing::labels(64, 3),
        {.batch_size = 16, .epochs = epochs, .verbose = 0, .shuffle = false});
}

Model compiled_mlp() {
  reset_layer_names();
  Model m = lamina::testing::small_mlp(21);
  m.compile({.optimizer = optimizers::Adam({.learning_rate = 0.02}),
             .loss = "sparse_categorical_crossentropy",
             .metrics = {"accuracy"}});
  return m;
}

}  // namespace

// Run only by the test below, in a fresh process (hidden tag).
TEST_CASE("h5io resume child loads a checkpoint and trains one more epoch", "[.h5io-child]") {
  const char* in = std::getenv("LAMINA_RESUME_IN");
  const char* out = std::getenv("LAMINA_RESUME_OUT");
  if (in == nullptr || out == nullptr) return;  // run directly (e.g. all tests by a filter)
  Model m = models::load_model(in);
  fit_epochs(m, 1);
  m.save_weights(out);
}

TEST_CASE("Training resumed from a .h5 in a new process matches uninterrupted training bit for bit",
          "[h5io]") {
  lamina::testing::ScratchDir dir("resume");
  const std::string ckpt = dir.file("ckpt.h5"), resumed = dir.file("resumed.weights.h5");
  {
    Model m = compiled_mlp();
    fit_epochs(m, 2);
    m.save(ckpt);
  }
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::setenv("LAMINA_RESUME_IN", ckpt.c_str(), 1);
    ::setenv("LAMINA_RESUME_OUT", resumed.c_str(), 1);
    ::execl("/proc/self/exe", "lamina_tests", kChildTest, "--out", "/dev/null", nullptr);
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  Model straight = compiled_mlp();
  fit_epochs(straight, 3);
  Model loaded = compiled_mlp();
  loaded.load_weights(resumed);
  CHECK(same_bits(loaded.get_weights(), straight.get_weights()));

  // Without the optimizer state (a fresh Adam), the third epoch would differ: the check can fail.
  Model restarted = models::load_model(ckpt, {.compile = false});
  restarted.compile({.optimizer = optimizers::Adam({.learning_rate = 0.02}),
                     .loss = "sparse_categorical_crossentropy"});
  fit_epochs(restarted, 1);
  CHECK_FALSE(same_bits(restarted.get_weights(), straight.get_weights()));
}
