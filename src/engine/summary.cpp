// SPDX-License-Identifier: Apache-2.0
// Model::summary in Keras 3's table layout.
#include <cstdio>
#include <iostream>
#include <sstream>

#include <algorithm>
#include <vector>

#include "engine/functional.hpp"
#include "engine/model_impl.hpp"
#include "lamina/model.hpp"

namespace lamina {

namespace {

std::string with_commas(std::int64_t n) {
  std::string s = std::to_string(n), out;
  int count = 0;
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    if (count && count % 3 == 0) out.insert(out.begin(), ',');
    out.insert(out.begin(), *it);
    ++count;
  }
  return out;
}

// Keras's readable_memory_size: 1024-based units, two decimals.
std::string readable_size(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", bytes, units[u]);
  return buf;
}

// Pads to `width` display columns (the box characters are multi-byte but one column wide).
std::string pad(const std::string& s, std::size_t width, bool right) {
  std::size_t cols = 0;
  for (unsigned char c : s) cols += (c & 0xC0) != 0x80;
  if (cols >= width) return s;
  std::string fill(width - cols, ' ');
  return right ? fill + s : s + fill;
}

std::string repeat(const char* s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

// Greedy word wrap at spaces, as rich does; a word wider than the column is cut.
std::vector<std::string> wrap(const std::string& text, std::size_t width) {
  std::vector<std::string> lines;
  std::string current;
  std::istringstream words(text);
  for (std::string word; words >> word;) {
    while (word.size() > width) {
      if (!current.empty()) lines.push_back(current);
      current.clear();
      lines.push_back(word.substr(0, width));
      word = word.substr(width);
    }
    if (current.empty()) current = word;
    else if (current.size() + 1 + word.size() <= width) current += " " + word;
    else {
      lines.push_back(current);
      current = word;
    }
  }
  lines.push_back(current);
  return lines;
}

struct Table {
  std::vector<std::size_t> widths;
  std::vector<bool> right;  // right-aligned columns

  std::string rule(const char* l, const char* h, const char* mid, const char* r) const {
    std::string out = l;
    for (std::size_t i = 0; i < widths.size(); ++i) out += repeat(h, widths[i] + 2) + (i + 1 < widths.size() ? mid : r);
    return out + "\n";
  }
  std::string row(const char* bar, const std::vector<std::string>& cells) const {
    std::vector<std::vector<std::string>> wrapped;
    std::size_t height = 1;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      wrapped.push_back(wrap(cells[i], widths[i]));
      height = std::max(height, wrapped.back().size());
    }
    std::string out;
    for (std::size_t line = 0; line < height; ++line) {
      out += bar;
      for (std::size_t i = 0; i < cells.size(); ++i) {
        const std::string text = line < wrapped[i].size() ? wrapped[i][line] : "";
        out += " " + pad(text, widths[i], right[i]) + " " + bar;
      }
      out += "\n";
    }
    return out;
  }
};

}  // namespace

std::string Model::summary_string() const {
  ModelImpl& m = impl();
  auto* functional = dynamic_cast<FunctionalImpl*>(&m);
  const bool connected = functional && !functional->sequential_like();
  // Keras 3's layout at its 80-column fallback (line_length 76): a Sequential-like model's three
  // columns at 0.45 / 0.80 of it, a branching graph's four at 0.3 / 0.56 / 0.74, both shrunk to
  // fit by rich's ratio_reduce.
  Table table = connected ? Table{{19, 17, 10, 17}, {false, false, true, false}}
                          : Table{{31, 22, 13}, {false, false, true}};
  std::vector<std::string> header{"Layer (type)", "Output Shape", "Param #"};
  if (connected) header.push_back("Connected to");
  std::ostringstream os;
  os << "Model: \"" << m.name() << "\"\n";
  os << table.rule("┏", "━", "┳", "┓") << table.row("┃", header) << table.rule("┡", "━", "╇", "┩");
  Shape in = m.known_input_shape();
  if (!functional && !in.empty() && m.output_shapes.size() != m.stack.size()) m.compute_output_shape(in);
  for (std::size_t i = 0; i < m.stack.size(); ++i) {
    const auto& l = m.stack[i];
    std::string shape = i < m.output_shapes.size() ? m.output_shapes[i].str() : "?";
    // Keras prints a layer with several outputs as the list of their shapes.
    if (functional)
      if (auto shapes = functional->output_shapes_of(*l); shapes.size() > 1) {
        shape.clear();
        for (const Shape& s : shapes) shape += (shape.empty() ? "[" : ", ") + s.str();
        shape += "]";
      }
    std::vector<std::string> cells{l->name() + " (" + l->class_name() + ")", shape,
                                   l->built() ? with_commas(l->count_params()) : "0 (unbuilt)"};
    if (connected) cells.push_back(functional->connections(*l));
    os << table.row("│", cells);
    if (i + 1 < m.stack.size()) os << table.rule("├", "─", "┼", "┤");
  }
  os << table.rule("└", "─", "┴", "┘");
  // Keras 3: the total includes the optimizer's variables (iterations and learning rate count one
  // each) once the optimizer is built; sizes are the weights' bytes, 1024-based.
  std::int64_t trainable = 0, frozen = 0, opt = 0;
  double trainable_bytes = 0, frozen_bytes = 0, opt_bytes = 0;
  for (const Tensor& t : m.trainable_weights()) {
    trainable += t.numel();
    trainable_bytes += static_cast<double>(t.nbytes());
  }
  for (const Tensor& t : m.non_trainable_weights()) {
    frozen += t.numel();
    frozen_bytes += static_cast<double>(t.nbytes());
  }
  const std::shared_ptr<Optimizer> compiled_optimizer = optimizer();
  const bool optimizer_built = compiled_optimizer && compiled_optimizer->iterations() > 0;
  if (optimizer_built)
    for (const auto& [name, t] : compiled_optimizer->variables())
      if (t.defined()) {
        opt += t.numel();
        opt_bytes += static_cast<double>(t.nbytes());
      }
  auto line = [&](const char* label, std::int64_t n, double bytes) {
    os << " " << label << ": " << with_commas(n) << " (" << readable_size(bytes) << ")\n";
  };
  line("Total params", trainable + frozen + opt, trainable_bytes + frozen_bytes + opt_bytes);
  line("Trainable params", trainable, trainable_bytes);
  line("Non-trainable params", frozen, frozen_bytes);
  if (optimizer_built) line("Optimizer params", opt, opt_bytes);
  return os.str();
}

void Model::summary() const { std::cout << summary_string() << std::flush; }

}  // namespace lamina
