// SPDX-License-Identifier: Apache-2.0
// The activation layers (ReLU, LeakyReLU, PReLU, ELU, Softmax, ThresholdedReLU), Identity,
// AlphaDropout, GroupNormalization, UnitNormalization, RMSNormalization, LayerNormalization over
// several axes and EinsumDense: models made by real Keras 3 (.keras, .h5) and tf.keras 2 (.h5)
// (tests/fixtures/keras_actnorm, written by make_actnorm_fixtures.py) reproduce Keras's outputs
// and survive lamina's save and reload in both formats; the config-key audit covers every key
// Keras writes for them; gradients match finite differences; bad arguments are refused by name.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <lamina/lamina.hpp>
#include <nlohmann/json.hpp>

#include "datasets/temp_dir.hpp"
#include "engine/config.hpp"
#include "support/config_key_audit.hpp"
#include "support/gradcheck.hpp"
#include "support/keras_export.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using json = nlohmann::json;
using lamina::testing::seq;

namespace {

json fixtures() {
  std::ifstream in(LAMINA_TEST_FIXTURES "/keras_actnorm.json");
  return json::parse(in);
}

Tensor tensor_of(const json& c) {
  return Tensor::from_vector<double>(c["x"].get<std::vector<double>>(), Shape(c["x_shape"].get<std::vector<std::int64_t>>()))
      .astype(float32);
}

// The largest |lamina − Keras| / max(1, |Keras|).
double worst_difference(const Tensor& got, const std::vector<double>& want) {
  REQUIRE(got.numel() == static_cast<std::int64_t>(want.size()));
  double worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double g = got.at(static_cast<std::int64_t>(i));
    worst = std::max(worst, std::isfinite(g) ? std::abs(g - want[i]) / std::max(1.0, std::abs(want[i])) : 1e9);
  }
  return worst;
}

Tensor predict(Model& m, const Tensor& x) {
  std::shared_ptr<Layer> layer = m;
  return (*layer)(x);
}

void check_gradients(const std::function<Tensor(const std::vector<Tensor>&)>& f, const Tensor& x,
                     std::vector<Tensor> weights = {}) {
  auto r = lamina::testing::gradcheck(f, {x}, std::move(weights));
  INFO(r.report);
  CHECK(r.ok);
}

// A float64 copy of a layer weight that gradcheck can perturb.
Tensor leaf(const Tensor& w, double scale, double shift = 0.0) { return seq(w.shape(), scale, float64, shift); }

}  // namespace

TEST_CASE("Keras-made activation, normalization and EinsumDense models match Keras, saved and reloaded",
          "[keras_actnorm][keras_export]") {
  const json all = fixtures();
  REQUIRE(all.size() >= 36);
  lamina::testing::TempDir dir;
  double worst = 0;
  std::set<std::string> classes;
  for (const auto& [name, c] : all.items()) {
    INFO(name << " (Keras " << c["keras"].get<std::string>() << ")");
    Model m = models::load_model(LAMINA_TEST_FIXTURES "/keras_actnorm/" + c["file"].get<std::string>());
    const Tensor x = tensor_of(c);
    const std::vector<double> want = c["y"].get<std::vector<double>>();
    const Tensor y = predict(m, x);
    CHECK(y.shape() == Shape(c["y_shape"].get<std::vector<std::int64_t>>()));
    const double d = worst_difference(y, want);
    CHECK(d < 1e-5);
    worst = std::max(worst, d);
    const json config = json::parse(m.to_json());
    for (const json& l : config["config"]["layers"]) classes.insert(l["class_name"].get<std::string>());
    lamina::testing::export_for_keras("actnorm_" + name, m, x);
    for (const char* format : {".keras", ".h5"}) {
      const std::string path = dir.file(name + format);
      m.save(path);
      Model back = models::load_model(path);
      CHECK(back.to_json() == m.to_json());
      CHECK(worst_difference(predict(back, x), want) < 1e-5);
    }
  }
  for (const char* cls : {"ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "ThresholdedReLU", "Identity", "AlphaDropout",
                          "GroupNormalization", "UnitNormalization", "RMSNormalization", "LayerNormalization",
                          "EinsumDense"}) {
    INFO(cls);
    CHECK(classes.count(cls));
  }
  WARN("keras_actnorm: " << all.size() << " Keras files, worst relative difference " << worst);
}

