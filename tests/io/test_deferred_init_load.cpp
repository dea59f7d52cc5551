// SPDX-License-Identifier: Apache-2.0
// load_model builds the model without running the initializers the file then overwrites
// (engine::DeferredInit): no random value is drawn for a 600-unit LSTM, the predictions are the
// saved model's bit for bit, and a weight the loader does not assign gets the eager build's values.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <lamina/layers/core.hpp>
#include <lamina/layers/recurrent.hpp>
#include <lamina/models.hpp>

#include "engine/deferred_init.hpp"
#include "io/h5_models.hpp"
#include "io/h5_test_files.hpp"
#include "ops/random.hpp"

using namespace lamina;
using lamina::testing::same_bits;
using lamina::testing::ScratchDir;

namespace {

bool same_state(random::State a, random::State b) { return a.seed == b.seed && a.counter == b.counter; }

}  // namespace

TEST_CASE("load_model of an LSTM(600) file draws no initializer value and predicts as the saved model",
          "[io][deferred_init]") {
  set_seed(21);
  Sequential saved({layers::Input({4, 16}), layers::LSTM(600), layers::Dense(3)});
  const Tensor x = random_normal({2, 4, 16}, 0.0, 1.0);
  const Tensor expected = saved.predict(x);
  ScratchDir dir("deferred_init");
  for (const std::string name : {"lstm600.keras", "lstm600.h5"}) {
    INFO(name);
    saved.save(dir.file(name));
    set_seed(5);
    const std::uint64_t drawn = random::values_drawn();
    Model loaded = models::load_model(dir.file(name));
    // Orthogonal (600, 2400) and Glorot draw nothing: the file supplies every weight.
    CHECK(random::values_drawn() == drawn);
    const random::State after_load = random::get_state();
    CHECK(same_bits(loaded.get_weights(), saved.get_weights()));
    CHECK(same_bits({loaded.predict(x)}, {expected}));
    // The seeded stream moved as an eager build of the same architecture moves it.
    set_seed(5);
    models::model_from_json(saved.to_json());
    CHECK(same_state(random::get_state(), after_load));
  }
}

TEST_CASE("a deferred weight the loader does not assign gets the eager build's values",
          "[io][deferred_init]") {
  auto make = [] {
    return Sequential({layers::Input({6}),
                       layers::Dense(5, {.kernel_initializer = "orthogonal", .bias_initializer = "random_normal"}),
                       layers::Dense(2, {.kernel_initializer = "he_normal"})});
  };
  set_seed(3);
  Sequential eager = make();
  const random::State eager_state = random::get_state();
  const std::vector<Tensor> eager_weights = eager.get_weights();

  set_seed(3);
  engine::DeferredInit deferred;
  Sequential lazy = make();
  CHECK(same_state(random::get_state(), eager_state));
  std::vector<Tensor> weights = lazy.weights();  // kernel, bias, kernel_1, bias_1
  REQUIRE(weights.size() == 4);
  CHECK(weights[0].to_vector<float>() == std::vector<float>(30, 0.0f));  // deferred: zeros for now
  const Tensor supplied = Tensor::full({6, 5}, 0.25);
  weights[0].assign(supplied);
  engine::DeferredInit::assigned(weights[0]);
  deferred.finish();
  const std::vector<Tensor> got = lazy.get_weights();
  CHECK(same_bits({got[0]}, {supplied}));                  // the loader's values stay
  CHECK(same_bits({got[1], got[2], got[3]}, {eager_weights[1], eager_weights[2], eager_weights[3]}));
  CHECK(!same_bits({got[1]}, {Tensor::zeros({5})}));
  CHECK(same_state(random::get_state(), eager_state));  // replaying moved nothing
}
