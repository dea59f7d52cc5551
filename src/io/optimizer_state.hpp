// SPDX-License-Identifier: Apache-2.0
// src/io/optimizer_state.hpp — an optimizer's state (iteration, learning rate, slots) in Keras
// files: Keras 3's /optimizer/vars/<i> and the legacy .h5 `optimizer_weights` group.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "io/hdf5.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::io {

/// The optimizer's variables as Keras lists them: iteration, learning_rate, then the slots.
std::vector<std::pair<std::string, Tensor>> optimizer_variables(const Optimizer& optimizer);

/// Optimizer state read and checked, applied by commit() (after the model's weights).
class OptimizerRestore {
 public:
  OptimizerRestore() = default;
  OptimizerRestore(Optimizer* optimizer, std::vector<Tensor> values)
      : optimizer_(optimizer), values_(std::move(values)) {}
  void commit();

 private:
  Optimizer* optimizer_ = nullptr;
  std::vector<Tensor> values_;
};

/// Reads datasets `names` of `group` (in optimizer_variables() order) as the state of `optimizer`
/// training `trainable` (Keras paths `trainable_paths`; the optimizer is built for them if it is
/// not yet). Checks the count, every shape and, where the names are Keras 3's, each variable's
/// kind ("momentum", "velocity"...) before reading any data. State that does not fit (another
/// optimizer class, another model) is skipped as Keras skips it: a one-line warning on stderr
/// naming the file, the optimizer and what did not fit, and a restore that does nothing; the
/// model's weights are unaffected. Throws FileFormatError naming the file when a dataset cannot be
/// read.
OptimizerRestore read_optimizer_state(Optimizer& optimizer, const std::vector<Tensor>& trainable,
                                      const std::vector<std::string>& trainable_paths,
                                      const h5::Group& group, const std::vector<std::string>& names);
/// Keras 3 layout: datasets "0", "1", ... of `group` (positions only: the count and shapes are
/// checked).
OptimizerRestore read_optimizer_state(Optimizer& optimizer, const std::vector<Tensor>& trainable,
                                      const std::vector<std::string>& trainable_paths,
                                      const h5::Group& group);

}  // namespace lamina::io
