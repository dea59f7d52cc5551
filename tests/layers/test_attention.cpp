// SPDX-License-Identifier: Apache-2.0
// Attention, AdditiveAttention and MultiHeadAttention: outputs, attention scores and every gradient
// against PyTorch (tests/fixtures/attention.json, made by tests/fixtures/make_attention_fixtures.py:
// torch.nn.functional.multi_head_attention_forward with Keras's weights converted, Keras's einsum
// equations where PyTorch cannot express the layer, explicit torch for the dense attentions),
// finite differences in float64, masks through models, causal masks, dropout, configs and errors.
#include <catch2/catch.hpp>

#include <lamina/lamina.hpp>
#include <nlohmann/json.hpp>

#include "io/h5_test_files.hpp"
#include "support/conv_fixture.hpp"
#include "support/gradcheck.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using lamina::testing::check_values;
using lamina::testing::cos_probe;
using lamina::testing::doubles;
using lamina::testing::seq;
using lamina::testing::shape_of;
using lamina::testing::values;
using json = nlohmann::json;

namespace {

const json& fixture() {
  static const json j = [] {
    std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/attention.json");
    if (!in.good()) throw std::runtime_error("missing tests/fixtures/attention.json");
    return json::parse(in);
  }();
  return j;
}

// The fixture's formula for tensor `name`: a float64 leaf.
Tensor leaf(const Shape& shape, const std::string& name) {
  const auto& s = fixture()["scales"][name];
  return seq(shape, s[0].get<double>(), float64, s[1].get<double>()).detach().set_requires_grad(true);
}

Tensor scalar_leaf(double value) { return Tensor::scalar(value, float64).set_requires_grad(true); }

void flatten(const json& j, std::vector<double>& out) {
  if (j.is_array()) {
    for (const auto& e : j) flatten(e, out);
  } else {
    out.push_back(j.get<double>());
  }
}

// A 0/1 mask from nested lists (undefined for null).
Tensor mask_of(const json& j, const Shape& shape) {
  if (j.is_null()) return Tensor();
  std::vector<double> v;
  flatten(j, v);
  return Tensor::from_vector(v, shape);
}

Shape unbatched(Shape s) {
  s[0] = -1;
  return s;
}

using MHA = layers::MultiHeadAttentionLayer;

std::vector<std::pair<std::string, Tensor*>> mha_weights(MHA& m) {
  return {{"query_kernel", &m.query_kernel}, {"query_bias", &m.query_bias},   {"key_kernel", &m.key_kernel},
          {"key_bias", &m.key_bias},         {"value_kernel", &m.value_kernel}, {"value_bias", &m.value_bias},
          {"output_kernel", &m.output_kernel}, {"output_bias", &m.output_bias}};
}

// A built MultiHeadAttention whose weights are the fixture's float64 leaves.
std::shared_ptr<MHA> fixture_mha(std::int64_t heads, std::int64_t key_dim, layers::MultiHeadAttentionOptions o,
                                 const std::vector<Shape>& shapes) {
  auto m = std::make_shared<MHA>(heads, key_dim, std::move(o));
  std::vector<Shape> symbolic;
  for (const Shape& s : shapes) symbolic.push_back(unbatched(s));
  m->build_for_list(symbolic);
  for (auto& [name, w] : mha_weights(*m))
    if (w->defined()) *w = leaf(w->shape(), name);
  return m;
}

std::vector<Tensor> defined_weights(MHA& m) {
  std::vector<Tensor> out;
  for (auto& [name, w] : mha_weights(m))
    if (w->defined()) out.push_back(*w);
  return out;
}

}  // namespace

