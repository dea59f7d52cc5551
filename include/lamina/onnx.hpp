// SPDX-License-Identifier: Apache-2.0
// ONNX export: a Sequential or Functional model as an ONNX graph (weights as initializers),
// for onnxruntime and the other ONNX runtimes.
//
//     lamina::onnx::export_model(model, "model.onnx", {.opset = 17, .dynamic_batch = true});
//
// Images stay NHWC (Keras's channels_last) at the graph's inputs and outputs: each convolution
// or pooling transposes to ONNX's NCHW and back (runtimes cancel the transpose pairs).
// Recurrent layers become ONNX LSTM / GRU / RNN nodes. A layer with no ONNX mapping (or a
// setting that has none) throws ValueError naming the layer, its class and what is missing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lamina/model.hpp"

namespace lamina::onnx {

struct ExportOptions {
  int opset = 17;             ///< the default domain's opset: 17 to 21
  bool dynamic_batch = true;  ///< the batch dimension as the symbolic "batch"; false: batch_size
  std::int64_t batch_size = 1;  ///< the fixed batch when dynamic_batch is false
};

/// One exported layer: its name, class and the ONNX operators it became.
struct ExportedLayer {
  std::string name{};
  std::string class_name{};
  std::vector<std::string> ops{};
};

struct ExportReport {
  std::uintmax_t file_size = 0;  ///< bytes written
  std::vector<ExportedLayer> layers{};
};

/// The layer classes that export, sorted (models nested in a model export too).
std::vector<std::string> exportable_layer_classes();

/// The model as an ONNX ModelProto, serialized. Throws ValueError for a layer without mapping,
/// a subclassed model, or an opset out of range.
std::string to_onnx_bytes(const Model& model, const ExportOptions& options = {},
                          std::vector<ExportedLayer>* layers = nullptr);
/// Writes `to_onnx_bytes` to `path` (atomically: a failure leaves any previous file intact).
/// Throws FileFormatError naming `path` when it cannot be written.
ExportReport export_model(const Model& model, const std::string& path, const ExportOptions& options = {});

}  // namespace lamina::onnx
