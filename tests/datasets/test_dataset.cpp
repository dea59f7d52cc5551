// SPDX-License-Identifier: Apache-2.0
// The Dataset chain's sources and transformations on the consumer's thread: order, content and
// cardinality, each checked against values derived by hand in the test.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>

#include <lamina/datasets/dataset.hpp>
#include <lamina/errors.hpp>

using namespace lamina;

namespace {

// The int64 scalars of a dataset of single tensors.
template <class D>
std::vector<std::int64_t> values(const D& ds) {
  std::vector<std::int64_t> out;
  for (const Tensor& t : ds) out.push_back(static_cast<std::int64_t>(t.item()));
  return out;
}

using V = std::vector<std::int64_t>;

}  // namespace

TEST_CASE("from_tensor_slices yields rows in order and reads like the issue's snippet", "[data]") {
  Tensor x = Tensor::arange(6, float32).reshape({3, 2});
  Tensor y = Tensor::from_vector<std::int64_t>({7, 8, 9}, {3});
  auto ds = Dataset::from_tensor_slices(x, y);
  CHECK(ds.cardinality() == 3);
  std::int64_t i = 0;
  for (auto [xi, yi] : ds) {
    CHECK(xi.shape() == Shape{2});
    CHECK(xi.at(0) == 2.0 * i);
    CHECK(xi.at(1) == 2.0 * i + 1);
    CHECK(yi.item() == 7 + i);
    ++i;
  }
  CHECK(i == 3);
}

TEST_CASE("from_tensor_slices checks that the components have the same length", "[data]") {
  Tensor x = Tensor::zeros({3, 2}), y = Tensor::zeros({4});
  CHECK_THROWS_WITH(Dataset::from_tensor_slices(x, y),
                    Catch::Contains("differ in length") && Catch::Contains("(3, 2)") && Catch::Contains("(4,)"));
  CHECK_THROWS_AS(Dataset::from_tensor_slices(Tensor::scalar(1.0)), ValueError);
}

TEST_CASE("from_tensors, range and their cardinalities", "[data]") {
  auto one = Dataset::from_tensors(Tensor::zeros({2, 3}));
  CHECK(one.cardinality() == 1);
  int n = 0;
  for (const Tensor& t : one) {
    CHECK(t.shape() == Shape{2, 3});
    ++n;
  }
  CHECK(n == 1);
  CHECK(values(Dataset::range(5)) == V{0, 1, 2, 3, 4});
  CHECK(values(Dataset::range(2, 9, 3)) == V{2, 5, 8});
  CHECK(values(Dataset::range(5, 0, -2)) == V{5, 3, 1});
  CHECK(Dataset::range(2, 9, 3).cardinality() == 3);
  CHECK(Dataset::range(5, 0, -2).cardinality() == 3);
  CHECK(Dataset::range(3, 3).cardinality() == 0);
  CHECK_THROWS_AS(Dataset::range(0, 5, 0), ValueError);
}

TEST_CASE("from_generator calls a fresh copy of the callable on every pass", "[data]") {
  auto ds = Dataset::from_generator([i = 0]() mutable -> std::optional<Tensor> {
    if (i == 3) return std::nullopt;
    return Tensor::scalar(10.0 * i++, int64);
  });
  CHECK(ds.cardinality() == Dataset::UNKNOWN);
  CHECK(values(ds) == V{0, 10, 20});
  CHECK(values(ds) == V{0, 10, 20});
}

TEST_CASE("zip pairs elements and stops at the shorter, concatenate chains", "[data]") {
  auto z = Dataset::zip(Dataset::range(5), Dataset::range(10, 13));
  CHECK(z.cardinality() == 3);
  V a, b;
  for (auto [p, q] : z) {
    a.push_back(static_cast<std::int64_t>(p.item()));
    b.push_back(static_cast<std::int64_t>(q.item()));
  }
  CHECK(a == V{0, 1, 2});
  CHECK(b == V{10, 11, 12});
  auto c = Dataset::range(2).concatenate(Dataset::range(5, 7));
  CHECK(c.cardinality() == 4);
  CHECK(values(c) == V{0, 1, 5, 6});
  CHECK(Dataset::range(2).concatenate(Dataset::range(3).repeat()).cardinality() == Dataset::INFINITE);
}

TEST_CASE("map applies the function in order and may change the structure", "[data]") {
  auto squared = Dataset::range(4).map([](Tensor t) { return t * t; });
  CHECK(values(squared) == V{0, 1, 4, 9});
  auto pairs = Dataset::range(3).map([](Tensor t) { return std::pair{t, t + 100.0}; });
  V second;
  for (auto [p, q] : pairs) second.push_back(static_cast<std::int64_t>(q.item()));
  CHECK(second == V{100, 101, 102});
  auto swapped = pairs.map([](Tensor p, Tensor q) { return std::tuple{q, p}; });
  V first;
  for (auto [p, q] : swapped) first.push_back(static_cast<std::int64_t>(p.item()));
  CHECK(first == V{100, 101, 102});
}

