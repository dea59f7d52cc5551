// SPDX-License-Identifier: Apache-2.0
// Keras files with data_format="channels_first" (tests/fixtures/channels_first, written by
// make_channels_first_fixtures.py with keras 3.15 and tf_keras 2.21): every spatial layer
// reproduces Keras's outputs from .keras and .h5, the models save and load again unchanged, and a
// Keras 2 .h5 from the Theano backend gets its convolution kernels flipped as Keras 2 did.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <lamina/lamina.hpp>
#include <nlohmann/json.hpp>

#include "io/hdf5.hpp"

using namespace lamina;
using json = nlohmann::json;

namespace {

const json& fixtures() {
  static const json all = [] {
    std::ifstream in(LAMINA_TEST_FIXTURES "/channels_first.json");
    return json::parse(in);
  }();
  return all;
}

std::string fixture_file(const std::string& name) { return LAMINA_TEST_FIXTURES "/channels_first/" + name; }

Tensor tensor_of(const json& values, const json& shape) {
  return Tensor::from_vector<double>(values.get<std::vector<double>>(), Shape(shape.get<std::vector<std::int64_t>>()))
      .astype(float32);
}

// The largest |lamina − Keras| / max(1, |Keras|) over one output.
double worst_difference(const Tensor& got, const json& want) {
  const auto w = want.get<std::vector<double>>();
  REQUIRE(got.numel() == static_cast<std::int64_t>(w.size()));
  double worst = 0;
  for (std::size_t i = 0; i < w.size(); ++i)
    worst = std::max(worst, std::abs(got.at(static_cast<std::int64_t>(i)) - w[i]) / std::max(1.0, std::abs(w[i])));
  return worst;
}

// Runs `m` on the fixture's input and checks every output against Keras's; returns the worst
// difference.
double check_outputs(const Model& m, const json& c) {
  const std::vector<Tensor> ys = m(std::vector<Tensor>{tensor_of(c["x"], c["x_shape"])});
  REQUIRE(ys.size() == c["outputs"].size());
  double worst = 0;
  for (std::size_t i = 0; i < ys.size(); ++i) {
    const json& o = c["outputs"][i];
    INFO("output of " << o["layer"].get<std::string>());
    REQUIRE(ys[i].shape() == Shape(o["y_shape"].get<std::vector<std::int64_t>>()));
    const double d = worst_difference(ys[i], o["y"]);
    CHECK(d <= 1e-5);
    worst = std::max(worst, d);
  }
  return worst;
}

// The first weight of `layer` as the file holds it (model_weights/<layer>/...).
std::vector<float> stored_kernel(const std::string& path, const std::vector<std::string>& groups) {
  io::h5::File file = io::h5::File::open(path);
  io::h5::Group g = file.root().group("model_weights");
  for (const auto& name : groups) g = g.group(name);
  const auto names = g.read_chunked_list_attr("weight_names");
  return g.read_dataset(names.at(0), g.dataset_info(names.at(0)).shape, float32).to_vector<float>();
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("lamina_test_channels_first_" + name)).string();
}

}  // namespace

TEST_CASE("Keras channels_first models reproduce Keras's outputs for every spatial layer", "[channels_first][keras_files]") {
  std::set<std::string> classes;
  int files = 0;
  double worst = 0;
  for (const auto& [name, c] : fixtures().items()) {
    if (name == "theano_conv") continue;
    for (const json& file : c["files"]) {
      INFO(name << ": " << file.get<std::string>() << " (" << c["keras"].get<std::string>() << ")");
      Model m = models::load_model(fixture_file(file.get<std::string>()));
      worst = std::max(worst, check_outputs(m, c));
      ++files;
      for (const auto& layer : m.layers()) {
        const json config = layer->get_config();
        // tf.keras 2 does not save SpatialDropout2D's data_format: Keras 2 reloads it
        // channels_last too (the identity at inference either way).
        const bool unsaved = c["keras"].get<std::string>().rfind("tf_keras", 0) == 0 &&
                             layer->class_name() == "SpatialDropout2D";
        if (config.contains("data_format") && !unsaved) {
          CHECK(config["data_format"] == "channels_first");
          classes.insert(layer->class_name());
        }
      }
    }
  }
  CHECK(files == 6);
  WARN("channels_first: " << files << " Keras files, worst difference " << worst);
  const std::set<std::string> every = {
      "Conv1D", "Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D", "MaxPooling1D", "MaxPooling2D",
      "AveragePooling1D", "AveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
      "GlobalAveragePooling2D", "ZeroPadding1D", "ZeroPadding2D", "Cropping2D", "UpSampling2D", "SpatialDropout2D",
      "Flatten"};
  CHECK(classes == every);
}

