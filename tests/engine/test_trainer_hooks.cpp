// SPDX-License-Identifier: Apache-2.0
// The trainer's hooks (src/engine/trainer.hpp): the extension points a distribution strategy and
// mixed precision plug into, their order in a step, and their effect on the update and the logs.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/model.hpp>
#include <lamina/ops.hpp>
#include <lamina/optimizers.hpp>

#include "engine/trainer.hpp"

using namespace lamina;

namespace {

struct Recorder : engine::TrainerHooks {
  std::vector<std::string> calls;
  double loss_scale = 1.0;
  double gradient_factor = 1.0;
  bool finite = true;
  Tensor scale_loss(const Tensor& loss) override {
    calls.push_back("scale_loss");
    return loss_scale == 1.0 ? loss : loss * loss_scale;
  }
  void reduce_gradients(std::vector<Tensor>& grads) override {
    calls.push_back("reduce_gradients");
    for (Tensor& g : grads) g = g * gradient_factor;
  }
  bool unscale_gradients(std::vector<Tensor>& grads) override {
    calls.push_back("unscale_gradients");
    for (Tensor& g : grads) g = g * (1.0 / loss_scale);
    return finite;
  }
  // As a second replica that saw as many samples with a loss of 0 would: the sums stay, the
  // counts double, so every loss log halves.
  void reduce_metrics(engine::MetricStates& states) override {
    calls.push_back("reduce_metrics");
    for (auto& t : states.loss_trackers) t.update_state(Tensor::scalar(0.0), t.count());
  }
};

Sequential linear_model(std::uint64_t seed) {
  set_seed(seed);
  Sequential m({layers::Input({3}), layers::Dense(2)});
  m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.05}), .loss = "mse"});
  return m;
}

Tensor inputs() { return Tensor::from_vector(std::vector<float>{0.5f, -1.f, 2.f, 1.5f, 0.25f, -0.75f}, {2, 3}); }
Tensor targets() { return Tensor::from_vector(std::vector<float>{1.f, 0.f, -1.f, 2.f}, {2, 2}); }

// One train_on_batch of linear_model(seed) through `hooks`.
Sequential trained_through(std::uint64_t seed, const std::shared_ptr<Recorder>& hooks,
                           std::map<std::string, double>* logs = nullptr) {
  Sequential model = linear_model(seed);
  engine::set_trainer_hooks(model, hooks);
  const auto result = model.train_on_batch(inputs(), targets());
  if (logs) *logs = result;
  return model;
}

std::vector<float> flat(const std::vector<Tensor>& ws) {
  std::vector<float> out;
  for (const Tensor& w : ws)
    for (float v : w.to_vector<float>()) out.push_back(v);
  return out;
}

}  // namespace

TEST_CASE("A train step calls the hooks in order: scale_loss, reduce_gradients, unscale_gradients, reduce_metrics when logs are read",
          "[trainer]") {
  Sequential model = linear_model(1);
  auto hooks = std::make_shared<Recorder>();
  engine::set_trainer_hooks(model, hooks);
  model.train_on_batch(inputs(), targets());
  CHECK(hooks->calls == std::vector<std::string>{"scale_loss", "reduce_gradients", "unscale_gradients", "reduce_metrics"});

  hooks->calls.clear();
  model.fit(inputs(), targets(), {.batch_size = 1, .epochs = 1, .verbose = 0});
  // Two steps, their batch logs unread (no callback reads them), then the epoch's logs.
  CHECK(hooks->calls == std::vector<std::string>{"scale_loss", "reduce_gradients", "unscale_gradients",
                                                 "scale_loss", "reduce_gradients", "unscale_gradients",
                                                 "reduce_metrics"});
}

TEST_CASE("Gradients doubled in reduce_gradients move the weights as SGD with twice the learning rate does",
          "[trainer]") {
  auto hooks = std::make_shared<Recorder>();
  hooks->gradient_factor = 2.0;
  Sequential hooked = trained_through(2, hooks);

  set_seed(2);
  Sequential reference({layers::Input({3}), layers::Dense(2)});
  reference.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}), .loss = "mse"});
  reference.train_on_batch(inputs(), targets());
  const auto a = flat(hooked.get_weights()), b = flat(reference.get_weights());
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(b[i]).epsilon(1e-6));

  // And the identity hooks give SGD at the compiled rate: not the doubled update.
  Sequential plain = linear_model(2);
  plain.train_on_batch(inputs(), targets());
  CHECK(flat(plain.get_weights()) != a);
}

TEST_CASE("A loss scale undone on the gradients leaves the update as it was, and non-finite gradients skip the step",
          "[trainer]") {
  auto hooks = std::make_shared<Recorder>();
  hooks->loss_scale = 1024.0;
  std::map<std::string, double> logs;
  Sequential scaled = trained_through(3, hooks, &logs);
  Sequential plain = linear_model(3);
  const auto plain_logs = plain.train_on_batch(inputs(), targets());
  const auto a = flat(scaled.get_weights()), b = flat(plain.get_weights());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(b[i]).epsilon(1e-6));
  // The loss tracker sees the unscaled loss (halved by this hook's reduce_metrics).
  CHECK(logs.at("loss") == Approx(plain_logs.at("loss") / 2).epsilon(1e-6));

  const auto before = flat(linear_model(4).get_weights());
  auto overflow = std::make_shared<Recorder>();
  overflow->finite = false;
  Sequential skipped = trained_through(4, overflow);
  CHECK(flat(skipped.get_weights()) == before);
  CHECK(skipped.optimizer()->iterations() == 0);
}
