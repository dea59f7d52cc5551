// SPDX-License-Identifier: Apache-2.0
// lamina_serve: the served model's versions. Like TF Serving's file-system source with its
// default "latest" policy: model_base_path holds numbered version folders, each with one model
// file lamina loads (.keras, .h5 or .hdf5); the highest version is served, and a poll thread
// loads a new one when it appears and swaps it in atomically (requests in flight finish on the
// version they started with).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <lamina/model.hpp>

#include "tensor_json.hpp"

namespace lamina::serve {

/// One loaded version: the model and its serving signature (inputs and outputs in the model's
/// order, named as the model names them).
struct Servable {
  std::int64_t version = 0;
  std::string path{};
  Model model{};
  std::vector<TensorSpec> inputs{};
  std::vector<TensorSpec> outputs{};
};

/// Loads `path` (uncompiled) and reads its signature. Throws lamina's errors as load_model does.
std::shared_ptr<Servable> load_servable(const std::string& path, std::int64_t version);

/// What GET /v1/models/NAME reports for one version.
struct VersionStatus {
  std::int64_t version = 0;
  std::string state{};          ///< AVAILABLE while served, END once replaced or failed
  std::string error_code{"OK"};  ///< OK, or UNKNOWN for a version that failed to load
  std::string error_message{};
};

class ModelManager {
 public:
  /// Does not load anything yet: see poll() and start().
  ModelManager(std::string name, std::filesystem::path base_path);
  ~ModelManager();
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  /// Scans base_path once and loads its highest version if that is not the one served. A version
  /// that fails to load is reported on stderr and in status(), and retried once its file changes.
  void poll();
  /// Polls every `seconds` on a thread of its own until stop() (seconds <= 0: never).
  void start(double seconds);
  void stop();

  const std::string& name() const { return name_; }
  /// The served version (null while none is loaded). Holding it keeps it alive across a swap.
  std::shared_ptr<Servable> current() const;
  /// Every version seen, newest first.
  std::vector<VersionStatus> status() const;

 private:
  std::string name_;
  std::filesystem::path base_path_;
  mutable std::mutex mutex_;
  std::shared_ptr<Servable> current_;
  std::map<std::int64_t, VersionStatus, std::greater<>> statuses_;
  std::map<std::int64_t, std::string> failed_;  ///< version -> the file state that failed
  std::mutex poll_mutex_;                       ///< one poll at a time
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace lamina::serve
