// SPDX-License-Identifier: Apache-2.0
// lamina -> Keras: a small model for every layer class lamina has, with non-default options,
// built from Keras 3 configs (or in C++ for graphs with several inputs), given distinct weights,
// saved as .keras, .h5 and .weights.h5 and read back by lamina with the same predictions. With
// LAMINA_KERAS_EXPORT=<dir> they are also written there (tests/support/keras_export.hpp) for
// tests/tools/check_lamina_files_in_keras.py, which loads them in real Keras 3 (.ci/test, step
// "keras"). The Keras-made fixture tests export their models the same way.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include <lamina/lamina.hpp>
#include <nlohmann/json.hpp>

#include "engine/layer_spec.hpp"
#include "io/h5_test_files.hpp"
#include "support/keras_export.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using json = nlohmann::json;
using lamina::testing::seq;

namespace {

json layer(const std::string& cls, json config) {
  return {{"module", "keras.layers"}, {"class_name", cls}, {"config", std::move(config)}, {"registered_name", nullptr}};
}

json object(const char* module, const std::string& cls, json config) {
  return {{"module", module}, {"class_name", cls}, {"config", std::move(config)}, {"registered_name", nullptr}};
}

// A Keras 3 Sequential config: an InputLayer of `shape` (batch excluded), then `layers`.
json sequential(const std::string& name, const std::vector<std::int64_t>& shape, std::vector<json> layers) {
  json batch = json::array({nullptr});
  for (auto d : shape) batch.push_back(d);
  json all = json::array({layer("InputLayer", {{"batch_shape", batch}, {"dtype", "float32"}, {"name", name + "_in"}})});
  for (json& l : layers) all.push_back(std::move(l));
  return {{"module", "keras"}, {"class_name", "Sequential"}, {"config", {{"name", name}, {"layers", all}}}};
}

struct Case {
  std::string name;
  Model model;
  std::vector<Tensor> inputs;
};

// Distinct weights for every variable (a reordered or transposed weight then changes the
// outputs); variables that start positive (variances, scales) stay positive.
void give_distinct_weights(Model& m) {
  std::vector<Tensor> ws = m.get_weights();
  for (std::size_t k = 0; k < ws.size(); ++k) {
    const bool positive = ws[k].numel() > 0 && min(ws[k].astype(float64)).item() > 0;
    const double shift = 0.01 * static_cast<double>(k);
    ws[k] = positive ? abs(seq(ws[k].shape(), 0.4, float32, shift)) + 0.5 : seq(ws[k].shape(), 0.5, float32, shift);
  }
  m.set_weights(ws);
}

Case from_config(const json& config, std::vector<std::int64_t> input_shape, double scale = 1.0) {
  Model m = Model::from_config(config);
  give_distinct_weights(m);
  input_shape.insert(input_shape.begin(), 3);  // a batch of 3
  return {config["config"]["name"].get<std::string>(), m, {seq(Shape(input_shape), scale, float32)}};
}

const json kL2 = object("keras.regularizers", "L2", {{"l2", 0.01}});

// The models; together they use every layer class of the config-key audit.
std::vector<Case> catalogue() {
  reset_layer_names();
  std::vector<Case> cases;
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape, std::vector<json> layers, double scale = 1.0) {
    cases.push_back(from_config(sequential("export_" + name, shape, std::move(layers)), shape, scale));
  };
  add("core", {6},
      {layer("Dense", {{"name", "dense"}, {"units", 4}, {"activation", "tanh"}, {"kernel_regularizer", kL2}}),
       layer("Activation", {{"name", "act"}, {"activation", "gelu"}}),
       layer("Dropout", {{"name", "drop"}, {"rate", 0.3}, {"seed", 2}}),
       layer("GaussianNoise", {{"name", "noise"}, {"stddev", 0.1}, {"seed", 3}}),
       layer("GaussianDropout", {{"name", "gdrop"}, {"rate", 0.2}, {"seed", 4}}),
       layer("AlphaDropout", {{"name", "adrop"}, {"rate", 0.1}}),
       layer("ActivityRegularization", {{"name", "actreg"}, {"l1", 0.01}, {"l2", 0.02}}),
       layer("Identity", {{"name", "identity"}}),
       layer("Reshape", {{"name", "reshape"}, {"target_shape", {2, 2}}}),
       layer("Permute", {{"name", "permute"}, {"dims", {2, 1}}}),
       layer("Flatten", {{"name", "flatten"}}),
       layer("RepeatVector", {{"name", "repeat"}, {"n", 2}}),
       layer("EinsumDense", {{"name", "einsum"}, {"equation", "abc,cd->abd"}, {"output_shape", {nullptr, 3}},
                             {"bias_axes", "d"}, {"activation", "relu"}})});
  add("activations", {7},
      {layer("ReLU", {{"name", "relu"}, {"max_value", 1.5}, {"negative_slope", 0.1}, {"threshold", 0.2}}),
       layer("LeakyReLU", {{"name", "leaky"}, {"negative_slope", 0.2}}),
       layer("PReLU", {{"name", "prelu"}}), layer("ELU", {{"name", "elu"}}),
       layer("Softmax", {{"name", "softmax"}, {"axis", -1}})},
      2.0);
  // Keras 3 has no ThresholdedReLU: the checker expects Keras to refuse this one.
  add("thresholded_relu", {5}, {layer("ThresholdedReLU", {{"name", "trelu"}, {"theta", 0.3}})});
  add("normalization", {4, 6},
      {layer("BatchNormalization", {{"name", "bn"}, {"momentum", 0.9}, {"epsilon", 0.01}}),
       layer("LayerNormalization", {{"name", "ln"}, {"axis", -1}, {"epsilon", 0.001}}),
       layer("GroupNormalization", {{"name", "gn"}, {"groups", 3}}),
       layer("UnitNormalization", {{"name", "un"}, {"axis", -1}}),
       layer("RMSNormalization", {{"name", "rms"}, {"epsilon", 1e-5}})});
  add("conv1d", {10, 2},
      {layer("Conv1D", {{"name", "conv"}, {"filters", 3}, {"kernel_size", {2}}, {"padding", "causal"},
                        {"dilation_rate", {2}}, {"activation", "relu"}}),
       layer("ZeroPadding1D", {{"name", "pad"}, {"padding", {1, 2}}}),
       layer("Cropping1D", {{"name", "crop"}, {"cropping", {1, 0}}}),
       layer("UpSampling1D", {{"name", "up"}, {"size", 2}}),
       layer("MaxPooling1D", {{"name", "maxpool"}, {"pool_size", {2}}, {"strides", {2}}}),
       layer("AveragePooling1D", {{"name", "avgpool"}, {"pool_size", {3}}, {"strides", {1}}, {"padding", "same"}}),
       layer("SpatialDropout1D", {{"name", "sdrop"}, {"rate", 0.2}}),
       layer("GlobalMaxPooling1D", {{"name", "gmax"}})});
  add("conv1d_strided", {9, 3},
      {layer("Conv1D", {{"name", "conv"}, {"filters", 2}, {"kernel_size", {3}}, {"strides", {2}}, {"use_bias", false}}),
       layer("GlobalAveragePooling1D", {{"name", "gavg"}, {"keepdims", true}})});
  add("conv2d", {6, 5, 2},
      {layer("Conv2D", {{"name", "conv"}, {"filters", 3}, {"kernel_size", {2, 2}}, {"padding", "same"}, {"activation", "relu"}}),
       layer("DepthwiseConv2D", {{"name", "depthwise"}, {"kernel_size", {2, 2}}, {"depth_multiplier", 2}}),
       layer("SeparableConv2D", {{"name", "separable"}, {"filters", 2}, {"kernel_size", {2, 2}}, {"padding", "same"}}),
       layer("ZeroPadding2D", {{"name", "pad"}, {"padding", {{1, 0}, {0, 1}}}}),
       layer("MaxPooling2D", {{"name", "maxpool"}, {"pool_size", {2, 2}}, {"strides", {2, 2}}}),
       layer("UpSampling2D", {{"name", "up"}, {"size", {2, 2}}, {"interpolation", "bilinear"}}),
       layer("Cropping2D", {{"name", "crop"}, {"cropping", {{1, 0}, {0, 1}}}}),
       layer("AveragePooling2D", {{"name", "avgpool"}, {"pool_size", {2, 2}}, {"strides", {1, 1}}}),
       layer("SpatialDropout2D", {{"name", "sdrop"}, {"rate", 0.2}}),
       layer("Conv2DTranspose", {{"name", "transpose"}, {"filters", 2}, {"kernel_size", {3, 3}}, {"strides", {2, 2}},
                                 {"padding", "same"}}),
       layer("GlobalAveragePooling2D", {{"name", "gavg"}})});
  add("conv2d_strided", {7, 7, 1},
      {layer("Conv2D", {{"name", "conv"}, {"filters", 2}, {"kernel_size", {3, 3}}, {"strides", {2, 2}},
                        {"kernel_regularizer", kL2}}),
       layer("GlobalMaxPooling2D", {{"name", "gmax"}, {"keepdims", true}})});
  // channels_first, and an activation given as an object rather than a name.
  // (A ReLU layer with max_value 6 is relu6; Keras's function reference names its function.)
  const json relu_object = object("keras.layers", "ReLU", {{"name", "relu_obj"}, {"max_value", 6.0}});
  const json swish_function = {{"module", "keras.activations"}, {"class_name", "function"}, {"config", "swish"},
                               {"registered_name", "function"}};
  add("conv2d_channels_first", {2, 6, 5},
      {layer("Conv2D", {{"name", "conv"}, {"filters", 3}, {"kernel_size", {2, 2}}, {"data_format", "channels_first"},
                        {"activation", swish_function}}),
       layer("MaxPooling2D", {{"name", "maxpool"}, {"pool_size", {2, 2}}, {"data_format", "channels_first"}}),
       layer("UpSampling2D", {{"name", "up"}, {"size", {2, 1}}, {"data_format", "channels_first"}}),
       layer("GlobalAveragePooling2D", {{"name", "gavg"}, {"data_format", "channels_first"}})});
  add("conv1d_more", {8, 3},
      {layer("DepthwiseConv1D", {{"name", "depthwise"}, {"kernel_size", 3}, {"depth_multiplier", 2}, {"padding", "same"}}),
       layer("SeparableConv1D", {{"name", "separable"}, {"filters", 2}, {"kernel_size", 2}, {"activation", "elu"}}),
       layer("Conv1DTranspose", {{"name", "transpose"}, {"filters", 3}, {"kernel_size", 3}, {"strides", 2}})});
  add("conv3d", {4, 5, 4, 2},
      {layer("Conv3D", {{"name", "conv"}, {"filters", 3}, {"kernel_size", {2, 2, 2}}, {"padding", "same"},
                        {"activation", "relu"}}),
       layer("ZeroPadding3D", {{"name", "pad"}, {"padding", {{1, 0}, {0, 1}, {1, 1}}}}),
       layer("Cropping3D", {{"name", "crop"}, {"cropping", {{1, 0}, {0, 1}, {1, 0}}}}),
       layer("MaxPooling3D", {{"name", "maxpool"}, {"pool_size", {2, 2, 2}}}),
       layer("UpSampling3D", {{"name", "up"}, {"size", {2, 1, 2}}}),
       layer("AveragePooling3D", {{"name", "avgpool"}, {"pool_size", {2, 2, 2}}, {"strides", {1, 1, 1}}, {"padding", "same"}}),
       layer("SpatialDropout3D", {{"name", "sdrop"}, {"rate", 0.2}}),
       layer("Conv3DTranspose", {{"name", "transpose"}, {"filters", 2}, {"kernel_size", {2, 2, 2}}, {"strides", {2, 1, 1}}}),
       layer("GlobalMaxPooling3D", {{"name", "gmax"}})});
  add("conv3d_channels_first", {2, 4, 4, 3},
      {layer("Conv3D", {{"name", "conv"}, {"filters", 2}, {"kernel_size", {2, 2, 2}}, {"data_format", "channels_first"},
                        {"activation", relu_object}}),
       layer("GlobalAveragePooling3D", {{"name", "gavg"}, {"data_format", "channels_first"}, {"keepdims", true}})});
  add("conv_lstm1d", {4, 6, 2},
      {layer("ConvLSTM1D", {{"name", "convlstm"}, {"filters", 3}, {"kernel_size", {3}}, {"padding", "same"},
                            {"return_sequences", true}}),
       layer("Flatten", {{"name", "flatten"}})});
  {
    // return_state: the hidden and cell states as extra outputs.
    auto x = layers::Input({3, 5, 4, 2}, {.name = "frames"});
    auto [y, h, c] = layers::ConvLSTM2D(2, {2, 2}, {.return_state = true, .name = "convlstm"}).outputs_of<3>(x);
    Model m(x, {y, h, c}, "export_conv_lstm2d_state");
    give_distinct_weights(m);
    cases.push_back({"export_conv_lstm2d_state", m, {seq({3, 3, 5, 4, 2}, 0.5, float32)}});
  }
  add("preprocessing_numeric", {4},
      {layer("Normalization", {{"name", "norm"}, {"axis", -1}, {"mean", {0.5, 1.0, -1.0, 2.0}}, {"variance", {1.0, 4.0, 0.25, 2.0}}}),
       layer("Rescaling", {{"name", "rescale"}, {"scale", 0.5}, {"offset", 1.0}})});
  add("preprocessing_discretization", {4},
      {layer("Discretization", {{"name", "bins"}, {"bin_boundaries", {0.5, 1.5, 2.5}}}),
       layer("CategoryEncoding", {{"name", "onehot"}, {"num_tokens", 4}, {"output_mode", "multi_hot"}})});
  {
    // The lookups take integers: an int64 input.
    json config = sequential("export_preprocessing_lookup", {5},
                             {layer("IntegerLookup", {{"name", "lookup"}, {"vocabulary", {3, 1, 4, 5}}}),
                              layer("Hashing", {{"name", "hash"}, {"num_bins", 3}})});
    config["config"]["layers"][0]["config"]["dtype"] = "int64";
    Case c = from_config(config, {5});
    c.inputs = {Tensor::from_vector<std::int64_t>({1, 2, 3, 4, 5, 5, 4, 0, 1, 9, 3, 3, 7, 1, 4}, {3, 5})};
    cases.push_back(c);
  }
  add("preprocessing_image", {8, 7, 3},
      {layer("Resizing", {{"name", "resize"}, {"height", 6}, {"width", 6}, {"interpolation", "bilinear"}}),
       // RandomCrop gets its target size: Keras 3.15's RandomCrop passes any image through unchanged at
       // inference (its compute_output_shape and docstring say (height, width), as lamina does).
       layer("CenterCrop", {{"name", "center"}, {"height", 4}, {"width", 4}}),
       layer("RandomFlip", {{"name", "flip"}, {"mode", "horizontal"}, {"seed", 1}}),
       layer("RandomRotation", {{"name", "rotate"}, {"factor", 0.1}, {"seed", 2}}),
       layer("RandomZoom", {{"name", "zoom"}, {"height_factor", 0.1}, {"seed", 3}}),
       layer("RandomTranslation", {{"name", "translate"}, {"height_factor", 0.1}, {"width_factor", 0.1}, {"seed", 4}}),
       layer("RandomContrast", {{"name", "contrast"}, {"factor", 0.2}, {"seed", 5}}),
       layer("RandomBrightness", {{"name", "brightness"}, {"factor", 0.2}, {"seed", 6}}),
       layer("RandomCrop", {{"name", "crop"}, {"height", 4}, {"width", 4}, {"seed", 7}})});
  // tf.keras 2 only: Keras 3 removed LocallyConnected1D/2D; the checker expects Keras 3 to refuse these.
  add("locally_connected", {6, 5, 2},
      {layer("LocallyConnected2D", {{"name", "lc2"}, {"filters", 2}, {"kernel_size", {2, 2}}}),
       layer("Reshape", {{"name", "reshape"}, {"target_shape", {20, 2}}}),
       layer("LocallyConnected1D", {{"name", "lc1"}, {"filters", 3}, {"kernel_size", {3}}})});
  {
    // A mixed_float16 dtype policy on the layers that compute.
    const json mixed = object("keras", "DTypePolicy", {{"name", "mixed_float16"}});
    add("dtype_policy", {6},
        {layer("Dense", {{"name", "dense"}, {"units", 4}, {"dtype", mixed}}),
         layer("Dense", {{"name", "out"}, {"units", 2}, {"dtype", "float32"}})});
  }
  // Integer ids with zeros: Embedding(mask_zero) masks them in the recurrent layers.
  {
    Case c = from_config(
        sequential("export_embedding_recurrent", {5},
                   {layer("Embedding", {{"name", "embedding"}, {"input_dim", 6}, {"output_dim", 3}, {"mask_zero", true}}),
                    layer("LSTM", {{"name", "lstm"}, {"units", 4}, {"return_sequences", true}}),
                    layer("GRU", {{"name", "gru"}, {"units", 3}, {"return_sequences", true}, {"go_backwards", true}}),
                    layer("SimpleRNN", {{"name", "rnn"}, {"units", 2}, {"activation", "relu"}})}),
        {5});
    c.inputs = {Tensor::from_vector<float>({1, 2, 3, 0, 0, 5, 4, 3, 2, 1, 2, 0, 0, 0, 0}, {3, 5})};
    cases.push_back(c);
  }
  const auto cell = [](const std::string& cls, json config) { return layer(cls, std::move(config)); };
  add("wrappers", {4, 3},
      {layer("Masking", {{"name", "masking"}, {"mask_value", 0.25}}),
       layer("Bidirectional", {{"name", "bidi"},
                               {"merge_mode", "concat"},
                               {"layer", layer("LSTM", {{"name", "fwd"}, {"units", 2}, {"return_sequences", true}})}}),
       layer("TimeDistributed", {{"name", "td"}, {"layer", layer("Dense", {{"name", "td_dense"}, {"units", 3}})}}),
       layer("RNN", {{"name", "rnn_lstm"}, {"return_sequences", true},
                     {"cell", cell("LSTMCell", {{"name", "lstm_cell"}, {"units", 2}})}}),
       layer("RNN", {{"name", "rnn_gru"}, {"return_sequences", true},
                     {"cell", cell("GRUCell", {{"name", "gru_cell"}, {"units", 2}, {"reset_after", false}})}}),
       layer("RNN", {{"name", "rnn_simple"}, {"cell", cell("SimpleRNNCell", {{"name", "simple_cell"}, {"units", 2}})}})});

