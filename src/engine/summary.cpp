// SPDX-License-Identifier: Apache-2.0
// Model::summary in Keras 3's table layout.
#include <cstdio>
#include <iostream>
#include <sstream>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "engine/functional.hpp"
#include "engine/model_impl.hpp"
#include "lamina/errors.hpp"
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

// Display columns of UTF-8 text (the box characters, "└" and "…" are multi-byte but one column).
std::size_t cols(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The first `n` columns of s.
std::string first_cols(const std::string& s, std::size_t n) {
  std::size_t at = 0, seen = 0;
  while (at < s.size()) {
    if ((static_cast<unsigned char>(s[at]) & 0xC0) != 0x80) {
      if (seen == n) break;
      ++seen;
    }
    ++at;
  }
  return s.substr(0, at);
}

std::string rstrip(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

enum class Justify { left, right, center };

// Pads to `width` display columns as rich justifies a cell's line.
std::string pad(const std::string& s, std::size_t width, Justify justify) {
  const std::size_t c = cols(s);
  if (c >= width) return s;
  const std::size_t fill = width - c;
  switch (justify) {
    case Justify::right: return std::string(fill, ' ') + s;
    case Justify::center: return std::string(fill / 2, ' ') + s + std::string(fill - fill / 2, ' ');
    default: return s + std::string(fill, ' ');
  }
}

std::string repeat(const char* s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

// rich's word wrap (divide_line without folding, then truncate with overflow "ellipsis"): words
// keep their surrounding spaces (an indent stays), a line breaks before a word that does not fit,
// and a word wider than the column is cut to width - 1 columns and "…".
std::vector<std::string> wrap(const std::string& text, std::size_t width) {
  std::vector<std::string> words;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t j = i;
    while (j < text.size() && text[j] == ' ') ++j;
    while (j < text.size() && text[j] != ' ') ++j;
    while (j < text.size() && text[j] == ' ') ++j;
    words.push_back(text.substr(i, j - i));
    i = j;
  }
  std::vector<std::string> lines;
  std::string current;
  std::size_t offset = 0;
  for (const std::string& word : words) {
    const std::size_t length = cols(rstrip(word));
    if (width >= offset + length) {
      current += word;
      offset += cols(word);
    } else {
      if (!current.empty()) lines.push_back(current);
      current = word;
      offset = cols(word);
    }
  }
  lines.push_back(current);
  for (std::string& line : lines) {
    line = rstrip(line);
    if (cols(line) > width) line = first_cols(line, width - 1) + "…";
  }
  return lines;
}

struct Table {
  std::vector<std::size_t> widths;
  std::vector<Justify> justify;

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
        out += " " + pad(text, widths[i], justify[i]) + " " + bar;
      }
      out += "\n";
    }
    return out;
  }
};

// Python's round(): halves to even.
std::int64_t round_half_even(double x) { return static_cast<std::int64_t>(std::nearbyint(x)); }

// Keras's column widths (int(position * line_length) steps), then rich's layout of a table of
// that width: each column gets one space of padding on both sides and the table has a border
// between and around them, so rich shrinks the columns evenly (ratio_reduce, Python rounding) to
// fit. Throws ValueError when a column would be narrower than 4, as Keras does.
std::vector<std::size_t> column_widths(std::vector<double> positions, int line_length) {
  std::vector<std::int64_t> widths;
  std::int64_t current = 0;
  for (double pos : positions) {
    const auto width = static_cast<std::int64_t>(pos * line_length) - current;
    if (width < 4) throw ValueError("summary: Insufficient console width to print summary (line_length " + std::to_string(line_length) + ")");
    widths.push_back(width + 2);
    current += width;
  }
  const auto n = static_cast<std::int64_t>(widths.size());
  const std::int64_t max_width = line_length - (n + 1);
  std::int64_t total = 0;
  for (std::int64_t& w : widths) {
    w = std::min(w, max_width);
    total += w;
  }
  if (total > max_width) {
    std::int64_t remaining = total - max_width, ratio = n;
    for (std::int64_t& w : widths) {
      const std::int64_t cut = std::min(w, round_half_even(static_cast<double>(remaining) / static_cast<double>(ratio)));
      w -= cut;
      remaining -= cut;
      --ratio;
    }
  }
  std::vector<std::size_t> out;
  for (std::int64_t w : widths) out.push_back(static_cast<std::size_t>(std::max<std::int64_t>(w - 2, 1)));
  return out;
}

}  // namespace

