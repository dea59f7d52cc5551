// SPDX-License-Identifier: Apache-2.0
// Model::to_json (Keras 3's dialect) and models::model_from_json (Keras 3 and Keras 2 dialects):
// round trips of every core and merge layer with all their arguments, initializer configs and
// seeds, Keras 2's Sequential and Functional forms, custom layers, and the refusals.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/merge.hpp>
#include <lamina/model.hpp>
#include <lamina/models.hpp>
#include <lamina/ops.hpp>

#include "support/op_testing.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using json = nlohmann::json;
using lamina::testing::check_same;
using lamina::testing::seq;

namespace {

// The "config" of every layer entry, by layer name.
json layer_config(const json& model_json, const std::string& name) {
  for (const json& entry : model_json.at("config").at("layers"))
    if (entry.at("config").value("name", std::string()) == name) return entry;
  FAIL("no layer " << name << " in " << model_json.dump());
  return {};
}

// A user's layer, as DESIGN.md's custom layer plus a hyper-parameter: y = factor · x · w.
struct ScaleBy : Layer {
  double factor = 1.0;
  Tensor w;
  ScaleBy() = default;
  explicit ScaleBy(const json& config) : factor(config.at("factor").get<double>()) {}
  std::string class_name() const override { return "ScaleBy"; }
  void build(const Shape& s) override { w = add_weight("w", {s.back()}, initializers::Ones()); }
  Tensor call(const Tensor& x, bool) override { return x * w * factor; }
  json get_config() const override {
    json c = Layer::get_config();
    c["factor"] = factor;
    return c;
  }
};

}  // namespace

TEST_CASE("to_json writes Keras 3's Sequential serialization with module and registered_name and dtype policies and build_config",
          "[config]") {
  Sequential model({layers::Input({12}, {.name = "features"}),
                    layers::Dense(64, {.activation = "relu", .name = "hidden"}),
                    layers::Dropout(0.25, "drop"),
                    layers::Dense(1, {.activation = "sigmoid", .name = "out"})},
                   "churn");
  const json j = json::parse(model.to_json());
  CHECK(j["module"] == "keras");
  CHECK(j["class_name"] == "Sequential");
  CHECK(j["registered_name"].is_null());
  CHECK(j["build_config"] == json::parse(R"({"input_shape": [null, 12]})"));
  CHECK(j["config"]["name"] == "churn");
  CHECK(j["config"]["build_input_shape"] == json::parse("[null, 12]"));
  CHECK(j["config"]["dtype"] ==
        json::parse(R"({"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null})"));
  const json& layers_json = j["config"]["layers"];
  REQUIRE(layers_json.size() == 4);
  // The InputLayer keeps a plain dtype string and has no build_config, as Keras writes it.
  CHECK(layers_json[0] == json::parse(R"({"module": "keras.layers", "class_name": "InputLayer", "registered_name": null,
      "config": {"batch_shape": [null, 12], "dtype": "float32", "sparse": false, "ragged": false, "name": "features"}})"));
  const json hidden = layer_config(j, "hidden");
  CHECK(hidden["module"] == "keras.layers");
  CHECK(hidden["registered_name"].is_null());
  CHECK(hidden["build_config"] == json::parse(R"({"input_shape": [null, 12]})"));
  CHECK(hidden["config"]["dtype"]["class_name"] == "DTypePolicy");
  CHECK(hidden["config"]["kernel_initializer"] ==
        json::parse(R"({"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null})"));
  // Dropout is built at construction in Keras: no build_config.
  CHECK_FALSE(layer_config(j, "drop").contains("build_config"));
  CHECK(layer_config(j, "out")["build_config"]["input_shape"] == json::parse("[null, 64]"));
  // Indented output is the same JSON.
  CHECK(json::parse(model.to_json(2)) == j);
}

