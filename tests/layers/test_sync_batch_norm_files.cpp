// SPDX-License-Identifier: Apache-2.0
// Keras 3's BatchNormalization(synchronized=True) (issue 21): Keras-made files
// (tests/fixtures/sync_bn, written by make_sync_bn_fixtures.py with keras 3.15.1) load, keep the
// key, and outside a distribution give Keras's outputs in inference and in training (the batch's
// own statistics). The synchronised statistics under 2 ranks are checked by lamina_mpi_tests.
#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include <lamina/lamina.hpp>
#include <nlohmann/json.hpp>

using namespace lamina;
using json = nlohmann::json;

namespace {

Tensor tensor_of(const json& c, const char* values, const char* shape) {
  return Tensor::from_vector<double>(c[values].get<std::vector<double>>(), Shape(c[shape].get<std::vector<std::int64_t>>()))
      .astype(float32);
}

double worst_difference(const Tensor& got, const std::vector<double>& want) {
  REQUIRE(got.numel() == static_cast<std::int64_t>(want.size()));
  double worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, std::abs(got.at(static_cast<std::int64_t>(i)) - want[i]) / std::max(1.0, std::abs(want[i])));
  return worst;
}

}  // namespace

TEST_CASE("Keras files with BatchNormalization synchronized=true load and match Keras outside a distribution", "[sync_bn]") {
  std::ifstream in(LAMINA_TEST_FIXTURES "/sync_bn/sync_bn.json");
  const json all = json::parse(in);
  REQUIRE(all.size() == 2);
  for (const auto& [name, c] : all.items()) {
    INFO(name);
    Model m = models::load_model(LAMINA_TEST_FIXTURES "/sync_bn/" + c["file"].get<std::string>());
    bool found = false;
    for (const auto& layer : m.layers())
      if (layer->class_name() == "BatchNormalization") {
        found = true;
        CHECK(layer->get_config().at("synchronized") == true);
      }
    CHECK(found);
    const Tensor x = tensor_of(c, "x", "x_shape");
    CHECK(worst_difference(m(x, false), c["y"].get<std::vector<double>>()) < 1e-5);
    CHECK(worst_difference(m(x, true), c["y_train"].get<std::vector<double>>()) < 1e-5);
  }
}

TEST_CASE("BatchNormalization synchronized round-trips through its config", "[sync_bn]") {
  layers::BatchNormalization bn({.synchronized = true});
  CHECK(bn->get_config().at("synchronized") == true);
  const auto copy = layer_from_config("BatchNormalization", bn->get_config());
  CHECK(copy->get_config().at("synchronized") == true);
  CHECK(layers::BatchNormalization()->get_config().at("synchronized") == false);
}
