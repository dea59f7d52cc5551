// SPDX-License-Identifier: Apache-2.0
// src/io/weight_transfer.hpp — what the Keras weight readers share: a model's weights listed with
// their names in Keras's orders, and a two-phase load (check everything, then assign).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "io/hdf5.hpp"
#include "lamina/layer.hpp"

namespace lamina::io {

/// One weight of a layer (or of its sublayers), with the names Keras files use.
struct NamedWeight {
  std::string path;  ///< "dense_1/kernel"; "sub/dense_1/kernel" inside nested models
  Tensor value;      ///< the live tensor
};

/// The layer's weights in `layer.weights()` order (trainable then non-trainable, sublayers
/// included): the order of the legacy .h5 `weight_names`.
std::vector<NamedWeight> legacy_weights(const Layer& layer);
/// "Dense 'dense_3'".
std::string describe(const Layer& layer);

/// Reads weights from a file into a model only once all of them have been checked: queue each
/// one with add(), then commit(). A FileFormatError from add() leaves the model untouched.
class WeightTransfer {
 public:
  /// Checks dataset `name` of `group` (a float dataset of exactly `target`'s shape), reads it and
  /// queues it. `who` names the weight in errors ("Dense 'dense_3' weight 0 (kernel)").
  void add(const h5::Group& group, const std::string& name, const Tensor& target,
           const std::string& who);
  /// Replaces the value queued last by `convert(value)`: Keras's conversions of old layouts.
  void convert_last(const std::function<Tensor(const Tensor&)>& convert);
  /// Copies every queued value into its weight.
  void commit();
  std::size_t size() const { return pending_.size(); }

 private:
  std::vector<std::pair<Tensor, Tensor>> pending_;
};

}  // namespace lamina::io
