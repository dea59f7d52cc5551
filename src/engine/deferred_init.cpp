// SPDX-License-Identifier: Apache-2.0
#include "engine/deferred_init.hpp"

#include <algorithm>
#include <string>

namespace lamina::engine {
namespace {

thread_local DeferredInit* t_active = nullptr;

// The initializers whose cost is a random draw (and Orthogonal's QR): deferring the others saves
// nothing, and a user's own function may not expect the zeros a counted draw returns.
bool draws(const Initializer& initializer) {
  static const char* const kRandom[] = {"GlorotUniform", "GlorotNormal",  "HeUniform",
                                        "HeNormal",      "LecunUniform",  "LecunNormal",
                                        "RandomNormal",  "RandomUniform", "TruncatedNormal",
                                        "VarianceScaling", "Orthogonal"};
  return std::find(std::begin(kRandom), std::end(kRandom), initializer.class_name()) != std::end(kRandom);
}

}  // namespace

DeferredInit::DeferredInit() : previous_(t_active) { t_active = this; }
DeferredInit::~DeferredInit() { t_active = previous_; }

DeferredInit* DeferredInit::active() { return t_active; }

Tensor DeferredInit::defer(const Initializer& initializer, const Shape& shape, DType dtype) {
  if (!draws(initializer)) return initializer(shape, dtype);
  const random::Generator& g = random::current();
  Pending p{Tensor(), initializer, shape, dtype, g.key(), g.offset(), g.stream()};
  {
    random::CountOnly count_only;
    p.weight = initializer(shape, dtype);
  }
  pending_.push_back(p);
  return p.weight;
}

void DeferredInit::assigned(const Tensor& weight) {
  for (DeferredInit* scope = t_active; scope; scope = scope->previous_) {
    auto& list = scope->pending_;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const Pending& p) { return p.weight.shares_storage(weight); }),
               list.end());
  }
}

void DeferredInit::finish() {
  NoGradGuard no_grad;
  for (Pending& p : pending_) {
    // Replays the draw from where add_weight stood; the generator's own position is untouched
    // (the counters were reserved then).
    random::Generator replay(p.key, p.stream, p.offset);
    random::GeneratorScope scope(replay);
    p.weight.assign(p.initializer(p.shape, p.dtype));
  }
  pending_.clear();
}

}  // namespace lamina::engine
