// SPDX-License-Identifier: Apache-2.0
// src/engine/replica.hpp — what a layer may ask of the distribution whose step runs on this thread
// (Keras/TensorFlow's replica context): the number of replicas and a differentiable sum over them,
// for synchronised BatchNormalization. Outside a distributed step there is one replica and the sum
// is the identity.
#pragma once

#include "lamina/tensor.hpp"

namespace lamina::engine {

class Distribution;

/// The distribution whose train or test step runs on this thread, or null.
Distribution* step_distribution();

/// Marks the step of `dist` (may be null) as running on this thread until the scope ends.
class StepDistributionScope {
 public:
  explicit StepDistributionScope(Distribution* dist);
  ~StepDistributionScope();
  StepDistributionScope(const StepDistributionScope&) = delete;
  StepDistributionScope& operator=(const StepDistributionScope&) = delete;

 private:
  Distribution* previous_;
};

/// The replicas taking part in this thread's step (1 outside a distributed step).
int num_replicas();

/// `t` summed over the replicas of this thread's step (collective: every replica calls it in the
/// same order); `t` itself outside a distributed step. Its backward sums the incoming gradients
/// over the replicas as well: each replica's loss uses the same sum, so the gradient of the global
/// loss with respect to one replica's term is the sum of every replica's gradient.
Tensor cross_replica_sum(const Tensor& t);

}  // namespace lamina::engine
