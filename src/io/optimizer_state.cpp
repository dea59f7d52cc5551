// src/io/optimizer_state.cpp — reading and restoring an optimizer's variables from a file.
#include "io/optimizer_state.hpp"

#include "lamina/errors.hpp"

namespace lamina::io {
namespace {

}  // namespace

std::vector<std::pair<std::string, Tensor>> optimizer_variables(const Optimizer& optimizer) {
  return optimizer.variables();
}

OptimizerRestore read_optimizer_state(Optimizer& optimizer, const std::vector<Tensor>& trainable,
                                      const std::vector<std::string>& trainable_paths,
                                      const h5::Group& group, const std::vector<std::string>& names) {
  optimizer.build(trainable, trainable_paths);
  const auto expected = optimizer.variables();
  const std::string who = "optimizer " + optimizer.name();
  if (names.size() != expected.size())
    group.fail("", who + " has " + std::to_string(expected.size()) + " variables, the file has " +
                       std::to_string(names.size()) + " (saved with a different optimizer?)");
  std::vector<Tensor> values;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const Tensor& target = expected[i].second;
    const h5::DatasetInfo info = group.dataset_info(names[i]);
    Shape shape = info.shape;
    // Keras writes the iteration and learning rate as scalars; older writers as 1-element arrays.
    if (i < 2 && shape.size() == 1 && shape[0] == 1) shape = target.shape();
    if (shape != target.shape())
      group.fail(names[i], who + " variable " + std::to_string(i) + " (" + expected[i].first +
                               ") has shape " + info.shape.str() + " in the file, expected " +
                               target.shape().str());
    values.push_back(group.read_dataset(names[i], info.shape, target.dtype()).reshape(target.shape()));
  }
  return OptimizerRestore(&optimizer, std::move(values));
}

OptimizerRestore read_optimizer_state(Optimizer& optimizer, const std::vector<Tensor>& trainable,
                                      const std::vector<std::string>& trainable_paths,
                                      const h5::Group& group) {
  std::vector<std::string> names;
  for (std::size_t i = 0; group.has_dataset(std::to_string(i)); ++i) names.push_back(std::to_string(i));
  return read_optimizer_state(optimizer, trainable, trainable_paths, group, names);
}

void OptimizerRestore::commit() {
  if (optimizer_) optimizer_->set_variables(values_);
}

}  // namespace lamina::io
