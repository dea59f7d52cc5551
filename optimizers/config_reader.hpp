// SPDX-License-Identifier: Apache-2.0
// optimizers/config_reader.hpp — internal: reads an optimizer's or schedule's Keras config key by
// key and reports keys nobody asked for, so a typo or an unsupported option is an error, not a
// silently ignored setting.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lamina/errors.hpp"

namespace lamina::optimizers::detail {

/// Reads config keys, remembering which were used so that unknown ones can be reported.
class Reader {
 public:
  Reader(std::string cls, const nlohmann::json& config) : cls_(std::move(cls)), config_(config) {}
  template <class T>
  T get(const char* key) {
    if (!config_.contains(key) || config_[key].is_null())
      throw ValueError(cls_ + ": config is missing '" + key + "'");
    return read<T>(key);
  }
  template <class T>
  T get(const char* key, T fallback) {
    if (!config_.contains(key) || config_[key].is_null()) {
      used_.push_back(key);
      return fallback;
    }
    return read<T>(key);
  }
  template <class T = double>
  std::optional<T> optional(const char* key) {
    used_.push_back(key);
    if (!config_.contains(key) || config_[key].is_null()) return std::nullopt;
    return read<T>(key);
  }
  /// True when `key` is present (null included).
  bool has(const char* key) const { return config_.contains(key); }
  /// The class being read, for messages.
  const std::string& class_name() const { return cls_; }
  /// The raw value of `key` (null when absent), marked as used.
  nlohmann::json raw(const char* key) {
    used_.push_back(key);
    return config_.contains(key) ? config_[key] : nlohmann::json(nullptr);
  }
  /// Throws ValueError naming the first key that no getter asked for.
  void finish() const {
    for (auto it = config_.begin(); it != config_.end(); ++it)
      if (std::find(used_.begin(), used_.end(), it.key()) == used_.end())
        throw ValueError(cls_ + ": unknown config key '" + it.key() + "'");
  }

 private:
  template <class T>
  T read(const char* key) {
    used_.push_back(key);
    try {
      return config_[key].get<T>();
    } catch (const nlohmann::json::exception&) {
      throw ValueError(cls_ + ": config '" + key + "' has the wrong type: " + config_[key].dump());
    }
  }
  std::string cls_;
  const nlohmann::json& config_;
  std::vector<std::string> used_;
};

}  // namespace lamina::optimizers::detail