TEST_CASE("MultiHeadAttention matches PyTorch and Keras's einsums: outputs, scores and every gradient",
          "[attention]") {
  for (const auto& [name, c] : fixture()["mha"].items()) {
    INFO("case " << name);
    const Shape qs = shape_of(c["query_shape"]), vs = shape_of(c["value_shape"]), ks = shape_of(c["key_shape"]);
    std::vector<int> axes;
    for (const auto& a : c["attention_axes"]) axes.push_back(a.get<int>());
    auto m = fixture_mha(c["num_heads"], c["key_dim"],
                         {.value_dim = c["value_dim"].get<std::int64_t>(), .use_bias = c["use_bias"].get<bool>(),
                          .output_shape = c["output_shape"].get<std::vector<std::int64_t>>(), .attention_axes = axes},
                         {qs, vs, ks});
    Tensor q = leaf(qs, "query"), v = leaf(vs, "value"), k = leaf(ks, "key");
    const std::int64_t B = qs[0], T = qs[1], S = vs[1];
    auto r = m->call_with_scores(q, v, {.key = k, .attention_mask = mask_of(c["attention_mask"], {B, T, S}),
                                        .query_mask = mask_of(c["query_mask"], {B, T}),
                                        .value_mask = mask_of(c["value_mask"], {B, S}),
                                        .key_mask = mask_of(c["key_mask"], {B, S}),
                                        .use_causal_mask = c["use_causal_mask"].get<bool>()});
    Shape out_shape = qs;
    out_shape.pop_back();
    if (c["output_shape"].empty()) out_shape.push_back(qs.back());
    for (const auto& d : c["output_shape"]) out_shape.push_back(d.get<std::int64_t>());
    REQUIRE(r.output.shape() == out_shape);
    check_values(r.output, doubles(c["output"]), 1e-10);
    check_values(r.scores, doubles(c["scores"]), 1e-10);
    if (qs.size() == 3) CHECK(r.scores.shape() == Shape{B, c["num_heads"].get<std::int64_t>(), T, S});
    sum(r.output * cos_probe(r.output.shape())).backward();
    check_values(q.grad(), doubles(c["dquery"]), 1e-9);
    check_values(v.grad(), doubles(c["dvalue"]), 1e-9);
    check_values(k.grad(), doubles(c["dkey"]), 1e-9);
    for (auto& [wname, w] : mha_weights(*m)) {
      INFO("weight " << wname);
      if (w->defined()) check_values(w->grad(), doubles(c["d" + wname]), 1e-9);
    }

    // float32 runs the same computation at single precision. Not where a query row is fully
    // masked: there -1e9 swallows the scores in float32 (uniform weights, as in Keras) but not in
    // float64.
    if (!c["query_mask"].is_null()) continue;
    NoGradGuard no_grad;
    for (auto& [wname, w] : mha_weights(*m))
      if (w->defined()) *w = w->astype(float32);
    auto r32 = m->call_with_scores(q.astype(float32), v.astype(float32),
                                   {.key = k.astype(float32), .attention_mask = mask_of(c["attention_mask"], {B, T, S}),
                                    .query_mask = mask_of(c["query_mask"], {B, T}),
                                    .value_mask = mask_of(c["value_mask"], {B, S}),
                                    .key_mask = mask_of(c["key_mask"], {B, S}),
                                    .use_causal_mask = c["use_causal_mask"].get<bool>()});
    CHECK(r32.output.dtype() == float32);
    check_values(r32.output, doubles(c["output"]), 2e-5);
  }
}

TEST_CASE("Attention and AdditiveAttention match explicit PyTorch: outputs, scores and every gradient",
          "[attention]") {
  const std::int64_t B = fixture()["B"];
  for (const auto& [name, c] : fixture()["dense"].items()) {
    INFO("case " << name);
    const bool additive = c["kind"] == "additive", use_scale = c["use_scale"], separate_key = c["separate_key"];
    const std::int64_t Tq = c["Tq"], Tv = c["Tv"], dim = c["dim"], vdim = c["value_dim"];
    std::shared_ptr<layers::BaseDenseAttentionLayer> layer;
    if (additive) layer = layers::AdditiveAttention({.use_scale = use_scale}).ptr();
    else layer = layers::Attention({.use_scale = use_scale, .score_mode = c["score_mode"]}).ptr();
    std::vector<Shape> shapes{{-1, Tq, dim}, {-1, Tv, vdim}};
    if (separate_key) shapes.push_back({-1, Tv, dim});
    layer->build_for_list(shapes);
    if (use_scale) layer->scale = additive ? leaf({dim}, "scale") : scalar_leaf(0.7);
    auto* luong = dynamic_cast<layers::AttentionLayer*>(layer.get());
    if (luong && luong->score_mode() == "concat") luong->concat_score_weight = scalar_leaf(1.3);

    Tensor q = leaf({B, Tq, dim}, "query"), v = leaf({B, Tv, vdim}, "value");
    Tensor k = separate_key ? leaf({B, Tv, dim}, "key") : Tensor();
    auto r = layer->call_with_scores(q, v, {.key = k, .query_mask = mask_of(c["query_mask"], {B, Tq}),
                                            .value_mask = mask_of(c["value_mask"], {B, Tv}),
                                            .use_causal_mask = c["use_causal_mask"].get<bool>()});
    REQUIRE(r.output.shape() == Shape{B, Tq, vdim});
    REQUIRE(r.scores.shape() == Shape{B, Tq, Tv});
    check_values(r.output, doubles(c["output"]), 1e-10);
    check_values(r.scores, doubles(c["scores"]), 1e-10);
    sum(r.output * cos_probe(r.output.shape())).backward();
    check_values(q.grad(), doubles(c["dquery"]), 1e-9);
    check_values(v.grad(), doubles(c["dvalue"]), 1e-9);
    if (separate_key) check_values(k.grad(), doubles(c["dkey"]), 1e-9);
    if (use_scale) check_values(layer->scale.grad(), doubles(c["dscale"]), 1e-9);
    if (luong && luong->score_mode() == "concat")
      check_values(luong->concat_score_weight.grad(), doubles(c["dconcat_score_weight"]), 1e-9);
  }
}

