// SPDX-License-Identifier: Apache-2.0
#include "engine/replica.hpp"

#include "autograd/node.hpp"
#include "engine/trainer.hpp"

namespace lamina::engine {

namespace {
thread_local Distribution* t_step_distribution = nullptr;
}

Distribution* step_distribution() { return t_step_distribution; }

StepDistributionScope::StepDistributionScope(Distribution* dist) : previous_(t_step_distribution) {
  t_step_distribution = dist;
}
StepDistributionScope::~StepDistributionScope() { t_step_distribution = previous_; }

int num_replicas() { return t_step_distribution ? t_step_distribution->num_replicas() : 1; }

Tensor cross_replica_sum(const Tensor& t) {
  Distribution* dist = t_step_distribution;
  if (!dist || dist->num_replicas() == 1) return t;
  // The backward runs inside the same step (compute_gradients), while `dist` lives.
  return autograd::record_fn(dist->all_reduce_sum(t.detach()), "CrossReplicaSum", {t},
                             [dist](const Tensor& g) { return std::vector<Tensor>{dist->all_reduce_sum(g)}; });
}

}  // namespace lamina::engine
