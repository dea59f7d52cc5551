// SPDX-License-Identifier: Apache-2.0
// src/metrics/common.hpp — what the metric families share: host copies of values, Keras's
// per-sample accumulation, and the shape errors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lamina/metrics.hpp"

namespace lamina::metrics::detail {

/// The tensor on the host: an explicit copy of device values, for the metrics that keep
/// host-side tallies.
Tensor on_cpu(const Tensor& t);

[[noreturn]] void shapes_do_not_fit(const std::string& metric, const Tensor& y_true,
                                    const Tensor& y_pred, const std::string& expected);

/// Keras's reduce_to_samplewise_values then Mean/Sum.update_state: values are reduced over the
/// axes the weights do not cover (averaged, or summed when `sum_trailing`), multiplied by the
/// (broadcast) weights and summed into `total`; `count` grows by the number of samples, or by the
/// weights' sum when weights are given.
void accumulate(const std::string& metric, const Tensor& values, const Tensor& weight,
                double& total, double& count, bool sum_trailing = false);

/// Per-sample weights as doubles, one per leading row of `rows` rows (1 each when undefined);
/// (N) and (N, 1) accepted. Throws ShapeError naming the metric otherwise.
std::vector<double> row_weights(const std::string& metric, const Tensor& weight, std::int64_t rows);

/// Values as a row-major (rows, cols) matrix of doubles: (N) is (N, 1), (N, ...) flattens the rest.
struct Matrix {
  std::vector<double> data;
  std::int64_t rows = 0, cols = 1;
  double at(std::int64_t r, std::int64_t c) const { return data[r * cols + c]; }
};
Matrix as_matrix(const Tensor& t);

}  // namespace lamina::metrics::detail