TEST_CASE("Attention layers' gradients match finite differences in float64", "[attention]") {
  const Tensor qmask = Tensor::from_vector(std::vector<double>{1, 1, 0, 1, 0, 1}, {2, 3});
  const Tensor vmask = Tensor::from_vector(std::vector<double>{1, 0, 1, 1, 1, 1, 1, 0}, {2, 4});
  SECTION("Attention, dot with scale and concat, with masks and a causal mask") {
    for (const std::string mode : {"dot", "concat"}) {
      INFO("score_mode " << mode);
      auto att = layers::Attention({.use_scale = true, .score_mode = mode, .use_causal_mask = true});
      att->build_for_list({{-1, 3, 5}, {-1, 4, 6}, {-1, 4, 5}});
      att->scale = scalar_leaf(0.8);
      std::vector<Tensor> extra{att->scale};
      if (mode == "concat") extra.push_back(att->concat_score_weight = scalar_leaf(1.2));
      auto f = [&](const std::vector<Tensor>& in) {
        return att->call_with_scores(in[0], in[1], {.key = in[2], .query_mask = qmask, .value_mask = vmask}).output;
      };
      auto res = testing::gradcheck(f, {seq({2, 3, 5}), seq({2, 4, 6}, 0.9), seq({2, 4, 5}, 0.7, float64, 0.1)}, extra);
      INFO(res.report);
      CHECK(res.ok);
    }
  }
  SECTION("Attention on rank-2 tensors, as tf.keras 2 computed it: the rows of a batch attend to each other") {
    auto att = layers::Attention({.use_causal_mask = true});
    auto f = [&](const std::vector<Tensor>& in) { return att->call_with_scores(in[0], in[1], {.key = in[2]}).output; };
    const std::vector<Tensor> in{seq({4, 3}), seq({4, 5}, 0.9), seq({4, 3}, 0.7)};
    auto res = testing::gradcheck(f, in);
    INFO(res.report);
    CHECK(res.ok);
    // Row 0 attends row 0 only (causal over the batch), so it is value row 0.
    const Tensor out = f(in);
    CHECK(out.shape() == Shape{4, 5});
    check_values(out.slice(0, 1), values(in[1].slice(0, 1)), 1e-12);
  }
  SECTION("AdditiveAttention with a scale vector and masks") {
    auto add = layers::AdditiveAttention();
    add->build_for_list({{-1, 3, 5}, {-1, 4, 2}, {-1, 4, 5}});
    add->scale = leaf({5}, "scale");
    auto f = [&](const std::vector<Tensor>& in) {
      return add->call_with_scores(in[0], in[1], {.key = in[2], .query_mask = qmask, .value_mask = vmask}).output;
    };
    auto res = testing::gradcheck(f, {seq({2, 3, 5}), seq({2, 4, 2}, 0.9), seq({2, 4, 5}, 0.7)}, {add->scale});
    INFO(res.report);
    CHECK(res.ok);
  }
  SECTION("MultiHeadAttention with an attention mask, a causal mask and a 2-D output_shape") {
    auto m = fixture_mha(2, 3, {.value_dim = 2, .output_shape = {2, 2}}, {{2, 3, 5}, {2, 4, 6}, {2, 4, 4}});
    const Tensor amask = Tensor::from_vector(std::vector<double>{1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0}, {1, 3, 4});
    auto f = [&](const std::vector<Tensor>& in) {
      return m->call_with_scores(in[0], in[1], {.key = in[2], .attention_mask = amask, .use_causal_mask = true}).output;
    };
    auto res = testing::gradcheck(f, {seq({2, 3, 5}), seq({2, 4, 6}, 0.9), seq({2, 4, 4}, 0.7)}, defined_weights(*m));
    INFO(res.report);
    CHECK(res.ok);
  }
  SECTION("MultiHeadAttention over the second of two axes, without biases") {
    auto m = fixture_mha(2, 2, {.use_bias = false, .attention_axes = {-2}}, {{2, 2, 3, 4}, {2, 2, 4, 3}});
    auto f = [&](const std::vector<Tensor>& in) { return m->call_with_scores(in[0], in[1]).output; };
    auto res = testing::gradcheck(f, {seq({2, 2, 3, 4}), seq({2, 2, 4, 3}, 0.9)}, defined_weights(*m));
    INFO(res.report);
    CHECK(res.ok);
  }
}

