// SPDX-License-Identifier: Apache-2.0
// LambdaCallback: each user function runs at its hook, in fit, evaluate and predict.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <lamina/callbacks.hpp>

#include "callbacks/scripted.hpp"

using namespace lamina;
using namespace lamina::testing;
using callbacks::LambdaCallback;

TEST_CASE("LambdaCallback calls the user's functions at their hooks and skips empty ones",
          "[callbacks]") {
  Sequential m = tiny_model(0.1);
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor y = Tensor::from_vector(std::vector<float>{1, 0, 1}, {3, 1});
  std::vector<std::string> events;
  auto note = [&events](std::string what) {
    return [&events, what](auto... args) {
      std::string line = what;
      ((line += " " + std::to_string(args)), ...);
      events.push_back(line);
    };
  };
  std::vector<double> epoch_losses;
  LambdaCallback cb({.on_epoch_begin = [&](int e, const Logs&) { note("epoch_begin")(e); },
                     .on_epoch_end = [&](int e, const Logs& logs) { epoch_losses.push_back(logs.at("loss")); note("epoch_end")(e); },
                     .on_train_begin = [&](const Logs&) { note("train_begin")(); },
                     .on_train_end = [&](const Logs&) { note("train_end")(); },
                     .on_train_batch_end = [&](std::int64_t b, const Logs&) { note("batch_end")(b); },
                     .on_test_begin = [&](const Logs&) { note("test_begin")(); },
                     .on_test_batch_end = [&](std::int64_t b, const Logs&) { note("test_batch_end")(b); },
                     .on_predict_end = [&](const Logs&) { note("predict_end")(); },
                     .on_predict_batch_begin = [&](std::int64_t b, const Logs&) { note("predict_batch_begin")(b); }});
  History h = m.fit(x, y, {.batch_size = 2, .epochs = 2, .verbose = 0, .callbacks = {cb}});
  CHECK(events == std::vector<std::string>{"train_begin", "epoch_begin 0", "batch_end 0",
                                           "batch_end 1", "epoch_end 0", "epoch_begin 1",
                                           "batch_end 0", "batch_end 1", "epoch_end 1",
                                           "train_end"});
  CHECK(epoch_losses == h.history.at("loss"));
  events.clear();
  m.evaluate(x, y, {.batch_size = 2, .verbose = 0, .callbacks = {cb}});
  CHECK(events == std::vector<std::string>{"test_begin", "test_batch_end 0", "test_batch_end 1"});
  events.clear();
  m.predict(x, {.batch_size = 2, .callbacks = {cb}});
  CHECK(events == std::vector<std::string>{"predict_batch_begin 0", "predict_batch_begin 1",
                                           "predict_end"});
}
