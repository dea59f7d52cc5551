// SPDX-License-Identifier: Apache-2.0
// src/io/optimizer_state.cpp — reading and restoring an optimizer's variables from a file.
#include "io/optimizer_state.hpp"

#include <iostream>

namespace lamina::io {
namespace {

// The kind of a variable in Keras 3's naming, "<optimizer>/<path>_<slot>": "momentum",
// "velocity", "iteration", "rate"... Empty for other writers' names (Keras 2's "Adam/m/dense/
// kernel:0"), which tell nothing comparable.
std::string variable_kind(const std::string& name) {
  if (name.find(':') != std::string::npos) return {};
  const std::string last = name.substr(name.rfind('/') + 1);
  return last.substr(last.rfind('_') + 1);
}

// Why the file's variables `names` of `group` cannot be the state of an optimizer whose
// variables are `expected`, or empty when they fit. `named`: the names are the writer's (legacy
// .h5) rather than positions ("0", "1", ... in Keras 3's layout).
std::string mismatch(const h5::Group& group, const std::vector<std::string>& names,
                     const std::vector<std::pair<std::string, Tensor>>& expected, bool named) {
  if (names.size() != expected.size())
    return "it has " + std::to_string(expected.size()) + " variables, the file has " +
           std::to_string(names.size()) + " (saved with a different optimizer or model?)";
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto& [name, target] = expected[i];
    const std::string kind = named ? variable_kind(names[i]) : std::string();
    if (!kind.empty() && kind != variable_kind(name))
      return "variable " + std::to_string(i) + " is '" + names[i] + "' in the file, expected '" + name +
             "' (saved with a different optimizer?)";
    Shape shape = group.dataset_info(names[i]).shape;
    // Keras writes the iteration and learning rate as scalars; older writers as 1-element arrays.
    if (i < 2 && shape.size() == 1 && shape[0] == 1) shape = target.shape();
    if (shape != target.shape())
      return "variable " + std::to_string(i) + " (" + name + ") has shape " + shape.str() +
             " in the file, expected " + target.shape().str();
  }
  return {};
}

OptimizerRestore read_state(Optimizer& optimizer, const std::vector<Tensor>& trainable,
                            const std::vector<std::string>& trainable_paths, const h5::Group& group,
                            const std::vector<std::string>& names, bool named) {
  optimizer.build(trainable, trainable_paths);
  const auto expected = optimizer.variables();
  if (const std::string why = mismatch(group, names, expected, named); !why.empty()) {
    std::cerr << "lamina: " << group.where() << ": skipping variable loading for optimizer "
              << optimizer.name() << ": " << why << "\n";
    return {};
  }
  std::vector<Tensor> values;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const Shape& shape = expected[i].second.shape();
    values.push_back(group.read_dataset(names[i], group.dataset_info(names[i]).shape, expected[i].second.dtype())
                         .reshape(shape));
  }
  return OptimizerRestore(&optimizer, std::move(values));
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> optimizer_variables(const Optimizer& optimizer) {
  return optimizer.variables();
}

OptimizerRestore read_optimizer_state(Optimizer& optimizer, const std::vector<Tensor>& trainable,
                                      const std::vector<std::string>& trainable_paths,
                                      const h5::Group& group, const std::vector<std::string>& names) {
  return read_state(optimizer, trainable, trainable_paths, group, names, true);
}

OptimizerRestore read_optimizer_state(Optimizer& optimizer, const std::vector<Tensor>& trainable,
                                      const std::vector<std::string>& trainable_paths,
                                      const h5::Group& group) {
  std::vector<std::string> names;
  for (std::size_t i = 0; group.has_dataset(std::to_string(i)); ++i) names.push_back(std::to_string(i));
  return read_state(optimizer, trainable, trainable_paths, group, names, false);
}

void OptimizerRestore::commit() {
  if (optimizer_) optimizer_->set_variables(values_);
}

}  // namespace lamina::io
