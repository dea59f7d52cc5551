// SPDX-License-Identifier: Apache-2.0
// src/engine/subclassed.hpp — the engine's side of Model subclassing: a model whose forward pass
// is the user's Model::call, whose layers are the ones its constructor tracked, and the registry
// of subclasses that can be saved to and made again from .keras files.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/model_impl.hpp"

namespace lamina {

class SubclassedImpl : public ModelImpl {
 public:
  explicit SubclassedImpl(std::string name) : ModelImpl(std::move(name)) {}
  /// The registered class name, else the C++ class's name ("TwoLayers"), else "Model".
  std::string class_name() const override;
  /// Keras builds a subclassed model by calling it: here on one sample of zeros (float32).
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;
  std::vector<Tensor> forward_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& input_masks,
                                     bool training, std::vector<Tensor>& output_masks) override;
  std::vector<std::string> output_names() const override { return {"output_0"}; }
  std::vector<KerasTensor> input_tensors() const override;
  std::vector<KerasTensor> output_tensors() const override;

  /// `owner`'s call on x, building the model on its first call (the call itself traces it).
  Tensor call_owner(Model& owner, const Tensor& x, bool training);
  /// Adds a tracked layer (Model::track).
  void track(const std::string& attribute, std::shared_ptr<Layer> layer);
  /// The tracked layers by attribute name, in creation order.
  const std::vector<std::pair<std::string, std::shared_ptr<Layer>>>& attributes() const { return attributes_; }

 private:
  Model& owner_or_throw() const;

  std::vector<std::pair<std::string, std::shared_ptr<Layer>>> attributes_;
  std::optional<Shape> traced_output_;  ///< the output shape (batch -1) of the call that built it
};

namespace engine {

/// A registered subclass (register_model).
struct ModelRegistration {
  std::string class_name;       ///< "TwoLayers"
  std::string registered_name;  ///< "Custom>TwoLayers"
  ModelFactory factory;
};

/// The registration of `model`'s class (by the C++ type of the object that constructed it); null
/// when not registered.
const ModelRegistration* registration_of(const Model& model);
/// The registration under Keras's registered_name ("package>Class"), else under the class name;
/// null when none.
const ModelRegistration* find_registration(const std::string& registered_name, const std::string& class_name);
/// A registered subclassed model made again from its serialization (built from its build_config).
Model subclassed_from_config(const ModelRegistration& registration, const nlohmann::json& serialized);

}  // namespace engine
}  // namespace lamina