TEST_CASE("filter keeps matching elements and makes the cardinality unknown", "[data]") {
  auto even = Dataset::range(10).filter([](Tensor t) { return static_cast<std::int64_t>(t.item()) % 2 == 0; });
  CHECK(values(even) == V{0, 2, 4, 6, 8});
  CHECK(even.cardinality() == Dataset::UNKNOWN);
  CHECK(Dataset::range(3).repeat().filter([](Tensor) { return true; }).cardinality() == Dataset::INFINITE);
}

TEST_CASE("shuffle permutes, is reproducible by seed and reshuffles per pass", "[data]") {
  auto ds = Dataset::range(20).shuffle(20, {.seed = 7});
  const V first = values(ds), second = values(ds);
  V sorted = first;
  std::sort(sorted.begin(), sorted.end());
  V expected(20);
  std::iota(expected.begin(), expected.end(), 0);
  CHECK(sorted == expected);
  CHECK(first != expected);
  CHECK(first != second);  // a new order each pass
  // The same seed in a new pipeline gives the same sequence of orders.
  auto again = Dataset::range(20).shuffle(20, {.seed = 7});
  CHECK(values(again) == first);
  CHECK(values(again) == second);
  auto fixed = Dataset::range(20).shuffle(20, {.seed = 7, .reshuffle_each_iteration = false});
  CHECK(values(fixed) == values(fixed));
}

TEST_CASE("shuffle with a small buffer only moves elements within reach of the buffer", "[data]") {
  // With buffer 3, output position i holds an input element from [0, i + 2].
  const V out = values(Dataset::range(30).shuffle(3, {.seed = 1}));
  REQUIRE(out.size() == 30);
  for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i] <= static_cast<std::int64_t>(i) + 2);
  CHECK(out != values(Dataset::range(30)));
}

TEST_CASE("batch stacks elements, keeps or drops the remainder", "[data]") {
  Tensor x = Tensor::arange(10, float32).reshape({5, 2});
  auto ds = Dataset::from_tensor_slices(x, Tensor::arange(5, int64)).batch(2);
  CHECK(ds.cardinality() == 3);
  std::vector<Shape> shapes;
  std::vector<double> firsts;
  for (auto [xb, yb] : ds) {
    shapes.push_back(xb.shape());
    firsts.push_back(xb.at(0));
    CHECK(yb.dim(0) == xb.dim(0));
  }
  CHECK(shapes == std::vector<Shape>{{2, 2}, {2, 2}, {1, 2}});
  CHECK(firsts == std::vector<double>{0, 4, 8});
  auto dropped = Dataset::from_tensor_slices(x).batch(2, {.drop_remainder = true});
  CHECK(dropped.cardinality() == 2);
  int n = 0;
  for (const Tensor& b : dropped) {
    CHECK(b.dim(0) == 2);
    ++n;
  }
  CHECK(n == 2);
}

TEST_CASE("batch names the element whose shape differs", "[data]") {
  auto ds = Dataset::range(3).map([](Tensor t) { return Tensor::zeros({t.item() < 2 ? 2 : 3}); }).batch(3);
  CHECK_THROWS_WITH(ds.begin(), Catch::Contains("element 2") && Catch::Contains("(3,)") && Catch::Contains("(2,)"));
}

TEST_CASE("padded_batch pads to the longest or to padded_shapes with padding_values", "[data]") {
  // Element i is [1, 2, ..., i+1].
  auto ragged = Dataset::range(3).map([](Tensor t) {
    const auto n = static_cast<std::int64_t>(t.item()) + 1;
    return Tensor::arange(n, float32) + 1.0;
  });
  std::vector<Tensor> batches;
  for (const Tensor& b : ragged.padded_batch(3)) batches.push_back(b);
  REQUIRE(batches.size() == 1);
  CHECK(batches[0].shape() == Shape{3, 3});
  CHECK(batches[0].to_vector<float>() == std::vector<float>{1, 0, 0, 1, 2, 0, 1, 2, 3});
  batches.clear();
  for (const Tensor& b : ragged.padded_batch(2, {.padded_shapes = {{4}}, .padding_values = {-1}})) batches.push_back(b);
  REQUIRE(batches.size() == 2);
  CHECK(batches[0].to_vector<float>() == std::vector<float>{1, -1, -1, -1, 1, 2, -1, -1});
  CHECK(batches[1].to_vector<float>() == std::vector<float>{1, 2, 3, -1});
  CHECK_THROWS_WITH(ragged.padded_batch(3, {.padded_shapes = {{2}}}).begin(), Catch::Contains("exceeds padded_shapes"));
}

