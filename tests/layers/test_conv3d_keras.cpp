// SPDX-License-Identifier: Apache-2.0
// The 3-D family and the extra 1-D convolutions against real Keras: models made by Keras 3 (.keras
// and .h5) and tf.keras 2 (.h5) with tests/fixtures/make_conv3d_keras_fixtures.py reproduce
// Keras's outputs within 1e-5, channels_first included, and survive a lamina save -> reload in
// both formats; every config key Keras writes for these classes is honoured or refused.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <lamina/lamina.hpp>
#include <nlohmann/json.hpp>

#include "support/config_key_audit.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

json fixture_file(const char* name) {
  std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/" + name);
  REQUIRE(in.good());
  return json::parse(in);
}

Tensor tensor_of(const json& values, const json& shape) {
  return Tensor::from_vector(values.get<std::vector<double>>(), Shape(shape.get<std::vector<std::int64_t>>()))
      .astype(float32);
}

// The largest |lamina − Keras| / max(1, |Keras|).
double worst_difference(const Tensor& got, const std::vector<double>& want) {
  REQUIRE(got.numel() == static_cast<std::int64_t>(want.size()));
  const std::vector<double> g = got.to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, std::abs(g[i] - want[i]) / std::max(1.0, std::abs(want[i])));
  return worst;
}

std::string refusal(const std::string& cls, json config, const std::vector<std::int64_t>& input_shape) {
  json batch = json::array({nullptr});
  for (std::int64_t d : input_shape) batch.push_back(d);
  config["name"] = "l";
  const json model = {
      {"class_name", "Sequential"},
      {"config",
       {{"name", "s"},
        {"layers", json::array({{{"class_name", "InputLayer"}, {"config", {{"batch_shape", batch}, {"name", "in"}}}},
                                {{"class_name", cls}, {"config", std::move(config)}}})}}}};
  try {
    Model::from_config(model);
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded)";
}

}  // namespace

TEST_CASE("Keras-made 3-D and 1-D convolution models match Keras and survive a lamina round trip",
          "[conv3d][keras_fidelity]") {
  const json all = fixture_file("conv3d_keras.json");
  REQUIRE(all.size() >= 20);
  const auto dir = std::filesystem::temp_directory_path();
  int files = 0;
  double worst = 0;
  for (const auto& [name, c] : all.items()) {
    const Tensor x = tensor_of(c["x"], c["x_shape"]);
    const Shape y_shape(c["y_shape"].get<std::vector<std::int64_t>>());
    for (const json& file : c["files"]) {
      INFO(file.get<std::string>() << " (Keras " << c["keras"].get<std::string>() << ")");
      Model m = models::load_model(std::string(LAMINA_TEST_FIXTURES) + "/conv3d_keras/" + file.get<std::string>());
      const Tensor y = m.predict(x);
      REQUIRE(y.shape() == y_shape);
      const double diff = worst_difference(y, c["y"].get<std::vector<double>>());
      CHECK(diff < 1e-5);
      worst = std::max(worst, diff);
      ++files;
      for (const char* ext : {".keras", ".h5"}) {
        const std::string path = (dir / ("lamina_conv3d_roundtrip_" + name + ext)).string();
        m.save(path);
        Model again = models::load_model(path);
        std::filesystem::remove(path);
        CHECK(json::parse(again.to_json()) == json::parse(m.to_json()));
        CHECK(worst_difference(again.predict(x), y.to_vector<double>()) == 0.0);
      }
    }
  }
  CHECK(files >= 30);
  INFO("worst relative difference " << worst);
  CHECK(worst < 1e-5);
}

TEST_CASE("the config-key audit covers every key real Keras writes for the 3-D and extra 1-D classes",
          "[conv3d][keras_fidelity]") {
  const json written = fixture_file("conv3d_config_keys.json");
  for (const auto& [version, classes] : written.items()) CHECK(classes.size() == 13);
  const auto counts = testing::audit_config_keys(written);
  CHECK(counts.ruled >= 2);  // SpatialDropout3D's noise_shape in both versions
  CHECK(counts.audited > 150);
}

TEST_CASE("values the 3-D and extra 1-D layers do not implement are refused naming layer, key and value",
          "[conv3d][keras_fidelity]") {
  const json conv = {{"filters", 2}, {"kernel_size", {2, 2, 2}}};
  auto with = [](json c, const char* key, json value) {
    c[key] = std::move(value);
    return c;
  };
  struct Case {
    std::string cls;
    json config;
    std::vector<std::int64_t> shape;
    std::vector<std::string> words;
  };
  const std::vector<Case> cases = {
      {"Conv3DTranspose", with(conv, "groups", 2), {3, 3, 3, 2}, {"Conv3DTranspose 'l'", "groups", "2"}},
      {"Conv1DTranspose", {{"filters", 2}, {"kernel_size", {2}}, {"groups", 2}}, {3, 2}, {"Conv1DTranspose 'l'", "groups"}},
      {"DepthwiseConv1D", {{"kernel_size", {2}}, {"groups", 3}}, {3, 3}, {"DepthwiseConv1D 'l'", "groups", "3"}},
      {"SpatialDropout3D", {{"rate", 0.5}, {"noise_shape", {1, 1, 1, 1, 2}}}, {3, 3, 3, 2}, {"SpatialDropout3D 'l'", "noise_shape"}},
      {"Conv3D", with(conv, "data_format", "channels_middle"), {3, 3, 3, 2}, {"Conv3D", "data_format", "channels_middle"}},
      {"MaxPooling3D", {{"data_format", "NCDHW"}}, {3, 3, 3, 2}, {"MaxPooling3D", "data_format", "NCDHW"}},
      {"Conv3D", with(conv, "lora_rank", 4), {3, 3, 3, 2}, {"Conv3D 'l'", "lora_rank", "4"}},
      {"UpSampling3D", {{"interpolation", "bilinear"}}, {3, 3, 3, 2}, {"UpSampling3D 'l'", "interpolation", "bilinear"}},
      {"SeparableConv1D", {{"filters", 2}, {"kernel_size", {2}}, {"pointwise_regularizer", {{"class_name", "MyReg"}, {"config", json::object()}}}},
       {3, 2}, {"SeparableConv1D", "MyReg"}},
  };
  for (const Case& c : cases) {
    const std::string what = refusal(c.cls, c.config, c.shape);
    INFO(c.cls << " " << c.config.dump() << " -> " << what);
    for (const std::string& word : c.words) CHECK_THAT(what, Contains(word));
  }
  // Keras's defaults load.
  CHECK(refusal("Conv3DTranspose", with(with(conv, "groups", 1), "data_format", "channels_first"), {2, 3, 3, 3}) ==
        "(loaded)");
  CHECK(refusal("SpatialDropout3D", {{"rate", 0.5}, {"noise_shape", nullptr}, {"seed", 3}}, {3, 3, 3, 2}) == "(loaded)");
}