TEST_CASE("to_json writes a Functional model with Keras 3's inbound nodes and merge build_configs",
          "[config]") {
  auto a = layers::Input({8}, {.name = "in_a"});
  auto b = layers::Input({4}, {.name = "in_b"});
  auto proj = layers::Dense(4, {.activation = "relu", .name = "proj_a"})(a);
  auto joined = layers::Concatenate(-1, "concat")({proj, b});
  Model model({a, b}, layers::Dense(1, {.activation = "sigmoid", .name = "out"})(joined), "two_in");
  const json j = json::parse(model.to_json());
  CHECK(j["module"] == "keras.src.models.functional");
  CHECK(j["class_name"] == "Functional");
  CHECK(j["registered_name"] == "Functional");
  CHECK(j["build_config"] == json::parse(R"({"input_shape": null})"));
  CHECK(j["config"]["input_layers"] == json::parse(R"([["in_a", 0, 0], ["in_b", 0, 0]])"));
  const json concat = layer_config(j, "concat");
  CHECK(concat["name"] == "concat");
  CHECK(concat["build_config"]["input_shape"] == json::parse("[[null, 4], [null, 4]]"));
  const json& arg = concat["inbound_nodes"][0]["args"][0];
  REQUIRE(arg.size() == 2);
  CHECK(arg[0] == json::parse(R"({"class_name": "__keras_tensor__",
      "config": {"shape": [null, 4], "dtype": "float32", "keras_history": ["proj_a", 0, 0]}})"));
  CHECK(arg[1]["config"]["keras_history"] == json::parse(R"(["in_b", 0, 0])"));
  CHECK(layer_config(j, "in_a")["inbound_nodes"].empty());
}

TEST_CASE("Every core and merge layer round-trips through to_json and model_from_json with all its arguments",
          "[config]") {
  auto x = layers::Input({6}, {.name = "x"});
  auto y = layers::Input({6}, {.name = "y"});
  auto d1 = layers::Dense(6, {.activation = "tanh", .use_bias = false,
                              .kernel_initializer = initializers::RandomNormal(0.5, 0.25),
                              .bias_initializer = initializers::Constant(0.3), .name = "d1"})(x);
  auto d2 = layers::Dense(6, {.activation = "elu",
                              .kernel_initializer = initializers::RandomUniform(-0.2, 0.1),
                              .bias_initializer = initializers::TruncatedNormal(0.0, 0.5), .name = "d2"})(y);
  auto act = layers::Activation("softplus", "act")(d1);
  auto drop = layers::Dropout(0.375, "drop")(d2);
  auto add = layers::Add("add")({act, drop});
  auto sub = layers::Subtract("sub")({act, drop});
  auto mul = layers::Multiply("mul")({act, drop, add});
  auto avg = layers::Average("avg")({sub, mul});
  auto mx = layers::Maximum("max")({avg, add});
  auto mn = layers::Minimum("min")({mx, sub});
  auto cat = layers::Concatenate(1, "cat")({mn, mx});
  auto dot = layers::Dot(std::pair{1, 1}, {.normalize = true, .name = "dot"})({act, drop});
  auto reshaped = layers::Reshape({3, 4}, "reshape")(cat);
  auto flat = layers::Flatten("flat")(reshaped);
  auto out = layers::Concatenate(-1, "out")({flat, dot});
  Model original({x, y}, out, "everything");

  const std::string text = original.to_json();
  Model rebuilt = models::model_from_json(text);
  CHECK(rebuilt.to_json() == text);
  CHECK(rebuilt.get_config() == original.get_config());
  CHECK(rebuilt.name() == "everything");
  REQUIRE(rebuilt.count_params() == original.count_params());
  rebuilt.set_weights(original.get_weights());
  Tensor xv = seq({5, 6}, 0.3, float32), yv = seq({5, 6}, -0.2, float32, 0.4);
  check_same(rebuilt(std::vector<Tensor>{xv, yv})[0], original(std::vector<Tensor>{xv, yv})[0], 0);

  // Spot checks of arguments that a lossy round trip would drop.
  const json j = json::parse(text);
  CHECK(layer_config(j, "d1")["config"]["use_bias"] == false);
  CHECK(layer_config(j, "d1")["config"]["kernel_initializer"]["config"] ==
        json::parse(R"({"mean": 0.5, "stddev": 0.25, "seed": null})"));
  CHECK(layer_config(j, "d1")["config"]["bias_initializer"]["config"] == json::parse(R"({"value": 0.3})"));
  CHECK(layer_config(j, "d2")["config"]["kernel_initializer"]["config"] ==
        json::parse(R"({"minval": -0.2, "maxval": 0.1, "seed": null})"));
  CHECK(layer_config(j, "drop")["config"]["rate"] == 0.375);
  CHECK(layer_config(j, "dot")["config"]["axes"] == json::parse("[1, 1]"));
  CHECK(layer_config(j, "dot")["config"]["normalize"] == true);
  CHECK(layer_config(j, "cat")["config"]["axis"] == 1);
  CHECK(layer_config(j, "reshape")["config"]["target_shape"] == json::parse("[3, 4]"));
  CHECK(layer_config(j, "act")["config"]["activation"] == "softplus");
}

