// SPDX-License-Identifier: Apache-2.0
// The stages that run on background threads: map (on the consumer's thread or on workers, in
// order or not), prefetch and interleave. Each iterator owns its threads: its destructor stops
// and joins them, so no thread outlives the pass that started it.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "dataset_node.hpp"
#include "lamina/errors.hpp"

namespace lamina::data {
namespace {

using Clock = std::chrono::steady_clock;

// Background stages run 10 nice levels below the process (Linux; at most 19). While training keeps
// every core busy, a pipeline thread that wakes at normal priority preempts one chunk of a
// statically partitioned parallel op and the whole op waits for it: the CNN bench's epoch took
// 7.4 % longer fed by the pipeline than by preloaded tensors (median of 3) at equal priority,
// 0.9 % at nice +10. At the lower priority the pipeline fills the gaps between ops; when the
// consumer waits for data the cores are idle and the pipeline gets them all.
void lower_thread_priority() {
#if defined(__linux__)
  constexpr int kBackgroundNice = 10;
  const int base = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::getpid()));
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), std::min(base + kBackgroundNice, 19));
#endif
}

int cores() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// fn(row) for element `index`, with the element's own random stream and no tape; a failure
// becomes a DatasetError naming the element.
Row call_map(const std::function<Row(Row)>& fn, Row row, std::uint64_t key, std::int64_t index) {
  ElementRandomScope random(hash_mix(key, static_cast<std::uint64_t>(index)));
  NoGradGuard no_grad;
  try {
    return fn(std::move(row));
  } catch (const std::exception& e) {
    std::throw_with_nested(DatasetError("map: the function threw on element " + std::to_string(index) +
                                            ": " + e.what(), index));
  }
}

class SequentialMap final : public RowIterator {
 public:
  SequentialMap(std::unique_ptr<RowIterator> in, std::function<Row(Row)> fn, std::uint64_t key)
      : in_(std::move(in)), fn_(std::move(fn)), key_(key) {}
  std::optional<Row> next() override {
    std::optional<Row> row = in_->next();
    if (!row) return row;
    return call_map(fn_, std::move(*row), key_, index_++);
  }

 private:
  std::unique_ptr<RowIterator> in_;
  std::function<Row(Row)> fn_;
  std::uint64_t key_;
  std::int64_t index_ = 0;
};

// Workers take input elements in order, a chunk at a time (under fetch_mutex_, so chunks are
// numbered in input order), map them outside any lock and file the results by index; the consumer
// hands them out by index (deterministic) or as they come. A chunk is sized so that mapping it
// takes about kChunkTarget: handing elements between threads one by one costs a futex wake and a
// context switch each, which dwarfs a cheap map (a 28x28 crop and flip). A worker starts a chunk
// only when a whole chunk fits under capacity(), so a consumer that is the bottleneck wakes a
// worker once per chunk, not once per element.
class ParallelMap final : public RowIterator {
 public:
  ParallelMap(std::unique_ptr<RowIterator> in, std::function<Row(Row)> fn, std::uint64_t key, int workers,
              bool autotune, bool deterministic)
      : in_(std::move(in)), fn_(std::move(fn)), key_(key), deterministic_(deterministic), autotune_(autotune),
        workers_(workers), active_(autotune ? 1 : workers) {
    threads_.reserve(workers);
    for (int w = 0; w < workers; ++w) threads_.emplace_back([this] {
      lower_thread_priority();
      work();
    });
  }
  ~ParallelMap() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  std::optional<Row> next() override {
    std::unique_lock<std::mutex> lock(mutex_);
    if (failed_) return std::nullopt;
    auto ready = [&] {
      if (deterministic_) return results_.count(next_out_) > 0 || (end_ >= 0 && next_out_ >= end_);
      return !results_.empty() || (end_ >= 0 && handed_ >= end_);
    };
    if (!ready()) {
      const auto wait_start = Clock::now();
      consumer_waiting_ = true;
      done_cv_.wait(lock, ready);
      consumer_waiting_ = false;
      waited_ += Clock::now() - wait_start;
    }
    auto slot = deterministic_ ? results_.find(next_out_) : results_.begin();
    if (slot == results_.end()) return std::nullopt;  // the input is exhausted
    Slot s = std::move(slot->second);
    results_.erase(slot);
    ++handed_;
    if (deterministic_) ++next_out_;
    if (s.error) failed_ = true;  // the pass ends at its first error
    tune();
    const bool wake = idle_ > 0 && may_fetch();
    lock.unlock();
    if (wake) work_cv_.notify_one();
    if (s.error) std::rethrow_exception(s.error);
    return std::move(s.row);
  }

