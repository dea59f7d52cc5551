// SPDX-License-Identifier: Apache-2.0
#include "backend/cpu/parallel.hpp"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include <cblas.h>

#include "lamina/errors.hpp"
#include "lamina/tensor.hpp"

namespace lamina::cpu {

void set_flush_denormals() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ | DAZ
#endif
}

namespace {

class ThreadPool {
 public:
  explicit ThreadPool(int threads) { resize(threads); }
  ~ThreadPool() { stop_workers(); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  std::uint64_t jobs() {
    std::lock_guard<std::mutex> lock(mutex_);
    return generation_;
  }

  void resize(int threads) {
    std::lock_guard<std::mutex> serial(run_mutex_);  // never while a job is in flight
    stop_workers();
    stopping_ = false;
    // New workers start at the current generation: the last job is finished and must not be
    // picked up again by a worker that never saw it.
    const std::uint64_t current = generation_;
    for (int i = 1; i < threads; ++i)
      workers_.emplace_back([this, i, current] { worker_loop(i, current); });
  }

  // Runs job(chunk) for chunk in [0, chunks); chunk 0 on the caller. One job at a time: callers
  // on other threads (dataset workers, user threads) queue on run_mutex_ rather than clobber the
  // job in flight. The first exception a chunk throws is rethrown here once every chunk is done.
  void run(int chunks, const std::function<void(int)>& job) {
    std::lock_guard<std::mutex> serial(run_mutex_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      chunks_ = chunks;
      pending_ = std::min(chunks, size()) - 1;
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    std::exception_ptr caller_error;
    try {
      job(0);
      // Chunks beyond the workers (the pool shrank after the caller split the work) run here.
      for (int c = size(); c < chunks; ++c) job(c);
    } catch (...) {
      caller_error = std::current_exception();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
    std::exception_ptr error = caller_error ? caller_error : error_;
    error_ = nullptr;
    lock.unlock();
    if (error) std::rethrow_exception(error);
  }

 private:
  void worker_loop(int index, std::uint64_t seen) {
    set_flush_denormals();
    for (;;) {
      const std::function<void(int)>* job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        if (index >= chunks_ || job_ == nullptr) continue;
        job = job_;
      }
      std::exception_ptr error;
      try {
        (*job)(index);
      } catch (...) {
        error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (error && !error_) error_ = error;
        if (--pending_ == 0) done_.notify_one();
      }
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int chunks_ = 0;
  int pending_ = 0;
  std::exception_ptr error_;
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
};

int default_threads() {
  // One thread per core. Measured on the quiet 2-core build machine (bench/fashion_mnist --model mlp,
  // alternating, 3 epochs): batch 128 1.24-1.27 s/epoch on 2 threads vs 1.58-1.63 on 1; batch 32
  // 2.16-2.19 vs 1.85-1.92 (small GEMMs do not pay for the hand-off); the CNN bench 11.5 vs
  // 20.3 s/epoch. Batch 128 and convolutions are the common case, so every core is used.
  // Under heavy load from other processes one thread was as fast: set_num_threads(1) there.
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

int g_threads = 0;

// OpenBLAS always runs single-threaded: cpu::gemm splits large products into blocks that our
// pool's threads take in turn (gemm.cpp). OpenBLAS's own threads spin (sched_yield) for a long
// while after each call; on the shared 2-core machine, with a compile running beside us, one of
// them being descheduled stalled its statically partitioned GEMMs 3-40x. One owner of the cores.
ThreadPool& pool() {
  static ThreadPool p([] {
    if (g_threads == 0) g_threads = default_threads();
    openblas_set_num_threads(1);
    set_flush_denormals();
    return g_threads;
  }());
  return p;
}

thread_local bool t_inside_parallel = false;

}  // namespace

int num_threads() { return pool().size(); }

std::uint64_t pool_jobs() { return pool().jobs(); }

bool in_parallel_region() { return t_inside_parallel; }

void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(grain, 1);
  ThreadPool& p = pool();
  // Every chunk gets at least `grain` items (n / grain, rounded down): rounding up gave 11 rows
  // of grain 10 two chunks of 6 and 5, and the batch-1 CNN a pool wake-up per call.
  std::int64_t chunks = std::min<std::int64_t>(p.size(), n / grain);
  if (chunks <= 1 || t_inside_parallel) {
    fn(0, n);
    return;
  }
  const std::int64_t step = (n + chunks - 1) / chunks;
  p.run(static_cast<int>(chunks), [&](int c) {
    struct InsideScope {  // restored even when fn throws
      bool saved = t_inside_parallel;
      InsideScope() { t_inside_parallel = true; }
      ~InsideScope() { t_inside_parallel = saved; }
    } inside;
    std::int64_t b = c * step, e = std::min(n, b + step);
    if (b < e) fn(b, e);
  });
}

}  // namespace lamina::cpu

namespace lamina {

void set_num_threads(int n) {
  if (n < 1) throw ValueError("set_num_threads: expected n >= 1, got " + std::to_string(n));
  cpu::g_threads = n;
  cpu::pool().resize(n);
  openblas_set_num_threads(1);  // see pool(): our threads split the GEMMs
}

int get_num_threads() {
  return cpu::pool().size();
}

}  // namespace lamina
