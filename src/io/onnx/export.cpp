// SPDX-License-Identifier: Apache-2.0
// onnx::export_model: walks a Sequential's stack or a Functional model's layer calls (models
// nested as layers are inlined), converts each call (layers.cpp) and writes the ModelProto.
#include "lamina/onnx.hpp"

#include <filesystem>
#include <fstream>
#include <map>

#include "engine/functional.hpp"
#include "engine/model_impl.hpp"
#include "io/atomic_file.hpp"
#include "io/onnx/builder.hpp"
#include "lamina/errors.hpp"
#include "lamina/input.hpp"

namespace lamina::onnx {

namespace {

using Names = std::vector<std::string>;

/// A subclassed model's graph is its C++ call(): nothing to map.
void refuse_subclassed(const ModelImpl& m) {
  if (dynamic_cast<const FunctionalImpl*>(&m) || m.class_name() == "Sequential") return;
  throw ValueError("ONNX export: " + m.class_name() + " '" + m.name() +
                   "': a subclassed model's call() is C++ code with no ONNX mapping; export a Sequential "
                   "or Functional model");
}

struct Exporter {
  Builder b;
  std::vector<ExportedLayer>* report;

  Names call_layer(Layer& layer, const Names& in, const std::vector<Shape>& in_shapes,
                   const std::vector<Shape>& out_shapes) {
    if (auto* model = dynamic_cast<ModelImpl*>(&layer)) return inline_model(*model, in, in_shapes);
    ExportedLayer* entry = nullptr;
    if (report) {
      report->push_back({layer.name(), layer.class_name(), {}});
      entry = &report->back();
    }
    b.begin_layer(layer.name(), entry ? &entry->ops : nullptr);
    const Call call{layer, layer.get_config(), in, in_shapes, out_shapes};
    Names out = convert_layer(b, call);
    if (out.size() != out_shapes.size())
      call.refuse("its ONNX mapping gives " + std::to_string(out.size()) + " outputs where the layer has " +
                  std::to_string(out_shapes.size()));
    return out;
  }

  Names inline_model(ModelImpl& m, const Names& in, const std::vector<Shape>& in_shapes) {
    if (auto* f = dynamic_cast<FunctionalImpl*>(&m)) return functional(*f, in);
    refuse_subclassed(m);
    Shape shape = in_shapes.empty() ? m.known_input_shape() : in_shapes[0];
    if (shape.empty()) throw ValueError("ONNX export: Sequential '" + m.name() + "' has no known input shape");
    if (m.output_shapes.size() != m.stack.size()) m.compute_output_shape(shape);
    Names x = in;
    for (std::size_t i = 0; i < m.stack.size(); ++i) {
      if (dynamic_cast<InputLayer*>(m.stack[i].get())) continue;
      x = call_layer(*m.stack[i], x, {shape}, {m.output_shapes[i]});
      shape = m.output_shapes[i];
    }
    return x;
  }

  Names functional(FunctionalImpl& f, const Names& in) {
    // ONNX names by producing call and output index; Inputs by their layer.
    std::map<std::pair<const void*, int>, std::string> name_of;
    auto key = [](const KerasTensor& t) {
      return t.node ? std::pair<const void*, int>{t.node.get(), t.tensor_index}
                    : std::pair<const void*, int>{t.layer.get(), 0};
    };
    const auto inputs = f.input_tensors();
    for (std::size_t i = 0; i < inputs.size(); ++i) name_of[key(inputs[i])] = in.at(i);
    for (const auto& step : f.steps()) {
      Names args;
      std::vector<Shape> shapes;
      for (const KerasTensor& t : step.node->inputs) {
        args.push_back(name_of.at(key(t)));
        shapes.push_back(t.shape);
      }
      Names outs = call_layer(*step.node->layer, args, shapes, step.node->output_shapes);
      for (std::size_t k = 0; k < outs.size(); ++k) name_of[{step.node.get(), static_cast<int>(k)}] = outs[k];
    }
    Names out;
    for (const KerasTensor& t : f.output_tensors()) out.push_back(name_of.at(key(t)));
    return out;
  }
};

proto::DataType onnx_type(DType t, const std::string& who) {
  if (t == float32) return proto::DataType::Float;
  if (t == int32) return proto::DataType::Int32;
  if (t == int64) return proto::DataType::Int64;
  throw ValueError("ONNX export: " + who + " has dtype " + dtype_name(t) + ", which the exporter does not write");
}

proto::ValueInfo value_info(const std::string& name, const KerasTensor& t, const ExportOptions& o) {
  proto::ValueInfo v{.name = name, .type = onnx_type(t.dtype, "'" + name + "'"), .dims = {}, .dim_names = {}};
  for (std::size_t i = 0; i < t.shape.size(); ++i) {
    std::int64_t d = t.shape[i];
    if (i == 0) d = o.dynamic_batch ? -1 : o.batch_size;
    v.dims.push_back(d);
    v.dim_names.push_back(i == 0 ? "batch" : name + "_dim" + std::to_string(i));
  }
  return v;
}

std::int64_t ir_version_for(int opset) {
  // ONNX's release table: opsets 17-18 came with IR version 8, 19-20 with 9, 21 with 10.
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

}  // namespace

std::vector<std::string> exportable_layer_classes() { return exportable_classes(); }

std::string to_onnx_bytes(const Model& model, const ExportOptions& options, std::vector<ExportedLayer>* layers) {
  if (!model.defined()) throw ValueError("ONNX export: the model handle is empty");
  if (options.opset < 17 || options.opset > 21)
    throw ValueError("ONNX export: opset " + std::to_string(options.opset) +
                     " is not supported (17 to 21: LayerNormalization needs 17)");
  if (!options.dynamic_batch && options.batch_size < 1)
    throw ValueError("ONNX export: batch_size must be positive, got " + std::to_string(options.batch_size));
  ModelImpl& m = model.impl();
  refuse_subclassed(m);
  const std::vector<KerasTensor> ins = model.inputs(), outs = model.outputs();
  const Names in_names = model.input_names(), out_names = model.output_names();

  Exporter e{Builder(options.opset), layers};
  std::vector<Shape> in_shapes;
  for (const auto& t : ins) in_shapes.push_back(t.shape);
  const Names results = e.inline_model(m, in_names, in_shapes);

  proto::Model pm;
  pm.ir_version = ir_version_for(options.opset);
  pm.opset = options.opset;
  pm.producer_version = "lamina";
  pm.graph = std::move(e.b.graph());
  pm.graph.name = m.name();
  for (std::size_t i = 0; i < ins.size(); ++i) pm.graph.inputs.push_back(value_info(in_names[i], ins[i], options));
  // Each output gets its model name through an Identity (a result may also be an input's name).
  Builder tail(options.opset);
  for (std::size_t i = 0; i < outs.size(); ++i) {
    KerasTensor t = outs[i];
    t.dtype = float32;
    pm.graph.outputs.push_back(value_info(out_names[i], t, options));
    tail.op_to("Identity", {results[i]}, out_names[i]);
  }
  for (auto& n : tail.graph().nodes) {
    n.name = "output/" + n.outputs[0];
    pm.graph.nodes.push_back(std::move(n));
  }
  return proto::encode(pm);
}

ExportReport export_model(const Model& model, const std::string& path, const ExportOptions& options) {
  ExportReport report;
  const std::string bytes = to_onnx_bytes(model, options, &report.layers);
  io::write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) throw FileFormatError("ONNX export: writing '" + path + "' failed");
  });
  report.file_size = bytes.size();
  return report;
}

}  // namespace lamina::onnx