TEST_CASE("the config-key audit covers every key Keras writes for the activation, normalization and EinsumDense layers",
          "[keras_actnorm]") {
  std::ifstream in(LAMINA_TEST_FIXTURES "/keras_actnorm_config_keys.json");
  const auto counts = lamina::testing::audit_config_keys(json::parse(in));
  WARN("keras_actnorm config keys: " << counts.audited << " audited, " << counts.honoured << " honoured, "
                                      << counts.ruled << " accepted at their default only");
  CHECK(counts.audited >= 60);
}

TEST_CASE("activation layers compute Keras's formulas and keep NaN", "[keras_actnorm]") {
  const Tensor x = Tensor::from_vector<double>({-3, -1, -0.25, 0, 0.25, 0.75, 1.5, 7}, {1, 8});
  auto values = [](const Tensor& t) { return t.astype(float64).to_vector<double>(); };
  // relu(x, negative_slope=0.1, max_value=1.5, threshold=0.5): x above 0.5 (capped at 1.5),
  // 0.1·(x − 0.5) at or below it.
  const auto r = values(layers::ReLU({.max_value = 1.5, .negative_slope = 0.1, .threshold = 0.5})(x));
  const std::vector<double> want = {-0.35, -0.15, -0.075, -0.05, -0.025, 0.75, 1.5, 1.5};
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(r[i] == Approx(want[i]));
  CHECK(values(layers::LeakyReLU()(x))[0] == Approx(-0.9));  // Keras's layer default 0.3
  CHECK(values(layers::ThresholdedReLU(0.5)(x)) == std::vector<double>{0, 0, 0, 0, 0, 0.75, 1.5, 7});
  CHECK(values(layers::ELU(0.5)(x))[0] == Approx(0.5 * (std::exp(-3.0) - 1)));
  const Tensor nan = Tensor::from_vector<double>({std::nan("")}, {1, 1});
  for (std::shared_ptr<Layer> l :
       std::vector<std::shared_ptr<Layer>>{layers::ReLU({.threshold = 0.5}), layers::ReLU({.negative_slope = 0.2}),
                                           layers::ThresholdedReLU(), layers::LeakyReLU(), layers::ELU()}) {
    INFO(l->class_name() << " " << l->name());
    CHECK(std::isnan((*l)(nan).at(0)));
  }
  CHECK_THROWS_AS(layers::ReLU({.negative_slope = -1}), ValueError);
  CHECK_THROWS_AS(layers::ReLU({.max_value = -1.0}), ValueError);
  CHECK_THROWS_AS(layers::LeakyReLU(-0.1), ValueError);
  CHECK_THROWS_AS(layers::ThresholdedReLU(-1), ValueError);
  CHECK_THROWS_WITH(layers::Softmax(3, "sm")(Tensor::zeros({2, 3})), Contains("Softmax 'sm': axis 3"));
}

TEST_CASE("Softmax over several axes, and with a mask as Keras 3 applies it", "[keras_actnorm]") {
  const Tensor x = seq({2, 3, 4}, 2.0, float32);
  const Tensor y = layers::Softmax({1, 2})(x);
  const Tensor totals = sum(y, {1, 2});
  CHECK(totals.at(0) == Approx(1.0));
  CHECK(totals.at(1) == Approx(1.0));
  // A (batch, steps) mask over a (batch, steps) input: masked steps get no share and output 0.
  auto softmax = layers::Softmax();
  const Tensor scores = Tensor::from_vector<float>({1, 1, 5, 7}, {1, 4});
  const Tensor mask = Tensor::from_vector<float>({1, 1, 0, 0}, {1, 4});
  CHECK(softmax->call_masked(scores, mask, false).to_vector<double>() == std::vector<double>{0.5, 0.5, 0, 0});
  CHECK(softmax->supports_masking());
  CHECK_THROWS_AS(softmax->call_masked(scores, Tensor::ones({1, 3}), false), ShapeError);
}

