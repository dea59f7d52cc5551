// SPDX-License-Identifier: Apache-2.0
// MultiHeadAttention: Keras's einsum projections and scaled dot-product attention over any
// attention axes, computed as batched GEMMs after moving the heads and the axes not attended
// over into the batch.
#include <algorithm>
#include <cmath>
#include "common/json_int.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "attention_core.hpp"
#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "lamina/layers/attention.hpp"
#include "lamina/ops.hpp"
#include "tensor/sizes.hpp"

namespace lamina::layers {

using namespace attention_core;

namespace {
std::string list_str(const std::vector<int>& v) {
  std::string out = "(";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + (v.size() == 1 ? ",)" : ")");
}

// NumPy broadcasting of `from` onto `to` (from may have fewer axes).
bool broadcasts(const Shape& from, const Shape& to) {
  if (from.rank() > to.rank()) return false;
  for (int i = 1; i <= from.rank(); ++i) {
    const std::int64_t f = from[from.rank() - i];
    if (f != 1 && f != to[to.rank() - i]) return false;
  }
  return true;
}
}  // namespace

MultiHeadAttentionLayer::MultiHeadAttentionLayer(std::int64_t num_heads, std::int64_t key_dim,
                                                 MultiHeadAttentionOptions o)
    : AttentionBaseLayer(o.name), num_heads_(num_heads), key_dim_(key_dim), options_(std::move(o)) {
  apply_dtype_option(*this, options_.dtype);
  const std::string who = "MultiHeadAttention";
  auto positive = [&](const char* what, std::int64_t n) {
    sizes::require_size(who, what, n);
  };
  positive("num_heads", num_heads);
  positive("key_dim", key_dim);
  if (options_.value_dim == 0) options_.value_dim = key_dim;
  positive("value_dim", options_.value_dim);
  for (std::int64_t d : options_.output_shape) positive("every output_shape entry", d);
  check_dropout(who, options_.dropout);
}

std::vector<int> MultiHeadAttentionLayer::attended_axes(int rank) const {
  std::vector<int> axes;
  if (options_.attention_axes.empty()) {
    for (int i = 1; i < rank - 1; ++i) axes.push_back(i);
    return axes;
  }
  for (int a : options_.attention_axes) {
    const int axis = a < 0 ? a + rank : a;  // Keras: (projected rank - 1) + a
    if (axis < 1 || axis > rank - 2 || std::count(axes.begin(), axes.end(), axis))
      fail_shape("attention_axes " + list_str(options_.attention_axes) + " must name distinct axes between the "
                 "batch and the features of a query of rank " + std::to_string(rank));
    axes.push_back(axis);
  }
  return axes;
}

Shape MultiHeadAttentionLayer::compute_output_shape_list(const std::vector<Shape>& shapes) {
  auto fail = [&](const std::string& what) { fail_shape(what + ". Received shapes " + shapes_str(shapes)); };
  if (shapes.size() < 2 || shapes.size() > 3)
    fail("must be called on a list [query, value] or [query, value, key], got " +
         std::to_string(shapes.size()) + " tensors");
  const Shape& q = shapes[0];
  const Shape& v = shapes[1];
  const Shape& k = shapes.size() > 2 ? shapes[2] : v;
  const int rank = q.rank();
  if (rank < 3) fail("the query must have at least 3 dimensions (batch, steps, features)");
  if (v.rank() != rank || k.rank() != rank) fail("query, value and key must have the same rank");
  auto differ = [](std::int64_t a, std::int64_t b) { return a >= 0 && b >= 0 && a != b; };
  for (int i = 1; i < rank - 1; ++i)
    if (differ(v[i], k[i])) fail("value and key must agree on every axis but the last");
  const std::vector<int> axes = attended_axes(rank);
  for (int i = 1; i < rank - 1; ++i)
    if (std::find(axes.begin(), axes.end(), i) == axes.end() && differ(q[i], v[i]))
      fail("query and value must agree on axis " + std::to_string(i) + ", which is not attended over");
  if (q.back() <= 0 || v.back() <= 0 || k.back() <= 0) fail("the feature dimensions must be known");
  if (query_kernel.defined()) {
    const std::int64_t want[] = {query_kernel.dim(0), value_kernel.dim(0), key_kernel.dim(0)};
    const std::int64_t got[] = {q.back(), v.back(), k.back()};
    const char* names[] = {"query", "value", "key"};
    for (int i = 0; i < 3; ++i)
      if (want[i] != got[i])
        fail("expected " + std::string(names[i]) + " features " + std::to_string(want[i]) + " as built, got " +
             std::to_string(got[i]));
  }
  Shape out(q.begin(), q.end() - 1);
  if (options_.output_shape.empty()) out.push_back(q.back());
  out.insert(out.end(), options_.output_shape.begin(), options_.output_shape.end());
  return out;
}

std::vector<Layer::Keras3Group> MultiHeadAttentionLayer::keras3_layout() const {
  std::vector<Keras3Group> groups{{"vars", name()}};
  const std::vector<Weight> all = own_variables();  // "query/kernel", "query/bias", ...
  for (const auto& [attribute, scope] : {std::pair{"query_dense", "query"}, {"key_dense", "key"},
                                         {"value_dense", "value"}, {"output_dense", "attention_output"}}) {
    Keras3Group g{std::string(attribute) + "/vars", scope};
    for (const Weight& w : all)
      if (w.name.rfind(std::string(scope) + "/", 0) == 0) g.variables.push_back(w);
    groups.push_back(std::move(g));
  }
  return groups;
}

void MultiHeadAttentionLayer::build_list(const std::vector<Shape>& shapes) {
  compute_output_shape_list(shapes);
  const auto& o = options_;
  const std::int64_t dq = shapes[0].back(), dv = shapes[1].back(), dk = (shapes.size() > 2 ? shapes[2] : shapes[1]).back();
  auto kernel = [&](const char* name, const Shape& s) {
    return add_weight(name, s, o.kernel_initializer, true, float32, o.kernel_regularizer, o.kernel_constraint);
  };
  auto bias = [&](const char* name, const Shape& s) {
    return o.use_bias ? add_weight(name, s, o.bias_initializer, true, float32, o.bias_regularizer, o.bias_constraint)
                      : Tensor();
  };
  // Keras's order (query, key, value, attention_output sublayers) and names.
  query_kernel = kernel("query/kernel", {dq, num_heads_, key_dim_});
  query_bias = bias("query/bias", {num_heads_, key_dim_});
  key_kernel = kernel("key/kernel", {dk, num_heads_, key_dim_});
  key_bias = bias("key/bias", {num_heads_, key_dim_});
  value_kernel = kernel("value/kernel", {dv, num_heads_, o.value_dim});
  value_bias = bias("value/bias", {num_heads_, o.value_dim});
  const Shape out = o.output_shape.empty() ? Shape{dq} : Shape(o.output_shape);
  Shape out_kernel{num_heads_, o.value_dim};
  out_kernel.insert(out_kernel.end(), out.begin(), out.end());
  output_kernel = kernel("attention_output/kernel", out_kernel);
  output_bias = bias("attention_output/bias", out);
}

Tensor MultiHeadAttentionLayer::project(const Tensor& x, const Tensor& kernel, const Tensor& bias, int bound_dims) {
  const Shape& ks = kernel.shape();
  std::int64_t in = 1;
  for (int i = 0; i < bound_dims; ++i) in *= ks[i];
  Shape rows(x.shape().begin(), x.shape().end() - bound_dims), out = rows;
  rows.push_back(in);
  out.insert(out.end(), ks.begin() + bound_dims, ks.end());
  Tensor y = dense(x.reshape(rows), kernel.reshape({in, kernel.numel() / in}),
                   bias.defined() ? bias.reshape({-1}) : Tensor());
  return regularize_activity(y.reshape(out), options_.activity_regularizer);
}

AttentionResult MultiHeadAttentionLayer::call_with_scores(const Tensor& query, const Tensor& value,
                                                          const MultiHeadAttentionCall& c) {
  begin_call(query, value, c.key);
  return attend(query, value, c);
}

AttentionResult MultiHeadAttentionLayer::attend(const Tensor& query, const Tensor& value,
                                                const MultiHeadAttentionCall& c) {
  check_inputs(query, value, c.key);
  const std::string who = this->who();
  const DType dt = query_kernel.dtype();
  auto as_dt = [&](const Tensor& x) { return x.dtype() == dt ? x : x.astype(dt); };
  const Tensor q = as_dt(query), v = as_dt(value), k = c.key.defined() ? as_dt(c.key) : v;
  const int rank = q.ndim();
  const std::vector<int> axes = attended_axes(rank);
  std::vector<int> others;
  for (int i = 1; i < rank - 1; ++i)
    if (std::find(axes.begin(), axes.end(), i) == axes.end()) others.push_back(i);

  // The mask over (batch, other axes..., query attended axes..., key attended axes...): Keras's
  // _compute_attention_mask, the AND of query [B, T, 1], value and key [B, 1, S], causal [T, S]
  // and attention_mask.
  Shape mask_shape{q.dim(0)};
  for (int i : others) mask_shape.push_back(q.dim(i));
  for (int i : axes) mask_shape.push_back(q.dim(i));
  for (int i : axes) mask_shape.push_back(k.dim(i));
  Tensor keep;
  if ((c.query_mask.defined() || c.value_mask.defined() || c.key_mask.defined()) && rank != 3)
    throw ShapeError(who + ": query_mask, value_mask and key_mask need inputs (batch, steps, features), got query " +
                     q.shape().str());
  check_step_mask(who, "query_mask", c.query_mask, q.shape());
  check_step_mask(who, "value_mask", c.value_mask, v.shape());
  check_step_mask(who, "key_mask", c.key_mask, k.shape());
  if (c.query_mask.defined()) keep = keep_of(c.query_mask, dt).reshape({q.dim(0), q.dim(1), 1});
  if (c.value_mask.defined()) keep = both(keep, keep_of(c.value_mask, dt).reshape({v.dim(0), 1, v.dim(1)}));
  if (c.key_mask.defined()) keep = both(keep, keep_of(c.key_mask, dt).reshape({k.dim(0), 1, k.dim(1)}));
  if (c.use_causal_mask || options_.use_causal_mask) {
    if (axes.size() != 1)
      throw ValueError(who + ": use_causal_mask needs a single attention axis, got attention_axes " + list_str(axes));
    keep = both(keep, causal_keep(q.dim(axes[0]), k.dim(axes[0]), dt, q.device()));
  }
  if (c.attention_mask.defined()) {
    if (!broadcasts(c.attention_mask.shape(), mask_shape))
      throw ShapeError(who + ": attention_mask of shape " + c.attention_mask.shape().str() +
                       " does not broadcast to (batch, <query steps>, <key steps>) = " + mask_shape.str());
    keep = both(keep, keep_of(c.attention_mask, dt));
  }

  // Heads and the axes not attended over join the batch: (M, T, key_dim) · (M, S, key_dim)ᵀ.
  std::vector<int> perm{0};
  perm.insert(perm.end(), others.begin(), others.end());
  perm.push_back(rank - 1);
  perm.insert(perm.end(), axes.begin(), axes.end());
  perm.push_back(rank);
  auto batched = [&](const Tensor& x) {
    std::int64_t steps = 1;
    for (int i : axes) steps *= x.dim(i);
    return transpose(x, perm).reshape({-1, steps, x.dim(-1)});
  };
  const Tensor qh = batched(project(q, query_kernel, query_bias, 1) * (1.0 / std::sqrt(double(key_dim_))));
  const Tensor kh = batched(project(k, key_kernel, key_bias, 1));
  const Tensor vh = batched(project(v, value_kernel, value_bias, 1));

  Shape scores_shape(mask_shape.begin(), mask_shape.begin() + 1 + static_cast<long>(others.size()));
  scores_shape.push_back(num_heads_);
  scores_shape.insert(scores_shape.end(), mask_shape.begin() + 1 + static_cast<long>(others.size()), mask_shape.end());
  if (keep.defined()) {
    Shape one_head = scores_shape;
    one_head[others.size() + 1] = 1;
    keep = broadcast_to(broadcast_to(keep, mask_shape).reshape(one_head), scores_shape)
               .reshape({qh.dim(0), qh.dim(1), kh.dim(1)});
  }
  AttentionResult r = apply_scores(matmul(qh, kh, false, true), vh, keep, options_.dropout, c.training, false);

  // Back to the query's layout (batch, axes..., heads, value_dim), then the output projection.
  Shape heads_layout(scores_shape.begin(), scores_shape.begin() + 2 + static_cast<long>(others.size() + axes.size()));
  heads_layout.push_back(options_.value_dim);
  std::vector<int> inverse(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inverse[static_cast<std::size_t>(perm[i])] = static_cast<int>(i);
  Tensor att = transpose(r.output.reshape(heads_layout), inverse);
  return {project(att, output_kernel, output_bias, 2), r.scores.reshape(scores_shape)};
}

Tensor MultiHeadAttentionLayer::call_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                            bool training) {
  compute_output_shape_list(symbolic_shapes(inputs));
  MultiHeadAttentionCall c;
  if (inputs.size() > 2) c.key = inputs[2];
  if (masks.size() > 0) c.query_mask = masks[0];
  if (masks.size() > 1) c.value_mask = masks[1];
  if (masks.size() > 2) c.key_mask = masks[2];
  c.training = training;
  return attend(inputs[0], inputs[1], c).output;
}

nlohmann::json MultiHeadAttentionLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  const auto& o = options_;
  c["num_heads"] = num_heads_;
  c["key_dim"] = key_dim_;
  c["value_dim"] = o.value_dim;
  c["dropout"] = o.dropout;
  c["use_bias"] = o.use_bias;
  c["output_shape"] = o.output_shape.empty() ? nlohmann::json() : nlohmann::json(o.output_shape);
  c["attention_axes"] = o.attention_axes.empty() ? nlohmann::json() : nlohmann::json(o.attention_axes);
  c["kernel_initializer"] = engine::initializer_config(o.kernel_initializer);
  c["bias_initializer"] = engine::initializer_config(o.bias_initializer);
  KernelBiasRegularization{o.kernel_regularizer, o.bias_regularizer, o.activity_regularizer,
                           o.kernel_constraint, o.bias_constraint}
      .to_config(c);
  if (!c.contains("activity_regularizer")) c["activity_regularizer"] = nullptr;  // Keras writes it
  c["seed"] = nullptr;
  if (o.use_causal_mask) c["use_causal_mask"] = true;  // a call argument in Keras: see the header
  return c;
}

