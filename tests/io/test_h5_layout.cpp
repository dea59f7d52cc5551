// SPDX-License-Identifier: Apache-2.0
// What lamina writes has the layout Keras's readers expect: tests/io/check_keras_h5.py, an h5py
// check written from KERAS_FORMATS.md, passes on lamina's files (and on Keras's own).
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "io/h5_models.hpp"
#include "io/h5_test_files.hpp"

using namespace lamina;
using lamina::testing::keras_file;

namespace {

// Exit status of the checker on `path`.
int keras_check(const std::string& kind, const std::string& path) {
  const std::string cmd = "/usr/bin/python3 " LAMINA_SOURCE_DIR "/tests/io/check_keras_h5.py " + kind + " '" +
                          path + "' > /dev/null";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("The h5py structural checker passes Keras's own files and fails a wrong layout",
          "[h5io]") {
  CHECK(keras_check("model", keras_file("k3_churn_mlp.h5")) == 0);
  CHECK(keras_check("model", keras_file("k2_tf213_functional_skipconcat.h5")) == 0);
  CHECK(keras_check("weights", keras_file("k2_dl4j_mlp_softmax.weights.h5")) == 0);
  CHECK(keras_check("keras3", keras_file("k3_churn_mlp.h5")) == 1);
  CHECK(keras_check("weights", keras_file("k3_churn_mlp.h5")) == 1);
}

TEST_CASE("lamina's .h5 models, legacy weights and .weights.h5 pass the h5py structural check",
          "[h5io]") {
  reset_layer_names();
  lamina::testing::ScratchDir dir("layout");
  Model mlp = lamina::testing::small_mlp(1);
  mlp.compile({.optimizer = "adam", .loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  mlp.fit(lamina::testing::features(8, 6, 1), lamina::testing::labels(8, 3), {.verbose = 0});
  Model functional = lamina::testing::small_functional(2);
  for (Model* m : {&mlp, &functional}) {
    m->save(dir.file("m.h5"));
    CHECK(keras_check("model", dir.file("m.h5")) == 0);
    m->save_weights(dir.file("w.h5"));
    CHECK(keras_check("weights", dir.file("w.h5")) == 0);
    m->save_weights(dir.file("w.weights.h5"));
    CHECK(keras_check("keras3", dir.file("w.weights.h5")) == 0);
  }
}
