// SPDX-License-Identifier: Apache-2.0
// tests/support/capture.hpp — reading back what the code under test prints: stdout or stderr
// redirected into a temporary file, and text split into lines.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace lamina::testing {

/// Everything in `f` from its start.
inline std::string read_back(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, f)) > 0;) out.append(buffer, n);
  return out;
}

/// `text` split at '\n' (a final line without one is kept).
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(text.substr(start, nl - start));
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

/// Checks `text` line by line against `want`, naming the first lines that differ.
inline void check_lines(const std::string& text, const std::vector<std::string>& want) {
  const auto got = lines_of(text);
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("line " << i);
    CHECK(got[i] == want[i]);
  }
}

/// Sends what the code under test prints to `stream` (stdout or stderr; std::cout and std::cerr
/// included) into a temporary file until finish().
class StreamCapture {
 public:
  explicit StreamCapture(std::FILE* stream) : stream_(stream) {
    std::fflush(stream_);
    file_ = std::tmpfile();
    saved_ = dup(fileno(stream_));
    dup2(fileno(file_), fileno(stream_));
  }
  ~StreamCapture() {
    restore();
    if (file_) std::fclose(file_);
  }
  StreamCapture(const StreamCapture&) = delete;
  StreamCapture& operator=(const StreamCapture&) = delete;

  /// Restores stdout and returns what was printed meanwhile.
  std::string finish() {
    restore();
    return read_back(file_);
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stream_);
    dup2(saved_, fileno(stream_));
    close(saved_);
    saved_ = -1;
  }
  std::FILE* stream_;
  std::FILE* file_ = nullptr;
  int saved_ = -1;
};

struct StdoutCapture : StreamCapture {
  StdoutCapture() : StreamCapture(stdout) {}
};

struct StderrCapture : StreamCapture {
  StderrCapture() : StreamCapture(stderr) {}
};

}  // namespace lamina::testing