  // Graphs with several inputs: every merge layer, and the attention layers.
  {
    auto a = layers::Input({4}, {.name = "a"});
    auto b = layers::Input({4}, {.name = "b"});
    auto ha = layers::Dense(4, {.activation = "tanh", .name = "ha"})(a);
    auto sum = layers::Add("add")({ha, b});
    auto diff = layers::Subtract("subtract")({ha, b});
    auto prod = layers::Multiply("multiply")({sum, diff});
    auto avg = layers::Average("average")({sum, prod, ha});
    auto hi = layers::Maximum("maximum")({avg, b});
    auto lo = layers::Minimum("minimum")({hi, diff});
    auto dot = layers::Dot(1, {.normalize = true, .name = "dot"})({sum, prod});
    Model m({a, b}, layers::Concatenate(-1, "concatenate")({lo, dot, prod}), "export_merge");
    give_distinct_weights(m);
    cases.push_back({"export_merge", m, {seq({3, 4}, 1.0, float32), seq({3, 4}, 0.7, float32, 0.2)}});
  }
  {
    auto q = layers::Input({3, 4}, {.name = "query"});
    auto v = layers::Input({5, 4}, {.name = "value"});
    auto dot = layers::Attention({.use_scale = true, .name = "attention"})({q, v});
    auto add = layers::AdditiveAttention({.name = "additive"})({q, v});
    auto mha = layers::MultiHeadAttention(2, 3, {.name = "mha"})({q, v});
    Model m({q, v}, layers::Concatenate(-1, "concat")({dot, add, mha}), "export_attention");
    give_distinct_weights(m);
    cases.push_back({"export_attention", m, {seq({3, 3, 4}, 1.0, float32), seq({3, 5, 4}, 0.8, float32, 0.1)}});
  }
  {
    // A Sequential inside a Functional model.
    Model inner = Sequential({layers::Input({4}), layers::Dense(3, {.activation = "relu", .name = "inner_dense"})},
                             "export_inner");
    auto x = layers::Input({4}, {.name = "x"});
    Model m(x, layers::Dense(2, {.name = "head"})(inner(x)), "export_nested");
    give_distinct_weights(m);
    cases.push_back({"export_nested", m, {seq({3, 4}, 1.0, float32)}});
  }
  return cases;
}

