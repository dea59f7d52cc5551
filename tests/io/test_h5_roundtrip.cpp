// SPDX-License-Identifier: Apache-2.0
// Model::save / save_weights / load_weights and models::load_model through lamina's own files:
// exact round trips, the compile state, and validation that leaves the model untouched.
#include <catch2/catch.hpp>

#include <string>

#include <lamina/errors.hpp>
#include <lamina/layers/attention.hpp>
#include <lamina/layers/recurrent.hpp>
#include <lamina/layers/wrappers.hpp>
#include <lamina/models.hpp>

#include "io/h5_models.hpp"
#include "io/h5_test_files.hpp"
#include "io/hdf5.hpp"

using namespace lamina;
using lamina::testing::same_bits;
using lamina::testing::ScratchDir;
using Catch::Matchers::Contains;

namespace {

Model trained_mlp() {
  Model m = lamina::testing::small_mlp(11);
  m.compile({.optimizer = optimizers::Adam({.learning_rate = 0.01}),
             .loss = "sparse_categorical_crossentropy",
             .metrics = {"accuracy"}});
  m.fit(lamina::testing::features(32, 6, 5), lamina::testing::labels(32, 3),
        {.batch_size = 8, .epochs = 1, .verbose = 0, .shuffle = false});
  return m;
}

}  // namespace

TEST_CASE("A trained model saved to .h5 reloads with identical weights, predictions and optimizer",
          "[h5io]") {
  reset_layer_names();
  ScratchDir dir("h5rt");
  Model m = trained_mlp();
  const std::string path = dir.file("mlp.h5");
  m.save(path);

  Model again = models::load_model(path);
  CHECK(same_bits(again.get_weights(), m.get_weights()));
  const Tensor x = lamina::testing::features(5, 6, 9);
  CHECK(same_bits({again.predict(x)}, {m.predict(x)}));
  REQUIRE(again.optimizer() != nullptr);
  CHECK(again.optimizer()->name() == "Adam");
  CHECK(again.optimizer()->iterations() == 4);  // 32 samples / batch 8, one epoch
  CHECK(same_bits(lamina::testing::optimizer_values(again), lamina::testing::optimizer_values(m)));
  // The compile state came back: evaluate needs the loss and metrics.
  const auto scores = again.evaluate(x, lamina::testing::labels(5, 3), {.verbose = 0});
  CHECK(scores.count("accuracy") == 1);
  CHECK(scores.at("loss") == m.evaluate(x, lamina::testing::labels(5, 3), {.verbose = 0}).at("loss"));

  Model plain = models::load_model(path, {.compile = false});
  CHECK(plain.optimizer() == nullptr);
  CHECK(same_bits(plain.get_weights(), m.get_weights()));
}

TEST_CASE("A Functional model round-trips through .h5 and both weights formats", "[h5io]") {
  reset_layer_names();
  ScratchDir dir("h5rt");
  Model m = lamina::testing::small_functional(3);
  m.save(dir.file("f.h5"));
  Model again = models::load_model(dir.file("f.h5"));
  CHECK(again.name() == "two_path");
  CHECK(same_bits(again.get_weights(), m.get_weights()));

  for (const std::string name : {"w.weights.h5", "w.h5", "w.hdf5"}) {
    Model other = lamina::testing::small_functional(99);
    REQUIRE_FALSE(same_bits(other.get_weights(), m.get_weights()));
    m.save_weights(dir.file(name));
    other.load_weights(dir.file(name));
    CHECK(same_bits(other.get_weights(), m.get_weights()));
  }
  // Keras also reads the weights of a whole-model file with load_weights.
  Model other = lamina::testing::small_functional(98);
  other.load_weights(dir.file("f.h5"));
  CHECK(same_bits(other.get_weights(), m.get_weights()));
}

TEST_CASE("A model nested in a Sequential round-trips its weights", "[h5io]") {
  reset_layer_names();
  ScratchDir dir("h5rt");
  auto make = [](std::uint64_t seed) {
    set_seed(seed);
    Sequential inner({layers::Input({3}), layers::Dense(4), layers::BatchNormalization()}, "inner");
    return Sequential({layers::Input({3}), inner, layers::Dense(2)});
  };
  Model m = make(1);
  for (const std::string name : {"n.weights.h5", "n.h5"}) {
    Model other = make(2);
    m.save_weights(dir.file(name));
    other.load_weights(dir.file(name));
    CHECK(same_bits(other.get_weights(), m.get_weights()));
  }
  // Keras 3's layout: the nested model's layers under its key (KERAS_FORMATS.md (b)).
  io::h5::File f = io::h5::File::open(dir.file("n.weights.h5"));
  CHECK(f.root().has_dataset("layers/sequential/layers/dense/vars/0"));
  CHECK(f.root().has_dataset("layers/sequential/layers/batch_normalization/vars/3"));
  CHECK(f.root().has_dataset("layers/dense/vars/1"));
}

