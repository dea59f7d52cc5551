// Model::summary in Keras 3's table layout.
#include <cstdio>
#include <iostream>
#include <sstream>

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

}  // namespace

std::string Model::summary_string() const {
  ModelImpl& m = impl();
  const std::size_t w1 = 31, w2 = 22, w3 = 13;  // Keras 3's Sequential column widths
  std::ostringstream os;
  auto rule = [&](const char* l, const char* h, const char* mid, const char* r) {
    os << l << repeat(h, w1 + 2) << mid << repeat(h, w2 + 2) << mid << repeat(h, w3 + 2) << r << "\n";
  };
  auto row = [&](const char* bar, const std::string& a, const std::string& b, const std::string& c) {
    os << bar << " " << pad(a, w1, false) << " " << bar << " " << pad(b, w2, false) << " " << bar
       << " " << pad(c, w3, true) << " " << bar << "\n";
  };
  os << "Model: \"" << m.name() << "\"\n";
  rule("┏", "━", "┳", "┓");
  row("┃", "Layer (type)", "Output Shape", "Param #");
  rule("┡", "━", "╇", "┩");
  Shape in = m.known_input_shape();
  if (!in.empty() && m.output_shapes.size() != m.stack.size()) m.compute_output_shape(in);
  for (std::size_t i = 0; i < m.stack.size(); ++i) {
    const auto& l = m.stack[i];
    std::string shape = i < m.output_shapes.size() ? m.output_shapes[i].str() : "?";
    std::string params = l->built() ? with_commas(l->count_params()) : "0 (unbuilt)";
    row("│", l->name() + " (" + l->class_name() + ")", shape, params);
    if (i + 1 < m.stack.size()) rule("├", "─", "┼", "┤");
  }
  rule("└", "─", "┴", "┘");
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
  const bool optimizer_built = m.optimizer && m.optimizer->iterations() > 0;
  if (optimizer_built)
    for (const auto& [name, t] : m.optimizer->variables())
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
