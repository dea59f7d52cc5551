// SPDX-License-Identifier: Apache-2.0
// What every stage shares: seeds and per-element random streams, starting passes, and the
// adapter that lets fit/evaluate/predict read a dataset as a BatchSource.
#include "dataset_node.hpp"

#include <map>
#include <set>

#include "lamina/errors.hpp"

namespace lamina::data {

std::uint64_t hash_mix(std::uint64_t a, std::uint64_t b) {
  auto splitmix = [](std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  return splitmix(a ^ splitmix(b));
}

std::uint64_t draw_seed() { return random_bits(); }

std::string shape_str(const Tensor& t) { return t.shape().str(); }

void require_positive(const char* stage, const char* what, std::int64_t n) {
  if (n <= 0)
    throw ValueError(std::string(stage) + ": " + what + " must be positive, got " + std::to_string(n));
}

std::unique_ptr<RowIterator> iterate(const NodePtr& node) {
  if (!node) throw ValueError("iterating an empty dataset handle");
  return node->iterate();
}

std::int64_t cardinality(const NodePtr& node) { return node ? node->cardinality() : 0; }

namespace {

// A dataset as fit reads it: each reset() starts a new pass (a new iterator, so a shuffle
// reshuffles and the previous pass's threads stop).
class DatasetBatches final : public BatchSource {
 public:
  DatasetBatches(NodePtr node, Names names) : node_(std::move(node)), names_(std::move(names)) {}
  void reset() override {
    it_.reset();
    it_ = node_->iterate();
  }
  std::optional<TensorArg> next() override {
    if (!it_) reset();
    std::optional<Row> row = it_->next();
    if (!row) return std::nullopt;
    if (!names_) return TensorArg(std::move(*row));
    if (row->size() != names_->size())
      throw ValueError("the dataset names " + std::to_string(names_->size()) +
                       " components but its element has " + std::to_string(row->size()));
    std::map<std::string, Tensor> named;
    for (std::size_t i = 0; i < row->size(); ++i) named[(*names_)[i]] = (*row)[i];
    return TensorArg(named);
  }
  std::int64_t cardinality() const override { return node_->cardinality(); }

 private:
  NodePtr node_;
  Names names_;
  std::unique_ptr<RowIterator> it_;
};

}  // namespace

std::shared_ptr<BatchSource> batch_source(const NodePtr& node, const Names& names) {
  if (!node) throw ValueError("an empty dataset handle cannot feed a model");
  return std::make_shared<DatasetBatches>(node, names);
}

Names check_names(std::vector<std::string> names, std::size_t arity) {
  if (arity != 0 && names.size() != arity)
    throw ValueError("named: " + std::to_string(names.size()) + " names given for elements of " +
                     std::to_string(arity) + " components");
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (name.empty()) throw ValueError("named: a component's name is empty");
    if (!seen.insert(name).second) throw ValueError("named: the name '" + name + "' is given twice");
  }
  if (names.empty()) throw ValueError("named: no names given");
  return std::make_shared<const std::vector<std::string>>(std::move(names));
}

}  // namespace lamina::data