TEST_CASE("A causal mask lets step i attend steps j <= i only, as a layer option or a call argument",
          "[attention]") {
  set_seed(4);
  const Tensor x = seq({1, 5, 8});
  Tensor later = x.clone();
  later.data<double>()[4 * 8 + 1] += 3.0;  // change only the last step
  auto check_causal = [&](const layers::AttentionResult& r, const layers::AttentionResult& r_later,
                          std::int64_t heads) {
    const auto s = r.scores.to_vector<double>();
    for (std::int64_t h = 0; h < heads; ++h)
      for (int i = 0; i < 5; ++i)
        for (int j = i + 1; j < 5; ++j) CHECK(s[static_cast<std::size_t>((h * 5 + i) * 5 + j)] == 0.0);
    const auto a = r.output.to_vector<double>(), b = r_later.output.to_vector<double>();
    const std::size_t width = a.size() / 5;
    for (std::size_t e = 0; e < 4 * width; ++e) CHECK(a[e] == b[e]);  // steps 0..3 unchanged
    CHECK(a[4 * width + 1] != b[4 * width + 1]);
  };
  auto mha = layers::MultiHeadAttention(2, 4, {.use_causal_mask = true});
  check_causal(mha->call_with_scores(x, x), mha->call_with_scores(later, later), 2);
  auto att = layers::Attention({.use_causal_mask = true});
  check_causal(att->call_with_scores(x, x), att->call_with_scores(later, later), 1);
  // The call argument on a non-causal layer gives the same as the causal layer.
  auto plain = layers::Attention();
  CHECK(allclose(plain(x, x, {.use_causal_mask = true}), att({x, x}), 0, 0));
  CHECK_FALSE(allclose(plain({x, x}), att({x, x}), 1e-3, 1e-3));
}

TEST_CASE("Dropout drops attention weights while training only, and the scores are Keras's",
          "[attention]") {
  set_seed(9);
  // With the identity as value, the output is the attention weights themselves.
  std::vector<double> eye(2 * 4 * 4, 0.0);
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 4; ++i) eye[static_cast<std::size_t>((b * 4 + i) * 4 + i)] = 1.0;
  const Tensor value = Tensor::from_vector(eye, {2, 4, 4}), query = seq({2, 3, 4}), key = seq({2, 4, 4}, 0.5);
  auto att = layers::Attention({.dropout = 0.5});
  auto eval = att->call_with_scores(query, value, {.key = key});
  CHECK(allclose(eval.output, eval.scores, 0, 1e-15));
  auto train = att->call_with_scores(query, value, {.key = key, .training = true});
  CHECK(allclose(train.scores, train.output, 0, 1e-15));  // Attention returns the dropped weights
  const auto w = eval.scores.to_vector<double>(), d = train.output.to_vector<double>();
  int dropped = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (d[i] == 0.0) ++dropped;
    else CHECK(d[i] == Approx(2.0 * w[i]));
  }
  CHECK(dropped > 0);
  CHECK(dropped < static_cast<int>(w.size()));

  auto mha = layers::MultiHeadAttention(2, 3, {.dropout = 0.3});
  const Tensor x = seq({2, 5, 6});
  const Tensor a = mha(x, x), b = mha(x, x);
  CHECK(allclose(a, b, 0, 0));
  auto trained = mha->call_with_scores(x, x, {.training = true});
  CHECK_FALSE(allclose(trained.output, a, 1e-4, 1e-4));
  CHECK(allclose(trained.scores, mha->call_with_scores(x, x).scores, 0, 0));  // MultiHeadAttention's: before dropout
}

