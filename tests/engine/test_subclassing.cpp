// SPDX-License-Identifier: Apache-2.0
// Model subclassing (src/engine/subclassed.cpp): a user class derived from Model with its own
// layers and call(), built on its first call, trained with fit, saved with save_weights in Keras
// 3's layout (checked against a file real Keras wrote), and saved to .keras only when registered.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/normalization.hpp>
#include <lamina/model.hpp>
#include <lamina/models.hpp>
#include <lamina/ops.hpp>
#include <lamina/optimizers.hpp>

#include "engine/training.hpp"
#include "io/h5_test_files.hpp"
#include "io/keras_archive.hpp"

using namespace lamina;
using Catch::Matchers::Contains;

namespace {

// Dense(8, relu) then Dense(3): the smallest subclassed model.
struct TwoLayers : Model {
  layers::Dense hidden = track("hidden", layers::Dense(8, {.activation = "relu"}));
  layers::Dense out = track("out", layers::Dense(3));
  TwoLayers() : Model(SubclassOptions{}) {}
  Tensor call(const Tensor& x, bool training) override { return out(hidden(x, training), training); }
};

// The model of tests/fixtures/make_subclassed_fixtures.py, attribute for attribute.
struct SubclassedMLP : Model {
  std::int64_t units;
  layers::Dense dense_in;
  layers::BatchNormalization norm;
  layers::Dense out;
  explicit SubclassedMLP(std::int64_t units_ = 6)
      : Model(SubclassOptions{}), units(units_),
        dense_in(track("dense_in", layers::Dense(units, {.activation = "relu"}))),
        norm(track("norm", layers::BatchNormalization())),
        out(track("out", layers::Dense(3))) {}
  Tensor call(const Tensor& x, bool training) override { return out(norm(dense_in(x, training), training), training); }
  nlohmann::json get_config() const override {
    nlohmann::json config = Model::get_config();
    config["units"] = units;
    return config;
  }
  static std::shared_ptr<SubclassedMLP> from_config(const nlohmann::json& config) {
    return std::make_shared<SubclassedMLP>(config.at("units").get<std::int64_t>());
  }
};

Tensor sin_data(std::int64_t rows, std::int64_t cols, double phase = 0.3) {
  std::vector<float> v;
  for (std::int64_t i = 0; i < rows * cols; ++i) v.push_back(static_cast<float>(std::sin(1.7 * static_cast<double>(i) + phase)));
  return Tensor::from_vector(v, {rows, cols});
}

std::string fixture(const std::string& name) { return std::string(LAMINA_TEST_FIXTURES "/keras_subclassed/") + name; }

nlohmann::json fixture_json() {
  std::ifstream in(fixture("subclassed_mlp.json"));
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

Tensor tensor_of(const nlohmann::json& rows) {
  std::vector<float> v;
  for (const auto& r : rows)
    for (const auto& e : r) v.push_back(e.get<float>());
  return Tensor::from_vector(v, {static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(rows[0].size())});
}

void check_close(const Tensor& a, const Tensor& b, double tol) {
  REQUIRE(a.shape() == b.shape());
  const auto x = a.to_vector<float>(), y = b.to_vector<float>();
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(x[i] == Approx(y[i]).margin(tol));
}

}  // namespace

TEST_CASE("A subclassed model builds on its first call, trains with fit, evaluates, predicts and counts its parameters",
          "[subclassing]") {
  set_seed(7);
  TwoLayers model;
  CHECK_FALSE(model.impl().built());
  CHECK(model.layers().size() == 2);
  const Tensor x = sin_data(64, 5);
  const Tensor y = matmul(x, sin_data(5, 3, 1.1)) * 0.5;  // a linear target the model can fit
  CHECK(model.predict(x).shape() == Shape{64, 3});
  CHECK(model.impl().built());
  CHECK(model.count_params() == 5 * 8 + 8 + 8 * 3 + 3);
  CHECK(model.input_shape() == Shape{-1, 5});
  CHECK(model.name().rfind("two_layers", 0) == 0);  // Keras: the class name in snake_case

  model.compile({.optimizer = optimizers::Adam({.learning_rate = 0.01}), .loss = "mse", .metrics = {"mae"}});
  History h = model.fit(x, y, {.batch_size = 16, .epochs = 20, .verbose = 0});
  CHECK(h.history.at("loss").back() < 0.5 * h.history.at("loss").front());
  const auto scores = model.evaluate(x, y, {.verbose = 0});
  CHECK(scores.at("loss") == Approx(h.history.at("loss").back()).epsilon(0.5));
  // The weights are the tracked layers', in creation order, and the optimizer's slots follow
  // Keras's variable paths for a subclassed model: "<model>/<layer>/<weight>".
  const std::vector<Tensor> w = model.trainable_weights();
  REQUIRE(w.size() == 4);
  CHECK(w[0].shares_storage(model.hidden->trainable_weights()[0]));
  CHECK(w[2].shares_storage(model.out->trainable_weights()[0]));
  const auto paths = engine::variable_paths(model.impl(), w);
  CHECK(paths[0] == model.name() + "/" + model.hidden->name() + "/kernel");
  CHECK(paths[3] == model.name() + "/" + model.out->name() + "/bias");
  CHECK_THAT(model.summary_string(), Contains(model.hidden->name() + " (Dense)") && Contains("(None, 3)"));
}

TEST_CASE("save_weights and load_weights round-trip a subclassed model, and Keras's own weights file loads into it",
          "[subclassing]") {
  const nlohmann::json ref = fixture_json();
  const Tensor x = tensor_of(ref.at("x"));

  // Keras 3's file: dense_in/vars (an attribute before "layers"), then layers/batch_normalization
  // and layers/dense_1 (the others, keyed by class). Same predictions as Keras within float32.
  SubclassedMLP from_keras;
  from_keras(x);
  from_keras.load_weights(fixture("subclassed_mlp.weights.h5"));
  check_close(from_keras.predict(x), tensor_of(ref.at("y")), 1e-5);

  // Our own file, read back into a fresh model.
  lamina::testing::ScratchDir dir("subclassed_weights");
  const std::string path = (dir.path() / "mlp.weights.h5").string();
  from_keras.save_weights(path);
  SubclassedMLP again;
  again(x);
  again.load_weights(path);
  check_close(again.predict(x), from_keras.predict(x), 0.0);

  // A model whose layers differ from the file's is refused, naming the layer.
  TwoLayers other;
  other(x);
  CHECK_THROWS_AS(other.load_weights(path), FileFormatError);
}

TEST_CASE("save to .keras refuses an unregistered subclassed model by class name, and .h5 refuses any", "[subclassing]") {
  TwoLayers model;
  model(sin_data(2, 5));
  lamina::testing::ScratchDir dir("subclassed_refused");
  CHECK_THROWS_WITH(model.save((dir.path() / "m.keras").string()),
                    Contains("TwoLayers") && Contains("not registered") && Contains("register_model"));
  CHECK_THROWS_WITH(model.save((dir.path() / "m.h5").string()), Contains("subclassed"));
  CHECK(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("A registered subclassed model loads Keras's .keras file and round-trips through its own", "[subclassing]") {
  register_model<SubclassedMLP>("SubclassedMLP", "demo");
  const nlohmann::json ref = fixture_json();
  const Tensor x = tensor_of(ref.at("x"));

  Model loaded = models::load_model(fixture("subclassed_mlp.keras"), {.compile = false});
  check_close(loaded.predict(x), tensor_of(ref.at("y")), 1e-5);
  CHECK(loaded.name() == "subclassed_mlp");
  CHECK(loaded.count_params() == 5 * 6 + 6 + 4 * 6 + 6 * 3 + 3);
  const nlohmann::json written = nlohmann::json::parse(loaded.to_json());
  CHECK(written.at("class_name") == "SubclassedMLP");
  CHECK(written.at("registered_name") == "demo>SubclassedMLP");
  CHECK(written.at("config").at("units") == 6);
  // Keras built it on a batch of 4 and wrote that shape; it comes back as written.
  const nlohmann::json keras = io::read_keras_archive_json(fixture("subclassed_mlp.keras"), "config.json");
  CHECK(written.at("build_config") == keras.at("build_config"));
  CHECK(written.at("config").at("name") == keras.at("config").at("name"));

  lamina::testing::ScratchDir dir("subclassed_keras");
  const std::string path = (dir.path() / "mlp.keras").string();
  loaded.compile({.optimizer = "adam", .loss = "mse"});
  loaded.fit(x, tensor_of(ref.at("y")) * 2.0, {.batch_size = 2, .epochs = 1, .verbose = 0});
  loaded.save(path);
  Model again = models::load_model(path);
  check_close(again.predict(x), loaded.predict(x), 0.0);
  CHECK(again.optimizer()->iterations() == 2);

  // The unregistered Keras subclass of the real files stays refused by name.
  CHECK_THROWS_WITH(models::load_model(lamina::testing::keras_file("k3_subclassed_custom.keras")),
                    Contains("NestedDenseModel"));
}

TEST_CASE("A copy of a subclassed model's handle runs its call while the object lives, and fails clearly after",
          "[subclassing]") {
  Model copy;
  const Tensor x = sin_data(3, 5);
  {
    TwoLayers model;
    copy = model;
    CHECK(copy.predict(x).shape() == Shape{3, 3});
    CHECK(copy(x).shape() == Shape{3, 3});
  }
  CHECK_THROWS_WITH(copy.predict(x), Contains("no longer exists"));
}
