// SPDX-License-Identifier: Apache-2.0
// ConvLSTM1D/2D (alone and under Bidirectional) and tf.keras 2's LocallyConnected1D/2D in files
// made by real Keras (tests/fixtures/convlstm, written by make_convlstm_fixtures.py with keras
// 3.15 and tf_keras 2.21): each reproduces Keras's outputs within 1e-5, survives lamina's save and
// reload in every format, and the config-key audit covers the keys Keras writes. Keras 1 files
// are refused saying so.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <lamina/lamina.hpp>
#include <nlohmann/json.hpp>

#include "engine/config.hpp"

using namespace lamina;
using json = nlohmann::json;
using Catch::Matchers::Contains;

namespace {

const json& fixtures() {
  static const json j = [] {
    std::ifstream in(LAMINA_TEST_FIXTURES "/convlstm.json");
    return json::parse(in);
  }();
  return j;
}

std::string fixture_path(const std::string& file) { return std::string(LAMINA_TEST_FIXTURES) + "/convlstm/" + file; }

Tensor input_of(const json& f) {
  return Tensor::from_vector<double>(f.at("x").get<std::vector<double>>(),
                                     Shape(f.at("x_shape").get<std::vector<std::int64_t>>()))
      .astype(float32);
}

// The largest |lamina − Keras| / max(1, |Keras|) over every output of the model.
double worst_difference(Model& model, const json& f) {
  const std::vector<Tensor> got = model(std::vector<Tensor>{input_of(f)});
  REQUIRE(got.size() == f.at("y").size());
  double worst = 0;
  for (std::size_t o = 0; o < got.size(); ++o) {
    const auto want = f.at("y")[o].get<std::vector<double>>();
    CHECK(got[o].shape() == Shape(f.at("y_shapes")[o].get<std::vector<std::int64_t>>()));
    REQUIRE(got[o].numel() == static_cast<std::int64_t>(want.size()));
    for (std::size_t i = 0; i < want.size(); ++i)
      worst = std::max(worst, std::abs(got[o].at(static_cast<std::int64_t>(i)) - want[i]) /
                                  std::max(1.0, std::abs(want[i])));
  }
  return worst;
}

}  // namespace

TEST_CASE("ConvLSTM and LocallyConnected files made by Keras reproduce its outputs", "[convlstm][keras_files]") {
  int files = 0;
  double worst = 0;
  for (const auto& [name, f] : fixtures().at("models").items()) {
    for (const json& file : f.at("files")) {
      const std::string path = file.get<std::string>();
      if (path.size() > 11 && path.substr(path.size() - 11) == ".weights.h5") continue;  // below
      INFO(name << " " << path << " (" << f.at("keras").get<std::string>() << ")");
      Model model = models::load_model(fixture_path(path));
      const double d = worst_difference(model, f);
      CHECK(d < 1e-5);
      worst = std::max(worst, d);
      ++files;
    }
  }
  CHECK(files == 16);
  INFO("worst difference " << worst);
  CHECK(worst < 1e-5);
}

TEST_CASE("a ConvLSTM2D built in C++ reads Keras 3's .weights.h5", "[convlstm][keras_files]") {
  const json& f = fixtures().at("models").at("k3_convlstm2d_same_sequences");
  Sequential model({layers::Input({3, 5, 5, 2}),
               layers::ConvLSTM2D(3, 2, {.padding = "same", .return_sequences = true})});
  model.load_weights(fixture_path("k3_convlstm2d_same_sequences.weights.h5"));
  CHECK(worst_difference(model, f) < 1e-5);
}

TEST_CASE("ConvLSTM and LocallyConnected models survive lamina's save and reload", "[convlstm][keras_files]") {
  const auto dir = std::filesystem::temp_directory_path() / "lamina_convlstm_roundtrip";
  std::filesystem::create_directories(dir);
  int saved = 0;
  for (const char* name : {"k3_convlstm2d_strides_backwards_state", "k3_convlstm2d_channels_first_dilation",
                           "k3_bidirectional_convlstm2d", "k2_bidirectional_convlstm2d_ave", "k2_convlstm1d_strides",
                           "k2_locally_connected2d", "k2_locally_connected2d_channels_first", "k2_locally_connected1d",
                           "k2_locally_connected1d_channels_first"}) {
    const json& f = fixtures().at("models").at(name);
    Model model = models::load_model(fixture_path(f.at("files")[0].get<std::string>()));
    for (const char* ext : {".keras", ".h5"}) {
      INFO(name << ext);
      const std::string path = (dir / (std::string(name) + ext)).string();
      model.save(path);
      Model again = models::load_model(path);
      CHECK(worst_difference(again, f) < 1e-5);
      ++saved;
    }
    // The weights alone, into a model rebuilt from the config.
    const std::string weights = (dir / (std::string(name) + ".weights.h5")).string();
    model.save_weights(weights);
    Model rebuilt = Model::from_config(json::parse(model.to_json()));
    rebuilt.load_weights(weights);
    CHECK(worst_difference(rebuilt, f) < 1e-5);
  }
  CHECK(saved == 18);
  std::filesystem::remove_all(dir);
}

