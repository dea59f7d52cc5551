// SPDX-License-Identifier: Apache-2.0
// Parallel map, prefetch and parallel interleave: the same elements in the same order as on one
// thread, errors that reach the consumer with the element's index, bounded buffers and iterators
// that stop their threads when destroyed. Tagged [tsan]: this file runs under ThreadSanitizer.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <lamina/datasets/dataset.hpp>
#include <lamina/datasets/image_ops.hpp>
#include <lamina/errors.hpp>
#include <lamina/ops.hpp>

using namespace lamina;

namespace {

using V = std::vector<std::int64_t>;

template <class D>
V values(const D& ds) {
  V out;
  for (const Tensor& t : ds) out.push_back(static_cast<std::int64_t>(t.item()));
  return out;
}

// A little real work per element, so that workers overlap.
Tensor busy_square(Tensor t) {
  Tensor acc = t * t;
  for (int k = 0; k < 20; ++k) acc = acc + Tensor::zeros({});
  return acc;
}

std::vector<Tensor> all_of(const BasicDataset<Tensor>& ds) {
  std::vector<Tensor> out;
  for (const Tensor& t : ds) out.push_back(t);
  return out;
}

bool same(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].shape() != b[i].shape() || a[i].to_vector<float>() != b[i].to_vector<float>()) return false;
  return true;
}

}  // namespace

TEST_CASE("parallel map keeps the input order at every parallelism", "[data][tsan]") {
  V expected;
  for (std::int64_t i = 0; i < 200; ++i) expected.push_back(i * i);
  for (int calls : {0, 1, 2, 3, 8, AUTOTUNE}) {
    INFO("num_parallel_calls " << calls);
    CHECK(values(Dataset::range(200).map(busy_square, {.num_parallel_calls = calls})) == expected);
  }
}

TEST_CASE("parallel map with deterministic false yields every element once", "[data][tsan]") {
  V out = values(Dataset::range(100).map(busy_square, {.num_parallel_calls = 4, .deterministic = false}));
  std::sort(out.begin(), out.end());
  V expected;
  for (std::int64_t i = 0; i < 100; ++i) expected.push_back(i * i);
  CHECK(out == expected);
}

TEST_CASE("seeded augmentations are the same at any thread count and differ per pass", "[data][tsan]") {
  Tensor images = random_uniform({24, 6, 6, 1});
  auto augmented = [&](int calls, std::uint64_t seed) {
    return Dataset::from_tensor_slices(images)
        .shuffle(24, {.seed = seed})
        .map([](Tensor x) { return image::random_crop(image::random_flip_left_right(x), 6, 6, {.padding = 2}); },
             {.num_parallel_calls = calls, .seed = seed})
        .batch(5)
        .prefetch(2);
  };
  const auto reference = all_of(augmented(0, 11));
  for (int calls : {2, 4, AUTOTUNE}) {
    INFO("num_parallel_calls " << calls);
    CHECK(same(all_of(augmented(calls, 11)), reference));
  }
  CHECK_FALSE(same(all_of(augmented(0, 12)), reference));
  // The second pass of one pipeline draws new augmentations, reproducibly.
  auto ds = augmented(2, 11);
  const auto pass1 = all_of(ds), pass2 = all_of(ds);
  CHECK(same(pass1, reference));
  CHECK_FALSE(same(pass2, pass1));
  auto again = augmented(4, 11);
  all_of(again);
  CHECK(same(all_of(again), pass2));
}

TEST_CASE("an exception in a map reaches the consumer with the element index", "[data][tsan]") {
  auto failing = [](Tensor t) {
    if (t.item() == 7) throw std::runtime_error("bad pixel");
    return t;
  };
  for (int calls : {0, 2, AUTOTUNE}) {
    INFO("num_parallel_calls " << calls);
    auto ds = Dataset::range(20).map(failing, {.num_parallel_calls = calls}).prefetch(3);
    std::int64_t seen = 0;
    try {
      for (const Tensor& t : ds) {
        CHECK(t.item() == seen);
        ++seen;
      }
      FAIL("no exception");
    } catch (const DatasetError& e) {
      CHECK(e.element_index() == 7);
      CHECK_THAT(e.what(), Catch::Contains("map") && Catch::Contains("element 7") && Catch::Contains("bad pixel"));
      CHECK_THROWS_WITH(std::rethrow_if_nested(e), "bad pixel");
    }
    CHECK(seen == 7);
  }
}

