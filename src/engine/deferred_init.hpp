// SPDX-License-Identifier: Apache-2.0
// src/engine/deferred_init.hpp — weights built for a file that will overwrite them skip their
// initializers. A 600-unit LSTM spent about 20 s in Orthogonal before load_model read its weights.
//
// While a DeferredInit is alive on a thread, Layer::add_weight on that thread runs a random
// initializer under random::CountOnly: the weight is allocated (zeros), the generator moves past
// exactly the counters the real draw would use, and nothing is drawn. The loader reports what it
// assigned (assigned()); finish() then runs each remaining initializer for real, from the
// generator position recorded at add_weight, so a weight the file does not supply gets exactly the
// values an eager build gives, and the seeded stream after loading is the same either way.
#pragma once

#include <cstdint>
#include <vector>

#include "lamina/initializers.hpp"
#include "lamina/tensor.hpp"
#include "ops/random.hpp"

namespace lamina::engine {

class DeferredInit {
 public:
  DeferredInit();
  /// Without finish() (an exception while loading) the pending weights stay zeros: the model is
  /// being discarded.
  ~DeferredInit();
  DeferredInit(const DeferredInit&) = delete;
  DeferredInit& operator=(const DeferredInit&) = delete;

  /// Initialises every deferred weight that assigned() was not told of, as add_weight would have.
  void finish();

  /// The innermost scope of this thread, or null.
  static DeferredInit* active();
  /// `initializer(shape, dtype)` under this scope: zeros of that shape now, the values at finish()
  /// unless the weight is assigned first. Initializers that draw nothing run at once.
  Tensor defer(const Initializer& initializer, const Shape& shape, DType dtype);
  /// `weight` has received its final values (the loader's commit): finish() leaves it alone.
  static void assigned(const Tensor& weight);

 private:
  struct Pending {
    Tensor weight;
    Initializer initializer;
    Shape shape;
    DType dtype;
    std::uint64_t key, offset;
    random::Stream stream;
  };
  std::vector<Pending> pending_;
  DeferredInit* previous_;
};

}  // namespace lamina::engine
