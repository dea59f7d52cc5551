// SPDX-License-Identifier: Apache-2.0
// The optimizers' kernels across backends: every update rule (and sum_of_squares, clipnorm's
// kernel) run through Backend on each other device and compared with the CPU backend; then
// whole optimizer steps of a tiny Dense model, with every common option, trained on the test
// device and on the CPU, which must agree bit for bit (the test device runs the CPU's kernels, so
// any difference is a step that went around the backend or read the wrong memory).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <lamina/errors.hpp>
#include <lamina/ops.hpp>
#include <lamina/optimizers.hpp>
#include <nlohmann/json.hpp>

#include "backend/backend.hpp"
#include "support/op_testing.hpp"
#include "support/test_device.hpp"

namespace lamina::testing {
namespace {

using backend::UpdateParams;
using backend::UpdateRule;

struct RuleCase {
  std::string name;
  UpdateRule rule;
  UpdateParams p;
  std::vector<bool> slots;  // which slot kinds the rule gets
};

std::vector<RuleCase> rule_cases() {
  const UpdateParams base{.lr = 0.01, .beta_1 = 0.9, .beta_2 = 0.999, .epsilon = 1e-7};
  auto with = [&](auto change) {
    UpdateParams p = base;
    change(p);
    return p;
  };
  return {
      {"sgd", UpdateRule::sgd, base, {false}},
      {"sgd momentum", UpdateRule::sgd, with([](UpdateParams& p) { p.momentum = 0.9; }), {true}},
      {"sgd nesterov", UpdateRule::sgd,
       with([](UpdateParams& p) { p.momentum = 0.9, p.nesterov = true; }), {true}},
      {"adam", UpdateRule::adam, with([](UpdateParams& p) { p.lr = 0.0031; }), {true, true, false}},
      {"adam amsgrad", UpdateRule::adam, with([](UpdateParams& p) { p.amsgrad = true; }),
       {true, true, true}},
      {"adamax", UpdateRule::adamax, base, {true, true}},
      {"nadam", UpdateRule::nadam,
       with([](UpdateParams& p) { p.m_coefficient = 0.83, p.g_coefficient = 0.57, p.v_correction = 0.002; }),
       {true, true}},
      {"rmsprop", UpdateRule::rmsprop, with([](UpdateParams& p) { p.rho = 0.9; }), {true}},
      {"rmsprop momentum centered", UpdateRule::rmsprop,
       with([](UpdateParams& p) { p.rho = 0.9, p.momentum = 0.5; }), {true, true, true}},
      {"adagrad", UpdateRule::adagrad, base, {true}},
      {"adadelta", UpdateRule::adadelta, with([](UpdateParams& p) { p.rho = 0.95, p.lr = 1.0; }),
       {true, true}},
      {"ftrl", UpdateRule::ftrl,
       with([](UpdateParams& p) { p.power = 0.5, p.l1 = 0.01, p.l2 = 0.02, p.shrinkage = 0.03; }),
       {true, true}},
      {"lion", UpdateRule::lion, with([](UpdateParams& p) { p.beta_2 = 0.99; }), {true}},
  };
}

// Variables of both dtypes (one past the fused pass's per-thread grain, one empty), each with a
// gradient but the third; slot values positive and small (they are squares and norms for most
// rules, and centered RMSprop needs v > a²).
struct Problem {
  std::vector<Tensor> grads, vars;
  std::vector<std::vector<Tensor>> slots;
};

Problem problem(const RuleCase& c, Device device) {
  const std::vector<std::pair<Shape, DType>> vars = {
      {{3, 4}, float32}, {{300, 200}, float32}, {{5}, float32}, {{0}, float64}, {{7, 3}, float64}};
  Problem p;
  for (std::size_t i = 0; i < vars.size(); ++i) {
    const auto& [shape, dt] = vars[i];
    p.vars.push_back(seq(shape, 0.7, dt, 0.1).to(device));
    p.grads.push_back(i == 2 ? Tensor() : seq(shape, 2.0, dt, -0.3).to(device));
  }
  for (std::size_t k = 0; k < c.slots.size(); ++k) {
    p.slots.emplace_back();
    if (!c.slots[k]) continue;
    for (const Tensor& v : p.vars)
      p.slots.back().push_back((abs(seq(v.shape(), 0.05, v.dtype(), 0.01 * k)) + 0.01).to(device));
  }
  return p;
}

}  // namespace

TEST_CASE("every optimizer update rule on every backend matches the CPU backend",
          "[backend][harness][optimizers]") {
  const Device device = test_device();
  std::size_t count = 0;
  for (const RuleCase& c : rule_cases()) {
    INFO(c.name);
    Problem want = problem(c, Device::cpu()), got = problem(c, device);
    backend::get(Device::cpu()).apply_update(c.rule, c.p, want.grads, want.vars, want.slots);
    backend::get(device).apply_update(c.rule, c.p, got.grads, got.vars, got.slots);
    // What a device may differ from the CPU by, as in the op harness.
    for (std::size_t i = 0; i < want.vars.size(); ++i) {
      INFO("variable " << i);
      const double tol = want.vars[i].dtype() == float64 ? 1e-10 : 2e-5;
      check_same(got.vars[i].to(Device::cpu()), want.vars[i], tol);
      for (std::size_t k = 0; k < want.slots.size(); ++k) {
        INFO("slot " << k);
        if (!want.slots[k].empty())
          check_same(got.slots[k][i].to(Device::cpu()), want.slots[k][i], tol);
      }
    }
    // The variable without a gradient is untouched; the others moved.
    CHECK(got.vars[2].to_vector<double>() == seq({5}, 0.7, float32, 0.1).to_vector<double>());
    CHECK(got.vars[0].to_vector<double>() != seq({3, 4}, 0.7, float32, 0.1).to_vector<double>());
    ++count;
  }
  CHECK(count == 13);
}

TEST_CASE("sum_of_squares on every backend matches the CPU backend", "[backend][harness]") {
  for (DType dt : {float32, float64}) {
    for (const Shape& s : {Shape{}, Shape{0}, Shape{7}, Shape{300, 200}}) {
      const Tensor x = seq(s, 1.3, dt, -0.2);
      const double want = backend::get(Device::cpu()).sum_of_squares(x);
      const Tensor on_device = x.to(test_device());
      CHECK(backend::get(test_device()).sum_of_squares(on_device) == want);
      // In double, in order: float32 squares are not rounded to float32.
      double reference = 0.0;
      for (double v : x.to_vector<double>()) reference += v * v;
      CHECK(want == reference);
    }
  }
}

TEST_CASE("an optimizer refuses variables on two devices, apply_update checks its lists",
          "[backend][optimizers]") {
  const Tensor w = seq({3}, 1.0, float32), g = seq({3}, 0.5, float32);
  {
    // A gradient follows its variable to the variable's device.
    optimizers::SGD sgd;
    Tensor on_device = w.to(test_device());
    sgd.apply_gradients({g}, {on_device});
    CHECK(on_device.device() == test_device());
    check_same(on_device.to(Device::cpu()), w - g * 0.01, 1e-7);
  }
  {
    optimizers::Adam adam;
    CHECK_THROWS_WITH(adam.apply_gradients({g, g}, {w.clone(), w.to(test_device())}),
                      Catch::Contains("cpu") && Catch::Contains("test:0"));
  }
  CHECK_THROWS_AS(backend::get(Device::cpu())
                      .apply_update(UpdateRule::sgd, {}, {g}, {w.clone()}, {{w.clone()}, {w.clone()}}),
                  ValueError);
  CHECK_THROWS_AS(backend::get(Device::cpu())
                      .apply_update(UpdateRule::adam, {}, {g}, {w.clone()}, {{w.clone()}, {}, {}, {}}),
                  ValueError);
}

namespace {

// One optimizer trained for a few steps on a tiny Dense model on `device`: the weights and every
// optimizer variable afterwards, on the host.
std::vector<Tensor> train_dense(const nlohmann::json& config, Device device, DType dt) {
  std::shared_ptr<Optimizer> opt = optimizers::deserialize(config);
  Tensor kernel = seq({4, 3}, 0.4, dt, 0.05).to(device);
  Tensor bias = seq({3}, 0.2, dt).to(device);
  kernel.set_requires_grad();
  bias.set_requires_grad();
  const Tensor x = seq({6, 4}, 1.5, dt).to(device);
  const Tensor y = seq({6, 3}, 0.8, dt, 0.3).to(device);
  for (int step = 0; step < 5; ++step) {
    kernel.zero_grad();
    bias.zero_grad();
    Tensor loss = mean(square(dense(x, kernel, bias, FusedActivation::tanh) - y));
    loss.backward();
    opt->apply_gradients({kernel.grad(), bias.grad()}, {kernel, bias});
  }
  opt->finalize_variable_values({kernel, bias});
  std::vector<Tensor> out = {kernel.to(Device::cpu()), bias.to(Device::cpu())};
  for (const auto& [name, value] : opt->variables()) {
    INFO(name);
    CHECK(value.device() == (value.ndim() == 0 ? Device::cpu() : device));
    out.push_back(value.to(Device::cpu()));
  }
  return out;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

}  // namespace

TEST_CASE("every optimizer's step on the test device is bit-identical to the CPU's",
          "[backend][optimizers]") {
  const std::vector<std::pair<std::string, nlohmann::json>> configs = {
      {"SGD", {{"learning_rate", 0.1}}},
      {"SGD", {{"learning_rate", 0.1}, {"momentum", 0.9}, {"nesterov", true}, {"clipnorm", 0.05}}},
      {"Adam", {{"learning_rate", 0.01}, {"global_clipnorm", 0.1}}},
      {"Adam", {{"learning_rate", 0.01}, {"amsgrad", true}, {"use_ema", true}}},
      {"AdamW", {{"learning_rate", 0.01}, {"weight_decay", 0.1}}},
      {"Adamax", {{"learning_rate", 0.01}, {"clipvalue", 0.02}}},
      {"Nadam", {{"learning_rate", 0.01}, {"gradient_accumulation_steps", 2}}},
      {"RMSprop", {{"learning_rate", 0.01}, {"momentum", 0.5}, {"centered", true}}},
      {"Adagrad", {{"learning_rate", 0.1}}},
      {"Adadelta", {{"learning_rate", 1.0}, {"use_ema", true}, {"ema_overwrite_frequency", 2}}},
      {"Ftrl", {{"learning_rate", 0.1}, {"l1_regularization_strength", 0.01},
                {"l2_shrinkage_regularization_strength", 0.02}, {"beta", 0.1}}},
      {"Lion", {{"learning_rate", 0.001}, {"weight_decay", 0.05}}},
  };
  for (const auto& [cls, options] : configs) {
    for (DType dt : {float32, float64}) {
      const nlohmann::json config = {{"class_name", cls}, {"config", options}};
      INFO(config.dump() << " " << dtype_name(dt));
      const std::vector<Tensor> want = train_dense(config, Device::cpu(), dt);
      const std::vector<Tensor> got = train_dense(config, test_device(), dt);
      REQUIRE(got.size() == want.size());
      for (std::size_t i = 0; i < want.size(); ++i) {
        INFO("tensor " << i);
        CHECK(same_bits(got[i], want[i]));
      }
      // The steps did something.
      CHECK_FALSE(same_bits(want[0], seq({4, 3}, 0.4, dt, 0.05)));
    }
  }
}

}  // namespace lamina::testing