TEST_CASE("AlphaDropout keeps SELU's statistics in training and is the identity at inference", "[keras_actnorm]") {
  const Tensor x = seq({4, 50}, 1.0, float64).set_requires_grad(true);
  auto drop = layers::AlphaDropout(0.2, {.noise_shape = std::vector<std::int64_t>{-1, 1}, .seed = 3});
  CHECK(drop(x).to_vector<double>() == x.to_vector<double>());
  const Tensor y = drop(x, true);
  sum(y).backward();
  constexpr double alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946;
  const double a = std::pow(0.8 * (1 + 0.2 * alpha_p * alpha_p), -0.5), b = -a * alpha_p * 0.2;
  const auto xs = x.to_vector<double>(), ys = y.to_vector<double>(), gs = x.grad().to_vector<double>();
  int dropped_rows = 0;
  for (int row = 0; row < 4; ++row) {
    // noise_shape (None, 1): a whole row is kept (a·x + b, gradient a) or dropped (a·alpha_p + b).
    const bool kept = std::abs(ys[row * 50] - (a * xs[row * 50] + b)) < 1e-12;
    dropped_rows += !kept;
    for (int j = 0; j < 50; ++j) {
      const std::size_t i = static_cast<std::size_t>(row * 50 + j);
      CHECK(ys[i] == Approx(kept ? a * xs[i] + b : a * alpha_p + b));
      CHECK(gs[i] == Approx(kept ? a : 0.0));
    }
  }
  CHECK(dropped_rows < 4);
  CHECK_THROWS_AS(layers::AlphaDropout(1.0), ValueError);
  const json config = drop->get_config();
  CHECK(config["noise_shape"] == json({nullptr, 1}));
  CHECK(config["seed"] == 3);
}

TEST_CASE("gradients of the activation layers match finite differences", "[keras_actnorm]") {
  // Away from the kinks (0, the threshold, max_value).
  const Tensor x = seq({2, 3, 4}, 2.7, float64, 0.05);
  std::vector<std::shared_ptr<Layer>> plain = {
      layers::ReLU(), layers::ReLU({.max_value = 1.5, .negative_slope = 0.1, .threshold = 0.5}),
      layers::ReLU({.max_value = 6.0}), layers::ReLU({.negative_slope = 0.2}), layers::LeakyReLU(0.1),
      layers::ELU(0.7), layers::Softmax(1), layers::Softmax({1, 2}), layers::ThresholdedReLU(0.3)};
  for (const auto& l : plain) {
    INFO(l->name());
    check_gradients([&](const std::vector<Tensor>& in) { return (*l)(in[0]); }, x);
  }
  auto prelu = layers::PReLU({.shared_axes = {1}});
  prelu->build_for({-1, 3, 4});
  CHECK(prelu->alpha.shape() == Shape{1, 4});
  prelu->alpha = leaf(prelu->alpha, 0.6, 0.2);
  check_gradients([&](const std::vector<Tensor>& in) { return prelu(in[0]); }, x, {prelu->alpha});
}

TEST_CASE("gradients of GroupNormalization, UnitNormalization, RMSNormalization and LayerNormalization over axes "
          "match finite differences",
          "[keras_actnorm]") {
  const Tensor x = seq({2, 3, 2, 4}, 1.5, float64, 0.2);
  auto group = layers::GroupNormalization({.groups = 2});
  group->build_for({-1, 3, 2, 4});
  group->gamma = leaf(group->gamma, 0.5, 1.0);
  group->beta = leaf(group->beta, 0.3);
  check_gradients([&](const std::vector<Tensor>& in) { return group(in[0]); }, x, {group->gamma, group->beta});

  auto unit = layers::UnitNormalization({1, 3});
  check_gradients([&](const std::vector<Tensor>& in) { return unit(in[0]); }, x);

  auto rms = layers::RMSNormalization({.axis = {-1, -2}, .epsilon = 1e-3});
  rms->build_for({-1, 3, 2, 4});
  CHECK(rms->scale.shape() == Shape{2, 4});
  rms->scale = leaf(rms->scale, 0.5, 1.0);
  check_gradients([&](const std::vector<Tensor>& in) { return rms(in[0]); }, x, {rms->scale});

  for (bool rms_scaling : {false, true}) {
    auto ln = layers::LayerNormalization({.axis = {1, 2}, .rms_scaling = rms_scaling});
    ln->build_for({-1, 3, 2, 4});
    CHECK(ln->gamma.shape() == Shape{3, 2});
    ln->gamma = leaf(ln->gamma, 0.5, 1.0);
    std::vector<Tensor> weights{ln->gamma};
    if (!rms_scaling) {
      ln->beta = leaf(ln->beta, 0.3);
      weights.push_back(ln->beta);
    }
    check_gradients([&](const std::vector<Tensor>& in) { return ln(in[0]); }, x, weights);
  }
}

