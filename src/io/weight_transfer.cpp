// SPDX-License-Identifier: Apache-2.0
// src/io/weight_transfer.cpp — named weight lists and the checked, all-or-nothing load.
#include "io/weight_transfer.hpp"

#include <algorithm>

#include "engine/deferred_init.hpp"
#include "lamina/errors.hpp"

namespace lamina::io {
namespace {

// Mirrors Layer::weights(): a frozen layer makes everything below it non-trainable.
void collect(const Layer& layer, const std::string& prefix, bool parent_trainable,
             std::vector<NamedWeight>& trainable, std::vector<NamedWeight>& frozen) {
  const bool on = parent_trainable && layer.trainable();
  const std::string scope = prefix + layer.name() + "/";
  for (const auto& w : layer.own_weights())
    (on && w.trainable ? trainable : frozen).push_back({scope + w.name, w.value});
  for (const auto& sub : layer.sublayers()) collect(*sub, scope, on, trainable, frozen);
}

}  // namespace

std::vector<NamedWeight> legacy_weights(const Layer& layer) {
  std::vector<NamedWeight> trainable, frozen;
  collect(layer, "", true, trainable, frozen);
  trainable.insert(trainable.end(), frozen.begin(), frozen.end());
  return trainable;
}

std::string describe(const Layer& layer) { return layer.class_name() + " '" + layer.name() + "'"; }

void WeightTransfer::add(const h5::Group& group, const std::string& name, const Tensor& target,
                         const std::string& who) {
  if (!group.has_dataset(name)) group.fail(name, who + ": missing dataset");
  const h5::DatasetInfo info = group.dataset_info(name);
  // Integer weights (Normalization's count) read integers; every other weight floats.
  if (is_floating(info.dtype) != is_floating(target.dtype()))
    group.fail(name, who + ": the file holds " + dtype_name(info.dtype) + " values, the layer expects " +
                         (is_floating(target.dtype()) ? "floating-point" : dtype_name(target.dtype())) + " weights");
  if (info.shape != target.shape())
    group.fail(name, who + " has shape " + info.shape.str() + " in the file, the layer expects " +
                         target.shape().str());
  pending_.emplace_back(target, group.read_dataset(name, info.shape, target.dtype()));
}

void WeightTransfer::convert_last(const std::function<Tensor(const Tensor&)>& convert) {
  auto& value = pending_.back().second;
  value = convert(value);
}

void WeightTransfer::commit() {
  NoGradGuard no_grad;
  for (auto& [target, value] : pending_) {
    target.assign(value);
    engine::DeferredInit::assigned(target);
  }
  pending_.clear();
}

}  // namespace lamina::io
