// SPDX-License-Identifier: Apache-2.0
// ONNX export: the encoder's bytes for small known messages (from the `onnx` Python package's
// own serialization, see the comments), the refusals, and a set of models exported with their
// inputs and lamina's predictions. With LAMINA_ONNX_EXPORT_DIR set, the [onnx_export] case
// writes each model there (<case>/model.onnx, input_<i>.npy, output_<i>.npy) for
// tests/tools/check_onnx_exports.py, which runs onnx.checker and onnxruntime on them (CI step
// "onnx").
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "io/onnx/onnx_proto.hpp"
#include "lamina/lamina.hpp"
#include "lamina/npy.hpp"
#include "lamina/onnx.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::shared_ptr<Layer> L(const std::string& class_name, json config = json::object()) {
  return layer_from_config(class_name, config);
}

Sequential seq(const Shape& input, const std::vector<std::shared_ptr<Layer>>& layers) {
  std::vector<LayerItem> items{layers::Input(input)};
  for (const auto& l : layers) items.emplace_back(l);
  return Sequential(items);
}

// The weights that start constant (biases, BatchNormalization's statistics, gamma and beta,
// PReLU's alpha...) made random (variances positive), so that no mapping hides behind zeros and
// ones; kernels keep their initializers' scale, so that float32 rounding stays that of a real model.
void randomize(Model& model, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  for (const auto& layer : model.layers()) {
    std::vector<Tensor> values;
    for (const auto& w : layer->weight_entries()) {
      std::vector<float> v = w.value.to_vector<float>();
      if (std::adjacent_find(v.begin(), v.end(), std::not_equal_to<>()) == v.end())
        for (float& x : v) x = w.name == "moving_variance" ? 0.75f + u(rng) : u(rng);
      values.push_back(Tensor::from_vector(v, w.value.shape()));
    }
    if (!values.empty()) layer->set_weights(values);
  }
}

Tensor random_input(const Shape& shape, std::mt19937& rng, int integers_below = 0) {
  std::vector<float> v(static_cast<std::size_t>(shape.numel()));
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  std::uniform_int_distribution<int> k(0, std::max(integers_below - 1, 0));
  for (float& x : v) x = integers_below ? static_cast<float>(k(rng)) : u(rng);
  return Tensor::from_vector(v, shape);
}

struct Case {
  std::string name;
  std::function<Model()> make;
  int integers_below = 0;  ///< token inputs for Embedding
  onnx::ExportOptions options{};
};

Model functional(const std::vector<Shape>& inputs, const std::function<KerasTensor(std::vector<KerasTensor>&)>& body) {
  std::vector<KerasTensor> ins;
  for (const Shape& s : inputs) ins.push_back(layers::Input(s));
  KerasTensor out = body(ins);
  return Model(ins, out);
}

Model merge(const std::string& class_name, json config = json::object()) {
  return functional({{4, 6}, {4, 6}}, [&](std::vector<KerasTensor>& in) {
    auto a = (*L("Dense", {{"units", 6}, {"activation", "tanh"}}))(in[0]);
    return (*L(class_name, config))(std::vector<KerasTensor>{a, in[1]});
  });
}

