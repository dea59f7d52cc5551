// SPDX-License-Identifier: Apache-2.0
// Sources: tensors sliced or whole, ranges, generators; and the two combinators of whole
// datasets, zip and concatenate.
#include <algorithm>

#include "dataset_node.hpp"
#include "lamina/errors.hpp"

namespace lamina::data {
namespace {

class TensorSlices final : public Node {
 public:
  explicit TensorSlices(Row tensors) : tensors_(std::move(tensors)) {}
  std::unique_ptr<RowIterator> iterate() const override {
    return iterator_of([tensors = tensors_, n = cardinality(), i = std::int64_t{0}]() mutable -> std::optional<Row> {
      if (i >= n) return std::nullopt;
      Row row;
      row.reserve(tensors.size());
      for (const Tensor& t : tensors) row.push_back(t[i]);
      ++i;
      return row;
    });
  }
  std::int64_t cardinality() const override { return tensors_[0].shape()[0]; }
  bool random_access() const override { return true; }
  Row at(std::int64_t i) const override {
    Row row;
    row.reserve(tensors_.size());
    for (const Tensor& t : tensors_) row.push_back(t[i]);
    return row;
  }

 private:
  Row tensors_;
};

class Tensors final : public Node {
 public:
  explicit Tensors(Row tensors) : tensors_(std::move(tensors)) {}
  std::unique_ptr<RowIterator> iterate() const override {
    return iterator_of([row = tensors_, done = false]() mutable -> std::optional<Row> {
      if (done) return std::nullopt;
      done = true;
      return row;
    });
  }
  std::int64_t cardinality() const override { return 1; }

 private:
  Row tensors_;
};

class Range final : public Node {
 public:
  Range(std::int64_t start, std::int64_t stop, std::int64_t step) : start_(start), stop_(stop), step_(step) {}
  std::unique_ptr<RowIterator> iterate() const override {
    return iterator_of([v = start_, stop = stop_, step = step_]() mutable -> std::optional<Row> {
      if (step > 0 ? v >= stop : v <= stop) return std::nullopt;
      Row row{Tensor::scalar(static_cast<double>(v), int64)};
      row[0].data<std::int64_t>()[0] = v;  // exact beyond 2^53
      v += step;
      return row;
    });
  }
  std::int64_t cardinality() const override {
    const std::int64_t span = step_ > 0 ? stop_ - start_ : start_ - stop_;
    const std::int64_t step = step_ > 0 ? step_ : -step_;
    return span <= 0 ? 0 : (span + step - 1) / step;
  }
  bool random_access() const override { return true; }
  Row at(std::int64_t i) const override {
    Row row{Tensor::scalar(0.0, int64)};
    row[0].data<std::int64_t>()[0] = start_ + i * step_;
    return row;
  }

 private:
  std::int64_t start_, stop_, step_;
};

class Generator final : public Node {
 public:
  explicit Generator(std::function<std::function<std::optional<Row>()>()> make) : make_(std::move(make)) {}
  std::unique_ptr<RowIterator> iterate() const override {
    return iterator_of([gen = make_(), i = std::int64_t{0}]() mutable -> std::optional<Row> {
      try {
        std::optional<Row> row = gen();
        ++i;
        return row;
      } catch (const DatasetError&) {
        throw;
      } catch (const std::exception& e) {
        std::throw_with_nested(DatasetError("from_generator: the generator threw on element " +
                                                std::to_string(i) + ": " + e.what(), i));
      }
    });
  }
  std::int64_t cardinality() const override { return kUnknown; }

 private:
  std::function<std::function<std::optional<Row>()>()> make_;
};

class Zip final : public Node {
 public:
  explicit Zip(std::vector<NodePtr> nodes) : nodes_(std::move(nodes)) {}
  std::unique_ptr<RowIterator> iterate() const override {
    std::vector<std::unique_ptr<RowIterator>> its;
    for (const auto& n : nodes_) its.push_back(n->iterate());
    return iterator_of([its = std::move(its)]() mutable -> std::optional<Row> {
      Row out;
      for (auto& it : its) {
        std::optional<Row> part = it->next();
        if (!part) return std::nullopt;
        out.insert(out.end(), part->begin(), part->end());
      }
      return out;
    });
  }
  std::int64_t cardinality() const override {
    std::int64_t c = kInfinite;
    for (const auto& n : nodes_) {
      const std::int64_t k = n->cardinality();
      if (k == kUnknown) return kUnknown;
      if (k >= 0) c = c < 0 ? k : std::min(c, k);
    }
    return c;
  }

 private:
  std::vector<NodePtr> nodes_;
};

class Concatenate final : public Node {
 public:
  Concatenate(NodePtr a, NodePtr b) : a_(std::move(a)), b_(std::move(b)) {}
  std::unique_ptr<RowIterator> iterate() const override {
    return iterator_of([b = b_, it = a_->iterate(), second = false]() mutable -> std::optional<Row> {
      for (;;) {
        std::optional<Row> row = it->next();
        if (row || second) return row;
        second = true;
        it = b->iterate();
      }
    });
  }
  std::int64_t cardinality() const override {
    const std::int64_t a = a_->cardinality(), b = b_->cardinality();
    if (a == kInfinite || b == kInfinite) return kInfinite;
    if (a == kUnknown || b == kUnknown) return kUnknown;
    return a + b;
  }

 private:
  NodePtr a_, b_;
};

}  // namespace

NodePtr from_tensor_slices(std::vector<Tensor> tensors) {
  if (tensors.empty()) throw ValueError("from_tensor_slices: no tensors given");
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    if (!tensors[k].defined() || tensors[k].ndim() == 0)
      throw ValueError("from_tensor_slices: component " + std::to_string(k) +
                       " is a scalar; slicing needs a first axis");
    if (tensors[k].shape()[0] != tensors[0].shape()[0])
      throw ValueError("from_tensor_slices: components differ in length along the first axis: " +
                       tensors[0].shape().str() + " and " + tensors[k].shape().str() +
                       " (component " + std::to_string(k) + ")");
  }
  return std::make_shared<TensorSlices>(std::move(tensors));
}

NodePtr from_tensors(std::vector<Tensor> tensors) {
  if (tensors.empty()) throw ValueError("from_tensors: no tensors given");
  return std::make_shared<Tensors>(std::move(tensors));
}

NodePtr range(std::int64_t start, std::int64_t stop, std::int64_t step) {
  if (step == 0) throw ValueError("range: step must not be zero");
  return std::make_shared<Range>(start, stop, step);
}

NodePtr from_generator(std::function<std::function<std::optional<Row>()>()> make_generator) {
  return std::make_shared<Generator>(std::move(make_generator));
}

NodePtr zip(std::vector<NodePtr> nodes) {
  if (nodes.empty()) throw ValueError("zip: no datasets given");
  return std::make_shared<Zip>(std::move(nodes));
}

NodePtr concatenate(NodePtr a, NodePtr b) { return std::make_shared<Concatenate>(std::move(a), std::move(b)); }

}  // namespace lamina::data
