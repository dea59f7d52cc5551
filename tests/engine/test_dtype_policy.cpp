// SPDX-License-Identifier: Apache-2.0
// Keras dtype policies: names, the global policy and the layer option, the variables' dtypes,
// configs in Keras 3's and Keras 2's forms, and the mixed-precision call path (autocast, float32
// BatchNormalization, softmax and losses), and forward and training passes in bfloat16/float16
// (the CPU backend computes them in float32 inside).
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/activations.hpp>
#include <lamina/callbacks.hpp>
#include <lamina/dtype_policy.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/normalization.hpp>
#include <lamina/losses.hpp>
#include <lamina/model.hpp>
#include <lamina/models.hpp>
#include <lamina/ops.hpp>

using namespace lamina;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

struct PolicyScope {
  explicit PolicyScope(const std::string& name) { set_dtype_policy(name); }
  ~PolicyScope() { set_dtype_policy("float32"); }
};

// A custom layer that records what its call() sees under the policy, computing in float32 itself.
struct Probe : Layer {
  Tensor w;
  DType seen_input = float32, seen_weight = float32;
  std::string class_name() const override { return "Probe"; }
  void build(const Shape& s) override { w = add_weight("w", {s.back()}, initializers::Ones()); }
  Tensor call(const Tensor& x, bool) override {
    const Tensor k = autocast(w);
    seen_input = x.dtype();
    seen_weight = k.dtype();
    return x.astype(float32) * k.astype(float32) * 2.0;
  }
};

std::vector<float> bf16_round(const std::vector<float>& v) {
  return Tensor::from_vector(v, {static_cast<std::int64_t>(v.size())}).astype(bfloat16).to_vector<float>();
}

}  // namespace

TEST_CASE("DTypePolicy: Keras's names, compute and variable dtypes", "[dtype_policy]") {
  const DTypePolicy f32;
  CHECK(f32.name() == "float32");
  CHECK(!f32.is_mixed());
  const DTypePolicy mf16("mixed_float16"), mbf16 = "mixed_bfloat16", h("float16"), b("bfloat16"), d("float64");
  CHECK((mf16.compute_dtype() == float16 && mf16.variable_dtype() == float32 && mf16.is_mixed()));
  CHECK((mbf16.compute_dtype() == bfloat16 && mbf16.variable_dtype() == float32 && mbf16.is_mixed()));
  CHECK((h.compute_dtype() == float16 && h.variable_dtype() == float16 && !h.is_mixed()));
  CHECK((b.compute_dtype() == bfloat16 && b.variable_dtype() == bfloat16));
  CHECK((d.compute_dtype() == float64 && d.variable_dtype() == float64));
  CHECK_THROWS_WITH(DTypePolicy("mixed_float8"), Contains("mixed_float8") && Contains("mixed_bfloat16"));
  CHECK_THROWS_AS(DTypePolicy("int32"), ValueError);
}

TEST_CASE("set_dtype_policy is what new layers take, the layer option overrides it", "[dtype_policy]") {
  CHECK(dtype_policy().name() == "float32");
  auto before = layers::Dense(2);
  {
    PolicyScope scope("mixed_bfloat16");
    CHECK(dtype_policy().name() == "mixed_bfloat16");
    auto during = layers::Dense(2);
    CHECK(during->dtype_policy().name() == "mixed_bfloat16");
    CHECK(layers::Dense(2, {.dtype = "float32"})->dtype_policy().name() == "float32");
  }
  CHECK(before->dtype_policy().name() == "float32");
  CHECK(layers::Dense(2, {.dtype = "mixed_float16"})->dtype_policy().name() == "mixed_float16");
  CHECK(layers::BatchNormalization({.dtype = "mixed_bfloat16"})->dtype_policy().name() == "mixed_bfloat16");
  CHECK_THROWS_WITH(layers::Dense(2, {.dtype = "half"}), Contains("half"));
}

TEST_CASE("Variables stay float32 under the mixed policies and take the dtype of plain 16-bit ones",
          "[dtype_policy]") {
  for (const auto& [policy, want] : std::vector<std::pair<std::string, DType>>{
           {"mixed_float16", float32}, {"mixed_bfloat16", float32}, {"float16", float16},
           {"bfloat16", bfloat16}, {"float64", float64}}) {
    INFO(policy);
    auto dense = layers::Dense(3, {.dtype = policy});
    dense->build_for({-1, 4});
    CHECK(dense->kernel.dtype() == want);
    CHECK(dense->bias.dtype() == want);
    CHECK(dense->kernel.requires_grad());
    // Changing the policy later must not leave variables of another dtype behind.
    if (want != float32) CHECK_THROWS_AS(dense->set_dtype_policy("float32"), ValueError);
  }
  auto bn = layers::BatchNormalization({.dtype = "mixed_bfloat16"});
  bn->build_for({-1, 3});
  for (const Tensor& w : bn->weights()) CHECK(w.dtype() == float32);
}

