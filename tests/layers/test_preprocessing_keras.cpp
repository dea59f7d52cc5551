// SPDX-License-Identifier: Apache-2.0
// The preprocessing layers against real Keras (issue 18): models made by keras 3.15 (.keras, .h5)
// and tf_keras 2.21 (.h5) in tests/fixtures/keras_preprocessing (make_preprocessing_fixtures.py)
// load and reproduce Keras's inference outputs; lamina's own save of each reloads to the same
// outputs; the hash and projective-transform kernels reproduce TensorFlow's values.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <lamina/lamina.hpp>
#include <nlohmann/json.hpp>

#include "engine/config.hpp"
#include "io/h5_test_files.hpp"

using namespace lamina;
using json = nlohmann::json;

namespace {

const json& fixtures() {
  static const json all = [] {
    std::ifstream in(LAMINA_TEST_FIXTURES "/keras_preprocessing.json");
    return json::parse(in);
  }();
  return all;
}

Tensor tensor_of(const json& values, const json& shape, const std::string& dtype) {
  const Shape s(shape.get<std::vector<std::int64_t>>());
  if (dtype == "int64") return Tensor::from_vector(values.get<std::vector<std::int64_t>>(), s);
  return Tensor::from_vector(values.get<std::vector<double>>(), s).astype(float32);
}

// The largest |lamina − Keras| / max(1, |Keras|).
double worst_difference(const Tensor& got, const std::vector<double>& want) {
  REQUIRE(got.numel() == static_cast<std::int64_t>(want.size()));
  double worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, std::abs(got.at(static_cast<std::int64_t>(i)) - want[i]) / std::max(1.0, std::abs(want[i])));
  return worst;
}

// Runs every recorded case of fixture `name` through `m`; returns the worst difference.
double check_cases(Model& m, const std::string& name, const json& c) {
  double worst = 0;
  for (const json& k : c["cases"]) {
    const Tensor x = tensor_of(k["x"], k["x_shape"], k["x_dtype"].get<std::string>());
    std::shared_ptr<Layer> layer = m;
    const Tensor y = (*layer)(x);
    CHECK(y.shape() == Shape(k["y_shape"].get<std::vector<std::int64_t>>()));
    const std::string dt = k["y_dtype"].get<std::string>();
    // Keras 3's IntegerLookup encodes in int64; lamina's encodings are float32 (what its
    // compute_output_spec and tf.keras 2 say). Integer outputs must be integers.
    const bool encoded = name.find("hot") != std::string::npos || name.find("count") != std::string::npos;
    if (dt == "int64" || dt == "int32") CHECK(y.dtype() == (encoded ? float32 : dtype_from_name(dt)));
    worst = std::max(worst, worst_difference(y, k["y"].get<std::vector<double>>()));
  }
  return worst;
}

}  // namespace

TEST_CASE("Keras-made preprocessing models reproduce Keras's outputs", "[preprocessing][keras_fidelity]") {
  int files = 0;
  double worst = 0;
  for (const auto& [name, c] : fixtures().items()) {
    if (name[0] == '_') continue;
    INFO(name << " (" << c["keras"].get<std::string>() << ")");
    Model m = models::load_model(LAMINA_TEST_FIXTURES "/keras_preprocessing/" + c["file"].get<std::string>());
    const double w = check_cases(m, name, c);
    CHECK(w < 1e-5);
    worst = std::max(worst, w);
    ++files;
  }
  WARN("preprocessing fixtures from Keras: " << files << ", worst relative difference " << worst);
  CHECK(files >= 45);
}

TEST_CASE("lamina's saves of the Keras-made preprocessing models reload to the same outputs",
          "[preprocessing][keras_fidelity]") {
  lamina::testing::ScratchDir dir("preprocessing_roundtrip");
  int saved = 0;
  for (const auto& [name, c] : fixtures().items()) {
    if (name[0] == '_') continue;
    INFO(name);
    Model m = models::load_model(LAMINA_TEST_FIXTURES "/keras_preprocessing/" + c["file"].get<std::string>());
    for (const char* ext : {".keras", ".h5"}) {
      INFO(ext);
      const std::string path = dir.file(name + ext);
      m.save(path);
      // LAMINA_PREPROCESSING_EXPORT=DIR keeps the files for the Keras side of the check
      // (tests/fixtures/check_preprocessing_in_keras.py DIR loads them in Keras and compares).
      if (const char* out = std::getenv("LAMINA_PREPROCESSING_EXPORT"))
        std::filesystem::copy_file(path, std::filesystem::path(out) / (name + ext),
                                   std::filesystem::copy_options::overwrite_existing);
      Model again = models::load_model(path);
      CHECK(check_cases(again, name, c) < 1e-5);
      CHECK(json::parse(again.to_json()) == json::parse(m.to_json()));
      ++saved;
    }
  }
  CHECK(saved >= 90);
}