std::string Model::summary_string(const SummaryOptions& options) const {
  ModelImpl& m = impl();
  auto* functional = dynamic_cast<FunctionalImpl*>(&m);
  const bool connected = functional && !functional->sequential_like();
  // Keras 3's print_summary: a Sequential-like model's three columns at 0.45 / 0.80 of the line,
  // a branching graph's four at 0.3 / 0.56 / 0.74; show_trainable scales them by 0.9 and adds
  // the Trainable column. The default line is the 80-column fallback less 4 (76).
  std::vector<double> positions = connected ? std::vector<double>{0.3, 0.56, 0.74, 1.0} : std::vector<double>{0.45, 0.80, 1.0};
  std::vector<std::string> header{"Layer (type)", "Output Shape", "Param #"};
  std::vector<Justify> justify{Justify::left, Justify::left, Justify::right};
  if (connected) {
    header.push_back("Connected to");
    justify.push_back(Justify::left);
  }
  if (options.show_trainable) {
    for (double& p : positions) p *= 0.9;
    positions.push_back(1.0);
    header.push_back("Trainable");
    justify.push_back(Justify::center);
  }
  if (options.line_length < 0) throw ValueError("summary: line_length must be >= 0, got " + std::to_string(options.line_length));
  const int line_length = options.line_length > 0 ? options.line_length : 76;
  const Table table{column_widths(positions, line_length), justify};
  std::ostringstream os;
  os << "Model: \"" << m.name() << "\"\n";
  os << table.rule("┏", "━", "┳", "┓") << table.row("┃", header) << table.rule("┡", "━", "╇", "┩");
  // The rows: every layer of the stack and, with expand_nested, a nested model's layers under it
  // (indented "   " per level and "└ "), as Keras's print_layer.
  std::vector<std::vector<std::string>> rows;
  std::function<void(ModelImpl&, int)> add_rows = [&](ModelImpl& model, int level) {
    auto* graph = dynamic_cast<FunctionalImpl*>(&model);
    Shape in = model.known_input_shape();
    if (!graph && !in.empty() && model.output_shapes.size() != model.stack.size()) model.compute_output_shape(in);
    for (std::size_t i = 0; i < model.stack.size(); ++i) {
      const auto& l = model.stack[i];
      std::string shape = i < model.output_shapes.size() ? model.output_shapes[i].str() : "?";
      // Keras prints a layer with several outputs as the list of their shapes.
      if (graph)
        if (auto shapes = graph->output_shapes_of(*l); shapes.size() > 1) {
          shape.clear();
          for (const Shape& s : shapes) shape += (shape.empty() ? "[" : ", ") + s.str();
          shape += "]";
        }
      const std::string prefix = level ? repeat("   ", static_cast<std::size_t>(level)) + "└ " : "";
      std::vector<std::string> cells{prefix + l->name() + " (" + l->class_name() + ")", shape,
                                     l->built() ? with_commas(l->count_params()) : "0 (unbuilt)"};
      // A nested layer's nodes are not the outer graph's: Keras shows none.
      if (connected) cells.push_back(level ? "-" : functional->connections(*l));
      if (options.show_trainable) cells.push_back(l->weights().empty() ? "-" : l->trainable() ? "Y" : "N");
      rows.push_back(std::move(cells));
      if (options.expand_nested)
        if (auto* nested = dynamic_cast<ModelImpl*>(l.get()); nested && !nested->stack.empty()) add_rows(*nested, level + 1);
    }
  };
  add_rows(m, 0);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    os << table.row("│", rows[i]);
    if (i + 1 < rows.size()) os << table.rule("├", "─", "┼", "┤");
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

void Model::summary(const SummaryOptions& options) const { std::cout << summary_string(options) << std::flush; }

}  // namespace lamina