TEST_CASE("A Sequential nested in a Functional model and a frozen layer round-trip", "[config]") {
  Sequential tower({layers::Input({3}), layers::Dense(5, {.activation = "relu", .name = "tower_dense"})}, "tower");
  auto in = layers::Input({4}, {.name = "in"});
  auto frozen = layers::Dense(3, {.name = "frozen"});
  frozen->set_trainable(false);
  Model outer(in, layers::Dense(2, {.name = "head"})(tower(frozen(in))), "outer");
  const json j = json::parse(outer.to_json());
  const json nested = layer_config(j, "tower");
  CHECK(nested["class_name"] == "Sequential");
  CHECK(nested["module"] == "keras");
  CHECK(nested["config"]["layers"].size() == 2);
  CHECK(nested["inbound_nodes"][0]["args"][0]["config"]["keras_history"] == json::parse(R"(["frozen", 0, 0])"));
  CHECK(layer_config(j, "frozen")["config"]["trainable"] == false);

  Model rebuilt = models::model_from_json(outer.to_json());
  CHECK(rebuilt.to_json() == outer.to_json());
  CHECK_FALSE(rebuilt.get_layer("frozen")->trainable());
  CHECK(rebuilt.trainable_weights().size() == outer.trainable_weights().size());
  rebuilt.set_weights(outer.get_weights());
  Tensor xv = seq({2, 4}, 0.5, float32);
  check_same(rebuilt(xv), outer(xv), 0);
}

TEST_CASE("Initializer configs keep their arguments and integer seeds and a seeded initializer repeats its values",
          "[config]") {
  const json config = json::parse(R"({"name": "seeded", "units": 4,
      "kernel_initializer": {"module": "keras.initializers", "class_name": "RandomNormal",
                             "config": {"mean": 1.0, "stddev": 0.5, "seed": 1234}, "registered_name": null},
      "bias_initializer": {"class_name": "TruncatedNormal", "config": {"mean": 0.0, "stddev": 2.0, "seed": 7}}})");
  auto first = layer_from_config("Dense", config);
  CHECK(first->get_config()["kernel_initializer"]["config"] == json::parse(R"({"mean": 1.0, "stddev": 0.5, "seed": 1234})"));
  CHECK(first->get_config()["bias_initializer"]["config"] == json::parse(R"({"mean": 0.0, "stddev": 2.0, "seed": 7})"));
  // Keras 3: an initializer seeded with an integer produces the same values on every call,
  // whatever else was drawn in between.
  first->build_for({-1, 3});
  (void)random_normal({100}, 0.0, 1.0);
  auto second = layer_from_config("Dense", config);
  second->build_for({-1, 3});
  check_same(second->get_weights()[0], first->get_weights()[0], 0);
  const std::vector<double> k = first->get_weights()[0].to_vector<double>();
  double mean = 0;
  for (double v : k) mean += v / double(k.size());
  CHECK(std::abs(mean - 1.0) < 0.5);  // drawn from N(1, 0.5): 12 values
  json other = config;
  other["kernel_initializer"]["config"]["seed"] = 4321;
  auto third = layer_from_config("Dense", other);
  third->build_for({-1, 3});
  CHECK(third->get_weights()[0].to_vector<double>() != k);
}

