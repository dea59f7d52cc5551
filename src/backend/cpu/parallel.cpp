#include "backend/cpu/parallel.hpp"

#include <algorithm>
#include <condition_variable>
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

  void resize(int threads) {
    stop_workers();
    stopping_ = false;
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  }

  // Runs job(chunk) for chunk in [0, chunks); chunk 0 on the caller.
  void run(int chunks, const std::function<void(int)>& job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      chunks_ = chunks;
      pending_ = chunks - 1;
      ++generation_;
    }
    wake_.notify_all();
    job(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void worker_loop(int index) {
    set_flush_denormals();
    std::uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        if (index >= chunks_) continue;
        job = job_;
      }
      (*job)(index);
      {
        std::lock_guard<std::mutex> lock(mutex_);
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
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int chunks_ = 0;
  int pending_ = 0;
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
};

int default_threads() {
  // Measured on the 2-core build machine (bench/): see README. Both cores pay off for the MLP.
  return std::max(1u, std::thread::hardware_concurrency());
}

int g_threads = 0;

ThreadPool& pool() {
  static ThreadPool p([] {
    if (g_threads == 0) g_threads = default_threads();
    openblas_set_num_threads(g_threads);
    set_flush_denormals();
    return g_threads;
  }());
  return p;
}

thread_local bool t_inside_parallel = false;

}  // namespace

void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(grain, 1);
  ThreadPool& p = pool();
  std::int64_t chunks = std::min<std::int64_t>(p.size(), (n + grain - 1) / grain);
  if (chunks <= 1 || t_inside_parallel) {
    fn(0, n);
    return;
  }
  const std::int64_t step = (n + chunks - 1) / chunks;
  p.run(static_cast<int>(chunks), [&](int c) {
    bool saved = t_inside_parallel;
    t_inside_parallel = true;
    std::int64_t b = c * step, e = std::min(n, b + step);
    if (b < e) fn(b, e);
    t_inside_parallel = saved;
  });
}

}  // namespace lamina::cpu

namespace lamina {

void set_num_threads(int n) {
  if (n < 1) throw ValueError("set_num_threads: expected n >= 1, got " + std::to_string(n));
  cpu::g_threads = n;
  cpu::pool().resize(n);
  openblas_set_num_threads(n);
}

int get_num_threads() {
  return cpu::pool().size();
}

}  // namespace lamina
