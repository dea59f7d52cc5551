// SPDX-License-Identifier: Apache-2.0
// Real .h5 files written by Keras 2 and Keras 3 (tests/fixtures/keras_files, see PROVENANCE.md): they
// load, and predict what Keras recorded (within 1e-5) or what an independent numpy / PyTorch
// forward pass over the same weights gives (tests/fixtures/make_keras_h5_fixtures.py).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/models.hpp>
#include <lamina/npy.hpp>

#include "io/h5_test_files.hpp"
#include "io/hdf5.hpp"
#include "support/keras_export.hpp"

using namespace lamina;
using lamina::testing::keras_file;
using Catch::Matchers::Contains;

namespace {

// max |a - b| / max(1, |b|): the "within 1e-5, absolute or relative".
double max_difference(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = a.astype(float64).to_vector<double>(), y = b.astype(float64).to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, std::abs(x[i] - y[i]) / std::max(1.0, std::abs(y[i])));
  return worst;
}

Tensor dataset(const std::string& file, const std::string& name) {
  io::h5::File f = io::h5::File::open(keras_file(file));
  const auto info = f.root().dataset_info(name);
  return f.root().read_dataset(name, info.shape, float32);
}

Tensor from_json(const nlohmann::json& rows) {
  std::vector<float> v;
  std::int64_t n = 0, w = 0;
  for (const auto& r : rows) {
    ++n;
    w = static_cast<std::int64_t>(r.size());
    for (const auto& e : r) v.push_back(e.get<float>());
  }
  return Tensor::from_vector(v, {n, w});
}

