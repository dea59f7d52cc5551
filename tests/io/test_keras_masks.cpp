// SPDX-License-Identifier: Apache-2.0
// Masks as Keras 3 propagates them, in files Keras 3.15 made (tests/fixtures/make_keras_mask_fixtures.py):
// a functional config records the operations of mask propagation as nodes and hands each layer its
// mask as the call's `mask` keyword; lamina leaves those nodes out and propagates the same masks
// itself, and refuses a config whose operations do something else.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <lamina/lamina.hpp>
#include <nlohmann/json.hpp>

using namespace lamina;
using json = nlohmann::json;
using Catch::Matchers::Contains;

namespace {

const json& fixtures() {
  static const json j = [] {
    std::ifstream in(LAMINA_TEST_FIXTURES "/keras_masks.json");
    return json::parse(in);
  }();
  return j;
}

Tensor input_of(const json& f) {
  std::vector<double> flat;
  std::function<void(const json&)> walk = [&](const json& v) {
    if (v.is_array())
      for (const json& e : v) walk(e);
    else
      flat.push_back(v.get<double>());
  };
  walk(f["x"]);
  const Tensor x = Tensor::from_vector<double>(flat, Shape(f["x_shape"].get<std::vector<std::int64_t>>()));
  return f["x_dtype"] == "int32" ? x.astype(int32) : x.astype(float32);
}

std::string refusal(const json& config) {
  try {
    models::model_from_json(config.dump());
  } catch (const ValueError& e) {
    return e.what();
  }
  return "(loaded)";
}

json keras_tensor(const std::string& layer, const json& shape, const std::string& dtype = "float32") {
  return {{"class_name", "__keras_tensor__"},
          {"config", {{"shape", shape}, {"dtype", dtype}, {"keras_history", {layer, 0, 0}}}}};
}

json node(json args, json kwargs = json::object()) { return {{"args", std::move(args)}, {"kwargs", std::move(kwargs)}}; }

json input_layer(const std::string& name, const json& shape) {
  return {{"class_name", "InputLayer"},
          {"name", name},
          {"config", {{"name", name}, {"batch_shape", shape}, {"dtype", "float32"}}},
          {"inbound_nodes", json::array()}};
}

json not_equal(const std::string& name, const std::string& of) {
  return {{"class_name", "NotEqual"},
          {"module", "keras.src.ops.numpy"},
          {"name", name},
          {"config", {{"name", name}}},
          {"inbound_nodes", {node({keras_tensor(of, {nullptr, 4, 2}), 0.0})}}};
}

json any_op(const std::string& name, const std::string& of) {
  return {{"class_name", "Any"},
          {"module", "keras.src.ops.numpy"},
          {"name", name},
          {"config", {{"name", name}, {"axis", -1}, {"keepdims", false}}},
          {"inbound_nodes", {node({keras_tensor(of, {nullptr, 4, 2}, "bool")})}}};
}

json lstm_on(const std::string& x, const std::string& mask) {
  return {{"class_name", "LSTM"},
          {"module", "keras.layers"},
          {"name", "lstm"},
          {"config", {{"name", "lstm"}, {"units", 3}}},
          {"inbound_nodes", {node({keras_tensor(x, {nullptr, 4, 2})},
                                  {{"training", false}, {"mask", keras_tensor(mask, {nullptr, 4}, "bool")}})}}};
}

json functional(json layers, const json& inputs) {
  return {{"class_name", "Functional"},
          {"config", {{"name", "m"}, {"layers", std::move(layers)}, {"input_layers", inputs}, {"output_layers", {"lstm", 0, 0}}}}};
}

}  // namespace

TEST_CASE("Keras 3 files whose configs record mask operations predict what Keras predicted", "[keras_masks][io]") {
  const json& all = fixtures()["fixtures"];
  REQUIRE(all.size() == 5);
  for (const auto& [name, f] : all.items()) {
    INFO(name);
    Model m = models::load_model(std::string(LAMINA_TEST_FIXTURES) + "/keras_masks/" + f["file"].get<std::string>());
    const Tensor y = m.predict(input_of(f), {.verbose = 0});
    const auto want = f["y"].get<std::vector<double>>();
    REQUIRE(y.numel() == static_cast<std::int64_t>(want.size()));
    double worst = 0;
    for (std::size_t i = 0; i < want.size(); ++i)
      worst = std::max(worst, std::abs(y.at(static_cast<std::int64_t>(i)) - want[i]) / std::max(1.0, std::abs(want[i])));
    CHECK(worst < 1e-5);
  }
}