 private:
  struct Slot {
    Row row;
    std::exception_ptr error;
  };
  static constexpr int kMaxChunk = 64;
  static constexpr std::chrono::microseconds kChunkTarget{200};

  // AUTOTUNE: see the policy in dataset.hpp. Called with mutex_ held, once per element handed out.
  void tune() {
    if (!autotune_ || ++window_count_ < 16 * chunk_) return;
    const auto window = Clock::now() - window_start_;
    if (waited_ * 10 > window && active_ < workers_) ++active_;
    else if (waited_.count() == 0 && room() < chunk_ && active_ > 1) --active_;
    window_count_ = 0;
    waited_ = Clock::duration::zero();
    window_start_ = Clock::now();
  }

  std::int64_t capacity() const { return std::int64_t{2} * workers_ * chunk_; }
  // Elements that may still be fetched before the buffer is full.
  std::int64_t room() const {
    if (deterministic_) return next_out_ + capacity() - next_fetch_;
    return capacity() - static_cast<std::int64_t>(results_.size()) - inflight_;
  }
  bool may_fetch() const { return end_ < 0 && !failed_ && busy_ < active_ && room() >= chunk_; }

  void work() {
    std::vector<Row> rows;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ++idle_;
        work_cv_.wait(lock, [&] { return stop_ || may_fetch(); });
        --idle_;
        if (stop_) return;
        ++busy_;
      }
      std::int64_t first = -1;
      std::exception_ptr fetch_error;
      rows.clear();
      {
        std::lock_guard<std::mutex> fetch(fetch_mutex_);
        std::int64_t count = 0;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          if (end_ < 0) {
            first = next_fetch_;
            count = std::min<std::int64_t>(chunk_, room());
          }
        }
        bool exhausted = false;
        while (static_cast<std::int64_t>(rows.size()) < count) {
          std::optional<Row> row;
          try {
            row = in_->next();
          } catch (...) {
            fetch_error = std::current_exception();
          }
          if (!row) {
            exhausted = true;
            break;
          }
          rows.push_back(std::move(*row));
        }
        std::lock_guard<std::mutex> lock(mutex_);
        const auto fetched = static_cast<std::int64_t>(rows.size());
        next_fetch_ += fetched;
        inflight_ += fetched + (fetch_error ? 1 : 0);
        if (exhausted) end_ = next_fetch_ + (fetch_error ? 1 : 0);
      }
      // Map the chunk; an element that throws ends it (the pass ends at its first error anyway).
      std::vector<std::pair<std::int64_t, Slot>> done;
      done.reserve(rows.size() + 1);
      const auto map_start = Clock::now();
      std::int64_t index = first;
      for (Row& row : rows) {
        Slot slot;
        try {
          slot.row = call_map(fn_, std::move(row), key_, index);
        } catch (...) {
          slot.error = std::current_exception();
        }
        const bool failed = slot.error != nullptr;
        done.emplace_back(index++, std::move(slot));
        if (failed) break;
      }
      const auto mapped = static_cast<std::int64_t>(done.size());
      const auto map_time = Clock::now() - map_start;
      if (fetch_error && mapped == static_cast<std::int64_t>(rows.size()))
        done.emplace_back(index, Slot{{}, fetch_error});
      bool wake_consumer;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --busy_;
        inflight_ -= static_cast<std::int64_t>(rows.size()) + (fetch_error ? 1 : 0);
        for (auto& [i, slot] : done) results_.emplace(i, std::move(slot));
        if (mapped > 0) resize_chunk(map_time / mapped);
        wake_consumer = consumer_waiting_;
      }
      if (wake_consumer) done_cv_.notify_one();
    }
  }

  // Called with mutex_ held after each chunk: aim at kChunkTarget of mapping per chunk.
  void resize_chunk(Clock::duration per_element) {
    const auto target = std::chrono::duration_cast<Clock::duration>(kChunkTarget);
    const auto want = per_element.count() <= 0 ? kMaxChunk : target / per_element;
    chunk_ = static_cast<int>(std::clamp<decltype(want)>(want, 1, kMaxChunk));
  }

  std::unique_ptr<RowIterator> in_;
  std::function<Row(Row)> fn_;
  std::uint64_t key_;
  const bool deterministic_, autotune_;
  const int workers_;
  int active_;
  int chunk_ = 1;

  std::mutex mutex_, fetch_mutex_;
  std::condition_variable work_cv_, done_cv_;
  std::map<std::int64_t, Slot> results_;
  std::int64_t next_fetch_ = 0, next_out_ = 0, handed_ = 0, end_ = -1, inflight_ = 0;
  int busy_ = 0, idle_ = 0;
  bool stop_ = false, failed_ = false, consumer_waiting_ = false;
  int window_count_ = 0;
  Clock::duration waited_{};
  Clock::time_point window_start_ = Clock::now();
  std::vector<std::thread> threads_;  // last: started after every member above exists
};

