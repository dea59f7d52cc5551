// SPDX-License-Identifier: Apache-2.0
// batch, padded_batch and unbatch: stacking consecutive elements along a new first axis, and
// splitting them again.
#include <algorithm>
#include <cstring>

#include "dataset_node.hpp"
#include "lamina/errors.hpp"

namespace lamina::data {
namespace {

// Component k of `rows` stacked into (rows, shape...) of `shape` (each row padded at the end of
// every axis with `pad`).
Tensor stack(const std::vector<Row>& rows, std::size_t k, const Shape& shape, double pad) {
  Shape out_shape{static_cast<std::int64_t>(rows.size())};
  out_shape.insert(out_shape.end(), shape.begin(), shape.end());
  const DType dtype = rows[0][k].dtype();
  Tensor out = Tensor::full(out_shape, pad, dtype);
  const std::size_t elem = dtype_size(dtype);
  const std::int64_t row_numel = shape.numel();
  char* dst = static_cast<char*>(out.raw_data());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const Tensor& t = rows[r][k];
    const char* src = static_cast<const char*>(t.raw_data());
    char* base = dst + r * row_numel * elem;
    if (t.shape() == shape) {
      std::memcpy(base, src, t.nbytes());
      continue;
    }
    // Copy the rows of the last axis one by one into the padded layout.
    const int rank = t.ndim();
    const std::int64_t inner = rank ? t.shape()[rank - 1] : 1;
    const std::int64_t outer = inner ? t.numel() / inner : 0;
    for (std::int64_t o = 0; o < outer; ++o) {
      std::int64_t rem = o, offset = 0, stride = rank ? shape[rank - 1] : 1;
      for (int a = rank - 2; a >= 0; --a) {
        offset += (rem % t.shape()[a]) * stride;
        rem /= t.shape()[a];
        stride *= shape[a];
      }
      std::memcpy(base + offset * elem, src + o * inner * elem, inner * elem);
    }
  }
  return out;
}

std::string where(const char* stage, std::int64_t first, std::size_t r, std::size_t k) {
  return std::string(stage) + ": element " + std::to_string(first + static_cast<std::int64_t>(r)) +
         ", component " + std::to_string(k);
}

struct BatchSpec {
  const char* stage;
  std::int64_t batch_size;
  bool drop_remainder;
  bool padded;
  std::vector<Shape> padded_shapes;
  std::vector<double> padding_values;
};

Row make_batch(const BatchSpec& spec, const std::vector<Row>& rows, std::int64_t first) {
  Row out;
  for (std::size_t k = 0; k < rows[0].size(); ++k) {
    const Tensor& t0 = rows[0][k];
    Shape shape = t0.shape();
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const Tensor& t = rows[r][k];
      if (rows[r].size() != rows[0].size())
        throw ValueError(where(spec.stage, first, r, k) + ": elements differ in their number of components");
      if (t.dtype() != t0.dtype())
        throw ValueError(where(spec.stage, first, r, k) + ": dtype " + dtype_name(t.dtype()) +
                         " differs from the batch's " + dtype_name(t0.dtype()));
      if (!spec.padded) {
        if (t.shape() != t0.shape())
          throw ShapeError(where(spec.stage, first, r, k) + ": shape " + t.shape().str() +
                           " differs from the batch's first element " + t0.shape().str() +
                           " (padded_batch pads elements of different shapes)");
        continue;
      }
      if (t.ndim() != t0.ndim())
        throw ShapeError(where(spec.stage, first, r, k) + ": rank of " + t.shape().str() +
                         " differs from the batch's first element " + t0.shape().str());
      for (int a = 0; a < t.ndim(); ++a) shape[a] = std::max(shape[a], t.shape()[a]);
    }
    double pad = 0;
    if (spec.padded) {
      if (k < spec.padded_shapes.size() && !spec.padded_shapes[k].empty()) {
        const Shape& want = spec.padded_shapes[k];
        if (want.rank() != shape.rank())
          throw ShapeError(std::string(spec.stage) + ": padded_shapes[" + std::to_string(k) + "] " +
                           want.str() + " has another rank than the component's " + shape.str());
        for (int a = 0; a < shape.rank(); ++a) {
          if (want[a] >= 0 && shape[a] > want[a])
            throw ShapeError(std::string(spec.stage) + ": component " + std::to_string(k) + " of shape " +
                             shape.str() + " exceeds padded_shapes[" + std::to_string(k) + "] " + want.str());
          if (want[a] >= 0) shape[a] = want[a];
        }
      }
      if (k < spec.padding_values.size()) pad = spec.padding_values[k];
    }
    out.push_back(stack(rows, k, shape, pad));
  }
  return out;
}

