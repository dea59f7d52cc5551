// SPDX-License-Identifier: Apache-2.0
// lamina_serve: server-side batching (--enable_batching). Requests that arrive together are
// merged into one predict call along the batch axis and the outputs split back, as TF Serving's
// batching session does: a batch runs once it holds max_batch_size rows, or batch_timeout_micros
// after its first request arrived.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "model_manager.hpp"

namespace lamina::serve {

/// Every output of `servable` for `inputs` (batch first), in one pass.
std::vector<Tensor> run_predict(Servable& servable, const std::vector<Tensor>& inputs);

struct BatchingOptions {
  std::int64_t max_batch_size = 32;
  std::int64_t batch_timeout_micros = 1000;
};

class Batcher {
 public:
  explicit Batcher(BatchingOptions options);
  /// Fails the requests still queued, then joins the batching thread.
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  /// Queues the request and waits for its share of a merged predict. Requests of another
  /// version or with other row shapes go into another batch; one larger than max_batch_size
  /// runs alone.
  std::vector<Tensor> predict(std::shared_ptr<Servable> servable, std::vector<Tensor> inputs);

  /// Counters: predict calls made, requests answered through them, most rows in one call.
  std::int64_t batches() const { return batches_; }
  std::int64_t requests() const { return requests_; }
  std::int64_t largest_batch() const { return largest_batch_; }

 private:
  struct Task {
    std::shared_ptr<Servable> servable;
    std::vector<Tensor> inputs;
    std::int64_t rows = 0;
    std::chrono::steady_clock::time_point arrived;
    std::promise<std::vector<Tensor>> result;
  };
  void loop();
  void run(std::vector<std::unique_ptr<Task>>& batch);

  BatchingOptions options_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::unique_ptr<Task>> queue_;
  bool stopping_ = false;
  std::atomic<std::int64_t> batches_{0}, requests_{0}, largest_batch_{0};
  std::thread thread_;
};

}  // namespace lamina::serve