TEST_CASE("get_config writes the policy name, Keras 3 JSON wraps it in its DTypePolicy object",
          "[dtype_policy]") {
  reset_layer_names();
  auto mixed = layers::Dense(2, {.dtype = "mixed_bfloat16"});
  CHECK(mixed->get_config()["dtype"] == "mixed_bfloat16");
  CHECK(layers::Dense(2)->get_config()["dtype"] == "float32");
  Sequential model({layers::Input({3}), mixed, layers::Dense(1)});
  const json j = json::parse(model.to_json());
  // What Keras 3.15 writes for a mixed layer, and for a float32 one.
  CHECK(j["config"]["layers"][1]["config"]["dtype"] ==
        json::parse(R"({"module": "keras", "class_name": "DTypePolicy",
                        "config": {"name": "mixed_bfloat16"}, "registered_name": null})"));
  CHECK(j["config"]["layers"][2]["config"]["dtype"]["config"]["name"] == "float32");
  CHECK(j["config"]["layers"][2]["config"]["dtype"]["class_name"] == "DTypePolicy");
}

TEST_CASE("Configs read Keras 3's DTypePolicy objects, Keras 2's Policy objects and names, an "
          "unknown policy is refused naming the layer, the key and the value", "[dtype_policy]") {
  const auto dense_model = [](const json& dtype) {
    json config = json::parse(R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [null, 3], "dtype": "float32", "name": "in"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}})");
    config["config"]["layers"][1]["config"]["dtype"] = dtype;
    return models::model_from_json(config.dump());
  };
  const auto policy_of = [](const Model& m) { return m.layers().back()->dtype_policy().name(); };
  CHECK(policy_of(dense_model(json::parse(R"({"module": "keras", "class_name": "DTypePolicy",
                                              "config": {"name": "mixed_float16"}, "registered_name": null})"))) ==
        "mixed_float16");
  CHECK(policy_of(dense_model(json::parse(R"({"module": "keras.mixed_precision", "class_name": "Policy",
                                              "config": {"name": "mixed_bfloat16"}, "registered_name": null})"))) ==
        "mixed_bfloat16");
  CHECK(policy_of(dense_model("float16")) == "float16");
  CHECK(policy_of(dense_model("float32")) == "float32");
  CHECK_THROWS_WITH(dense_model("mixed_float8"), Contains("'d'") && Contains("dtype") && Contains("mixed_float8"));
  CHECK_THROWS_WITH(dense_model(json::parse(R"({"class_name": "QuantizedDTypePolicy",
                                                "config": {"name": "int8_from_float32"}})")),
                    Contains("'d'") && Contains("dtype") && Contains("QuantizedDTypePolicy"));
  CHECK_THROWS_AS(dense_model(12), ValueError);
}

TEST_CASE("A mixed policy round-trips through to_json and model_from_json", "[dtype_policy]") {
  reset_layer_names();
  Sequential model({layers::Input({3}), layers::Dense(4, {.dtype = "mixed_bfloat16"}),
                    layers::BatchNormalization({.dtype = "mixed_bfloat16"}), layers::Dense(2, {.dtype = "bfloat16"})});
  Model back = models::model_from_json(model.to_json());
  REQUIRE(back.layers().size() == 3);
  CHECK(back.layers()[0]->dtype_policy().name() == "mixed_bfloat16");
  CHECK(back.layers()[1]->dtype_policy().name() == "mixed_bfloat16");
  CHECK(back.layers()[2]->dtype_policy().name() == "bfloat16");
  CHECK(back.layers()[0]->weights()[0].dtype() == float32);
  CHECK(back.layers()[2]->weights()[0].dtype() == bfloat16);
  CHECK(back.to_json() == model.to_json());
}

TEST_CASE("Under a mixed policy a layer sees its floating inputs and its weights in the compute "
          "dtype, the variable stays float32 and gets the gradient", "[dtype_policy]") {
  auto probe = std::make_shared<Probe>();
  probe->set_dtype_policy("mixed_bfloat16");
  Tensor x = Tensor::from_vector<float>({1.0f / 3, 2.0f}, {1, 2});
  const Tensor y = (*probe)(x, true);
  CHECK(probe->seen_input == bfloat16);
  CHECK(probe->seen_weight == bfloat16);
  CHECK(probe->w.dtype() == float32);
  CHECK(y.to_vector<float>() == std::vector<float>{2 * bf16_round({1.0f / 3})[0], 4.0f});
  y.sum().backward();
  REQUIRE(probe->w.grad().defined());
  CHECK(probe->w.grad().dtype() == float32);
  CHECK(probe->w.grad().to_vector<float>() == std::vector<float>{2 * bf16_round({1.0f / 3})[0], 4.0f});
  // Integer inputs are not cast; the float32 policy casts nothing (float64 gradient checks).
  (*probe)(Tensor::ones({1, 2}, int32), false);
  CHECK(probe->seen_input == int32);
  auto plain = std::make_shared<Probe>();
  (*plain)(Tensor::ones({1, 2}, float64), false);
  CHECK(plain->seen_input == float64);
  CHECK(plain->seen_weight == float32);
}

TEST_CASE("BatchNormalization, softmax and losses compute in float32 on 16-bit inputs", "[dtype_policy]") {
  const std::vector<float> v = {0.3f, -1.2f, 2.5f, 0.7f, 1.1f, -0.4f};
  const Tensor x16 = Tensor::from_vector(v, {2, 3}).astype(bfloat16);
  const Tensor x32 = x16.astype(float32);  // the same values, widened exactly
  // BatchNormalization: no autocast; normalises in float32 and returns the input's dtype.
  auto bn = layers::BatchNormalization({.dtype = "mixed_bfloat16"});
  auto bn32 = layers::BatchNormalization();
  for (bool training : {true, false}) {
    const Tensor y = bn(x16, training), want = bn32(x32, training);
    CHECK(y.dtype() == bfloat16);
    CHECK(y.to_vector<float>() == want.astype(bfloat16).to_vector<float>());
  }
  // softmax: computed and returned in float32.
  const Tensor p = activations::softmax(x16);
  CHECK(p.dtype() == float32);
  CHECK(p.to_vector<float>() == activations::softmax(x32).to_vector<float>());
  // losses: float32 values from 16-bit predictions.
  const Tensor y_true = Tensor::from_vector<float>({0, 1, 0, 1, 0, 0}, {2, 3});
  const Tensor loss16 = losses::MeanSquaredError()(y_true, x16);
  CHECK(loss16.dtype() == float32);
  CHECK(loss16.item() == losses::MeanSquaredError()(y_true, x32).item());
}

TEST_CASE("An MLP under mixed_bfloat16 predicts bfloat16 outputs close to its float32 ones",
          "[dtype_policy][mixed]") {
  reset_layer_names();
  Sequential f32({layers::Input({8}), layers::Dense(16, {.activation = "relu"}), layers::Dense(4)});
  Tensor x = Tensor::from_vector<float>(std::vector<float>(8 * 5, 0.25f), {5, 8});
  const Tensor want = f32.predict(x);
  PolicyScope scope("mixed_bfloat16");
  Sequential mixed({layers::Input({8}), layers::Dense(16, {.activation = "relu"}), layers::Dense(4)});
  mixed.set_weights(f32.get_weights());
  const Tensor got = mixed.predict(x);
  CHECK(got.dtype() == bfloat16);
  const auto a = got.to_vector<float>(), b = want.to_vector<float>();
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(b[i]).epsilon(0.02).margin(0.02));
}