TEST_CASE("Keras 2's VarianceScaling configs stay VarianceScaling with their scale and mode and distribution",
          "[config][files]") {
  // Keras 2.0-2.1 wrote glorot_uniform as VarianceScaling(1, fan_avg, uniform), and called the
  // truncated normal "normal"; Keras 3 reads both as VarianceScaling, "normal" as truncated_normal.
  auto kernel = [](const char* init) {
    json c = {{"name", "d"}, {"units", 2}, {"kernel_initializer", json::parse(init)}};
    return layer_from_config("Dense", c)->get_config()["kernel_initializer"];
  };
  CHECK(kernel(R"({"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": null}})")["config"] ==
        json::parse(R"({"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": null})"));
  const json he = kernel(R"({"class_name": "VarianceScaling", "config": {"scale": 2.0, "mode": "fan_in", "distribution": "normal", "seed": 5}})");
  CHECK(he["class_name"] == "VarianceScaling");
  CHECK(he["config"] == json::parse(R"({"scale": 2.0, "mode": "fan_in", "distribution": "truncated_normal", "seed": 5})"));
  // Keras 1 style strings; an initializer lamina lacks is refused by key and class.
  CHECK(kernel(R"("he_uniform")")["class_name"] == "HeUniform");
  CHECK_THROWS_WITH(kernel(R"({"class_name": "SomethingNew", "config": {}})"),
                    Contains("Dense 'd'") && Contains("kernel_initializer") && Contains("SomethingNew"));
}

TEST_CASE("model_from_json reads Keras 2's Sequential forms: a bare layer list with batch_input_shape on the first layer",
          "[config]") {
  // Keras <= 2.2.2 to_json (schema of ../shared/KERAS_FORMATS.md (c)): config is the bare list;
  // the input shape rides on the first layer; "hard_sigmoid" is Keras 2's 0.2·x + 0.5.
  const std::string text = R"({"class_name": "Sequential", "keras_version": "2.1.3", "backend": "tensorflow",
    "config": [
      {"class_name": "Dense", "config": {"name": "dense_1", "trainable": true, "batch_input_shape": [null, 3],
        "dtype": "float32", "units": 2, "activation": "linear", "use_bias": true,
        "kernel_initializer": {"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": null}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null,
        "kernel_constraint": null, "bias_constraint": null}},
      {"class_name": "Activation", "config": {"name": "activation_1", "trainable": true, "activation": "hard_sigmoid"}}]})";
  Model m = models::model_from_json(text);
  REQUIRE(m.layers().size() == 2);
  CHECK(m.input_shape() == Shape{-1, 3});
  CHECK(m.input_names() == std::vector<std::string>{"dense_1_input"});
  m.set_weights({Tensor::from_vector(std::vector<float>{1, 0, 0, 1, 0, 0}, {3, 2}),
                 Tensor::from_vector(std::vector<float>{0, 0}, {2})});
  // Identity-like kernel: outputs 0.2·x + 0.5 clipped to [0, 1] on the first two features.
  Tensor x = Tensor::from_vector(std::vector<float>{-3.0f, 1.0f, 9.0f, 2.0f, -1.0f, 0.0f}, {2, 3});
  const std::vector<double> got = m.predict(x).to_vector<double>();
  const std::vector<double> want = {0.0, 0.7, 0.9, 0.3};
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(got[i] == Approx(want[i]).margin(1e-6));
}

