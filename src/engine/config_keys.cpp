// SPDX-License-Identifier: Apache-2.0
// The config-key audit: for each built-in layer class, the keys of its Keras config that lamina
// honours, and those it implements only at Keras's default. A file whose layer holds anything else
// is refused by name (layer, key, value) instead of loading with the value silently dropped.
// The key lists are the union of what Keras 3 and tf.keras 2 write (get_config()) and what older
// Keras 2 files carry; tests/fixtures/make_keras_fidelity_fixtures.py prints the current ones.
#include <map>
#include <set>

#include "engine/config.hpp"
#include "lamina/errors.hpp"

namespace lamina::engine {

namespace {

using json = nlohmann::json;

// Keys of Keras's base Layer: name and bookkeeping, or the input shape a first layer carries
// (read by the model reader).
const std::set<std::string> kBase = {"name",       "trainable",   "dtype",     "batch_input_shape", "batch_shape",
                                     "batch_size", "input_shape", "input_dim", "autocast"};

const std::vector<json> kNull{nullptr};
const std::vector<json> kFalse{false};
const std::vector<json> kChannelsLast{nullptr, "channels_last"};

std::vector<KeyRule> common_rules(const std::string& cls) {
  std::vector<KeyRule> r;
  auto add = [&](const char* key, const std::vector<json>& values, const char* why) { r.push_back({key, values, why}); };
  static const std::set<std::string> spatial = {
      "Conv1D",          "Conv2D",          "Conv2DTranspose",        "DepthwiseConv2D",        "SeparableConv2D",
      "MaxPooling1D",    "MaxPooling2D",    "AveragePooling1D",       "AveragePooling2D",       "GlobalMaxPooling1D",
      "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "ZeroPadding1D", "ZeroPadding2D",
      "Cropping1D",      "Cropping2D",      "UpSampling1D",           "UpSampling2D",           "Flatten",
      "SpatialDropout1D", "SpatialDropout2D"};
  if (spatial.count(cls))
    add("data_format", kChannelsLast, "lamina's spatial layers compute on channels_last (NHWC) inputs only");
  static const std::set<std::string> rnn = {"RNN", "SimpleRNN", "LSTM", "GRU"};
  if (rnn.count(cls)) {
    add("time_major", kFalse, "lamina's recurrent layers read (batch, steps, features)");
    add("zero_output_for_mask", kFalse,
        "masked steps repeat the previous output (Keras's default; Bidirectional zeroes them itself)");
  }
  if (cls == "Dense" || cls == "Embedding" || cls == "EinsumDense") {
    add("quantization_config", kNull, "quantized layers are not implemented");
    add("lora_rank", kNull, "LoRA is not implemented");
  }
  if (cls == "BatchNormalization") {
    add("renorm", kFalse, "batch renormalization is not implemented");
    add("virtual_batch_size", kNull, "ghost batch normalization is not implemented");
    add("adjustment", kNull, "the adjustment function is Python code");
  }
  if (cls == "Conv2DTranspose" || cls == "DepthwiseConv2D") add("groups", {nullptr, 1}, "grouped convolution is not implemented here");
  if (cls == "MultiHeadAttention") {
    add("use_gate", kFalse, "gated attention is not implemented");
    add("sliding_window", kNull, "sliding-window attention is not implemented");
    add("softmax_robust_masking", kFalse, "robust masking is not implemented");
  }
  if (cls == "SpatialDropout1D" || cls == "SpatialDropout2D") add("noise_shape", kNull, "the mask's shape is fixed by the layer");
  return r;
}

// Keys each class's from_config reads (or that do not change its results: implementation and
// unroll pick a computation order, seed the training-time draws of layers whose noise no file
// records, build shapes what the model reader knows anyway).
const std::map<std::string, std::set<std::string>>& honoured_keys() {
  static const std::set<std::string> kb = {"kernel_regularizer", "bias_regularizer", "activity_regularizer",
                                           "kernel_constraint", "bias_constraint"};
  static const std::set<std::string> conv = [] {
    std::set<std::string> s = {"filters",  "kernel_size", "strides",           "padding",          "dilation_rate",
                               "groups",   "activation",  "use_bias",          "kernel_initializer", "bias_initializer"};
    s.insert(kb.begin(), kb.end());
    return s;
  }();
  static const std::set<std::string> cell = {"units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
                                             "recurrent_initializer", "bias_initializer", "unit_forget_bias",
                                             "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                                             "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
                                             "recurrent_dropout", "reset_after", "seed", "implementation"};
  static const std::set<std::string> rnn_flags = {"return_sequences", "return_state", "go_backwards", "stateful", "unroll"};
  static const std::map<std::string, std::set<std::string>> table = [&] {
    std::map<std::string, std::set<std::string>> t;
    auto join = [](std::initializer_list<std::set<std::string>> parts) {
      std::set<std::string> s;
      for (const auto& p : parts) s.insert(p.begin(), p.end());
      return s;
    };
    t["Dense"] = join({{"units", "activation", "use_bias", "kernel_initializer", "bias_initializer", "lora_alpha"}, kb});
    t["Activation"] = {"activation"};
    t["Dropout"] = {"rate", "noise_shape", "seed"};
    t["Flatten"] = {};
    t["Reshape"] = {"target_shape"};
    for (const char* m : {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}) t[m] = {};
    t["Concatenate"] = {"axis"};
    t["Dot"] = {"axes", "normalize"};
    t["Conv1D"] = conv;
    t["Conv2D"] = conv;
    t["Conv2DTranspose"] = join({conv, {"output_padding"}});
    const std::set<std::string> depthwise = {"kernel_size", "strides", "padding", "depth_multiplier", "dilation_rate",
                                             "activation", "use_bias", "depthwise_initializer", "bias_initializer",
                                             "depthwise_regularizer", "bias_regularizer", "activity_regularizer",
                                             "depthwise_constraint", "bias_constraint"};
    t["DepthwiseConv2D"] = depthwise;
    // tf.keras's SeparableConv2D also writes its unused kernel_* keys (it has no such kernel).
    t["SeparableConv2D"] = join({depthwise,
                                 {"filters", "pointwise_initializer", "pointwise_regularizer", "pointwise_constraint",
                                  "kernel_initializer", "kernel_regularizer", "kernel_constraint", "groups"}});
    for (const char* p : {"MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D"})
      t[p] = {"pool_size", "strides", "padding"};
    for (const char* p : {"GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D"})
      t[p] = {"keepdims"};
    const std::set<std::string> beta_gamma = {"axis", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer",
                                              "beta_regularizer", "gamma_regularizer", "beta_constraint",
                                              "gamma_constraint"};
    // renorm_clipping/renorm_momentum only act with renorm (refused); fused and synchronized
    // pick the kernel or the devices, not the result.
    t["BatchNormalization"] = join({beta_gamma, {"momentum", "moving_mean_initializer", "moving_variance_initializer",
                                                 "renorm_clipping", "renorm_momentum", "fused", "synchronized"}});
    t["LayerNormalization"] = join({beta_gamma, {"rms_scaling"}});
    t["GroupNormalization"] = join({beta_gamma, {"groups"}});
    t["UnitNormalization"] = {"axis"};
    t["RMSNormalization"] = {"axis", "epsilon"};
    // tf.keras 2 names LeakyReLU's slope alpha; Softmax's robust_masking (tf.keras, written only
    // when true) is not honoured.
    t["ReLU"] = {"max_value", "negative_slope", "threshold"};
    t["LeakyReLU"] = {"negative_slope", "alpha"};
    t["PReLU"] = {"alpha_initializer", "alpha_regularizer", "alpha_constraint", "shared_axes"};
    t["ELU"] = {"alpha"};
    t["Softmax"] = {"axis"};
    t["ThresholdedReLU"] = {"theta"};
    t["Identity"] = {};
    t["AlphaDropout"] = {"rate", "noise_shape", "seed"};
    t["EinsumDense"] = join({kb, {"equation", "output_shape", "activation", "bias_axes", "kernel_initializer",
                                  "bias_initializer", "lora_alpha"}});
    t["Embedding"] = {"input_dim", "output_dim", "embeddings_initializer", "embeddings_regularizer",
                      "activity_regularizer", "embeddings_constraint", "mask_zero", "input_length", "lora_alpha"};
    for (const char* c : {"SimpleRNNCell", "LSTMCell", "GRUCell"}) t[c] = cell;
    for (const char* r : {"SimpleRNN", "LSTM", "GRU"}) t[r] = join({cell, rnn_flags, {"activity_regularizer"}});
    t["RNN"] = join({rnn_flags, {"cell"}});
    t["Bidirectional"] = {"layer", "backward_layer", "merge_mode"};
    t["TimeDistributed"] = {"layer"};
    t["ZeroPadding1D"] = {"padding"};
    t["ZeroPadding2D"] = {"padding"};
    t["Cropping1D"] = {"cropping"};
    t["Cropping2D"] = {"cropping"};
    t["UpSampling1D"] = {"size"};
    t["UpSampling2D"] = {"size", "interpolation"};
    t["Permute"] = {"dims"};
    t["RepeatVector"] = {"n"};
    t["Masking"] = {"mask_value"};
    t["SpatialDropout1D"] = {"rate", "seed"};
    t["SpatialDropout2D"] = {"rate", "seed"};
    t["GaussianNoise"] = {"stddev", "seed"};
    t["GaussianDropout"] = {"rate", "seed"};
    t["ActivityRegularization"] = {"l1", "l2"};
    t["Attention"] = {"use_scale", "score_mode", "dropout", "seed", "causal", "use_causal_mask"};
    t["AdditiveAttention"] = {"use_scale", "dropout", "seed", "causal", "use_causal_mask"};
    t["MultiHeadAttention"] = join({kb, {"num_heads", "key_dim", "value_dim", "dropout", "use_bias", "output_shape",
                               "attention_axes", "kernel_initializer", "bias_initializer", "seed", "query_shape",
                               "key_shape", "value_shape", "use_causal_mask"}});
    return t;
  }();
  return table;
}

// Keras's "off" values: a key lamina does not know that holds one of them asks for nothing.
bool is_off(const json& v) { return v.is_null() || v == false; }

}  // namespace

std::vector<KeyRule> config_key_rules(const std::string& class_name) { return common_rules(class_name); }

std::vector<std::string> audited_layer_classes() {
  std::vector<std::string> out;
  for (const auto& [cls, keys] : honoured_keys()) out.push_back(cls);
  return out;
}

const std::set<std::string>* config_keys_honoured(const std::string& class_name) {
  const auto& t = honoured_keys();
  auto it = t.find(class_name);
  return it == t.end() ? nullptr : &it->second;
}

void check_config_keys(const std::string& class_name, const json& config) {
  const std::set<std::string>* honoured = config_keys_honoured(class_name);
  if (!honoured || !config.is_object()) return;  // a user's class reads its own config
  const std::vector<KeyRule> rules = common_rules(class_name);
  for (const auto& [key, value] : config.items()) {
    bool ruled = false;
    for (const KeyRule& r : rules) {
      if (r.key != key) continue;
      ruled = true;
      bool ok = false;
      for (const json& a : r.accepted) ok |= a == value;
      if (!ok) throw ValueError(key + "=" + value.dump() + " is not supported: " + r.why);
    }
    if (ruled || kBase.count(key) || honoured->count(key) || is_off(value)) continue;
    throw ValueError(key + "=" + value.dump() + " is not a " + class_name +
                     " argument lamina implements, and ignoring it could change the results");
  }
}

}  // namespace lamina::engine