TEST_CASE("EinsumDense computes Keras's equations and their gradients", "[keras_actnorm]") {
  struct Case {
    std::string equation;
    std::vector<std::int64_t> output_shape;
    std::string bias_axes;
    Shape input, kernel, bias, output;
  };
  const std::vector<Case> cases = {
      {"ab,bc->ac", {4}, "c", {-1, 3}, {3, 4}, {4}, {-1, 4}},
      {"abc,cd->abd", {-1, 5}, "d", {-1, 2, 3}, {3, 5}, {5}, {-1, 2, 5}},
      {"abc,cde->abde", {-1, 2, 3}, "de", {-1, 2, 3}, {3, 2, 3}, {2, 3}, {-1, 2, 2, 3}},
      {"abcd,de->abce", {-1, -1, 3}, "e", {-1, 2, 2, 3}, {3, 3}, {3}, {-1, 2, 2, 3}},
      {"...b,bc->...c", {4}, "c", {-1, 2, 3}, {3, 4}, {4}, {-1, 2, 4}},
      {"ab...,bc->ac...", {2}, "c", {-1, 3, 2}, {3, 2}, {2, 1}, {-1, 2, 2}},
      {"abc,dc->adb", {4, -1}, "", {-1, 2, 3}, {4, 3}, {}, {-1, 4, 2}},
      {"abc,bcd->abd", {2, 4}, "bd", {-1, 2, 3}, {2, 3, 4}, {2, 4}, {-1, 2, 4}},
      {"abc,cd->ad", {4}, "d", {-1, 2, 3}, {3, 4}, {4}, {-1, 4}},
  };
  for (const Case& c : cases) {
    INFO(c.equation);
    auto layer = layers::EinsumDense(c.equation, c.output_shape, {.bias_axes = c.bias_axes});
    CHECK(layer->build_for(c.input) == c.output);
    CHECK(layer->kernel.shape() == c.kernel);
    CHECK((layer->bias.defined() ? layer->bias.shape() : Shape{}) == c.bias);
    layer->kernel = leaf(layer->kernel, 0.7);
    std::vector<Tensor> weights{layer->kernel};
    if (layer->bias.defined()) {
      layer->bias = leaf(layer->bias, 0.4, 0.1);
      weights.push_back(layer->bias);
    }
    Shape in = c.input;
    in[0] = 2;
    check_gradients([&](const std::vector<Tensor>& v) { return layer(v[0]); }, seq(in, 1.3, float64, 0.1), weights);
  }
  // An independent check of one transposing equation: y[a, d, b] = Σc x[a, b, c]·k[d, c].
  auto t = layers::EinsumDense("abc,dc->adb", {4, -1});
  t->build_for({-1, 2, 3});
  const Tensor x = seq({1, 2, 3}, 1.0, float32), k = t->kernel;
  const Tensor y = t(x);
  for (int d = 0; d < 4; ++d)
    for (int b = 0; b < 2; ++b) {
      double want = 0;
      for (int c = 0; c < 3; ++c) want += x.at(b * 3 + c) * k.at(d * 3 + c);
      CHECK(y.at(d * 2 + b) == Approx(want).epsilon(1e-5));
    }
}

TEST_CASE("EinsumDense refuses what it cannot compute, naming the layer and the equation", "[keras_actnorm]") {
  CHECK_THROWS_WITH(layers::EinsumDense("ab,bc,cd->ad", {4}), Contains("equation 'ab,bc,cd->ad'"));
  CHECK_THROWS_WITH(layers::EinsumDense("aab,bc->ac", {4}), Contains("repeats the label 'a'"));
  CHECK_THROWS_WITH(layers::EinsumDense("ab,bc->acx", {4, 2}), Contains("output label 'x'"));
  CHECK_THROWS_WITH(layers::EinsumDense("ab,bcz->ac", {4}), Contains("kernel label 'z'"));
  CHECK_THROWS_WITH(layers::EinsumDense("ab,bc->ac", {4}, {.bias_axes = "q"}), Contains("bias_axes 'q'"));
  CHECK_THROWS_WITH(layers::EinsumDense("ab,bc->ac", {4, 5}), Contains("output_shape of 1"));
  CHECK_THROWS_WITH(layers::EinsumDense("abc,cd->abd", {-1, 4}, {.name = "ed"})->build_for({-1, 3}),
                    Contains("EinsumDense 'ed': equation 'abc,cd->abd'"));
  CHECK_THROWS_WITH(layers::EinsumDense("abc,cd->abd", {3, 4}, {.name = "ed2"})->build_for({-1, 2, 5}),
                    Contains("output_shape gives 'b' dimension 3"));
  // From a file: the error names the layer and the equation.
  json config = {{"class_name", "Sequential"},
                 {"config",
                  {{"name", "s"},
                   {"layers", json::array({{{"class_name", "InputLayer"}, {"config", {{"batch_shape", {nullptr, 3}}, {"name", "in"}}}},
                                           {{"class_name", "EinsumDense"},
                                            {"config", {{"name", "proj"}, {"equation", "ab,bc,cd->ad"}, {"output_shape", {2}}}}}})}}}};
  CHECK_THROWS_WITH(Model::from_config(config), Contains("'proj'") && Contains("ab,bc,cd->ad"));
}

