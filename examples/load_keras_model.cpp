// SPDX-License-Identifier: Apache-2.0
// Loads a Keras model (a whole file, or a JSON architecture plus its weights), prints its summary
// and predicts on inputs read from .npy files, or on one sample of zeros.
//
//   load_keras_model MODEL [INPUT.npy ...] [--weights WEIGHTS] [--output OUT.npy]
//
//   MODEL              a whole model: .keras, .h5 or .hdf5 (Keras 2, Keras 3 or lamina), or an
//                      architecture as JSON (.json, Keras's or lamina's model.to_json())
//   INPUT.npy          one file per model input, in the order of the model's inputs; without
//                      them the model predicts on one sample of zeros of its input shapes
//   --weights WEIGHTS  loaded into the model after it is built: a Keras 3 .weights.h5, a legacy
//                      .h5 weights file or a whole-model .h5; required with a .json MODEL
//   --output OUT.npy   writes the predictions with save_npy; a model with several outputs writes
//                      OUT_0.npy, OUT_1.npy, ... in the order of its outputs
//
// e.g. load_keras_model model.keras images.npy --output probs.npy
//      load_keras_model model.json --weights model.weights.h5 images.npy
//
// Predictions print one line per row of the last axis, at full precision (9 significant digits
// for float32, 17 for float64), so that they read back bit for bit.
// Exit status: 0 done, 1 error (a file that cannot be read, inputs that do not fit), 2 usage.
#include <cinttypes>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <lamina/lamina.hpp>

using namespace lamina;

namespace {

constexpr const char* kUsage =
    "usage: load_keras_model MODEL [INPUT.npy ...] [--weights WEIGHTS] [--output OUT.npy]\n"
    "  MODEL              .keras, .h5 or .hdf5 model, or a .json architecture (needs --weights)\n"
    "  INPUT.npy          one per model input, in order; default: one sample of zeros\n"
    "  --weights WEIGHTS  .weights.h5, legacy weights .h5 or whole-model .h5 to load\n"
    "  --output OUT.npy   write the predictions; several outputs: OUT_0.npy, OUT_1.npy, ...\n";

struct Args {
  std::string model, weights, output;
  std::vector<std::string> inputs;
};

struct UsageError {
  std::string what;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--weights" || arg == "--output") {
      if (i + 1 == argc) throw UsageError{arg + " needs a file name"};
      (arg == "--weights" ? a.weights : a.output) = argv[++i];
    } else if (arg.starts_with("-")) {
      throw UsageError{"unknown option " + arg};
    } else if (a.model.empty()) {
      a.model = arg;
    } else {
      a.inputs.push_back(arg);
    }
  }
  if (a.model.empty()) throw UsageError{"no MODEL given"};
  if (ends_with(a.model, ".json") && a.weights.empty())
    throw UsageError{"a .json MODEL holds the architecture only: give its weights with --weights"};
  return a;
}

Model load(const Args& a) {
  Model model;
  if (ends_with(a.model, ".json")) {
    std::ifstream in(a.model);
    if (!in) throw FileFormatError(a.model + ": cannot open");
    try {
      model = models::model_from_json({std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()});
    } catch (const Error& e) {
      throw FileFormatError(a.model + ": " + e.what());
    }
  } else {
    model = models::load_model(a.model, {.compile = false});
  }
  if (!a.weights.empty()) model.load_weights(a.weights);
  return model;
}

std::vector<Tensor> read_inputs(const Model& model, const std::vector<std::string>& files) {
  const std::vector<KerasTensor> inputs = model.inputs();
  if (inputs.empty()) throw ValueError("the model's inputs are unknown (a Sequential without an Input?)");
  if (!files.empty() && files.size() != inputs.size())
    throw ValueError("the model has " + std::to_string(inputs.size()) + " inputs, " +
                     std::to_string(files.size()) + " input files were given");
  std::vector<Tensor> xs;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!files.empty()) {
      // As Keras does, inputs take the Input layer's dtype (numpy writes float64 by default).
      xs.push_back(io::load_npy(files[i]).astype(inputs[i].dtype));
      continue;
    }
    Shape shape = inputs[i].shape;
    for (auto& d : shape)
      if (d < 0) d = 1;  // the batch, and unknown dimensions such as time steps
    xs.push_back(Tensor::zeros(shape, inputs[i].dtype));
  }
  return xs;
}

void print_rows(const Tensor& y) {
  if (y.numel() == 0) return;
  const Tensor rows = y.ndim() == 0 ? y.reshape({1, 1}) : y.reshape({-1, y.shape().back()});
  const std::int64_t width = rows.shape()[1];
  const auto print = [&](const auto& values, const char* format) {
    for (std::size_t i = 0; i < values.size(); ++i)
      std::printf(format, values[i], (i + 1) % width == 0 ? '\n' : ' ');
  };
  if (y.dtype() == float32) return print(rows.to_vector<float>(), "%.9g%c");
  if (y.dtype() == float64) return print(rows.to_vector<double>(), "%.17g%c");
  print(rows.to_vector<std::int64_t>(), "%" PRId64 "%c");
}

std::string output_path(const std::string& output, std::size_t index, std::size_t count) {
  if (count == 1) return output;
  const std::string stem = ends_with(output, ".npy") ? output.substr(0, output.size() - 4) : output;
  return stem + "_" + std::to_string(index) + ".npy";
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  Args args;
  try {
    args = parse(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "load_keras_model: %s\n%s", e.what.c_str(), kUsage);
    return 2;
  }
  try {
    Model model = load(args);
    model.summary();
    const std::vector<Tensor> xs = read_inputs(model, args.inputs);
    for (const Tensor& x : xs) std::printf("input %s %s\n", x.shape().str().c_str(), dtype_name(x.dtype()));
    const std::vector<Tensor> ys = model.predict_outputs(TensorArg(xs));
    const std::vector<std::string> names = model.output_names();
    for (std::size_t i = 0; i < ys.size(); ++i) {
      std::printf("output %zu '%s' %s %s\n", i, names[i].c_str(), ys[i].shape().str().c_str(),
                  dtype_name(ys[i].dtype()));
      print_rows(ys[i]);
      if (!args.output.empty()) io::save_npy(output_path(args.output, i, ys.size()), ys[i]);
    }
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "load_keras_model: error: %s\n", e.what());
    return 1;
  }
}