TEST_CASE("Keras masks flow through a Functional model into the attention layers", "[attention][masking]") {
  set_seed(12);
  auto ids = layers::Input({5}, {.dtype = int32});
  auto embed = layers::Embedding(10, 6, {.mask_zero = true});
  auto e = embed(ids);
  auto mha = layers::MultiHeadAttention(2, 3);
  auto att = layers::Attention();
  Model model(ids, std::vector<KerasTensor>{mha({e, e}), att({e, e})});
  const Tensor tokens = Tensor::from_vector(std::vector<std::int32_t>{1, 2, 3, 0, 0, 4, 5, 6, 7, 0}, {2, 5});
  const auto outs = model.predict_outputs(tokens);
  REQUIRE(outs.size() == 2);
  const Tensor x = embed(tokens), mask = tokens != 0.0;
  auto want = mha->call_with_scores(x, x, {.query_mask = mask, .value_mask = mask});
  CHECK(allclose(outs[0], want.output, 1e-6, 1e-6));
  CHECK_FALSE(allclose(outs[0], mha(x, x), 1e-4, 1e-4));  // the mask changed something
  // Padded value steps get no attention.
  const auto s = want.scores.to_vector<double>();
  for (std::size_t i = 0; i < s.size(); ++i) {
    const std::size_t b = i / (2 * 5 * 5), key_step = i % 5;
    if (tokens.at(static_cast<std::int64_t>(b * 5 + key_step)) == 0 && tokens.at(static_cast<std::int64_t>(b * 5 + (i / 5) % 5)) != 0)
      CHECK(s[i] == 0.0);
  }
  // Attention zeroes padded query steps and attends real value steps only.
  CHECK(allclose(outs[1], att(x, x, {.query_mask = mask, .value_mask = mask}), 1e-6, 1e-6));
  for (std::int64_t f = 0; f < 6; ++f) CHECK(outs[1].at(3 * 6 + f) == 0.0);
  // The output's mask is the query's.
  CHECK(allclose(mha->compute_mask({x, x}, {mask, mask}), mask, 0, 0));
  CHECK(allclose(att->compute_mask({x, x}, {mask, Tensor()}), mask, 0, 0));
  CHECK_FALSE(att->compute_mask({x, x}, {Tensor(), mask}).defined());
}

TEST_CASE("MultiHeadAttention has Keras's weight shapes and names and trains, saves and reloads in a model",
          "[attention]") {
  set_seed(21);
  auto q = layers::Input({5, 8}), v = layers::Input({6, 7});
  auto mha = layers::MultiHeadAttention(2, 3, {.value_dim = 4});
  auto y = mha({q, v});
  CHECK(y.shape == Shape{-1, 5, 8});
  std::vector<std::pair<std::string, Shape>> want{
      {"query/kernel", {8, 2, 3}}, {"query/bias", {2, 3}}, {"key/kernel", {7, 2, 3}},  {"key/bias", {2, 3}},
      {"value/kernel", {7, 2, 4}}, {"value/bias", {2, 4}}, {"attention_output/kernel", {2, 4, 8}},
      {"attention_output/bias", {8}}};
  REQUIRE(mha->own_weights().size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    CHECK(mha->own_weights()[i].name == want[i].first);
    CHECK(mha->own_weights()[i].value.shape() == want[i].second);
  }
  CHECK(mha->count_params() == 8 * 6 + 6 + 7 * 6 + 6 + 7 * 8 + 8 + 8 * 8 + 8);
  CHECK(layers::MultiHeadAttention(2, 3, {.output_shape = {4}})({q, v}).shape == Shape{-1, 5, 4});

  // A self-attention regressor: the target is each sequence's mean of feature 0.
  auto x = layers::Input({6, 4});
  auto h = layers::MultiHeadAttention(2, 4)({x, x});
  auto out = layers::Dense(1)(layers::GlobalAveragePooling1D()(h));
  Model model(x, out);
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 0.01}), .loss = "mse"});
  const Tensor data = random_normal({128, 6, 4});
  std::vector<float> t(128);
  for (int i = 0; i < 128; ++i) t[static_cast<std::size_t>(i)] = static_cast<float>(data.mean({1}).at(i * 4));
  const Tensor y_true = Tensor::from_vector(t, {128, 1});
  const History hist = model.fit(data, y_true, {.batch_size = 32, .epochs = 15, .verbose = 0});
  const auto& loss = hist.history.at("loss");
  CHECK(loss.back() < 0.3 * loss.front());

  testing::ScratchDir dir("attention");
  model.save(dir.file("mha.h5"));
  Model again = models::load_model(dir.file("mha.h5"));
  CHECK(allclose(again.predict(data), model.predict(data), 0, 1e-6));
}