std::vector<Case> cases() {
  std::vector<Case> c;
  // The bundled examples' architectures.
  c.push_back({"example_mlp", [] {
                 return seq({28, 28}, {L("Flatten"), L("Dense", {{"units", 512}, {"activation", "relu"}}),
                                       L("Dropout", {{"rate", 0.2}}), L("Dense", {{"units", 10}, {"activation", "softmax"}})});
               }});
  c.push_back({"example_cnn", [] {
                 return seq({28, 28, 1},
                            {L("Conv2D", {{"filters", 32}, {"kernel_size", {3, 3}}, {"use_bias", false}}),
                             L("BatchNormalization"), L("Activation", {{"activation", "relu"}}),
                             L("MaxPooling2D", {{"pool_size", {2, 2}}}),
                             L("Conv2D", {{"filters", 64}, {"kernel_size", {3, 3}}, {"use_bias", false}}),
                             L("BatchNormalization"), L("Activation", {{"activation", "relu"}}),
                             L("MaxPooling2D", {{"pool_size", {2, 2}}}), L("Flatten"),
                             L("Dense", {{"units", 128}, {"activation", "relu"}}), L("Dropout", {{"rate", 0.3}}),
                             L("Dense", {{"units", 10}, {"activation", "softmax"}})});
               }});
  c.push_back({"example_lstm", [] {
                 return seq({28, 28}, {L("LSTM", {{"units", 128}}), L("Dense", {{"units", 10}, {"activation", "softmax"}})});
               }});
  c.push_back({"example_text_generation", [] {
                 return seq({40}, {L("Embedding", {{"input_dim", 30}, {"output_dim", 32}}), L("LSTM", {{"units", 128}}),
                                   L("Dense", {{"units", 30}, {"activation", "softmax"}})});
               }, 30});
  c.push_back({"example_multi_output", [] {
                 auto image = layers::Input({28, 28}, {.name = "image"});
                 auto x = (*L("Flatten"))(image);
                 x = (*L("Dense", {{"units", 64}, {"activation", "relu"}}))(x);
                 auto cls = (*L("Dense", {{"units", 10}, {"activation", "softmax"}, {"name", "cls"}}))(x);
                 auto group = (*L("Dense", {{"units", 3}, {"activation", "softmax"}, {"name", "group"}}))(x);
                 return Model(image, std::vector<KerasTensor>{cls, group});
               }});
  // One model per layer family and setting.
  for (const char* a : {"relu", "sigmoid", "tanh", "softmax", "gelu", "elu", "selu", "softplus", "softsign", "swish",
                        "leaky_relu", "hard_sigmoid", "hard_silu", "relu6", "exponential", "mish", "hard_tanh",
                        "log_sigmoid", "log_softmax", "linear", "celu", "hard_shrink", "soft_shrink", "tanh_shrink",
                        "squareplus", "sparse_sigmoid"})
    c.push_back({std::string("activation_") + a, [a] { return seq({7}, {L("Dense", {{"units", 5}, {"activation", a}})}); }});
  c.push_back({"dense_3d_no_bias", [] { return seq({4, 6}, {L("Dense", {{"units", 3}, {"use_bias", false}})}); }});
  c.push_back({"conv1d_same_strided", [] {
                 return seq({11, 3}, {L("Conv1D", {{"filters", 4}, {"kernel_size", {3}}, {"strides", {2}},
                                                   {"padding", "same"}, {"activation", "relu"}})});
               }});
  c.push_back({"conv1d_causal_dilated", [] {
                 return seq({10, 3}, {L("Conv1D", {{"filters", 4}, {"kernel_size", {3}}, {"padding", "causal"},
                                                   {"dilation_rate", {2}}})});
               }});
  c.push_back({"conv2d_same_strided", [] {
                 return seq({9, 8, 3}, {L("Conv2D", {{"filters", 5}, {"kernel_size", {3, 2}}, {"strides", {2, 2}},
                                                     {"padding", "same"}})});
               }});
  c.push_back({"conv2d_dilated_groups", [] {
                 return seq({9, 9, 4}, {L("Conv2D", {{"filters", 6}, {"kernel_size", {3, 3}}, {"dilation_rate", {2, 2}},
                                                     {"groups", 2}})});
               }});
  c.push_back({"conv3d", [] { return seq({5, 6, 5, 2}, {L("Conv3D", {{"filters", 3}, {"kernel_size", {2, 3, 2}}})}); }});
  c.push_back({"conv2d_transpose_same", [] {
                 return seq({5, 4, 3}, {L("Conv2DTranspose", {{"filters", 4}, {"kernel_size", {3, 3}}, {"strides", {2, 2}},
                                                              {"padding", "same"}})});
               }});
  c.push_back({"conv2d_transpose_valid", [] {
                 return seq({5, 4, 3}, {L("Conv2DTranspose", {{"filters", 2}, {"kernel_size", {3, 2}},
                                                              {"strides", {2, 1}}})});
               }});
  c.push_back({"conv2d_transpose_small_kernel", [] {
                 return seq({4, 4, 2}, {L("Conv2DTranspose", {{"filters", 2}, {"kernel_size", {2, 2}}, {"strides", {3, 3}},
                                                              {"padding", "same"}})});
               }});
  c.push_back({"conv1d_transpose_same", [] {
                 return seq({5, 3}, {L("Conv1DTranspose", {{"filters", 2}, {"kernel_size", {4}}, {"strides", {2}},
                                                          {"padding", "same"}})});
               }});
  c.push_back({"conv3d_transpose", [] {
                 return seq({3, 4, 3, 2}, {L("Conv3DTranspose", {{"filters", 2}, {"kernel_size", {2, 3, 2}},
                                                                {"strides", {2, 1, 2}}, {"padding", "same"}})});
               }});
  c.push_back({"depthwise_conv1d", [] {
                 return seq({9, 3}, {L("DepthwiseConv1D", {{"kernel_size", {3}}, {"depth_multiplier", 2}, {"strides", {2}}})});
               }});
  c.push_back({"volumes_3d", [] {
                 return seq({4, 5, 4, 2}, {L("ZeroPadding3D", {{"padding", {{1, 0}, {0, 1}, {1, 1}}}}),
                                           L("MaxPooling3D", {{"pool_size", {2, 2, 2}}, {"padding", "same"}}),
                                           L("UpSampling3D", {{"size", {1, 2, 1}}}),
                                           L("Cropping3D", {{"cropping", {{0, 1}, {1, 0}, {0, 1}}}}),
                                           L("AveragePooling3D", {{"pool_size", {1, 2, 1}}}),
                                           L("GlobalMaxPooling3D")});
               }});
  c.push_back({"depthwise_conv2d", [] {
                 return seq({8, 7, 3}, {L("DepthwiseConv2D", {{"kernel_size", {3, 3}}, {"depth_multiplier", 2},
                                                              {"padding", "same"}, {"strides", {2, 2}}})});
               }});
  c.push_back({"separable_conv2d", [] {
                 return seq({8, 7, 3}, {L("SeparableConv2D", {{"filters", 5}, {"kernel_size", {3, 3}}, {"depth_multiplier", 2},
                                                              {"activation", "relu"}})});
               }});
  c.push_back({"separable_conv1d", [] {
                 return seq({9, 3}, {L("SeparableConv1D", {{"filters", 4}, {"kernel_size", {3}}, {"padding", "same"}})});
               }});
  c.push_back({"pooling2d_same", [] {
                 return seq({7, 7, 2}, {L("MaxPooling2D", {{"pool_size", {3, 3}}, {"strides", {2, 2}}, {"padding", "same"}}),
                                        L("AveragePooling2D", {{"pool_size", {2, 2}}, {"padding", "same"}})});
               }});
  c.push_back({"pooling1d", [] {
                 return seq({9, 2}, {L("AveragePooling1D", {{"pool_size", {2}}}), L("MaxPooling1D", {{"pool_size", {2}}})});
               }});
  c.push_back({"global_pooling", [] {
                 return functional({{5, 6, 3}}, [](std::vector<KerasTensor>& in) {
                   auto a = (*L("GlobalAveragePooling2D"))(in[0]);
                   auto m = (*L("GlobalMaxPooling2D"))(in[0]);
                   return (*L("Concatenate"))(std::vector<KerasTensor>{a, m});
                 });
               }});
  c.push_back({"global_pooling1d_keepdims", [] { return seq({6, 3}, {L("GlobalAveragePooling1D", {{"keepdims", true}})}); }});
  c.push_back({"batch_normalization", [] { return seq({5, 4}, {L("BatchNormalization", {{"epsilon", 0.01}})}); }});
  c.push_back({"layer_normalization", [] { return seq({5, 4}, {L("LayerNormalization")}); }});
  c.push_back({"layer_normalization_two_axes", [] { return seq({3, 5, 4}, {L("LayerNormalization", {{"axis", {-2, -1}}})}); }});
  c.push_back({"reshaping", [] {
                 return seq({6, 4}, {L("Reshape", {{"target_shape", {3, 8}}}), L("Permute", {{"dims", {2, 1}}}),
                                     L("Flatten"), L("RepeatVector", {{"n", 3}})});
               }});
  c.push_back({"padding_cropping", [] {
                 return seq({5, 6, 2}, {L("ZeroPadding2D", {{"padding", {{1, 2}, {0, 3}}}}),
                                        L("Cropping2D", {{"cropping", {{2, 0}, {1, 1}}}}),
                                        L("Reshape", {{"target_shape", {-1, 2}}}),
                                        L("ZeroPadding1D", {{"padding", {2, 1}}}), L("Cropping1D", {{"cropping", {1, 2}}})});
               }});
  c.push_back({"upsampling_nearest", [] {
                 return seq({3, 4, 2}, {L("UpSampling2D", {{"size", {2, 3}}}), L("Reshape", {{"target_shape", {-1, 2}}}),
                                        L("UpSampling1D", {{"size", 2}})});
               }});
  c.push_back({"upsampling_bilinear", [] {
                 return seq({3, 4, 2}, {L("UpSampling2D", {{"size", {2, 2}}, {"interpolation", "bilinear"}})});
               }});
  c.push_back({"rescaling_unit_normalization", [] {
                 return seq({4, 3}, {L("Rescaling", {{"scale", 0.5}, {"offset", -0.25}}), L("UnitNormalization"),
                                     L("ThresholdedReLU", {{"theta", 0.1}}), L("RandomFlip")});
               }});
  c.push_back({"embedding", [] { return seq({5}, {L("Embedding", {{"input_dim", 11}, {"output_dim", 4}})}); }, 11});
  c.push_back({"activation_layers", [] {
                 return seq({3, 6}, {L("ReLU", {{"max_value", 1.0}, {"negative_slope", 0.1}}), L("Dense", {{"units", 6}}),
                                     L("LeakyReLU", {{"negative_slope", 0.3}}), L("ELU", {{"alpha", 0.7}}),
                                     L("PReLU"), L("Softmax", {{"axis", 1}})});
               }});
  for (const char* m : {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})
    c.push_back({std::string("merge_") + m, [m] { return merge(m); }});
  c.push_back({"merge_Concatenate", [] { return merge("Concatenate", {{"axis", 1}}); }});
  c.push_back({"lstm_sequences", [] { return seq({5, 3}, {L("LSTM", {{"units", 4}, {"return_sequences", true}})}); }});
  c.push_back({"lstm_states", [] {
                 return functional({{5, 3}}, [](std::vector<KerasTensor>& in) {
                   auto outs = L("LSTM", {{"units", 4}, {"return_state", true}})->outputs_of(in[0]);
                   return (*L("Concatenate"))(outs);
                 });
               }});
  c.push_back({"gru_reset_after", [] { return seq({5, 3}, {L("GRU", {{"units", 4}})}); }});
  c.push_back({"gru_reset_before", [] {
                 return seq({5, 3}, {L("GRU", {{"units", 4}, {"reset_after", false}, {"return_sequences", true}})});
               }});
  c.push_back({"simple_rnn", [] { return seq({5, 3}, {L("SimpleRNN", {{"units", 4}, {"return_sequences", true}})}); }});
  for (const char* mode : {"concat", "sum", "mul", "ave"})
    c.push_back({std::string("bidirectional_lstm_") + mode, [mode] {
                   json lstm = {{"class_name", "LSTM"}, {"config", {{"units", 4}, {"return_sequences", true}}}};
                   return seq({5, 3}, {L("Bidirectional", {{"layer", lstm}, {"merge_mode", mode}})});
                 }});
  c.push_back({"bidirectional_gru_last", [] {
                 json gru = {{"class_name", "GRU"}, {"config", {{"units", 4}}}};
                 return seq({5, 3}, {L("Bidirectional", {{"layer", gru}})});
               }});
  c.push_back({"multi_head_attention", [] {
                 return functional({{5, 6}, {4, 3}}, [](std::vector<KerasTensor>& in) {
                   return (*L("MultiHeadAttention", {{"num_heads", 2}, {"key_dim", 3}, {"value_dim", 4}}))(
                       std::vector<KerasTensor>{in[0], in[1]});
                 });
               }});
  c.push_back({"self_attention_causal", [] {
                 return functional({{5, 6}}, [](std::vector<KerasTensor>& in) {
                   return (*L("MultiHeadAttention", {{"num_heads", 3}, {"key_dim", 2}, {"use_causal_mask", true}}))(
                       std::vector<KerasTensor>{in[0], in[0], in[0]});
                 });
               }});
  for (const char* mode : {"dot", "concat"})
    c.push_back({std::string("attention_") + mode, [mode] {
                   return functional({{5, 4}, {3, 4}}, [mode](std::vector<KerasTensor>& in) {
                     return (*L("Attention", {{"use_scale", true}, {"score_mode", mode}}))(std::vector<KerasTensor>{in[0], in[1]});
                   });
                 }});
  c.push_back({"attention_causal_with_key", [] {
                 return functional({{4, 3}, {4, 2}, {4, 3}}, [](std::vector<KerasTensor>& in) {
                   return (*L("Attention", {{"use_causal_mask", true}}))(in);
                 });
               }});
  c.push_back({"additive_attention", [] {
                 return functional({{5, 4}, {3, 4}}, [](std::vector<KerasTensor>& in) {
                   return (*L("AdditiveAttention"))(std::vector<KerasTensor>{in[0], in[1]});
                 });
               }});
  c.push_back({"time_distributed", [] {
                 json dense = {{"class_name", "Dense"}, {"config", {{"units", 3}, {"activation", "tanh"}}}};
                 json conv = {{"class_name", "Conv2D"}, {"config", {{"filters", 2}, {"kernel_size", {2, 2}}}}};
                 return seq({4, 5, 5, 2}, {L("TimeDistributed", {{"layer", conv}}), L("Reshape", {{"target_shape", {4, 32}}}),
                                           L("TimeDistributed", {{"layer", dense}})});
               }});
  c.push_back({"group_rms_normalization", [] {
                 return seq({3, 4, 6}, {L("GroupNormalization", {{"groups", 3}}), L("RMSNormalization", {{"axis", -1}})});
               }});
  c.push_back({"nested_sequential", [] {
                 Sequential inner = seq({6}, {L("Dense", {{"units", 4}, {"activation", "relu"}})});
                 return functional({{6}}, [&](std::vector<KerasTensor>& in) {
                   return (*L("Dense", {{"units", 2}}))(inner(in[0]));
                 });
               }});
  // Later opsets (Reduce* axes become inputs at 18) and a fixed batch.
  c.push_back({"example_mlp_opset21", c[0].make, 0, {.opset = 21}});
  std::vector<Case> later;
  for (const Case& k : c)
    if (k.name == "global_pooling" || k.name == "rescaling_unit_normalization")
      later.push_back({k.name + "_opset18", k.make, 0, {.opset = 18}});
  c.insert(c.end(), later.begin(), later.end());
  c.push_back({"example_cnn_fixed_batch", c[1].make, 0, {.opset = 17, .dynamic_batch = false, .batch_size = 3}});
  return c;
}

}  // namespace