TEST_CASE("padded_batch pads 2-D components along both axes", "[data]") {
  auto ds = Dataset::range(2).map([](Tensor t) {
    const auto k = static_cast<std::int64_t>(t.item()) + 1;  // (k, k) of the value k
    return Tensor::full({k, k}, static_cast<double>(k));
  });
  for (const Tensor& b : ds.padded_batch(2)) {
    CHECK(b.shape() == Shape{2, 2, 2});
    CHECK(b.to_vector<float>() == std::vector<float>{1, 0, 0, 0, 2, 2, 2, 2});
  }
}

TEST_CASE("unbatch inverts batch", "[data]") {
  auto ds = Dataset::range(5).batch(2).unbatch();
  CHECK(values(ds) == V{0, 1, 2, 3, 4});
  CHECK(ds.cardinality() == Dataset::UNKNOWN);
}

TEST_CASE("repeat, take and skip", "[data]") {
  CHECK(values(Dataset::range(3).repeat(2)) == V{0, 1, 2, 0, 1, 2});
  CHECK(Dataset::range(3).repeat(2).cardinality() == 6);
  CHECK(Dataset::range(3).repeat().cardinality() == Dataset::INFINITE);
  CHECK(values(Dataset::range(3).repeat().take(7)) == V{0, 1, 2, 0, 1, 2, 0});
  CHECK(Dataset::range(3).repeat().take(7).cardinality() == 7);
  CHECK(values(Dataset::range(5).skip(3)) == V{3, 4});
  CHECK(Dataset::range(5).skip(3).cardinality() == 2);
  CHECK(values(Dataset::range(5).skip(9)).empty());
  CHECK(values(Dataset::range(5).take(0)).empty());
  // An empty dataset repeated forever ends instead of spinning.
  CHECK(values(Dataset::range(0).repeat()).empty());
}

TEST_CASE("shard and enumerate", "[data]") {
  CHECK(values(Dataset::range(10).shard(3, 1)) == V{1, 4, 7});
  CHECK(Dataset::range(10).shard(3, 1).cardinality() == 3);
  CHECK(Dataset::range(10).shard(3, 0).cardinality() == 4);
  CHECK_THROWS_AS(Dataset::range(10).shard(3, 3), ValueError);
  V idx, val;
  for (auto [i, v] : Dataset::range(10, 13).enumerate(5)) {
    idx.push_back(static_cast<std::int64_t>(i.item()));
    val.push_back(static_cast<std::int64_t>(v.item()));
  }
  CHECK(idx == V{5, 6, 7});
  CHECK(val == V{10, 11, 12});
}

TEST_CASE("cache in memory replays the first full pass", "[data]") {
  int calls = 0;
  auto ds = Dataset::range(4).map([&calls](Tensor t) {
    ++calls;
    return t * 10.0;
  }).cache();
  // An unfinished pass records nothing.
  for (const Tensor& t : ds.take(2)) (void)t;
  CHECK(values(ds) == V{0, 10, 20, 30});
  const int after_first = calls;
  CHECK(values(ds) == V{0, 10, 20, 30});
  CHECK(calls == after_first);
  CHECK(after_first == 2 + 4);
}

TEST_CASE("interleave follows tf.data's cycle and block order", "[data]") {
  // tf.data's documented example: range(1, 6).interleave(lambda x: from_tensors(x).repeat(6),
  // cycle_length=2, block_length=4).
  auto ds = Dataset::range(1, 6).interleave(
      [](Tensor x) { return Dataset::from_tensors(x).repeat(6); }, {.cycle_length = 2, .block_length = 4});
  const V expected{1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5};
  CHECK(values(ds) == expected);
  // cycle_length 1 is flat_map.
  auto flat = Dataset::range(3).interleave([](Tensor x) {
    return Dataset::range(static_cast<std::int64_t>(x.item()));
  });
  CHECK(values(flat) == V{0, 0, 1});
}

TEST_CASE("options out of range are ValueErrors that name the stage", "[data]") {
  CHECK_THROWS_WITH(Dataset::range(3).batch(0), Catch::Contains("batch") && Catch::Contains("batch_size"));
  CHECK_THROWS_WITH(Dataset::range(3).shuffle(0), Catch::Contains("shuffle"));
  CHECK_THROWS_WITH(Dataset::range(3).prefetch(0), Catch::Contains("prefetch"));
  CHECK_THROWS_WITH(Dataset::range(3).repeat(-3), Catch::Contains("repeat"));
  CHECK_THROWS_WITH(Dataset::range(3).map([](Tensor t) { return t; }, {.num_parallel_calls = -5}),
                    Catch::Contains("num_parallel_calls"));
}
