// SPDX-License-Identifier: Apache-2.0
#include "predict.hpp"

#include <lamina/errors.hpp>

#include "batcher.hpp"

namespace lamina::serve {
namespace {

using nlohmann::json;

std::string names_of(const std::vector<TensorSpec>& specs) {
  std::string text;
  for (auto& s : specs) text += (text.empty() ? "'" : ", '") + s.name + "'";
  return text;
}

/// The named value of every input in `object`; each input exactly once, nothing else.
std::vector<const json*> by_name(const json& object, const std::vector<TensorSpec>& specs, const std::string& where) {
  std::vector<const json*> values;
  for (auto& spec : specs) {
    auto it = object.find(spec.name);
    if (it == object.end()) throw BadRequest(where + ": missing input '" + spec.name + "' (the model takes " + names_of(specs) + ")");
    values.push_back(&*it);
  }
  if (object.size() != specs.size())
    for (auto& [key, value] : object.items())
      if (std::none_of(specs.begin(), specs.end(), [&](auto& s) { return s.name == key; }))
        throw BadRequest(where + ": unknown input '" + key + "' (the model takes " + names_of(specs) + ")");
  return values;
}

std::vector<Tensor> from_instances(const json& instances, const std::vector<TensorSpec>& specs) {
  if (!instances.is_array()) throw BadRequest("'instances' must be a list, one element per instance");
  if (instances.empty()) throw BadRequest("'instances' is empty");
  std::vector<std::vector<const json*>> rows(specs.size());
  for (std::size_t r = 0; r < instances.size(); ++r) {
    const json& instance = instances[r];
    // An object names the inputs; a model with one input also takes the bare value.
    if (instance.is_object()) {
      auto values = by_name(instance, specs, "instance " + std::to_string(r));
      for (std::size_t i = 0; i < specs.size(); ++i) rows[i].push_back(values[i]);
    } else if (specs.size() == 1) {
      rows[0].push_back(&instance);
    } else {
      throw BadRequest("instance " + std::to_string(r) + ": the model takes several inputs (" + names_of(specs) +
                       "): give each instance as an object keyed by input name");
    }
  }
  std::vector<Tensor> tensors;
  for (std::size_t i = 0; i < specs.size(); ++i) tensors.push_back(tensor_from_rows(rows[i], specs[i]));
  return tensors;
}

std::vector<Tensor> from_inputs(const json& inputs, const std::vector<TensorSpec>& specs) {
  std::vector<const json*> values;
  if (inputs.is_object()) values = by_name(inputs, specs, "'inputs'");
  else if (specs.size() == 1) values.push_back(&inputs);
  else throw BadRequest("'inputs' must be an object keyed by input name: the model takes " + names_of(specs));
  std::vector<Tensor> tensors;
  for (std::size_t i = 0; i < specs.size(); ++i) tensors.push_back(tensor_from_columns(*values[i], specs[i]));
  for (std::size_t i = 1; i < tensors.size(); ++i)
    if (tensors[i].dim(0) != tensors[0].dim(0))
      throw BadRequest("'inputs': input '" + specs[i].name + "' has " + std::to_string(tensors[i].dim(0)) +
                       " instances and '" + specs[0].name + "' " + std::to_string(tensors[0].dim(0)) +
                       ": the model needs the same number for each");
  return tensors;
}

void append_shape(std::string& out, const Shape& shape) {
  out += "{\"dim\":[";
  for (std::size_t i = 0; i < shape.size(); ++i)
    out += (i ? ",{\"size\":\"" : "{\"size\":\"") + std::to_string(shape[i]) + "\",\"name\":\"\"}";
  out += "],\"unknown_rank\":false}";
}

void append_specs(std::string& out, const std::vector<TensorSpec>& specs, bool inputs) {
  out += '{';
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (i) out += ',';
    append_string(out, specs[i].name);
    out += ":{\"dtype\":\"" + tf_dtype_name(specs[i].dtype) + "\",\"tensor_shape\":";
    append_shape(out, specs[i].shape);
    // The graph tensor names a Keras SavedModel's signature shows.
    out += ",\"name\":";
    append_string(out, inputs ? "serving_default_" + specs[i].name + ":0" : "StatefulPartitionedCall:" + std::to_string(i));
    out += '}';
  }
  out += '}';
}

}  // namespace

std::string predict_response(const std::shared_ptr<Servable>& model, const std::string& body, Batcher* batcher) {
  Servable& servable = *model;
  check_json_depth(body);
  json request;
  try {
    request = json::parse(body);
  } catch (const json::exception& e) {
    throw BadRequest(std::string("JSON Parse error: ") + e.what());
  }
  if (!request.is_object()) throw BadRequest("the request body must be a JSON object");
  if (auto it = request.find("signature_name"); it != request.end()) {
    if (!it->is_string()) throw BadRequest("'signature_name' must be a string");
    if (*it != "serving_default")
      throw BadRequest("Serving signature name: \"" + it->get<std::string>() + "\" not found in signature def");
  }
  bool rows = request.contains("instances");
  if (rows == request.contains("inputs"))
    throw BadRequest(rows ? "Request can have either 'instances' or 'inputs', not both"
                          : "Missing 'inputs' or 'instances' key");
  auto tensors = rows ? from_instances(request["instances"], servable.inputs)
                      : from_inputs(request["inputs"], servable.inputs);
  std::vector<Tensor> outputs;
  try {
    outputs = batcher ? batcher->predict(model, tensors)
                      : run_predict(servable, tensors);
  } catch (const ShapeError& e) {
    throw BadRequest(e.what());
  }
  const auto& specs = servable.outputs;
  std::string out;
  out.reserve(64 + 16 * static_cast<std::size_t>(outputs.front().numel()) * outputs.size());
  if (rows) {
    out += "{\"predictions\":[";
    for (std::int64_t r = 0; r < outputs.front().dim(0); ++r) {
      if (r) out += ',';
      if (outputs.size() == 1) {
        append_row(out, outputs[0], r);
        continue;
      }
      out += '{';
      for (std::size_t o = 0; o < outputs.size(); ++o) {
        if (o) out += ',';
        append_string(out, specs[o].name);
        out += ':';
        append_row(out, outputs[o], r);
      }
      out += '}';
    }
    out += "]}";
  } else if (outputs.size() == 1) {
    out += "{\"outputs\":";
    append_tensor(out, outputs[0]);
    out += '}';
  } else {
    out += "{\"outputs\":{";
    for (std::size_t o = 0; o < outputs.size(); ++o) {
      if (o) out += ',';
      append_string(out, specs[o].name);
      out += ':';
      append_tensor(out, outputs[o]);
    }
    out += "}}";
  }
  return out;
}

std::string metadata_response(const std::string& model_name, const Servable& servable) {
  std::string out = "{\"model_spec\":{\"name\":";
  append_string(out, model_name);
  out += ",\"signature_name\":\"\",\"version\":\"" + std::to_string(servable.version) + "\"},";
  out += "\"metadata\":{\"signature_def\":{\"signature_def\":{\"serving_default\":{\"inputs\":";
  append_specs(out, servable.inputs, true);
  out += ",\"outputs\":";
  append_specs(out, servable.outputs, false);
  out += ",\"method_name\":\"tensorflow/serving/predict\"}}}}}";
  return out;
}

}  // namespace lamina::serve
