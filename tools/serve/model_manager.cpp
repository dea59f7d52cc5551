// SPDX-License-Identifier: Apache-2.0
#include "model_manager.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <system_error>

#include <lamina/errors.hpp>
#include <lamina/layer.hpp>
#include <lamina/models.hpp>

namespace lamina::serve {
namespace fs = std::filesystem;

std::shared_ptr<Servable> load_servable(const std::string& path, std::int64_t version) {
  auto servable = std::make_shared<Servable>();
  servable->version = version;
  servable->path = path;
  servable->model = models::load_model(path, {.compile = false});
  auto input_names = servable->model.input_names();
  auto output_names = servable->model.output_names();
  auto inputs = servable->model.inputs();
  auto outputs = servable->model.outputs();
  for (std::size_t i = 0; i < inputs.size(); ++i)
    servable->inputs.push_back({i < input_names.size() ? input_names[i] : inputs[i].name, inputs[i].dtype,
                                inputs[i].shape});
  for (std::size_t i = 0; i < outputs.size(); ++i)
    servable->outputs.push_back({i < output_names.size() ? output_names[i] : outputs[i].name,
                                 outputs[i].dtype, outputs[i].shape});
  if (servable->inputs.empty() || servable->outputs.empty())
    throw ValueError("model '" + path + "' has no known inputs or outputs (build it before saving)");
  return servable;
}

namespace {

bool is_model_file(const fs::path& p) {
  auto ext = p.extension().string();
  return ext == ".keras" || ext == ".h5" || ext == ".hdf5";
}

/// Version folders (all-digit names) under `base`, highest first.
std::vector<std::pair<std::int64_t, fs::path>> versions_under(const fs::path& base) {
  std::vector<std::pair<std::int64_t, fs::path>> found;
  std::error_code ec;
  for (fs::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name.empty() || name.size() > 18 || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    if (!it->is_directory(ec)) continue;
    found.emplace_back(std::stoll(name), it->path());
  }
  std::sort(found.begin(), found.end(), [](auto& a, auto& b) { return a.first > b.first; });
  return found;
}

/// The one model file in a version folder; empty when there is none yet (a folder being
/// written). Several files are an error: which one to serve would be a guess.
fs::path model_file_in(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && is_model_file(it->path())) files.push_back(it->path());
  if (files.size() > 1)
    throw FileFormatError("version folder '" + dir.string() + "' holds " + std::to_string(files.size()) +
                          " model files; keep one .keras, .h5 or .hdf5 file per version");
  return files.empty() ? fs::path() : files.front();
}

/// Size and modification time: a failed version is retried once its file changes.
std::string file_state(const fs::path& file) {
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  auto time = fs::last_write_time(file, ec).time_since_epoch().count();
  return file.string() + ":" + std::to_string(size) + ":" + std::to_string(time);
}

}  // namespace

ModelManager::ModelManager(std::string name, fs::path base_path)
    : name_(std::move(name)), base_path_(std::move(base_path)) {}

ModelManager::~ModelManager() { stop(); }

void ModelManager::poll() {
  std::lock_guard poll_lock(poll_mutex_);
  auto versions = versions_under(base_path_);
  std::int64_t served = 0;
  {
    std::lock_guard lock(mutex_);
    served = current_ ? current_->version : -1;
  }
  // The highest version with a model file (a folder still being filled is skipped, not failed).
  for (auto& [version, dir] : versions) {
    if (version == served) return;
    fs::path file;
    std::string state;
    try {
      file = model_file_in(dir);
      if (file.empty()) continue;
      state = file_state(file);
      if (auto f = failed_.find(version); f != failed_.end() && f->second == state) continue;
      auto servable = load_servable(file.string(), version);
      std::lock_guard lock(mutex_);
      if (current_) statuses_[current_->version].state = "END";
      statuses_[version] = {version, "AVAILABLE", "OK", ""};
      current_ = std::move(servable);
      failed_.erase(version);
      std::fprintf(stderr, "lamina_serve: serving version %lld of model '%s' from %s\n",
                   static_cast<long long>(version), name_.c_str(), file.string().c_str());
      return;
    } catch (const std::exception& e) {
      if (!failed_.count(version) || failed_[version] != state)
        std::fprintf(stderr, "lamina_serve: version %lld of model '%s' failed to load: %s\n",
                     static_cast<long long>(version), name_.c_str(), e.what());
      failed_[version] = state;
      std::lock_guard lock(mutex_);
      statuses_[version] = {version, "END", "UNKNOWN", e.what()};
    }
  }
}

void ModelManager::start(double seconds) {
  poll();
  {
    std::lock_guard lock(mutex_);
    if (!current_)
      std::fprintf(stderr, "lamina_serve: no versions of servable %s found under base path %s\n",
                   name_.c_str(), base_path_.string().c_str());
  }
  if (seconds <= 0 || thread_.joinable()) return;
  stopping_ = false;
  auto period = std::chrono::duration<double>(seconds);
  thread_ = std::thread([this, period] {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, period, [this] { return stopping_; })) {
      lock.unlock();
      poll();
      lock.lock();
    }
  });
}

void ModelManager::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<Servable> ModelManager::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::vector<VersionStatus> ModelManager::status() const {
  std::lock_guard lock(mutex_);
  std::vector<VersionStatus> out;
  for (auto& [version, status] : statuses_) out.push_back(status);
  return out;
}

}  // namespace lamina::serve