TEST_CASE("model_from_json reads tf.keras's Sequential with an InputLayer and a Keras 2 Functional model",
          "[config]") {
  // Example A of ../shared/KERAS_FORMATS.md, (c): tf.keras 2.x dialect.
  const std::string seq_text = R"({"class_name": "Sequential", "keras_version": "2.15.0", "backend": "tensorflow",
   "config": {"name": "mlp", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 784], "dtype": "float32", "sparse": false, "ragged": false, "name": "input_1"}},
    {"class_name": "Dense", "config": {"name": "hidden", "trainable": true, "dtype": "float32", "units": 128, "activation": "relu", "use_bias": true,
       "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}}, "bias_initializer": {"class_name": "Zeros", "config": {}},
       "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}},
    {"class_name": "Dropout", "config": {"name": "drop", "trainable": true, "dtype": "float32", "rate": 0.2, "noise_shape": null, "seed": null}},
    {"class_name": "Dense", "config": {"name": "out", "trainable": true, "dtype": "float32", "units": 10, "activation": "softmax", "use_bias": true,
       "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}}, "bias_initializer": {"class_name": "Zeros", "config": {}},
       "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}}]}})";
  Model mlp = models::model_from_json(seq_text);
  CHECK(mlp.name() == "mlp");
  CHECK(mlp.input_names() == std::vector<std::string>{"input_1"});
  CHECK(mlp.count_params() == 784 * 128 + 128 + 128 * 10 + 10);
  CHECK(mlp.output_shape() == Shape{-1, 10});
  // Rewritten in Keras 3's dialect, it reads back the same.
  CHECK(models::model_from_json(mlp.to_json()).to_json() == mlp.to_json());

  // Example B: Keras 2 Functional with list-style inbound nodes; "Model" was Keras <= 2.3's name.
  const std::string fn_text = R"({"class_name": "Model", "keras_version": "2.2.4", "backend": "tensorflow",
   "config": {"name": "two_in",
    "layers": [
     {"class_name": "InputLayer", "name": "in_a", "inbound_nodes": [], "config": {"batch_input_shape": [null, 8], "dtype": "float32", "sparse": false, "name": "in_a"}},
     {"class_name": "InputLayer", "name": "in_b", "inbound_nodes": [], "config": {"batch_input_shape": [null, 4], "dtype": "float32", "sparse": false, "name": "in_b"}},
     {"class_name": "Dense", "name": "proj_a", "inbound_nodes": [[["in_a", 0, 0, {}]]], "config": {"name": "proj_a", "trainable": true, "dtype": "float32", "units": 4, "activation": "relu", "use_bias": true}},
     {"class_name": "Concatenate", "name": "concat", "inbound_nodes": [[["proj_a", 0, 0, {}], ["in_b", 0, 0, {}]]], "config": {"name": "concat", "trainable": true, "dtype": "float32", "axis": -1}},
     {"class_name": "Dense", "name": "out", "inbound_nodes": [[["concat", 0, 0, {}]]], "config": {"name": "out", "trainable": true, "dtype": "float32", "units": 1, "activation": "sigmoid", "use_bias": true}}],
    "input_layers": [["in_a", 0, 0], ["in_b", 0, 0]],
    "output_layers": [["out", 0, 0]]}})";
  Model two = models::model_from_json(fn_text);
  CHECK(two.input_names() == std::vector<std::string>{"in_a", "in_b"});
  CHECK(two.output_shape() == Shape{-1, 1});
  CHECK(two.count_params() == 8 * 4 + 4 + 8 * 1 + 1);
  // out(concat(relu(proj_a(a)), b)) by hand from the rebuilt layers.
  Tensor a = seq({3, 8}, 0.1, float32), b = seq({3, 4}, -0.2, float32);
  Tensor want = two.get_layer("out")->operator()(
      concatenate({relu(two.get_layer("proj_a")->operator()(a)), b}, -1));
  check_same(two(std::vector<Tensor>{a, b})[0], want, 1e-6);
}

TEST_CASE("Keras 3's input and output structures: a single un-nested tensor and outputs keyed by name",
          "[config]") {
  auto in = layers::Input({3}, {.name = "in"});
  auto h = layers::Dense(4, {.name = "h"})(in);
  Model model(in, {{"score", layers::Dense(1, {.name = "score"})(h)}, {"cls", layers::Dense(2, {.name = "cls"})(h)}});
  json j = json::parse(model.to_json());
  j["config"]["input_layers"] = json::parse(R"(["in", 0, 0])");
  j["config"]["output_layers"] = json::parse(R"({"score": ["score", 0, 0], "cls": ["cls", 0, 0]})");
  Model rebuilt = models::model_from_json(j.dump());
  CHECK(rebuilt.input_names() == std::vector<std::string>{"in"});
  auto names = rebuilt.output_names();
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"cls", "score"});
}