TEST_CASE("Attention configs use Keras's keys and round-trip through from_config", "[attention]") {
  auto roundtrip = [](const std::shared_ptr<Layer>& layer) {
    const json c = layer->get_config();
    auto again = layer_from_config(layer->class_name(), c);
    CHECK(again->get_config() == c);
    return c;
  };
  const json a = roundtrip(layers::Attention({.use_scale = true, .score_mode = "concat", .dropout = 0.1, .name = "att"}));
  CHECK(a == json{{"name", "att"}, {"trainable", true}, {"dtype", "float32"}, {"use_scale", true},
                  {"score_mode", "concat"}, {"dropout", 0.1}});
  const json ad = roundtrip(layers::AdditiveAttention({.dropout = 0.2, .use_causal_mask = true, .name = "add"}));
  CHECK(ad == json{{"name", "add"}, {"trainable", true}, {"dtype", "float32"}, {"use_scale", true},
                   {"dropout", 0.2}, {"causal", true}});
  const json m = roundtrip(layers::MultiHeadAttention(
      4, 8, {.dropout = 0.1, .output_shape = {3}, .attention_axes = {1}, .kernel_regularizer = regularizers::L2(0.01),
             .name = "mha"}));
  for (const char* key : {"num_heads", "key_dim", "value_dim", "dropout", "use_bias", "output_shape", "attention_axes",
                          "kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer",
                          "activity_regularizer", "kernel_constraint", "bias_constraint", "seed"})
    CHECK(m.contains(key));
  CHECK(m["value_dim"] == 8);
  CHECK(m["output_shape"] == json::array({3}));
  CHECK(m["kernel_initializer"]["class_name"] == "GlorotUniform");
  CHECK(m["kernel_regularizer"]["class_name"] == "L2");
  CHECK(m["activity_regularizer"].is_null());
  CHECK_FALSE(m.contains("use_causal_mask"));
  CHECK(roundtrip(layers::MultiHeadAttention(2, 2, {.use_causal_mask = true}))["use_causal_mask"] == true);
  CHECK(roundtrip(layers::MultiHeadAttention(2, 2))["output_shape"].is_null());

  // A model's JSON keeps the causal option, so the rebuilt model predicts the same.
  set_seed(5);
  auto x = layers::Input({4, 6});
  auto h = layers::MultiHeadAttention(2, 3, {.use_causal_mask = true})({x, x});
  Model model(x, layers::AdditiveAttention({.use_causal_mask = true})({h, x}));
  Model rebuilt = models::model_from_json(model.to_json());
  rebuilt.set_weights(model.get_weights());
  const Tensor data = seq({2, 4, 6});
  CHECK(allclose(rebuilt.predict(data), model.predict(data), 0, 0));

  // Keras 2: Attention's deprecated `causal`; tf.keras's MultiHeadAttention writes bare integers,
  // a null value_dim and its build shapes.
  auto k2 = layer_from_config("Attention", json{{"name", "attention"}, {"trainable", true}, {"dtype", "float32"},
                                                {"causal", true}, {"use_scale", false}, {"dropout", 0.2}});
  auto* k2att = dynamic_cast<layers::AttentionLayer*>(k2.get());
  REQUIRE(k2att);
  CHECK(k2att->use_causal_mask());
  CHECK(k2att->score_mode() == "dot");
  CHECK(k2att->dropout() == 0.2);
  auto tf = layer_from_config(
      "MultiHeadAttention",
      json::parse(R"({"name": "multi_head_attention", "trainable": true, "dtype": "float32", "num_heads": 2,
                      "key_dim": 3, "value_dim": null, "dropout": 0.0, "use_bias": true, "output_shape": 5,
                      "attention_axes": [1], "kernel_initializer": {"class_name": "GlorotUniform",
                      "config": {"seed": null}}, "bias_initializer": {"class_name": "Zeros", "config": {}},
                      "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null,
                      "kernel_constraint": null, "bias_constraint": null, "query_shape": [null, 4, 6],
                      "key_shape": [null, 4, 6], "value_shape": [null, 4, 6]})"));
  auto* tfm = dynamic_cast<MHA*>(tf.get());
  REQUIRE(tfm);
  CHECK(tfm->value_dim() == 3);
  CHECK(tfm->options().output_shape == std::vector<std::int64_t>{5});
  CHECK(tfm->options().attention_axes == std::vector<int>{1});
}