class Batch final : public Node {
 public:
  Batch(NodePtr in, BatchSpec spec) : in_(std::move(in)), spec_(std::move(spec)) {}
  std::unique_ptr<RowIterator> iterate() const override {
    return iterator_of([spec = spec_, it = in_->iterate(), first = std::int64_t{0}]() mutable -> std::optional<Row> {
      std::vector<Row> rows;
      while (static_cast<std::int64_t>(rows.size()) < spec.batch_size) {
        std::optional<Row> row = it->next();
        if (!row) break;
        rows.push_back(std::move(*row));
      }
      if (rows.empty() || (spec.drop_remainder && static_cast<std::int64_t>(rows.size()) < spec.batch_size))
        return std::nullopt;
      Row out = make_batch(spec, rows, first);
      first += static_cast<std::int64_t>(rows.size());
      return out;
    });
  }
  std::int64_t cardinality() const override {
    const std::int64_t c = in_->cardinality();
    if (c < 0) return c;
    return spec_.drop_remainder ? c / spec_.batch_size : (c + spec_.batch_size - 1) / spec_.batch_size;
  }

 private:
  NodePtr in_;
  BatchSpec spec_;
};

}  // namespace

NodePtr batch(NodePtr in, std::int64_t batch_size, const BatchOptions& options) {
  require_positive("batch", "batch_size", batch_size);
  return std::make_shared<Batch>(std::move(in), BatchSpec{"batch", batch_size, options.drop_remainder, false, {}, {}});
}

NodePtr padded_batch(NodePtr in, std::int64_t batch_size, const PaddedBatchOptions& options) {
  require_positive("padded_batch", "batch_size", batch_size);
  return std::make_shared<Batch>(std::move(in), BatchSpec{"padded_batch", batch_size, options.drop_remainder,
                                                           true, options.padded_shapes, options.padding_values});
}

namespace {
class Unbatch final : public Node {
 public:
  explicit Unbatch(NodePtr in) : in_(std::move(in)) {}
  std::unique_ptr<RowIterator> iterate() const override {
    return iterator_of([it = in_->iterate(), current = Row(), i = std::int64_t{0},
                        n = std::int64_t{0}]() mutable -> std::optional<Row> {
      while (i >= n) {
        std::optional<Row> row = it->next();
        if (!row) return std::nullopt;
        current = std::move(*row);
        for (const Tensor& t : current) {
          if (t.ndim() == 0) throw ValueError("unbatch: a component is a scalar; it has no batch axis to split");
          if (t.shape()[0] != current[0].shape()[0])
            throw ShapeError("unbatch: components differ along the batch axis: " + current[0].shape().str() +
                             " and " + t.shape().str());
        }
        i = 0;
        n = current[0].shape()[0];
      }
      Row out;
      for (const Tensor& t : current) out.push_back(t[i]);
      ++i;
      return out;
    });
  }
  std::int64_t cardinality() const override { return unknown_or(in_->cardinality()); }

 private:
  static std::int64_t unknown_or(std::int64_t c) { return c == kInfinite ? kInfinite : c == 0 ? 0 : kUnknown; }
  NodePtr in_;
};
}  // namespace

NodePtr unbatch(NodePtr in) { return std::make_shared<Unbatch>(std::move(in)); }

}  // namespace lamina::data