TEST_CASE("channels_first models save and load again through .keras, .h5 and JSON", "[channels_first][keras_files]") {
  for (const std::string name : {"k3_image", "k3_sequence"}) {
    INFO(name);
    const json& c = fixtures()[name];
    Model m = models::load_model(fixture_file(name + ".keras"));
    for (const std::string ext : {".keras", ".h5"}) {
      const std::string path = temp_path(name + ext);
      m.save(path);
      Model again = models::load_model(path);
      CHECK(check_outputs(again, c) <= 1e-5);
      std::filesystem::remove(path);
    }
    Model rebuilt = models::model_from_json(m.to_json());
    rebuilt.set_weights(m.get_weights());
    CHECK(check_outputs(rebuilt, c) <= 1e-5);
    CHECK(rebuilt.to_json() == m.to_json());
  }
}

TEST_CASE("a Keras 2 .h5 from the Theano backend has its convolution kernels flipped on load", "[channels_first][keras_files]") {
  // The reference was computed with numpy from the file's kernels with their spatial axes
  // reversed; the script checked that without the flip the outputs differ by more than 1e-2.
  const json& c = fixtures()["theano_conv"];
  Model m = models::load_model(fixture_file("theano_conv.h5"));
  CHECK(check_outputs(m, c) <= 1e-5);
  // The Conv2D kernel (3, 2, 2, 3) holds the file's with its two spatial axes reversed; the
  // nested Conv1D's (3, 3, 2) its one; the Dense kernel is the file's.
  const std::string file = fixture_file("theano_conv.h5");
  const auto conv2d = m.get_layer("conv2d")->get_weights()[0].to_vector<float>();
  const auto conv2d_file = stored_kernel(file, {"conv2d"});
  REQUIRE(conv2d.size() == 3 * 2 * 2 * 3);
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 2; ++b)
      for (int io = 0; io < 6; ++io) CHECK(conv2d[(a * 2 + b) * 6 + io] == conv2d_file[((2 - a) * 2 + (1 - b)) * 6 + io]);
  const auto conv1d = m.get_layer("inner")->get_weights()[0].to_vector<float>();
  const auto conv1d_file = stored_kernel(file, {"inner"});
  REQUIRE(conv1d.size() == 3 * 3 * 2);
  for (int a = 0; a < 3; ++a)
    for (int io = 0; io < 6; ++io) CHECK(conv1d[a * 6 + io] == conv1d_file[(2 - a) * 6 + io]);
  CHECK(m.get_layer("dense")->get_weights()[0].to_vector<float>() == stored_kernel(file, {"dense"}));
  // The weights-only file reads the same, by position and by name.
  Model fresh = models::model_from_json(m.to_json());
  fresh.load_weights(fixture_file("theano_conv_weights.h5"));
  CHECK(check_outputs(fresh, c) <= 1e-5);
  Model by_name = models::model_from_json(m.to_json());
  by_name.load_weights(fixture_file("theano_conv_weights.h5"), {.by_name = true});
  CHECK(check_outputs(by_name, c) <= 1e-5);
  // Saved again by lamina (backend "tensorflow"), nothing is flipped twice.
  const std::string path = temp_path("theano_resaved.h5");
  m.save(path);
  CHECK(check_outputs(models::load_model(path), c) <= 1e-5);
  std::filesystem::remove(path);
}
