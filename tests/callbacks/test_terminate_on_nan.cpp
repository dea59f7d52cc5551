// SPDX-License-Identifier: Apache-2.0
// TerminateOnNaN: the first NaN loss stops fit, is reported, and never reaches the weights: they
// are those of the last good step (compared with a run of exactly those steps).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>
#include <lamina/ops.hpp>

#include "callbacks/scripted.hpp"
#include "support/capture.hpp"

using namespace lamina;
using namespace lamina::testing;
using callbacks::TerminateOnNaN;

namespace {

// Six samples in batches of two; sample 4 (batch 2) holds a NaN.
const float kNaN = std::numeric_limits<float>::quiet_NaN();
const std::vector<float> kXs{1, 2, 3, 4, -1, 0.5f, 2, 1, kNaN, 1, 0, 1};
const std::vector<float> kYs{1, 0, 1, 0, 1, 0};

bool all_weights_finite(Model& m) {
  for (const Tensor& w : m.get_weights())
    if (!all_finite(w)) return false;
  return true;
}

}  // namespace

TEST_CASE("TerminateOnNaN stops at the first NaN loss and keeps the last good step's weights",
          "[callbacks]") {
  const Tensor kX = Tensor::from_vector(kXs, {6, 2}), kY = Tensor::from_vector(kYs, {6, 1});
  Sequential start = tiny_model(0.1);
  const auto initial = start.get_weights();

  Sequential good = tiny_model(0.1);  // exactly the two good steps
  good.set_weights(initial);
  good.train_on_batch(kX.slice(0, 2), kY.slice(0, 2));
  good.train_on_batch(kX.slice(2, 4), kY.slice(2, 4));

  Sequential m = tiny_model(0.1);
  m.set_weights(initial);
  StdoutCapture capture;
  History h = m.fit(kX, kY, {.batch_size = 2, .epochs = 3, .verbose = 0,
                             .callbacks = {TerminateOnNaN()}, .shuffle = false});
  check_lines(capture.finish(), {"Batch 2: Invalid loss, terminating training"});
  CHECK(h.epoch == std::vector<int>{0});
  CHECK(std::isnan(h.history.at("loss")[0]));
  CHECK(bit_identical(m.get_weights(), good.get_weights()));
  CHECK(m.optimizer()->iterations() == 2);

  // Without the callback the NaN step reaches the weights.
  Sequential unguarded = tiny_model(0.1);
  unguarded.set_weights(initial);
  unguarded.fit(kX, kY, {.batch_size = 2, .epochs = 1, .verbose = 0, .shuffle = false});
  CHECK_FALSE(all_weights_finite(unguarded));
}

TEST_CASE("TerminateOnNaN with raise_error throws at the NaN batch, weights still good",
          "[callbacks]") {
  const Tensor kX = Tensor::from_vector(kXs, {6, 2}), kY = Tensor::from_vector(kYs, {6, 1});
  Sequential m = tiny_model(0.1);
  CHECK_THROWS_WITH(m.fit(kX, kY, {.batch_size = 2, .epochs = 1, .verbose = 0,
                                   .callbacks = {TerminateOnNaN(true)}, .shuffle = false}),
                    Catch::StartsWith("NaN or Inf loss encountered at batch 2. Loss value: "));
  CHECK(all_weights_finite(m));
  // A later fit without the callback no longer skips non-finite steps.
  m.fit(kX, kY, {.batch_size = 2, .epochs = 1, .verbose = 0, .shuffle = false});
  CHECK_FALSE(all_weights_finite(m));
}
