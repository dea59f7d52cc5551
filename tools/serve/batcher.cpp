// SPDX-License-Identifier: Apache-2.0
#include "batcher.hpp"

#include <lamina/errors.hpp>
#include <lamina/ops.hpp>

namespace lamina::serve {

std::vector<Tensor> run_predict(Servable& servable, const std::vector<Tensor>& inputs) {
  // One pass over the whole request: its size was bounded by the body limit.
  return servable.model.predict_outputs(inputs, {.batch_size = std::max<std::int64_t>(inputs.front().dim(0), 1)});
}

namespace {

/// Whether two requests can share a batch: same version, same shapes past the batch axis.
bool compatible(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    const Shape& x = a[i].shape();
    const Shape& y = b[i].shape();
    if (x.size() != y.size() || !std::equal(x.begin() + 1, x.end(), y.begin() + 1)) return false;
  }
  return true;
}

}  // namespace

Batcher::Batcher(BatchingOptions options) : options_(options) {
  if (options_.max_batch_size < 1) throw ValueError("max_batch_size must be at least 1");
  thread_ = std::thread([this] { loop(); });
}

Batcher::~Batcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  thread_.join();
  for (auto& task : queue_)
    task->result.set_exception(std::make_exception_ptr(ValueError("the server is shutting down")));
}

std::vector<Tensor> Batcher::predict(std::shared_ptr<Servable> servable, std::vector<Tensor> inputs) {
  auto task = std::make_unique<Task>();
  task->servable = std::move(servable);
  task->rows = inputs.front().dim(0);
  task->inputs = std::move(inputs);
  task->arrived = std::chrono::steady_clock::now();
  auto result = task->result.get_future();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw ValueError("the server is shutting down");
    queue_.push_back(std::move(task));
  }
  ready_.notify_all();
  return result.get();
}

void Batcher::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    // Wait for the batch to fill, until the first request's deadline.
    auto deadline = queue_.front()->arrived + std::chrono::microseconds(options_.batch_timeout_micros);
    ready_.wait_until(lock, deadline, [this] {
      std::int64_t rows = 0;
      for (auto& t : queue_) rows += t->rows;
      return stopping_ || rows >= options_.max_batch_size;
    });
    if (stopping_) return;
    // The first request, then every later compatible one that still fits, in arrival order.
    std::vector<std::unique_ptr<Task>> batch;
    std::int64_t rows = 0;
    for (auto it = queue_.begin(); it != queue_.end();) {
      Task& t = **it;
      bool fits = batch.empty() || (t.servable == batch.front()->servable &&
                                    rows + t.rows <= options_.max_batch_size &&
                                    compatible(t.inputs, batch.front()->inputs));
      if (fits) {
        rows += t.rows;
        batch.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    lock.unlock();
    run(batch);
    lock.lock();
  }
}

void Batcher::run(std::vector<std::unique_ptr<Task>>& batch) {
  std::int64_t rows = 0;
  for (auto& task : batch) rows += task->rows;
  ++batches_;
  requests_ += static_cast<std::int64_t>(batch.size());
  for (auto largest = largest_batch_.load(); rows > largest && !largest_batch_.compare_exchange_weak(largest, rows);) {
  }
  if (batch.size() == 1) {
    try {
      batch.front()->result.set_value(run_predict(*batch.front()->servable, batch.front()->inputs));
    } catch (...) {
      batch.front()->result.set_exception(std::current_exception());
    }
    return;
  }
  std::vector<Tensor> merged;
  std::vector<Tensor> outputs;
  try {
    for (std::size_t i = 0; i < batch.front()->inputs.size(); ++i) {
      std::vector<Tensor> parts;
      for (auto& task : batch) parts.push_back(task->inputs[i]);
      merged.push_back(concatenate(parts, 0));
    }
    outputs = run_predict(*batch.front()->servable, merged);
  } catch (...) {
    // The merged call failed: run each request alone, so that the error reaches its own request.
    --batches_;
    requests_ -= static_cast<std::int64_t>(batch.size());
    for (auto& task : batch) {
      std::vector<std::unique_ptr<Task>> alone;
      alone.push_back(std::move(task));
      run(alone);
    }
    return;
  }
  std::int64_t begin = 0;
  for (auto& task : batch) {
    std::vector<Tensor> mine;
    for (auto& output : outputs) mine.push_back(output.slice(begin, begin + task->rows));
    begin += task->rows;
    task->result.set_value(std::move(mine));
  }
}

}  // namespace lamina::serve