class Map final : public Node {
 public:
  Map(NodePtr in, std::function<Row(Row)> fn, const MapOptions& o)
      : in_(std::move(in)), fn_(std::move(fn)), options_(o), seeds_(o.seed, true) {}
  std::unique_ptr<RowIterator> iterate() const override {
    const std::uint64_t key = seeds_.next();
    const int n = options_.num_parallel_calls;
    if (n == 0 || n == 1) return std::make_unique<SequentialMap>(in_->iterate(), fn_, key);
    const bool autotune = n == AUTOTUNE;
    return std::make_unique<ParallelMap>(in_->iterate(), fn_, key, autotune ? cores() : n, autotune,
                                         options_.deterministic);
  }
  std::int64_t cardinality() const override { return in_->cardinality(); }

 private:
  NodePtr in_;
  std::function<Row(Row)> fn_;
  MapOptions options_;
  PassSeeds seeds_;
};

std::size_t row_bytes(const Row& row) {
  std::size_t n = 0;
  for (const Tensor& t : row) n += t.nbytes();
  return n;
}

// One producer thread fills a queue of at most capacity_ elements ahead of the consumer.
class PrefetchIterator final : public RowIterator {
 public:
  PrefetchIterator(std::unique_ptr<RowIterator> in, std::int64_t buffer_size)
      : in_(std::move(in)), autotune_(buffer_size == AUTOTUNE), capacity_(autotune_ ? 1 : buffer_size) {
    thread_ = std::thread([this] {
      lower_thread_priority();
      produce();
    });
  }
  ~PrefetchIterator() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    space_cv_.notify_all();
    thread_.join();
  }
  std::optional<Row> next() override {
    std::unique_lock<std::mutex> lock(mutex_);
    if (queue_.empty() && !done_ && autotune_ && capacity_ < kMaxAutotune &&
        static_cast<std::size_t>(capacity_ * 2) * last_bytes_ <= kMaxBytes) {
      capacity_ *= 2;  // the consumer is starved: buffer more
      space_cv_.notify_all();
    }
    ready_cv_.wait(lock, [&] { return !queue_.empty() || done_; });
    if (queue_.empty()) {
      if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
      return std::nullopt;
    }
    Row row = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    space_cv_.notify_all();
    return row;
  }

 private:
  static constexpr std::int64_t kMaxAutotune = 64;
  static constexpr std::size_t kMaxBytes = std::size_t{256} << 20;

  void produce() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        space_cv_.wait(lock, [&] { return stop_ || static_cast<std::int64_t>(queue_.size()) < capacity_; });
        if (stop_) return;
      }
      std::optional<Row> row;
      std::exception_ptr error;
      try {
        row = in_->next();
      } catch (...) {
        error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (row) {
          last_bytes_ = row_bytes(*row);
          queue_.push_back(std::move(*row));
        } else {
          error_ = error;
          done_ = true;
        }
      }
      ready_cv_.notify_all();
      if (!row) return;
    }
  }

  std::unique_ptr<RowIterator> in_;
  const bool autotune_;
  std::int64_t capacity_;
  std::mutex mutex_;
  std::condition_variable space_cv_, ready_cv_;
  std::deque<Row> queue_;
  std::size_t last_bytes_ = 0;
  std::exception_ptr error_;
  bool done_ = false, stop_ = false;
  std::thread thread_;  // last: started after every member above exists
};

