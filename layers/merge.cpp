// SPDX-License-Identifier: Apache-2.0
// Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot.
#include "common/json_int.hpp"
#include "lamina/layers/merge.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/layer_spec.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "list_shapes.hpp"

namespace lamina::layers {

// --- MergeLayer ------------------------------------------------------------------------------------

void MergeLayer::fail_shapes(const std::string& what, const std::vector<Shape>& shapes) const {
  fail_shape(what + ". Received shapes " + shapes_str(shapes));
}

void MergeLayer::build(const Shape& input_shape) { compute_output_shape(input_shape); }

Shape MergeLayer::compute_output_shape(const Shape& input_shape) {
  fail_shape("a merge layer must be called on a list of tensors, got one tensor of shape " +
             input_shape.str());
}

Tensor MergeLayer::call(const Tensor& x, bool) {
  fail_shape("a merge layer must be called on a list of tensors, got one tensor of shape " +
             x.shape().str());
}

Tensor MergeLayer::compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>& masks) const {
  NoGradGuard no_grad;
  Tensor kept;
  for (const Tensor& m : masks) {
    if (!m.defined()) continue;
    Tensor k = m.astype(float32);
    kept = kept.defined() ? kept * k : k;
  }
  return kept.defined() ? (kept != 0.0) : Tensor();
}

// --- elementwise ---------------------------------------------------------------------------------

Shape ElementwiseMergeLayer::compute_output_shape_list(const std::vector<Shape>& shapes) {
  if (shapes.empty()) fail_shape("must be called on a list of at least 1 input");
  if (required_inputs() && shapes.size() != required_inputs())
    fail_shapes("must be called on exactly " + std::to_string(required_inputs()) + " inputs, got " +
                    std::to_string(shapes.size()),
                shapes);
  std::int64_t batch = -1;
  for (const Shape& s : shapes) {
    if (s.empty()) fail_shapes("every input needs a batch dimension", shapes);
    if (s[0] >= 0 && batch >= 0 && s[0] != batch)
      fail_shapes("cannot merge tensors with different batch sizes", shapes);
    if (s[0] >= 0) batch = s[0];
  }
  // Non-batch dimensions aligned at the end, NumPy-style (as Keras's
  // _compute_elemwise_op_output_shape): 1 stretches, unknown stays unknown.
  Shape out(shapes[0].begin() + 1, shapes[0].end());
  for (std::size_t k = 1; k < shapes.size(); ++k) {
    Shape other(shapes[k].begin() + 1, shapes[k].end());
    if (other.size() > out.size()) std::swap(other, out);
    const std::size_t offset = out.size() - other.size();
    for (std::size_t i = 0; i < other.size(); ++i) {
      std::int64_t& a = out[offset + i];
      const std::int64_t b = other[i];
      if (a < 0 || b < 0) a = -1;
      else if (a == 1) a = b;
      else if (b != 1 && a != b) fail_shapes("inputs have incompatible shapes", shapes);
    }
  }
  out.insert(out.begin(), batch);
  return out;
}

Tensor ElementwiseMergeLayer::call(const std::vector<Tensor>& inputs, bool) {
  compute_output_shape_list(symbolic_shapes(inputs));
  // A lower-rank input gains unit axes right after the batch axis, so its dimensions line up
  // with the others' trailing ones.
  int rank = 0;
  for (const Tensor& x : inputs) rank = std::max(rank, x.ndim());
  std::vector<Tensor> aligned;
  for (const Tensor& x : inputs) {
    if (x.ndim() == rank) {
      aligned.push_back(x);
      continue;
    }
    Shape s{x.shape()[0]};
    s.insert(s.end(), rank - x.ndim(), 1);
    s.insert(s.end(), x.shape().begin() + 1, x.shape().end());
    aligned.push_back(x.reshape(s));
  }
  return combine(aligned);
}

Tensor AddLayer::combine(const std::vector<Tensor>& xs) const {
  Tensor out = xs[0];
  for (std::size_t i = 1; i < xs.size(); ++i) out = add(out, xs[i]);
  return out;
}

Tensor SubtractLayer::combine(const std::vector<Tensor>& xs) const { return subtract(xs[0], xs[1]); }

Tensor MultiplyLayer::combine(const std::vector<Tensor>& xs) const {
  Tensor out = xs[0];
  for (std::size_t i = 1; i < xs.size(); ++i) out = multiply(out, xs[i]);
  return out;
}

Tensor AverageLayer::combine(const std::vector<Tensor>& xs) const {
  Tensor out = xs[0];
  for (std::size_t i = 1; i < xs.size(); ++i) out = add(out, xs[i]);
  return out / static_cast<double>(xs.size());
}

Tensor MaximumLayer::combine(const std::vector<Tensor>& xs) const {
  Tensor out = xs[0];
  for (std::size_t i = 1; i < xs.size(); ++i) out = maximum(out, xs[i]);
  return out;
}

