// SPDX-License-Identifier: Apache-2.0
// The main flows with the model on the test device (memory the host may not read): fit, evaluate
// and predict of an MLP, a CNN with BatchNormalization, an LSTM and a two-head Functional model;
// callbacks; a Dataset feeding it; save and load. Each must give the CPU's numbers: the test
// device runs the CPU's kernels, so any difference is a missing transfer or a host read that the
// seam let through.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/datasets/dataset.hpp>
#include <lamina/layers/conv.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/normalization.hpp>
#include <lamina/layers/pooling.hpp>
#include <lamina/layers/recurrent.hpp>
#include <lamina/model.hpp>
#include <lamina/models.hpp>
#include <lamina/optimizers.hpp>

#include "support/op_testing.hpp"
#include "support/test_device.hpp"

namespace lamina::testing {
namespace {

Tensor class_labels(std::int64_t n, int classes) {
  std::vector<std::int64_t> v;
  for (std::int64_t i = 0; i < n; ++i) v.push_back((i * 7 + i / 3) % classes);
  return Tensor::from_vector(v, {n});
}

Model mlp() {
  return Sequential({layers::Input({6}), layers::Dense(16, {.activation = "relu"}),
                     layers::Dropout(0.2), layers::Dense(3, {.activation = "softmax"})});
}

Model cnn() {
  return Sequential({layers::Input({8, 8, 1}), layers::Conv2D(4, 3, {.padding = "same"}),
                     layers::BatchNormalization(), layers::Activation("relu"),
                     layers::MaxPooling2D(2), layers::Flatten(),
                     layers::Dense(3, {.activation = "softmax"})});
}

Model lstm() {
  return Sequential({layers::Input({5, 3}), layers::LSTM(6), layers::Dense(3, {.activation = "softmax"})});
}

Model two_heads() {
  auto x = layers::Input({6}, {.name = "x"});
  auto h = layers::Dense(8, {.activation = "tanh"})(x);
  auto a = layers::Dense(3, {.activation = "softmax", .name = "a"})(h);
  auto b = layers::Dense(2, {.activation = "softmax", .name = "b"})(h);
  return Model(x, {a, b});
}

void compile(Model& m) {
  m.compile({.optimizer = optimizers::Adam({.learning_rate = 0.01}),
             .loss = "sparse_categorical_crossentropy",
             .metrics = {"accuracy"}});
}

// The same model built twice from one seed: one trained on the CPU, one on the test device.
template <class Make, class Train>
void same_on_both(Make make, Train train) {
  set_seed(7);
  Model cpu = make();
  set_seed(7);
  Model dev = make();
  dev.set_weights(cpu.get_weights());
  compile(cpu);
  compile(dev);
  dev.to(test_device());
  REQUIRE(dev.device() == test_device());
  set_seed(11);
  auto want = train(cpu);
  set_seed(11);
  auto got = train(dev);
  REQUIRE(got.size() == want.size());
  for (const auto& [key, value] : want) {
    INFO(key);
    CHECK(got.at(key) == Approx(value).epsilon(1e-6));
  }
  // The weights stayed on the device and agree with the CPU's.
  const std::vector<Tensor> wc = cpu.get_weights(), wd = dev.get_weights();
  REQUIRE(wc.size() == wd.size());
  for (std::size_t i = 0; i < wc.size(); ++i) {
    CHECK(wd[i].device() == test_device());
    check_same(wd[i].to(Device::cpu()), wc[i], 1e-5);
  }
}

// fit then evaluate then predict: the logs and a prediction checksum.
std::map<std::string, double> fit_evaluate_predict(Model& m, const Tensor& x, const Tensor& y) {
  History h = m.fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0, .validation_split = 0.25});
  std::map<std::string, double> out;
  for (const auto& [key, values] : h.history) out["fit " + key] = values.back();
  for (const auto& [key, value] : m.evaluate(x, y, {.verbose = 0})) out["evaluate " + key] = value;
  Tensor p = m.predict(x, {.verbose = 0});
  REQUIRE(p.device() == Device::cpu());  // predictions come back to the host, as Keras's numpy
  out["predict sum"] = p.sum().item();
  out["predict first"] = p.at(0);
  return out;
}

}  // namespace

TEST_CASE("an MLP trains, evaluates and predicts on the test device as on the CPU", "[backend][flows]") {
  const Tensor x = seq({40, 6}, 1.0, float32), y = class_labels(40, 3);
  same_on_both(mlp, [&](Model& m) { return fit_evaluate_predict(m, x, y); });
}