class Prefetch final : public Node {
 public:
  Prefetch(NodePtr in, std::int64_t buffer_size) : in_(std::move(in)), buffer_size_(buffer_size) {}
  std::unique_ptr<RowIterator> iterate() const override {
    return std::make_unique<PrefetchIterator>(in_->iterate(), buffer_size_);
  }
  std::int64_t cardinality() const override { return in_->cardinality(); }

 private:
  NodePtr in_;
  std::int64_t buffer_size_;
};

// tf.data's interleave order: slot cycle_index_ is read block_length elements at a time; an
// empty slot is filled from the next input element; an exhausted one is closed and the cycle
// moves on.
class InterleaveIterator final : public RowIterator {
 public:
  InterleaveIterator(std::unique_ptr<RowIterator> in, std::function<NodePtr(Row)> fn, InterleaveOptions o)
      : in_(std::move(in)), fn_(std::move(fn)), options_(o), slots_(static_cast<std::size_t>(o.cycle_length)) {}
  std::optional<Row> next() override {
    while (!end_of_input_ || open_ > 0) {
      auto& slot = slots_[cycle_];
      if (slot) {
        std::optional<Row> row = slot->next();
        if (row) {
          if (++block_ == options_.block_length) advance();
          return row;
        }
        slot.reset();
        --open_;
        advance();
      } else if (!end_of_input_) {
        std::optional<Row> row = in_->next();
        if (!row) {
          end_of_input_ = true;
          continue;
        }
        NodePtr sub;
        try {
          sub = fn_(std::move(*row));
        } catch (const std::exception& e) {
          std::throw_with_nested(DatasetError("interleave: the function threw on element " +
                                                  std::to_string(opened_) + ": " + e.what(), opened_));
        }
        ++opened_;
        if (options_.num_parallel_calls > 1 || options_.num_parallel_calls == AUTOTUNE)
          sub = prefetch(sub, options_.block_length);
        slot = sub->iterate();
        ++open_;
      } else {
        advance();
      }
    }
    return std::nullopt;
  }

 private:
  void advance() {
    block_ = 0;
    cycle_ = (cycle_ + 1) % slots_.size();
  }
  std::unique_ptr<RowIterator> in_;
  std::function<NodePtr(Row)> fn_;
  InterleaveOptions options_;
  std::vector<std::unique_ptr<RowIterator>> slots_;
  std::size_t cycle_ = 0;
  int block_ = 0, open_ = 0;
  std::int64_t opened_ = 0;
  bool end_of_input_ = false;
};

class Interleave final : public Node {
 public:
  Interleave(NodePtr in, std::function<NodePtr(Row)> fn, InterleaveOptions o)
      : in_(std::move(in)), fn_(std::move(fn)), options_(o) {}
  std::unique_ptr<RowIterator> iterate() const override {
    return std::make_unique<InterleaveIterator>(in_->iterate(), fn_, options_);
  }
  std::int64_t cardinality() const override { return in_->cardinality() == 0 ? 0 : kUnknown; }

 private:
  NodePtr in_;
  std::function<NodePtr(Row)> fn_;
  InterleaveOptions options_;
};

}  // namespace

NodePtr map(NodePtr in, std::function<Row(Row)> fn, const MapOptions& options) {
  if (options.num_parallel_calls < 0 && options.num_parallel_calls != AUTOTUNE)
    throw ValueError("map: num_parallel_calls must be >= 0 or AUTOTUNE, got " +
                     std::to_string(options.num_parallel_calls));
  return std::make_shared<Map>(std::move(in), std::move(fn), options);
}

NodePtr prefetch(NodePtr in, std::int64_t buffer_size) {
  if (buffer_size != AUTOTUNE) require_positive("prefetch", "buffer_size", buffer_size);
  return std::make_shared<Prefetch>(std::move(in), buffer_size);
}

NodePtr interleave(NodePtr in, std::function<NodePtr(Row)> fn, const InterleaveOptions& options) {
  InterleaveOptions o = options;
  if (o.cycle_length == AUTOTUNE) o.cycle_length = cores();
  require_positive("interleave", "cycle_length", o.cycle_length);
  require_positive("interleave", "block_length", o.block_length);
  return std::make_shared<Interleave>(std::move(in), std::move(fn), o);
}

}  // namespace lamina::data
