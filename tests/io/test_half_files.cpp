// SPDX-License-Identifier: Apache-2.0
// float16 and bfloat16 weights in .keras, .weights.h5 and legacy .h5 files, as Keras 3 stores them:
// a model saved by real Keras 3.15 (tests/fixtures/half/, made by
// tests/fixtures/make_half_keras_fixtures.py) loads with its policies and exact bits, and what
// lamina writes reads back in lamina and in h5py (tests/io/check_half_h5.py).
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/layers/core.hpp>
#include <lamina/model.hpp>
#include <lamina/models.hpp>

#include "io/h5_test_files.hpp"
#include "support/keras_export.hpp"
#include "support/op_testing.hpp"

using namespace lamina;

namespace {

const std::string kDir = LAMINA_TEST_FIXTURES "/half/";

const nlohmann::json& expected() {
  static const nlohmann::json j = [] {
    std::ifstream in(kDir + "half_model.json");
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
  }();
  return j;
}

// The 16-bit patterns (or float32 bits) of a tensor, as the fixture lists them.
std::vector<std::uint64_t> bits_of(const Tensor& t) {
  std::vector<std::uint64_t> out;
  const auto n = static_cast<std::size_t>(t.numel());
  if (t.dtype() == float16 || t.dtype() == bfloat16) {
    const auto* p = static_cast<const std::uint16_t*>(t.raw_data());
    out.assign(p, p + n);
  } else {
    const Tensor f = t.astype(float32);
    const auto* p = static_cast<const std::uint32_t*>(f.raw_data());
    out.assign(p, p + n);
  }
  return out;
}

// The model Keras saved, built in lamina; `policies` false builds every layer in float32.
Model half_model(bool policies) {
  reset_layer_names();
  const auto p = [&](const char* name) { return policies ? std::string(name) : std::string(); };
  return Sequential({layers::Input({3}), layers::Dense(4, {.name = "bf16", .dtype = p("bfloat16")}),
                     layers::Dense(3, {.name = "f16", .dtype = p("float16")}),
                     layers::Dense(2, {.name = "mixed", .dtype = p("mixed_bfloat16")}),
                     layers::Dense(2, {.name = "f32"})},
                    "half_model");
}

// Every layer's policy, variable dtypes and bits are Keras's.
void check_like_keras(const Model& model) {
  const auto& layers = expected()["layers"];
  REQUIRE(model.layers().size() == layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& layer = *model.layers()[i];
    INFO("layer " << layer.name());
    CHECK(layer.name() == layers[i]["name"]);
    CHECK(layer.dtype_policy().name() == layers[i]["policy"]);
    const auto weights = layer.weights();
    REQUIRE(weights.size() == layers[i]["weights"].size());
    for (std::size_t k = 0; k < weights.size(); ++k) {
      const auto& w = layers[i]["weights"][k];
      CHECK(dtype_name(weights[k].dtype()) == w["dtype"].get<std::string>());
      CHECK(bits_of(weights[k]) == w["bits"].get<std::vector<std::uint64_t>>());
    }
  }
}

int h5py_check(const std::string& path, const std::string& dataset, const std::string& kind,
               const std::vector<std::uint64_t>& bits, bool marked) {
  std::string cmd = "/usr/bin/python3 " LAMINA_SOURCE_DIR "/tests/io/check_half_h5.py '" + path + "' '" +
                    dataset + "' " + kind + (marked ? " --marked" : "");
  for (auto b : bits) cmd += " " + std::to_string(b);
  cmd += " > /dev/null";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("A Keras 3 .keras file with bfloat16, float16 and mixed_bfloat16 layers loads with "
          "Keras's policies, variable dtypes and exact bits", "[h5io][half]") {
  check_like_keras(models::load_model(kDir + "half_model.keras"));
}

TEST_CASE("Keras 3's legacy .h5 of the same model (opaque bfloat16 without a mark) loads alike",
          "[h5io][half]") {
  check_like_keras(models::load_model(kDir + "half_model.h5"));
}

TEST_CASE("Keras 3's .weights.h5 with 16-bit variables loads into the same model, and converts "
          "into float32 variables as Keras does", "[h5io][half]") {
  Model same = half_model(true);
  same.load_weights(kDir + "half_model.weights.h5");
  check_like_keras(same);
  Model wide = half_model(false);
  wide.load_weights(kDir + "half_model.weights.h5");
  const auto& layers = expected()["layers"];
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto weights = wide.layers()[i]->weights();
    for (std::size_t k = 0; k < weights.size(); ++k) {
      REQUIRE(weights[k].dtype() == float32);
      // Widening is exact: the float32 values are the 16-bit ones.
      const DType stored = dtype_from_name(layers[i]["weights"][k]["dtype"].get<std::string>());
      const auto want = layers[i]["weights"][k]["bits"].get<std::vector<std::uint64_t>>();
      std::vector<std::uint16_t> raw(want.begin(), want.end());
      const Tensor file_values = stored == float32 ? Tensor() : Tensor::from_data(raw.data(), weights[k].shape(), stored);
      if (file_values.defined()) CHECK(weights[k].to_vector<float>() == file_values.to_vector<float>());
    }
  }
}

TEST_CASE("lamina's 16-bit weights round-trip through .weights.h5, .keras and .h5, stored as "
          "Keras 3 and h5py store them", "[h5io][half][keras_export]") {
  lamina::testing::ScratchDir dir("half");
  Model model = half_model(true);
  model.load_weights(kDir + "half_model.weights.h5");
  lamina::testing::export_for_keras("half_model", model, lamina::testing::seq({4, 3}, 1.0, float32));
  const auto& layers = expected()["layers"];
  for (const char* file : {"m.weights.h5", "m.keras", "m.h5"}) {
    INFO(file);
    const std::string path = dir.file(file);
    if (std::string(file) == "m.weights.h5") {
      model.save_weights(path);
      Model back = half_model(true);
      back.load_weights(path);
      check_like_keras(back);
      // h5py reads float16 as '<f2' and bfloat16 as Keras 3's marked 2-byte opaque data.
      CHECK(h5py_check(path, "layers/dense/vars/0", "bfloat16", layers[0]["weights"][0]["bits"], true) == 0);
      CHECK(h5py_check(path, "layers/dense_1/vars/1", "float16", layers[1]["weights"][1]["bits"], false) == 0);
      CHECK(h5py_check(path, "layers/dense_1/vars/1", "float16", {1, 2, 3}, false) == 1);
    } else {
      model.save(path);
      check_like_keras(models::load_model(path));
    }
    if (std::string(file) == "m.h5") {
      CHECK(h5py_check(path, "model_weights/bf16/bf16/kernel:0", "bfloat16", layers[0]["weights"][0]["bits"], false) == 0);
      CHECK(h5py_check(path, "model_weights/f16/f16/bias:0", "float16", layers[1]["weights"][1]["bits"], false) == 0);
    }
  }
}