TEST_CASE("a CNN with BatchNormalization runs on the test device as on the CPU", "[backend][flows]") {
  const Tensor x = seq({24, 8, 8, 1}, 1.0, float32), y = class_labels(24, 3);
  same_on_both(cnn, [&](Model& m) { return fit_evaluate_predict(m, x, y); });
}

TEST_CASE("an LSTM runs on the test device as on the CPU", "[backend][flows]") {
  const Tensor x = seq({24, 5, 3}, 1.0, float32), y = class_labels(24, 3);
  same_on_both(lstm, [&](Model& m) { return fit_evaluate_predict(m, x, y); });
}

TEST_CASE("a two-head Functional model runs on the test device as on the CPU", "[backend][flows]") {
  const Tensor x = seq({32, 6}, 1.0, float32);
  const Tensor ya = class_labels(32, 3), yb = class_labels(32, 2);
  same_on_both(two_heads, [&](Model& m) {
    History h = m.fit(TensorArg({x}), TensorArg({ya, yb}), {.batch_size = 8, .epochs = 2, .verbose = 0});
    std::map<std::string, double> out;
    for (const auto& [key, values] : h.history) out[key] = values.back();
    std::vector<Tensor> p = m.predict_outputs(TensorArg({x}), {.verbose = 0});
    out["a"] = p.at(0).sum().item();
    out["b"] = p.at(1).at(1);
    return out;
  });
}

TEST_CASE("a Dataset feeds a model on the test device, with callbacks", "[backend][flows]") {
  const Tensor x = seq({48, 6}, 1.0, float32), y = class_labels(48, 3);
  const auto dir = std::filesystem::temp_directory_path() / "lamina_device_flows";
  std::filesystem::create_directories(dir);
  same_on_both(mlp, [&](Model& m) {
    const std::string tag = m.device() == Device::cpu() ? "cpu" : "dev";
    auto ds = Dataset::from_tensor_slices(x, y).shuffle(48, {.seed = 3}).batch(8);
    History h = m.fit(ds, {.epochs = 3, .verbose = 0,
                           .callbacks = {callbacks::EarlyStopping({.monitor = "loss", .patience = 5}),
                                         callbacks::ModelCheckpoint((dir / (tag + ".keras")).string()),
                                         callbacks::CSVLogger((dir / (tag + ".csv")).string())}});
    std::map<std::string, double> out;
    for (const auto& [key, values] : h.history) out[key] = values.back();
    out["epochs"] = static_cast<double>(h.epoch.size());
    // The checkpoint written from the device model loads on the host and predicts the same.
    Model back = models::load_model((dir / (tag + ".keras")).string());
    out["checkpoint predict"] = back.predict(x, {.verbose = 0}).sum().item();
    return out;
  });
  std::filesystem::remove_all(dir);
}

TEST_CASE("a model saved from the test device loads anywhere with the same weights", "[backend][flows]") {
  set_seed(3);
  Model m = cnn();
  compile(m);
  const Tensor x = seq({16, 8, 8, 1}, 1.0, float32), y = class_labels(16, 3);
  m.to(test_device());
  m.fit(x, y, {.batch_size = 8, .epochs = 1, .verbose = 0});
  const auto dir = std::filesystem::temp_directory_path() / "lamina_device_save";
  std::filesystem::create_directories(dir);
  for (const std::string name : {"m.keras", "m.h5"}) {
    m.save((dir / name).string());
    Model back = models::load_model((dir / name).string());
    check_same(back.predict(x, {.verbose = 0}), m.predict(x, {.verbose = 0}), 1e-6);
    // Loading weights into a model on the device writes through to the device.
    Model again = cnn();
    again.to(test_device());
    m.save_weights((dir / "w.weights.h5").string());
    again.load_weights((dir / "w.weights.h5").string());
    check_same(again.predict(x, {.verbose = 0}), m.predict(x, {.verbose = 0}), 1e-6);
    CHECK(again.device() == test_device());
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("Model::to moves the optimizer's slots with the weights", "[backend][flows]") {
  set_seed(5);
  Model m = mlp();
  compile(m);
  m.fit(seq({16, 6}, 1.0, float32), class_labels(16, 3), {.batch_size = 8, .verbose = 0});
  m.to(test_device());
  for (const auto& [path, slot] : m.optimizer()->variables())
    if (slot.numel() > 1) CHECK(slot.device() == test_device());
  m.to(Device::cpu());
  CHECK(m.device() == Device::cpu());
  CHECK(m.get_weights().front().device() == Device::cpu());
}

}  // namespace lamina::testing
