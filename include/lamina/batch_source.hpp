// SPDX-License-Identifier: Apache-2.0
// lamina/batch_source.hpp — what feeds fit, evaluate and predict: tensors given by position or by
// name, and a stream of batches. Datasets produce these; the engine consumes them; neither
// includes the other.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lamina/tensor.hpp"

namespace lamina {

/// One tensor, a list (by position) or tensors keyed by name: the x and y of fit/evaluate/predict
/// for models with several inputs or outputs. `{x_img, x_meta}` or `{{"cls", y_cls}, {"group", y_g}}`.
class TensorArg {
 public:
  TensorArg(const Tensor& tensor) : tensors_{tensor} {}                             // NOLINT
  TensorArg(std::vector<Tensor> tensors) : tensors_(std::move(tensors)) {}          // NOLINT
  TensorArg(std::initializer_list<Tensor> tensors) : tensors_(tensors) {}           // NOLINT
  TensorArg(const std::map<std::string, Tensor>& named);                            // NOLINT
  TensorArg(std::initializer_list<std::pair<const std::string, Tensor>> named)      // NOLINT
      : TensorArg(std::map<std::string, Tensor>(named)) {}
  const std::vector<Tensor>& tensors() const { return tensors_; }
  /// Keys when given by name (parallel to tensors()); empty when given by position.
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::vector<Tensor> tensors_;
  std::vector<std::string> names_;
};

/// A stream of batches that fit, evaluate and predict can read pass by pass: what a Dataset
/// (lamina/datasets/dataset.hpp) becomes. The engine knows nothing of datasets; anything that
/// implements this can feed a model.
class BatchSource {
 public:
  static constexpr std::int64_t kInfinite = -1;  ///< cardinality of an endless stream
  static constexpr std::int64_t kUnknown = -2;   ///< cardinality that is not known in advance
  virtual ~BatchSource() = default;
  /// Starts a new pass (an epoch): the next call to next() returns the pass's first batch.
  virtual void reset() = 0;
  /// The next batch of the current pass, or nullopt at its end. A batch is the flat tuple of one
  /// element: by position the model's inputs, then its targets ((x, y) for one input and output;
  /// predict reads only the inputs); by name, the model's input and output names.
  virtual std::optional<TensorArg> next() = 0;
  /// Batches per pass: >= 0, kInfinite or kUnknown.
  virtual std::int64_t cardinality() const = 0;
};

}  // namespace lamina