TEST_CASE("Attention layers reject wrong inputs and arguments with messages naming the layer and shapes",
          "[attention]") {
  auto q = layers::Input({3, 8}), v = layers::Input({4, 8}), k = layers::Input({5, 8}), narrow = layers::Input({4, 5});
  auto att = layers::Attention({.name = "att"});
  CHECK_THROWS_WITH(att(q), Contains("Attention 'att'") && Contains("list"));
  CHECK_THROWS_WITH(att({q, narrow, narrow, q}), Contains("got 4 tensors"));
  CHECK_THROWS_WITH(att({q, v, narrow}), Contains("query and key must have the same last dimension") &&
                                             Contains("(None, 3, 8)") && Contains("(None, 4, 5)"));
  CHECK_THROWS_AS(layers::Attention({.score_mode = "general"}), ValueError);
  CHECK_THROWS_WITH(layers::Attention({.score_mode = "general"}), Contains("score_mode"));
  CHECK_THROWS_WITH(layers::AdditiveAttention({.dropout = 1.0}), Contains("dropout"));
  CHECK_THROWS_WITH(att->call_with_scores(seq({2, 3, 8}), seq({2, 4, 8}), {.value_mask = Tensor::ones({2, 3})}),
                    Contains("Attention 'att'") && Contains("value_mask of shape (2, 3)") && Contains("(2, 4, 8)"));

  auto mha = layers::MultiHeadAttention(2, 4, {.name = "mha"});
  CHECK_THROWS_AS(mha({q, v, k}), ShapeError);
  CHECK_THROWS_WITH(mha({q, v, k}), Contains("MultiHeadAttention 'mha'") && Contains("value and key must agree") &&
                                        Contains("(None, 4, 8)") && Contains("(None, 5, 8)"));
  CHECK_THROWS_WITH(mha({layers::Input({8}), layers::Input({8})}), Contains("at least 3 dimensions"));
  mha({q, v});
  CHECK_THROWS_WITH(mha({layers::Input({3, 6}), v}), Contains("expected query features 8 as built, got 6"));
  CHECK_THROWS_WITH(mha->call_with_scores(seq({2, 3, 8}), seq({2, 4, 8}), {.attention_mask = Tensor::ones({2, 3, 5})}),
                    Contains("attention_mask of shape (2, 3, 5)") && Contains("(2, 3, 4)"));
  CHECK_THROWS_WITH(layers::MultiHeadAttention(0, 4), Contains("num_heads"));
  CHECK_THROWS_WITH(layers::MultiHeadAttention(2, 4, {.dropout = -0.1}), Contains("dropout"));
  auto two_axes = layers::MultiHeadAttention(2, 2, {.use_causal_mask = true, .name = "grid"});
  CHECK_THROWS_WITH(two_axes->call_with_scores(seq({1, 2, 3, 4}), seq({1, 2, 3, 4})),
                    Contains("MultiHeadAttention 'grid'") && Contains("single attention axis"));
  CHECK_THROWS_WITH(layers::MultiHeadAttention(2, 2, {.attention_axes = {3}})({layers::Input({2, 3, 4}), layers::Input({2, 3, 4})}),
                    Contains("attention_axes (3,)"));
}