Tensor MinimumLayer::combine(const std::vector<Tensor>& xs) const {
  Tensor out = xs[0];
  for (std::size_t i = 1; i < xs.size(); ++i) out = minimum(out, xs[i]);
  return out;
}

Add::Add(Name name) : LayerHandle(std::make_shared<AddLayer>(std::move(name))) {}
Subtract::Subtract(Name name) : LayerHandle(std::make_shared<SubtractLayer>(std::move(name))) {}
Multiply::Multiply(Name name) : LayerHandle(std::make_shared<MultiplyLayer>(std::move(name))) {}
Average::Average(Name name) : LayerHandle(std::make_shared<AverageLayer>(std::move(name))) {}
Maximum::Maximum(Name name) : LayerHandle(std::make_shared<MaximumLayer>(std::move(name))) {}
Minimum::Minimum(Name name) : LayerHandle(std::make_shared<MinimumLayer>(std::move(name))) {}

// --- Concatenate ---------------------------------------------------------------------------------

ConcatenateLayer::ConcatenateLayer(int axis, std::string name) : MergeLayer(std::move(name)), axis_(axis) {}

Shape ConcatenateLayer::compute_output_shape_list(const std::vector<Shape>& shapes) {
  if (shapes.empty()) fail_shape("must be called on a list of at least 1 input");
  const int rank = shapes[0].rank();
  for (const Shape& s : shapes)
    if (s.rank() != rank) fail_shapes("all inputs must have the same rank", shapes);
  const int axis = axis_ < 0 ? axis_ + rank : axis_;
  if (axis <= 0 || axis >= rank)
    fail_shapes("axis " + std::to_string(axis_) + " is out of range for inputs of rank " +
                    std::to_string(rank) + " (the batch axis cannot be concatenated)",
                shapes);
  Shape out = shapes[0];
  for (std::size_t k = 1; k < shapes.size(); ++k) {
    for (int d = 0; d < rank; ++d) {
      if (d == axis) continue;
      const std::int64_t a = out[d], b = shapes[k][d];
      if (a >= 0 && b >= 0 && a != b)
        fail_shapes("inputs must match in every dimension except the concatenation axis " +
                        std::to_string(axis_),
                    shapes);
      if (a < 0) out[d] = b;
    }
    out[axis] = out[axis] < 0 || shapes[k][axis] < 0 ? -1 : out[axis] + shapes[k][axis];
  }
  return out;
}

Tensor ConcatenateLayer::call(const std::vector<Tensor>& inputs, bool) {
  compute_output_shape_list(symbolic_shapes(inputs));
  // Mixed float inputs (float32 beside a float64 one) meet at the wider type.
  DType dtype = inputs[0].dtype();
  for (const Tensor& x : inputs) dtype = promote_types(dtype, x.dtype());
  std::vector<Tensor> same;
  for (const Tensor& x : inputs) same.push_back(x.dtype() == dtype ? x : x.astype(dtype));
  return concatenate(same, axis_);
}

Tensor ConcatenateLayer::compute_mask(const std::vector<Tensor>& inputs,
                                      const std::vector<Tensor>& masks) const {
  bool any_mask = false;
  for (const Tensor& m : masks) any_mask |= m.defined();
  if (!any_mask || masks.size() != inputs.size()) return Tensor();
  NoGradGuard no_grad;
  std::vector<Tensor> widened;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!masks[i].defined()) {
      widened.push_back(Tensor::ones(x.shape(), float32, x.device()));
      continue;
    }
    Tensor m = masks[i].astype(float32);
    if (m.ndim() < x.ndim()) {
      Shape s = m.shape();
      s.push_back(1);
      m = broadcast_to(m.reshape(s), x.shape());
    }
    widened.push_back(m);
  }
  return max(concatenate(widened, axis_), {-1}) != 0.0;
}

nlohmann::json ConcatenateLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["axis"] = axis_;
  return c;
}

Concatenate::Concatenate(int axis, Name name)
    : LayerHandle(std::make_shared<ConcatenateLayer>(axis, std::move(name))) {}

// --- Dot -----------------------------------------------------------------------------------------

DotLayer::DotLayer(std::pair<int, int> axes, DotOptions options, bool single_axis)
    : MergeLayer(options.name), axes_(axes), single_axis_(single_axis), options_(std::move(options)) {
  apply_dtype_option(*this, options_.dtype);
}

std::pair<int, int> DotLayer::resolved_axes(const std::vector<Shape>& shapes) const {
  if (shapes.size() != 2)
    fail_shapes("must be called on exactly 2 inputs, got " + std::to_string(shapes.size()), shapes);
  const int r0 = shapes[0].rank(), r1 = shapes[1].rank();
  if (r0 < 2 || r1 < 2) fail_shapes("inputs must have a batch axis and at least one more", shapes);
  const int a0 = axes_.first < 0 ? axes_.first + r0 : axes_.first;
  const int a1 = axes_.second < 0 ? axes_.second + r1 : axes_.second;
  if (a0 <= 0 || a0 >= r0 || a1 <= 0 || a1 >= r1)
    fail_shapes("axes (" + std::to_string(axes_.first) + ", " + std::to_string(axes_.second) +
                    ") must name non-batch axes",
                shapes);
  const std::int64_t d0 = shapes[0][a0], d1 = shapes[1][a1];
  if (d0 >= 0 && d1 >= 0 && d0 != d1)
    fail_shapes("incompatible dimensions: " + std::to_string(d0) + " (axis " + std::to_string(a0) +
                    " of the first input) != " + std::to_string(d1) + " (axis " + std::to_string(a1) +
                    " of the second)",
                shapes);
  return {a0, a1};
}