TEST_CASE("A custom layer registered with register_layer round-trips - unregistered it is refused naming the class",
          "[config]") {
  auto build = [] {
    auto in = layers::Input({3}, {.name = "in"});
    auto scale = std::make_shared<ScaleBy>();
    scale->factor = 2.5;
    scale->set_name("scale");
    return Model(in, layers::Dense(2, {.name = "head"})((*scale)(in)), "custom");
  };
  Model original = build();
  const std::string text = original.to_json();
  const json entry = layer_config(json::parse(text), "scale");
  // Keras writes user classes with "module": null and the name they are registered under.
  CHECK(entry["module"].is_null());
  CHECK(entry["registered_name"] == "ScaleBy");
  CHECK(entry["config"]["factor"] == 2.5);

  CHECK_THROWS_WITH(models::model_from_json(text),
                    Contains("unknown layer class 'ScaleBy'") && Contains("'scale'") && Contains("register_layer"));
  register_layer<ScaleBy>("ScaleBy");
  Model rebuilt = models::model_from_json(text);
  CHECK(rebuilt.to_json() == text);
  auto layer = std::dynamic_pointer_cast<ScaleBy>(rebuilt.get_layer("scale"));
  REQUIRE(layer);
  CHECK(layer->factor == 2.5);
  rebuilt.set_weights(original.get_weights());
  Tensor x = seq({2, 3}, 0.5, float32);
  check_same(rebuilt(x), original(x), 0);
}

TEST_CASE("model_from_json refuses Lambda layers and subclassed models and unknown classes and malformed configs with clear messages",
          "[config]") {
  const std::string lambda = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 2], "name": "i"}},
      {"class_name": "Lambda", "config": {"name": "my_lambda", "function": ["4wEAAAAA", null, null]}}]}})";
  CHECK_THROWS_AS(models::model_from_json(lambda), ValueError);
  CHECK_THROWS_WITH(models::model_from_json(lambda), Contains("Lambda layer 'my_lambda'") && Contains("safe_mode"));

  const std::string subclassed = R"({"module": null, "class_name": "NestedDenseModel", "config": {"name": "n", "num": 3},
      "registered_name": "legacy_nested_container>NestedDenseModel"})";
  CHECK_THROWS_WITH(models::model_from_json(subclassed),
                    Contains("'NestedDenseModel'") && Contains("legacy_nested_container>NestedDenseModel") &&
                        Contains("subclassed"));

  const std::string unknown = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 2], "name": "i"}},
      {"class_name": "Frobnicate", "config": {"name": "frob"}}]}})";
  CHECK_THROWS_WITH(models::model_from_json(unknown), Contains("unknown layer class 'Frobnicate'") && Contains("'frob'"));

  const std::string no_units = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 2], "name": "i"}},
      {"class_name": "Dense", "config": {"name": "dense_7", "output_dim": 3}}]}})";
  CHECK_THROWS_AS(models::model_from_json(no_units), ValueError);
  CHECK_THROWS_WITH(models::model_from_json(no_units), Contains("Dense 'dense_7'") && Contains("units"));

  const std::string bad_activation = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 2], "name": "i"}},
      {"class_name": "Dense", "config": {"name": "dense_8", "units": 3, "activation": "frobnicate"}}]}})";
  CHECK_THROWS_WITH(models::model_from_json(bad_activation), Contains("dense_8") && Contains("frobnicate"));

  CHECK_THROWS_WITH(models::model_from_json("{not json"), Contains("not valid JSON"));
  CHECK_THROWS_WITH(models::model_from_json(R"({"layers": []})"), Contains("class_name"));
  CHECK_THROWS_WITH(models::model_from_json(R"({"class_name": "Functional", "config": {"name": "f"}})"),
                    Contains("not a model config"));
}