MultiHeadAttention::MultiHeadAttention(std::int64_t num_heads, std::int64_t key_dim, MultiHeadAttentionOptions options)
    : LayerHandle(std::make_shared<MultiHeadAttentionLayer>(num_heads, key_dim, std::move(options))) {}

namespace {
using json = nlohmann::json;

// A Keras `int or tuple` (output_shape, attention_axes): null or absent gives none.
std::vector<std::int64_t> ints_of(const json& c, const char* key) {
  if (!c.contains(key) || c[key].is_null()) return {};
  if (c[key].is_number_integer()) return {json_int<std::int64_t>(c[key])};
  return json_ints<std::int64_t>(c[key], key);
}

}  // namespace

void register_multi_head_attention_layers() {
  engine::register_layer_spec({
      .class_name = "MultiHeadAttention",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        const auto r = KernelBiasRegularization::from_config(c);
        MultiHeadAttentionOptions o;
        if (c.contains("value_dim") && c["value_dim"].is_number_integer())
          o.value_dim = json_int<std::int64_t>(c["value_dim"], "value_dim");
        o.dropout = c.value("dropout", 0.0);
        o.use_bias = c.value("use_bias", true);
        o.output_shape = ints_of(c, "output_shape");
        for (std::int64_t a : ints_of(c, "attention_axes")) o.attention_axes.push_back(static_cast<int>(a));
        o.use_causal_mask = c.contains("use_causal_mask") && c["use_causal_mask"].is_boolean() &&
                            c["use_causal_mask"].get<bool>();
        o.kernel_initializer = engine::initializer_of(c, "kernel_initializer", "glorot_uniform");
        o.bias_initializer = engine::initializer_of(c, "bias_initializer", "zeros");
        o.kernel_regularizer = r.kernel_regularizer;
        o.bias_regularizer = r.bias_regularizer;
        o.activity_regularizer = r.activity_regularizer;
        o.kernel_constraint = r.kernel_constraint;
        o.bias_constraint = r.bias_constraint;
        o.name = engine::name_of(c);
        return MultiHeadAttention(json_int<std::int64_t>(c.at("num_heads"), "num_heads"), json_int<std::int64_t>(c.at("key_dim"), "key_dim"),
                                  std::move(o))
            .ptr();
      },
      .honoured_keys = keys::join({keys::kernel_bias(), {"num_heads", "key_dim", "value_dim", "dropout", "use_bias",
                                                         "output_shape", "attention_axes", "kernel_initializer",
                                                         "bias_initializer", "seed", "query_shape", "key_shape",
                                                         "value_shape", "use_causal_mask"}}),
      .key_rules = {{"use_gate", {false}, "gated attention is not implemented"},
                    {"sliding_window", {nullptr}, "sliding-window attention is not implemented"},
                    {"softmax_robust_masking", {false}, "robust masking is not implemented"}},
      .positional_inputs = {"query", "value", "key"},
  });
}

}  // namespace lamina::layers
