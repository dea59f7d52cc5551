// SPDX-License-Identifier: Apache-2.0
// src/engine/data_adapter.hpp — the data adapter (Keras 3's data_adapters): fit's, evaluate's and
// predict's data (arrays or a BatchSource) checked and turned into the model's batches, each
// split into inputs, targets and sample weights in the model's order.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lamina/callbacks/callback.hpp"
#include "lamina/model.hpp"

namespace lamina {
class ModelImpl;
}

namespace lamina::engine {

/// `arg` in the order of `names` (by key or by position). kind: "input" or "output". Throws
/// ValueError naming what is missing, unknown or of the wrong count. allow_missing: absent keys
/// give undefined tensors (targets of outputs without a loss).
std::vector<Tensor> arrange(const TensorArg& arg, const std::vector<std::string>& names,
                            const std::string& what, const char* kind, bool allow_missing = false);
/// The inputs / targets of `m` from fit's x and y (targets may be absent for outputs).
std::vector<Tensor> inputs_of(const ModelImpl& m, const TensorArg& x, const char* what);
std::vector<Tensor> targets_of(const ModelImpl& m, const TensorArg& y, const char* what);

/// Splits a named element of the data (Keras's dict elements) by key: the model's input names,
/// its output names and "sample_weight". x in input order; with `targets`, y in output order
/// (undefined where absent) and w the per-sample weights (undefined when absent). Throws ValueError
/// naming a key that is none of these, a missing input, or (with targets) an element without any.
void split_named(const ModelImpl& m, const TensorArg& element, const std::string& what, bool targets,
                 std::vector<Tensor>& x, std::vector<Tensor>& y, Tensor& w);

/// Every x and y tensor has a batch axis and the same number of samples; ValueError otherwise.
void check_xy(const char* what, const std::vector<Tensor>& xs, const std::vector<Tensor>& ys);
void check_batch_size(const char* what, std::int64_t batch_size);
/// x fits the model's declared (or first-built) input shapes: ShapeError naming both otherwise.
/// Checked on the whole data so that the message shows the data's shape rather than a batch's.
void check_input(const ModelImpl& m, const char* what, const std::vector<Tensor>& xs);

/// Rows [b, e) of each tensor (undefined stay undefined).
std::vector<Tensor> slice_all(const std::vector<Tensor>& ts, std::int64_t b, std::int64_t e);

/// y with fit's/evaluate's sample weights appended (batched along with y, read back as the
/// batch's w). Throws ValueError for class_weight with sample_weight or several outputs, or a
/// sample_weight of the wrong length.
std::vector<Tensor> with_sample_weight(const ModelImpl& m, const char* what, std::vector<Tensor> y,
                                       const Tensor& sample_weight,
                                       const std::map<std::int64_t, double>& class_weight,
                                       std::int64_t samples);

/// The arrays of fit/evaluate/predict as a BatchSource: `batch_size` rows per step; with shuffle,
/// a fresh order each pass: fit's order for its state's (shuffle_key, epoch) when given
/// `order_of` (so a resumed fit rebuilds any epoch's order), else a draw from the random stream.
std::shared_ptr<BatchSource> array_batches(std::vector<Tensor> x, std::vector<Tensor> y,
                                           std::int64_t batch_size, bool shuffle,
                                           const TrainingState* order_of = nullptr);

/// A source that can produce only one replica's rows of each batch (random access), so that the
/// replica reads no other rows. Rows [shard_range) of each batch.
class RowShardable {
 public:
  virtual ~RowShardable() = default;
  virtual void shard_rows(int num_shards, int index) = 0;
};
/// The rows [first, second) of a batch's rows [begin, end) that replica `index` of `num_shards`
/// computes: balanced, in rank order. Throws ValueError when a replica would get none.
std::pair<std::int64_t, std::int64_t> shard_range(std::int64_t begin, std::int64_t end, int num_shards, int index);

/// A batch as the steps see it: inputs, targets and per-output sample weights, the last from the
/// data's w times (class_weight) the weights of its labels.
Batch step_batch(std::vector<Tensor> x, std::vector<Tensor> y, const Tensor& w,
                 const std::map<std::int64_t, double>& class_weight = {});

/// A BatchSource read as model steps. It may hold back the first batch of a pass (read early to
/// build the model and check shapes) and hand it out as that pass's first step.
/// Where the model's weights live (the host before it has any).
Device model_device(const ModelImpl& m);
/// The batch copied to the model's device. Data stays on the host until its step.
Batch on_model_device(const ModelImpl& m, Batch b);

class Feed {
 public:
  /// class_weight: fit's, turned into each batch's sample weights.
  Feed(const ModelImpl& m, std::shared_ptr<BatchSource> source, std::string what, bool targets,
       std::map<std::int64_t, double> class_weight = {});
  std::int64_t cardinality() const { return source_->cardinality(); }
  const std::string& what() const { return what_; }
  void start_pass();
  std::optional<Batch> next();
  /// The first batch of a fresh pass, kept for next(). Throws ValueError when there is none.
  const Batch& peek();
  /// Batches per pass when `steps` (0: a full pass) are taken; -1 when unknown. Throws for an
  /// endless source without steps.
  std::int64_t steps(std::int64_t steps, const char* steps_name) const;
  /// The next batch of a run of `steps` (0: until the pass ends). With steps, a pass that runs
  /// out starts again, so every epoch gets its steps.
  std::optional<Batch> next_step(std::int64_t steps);
  void end_pass() { started_ = false; }

 private:
  Batch split(const TensorArg& element) const;

  const ModelImpl& m_;
  std::shared_ptr<BatchSource> source_;
  std::string what_;
  bool targets_;
  std::map<std::int64_t, double> class_weight_;
  bool started_ = false;
  std::optional<Batch> held_;
};

/// The source of a DataArg; ValueError for an empty handle.
const std::shared_ptr<BatchSource>& source_of(const DataArg& data, const char* what);

}  // namespace lamina::engine
