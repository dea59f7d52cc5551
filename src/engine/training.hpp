// SPDX-License-Identifier: Apache-2.0
// src/engine/training.hpp — what fit/evaluate/predict share: laying out several inputs and
// targets in the model's order, the per-output losses and the Keras log keys.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/model_impl.hpp"

namespace lamina::engine {

/// `arg` in the order of `names` (by key or by position). kind: "input" or "output". Throws
/// ValueError naming what is missing, unknown or of the wrong count. allow_missing: absent keys
/// give undefined tensors (targets of outputs without a loss).
std::vector<Tensor> arrange(const TensorArg& arg, const std::vector<std::string>& names,
                            const std::string& what, const char* kind, bool allow_missing = false);

/// Splits a named element of the data (Keras's dict elements) by key: the model's input names,
/// its output names and "sample_weight". x in input order; with `targets`, y in output order
/// (undefined where absent) and w the per-sample weights (undefined when absent). Throws ValueError
/// naming a key that is none of these, a missing input, or (with targets) an element without any.
void split_named(const ModelImpl& m, const TensorArg& element, const std::string& what, bool targets,
                 std::vector<Tensor>& x, std::vector<Tensor>& y, Tensor& w);

/// The total loss Σ weight·loss over the outputs with a loss, plus the model's layer losses
/// (regularization penalties, add_loss) as Keras adds them; per_output receives each output's
/// unweighted loss value (0 for outputs without one). sample_weights: per output (undefined or
/// empty: unweighted).
Tensor total_loss(const ModelImpl& m, const std::vector<Tensor>& ys, const std::vector<Tensor>& preds,
                  std::vector<double>& per_output, const std::vector<Tensor>& sample_weights = {});

/// Keras's apply_mask for the losses: each output's mask (undefined: none) becomes a weight,
/// scaled by entries / unmasked entries so that sum_over_batch_size averages over the unmasked
/// entries only, times that output's sample weights when given.
std::vector<Tensor> masked_loss_weights(const std::vector<Tensor>& sample_weights, const std::vector<Tensor>& masks);

/// Keras's class_weight_to_sample_weights: per sample, the weight of its class (the label, or the
/// argmax of a one-hot row), 1 for classes not listed.
Tensor class_weights_to_sample_weights(const Tensor& y, const std::map<std::int64_t, double>& class_weight);

/// Resolves the metrics (on the first batch, from the shapes), then updates loss trackers and
/// metrics with one batch of `count` samples.
/// sample_weights (per output) reach the weighted_metrics only, as in Keras.
/// masks (per output, from forward_masked) weight every metric, as Keras's metrics read the
/// output's mask.
void update_trackers(ModelImpl& m, const std::vector<Tensor>& ys, const std::vector<Tensor>& preds,
                     double loss, const std::vector<double>& per_output, double count,
                     const std::vector<Tensor>& sample_weights = {}, const std::vector<Tensor>& masks = {});
void reset_metrics(ModelImpl& m);
/// "loss", then "<output>_loss" and "<output>_<metric>" (several outputs) or "<metric>" (one).
std::map<std::string, double> current_logs(const ModelImpl& m);

/// Keras 3's variable path of each of `weights` (which name the optimizer's slots): "<layer>/<weight>"
/// under the scopes the layer was built in. A Sequential builds its layers inside its own scope
/// ("sequential/dense/kernel"); a Functional model's layers are built outside any, when called on
/// its inputs ("dense/kernel"); other layers scope their sublayers ("bidirectional/forward_lstm/
/// kernel"). "variable_<i>" for a tensor that belongs to no layer of `m`.
std::vector<std::string> variable_paths(const ModelImpl& m, const std::vector<Tensor>& weights);

}  // namespace lamina::engine