TEST_CASE("the config-key audit covers the keys Keras writes for ConvLSTM and LocallyConnected", "[convlstm]") {
  // A key is covered when the class's table honours it or a rule accepts only some of its values.
  auto covered = [](const std::string& cls, const std::string& key) {
    const std::set<std::string>* table = engine::config_keys_honoured(cls);
    if (table && table->count(key)) return true;
    const auto rules = engine::config_key_rules(cls);
    return std::any_of(rules.begin(), rules.end(), [&](const engine::KeyRule& r) { return r.key == key; });
  };
  int audited = 0;
  for (const auto& [version, classes] : fixtures().at("config_keys").items())
    for (const auto& [cls, keys] : classes.items()) {
      REQUIRE(engine::config_keys_honoured(cls) != nullptr);
      for (const std::string key : keys.get<std::vector<std::string>>()) {
        if (key == "name" || key == "trainable" || key == "dtype") continue;
        INFO(version << " " << cls << " " << key);
        CHECK(covered(cls, key));
        ++audited;
      }
    }
  CHECK(audited > 100);
}

TEST_CASE("Keras 1 files and configs are refused, saying how to convert them", "[convlstm][keras_files]") {
  CHECK_THROWS_AS(models::load_model(fixture_path("keras1_sequential.h5")), FileFormatError);
  CHECK_THROWS_WITH(models::load_model(fixture_path("keras1_sequential.h5")),
                    Contains("saved by Keras 1") && Contains("keras_version 1.2.2") && Contains("Keras 2"));
  // Its weights alone are refused as well.
  Sequential m({layers::Input({8, 8, 1}), layers::Conv2D(4, 3), layers::Flatten(), layers::Dense(2)});
  CHECK_THROWS_WITH(m.load_weights(fixture_path("keras1_sequential.h5")), Contains("saved by Keras 1"));

  // A Keras 1 config without its version: the classes and keys give it away.
  const json keras1 = {
      {"class_name", "Sequential"},
      {"config", json::array({{{"class_name", "Dense"},
                               {"config", {{"name", "dense_1"}, {"output_dim", 2}, {"batch_input_shape", {nullptr, 3}}}}},
                              {{"class_name", "Merge"}, {"config", {{"name", "merge_1"}, {"mode", "concat"}}}}})}};
  CHECK_THROWS_WITH(Model::from_config(keras1),
                    Contains("saved by Keras 1") && Contains("Dense 'dense_1'") && Contains("'output_dim'") &&
                        Contains("'units'"));
  json versioned = keras1;
  versioned["keras_version"] = "1.2.2";
  CHECK_THROWS_WITH(models::model_from_json(versioned.dump()), Contains("keras_version 1.2.2"));
}

TEST_CASE("a config with several unknown layer classes names them all in one error", "[convlstm]") {
  auto entry = [](const char* cls, const char* name) {
    return json{{"class_name", cls}, {"config", {{"name", name}}}};
  };
  json inner = entry("Bidirectional", "bi");
  inner["config"]["layer"] = entry("MyRecurrent", "my_rnn");
  const json config = {
      {"class_name", "Sequential"},
      {"config",
       {{"name", "s"},
        {"layers", json::array({{{"class_name", "InputLayer"}, {"config", {{"batch_shape", {nullptr, 4, 3}}, {"name", "in"}}}},
                                entry("FancyDense", "fancy"), inner, entry("Dense", "ok"), entry("Sparkle", "sparkle")})}}}};
  try {
    Model::from_config(config);
    FAIL("no error");
  } catch (const ValueError& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Contains("3 layers") && Contains("FancyDense 'fancy'") && Contains("MyRecurrent 'my_rnn'") &&
                         Contains("Sparkle 'sparkle'"));
  }
  // A single unknown class keeps make_layer's message.
  const json one = {{"class_name", "Sequential"},
                    {"config", {{"name", "s"}, {"layers", json::array({entry("FancyDense", "fancy")})}}}};
  CHECK_THROWS_WITH(Model::from_config(one), Contains("unknown layer class 'FancyDense'"));
}