TEST_CASE("Layers that hold layers keep their weights under Keras 3's attribute paths", "[h5io]") {
  // KERAS_FORMATS.md (b) and Keras 3's saving_lib: a held layer's variables sit under the name of
  // the attribute that holds it: MultiHeadAttention's query_dense ... output_dense (EinsumDense
  // layers named query ... attention_output), Bidirectional's forward_layer / backward_layer (each
  // an RNN with a cell), TimeDistributed's layer.
  reset_layer_names();
  ScratchDir dir("h5rt");
  auto make = [](std::uint64_t seed) {
    set_seed(seed);
    auto x = layers::Input({5, 6});
    auto a = layers::MultiHeadAttention(2, 3, {.value_dim = 4})({x, x});
    auto b = layers::Bidirectional(layers::LSTM(7, {.return_sequences = true}))(a);
    auto y = layers::TimeDistributed(layers::Dense(2))(b);
    return Model(x, y);
  };
  Model m = make(1);
  m.save_weights(dir.file("held.weights.h5"));
  io::h5::File f = io::h5::File::open(dir.file("held.weights.h5"));
  const io::h5::Group root = f.root();
  auto shape_of = [&](const std::string& path) {
    const auto slash = path.rfind('/');
    return root.group(path.substr(0, slash)).dataset_info(path.substr(slash + 1)).shape;
  };
  const std::string mha = "layers/multi_head_attention/";
  CHECK(root.group(mha + "vars").children().empty());
  CHECK(shape_of(mha + "query_dense/vars/0") == Shape{6, 2, 3});
  CHECK(shape_of(mha + "query_dense/vars/1") == Shape{2, 3});
  CHECK(shape_of(mha + "key_dense/vars/0") == Shape{6, 2, 3});
  CHECK(shape_of(mha + "value_dense/vars/0") == Shape{6, 2, 4});
  CHECK(shape_of(mha + "value_dense/vars/1") == Shape{2, 4});
  CHECK(shape_of(mha + "output_dense/vars/0") == Shape{2, 4, 6});
  CHECK(shape_of(mha + "output_dense/vars/1") == Shape{6});
  CHECK(root.group(mha + "query_dense/vars").read_string_attr("name") == "query");
  CHECK(root.group(mha + "output_dense/vars").read_string_attr("name") == "attention_output");
  for (const std::string side : {"forward_layer", "backward_layer"}) {
    CHECK(root.group("layers/bidirectional/" + side + "/vars").children().empty());
    CHECK(shape_of("layers/bidirectional/" + side + "/cell/vars/0") == Shape{6, 28});
    CHECK(shape_of("layers/bidirectional/" + side + "/cell/vars/1") == Shape{7, 28});
    CHECK(shape_of("layers/bidirectional/" + side + "/cell/vars/2") == Shape{28});
  }
  CHECK(root.group("layers/bidirectional/vars").children().empty());
  CHECK(shape_of("layers/time_distributed/layer/vars/0") == Shape{14, 2});
  CHECK(shape_of("layers/time_distributed/layer/vars/1") == Shape{2});
  // Each dataset holds the weight it is named for (get_weights: MultiHeadAttention's query, key,
  // value, output kernel and bias first, TimeDistributed's Dense last).
  const auto weights = m.get_weights();
  auto stored = [&](const std::string& group, const Tensor& like) {
    return root.group(group).read_dataset("0", like.shape(), float32);
  };
  CHECK(same_bits({stored(mha + "key_dense/vars", weights[2])}, {weights[2]}));
  CHECK(same_bits({stored(mha + "output_dense/vars", weights[6])}, {weights[6]}));
  CHECK(same_bits({stored("layers/time_distributed/layer/vars", weights[weights.size() - 2])},
                  {weights[weights.size() - 2]}));
  f.close();

  // A second model reads them all back, from .weights.h5 and from .keras.
  Model other = make(2);
  REQUIRE_FALSE(same_bits(other.get_weights(), weights));
  other.load_weights(dir.file("held.weights.h5"));
  CHECK(same_bits(other.get_weights(), weights));
  m.save(dir.file("held.keras"));
  Model loaded = models::load_model(dir.file("held.keras"));
  CHECK(same_bits(loaded.get_weights(), weights));
}

