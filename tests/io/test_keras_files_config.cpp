// SPDX-License-Identifier: Apache-2.0
// The model configs inside the real Keras files of tests/fixtures/keras_files/ (see its
// PROVENANCE.md): every one whose layers lamina has rebuilds with the architecture Keras saved
// (parameter counts are the sums of the weight arrays' sizes in each file, read with h5py), and
// the others fail naming the class and the file. The folder must be there: CI clones it next to
// the repository, and a missing folder fails these tests.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/noise.hpp>
#include <lamina/layers/normalization.hpp>
#include <lamina/layers/recurrent.hpp>
#include <lamina/model.hpp>
#include <lamina/models.hpp>

#include "io/h5_test_files.hpp"
#include "io/hdf5.hpp"
#include "io/json_config.hpp"
#include "io/keras_archive.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

// The real file `name` of tests/fixtures/keras_files; without it the test fails.
std::string real_file(const std::string& name) {
  const std::string path = lamina::testing::keras_file(name);
  REQUIRE(std::filesystem::is_regular_file(path));
  return path;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The model from a legacy .h5's model_config attribute, read as load_model reads it.
Model model_of_h5(const std::string& name) {
  const std::string path = real_file(name);
  const auto file = io::h5::File::open(path);
  const auto root = file.root();
  return io::model_from_file_config(json::parse(root.read_string_attr("model_config")), path,
                                    root.read_string_attr("keras_version"));
}

std::vector<std::string> class_names(const Model& m) {
  std::vector<std::string> out;
  for (const auto& l : m.layers()) out.push_back(l->class_name());
  return out;
}

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("The Keras 2 to_json files rebuild: a two-input Add model and the KotlinDL toy ResNet", "[config]") {
  Model add = models::model_from_json(slurp(real_file("k2_dl4j_two_input_add.config.json")));
  CHECK(add.name() == "model_2");
  CHECK(add.input_names() == Names{"input_3", "input_4"});
  CHECK(add.count_params() == (16 * 8 + 8) + (32 * 8 + 8) + (8 * 4 + 4));
  CHECK(models::model_from_json(add.to_json()).to_json() == add.to_json());

  Model resnet = models::model_from_json(slurp(real_file("k2_kotlindl_toyresnet.config.json")));
  CHECK(resnet.count_params() == 222666);  // the sizes in k2_kotlindl_toyresnet.weights.h5
  CHECK(resnet.input_shape() == Shape{-1, 28, 28, 1});
  CHECK(resnet.output_shape() == Shape{-1, 10});
  const Names classes = class_names(resnet);
  CHECK(std::count(classes.begin(), classes.end(), "Add") == 2);
  CHECK(std::count(classes.begin(), classes.end(), "Conv2D") == 7);
  CHECK(models::model_from_json(resnet.to_json()).to_json() == resnet.to_json());
}

TEST_CASE("The model_config of every legacy .h5 file rebuilds the architecture Keras saved", "[config]") {
  struct Case {
    const char* file;
    std::int64_t params;
    Names classes;
  };
  const std::vector<Case> cases = {
      {"k2_dl4j_cnn_batch_norm.h5", 79, {"Conv2D", "BatchNormalization", "Activation", "Conv2D", "Flatten", "Dense"}},
      {"k2_dl4j_mlp_softmax.model.h5", 15, {"Dense", "Activation"}},
      {"k2_dl4j_lstm.model.h5", 10451, {"LSTM", "Dense"}},
      {"k2_keras2c_dense_lstm.h5", 4990, {"InputLayer", "Dense", "Dense", "LSTM", "Dense"}},
      {"k2_airpassengers_gru.h5", 27761, {"GRU", "Dense", "Dense"}},
      {"k2_tf213_functional_skipconcat.h5", 865,
       {"InputLayer", "Dense", "Dense", "Concatenate", "Dense", "Concatenate", "Dense"}},
      {"k3_churn_mlp.h5", 2945, {"Dense", "Dense", "Dense"}},
      {"k3_functional_multi_output.h5", 30091,
       {"InputLayer", "Dense", "Dropout", "Dense", "Dropout", "Dense", "Dense", "Dense"}},
  };
  for (const Case& c : cases) {
    INFO(c.file);
    Model m = model_of_h5(c.file);
    CHECK(class_names(m) == c.classes);
    CHECK(m.count_params() == c.params);
    // Written back in Keras 3's dialect, the architecture reads the same.
    CHECK(models::model_from_json(m.to_json()).to_json() == m.to_json());
  }
  // Keras 2.1.3's list-style Sequential keeps its fixed batch of 25 on the first layer.
  CHECK(model_of_h5("k2_dl4j_lstm.model.h5").inputs()[0].shape == Shape{25, 1, 1});
  // Three softmax heads keyed by the output layers' names.
  CHECK(model_of_h5("k3_functional_multi_output.h5").output_names().size() == 3);
}

TEST_CASE("The config.json of every real .keras file rebuilds and the subclassed model is refused by name",
          "[config]") {
  struct Case {
    const char* file;
    std::int64_t params;
    Shape input;
  };
  const std::vector<Case> cases = {
      {"k3_churn_mlp.keras", 2945, {-1, 12}},       {"k3_functional_bn.keras", 10369, {-1, 11}},
      {"k3_fashion_cnn.keras", 121930, {-1, 28, 28, 1}}, {"k3_stacked_gru.keras", 22689, {-1, 480, 3}},
      {"k3_stacked_lstm.keras", 35127, {-1, 30, 17}},
  };
  for (const Case& c : cases) {
    INFO(c.file);
    // config.json as the archive holds it (the archive tests read the zip itself).
    const std::string path = real_file(c.file);
    Model m = io::load_keras_archive_config(path);
    CHECK(m.count_params() == c.params);
    CHECK(m.inputs()[0].shape == c.input);
    CHECK(models::model_from_json(m.to_json()).to_json() == m.to_json());
  }
  const std::string custom = real_file("k3_subclassed_custom.keras");
  CHECK_THROWS_AS(io::load_keras_archive_config(custom), FileFormatError);
  CHECK_THROWS_WITH(io::load_keras_archive_config(custom),
                    Contains(custom) && Contains("NestedDenseModel") && Contains("subclassed"));
}

TEST_CASE("A file's config with a layer class lamina lacks fails naming the class and the file",
          "[config]") {
  // tf.keras 2.11's Attention between Dense layers (k2_dl4j_functional_attention.h5) loads; the
  // same config with the Attention renamed to a class nobody registered is refused by name.
  const std::string path = real_file("k2_dl4j_functional_attention.h5");
  CHECK(model_of_h5("k2_dl4j_functional_attention.h5").count_params() == 2849);
  const auto file = io::h5::File::open(path);
  json config = json::parse(file.root().read_string_attr("model_config"));
  for (auto& layer : config["config"]["layers"])
    if (layer["class_name"] == "Attention") layer["class_name"] = "LuongAttentionV9";
  CHECK_THROWS_AS(io::model_from_file_config(config, path, "2.11.0"), FileFormatError);
  CHECK_THROWS_WITH(io::model_from_file_config(config, path, "2.11.0"),
                    Contains(path) && Contains("'LuongAttentionV9'"));
}

TEST_CASE("Keras 3's to_json output for a real model matches the config.json Keras wrote - key by key", "[config]") {
  // The architecture of k3_fashion_cnn.keras rebuilt by lamina and serialized again: every key
  // and value Keras wrote (bar the object-sharing ids, which are Python object addresses) comes
  // back, and nothing else.
  const std::string path = real_file("k3_fashion_cnn.keras");
  Model m = io::load_keras_archive_config(path);
  json written = json::parse(m.to_json());
  json keras = io::read_keras_archive_json(path, "config.json");
  keras.erase("compile_config");
  // Keras's shared_object_id marks repeated DTypePolicy objects.
  std::function<void(json&)> strip = [&](json& j) {
    if (j.is_object()) {
      j.erase("shared_object_id");
      for (auto& [k, v] : j.items()) strip(v);
    } else if (j.is_array()) {
      for (auto& v : j) strip(v);
    }
  };
  strip(keras);
  const json diff = json::diff(keras, written);
  INFO(diff.dump(1));
  CHECK(diff.empty());
}

TEST_CASE("Inbound nodes with Keras 3's call kwargs are read and written back as Keras wrote them",
          "[config][files]") {
  // Keras 3 records what a plain call passed: Dropout "training": false, BatchNormalization
  // "mask": null, Dense nothing. Both files' graphs rebuild, and lamina's to_json writes every
  // layer's inbound nodes - tensors and kwargs - as Keras wrote them.
  const std::string keras_path = real_file("k3_functional_bn.keras");
  const std::string h5_path = real_file("k3_functional_multi_output.h5");
  const std::vector<std::pair<Model, json>> cases = {
      {io::load_keras_archive_config(keras_path), io::read_keras_archive_json(keras_path, "config.json")},
      {model_of_h5("k3_functional_multi_output.h5"),
       json::parse(io::h5::File::open(h5_path).root().read_string_attr("model_config"))}};
  for (const auto& [model, keras] : cases) {
    const json written = json::parse(model.to_json());
    const json& keras_layers = keras.at("config").at("layers");
    const json& our_layers = written.at("config").at("layers");
    REQUIRE(our_layers.size() == keras_layers.size());
    std::size_t with_kwargs = 0;
    for (std::size_t i = 0; i < keras_layers.size(); ++i) {
      INFO(keras_layers[i].at("name"));
      CHECK(our_layers[i].at("inbound_nodes") == keras_layers[i].at("inbound_nodes"));
      for (const json& node : keras_layers[i].at("inbound_nodes")) with_kwargs += !node.at("kwargs").empty();
    }
    CHECK(with_kwargs >= 2);  // the Dropouts, and BatchNormalization's mask
  }
}

TEST_CASE("Keras 3 writes a plain call's kwargs for the layers whose call takes training or a mask",
          "[config][files]") {
  // lamina's graph written as Keras 3's Layer.__call__ records it (keras/src/layers/layer.py,
  // steps 5-6): `training` where call()'s default for it is False, `mask` where call() takes one.
  auto x = layers::Input({5, 3});
  auto h = layers::LSTM(4, {.return_sequences = true})(x);
  h = layers::Dropout(0.2)(h);
  h = layers::GaussianNoise(0.1)(h);
  h = layers::BatchNormalization()(h);
  auto y = layers::Dense(2)(layers::Flatten()(h));
  Model m(x, y);
  const json written = json::parse(m.to_json());
  std::map<std::string, json> kwargs;
  for (const json& entry : written.at("config").at("layers"))
    if (!entry.at("inbound_nodes").empty()) kwargs[entry.at("class_name")] = entry["inbound_nodes"][0].at("kwargs");
  CHECK(kwargs.at("LSTM") == json::parse(R"({"training": false, "mask": null})"));
  CHECK(kwargs.at("Dropout") == json::parse(R"({"training": false})"));
  CHECK(kwargs.at("GaussianNoise") == json::parse(R"({"training": false})"));
  CHECK(kwargs.at("BatchNormalization") == json::parse(R"({"mask": null})"));
  CHECK(kwargs.at("Flatten") == json::object());
  CHECK(kwargs.at("Dense") == json::object());
  // And they read back: the rebuilt model writes the same config.
  CHECK(json::parse(models::model_from_json(m.to_json()).to_json()) == written);
}