TEST_CASE("onnx encoder writes the bytes of the onnx package for a node", "[onnx]") {
  // onnx.helper.make_node("Relu", ["x"], ["y"]).SerializeToString()
  onnx::proto::Node n{.op_type = "Relu", .name = "", .inputs = {"x"}, .outputs = {"y"}, .attributes = {}};
  CHECK(hex(onnx::proto::encode(n)) == "0a0178120179220452656c75");
}

TEST_CASE("onnx encoder writes the bytes of the onnx package for attributes", "[onnx]") {
  // onnx.helper.make_attribute("axis", -1), ("alpha", 0.5), ("direction", "reverse")
  onnx::proto::Attribute axis;
  axis.name = "axis";
  axis.type = onnx::proto::Attribute::Type::Int;
  axis.i = -1;
  CHECK(hex(onnx::proto::encode(axis)) == "0a046178697318ffffffffffffffffff01a00102");
  onnx::proto::Attribute alpha;
  alpha.name = "alpha";
  alpha.type = onnx::proto::Attribute::Type::Float;
  alpha.f = 0.5f;
  CHECK(hex(onnx::proto::encode(alpha)) == "0a05616c706861150000003fa00101");
  onnx::proto::Attribute dir;
  dir.name = "direction";
  dir.type = onnx::proto::Attribute::Type::String;
  dir.s = "reverse";
  CHECK(hex(onnx::proto::encode(dir)) == "0a09646972656374696f6e220772657665727365a00103");
  // Repeated ints packed (the package writes them unpacked; parsers read both): field 8 as one
  // length-delimited run of varints.
  onnx::proto::Attribute perm;
  perm.name = "perm";
  perm.type = onnx::proto::Attribute::Type::Ints;
  perm.ints = {0, 2, 1, 300};
  CHECK(hex(onnx::proto::encode(perm)) == "0a047065726d4205000201ac02a00107");
}

