// SPDX-License-Identifier: Apache-2.0
// src/ops/random.hpp — lamina's seeded generators over Philox4x32-10 (src/backend/cpu/random.hpp).
// A generator is a key, a stream and a 64-bit offset; a draw of n values reserves the next n
// counters (as PyTorch's Philox offset), and element i of the draw is a pure function of
// (key, stream, offset + i), so results do not depend on the thread count, on how work is split,
// or on the device.
#pragma once

#include <atomic>
#include <cstdint>

#include "backend/philox.hpp"
#include "lamina/tensor.hpp"

namespace lamina::random {

/// Independent streams of one key (word 3 of the Philox counter): the same seed used for two
/// purposes never replays one purpose's numbers in the other.
enum class Stream : std::uint32_t {
  global = 0,           // set_seed's generator: initializers, dropout, noise, shuffles
  seeded = 1,           // a layer's or initializer's own `seed` (Keras's SeedGenerator(seed))
  dataset_shuffle = 2,  // Dataset.shuffle's buffer slots, one generator per pass
  dataset_element = 3,  // the draws inside a Dataset.map call, one generator per element
  epoch_order = 4,      // fit's order of the samples, one generator per (shuffle key, epoch)
};

/// (key, stream, offset). Reserving is atomic, so threads may draw from one generator at once
/// (which thread gets which range then depends on timing, as with any shared stream).
class Generator {
 public:
  Generator(std::uint64_t key, Stream stream, std::uint64_t offset = 0)
      : key_(key), offset_(offset), stream_(static_cast<std::uint32_t>(stream)) {}
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  /// The next `count` counters: where a draw of `count` values reads.
  backend::PhiloxPlace reserve(std::uint64_t count) {
    return {key_.load(std::memory_order_relaxed), offset_.fetch_add(count), stream_};
  }
  /// Where counter `offset` of this generator reads, without reserving it.
  backend::PhiloxPlace at(std::uint64_t offset) const { return {key(), offset, stream_}; }
  /// 64 random bits (one counter).
  std::uint64_t next_bits();
  /// Uniform in [0, bound) (one counter); bound >= 1.
  std::uint64_t next_below(std::uint64_t bound);
  /// Uniform in [0, 1) with 53 random bits (one counter).
  double next_uniform01();

  std::uint64_t key() const { return key_.load(std::memory_order_relaxed); }
  std::uint64_t offset() const { return offset_.load(); }
  Stream stream() const { return static_cast<Stream>(stream_); }
  void reset(std::uint64_t key, std::uint64_t offset) {
    key_ = key;
    offset_ = offset;
  }

 private:
  std::atomic<std::uint64_t> key_, offset_;
  std::uint32_t stream_;
};

/// set_seed's generator (Stream::global); unseeded, its key comes from std::random_device.
Generator& global();
/// The generator this thread draws from: the innermost GeneratorScope's, else global().
Generator& current();

/// While alive, the calling thread's draws (every op below and Generator-free helper) come from
/// `g`: a seeded layer, a seeded initializer or a Dataset.map element uses its own stream.
class GeneratorScope {
 public:
  explicit GeneratorScope(Generator& g);
  ~GeneratorScope();
  GeneratorScope(const GeneratorScope&) = delete;
  GeneratorScope& operator=(const GeneratorScope&) = delete;

 private:
  Generator* previous_;
};

/// While alive, random_uniform, random_normal and truncated_normal on the calling thread reserve
/// their counters as usual but return zeros instead of drawing: a deferred initializer
/// (engine::DeferredInit) moves the stream exactly as the real draw would, for nothing.
class CountOnly {
 public:
  CountOnly();
  ~CountOnly();
  CountOnly(const CountOnly&) = delete;
  CountOnly& operator=(const CountOnly&) = delete;

 private:
  bool previous_;
};
/// Whether a CountOnly scope is active on this thread.
bool counting_only();
/// How many values random_uniform, random_normal and truncated_normal have drawn in this process
/// (all threads): what a test watches to see that no initializer ran.
std::uint64_t values_drawn();

/// Reserves `count` counters of current() and returns the first (use with bits()).
std::uint64_t reserve(std::uint64_t count);
/// 64 random bits of counter `c` of current()'s key and stream.
std::uint64_t bits(std::uint64_t c);

/// The keep mask of dropout over `shape`: 1/(1 − rate) where kept, 0 where dropped, in `dtype`
/// (a mask drawn in a noise shape and broadcast over the input). Draws as dropout(x, rate) does.
Tensor dropout_mask(const Shape& shape, double rate, DType dtype, Device device = {});

/// A permutation of 0..n−1 that depends on (key, epoch) alone, so a resumed fit can rebuild the
/// order of any epoch: Stream::epoch_order of `key` from offset epoch·2⁴⁰ (n < 2⁴⁰).
Tensor epoch_permutation(std::int64_t n, std::uint64_t key, int epoch);

/// global()'s position, for BackupAndRestore.
struct State {
  std::uint64_t seed, counter;
};
State get_state();
void set_state(State s);

}  // namespace lamina::random
