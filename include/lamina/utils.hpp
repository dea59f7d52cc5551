// SPDX-License-Identifier: Apache-2.0
// lamina/utils.hpp — Keras's utilities: plot_model (Graphviz) here, the data utilities
// (to_categorical, pad_sequences, *_dataset_from_*) in lamina/data_utils.hpp.
#pragma once

#include <string>

#include "lamina/data_utils.hpp"
#include "lamina/model.hpp"

namespace lamina::utils {

struct PlotModelOptions {
  bool show_shapes = false;       ///< each node shows its input and output shapes
  bool show_dtype = false;        ///< and its output dtype
  bool show_layer_names = true;
  std::string rankdir = "TB";     ///< "TB" (top to bottom) or "LR" (left to right)
  int dpi = 200;
};

/// Keras's model graph as Graphviz DOT text: one node per layer (InputLayers included), one edge
/// per tensor passed from a layer to another.
std::string model_to_dot(const Model& model, const PlotModelOptions& options = {});

/// Writes the graph to `path`: DOT text for ".dot" (or ".gv"); ".png", ".svg", ".pdf" and other
/// Graphviz formats through the `dot` program. Throws ValueError when a rendered format is asked
/// for and `dot` is not installed (apt-get install graphviz), FileFormatError when the file
/// cannot be written.
void plot_model(const Model& model, const std::string& path, const PlotModelOptions& options = {});

}  // namespace lamina::utils