nlohmann::json fixtures() {
  std::ifstream in(LAMINA_TEST_FIXTURES "/keras_h5.json");
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("The Keras files folder is present in the repository", "[h5io]") {
  // Without it the tests below would prove nothing.
  REQUIRE(std::filesystem::exists(keras_file("PROVENANCE.md")));
}

TEST_CASE("Keras 2.1 CNN with BatchNormalization loads and predicts what Keras recorded", "[h5io][keras_export]") {
  Model m = models::load_model(keras_file("k2_dl4j_cnn_batch_norm.h5"));
  CHECK(m.layers().size() == 6);
  CHECK(m.layers()[1]->class_name() == "BatchNormalization");
  // The recorded input is float64; Keras fed it to a float32 model.
  const Tensor x = io::load_npy(keras_file("k2_dl4j_cnn_batch_norm.input.npy")).astype(float32);
  const Tensor y = io::load_npy(keras_file("k2_dl4j_cnn_batch_norm.predictions.npy"));
  CHECK(max_difference(m.predict(x), y) < 1e-5);
  lamina::testing::export_for_keras("h5_k2_dl4j_cnn_batch_norm", m, x);
  // training_config: Adam + mse (Keras 2's `lr` key).
  REQUIRE(m.optimizer() != nullptr);
  CHECK(m.optimizer()->name() == "Adam");
  CHECK(m.optimizer()->learning_rate() == Approx(0.001));
}

TEST_CASE("Keras 2.3 MLP loads from the model file and from the weights-only file", "[h5io][keras_export]") {
  const Tensor x = dataset("k2_dl4j_mlp_softmax.io.h5", "inputs/dense_1_input");
  const Tensor y = dataset("k2_dl4j_mlp_softmax.io.h5", "predictions/activation_1");
  Model m = models::load_model(keras_file("k2_dl4j_mlp_softmax.model.h5"));
  CHECK(max_difference(m.predict(x), y) < 1e-5);
  lamina::testing::export_for_keras("h5_k2_dl4j_mlp_softmax", m, x);
  CHECK(m.optimizer()->name() == "RMSprop");

  // Weights only (root-level layer groups): the model is built in code, as a Keras user would.
  reset_layer_names();
  Model built = Sequential({layers::Input({4}), layers::Dense(3, {.name = "dense_1"}),
                            layers::Activation("softmax", "activation_1")});
  built.load_weights(keras_file("k2_dl4j_mlp_softmax.weights.h5"));
  CHECK(max_difference(built.predict(x), y) < 1e-5);
  built.load_weights(keras_file("k2_dl4j_mlp_softmax.weights.h5"), {.by_name = true});
  CHECK(max_difference(built.predict(x), y) < 1e-5);
}

TEST_CASE("tf.keras 2.13 Functional skip-concat and Keras 3 MLP match a numpy forward pass",
          "[h5io][keras_export]") {
  const auto cases = fixtures();
  for (const std::string name : {"k2_tf213_functional_skipconcat.h5", "k3_churn_mlp.h5"}) {
    INFO(name);
    Model m = models::load_model(keras_file(name));
    const Tensor x = from_json(cases[name]["input"]);
    CHECK(max_difference(m.predict(x), from_json(cases[name]["outputs"][0])) < 1e-5);
    lamina::testing::export_for_keras("h5_" + name.substr(0, name.find('.')), m, x);
  }
  // Keras 3's optimizer state (adam/iteration, adam/learning_rate, momentum/velocity per
  // variable) comes back with compile = true: h5py reads iteration 4500 and rate 0.01.
  Model m = models::load_model(keras_file("k3_churn_mlp.h5"));
  REQUIRE(m.optimizer() != nullptr);
  CHECK(m.optimizer()->iterations() == 4500);
  CHECK(m.optimizer()->learning_rate() == Approx(0.01));
}

TEST_CASE("Keras 3.4 multi-output Functional loads with its three heads and per-output losses",
          "[h5io]") {
  Model m = models::load_model(keras_file("k3_functional_multi_output.h5"));
  REQUIRE(m.outputs().size() == 3);
  CHECK(m.output_names() ==
        std::vector<std::string>{"management_output", "severity_output", "diagnosis_output"});
  const auto outs = m.predict_outputs(Tensor::zeros({2, 164}));
  CHECK(outs[0].shape() == Shape{2, 5});
  CHECK(outs[1].shape() == Shape{2, 3});
  // The FILE holds NaN in every element of every weight and of every Adam moment (its training
  // diverged; h5py reads 30,091 NaN weights out of 30,091), so Keras's own predictions are NaN
  // too. lamina loads those NaNs faithfully rather than refusing or zeroing them.
  std::size_t weights = 0, nans = 0;
  for (const Tensor& w : m.get_weights())
    for (double v : w.to_vector<double>()) {
      ++weights;
      nans += std::isnan(v) ? 1 : 0;
    }
  CHECK(weights == 30091);
  CHECK(nans == weights);
  for (const Tensor& out : outs)
    for (double v : out.to_vector<double>()) CHECK(std::isnan(v));
  CHECK(m.optimizer()->iterations() == 20000);
}

TEST_CASE("tf.keras toy ResNet: JSON config plus weights-only .h5 with Add merges", "[h5io][keras_export]") {
  std::ifstream in(keras_file("k2_kotlindl_toyresnet.config.json"));
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Model m = models::model_from_json(json);
  m.load_weights(keras_file("k2_kotlindl_toyresnet.weights.h5"));
  // Read with h5py: dense_7 kernel sums to -36.11034176603425, its first element -0.0858072...
  const Tensor k = m.get_layer("dense_7")->get_weights()[0];
  CHECK(k.shape() == Shape{256, 10});
  CHECK(k.astype(float64).sum().item() == Approx(-36.11034176603425).epsilon(1e-6));
  CHECK(k.at(0) == Approx(-0.08580722659826279).epsilon(1e-7));
  // And it predicts what a PyTorch float64 forward pass over the file's weights gives.
  const auto c = fixtures()["k2_kotlindl_toyresnet"];
  const Tensor x = from_json(c["input"]).reshape({2, 28, 28, 1});
  CHECK(max_difference(m.predict(x), from_json(c["outputs"][0])) < 1e-5);
  lamina::testing::export_for_keras("h5_k2_kotlindl_toyresnet", m, x);
}

TEST_CASE("tf.keras 2.11's Functional model with an Attention layer loads", "[h5io]") {
  // Refused while lamina lacked the layer; tests/io/test_keras_file_attention.cpp checks what it
  // predicts.
  Model m = models::load_model(keras_file("k2_dl4j_functional_attention.h5"));
  CHECK(m.get_layer("attention")->class_name() == "Attention");
  CHECK(m.count_params() == 2849);
}

TEST_CASE("Keras 2 LSTM files predict what Keras recorded and tf.keras's GRU its numpy forward pass", "[h5io][keras_export]") {
  // Keras 2.1.3 Sequential (bare-list config, batch_input_shape [25, 1, 1]) LSTM -> Dense.
  Model lstm = models::load_model(keras_file("k2_dl4j_lstm.model.h5"));
  const Tensor lstm_x = dataset("k2_dl4j_lstm.io.h5", "inputs/lstm_1_input");
  CHECK(max_difference(lstm.predict(lstm_x), dataset("k2_dl4j_lstm.io.h5", "predictions/dense_1")) < 1e-5);
  lamina::testing::export_for_keras("h5_k2_dl4j_lstm", lstm, lstm_x);

  // Keras 2.2.4: Dense on 3-D input, LSTM(relu, hard_sigmoid), 10 cases transcribed by keras2c.
  Model k2c = models::load_model(keras_file("k2_keras2c_dense_lstm.h5"));
  std::ifstream in(keras_file("k2_keras2c_dense_lstm.io.json"));
  const auto io = nlohmann::json::parse(in);
  REQUIRE(io["cases"].size() == 10);
  for (const auto& c : io["cases"]) {
    const Tensor x = from_json(c["input_1"]).reshape({1, 8, 32});
    std::vector<float> y;
    for (const auto& e : c["dense_3"]) y.push_back(e.get<float>());
    CHECK(max_difference(k2c.predict(x), Tensor::from_vector(y, {1, 30})) < 1e-5);
  }
  lamina::testing::export_for_keras("h5_k2_keras2c_dense_lstm", k2c, from_json(io["cases"][0]["input_1"]).reshape({1, 8, 32}));

  // tf.keras 2.10 GRU(80, reset_after) with a (2, 240) bias and `gru/gru_cell/kernel:0` names.
  Model gru = models::load_model(keras_file("k2_airpassengers_gru.h5"));
  CHECK(gru.layers()[0]->class_name() == "GRU");
  CHECK(gru.layers()[0]->get_weights()[2].shape() == Shape{2, 240});
  const auto c = fixtures()["k2_airpassengers_gru.h5"];
  const Tensor x = from_json(c["input"]).reshape({3, 6, 20});
  CHECK(max_difference(gru.predict(x), from_json(c["outputs"][0])) < 1e-5);
  lamina::testing::export_for_keras("h5_k2_airpassengers_gru", gru, x);
}