TEST_CASE("An adapted Normalization stores mean, variance and count as Keras does", "[preprocessing][keras_fidelity]") {
  Model m = models::load_model(LAMINA_TEST_FIXTURES "/keras_preprocessing/k3_normalization_adapted.keras");
  auto norm = std::dynamic_pointer_cast<layers::NormalizationLayer>(m.get_layer(0));
  REQUIRE(norm);
  const auto& w = norm->own_weights();
  REQUIRE(w.size() == 3);
  CHECK(w[0].name == "mean");
  CHECK(w[1].name == "variance");
  CHECK(w[2].name == "count");
  CHECK(w[0].value.shape() == Shape{3});
  CHECK(w[2].value.dtype() == int64);
  CHECK(w[2].value.shape() == Shape{});
  CHECK_FALSE(w[0].trainable);
  // Keras adapted it on N(3, 2²) data: the learnt statistics are near those.
  for (std::int64_t i = 0; i < 3; ++i) {
    CHECK(std::abs(w[0].value.at(i) - 3.0) < 1.0);
    CHECK(std::abs(w[1].value.at(i) - 4.0) < 2.5);
  }
}

TEST_CASE("hash_bucket reproduces TensorFlow's to_hash_bucket_fast and _strong of integers' text", "[preprocessing][ops]") {
  const json& h = fixtures()["_hashes"];
  std::vector<std::int64_t> values;
  for (const json& v : h["values"]) values.push_back(std::stoll(v.get<std::string>()));
  const Tensor x = Tensor::from_vector(values, {static_cast<std::int64_t>(values.size())});
  CHECK(hash_bucket(x, 1000003).to_vector<std::int64_t>() == h["fast_1000003"].get<std::vector<std::int64_t>>());
  CHECK(hash_bucket(x, 1000003, "siphash", std::array<std::uint64_t, 2>{7, 99}).to_vector<std::int64_t>() ==
        h["strong_1000003_7_99"].get<std::vector<std::int64_t>>());
  CHECK(hash_bucket(x.slice(0, 4), 3, "floormod").to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 1});
  CHECK_THROWS_AS(hash_bucket(x, 0), ValueError);
  CHECK_THROWS_AS(hash_bucket(x, 3, "siphash"), ValueError);
  CHECK_THROWS_AS(hash_bucket(x, 3, "md5"), ValueError);
}

TEST_CASE("affine_transform reproduces TensorFlow's ImageProjectiveTransformV3", "[preprocessing][ops]") {
  const json& a = fixtures()["_affine"];
  const Tensor x = tensor_of(a["x"], a["x_shape"], "float32");
  const Tensor t = Tensor::from_vector(a["transforms"].get<std::vector<double>>(), {2, 8}).astype(float32);
  int checked = 0;
  for (const char* fill : {"reflect", "wrap", "constant", "nearest"})
    for (const char* interp : {"bilinear", "nearest"}) {
      INFO(fill << " " << interp);
      const Tensor y = affine_transform(x, t, interp, fill, 0.5);
      CHECK(worst_difference(y, a[std::string(fill) + "/" + interp].get<std::vector<double>>()) < 1e-5);
      ++checked;
    }
  CHECK(checked == 8);
  CHECK_THROWS_AS(affine_transform(x, t, "bicubic"), ValueError);
  CHECK_THROWS_AS(affine_transform(x, t, "bilinear", "mirror"), ValueError);
  CHECK_THROWS_AS(affine_transform(x, t.slice(0, 1)), ShapeError);
}

TEST_CASE("The config-key audit covers every key Keras writes for the preprocessing layers", "[preprocessing][keras_fidelity]") {
  const std::set<std::string> base = {"name", "trainable", "dtype"};
  int audited = 0;
  for (const auto& [version, classes] : fixtures()["_config_keys"].items())
    for (const auto& [cls, keys] : classes.items()) {
      INFO(version << " " << cls);
      const std::set<std::string>* table = engine::config_keys_honoured(cls);
      REQUIRE(table != nullptr);
      const auto rules = engine::config_key_rules(cls);
      for (const json& k : keys) {
        const std::string key = k.get<std::string>();
        if (base.count(key)) continue;
        INFO(key);
        bool ruled = false;
        for (const auto& r : rules) ruled |= r.key == key;
        CHECK((table->count(key) || ruled));
        ++audited;
      }
    }
  CHECK(audited > 100);
}
