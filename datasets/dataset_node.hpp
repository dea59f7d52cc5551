// SPDX-License-Identifier: Apache-2.0
// datasets/dataset_node.hpp — what every pipeline stage implements, and the helpers they share
// (seeds, per-element random draws, row checks). Private to datasets/.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "lamina/datasets/dataset.hpp"
#include "ops/random.hpp"

namespace lamina::data {

/// One stage: an immutable description that starts passes (iterators) over its elements.
class Node {
 public:
  virtual ~Node() = default;
  virtual std::unique_ptr<RowIterator> iterate() const = 0;
  /// >= 0, BasicDataset::INFINITE (-1) or UNKNOWN (-2).
  virtual std::int64_t cardinality() const = 0;
  /// Whether at() reads element i directly (sources over memory), so that shard() need not
  /// stream the elements it drops.
  virtual bool random_access() const { return false; }
  /// Element i (0 <= i < cardinality()); only when random_access().
  virtual Row at(std::int64_t /*i*/) const { return {}; }
};

inline constexpr std::int64_t kInfinite = -1;
inline constexpr std::int64_t kUnknown = -2;

/// SplitMix64 finaliser of a ^ mix(b): a fresh 64-bit key from two.
std::uint64_t hash_mix(std::uint64_t a, std::uint64_t b);
/// A seed from lamina's global random stream (set_seed makes it reproducible).
std::uint64_t draw_seed();

/// The seed of a stage's next pass: seed, or seed mixed with the pass number when each pass
/// must differ. Shared by copies of the stage (like tf.data's seed generator).
class PassSeeds {
 public:
  PassSeeds(std::optional<std::uint64_t> seed, bool vary_per_pass)
      : seed_(seed ? *seed : draw_seed()), vary_(vary_per_pass) {}
  std::uint64_t next() const { return vary_ ? hash_mix(seed_, passes_.fetch_add(1)) : seed_; }

 private:
  std::uint64_t seed_;
  bool vary_;
  mutable std::atomic<std::uint64_t> passes_{0};
};

/// While alive on a thread, its draws (image:: random ops, and any random op a map function
/// calls) come from the element's own Philox stream, keyed by `key`: the draws of one map call
/// depend only on the pass seed and the element index.
class ElementRandomScope {
 public:
  explicit ElementRandomScope(std::uint64_t key) : generator_(key, random::Stream::dataset_element), scope_(generator_) {}

 private:
  random::Generator generator_;
  random::GeneratorScope scope_;
};

/// 64 random bits from the thread's current generator (the element's inside a map, else the global one).
inline std::uint64_t random_bits() { return random::current().next_bits(); }
/// Uniform in [0, bound).
inline std::uint64_t random_below(std::uint64_t bound) { return random::current().next_below(bound); }
/// Uniform in [0, 1).
inline double random_uniform01() { return random::current().next_uniform01(); }

/// "(28, 28)" for a component.
std::string shape_str(const Tensor& t);
/// Throws ValueError "<stage>: <what> must be ..., got n".
void require_positive(const char* stage, const char* what, std::int64_t n);

/// An iterator whose next() is a lambda (holding its state by value: an iterator must not point
/// into its node, which may be gone while the pass runs).
template <class Next>
class LambdaIterator final : public RowIterator {
 public:
  explicit LambdaIterator(Next next) : next_(std::move(next)) {}
  std::optional<Row> next() override { return next_(); }

 private:
  Next next_;
};
template <class Next>
std::unique_ptr<RowIterator> iterator_of(Next next) {
  return std::make_unique<LambdaIterator<Next>>(std::move(next));
}

}  // namespace lamina::data