Shape DotLayer::compute_output_shape_list(const std::vector<Shape>& shapes) {
  // Keras's: the first input's axes without its dot axis, then the second's without its batch
  // and dot axes; (batch, 1) when nothing is left.
  auto [a0, a1] = resolved_axes(shapes);
  Shape out{shapes[0][0] >= 0 ? shapes[0][0] : shapes[1][0]};
  for (int d = 1; d < shapes[0].rank(); ++d)
    if (d != a0) out.push_back(shapes[0][d]);
  for (int d = 1; d < shapes[1].rank(); ++d)
    if (d != a1) out.push_back(shapes[1][d]);
  if (out.rank() == 1) out.push_back(1);
  return out;
}

Tensor DotLayer::call(const std::vector<Tensor>& inputs, bool) {
  auto [a0, a1] = resolved_axes(symbolic_shapes(inputs));
  Tensor x = inputs[0], y = inputs[1];
  if (options_.normalize) {
    // Keras's l2_normalize: x / sqrt(max(sum(x²), 1e-12)) along the dot axis.
    auto l2 = [](const Tensor& t, int axis) {
      Tensor ss = sum(square(t), {axis}, true);
      return t / sqrt(maximum(ss, Tensor::full({}, 1e-12, t.dtype(), t.device())));
    };
    x = l2(x, a0);
    y = l2(y, a1);
  }
  if (x.ndim() == 2 && y.ndim() == 2) return sum(x * y, {1}, true);
  // Keras's batch_dot: x as (N, P, k) with its dot axis last, y as (N, k, Q) with its dot axis
  // first; the broadcast product summed over k is (N, P, Q), reshaped to the output shape.
  auto move_axis = [](const Tensor& t, int axis, int to) {
    std::vector<int> perm;
    for (int d = 0; d < t.ndim(); ++d)
      if (d != axis) perm.push_back(d);
    perm.insert(perm.begin() + to, axis);
    return transpose(t, perm);
  };
  const Shape out = compute_output_shape_list({x.shape(), y.shape()});
  x = move_axis(x, a0, x.ndim() - 1);
  y = move_axis(y, a1, 1);
  const std::int64_t n = x.shape()[0], k = y.shape()[1];
  const std::int64_t p = x.numel() / (n * k), q = y.numel() / (n * k);
  Tensor prod = x.reshape({n, p, k, 1}) * y.reshape({n, 1, k, q});
  return sum(prod, {2}).reshape(out);
}

nlohmann::json DotLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  if (single_axis_) c["axes"] = axes_.first;
  else c["axes"] = {axes_.first, axes_.second};
  c["normalize"] = options_.normalize;
  return c;
}

Dot::Dot(int axes, DotOptions options)
    : LayerHandle(std::make_shared<DotLayer>(std::pair{axes, axes}, std::move(options), true)) {}

Dot::Dot(std::pair<int, int> axes, DotOptions options)
    : LayerHandle(std::make_shared<DotLayer>(axes, std::move(options))) {}

// --- from_config -------------------------------------------------------------------------------

namespace {
using json = nlohmann::json;

template <class Handle>
void register_plain(const char* class_name) {
  engine::register_layer_spec({
      .class_name = class_name,
      .factory = [](const json& c) -> std::shared_ptr<Layer> { return Handle(engine::name_of(c)).ptr(); },
      .honoured_keys = {},
  });
}

}  // namespace

void register_merge_layers() {
  register_plain<Add>("Add");
  register_plain<Subtract>("Subtract");
  register_plain<Multiply>("Multiply");
  register_plain<Average>("Average");
  register_plain<Maximum>("Maximum");
  register_plain<Minimum>("Minimum");
  engine::register_layer_spec({
      .class_name = "Concatenate",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return Concatenate(json_int<int>(c, "axis", -1), engine::name_of(c)).ptr();
      },
      .honoured_keys = {"axis"},
  });
  engine::register_layer_spec({
      .class_name = "Dot",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        const json& axes = c.at("axes");
        DotOptions o{.normalize = c.value("normalize", false), .name = engine::name_of(c)};
        if (axes.is_array()) return Dot(std::pair{json_int<int>(axes[0]), json_int<int>(axes[1])}, o).ptr();
        return Dot(json_int<int>(axes), o).ptr();
      },
      .honoured_keys = {"axes", "normalize"},
  });
}

}  // namespace lamina::layers