TEST_CASE("destroying an iterator early stops its threads and bounds the work done", "[data][tsan]") {
  // A cheap map runs in chunks of up to 64 elements; a slow one (1 ms an element, past the 200 us
  // a chunk aims at) one element at a time. Either way the map holds at most 2 x workers x chunk
  // results, and the prefetch 4 plus 1 in its producer's hands.
  const bool slow = GENERATE(false, true);
  CAPTURE(slow);
  std::atomic<int> calls{0};
  auto ds = Dataset::range(0, 1'000'000)
                .repeat()
                .map([&calls, slow](Tensor t) {
                  if (slow) std::this_thread::sleep_for(std::chrono::milliseconds(1));
                  ++calls;
                  return t;
                }, {.num_parallel_calls = 2})
                .prefetch(4);
  {
    auto it = ds.begin();
    for (int k = 0; k < 3; ++k) ++it;
  }  // joins the prefetch thread and the map's workers
  const int after = calls.load();
  const int chunk = slow ? 1 : 64;
  CHECK(after >= 4);
  CHECK(after <= 4 + 4 + 1 + 2 * 2 * chunk);
  CHECK(calls.load() == after);  // nothing runs any more
}

TEST_CASE("shuffle and prefetch never pull more than their buffers ahead", "[data][tsan]") {
  std::atomic<int> pulls{0};
  auto counted = Dataset::from_generator([&pulls, i = 0]() mutable -> std::optional<Tensor> {
    ++pulls;
    return Tensor::scalar(i++, int64);
  });
  {
    auto it = counted.shuffle(5, {.seed = 1}).begin();
    CHECK(pulls.load() == 5);
    ++it;
    CHECK(pulls.load() == 6);
  }
  pulls = 0;
  {
    auto it = counted.prefetch(2).begin();  // one element consumed
    CHECK(pulls.load() <= 1 + 2 + 1);
  }
  CHECK(pulls.load() <= 4);
}

TEST_CASE("prefetch AUTOTUNE and parallel interleave keep the sequential order", "[data][tsan]") {
  auto make = [](int calls) {
    return Dataset::range(1, 6)
        .interleave([](Tensor x) { return Dataset::from_tensors(x).repeat(6); },
                    {.cycle_length = 2, .block_length = 4, .num_parallel_calls = calls})
        .prefetch(AUTOTUNE);
  };
  const V expected{1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5};
  CHECK(values(make(0)) == expected);
  CHECK(values(make(2)) == expected);
  CHECK(values(make(AUTOTUNE)) == expected);
}

TEST_CASE("a failing upstream stage reaches the consumer through a parallel map and prefetch", "[data][tsan]") {
  auto ds = Dataset::from_generator([i = 0]() mutable -> std::optional<Tensor> {
              if (i == 5) throw std::runtime_error("disk gone");
              return Tensor::scalar(i++, int64);
            })
                .map(busy_square, {.num_parallel_calls = 3})
                .prefetch(2);
  V seen;
  try {
    for (const Tensor& t : ds) seen.push_back(static_cast<std::int64_t>(t.item()));
    FAIL("no exception");
  } catch (const DatasetError& e) {
    CHECK(e.element_index() == 5);
    CHECK_THAT(e.what(), Catch::Contains("from_generator") && Catch::Contains("disk gone"));
  }
  CHECK(seen == V{0, 1, 4, 9, 16});
}

#if defined(__linux__)
TEST_CASE("parallel map workers and the prefetch thread run 10 nice levels below the process", "[data][tsan]") {
  const int base = getpriority(PRIO_PROCESS, static_cast<id_t>(getpid()));
  auto nice_of_this_thread = [] { return getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid))); };
  std::mutex mutex;
  std::set<int> seen;
  auto record = [&](Tensor t) {
    std::lock_guard<std::mutex> lock(mutex);
    seen.insert(nice_of_this_thread());
    return t;
  };
  SECTION("parallel map") {
    for (const Tensor& t : Dataset::range(0, 50).map(record, {.num_parallel_calls = 2})) (void)t;
  }
  SECTION("prefetch (a sequential map runs on its producer thread)") {
    for (const Tensor& t : Dataset::range(0, 50).map(record).prefetch(2)) (void)t;
  }
  CHECK(seen == std::set<int>{std::min(base + 10, 19)});
  CHECK(nice_of_this_thread() == base);  // the consumer's own thread keeps its priority
}
#endif