// The largest |a − b| / max(1, |b|) over every output.
double difference(const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    REQUIRE(got[i].shape() == want[i].shape());
    const auto g = got[i].astype(float64).to_vector<double>(), w = want[i].astype(float64).to_vector<double>();
    for (std::size_t k = 0; k < g.size(); ++k) worst = std::max(worst, std::abs(g[k] - w[k]) / std::max(1.0, std::abs(w[k])));
  }
  return worst;
}

}  // namespace

TEST_CASE("A model for every layer class lamina has survives .keras, .h5 and .weights.h5 and is exported for Keras",
          "[keras_export]") {
  lamina::testing::ScratchDir dir("keras_export");
  std::set<std::string> classes;
  for (Case& c : catalogue()) {
    INFO(c.name);
    const std::vector<Tensor> y = c.model(c.inputs, false);
    for (const Tensor& t : y) CHECK(t.numel() > 0);
    for (const char* ext : {".keras", ".h5"}) {
      const std::string path = dir.file(c.name + ext);
      c.model.save(path);
      Model back = models::load_model(path, {.compile = false});
      CHECK(back.to_json() == c.model.to_json());
      CHECK(difference(back(c.inputs, false), y) == 0.0);
    }
    Model rebuilt = models::model_from_json(c.model.to_json());
    c.model.save_weights(dir.file(c.name + ".weights.h5"));
    rebuilt.load_weights(dir.file(c.name + ".weights.h5"));
    CHECK(difference(rebuilt(c.inputs, false), y) == 0.0);
    lamina::testing::export_for_keras(c.name, c.model, c.inputs);
    lamina::testing::keras_export_detail::collect_classes(json::parse(c.model.to_json()), classes);
  }
  // A class lamina gains needs a model here (or in a Keras-made fixture test that exports).
  for (const std::string& cls : lamina::testing::keras_exported_classes()) {
    INFO("no model uses " << cls << ": add one to catalogue() in " << __FILE__);
    CHECK(classes.count(cls));
  }
}
