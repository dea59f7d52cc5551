// SPDX-License-Identifier: Apache-2.0
// plot_model: the layer graph as Graphviz DOT, rendered through `dot` when another format is asked.
#include "lamina/utils.hpp"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/functional.hpp"
#include "lamina/errors.hpp"
#include "lamina/input.hpp"

namespace lamina::utils {

namespace {

// DOT record labels treat {}|<> as structure: escape them in names and shapes.
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '{' || c == '}' || c == '|' || c == '<' || c == '>' || c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string shapes_label(const std::vector<Shape>& shapes) {
  std::string out;
  for (const Shape& s : shapes) out += (out.empty() ? "" : ", ") + s.str();
  return out.empty() ? "-" : out;
}

struct Vertex {
  const Layer* layer;
  std::vector<Shape> in;
  std::vector<Shape> out;  // several for a layer with several outputs
};

}  // namespace

std::string model_to_dot(const Model& model, const PlotModelOptions& o) {
  if (!model.defined()) throw ValueError("plot_model: the model handle is empty");
  ModelImpl& m = model.impl();
  std::vector<Vertex> vertices;
  std::vector<std::pair<const Layer*, const Layer*>> edges;
  if (auto* f = dynamic_cast<FunctionalImpl*>(&m)) {
    for (std::size_t i = 0; i < m.stack.size(); ++i)
      vertices.push_back({m.stack[i].get(), {}, f->output_shapes_of(*m.stack[i])});
    for (const auto& step : f->steps()) {
      for (auto& v : vertices)
        if (v.layer == step.node->layer.get() && v.in.empty())
          for (const KerasTensor& t : step.node->inputs) v.in.push_back(t.shape);
      for (const KerasTensor& t : step.node->inputs) edges.emplace_back(t.layer.get(), step.node->layer.get());
    }
  } else {
    // A Sequential: a chain from its Input (when it has one) through the stack.
    Shape in = m.known_input_shape();
    if (!in.empty() && m.output_shapes.size() != m.stack.size()) m.compute_output_shape(in);
    const Layer* previous = nullptr;
    if (m.input_layer) {
      vertices.push_back({m.input_layer.get(), {}, {in}});
      previous = m.input_layer.get();
    }
    for (std::size_t i = 0; i < m.stack.size(); ++i) {
      Shape out = i < m.output_shapes.size() ? m.output_shapes[i] : Shape{};
      Shape prev = i == 0 ? in : (i - 1 < m.output_shapes.size() ? m.output_shapes[i - 1] : Shape{});
      vertices.push_back({m.stack[i].get(), prev.empty() ? std::vector<Shape>{} : std::vector<Shape>{prev},
                          out.empty() ? std::vector<Shape>{} : std::vector<Shape>{out}});
      if (previous) edges.emplace_back(previous, m.stack[i].get());
      previous = m.stack[i].get();
    }
  }

  std::ostringstream os;
  os << "digraph \"" << escape(m.name()) << "\" {\n";
  os << "  graph [rankdir=" << o.rankdir << ", dpi=" << o.dpi << "];\n";
  os << "  node [shape=record, fontname=\"Helvetica\"];\n";
  for (const Vertex& v : vertices) {
    std::string title = o.show_layer_names ? v.layer->name() + " (" + v.layer->class_name() + ")"
                                           : v.layer->class_name();
    std::string label = escape(title);
    if (o.show_shapes) {
      const bool is_input = dynamic_cast<const InputLayer*>(v.layer) != nullptr;
      label = "{" + label + "|{input:|output:}|{" +
              escape(is_input ? shapes_label(v.out) : shapes_label(v.in)) + "|" +
              escape(v.out.empty() ? "?" : shapes_label(v.out)) + "}}";
    }
    if (o.show_dtype) label += "|float32";
    os << "  \"" << escape(v.layer->name()) << "\" [label=\"" << label << "\"];\n";
  }
  for (const auto& [from, to] : edges)
    os << "  \"" << escape(from->name()) << "\" -> \"" << escape(to->name()) << "\";\n";
  os << "}\n";
  return os.str();
}

void plot_model(const Model& model, const std::string& path, const PlotModelOptions& options) {
  const std::string dot_text = model_to_dot(model, options);
  std::string ext = std::filesystem::path(path).extension().string();
  if (!ext.empty()) ext = ext.substr(1);
  auto write = [&](const std::string& file) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    if (!out) throw FileFormatError("plot_model: cannot write '" + file + "'");
    out << dot_text;
    if (!out.flush()) throw FileFormatError("plot_model: writing '" + file + "' failed");
  };
  if (ext == "dot" || ext == "gv") {
    write(path);
    return;
  }
  if (ext.empty()) throw ValueError("plot_model: '" + path + "' has no extension (.dot, .png, .svg, .pdf)");
  for (char c : ext)
    if (!std::isalnum(static_cast<unsigned char>(c)))
      throw ValueError("plot_model: unsupported file extension '." + ext + "'");
  if (std::system("command -v dot > /dev/null 2>&1") != 0)
    throw ValueError("plot_model: writing '" + path + "' needs Graphviz's `dot` program, which was "
                     "not found (install graphviz, or write a .dot file instead)");
  const std::string tmp = path + ".tmp.dot";
  write(tmp);
  // Quote the paths for the shell: single quotes, with embedded single quotes closed and escaped.
  auto quote = [](const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  const int rc = std::system(("dot -T" + ext + " -o " + quote(path) + " " + quote(tmp)).c_str());
  std::remove(tmp.c_str());
  if (rc != 0)
    throw FileFormatError("plot_model: Graphviz's dot failed to write '" + path + "' as " + ext);
}

}  // namespace lamina::utils