TEST_CASE("onnx encoder writes a float tensor with raw data", "[onnx]") {
  // onnx.TensorProto(dims=[2], data_type=1, name="w", raw_data=<1.0, -2.0>) serializes as
  // 080210014201774a08..., dims unpacked; ours packs dims (0a0102), the rest is identical.
  onnx::proto::Tensor t{.name = "w", .type = onnx::proto::DataType::Float, .dims = {2},
                        .raw = std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8)};
  CHECK(hex(onnx::proto::encode(t)) == "0a010210014201774a080000803f000000c0");
}

TEST_CASE("onnx export refuses a layer without mapping naming the layer and class", "[onnx]") {
  Sequential model = seq({4, 3}, {L("Masking", {{"name", "my_mask"}}), L("LSTM", {{"units", 2}})});
  REQUIRE_THROWS_AS(onnx::to_onnx_bytes(model), ValueError);
  REQUIRE_THROWS_WITH(onnx::to_onnx_bytes(model),
                      Contains("ONNX export: Masking 'my_mask': this layer class has no ONNX mapping"));
}

TEST_CASE("onnx export refuses settings without mapping", "[onnx]") {
  Sequential stateless = seq({4, 3}, {L("LSTM", {{"units", 2}, {"go_backwards", true}, {"name", "back"}})});
  REQUIRE_THROWS_WITH(onnx::to_onnx_bytes(stateless), Contains("LSTM 'back': go_backwards=True"));
  Sequential masked = seq({4}, {L("Embedding", {{"input_dim", 5}, {"output_dim", 2}, {"mask_zero", true}})});
  REQUIRE_THROWS_WITH(onnx::to_onnx_bytes(masked), Contains("mask_zero=True has no ONNX mapping"));
  Sequential custom = seq({3}, {L("Dense", {{"units", 2}, {"name", "d"}})});
  REQUIRE_THROWS_WITH(onnx::to_onnx_bytes(custom, {.opset = 13}), Contains("opset 13 is not supported"));
}

