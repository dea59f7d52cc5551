// SPDX-License-Identifier: Apache-2.0
// lamina/callbacks/lambda_callback.hpp — a callback made of user functions.
#pragma once

#include <cstdint>
#include <functional>

#include "lamina/callbacks/callback.hpp"

namespace lamina::callbacks {

/// The hooks of a LambdaCallback; an empty function is not called.
struct LambdaCallbackOptions {
  using Hook = std::function<void(const Logs&)>;
  using EpochHook = std::function<void(int epoch, const Logs&)>;
  using BatchHook = std::function<void(std::int64_t batch, const Logs&)>;
  EpochHook on_epoch_begin{}, on_epoch_end{};
  Hook on_train_begin{}, on_train_end{};
  BatchHook on_train_batch_begin{}, on_train_batch_end{};
  Hook on_test_begin{}, on_test_end{};
  BatchHook on_test_batch_begin{}, on_test_batch_end{};
  Hook on_predict_begin{}, on_predict_end{};
  BatchHook on_predict_batch_begin{}, on_predict_batch_end{};
};

/// Keras's LambdaCallback: `LambdaCallback({.on_epoch_end = [](int e, const Logs& l) {...}})`.
/// A function that needs the model captures it.
class LambdaCallback : public Callback {
 public:
  explicit LambdaCallback(LambdaCallbackOptions hooks) : hooks_(std::move(hooks)) {}
  void on_epoch_begin(int epoch, const Logs& logs) override { call(hooks_.on_epoch_begin, epoch, logs); }
  void on_epoch_end(int epoch, const Logs& logs) override { call(hooks_.on_epoch_end, epoch, logs); }
  void on_train_begin(const Logs& logs) override { call(hooks_.on_train_begin, logs); }
  void on_train_end(const Logs& logs) override { call(hooks_.on_train_end, logs); }
  void on_train_batch_begin(std::int64_t b, const Logs& logs) override { call(hooks_.on_train_batch_begin, b, logs); }
  void on_train_batch_end(std::int64_t b, const Logs& logs) override { call(hooks_.on_train_batch_end, b, logs); }
  void on_test_begin(const Logs& logs) override { call(hooks_.on_test_begin, logs); }
  void on_test_end(const Logs& logs) override { call(hooks_.on_test_end, logs); }
  void on_test_batch_begin(std::int64_t b, const Logs& logs) override { call(hooks_.on_test_batch_begin, b, logs); }
  void on_test_batch_end(std::int64_t b, const Logs& logs) override { call(hooks_.on_test_batch_end, b, logs); }
  void on_predict_begin(const Logs& logs) override { call(hooks_.on_predict_begin, logs); }
  void on_predict_end(const Logs& logs) override { call(hooks_.on_predict_end, logs); }
  void on_predict_batch_begin(std::int64_t b, const Logs& logs) override { call(hooks_.on_predict_batch_begin, b, logs); }
  void on_predict_batch_end(std::int64_t b, const Logs& logs) override { call(hooks_.on_predict_batch_end, b, logs); }

 private:
  template <class F, class... A>
  static void call(const F& f, const A&... args) {
    if (f) f(args...);
  }
  LambdaCallbackOptions hooks_;
};

}  // namespace lamina::callbacks
