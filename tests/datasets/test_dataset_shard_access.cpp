// SPDX-License-Identifier: Apache-2.0
// Dataset::shard over sources held in memory reads its elements directly (random access) rather
// than streaming the whole pass and dropping (num - 1) / num of it: a data-parallel worker reads
// only its shard.
#include <catch2/catch.hpp>

#include <chrono>

#include <lamina/datasets/dataset.hpp>

using namespace lamina;

namespace {

// The first value of each element of a dataset of single tensors.
template <class D>
std::vector<std::int64_t> ints(const D& ds) {
  std::vector<std::int64_t> out;
  for (const Tensor& t : ds) out.push_back(t.to_vector<std::int64_t>().at(0));
  return out;
}

}  // namespace

TEST_CASE("shard of a range jumps to its elements instead of streaming past the others", "[data]") {
  // Streaming would produce 2 * 10^14 elements before the third; random access takes three.
  const std::int64_t n = 1'000'000'000'000'000, num = 100'000'000'000'000;
  const auto start = std::chrono::steady_clock::now();
  const auto ds = Dataset::range(0, n, 1).shard(num, 3).take(3);
  CHECK(ints(ds) == std::vector<std::int64_t>{3, num + 3, 2 * num + 3});
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  CHECK(Dataset::range(0, n, 1).shard(num, 3).cardinality() == 10);
  // A negative step, and a shard of a shard.
  CHECK(ints(Dataset::range(20, 0, -2).shard(3, 1)) == std::vector<std::int64_t>{18, 12, 6});
  CHECK(ints(Dataset::range(0, 20, 1).shard(2, 1).shard(3, 2)) == std::vector<std::int64_t>{5, 11, 17});
}

TEST_CASE("shard of tensor slices gives every num-th row, as streaming does after a map", "[data]") {
  const Tensor x = Tensor::from_vector(std::vector<std::int64_t>{10, 11, 12, 13, 14, 15, 16}, {7, 1});
  const auto direct = Dataset::from_tensor_slices(x).shard(3, 1);
  CHECK(direct.cardinality() == 2);
  CHECK(ints(direct) == std::vector<std::int64_t>{11, 14});
  // map() hides the random access: the same elements, streamed.
  const auto streamed = Dataset::from_tensor_slices(x).map([](Tensor t) { return t; }).shard(3, 1);
  CHECK(ints(streamed) == std::vector<std::int64_t>{11, 14});
  CHECK(ints(Dataset::from_tensor_slices(x).shard(3, 0)) == std::vector<std::int64_t>{10, 13, 16});
}
