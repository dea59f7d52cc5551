// SPDX-License-Identifier: Apache-2.0
// ModelCheckpoint: Keras's save rules (every epoch or N batches, best only) and its filepath
// templates, a subset of Python's str.format.
#include "lamina/callbacks/model_checkpoint.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <variant>

#include "lamina/errors.hpp"
#include "monitor.hpp"

namespace lamina::callbacks {
namespace {

bool ends_with(const std::string& s, const std::string& end) {
  return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}

using Field = std::variant<std::int64_t, double>;

// Python's format(value, spec) for specs of the form [+][0][width][.precision][type].
std::string format_field(const Field& value, const std::string& spec, const std::string& context) {
  std::size_t i = 0;
  std::string flags;
  if (i < spec.size() && spec[i] == '+') flags += spec[i++];
  if (i < spec.size() && spec[i] == '0') flags += spec[i++];
  std::string width, precision;
  while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i]))) width += spec[i++];
  if (i < spec.size() && spec[i] == '.') {
    ++i;
    while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i]))) precision += spec[i++];
    if (precision.empty()) throw ValueError(context + ": format specifier missing precision");
  }
  char type = i < spec.size() ? spec[i++] : '\0';
  if (i != spec.size() || (type && std::string("dfFeEgG%").find(type) == std::string::npos))
    throw ValueError(context + ": unsupported format specifier '" + spec + "'");
  const bool is_int = std::holds_alternative<std::int64_t>(value);
  if (type == 'd' && !is_int)
    throw ValueError(context + ": unknown format code 'd' for a float value");
  const std::string pad = flags + width;
  char buffer[128];
  if (is_int && (type == 'd' || type == '\0')) {
    std::snprintf(buffer, sizeof buffer, ("%" + pad + "lld").c_str(),
                  static_cast<long long>(std::get<std::int64_t>(value)));
    return buffer;
  }
  double v = is_int ? static_cast<double>(std::get<std::int64_t>(value)) : std::get<double>(value);
  if (type == '\0' && precision.empty() && pad.empty()) {  // str(float): shortest round trip
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
    std::string s(buffer, end);
    if (std::isfinite(v) && s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
  }
  std::string suffix;
  if (type == '%') {
    v *= 100;
    type = 'f';
    suffix = "%";
  }
  if (type == '\0') type = 'g';
  if (precision.empty() && type != 'g' && type != 'G') precision = "6";
  const std::string format =
      "%" + pad + (precision.empty() ? "" : "." + precision) + std::string(1, type);
  std::snprintf(buffer, sizeof buffer, format.c_str(), v);
  return buffer + suffix;
}

// Fills "{name}" / "{name:spec}" fields; "{{" and "}}" stand for braces.
std::string fill_template(const std::string& pattern, int epoch, std::int64_t batch, const Logs& logs) {
  const std::string context = "ModelCheckpoint: failed to format this callback filepath: \"" +
                              pattern + "\"";
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if ((c == '{' || c == '}') && i + 1 < pattern.size() && pattern[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '}') throw ValueError(context + ". Reason: single '}' encountered");
    if (c != '{') {
      out += c;
      continue;
    }
    const std::size_t close = pattern.find('}', i);
    if (close == std::string::npos) throw ValueError(context + ". Reason: unclosed '{'");
    const std::string field = pattern.substr(i + 1, close - i - 1);
    const std::size_t colon = field.find(':');
    const std::string name = field.substr(0, colon);
    const std::string spec = colon == std::string::npos ? "" : field.substr(colon + 1);
    Field value;
    if (name == "epoch") {
      value = std::int64_t{epoch + 1};
    } else if (name == "batch" && batch >= 0) {
      value = batch + 1;
    } else if (auto it = logs.find(name); it != logs.end()) {
      value = it->second;
    } else {
      std::string available = "epoch";
      if (batch >= 0) available += ", batch";
      for (const auto& [key, v] : logs) available += ", " + key;
      throw ValueError(context + ". Reason: no value named '" + name + "' (available: " +
                       available + ")");
    }
    out += format_field(value, spec, context);
    i = close;
  }
  return out;
}

}  // namespace

ModelCheckpoint::ModelCheckpoint(std::string filepath, ModelCheckpointOptions options)
    : filepath_(std::move(filepath)), options_(std::move(options)) {
  detail::check_mode("ModelCheckpoint", options_.mode);
  if (options_.save_weights_only && !ends_with(filepath_, ".h5"))
    throw ValueError("ModelCheckpoint: with save_weights_only, the filepath must end in "
                     "\".weights.h5\" (or \".h5\"). Received: filepath=" + filepath_);
  if (!options_.save_weights_only && !ends_with(filepath_, ".keras") && !ends_with(filepath_, ".h5"))
    throw ValueError("ModelCheckpoint: the filepath must end in \".keras\" or \".h5\". "
                     "Received: filepath=" + filepath_);
}

void ModelCheckpoint::on_train_begin(const Logs&) {
  best_ = options_.initial_value_threshold;
  batches_since_save_ = 0;
  last_batch_seen_ = 0;
}

void ModelCheckpoint::on_epoch_begin(int epoch, const Logs&) { current_epoch_ = epoch; }

void ModelCheckpoint::on_train_batch_end(std::int64_t batch, const Logs& logs) {
  if (options_.save_freq.per_epoch()) return;
  // Batches are numbered from 0 in each epoch: a smaller number means a new epoch began.
  batches_since_save_ += batch <= last_batch_seen_ ? batch + 1 : batch - last_batch_seen_;
  last_batch_seen_ = batch;
  if (batches_since_save_ < options_.save_freq.batches()) return;
  batches_since_save_ = 0;
  save(current_epoch_, batch, logs);
}

bool ModelCheckpoint::reads_batch_logs() const { return !options_.save_freq.per_epoch(); }

void ModelCheckpoint::on_epoch_end(int epoch, const Logs& logs) {
  if (options_.save_freq.per_epoch()) save(epoch, -1, logs);
}

std::string ModelCheckpoint::file_path(int epoch, std::int64_t batch, const Logs& logs) const {
  return fill_template(filepath_, epoch, batch, logs);
}

void ModelCheckpoint::save(int epoch, std::int64_t batch, const Logs& logs) {
  const std::string path = file_path(epoch, batch, logs);
  if (options_.save_best_only) {
    const detail::Monitor monitor("ModelCheckpoint", options_.monitor, options_.mode, 0.0);
    const auto current = monitor.value(logs);
    if (current) {
      if (!best_) best_ = monitor.worst();
      char best_text[32];
      std::snprintf(best_text, sizeof best_text, "%.5f", *best_);
      if (!monitor.is_improvement(*current, *best_)) {
        if (options_.verbose > 0)
          std::printf("\nEpoch %d: %s did not improve from %s\n", epoch + 1,
                      options_.monitor.c_str(), best_text);
        return;
      }
      if (options_.verbose > 0)
        std::printf("\nEpoch %d: %s improved from %s to %.5f, saving model to %s\n", epoch + 1,
                    options_.monitor.c_str(), best_text, *current, path.c_str());
      best_ = current;
    }  // Keras saves anyway when the monitored value is missing (after the warning).
  } else if (options_.verbose > 0) {
    std::printf("\nEpoch %d: saving model to %s\n", epoch + 1, path.c_str());
  }
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  if (options_.saver) {
    options_.saver(model(), path, options_.save_weights_only);
  } else if (options_.save_weights_only) {
    model().save_weights(path);
  } else {
    model().save(path);
  }
}

}  // namespace lamina::callbacks