TEST_CASE("Mask operations are read only where they make a layer's mask from its own input", "[keras_masks][io]") {
  SECTION("the recorded mask of Masking is accepted and the same as lamina's") {
    const json config = functional({input_layer("in", {nullptr, 4, 2}), not_equal("ne", "in"), any_op("any", "ne"),
                                    {{"class_name", "Masking"},
                                     {"name", "masking"},
                                     {"config", {{"name", "masking"}, {"mask_value", 0.0}}},
                                     {"inbound_nodes", {node({keras_tensor("in", {nullptr, 4, 2})})}}},
                                    lstm_on("masking", "any")},
                                   {"in", 0, 0});
    CHECK(refusal(config) == "(loaded)");
  }
  SECTION("an operation read as data") {
    json layers = {input_layer("in", {nullptr, 4, 2}), not_equal("ne", "in"),
                   {{"class_name", "LSTM"},
                    {"name", "lstm"},
                    {"config", {{"name", "lstm"}, {"units", 3}}},
                    {"inbound_nodes", {node({keras_tensor("ne", {nullptr, 4, 2}, "bool")})}}}};
    CHECK_THAT(refusal(functional(layers, {"in", 0, 0})),
               Contains("'ne' (NotEqual) is read as data or output") && Contains("keras.ops"));
  }
  SECTION("a mask made from another input") {
    json layers = {input_layer("a", {nullptr, 4, 2}), input_layer("b", {nullptr, 4, 2}), not_equal("ne", "b"),
                   any_op("any", "ne"), lstm_on("a", "any")};
    CHECK_THAT(refusal(functional(layers, {{"a", 0, 0}, {"b", 0, 0}})),
               Contains("layer 'lstm' is given a mask made from 'b', which is not upstream of its input"));
  }
  SECTION("a layer's output given whole as a mask") {
    json layers = {input_layer("a", {nullptr, 4, 2}), input_layer("b", {nullptr, 4}), lstm_on("a", "b")};
    CHECK_THAT(refusal(functional(layers, {{"a", 0, 0}, {"b", 0, 0}})),
               Contains("layer 'lstm' is given the output of 'b' as its mask"));
  }
}

TEST_CASE("GlobalAveragePooling1D averages the unmasked steps, and Dense and Dropout pass masks on",
          "[keras_masks][layers]") {
  Sequential pool({layers::Input({3, 1}), layers::Masking(0.0),
                   layers::Dense(1, {.use_bias = false, .kernel_initializer = "ones"}), layers::Dropout(0.5),
                   layers::GlobalAveragePooling1D()});
  const Tensor x = Tensor::from_vector<float>({2, 4, 0, 0, 0, 6, 0, 0, 0}, {3, 3, 1});
  const Tensor y = pool.predict(x, {.verbose = 0});
  CHECK(y.at(0) == Approx(3.0));  // (2 + 4) / 2
  CHECK(y.at(1) == Approx(6.0));  // the one unmasked step
  CHECK(std::isnan(y.at(2)));     // every step masked: 0/0, as Keras
}

TEST_CASE("BatchNormalization passes a mask on at inference and refuses training on a masked input",
          "[keras_masks][layers]") {
  auto make = [](std::int64_t steps) {
    return Sequential({layers::Input({steps}, {.dtype = int32}), layers::Embedding(10, 3, {.mask_zero = true}),
                       layers::BatchNormalization(), layers::LSTM(2)});
  };
  Sequential padded = make(4), exact = make(2);
  exact.set_weights(padded.get_weights());
  // The padded steps leave the LSTM's output as it is without them: the mask reached it.
  const Tensor y = padded.predict(Tensor::from_vector<std::int32_t>({1, 2, 0, 0}, {1, 4}), {.verbose = 0});
  const Tensor want = exact.predict(Tensor::from_vector<std::int32_t>({1, 2}, {1, 2}), {.verbose = 0});
  CHECK(y.at(0) == Approx(want.at(0)).margin(1e-6));
  CHECK(y.at(1) == Approx(want.at(1)).margin(1e-6));
  padded.compile({.optimizer = "sgd", .loss = "mse"});
  CHECK_THROWS_WITH(padded.fit(Tensor::from_vector<std::int32_t>({1, 2, 0, 0}, {1, 4}), Tensor::zeros({1, 2}),
                               {.epochs = 1, .verbose = 0}),
                    Contains("BatchNormalization") && Contains("masked input"));
}
