// SPDX-License-Identifier: Apache-2.0
// CSVLogger: Keras's columns and header rule, values as Python's csv module writes floats.
#include "lamina/callbacks/csv_logger.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>

#include "lamina/errors.hpp"

namespace lamina::callbacks {
namespace {

// Python's repr of a float: the shortest string that reads back to the same double.
std::string shortest(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  std::string s(buffer, end);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

bool has_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  return in && std::getline(in, line) && !line.empty();
}

}  // namespace

CSVLogger::CSVLogger(std::string filename, CSVLoggerOptions options)
    : filename_(std::move(filename)), options_(std::move(options)) {}

CSVLogger::CSVLogger(const CSVLogger& other) : filename_(other.filename_), options_(other.options_) {}

CSVLogger::~CSVLogger() { close(); }

void CSVLogger::close() {
  if (file_) std::fclose(file_);
  file_ = nullptr;
}

void CSVLogger::on_train_begin(const Logs&) {
  close();
  write_header_ = !(options_.append && has_first_line(filename_));
  file_ = std::fopen(filename_.c_str(), options_.append ? "a" : "w");
  if (!file_)
    throw ValueError("CSVLogger: cannot open '" + filename_ + "' for writing: " + std::strerror(errno));
  keys_.clear();
}

void CSVLogger::on_epoch_end(int epoch, const Logs& logs) {
  if (!file_) return;
  const std::string& sep = options_.separator;
  std::string text;
  if (keys_.empty()) {
    for (const auto& [key, value] : logs) keys_.push_back(key);
    if (write_header_) {
      text = "epoch";
      for (const auto& key : keys_) text += sep + key;
      text += "\r\n";  // csv.excel's line terminator, as Keras writes it
    }
  }
  text += std::to_string(epoch);
  for (const auto& key : keys_) {
    const auto it = logs.find(key);
    text += sep + (it == logs.end() ? std::string("NA") : shortest(it->second));
  }
  text += "\r\n";
  std::fwrite(text.data(), 1, text.size(), file_);
  std::fflush(file_);
}

void CSVLogger::on_train_end(const Logs&) { close(); }

}  // namespace lamina::callbacks