TEST_CASE("load_weights checks every shape first and leaves the model untouched on a mismatch",
          "[h5io]") {
  reset_layer_names();
  ScratchDir dir("h5rt");
  Model saved = lamina::testing::small_mlp(1, 8);
  saved.save_weights(dir.file("a.h5"));
  saved.save_weights(dir.file("a.weights.h5"));
  for (const std::string name : {"a.h5", "a.weights.h5"}) {
    Model wider = lamina::testing::small_mlp(2, 10);
    const auto before = wider.get_weights();
    // The first Dense differs: (6, 8) in the file, (6, 10) in the model.
    CHECK_THROWS_AS(wider.load_weights(dir.file(name)), FileFormatError);
    CHECK_THROWS_WITH(wider.load_weights(dir.file(name)),
                      Contains(dir.file(name)) && Contains("Dense '") && Contains("(6, 8)") &&
                          Contains("(6, 10)"));
    CHECK(same_bits(wider.get_weights(), before));
  }
  // A model with a different number of layers with weights.
  set_seed(4);
  Model shorter = Sequential({layers::Input({6}), layers::Dense(3)});
  CHECK_THROWS_WITH(shorter.load_weights(dir.file("a.h5")),
                    Contains("layer count mismatch") && Contains("1 layers with weights") &&
                        Contains("the file has 3"));
}

TEST_CASE("load_weights by_name matches layers by name and skip_mismatch skips what differs",
          "[h5io]") {
  reset_layer_names();
  ScratchDir dir("h5rt");
  set_seed(1);
  Model saved = Sequential({layers::Input({4}), layers::Dense(3, {.name = "a"}),
                            layers::Dense(2, {.name = "b"})});
  saved.save_weights(dir.file("s.h5"));
  // Different order, one layer renamed, one with another shape.
  set_seed(2);
  Model target = Sequential({layers::Input({4}), layers::Dense(3, {.name = "a"}),
                             layers::Dense(5, {.name = "b"}), layers::Dense(2, {.name = "c"})});
  const auto before = target.get_weights();
  CHECK_THROWS_WITH(target.load_weights(dir.file("s.h5"), {.by_name = true}),
                    Contains("Dense 'b'") && Contains("(3, 2)") && Contains("(3, 5)"));
  CHECK(same_bits(target.get_weights(), before));
  target.load_weights(dir.file("s.h5"), {.by_name = true, .skip_mismatch = true});
  CHECK(same_bits(target.get_layer("a")->get_weights(), saved.get_layer("a")->get_weights()));
  CHECK(same_bits(target.get_layer("b")->get_weights(), target.get_layer("b")->get_weights()));
  CHECK(same_bits(target.get_layer("b")->get_weights(), {before[2], before[3]}));
  CHECK(same_bits(target.get_layer("c")->get_weights(), {before[4], before[5]}));
  saved.save_weights(dir.file("s.weights.h5"));
  CHECK_THROWS_AS(target.load_weights(dir.file("s.weights.h5"), {.by_name = true}), ValueError);
}

TEST_CASE("Saving picks the format by extension and refuses the others", "[h5io]") {
  reset_layer_names();
  ScratchDir dir("h5rt");
  Model m = lamina::testing::small_mlp(1);
  CHECK_THROWS_WITH(m.save(dir.file("m.txt")), Contains("m.txt") && Contains("unsupported extension"));
  CHECK_THROWS_WITH(m.save(dir.file("m.weights.h5")), Contains("save_weights"));
  CHECK_THROWS_AS(m.save_weights(dir.file("m.keras")), ValueError);
  CHECK_THROWS_AS(m.load_weights(dir.file("m.npz")), ValueError);
  CHECK_THROWS_AS(models::load_model(dir.file("m.json")), ValueError);
  m.save_weights(dir.file("w.h5"));
  CHECK_THROWS_WITH(models::load_model(dir.file("w.h5")),
                    Contains("w.h5") && Contains("no model_config"));
}
