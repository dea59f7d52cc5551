// SPDX-License-Identifier: Apache-2.0
// tests/callbacks/scripted.hpp — driving a callback by hand: a tiny compiled model whose weights
// tell which epoch set them, and a loop that feeds scripted epoch logs until the callback stops
// training.
#pragma once

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/model.hpp>
#include <lamina/optimizers.hpp>

namespace lamina::testing {

/// Input(2) -> Dense(1), compiled with SGD(learning_rate) and MSE.
inline Sequential tiny_model(double learning_rate = 1.0) {
  Sequential m({layers::Input({2}), layers::Dense(1)});
  m.compile({.optimizer = optimizers::SGD({.learning_rate = learning_rate}), .loss = "mse"});
  return m;
}

/// Every weight of `m` set to `value`: the model's state "at epoch value".
inline void tag_weights(Model& m, float value) {
  std::vector<Tensor> ws = m.get_weights();
  for (Tensor& w : ws) w.fill(value);
  m.set_weights(ws);
}

/// The value tag_weights last set (the kernel's first element).
inline float weight_tag(Model& m) { return m.get_weights().at(0).to_vector<float>().at(0); }

/// on_train_begin, then per epoch e: weights tagged e, on_epoch_begin, on_epoch_end with
/// {key: values[e]} (plus `extra`), until the callback sets stop_training; then on_train_end.
/// Returns the number of epochs run.
inline int run_epochs(Callback& cb, Model& m, const std::string& key, const std::vector<double>& values,
                      const Logs& extra = {}) {
  cb.set_model(m);
  m.stop_training() = false;
  cb.on_train_begin({});
  int run = 0;
  for (std::size_t e = 0; e < values.size() && !m.stop_training(); ++e, ++run) {
    tag_weights(m, static_cast<float>(e));
    cb.on_epoch_begin(static_cast<int>(e), {});
    Logs logs = extra;
    logs[key] = values[e];
    cb.on_epoch_end(static_cast<int>(e), logs);
  }
  cb.on_train_end({});
  return run;
}

/// A fresh scratch directory for one test, removed when the object dies.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("lamina_callbacks_" + std::to_string(::getpid()) + "_" + name)) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  /// `name` inside the directory.
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// The whole content of the file at `path` (empty when it cannot be read).
inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Bitwise equality of two weight lists.
inline bool bit_identical(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].shape() != b[i].shape() || a[i].nbytes() != b[i].nbytes()) return false;
    if (std::memcmp(a[i].raw_data(), b[i].raw_data(), a[i].nbytes()) != 0) return false;
  }
  return true;
}

}  // namespace lamina::testing