TEST_CASE("the new layers refuse what they cannot compute, by name", "[keras_actnorm]") {
  CHECK_THROWS_WITH(layers::GroupNormalization({.groups = 4, .name = "gn"})->build_for({-1, 2, 6}),
                    Contains("GroupNormalization 'gn': the 6 channels"));
  CHECK_THROWS_AS(layers::GroupNormalization({.groups = 0}), ValueError);
  CHECK_THROWS_WITH(layers::RMSNormalization({.axis = 1, .name = "rms"})->build_for({-1, 3, 4}),
                    Contains("RMSNormalization 'rms': its scale (3,)"));
  CHECK_THROWS_WITH(layers::LayerNormalization({.axis = {1, 5}, .name = "ln"})->build_for({-1, 3, 4}),
                    Contains("LayerNormalization 'ln': axis 5"));
  CHECK_THROWS_WITH(layers::PReLU({.shared_axes = {3}, .name = "pr"})->build_for({-1, 3, 4}),
                    Contains("PReLU 'pr': shared_axes entry 3"));
  // Keras 2's Softmax(robust_masking=True) is not what lamina computes: refused by key.
  json config = {{"class_name", "Sequential"},
                 {"config",
                  {{"name", "s"},
                   {"layers", json::array({{{"class_name", "InputLayer"}, {"config", {{"batch_shape", {nullptr, 3}}, {"name", "in"}}}},
                                           {{"class_name", "Softmax"},
                                            {"config", {{"name", "sm"}, {"axis", -1}, {"robust_masking", true}}}}})}}}};
  CHECK_THROWS_WITH(Model::from_config(config), Contains("robust_masking=true"));
}

TEST_CASE("the new layers round-trip through their Keras configs", "[keras_actnorm]") {
  std::vector<std::shared_ptr<Layer>> all = {
      layers::ReLU({.max_value = 2.0, .negative_slope = 0.1, .threshold = 0.5}),
      layers::LeakyReLU(0.1),
      layers::PReLU({.alpha_initializer = "ones", .alpha_regularizer = regularizers::L2(0.01), .shared_axes = {1, 2}}),
      layers::ELU(0.5),
      layers::Softmax({1, 2}),
      layers::ThresholdedReLU(0.5),
      layers::Identity(),
      layers::AlphaDropout(0.3, {.noise_shape = std::vector<std::int64_t>{-1, 1, 4}, .seed = 2}),
      layers::GroupNormalization({.groups = 3, .axis = 1, .epsilon = 0.01, .center = false}),
      layers::UnitNormalization({1, 2}),
      layers::RMSNormalization({.axis = {-2, -1}, .epsilon = 1e-4}),
      layers::LayerNormalization({.axis = {1, 2}, .epsilon = 0.01}),
      layers::EinsumDense("abc,cde->abde", {-1, 2, 3}, {.activation = "relu", .bias_axes = "de"}),
  };
  for (const auto& l : all) {
    INFO(l->class_name());
    const json config = l->get_config();
    const std::shared_ptr<Layer> back = layer_from_config(l->class_name(), config);
    CHECK(back->class_name() == l->class_name());
    CHECK(back->get_config() == config);
    engine::check_config_keys(l->class_name(), config);
  }
  // Keras 2's LeakyReLU writes its slope as alpha.
  const auto k2 = layer_from_config("LeakyReLU", {{"name", "lr"}, {"alpha", 0.05}});
  CHECK(k2->get_config()["negative_slope"] == 0.05);
}