namespace {
struct TwoDense : Model {
  layers::Dense hidden = track("hidden", layers::Dense(3));
  TwoDense() : Model(SubclassOptions{}) {}
  Tensor call(const Tensor& x, bool training) override { return hidden(x, training); }
};
}  // namespace

TEST_CASE("onnx export refuses a subclassed model", "[onnx]") {
  TwoDense model;
  model(Tensor::ones({2, 4}));
  REQUIRE_THROWS_WITH(onnx::to_onnx_bytes(model), Contains("a subclassed model's call() is C++ code"));
}

TEST_CASE("onnx export writes every model of the layer set", "[onnx][onnx_export]") {
  const char* dir_env = std::getenv("LAMINA_ONNX_EXPORT_DIR");
  const std::filesystem::path dir =
      dir_env ? std::filesystem::path(dir_env)
              : std::filesystem::temp_directory_path() / ("lamina_onnx_export_test_" + std::to_string(::getpid()));
  std::mt19937 rng(7);
  set_seed(7);
  int written = 0;
  for (const Case& k : cases()) {
    INFO(k.name);
    Model model = k.make();
    randomize(model, rng);
    std::vector<Tensor> xs;
    for (const KerasTensor& t : model.inputs()) {
      Shape s = t.shape;
      s[0] = 3;
      xs.push_back(random_input(s, rng, k.integers_below));
    }
    const std::vector<Tensor> ys = model.predict_outputs(TensorArg(xs));
    const auto case_dir = dir / k.name;
    std::filesystem::create_directories(case_dir);
    const onnx::ExportReport report = onnx::export_model(model, (case_dir / "model.onnx").string(), k.options);
    CHECK(report.file_size == std::filesystem::file_size(case_dir / "model.onnx"));
    REQUIRE_FALSE(report.layers.empty());
    for (const auto& l : report.layers) CHECK((!l.ops.empty() || l.class_name == "Activation"));
    for (std::size_t i = 0; i < xs.size(); ++i) io::save_npy((case_dir / ("input_" + std::to_string(i) + ".npy")).string(), xs[i]);
    for (std::size_t i = 0; i < ys.size(); ++i) io::save_npy((case_dir / ("output_" + std::to_string(i) + ".npy")).string(), ys[i]);
    ++written;
  }
  CHECK(written >= 80);
  if (!dir_env) std::filesystem::remove_all(dir);
}
