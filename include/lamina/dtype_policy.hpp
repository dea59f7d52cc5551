// SPDX-License-Identifier: Apache-2.0
// lamina/dtype_policy.hpp — Keras's dtype policies: the dtype a layer computes in and the dtype of
// its variables, set globally (keras.config.set_dtype_policy) or per layer (`.dtype = ...`).
#pragma once

#include <string>

#include "lamina/tensor.hpp"

namespace lamina {

/// A Keras dtype policy, by name:
///   "float32" (the default), "float64", "float16", "bfloat16": compute and variables in that dtype;
///   "mixed_float16", "mixed_bfloat16": compute in the 16-bit dtype, variables in float32.
/// Under a mixed policy a layer's floating inputs are cast to the compute dtype and its weights
/// are read cast to it (Keras's autocast), while BatchNormalization, softmax and the losses
/// compute in float32, as in Keras. Implicit from a name, so `.dtype = "mixed_bfloat16"` reads
/// well; throws ValueError naming the known policies for any other name.
class DTypePolicy {
 public:
  DTypePolicy() : DTypePolicy("float32") {}
  DTypePolicy(const std::string& name);  // NOLINT(google-explicit-constructor)
  DTypePolicy(const char* name) : DTypePolicy(std::string(name)) {}  // NOLINT(google-explicit-constructor)

  /// "mixed_bfloat16" ...
  const std::string& name() const { return name_; }
  /// The dtype layers compute in (bfloat16 for "mixed_bfloat16").
  DType compute_dtype() const { return compute_; }
  /// The dtype of layers' variables (float32 for the mixed policies).
  DType variable_dtype() const { return variable_; }
  /// True when compute and variable dtypes differ (the mixed policies).
  bool is_mixed() const { return compute_ != variable_; }
  bool operator==(const DTypePolicy& other) const { return name_ == other.name_; }

 private:
  std::string name_;
  DType compute_ = float32;
  DType variable_ = float32;
};

/// Sets the policy that layers made from now on take (keras.config.set_dtype_policy); layers made
/// earlier keep theirs. Process-wide.
void set_dtype_policy(const DTypePolicy& policy);
/// The global policy (keras.config.dtype_policy()); "float32" unless set.
DTypePolicy dtype_policy();

}  // namespace lamina