TEST_CASE("An MLP trains under mixed_bfloat16 and mixed_float16 (loss scaling) to float32's loss",
          "[dtype_policy][mixed]") {
  for (const char* policy : {"mixed_bfloat16", "mixed_float16"}) {
    INFO(policy);
    PolicyScope scope(policy);
    reset_layer_names();
    Sequential model({layers::Input({4}), layers::Dense(16, {.activation = "relu"}),
                      layers::Dense(3, {.activation = "softmax"})});
    model.compile({.optimizer = optimizers::Adam({.learning_rate = 0.01}),
                   .loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
    std::vector<float> xs;
    std::vector<std::int64_t> ys;
    for (int i = 0; i < 96; ++i) {
      const int c = i % 3;
      for (int k = 0; k < 4; ++k) xs.push_back(static_cast<float>((k == c) * 2.0 + 0.1 * ((i * 7 + k) % 5)));
      ys.push_back(c);
    }
    const Tensor x = Tensor::from_vector(xs, {96, 4});
    const Tensor y = Tensor::from_vector(ys, {96});
    const History h = model.fit(x, y, {.batch_size = 16, .epochs = 20, .verbose = 0});
    CHECK(h.history.at("accuracy").back() > 0.95);
    for (const Tensor& w : model.trainable_weights()) CHECK(w.dtype() == float32);
  }
}
