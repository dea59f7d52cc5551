// SPDX-License-Identifier: Apache-2.0
// Keras 3's progress bar (keras/src/utils/progbar.py), line for line in what it prints.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <string>

#include "lamina/callbacks.hpp"

namespace lamina {
namespace {

constexpr int kBarWidth = 20;
constexpr double kRedrawInterval = 0.05;  // seconds between redraws on a terminal
constexpr const char* kBlock = "━";
constexpr const char* kBold = "\x1b[1m";
constexpr const char* kGreen = "\x1b[32m";
constexpr const char* kGrey = "\x1b[37m";
constexpr const char* kReset = "\x1b[0m";

std::string printf_string(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string printf_string(const char* format, ...) {
  char buffer[128];
  va_list args;
  va_start(args, format);
  const int n = std::vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  return std::string(buffer, static_cast<std::size_t>(std::clamp(n, 0, 127)));
}

std::string repeat(const char* s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

std::string bold(const std::string& s, bool colour) {
  return colour ? kBold + s + kReset : s;
}

std::string format_values(const Logs& values) {
  std::string out;
  for (const auto& [name, value] : values) out += " - " + name + ": " + Progbar::format_value(value);
  return out;
}

/// "  7/469": the count right-aligned to the target's width.
std::string format_count(std::int64_t current, std::int64_t target) {
  const int digits = static_cast<int>(std::to_string(target).size());
  return printf_string("%*lld/%lld", digits, static_cast<long long>(current),
                       static_cast<long long>(target));
}

}  // namespace

std::string Progbar::format_value(double value) {
  if (std::isnan(value)) return "nan";  // glibc would print "-nan" for a negative NaN
  return printf_string(std::fabs(value) > 1e-3 ? "%.4f" : "%.4e", value);
}

std::string Progbar::format_eta(double seconds) {
  const auto s = static_cast<long long>(std::max(seconds, 0.0));  // Keras truncates
  if (seconds > 3600) return printf_string("%lld:%02lld:%02lld", s / 3600, s % 3600 / 60, s % 60);
  if (seconds > 60) return printf_string("%lld:%02lld", s / 60, s % 60);
  return printf_string("%llds", s);
}

std::string Progbar::format_step_time(double seconds) {
  if (seconds >= 1 || seconds == 0) return printf_string("%.0fs/step", seconds);
  if (seconds >= 1e-3) return printf_string("%.0fms/step", seconds * 1e3);
  return printf_string("%.0fus/step", seconds * 1e6);
}

std::size_t Progbar::visible_width(const std::string& line) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c == 0x1b) {  // CSI sequence: ESC [ parameters final-letter
      while (i + 1 < line.size() && !std::isalpha(static_cast<unsigned char>(line[i + 1]))) ++i;
      ++i;
      continue;
    }
    if ((c & 0xC0) != 0x80) ++width;  // count UTF-8 lead bytes only
  }
  return width;
}

std::string Progbar::render(const Frame& f) {
  const bool known = f.target > 0;
  if (f.verbose == 2) {
    const std::int64_t target = known ? f.target : f.current;
    return format_count(f.current, target) + printf_string(" - %.0fs - ", f.elapsed_s) +
           format_step_time(f.step_s) + format_values(f.values);
  }

  std::string line;
  if (known) {
    line = bold(format_count(f.current, f.target), f.colour) + " ";
    const double progress = static_cast<double>(f.current) / static_cast<double>(f.target);
    const int done = std::clamp(static_cast<int>(kBarWidth * progress), 0, kBarWidth);
    if (f.colour) {
      if (done > 0) line += kGreen + repeat(kBlock, done) + kReset;
      line += kGrey + repeat(kBlock, kBarWidth - done) + kReset;
    } else {
      line += repeat(kBlock, kBarWidth);
    }
  } else {
    line = printf_string("%7lld/Unknown", static_cast<long long>(f.current));
  }

  if (known && !f.finalize)
    line += " " + bold(format_eta(f.step_s * static_cast<double>(f.target - f.current)), f.colour);
  else
    line += " " + bold(printf_string("%.0fs", f.elapsed_s), f.colour);
  line += " " + format_step_time(f.step_s);
  return line + format_values(f.values);
}

Progbar::Progbar(std::int64_t target, int verbose, std::FILE* out)
    : Progbar(target, verbose, out, isatty(fileno(out != nullptr ? out : stdout)) != 0) {}

Progbar::Progbar(std::int64_t target, int verbose, std::FILE* out, bool dynamic)
    : target_(target),
      verbose_(verbose),
      out_(out != nullptr ? out : stdout),
      dynamic_(dynamic),
      start_(std::chrono::steady_clock::now()) {}

double Progbar::step_duration(std::int64_t current, double now) {
  if (current <= 0) return 0.0;
  const double per_step = (first_step_end_ >= 0 && current > 1)
                              ? (now - first_step_end_) / static_cast<double>(current - 1)
                              : now / static_cast<double>(current);
  if (current == 1) first_step_end_ = now;
  return per_step;
}

bool Progbar::draws_now() const {
  if (verbose_ != 1 || !dynamic_) return false;
  const double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return last_update_ < 0 || now - last_update_ >= kRedrawInterval;
}

void Progbar::tick(std::int64_t current) {
  step_duration(current, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
}

void Progbar::update(std::int64_t current, const Logs& values, bool finalize) {
  const double now =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double step_s = step_duration(current, now);
  if (verbose_ <= 0) return;

  Frame frame{current, target_, values, finalize, now, step_s, verbose_, false};
  std::string message;
  if (verbose_ == 1 && dynamic_) {
    if (!finalize && last_update_ >= 0 && now - last_update_ < kRedrawInterval) return;
    frame.colour = true;
    const std::string line = render(frame);
    const std::size_t width = visible_width(line);
    message = "\r" + line;
    if (prev_width_ > width) message += std::string(prev_width_ - width, ' ');
    if (finalize) message += "\n";
    prev_width_ = width;
  } else {
    // A log file gets each finished line once: no colours, no carriage returns.
    if (!finalize) return;
    message = render(frame) + "\n";
  }
  std::fwrite(message.data(), 1, message.size(), out_);
  std::fflush(out_);
  last_update_ = now;
}

}  // namespace lamina
