// SPDX-License-Identifier: Apache-2.0
// fuzz/make_seeds.cpp — the files lamina itself writes, as seeds for the harnesses: whole models
// (.h5 and .keras, compiled so that the training config and optimizer state are there), the
// load_weights harness's model's weights in both layouts, to_json output and .npy arrays.
// Usage: fuzz_make_seeds OUT (writes OUT/<harness>/lamina_*); fuzz/seeds.sh runs it.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <lamina/lamina.hpp>

#include "fuzz/entry_points.hpp"

using namespace lamina;

namespace {

std::string out_dir;

std::string file(const std::string& harness, const std::string& name) {
  std::filesystem::create_directories(out_dir + "/" + harness);
  return out_dir + "/" + harness + "/" + name;
}

void save_all(Model model, const std::string& name, bool compile) {
  if (compile) {
    model.compile({.optimizer = optimizers::Adam(), .loss = "mse", .metrics = {"mae"}});
    const Shape in = model.input_shape();
    Shape x_shape = in;
    x_shape[0] = 2;
    const Tensor x = Tensor::zeros(x_shape);
    model.train_on_batch(x, model.predict(x, {.verbose = 0}));  // optimizer slots exist
  }
  model.save(file("h5_model", "lamina_" + name + ".h5"));
  model.save(file("keras_model", "lamina_" + name + ".keras"));
  std::ofstream(file("model_json", "lamina_" + name + ".json")) << model.to_json();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_seeds OUT\n";
    return 2;
  }
  out_dir = argv[1];
  set_seed(1);
  save_all(Sequential({layers::Input({3}), layers::Dense(4, {.activation = "relu"}), layers::Dense(2)}), "mlp", true);
  save_all(fuzz::weights_target(), "conv_bn", true);
  save_all(Sequential({layers::Input({5}, {.dtype = DType::int32}), layers::Embedding(7, 3, {.mask_zero = true}),
                       layers::LSTM(2)}),
           "embedding_lstm", false);
  {
    auto a = layers::Input({4}, {.name = "a"});
    auto b = layers::Input({4}, {.name = "b"});
    auto sum = layers::Add()({layers::Dense(4)(a), b});
    save_all(Model({a, b}, layers::Concatenate()({sum, a})), "two_inputs", false);
  }
  Model target = fuzz::weights_target();
  target.save_weights(file("weights_h5", "lamina_conv_bn.weights.h5"));
  target.save_weights(file("weights_h5", "lamina_conv_bn_legacy.h5"));
  target.save(file("weights_h5", "lamina_conv_bn_model.h5"));
  io::save_npy(file("npy", "lamina_float32.npy"), Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}));
  io::save_npy(file("npy", "lamina_scalar.npy"), Tensor::zeros({}));
  return 0;
}
