// SPDX-License-Identifier: Apache-2.0
// Trains the Fashion-MNIST CNN briefly (one epoch on 6000 images of Debian's
// dataset-fashion-mnist), exports it to ONNX, and prints the file's size and what each layer
// became. It also writes a few test images and lamina's predictions for them as .npy, so that a
// runtime's answer can be compared:
//
//   ./export_onnx fashion_cnn.onnx
//   python3 -c "import numpy as np, onnxruntime as ort; s = ort.InferenceSession('fashion_cnn.onnx');
//     x = np.load('fashion_cnn.input.npy'); print(np.abs(s.run(None, {'input_layer': x})[0]
//     - np.load('fashion_cnn.lamina.npy')).max())"
#include <cstdio>
#include <string>

#include <lamina/lamina.hpp>
#include <lamina/onnx.hpp>

#include "fashion_mnist_common.hpp"

using namespace lamina;

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "fashion_cnn.onnx";
  set_seed(42);
  auto [train, test] = datasets::fashion_mnist::load_data();
  auto [x_train, x_test] = fashion_mnist::scaled(train, test, /*channels=*/true);
  Sequential model = fashion_mnist::cnn();
  model.fit(x_train.slice(0, 6000), train.y.slice(0, 6000), {.batch_size = 128, .epochs = 1});

  const onnx::ExportReport report = onnx::export_model(model, path, {.opset = 17, .dynamic_batch = true});
  std::printf("wrote %s: %ju bytes, opset 17, dynamic batch\n", path.c_str(), report.file_size);
  for (const onnx::ExportedLayer& layer : report.layers) {
    std::string ops;
    for (const std::string& op : layer.ops) ops += (ops.empty() ? "" : ", ") + op;
    std::printf("  %-22s %-20s -> %s\n", layer.name.c_str(), layer.class_name.c_str(), ops.empty() ? "(none)" : ops.c_str());
  }

  // Eight test images and lamina's answer for them, for the runtime to match.
  const std::string stem = path.substr(0, path.rfind('.'));
  const Tensor x = x_test.slice(0, 8);
  io::save_npy(stem + ".input.npy", x);
  io::save_npy(stem + ".lamina.npy", model.predict(x));
  std::printf("inputs %s, lamina's predictions %s (graph input '%s')\n", (stem + ".input.npy").c_str(),
              (stem + ".lamina.npy").c_str(), model.input_names()[0].c_str());
  return 0;
}
