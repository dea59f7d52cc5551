// SPDX-License-Identifier: Apache-2.0
// Attention (Luong) and AdditiveAttention (Bahdanau), and the masked softmax every attention
// layer shares (Keras's _apply_scores).
#include "lamina/layers/attention.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "attention_core.hpp"
#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"

namespace lamina::layers {

// --- the shared core ------------------------------------------------------------------------------

namespace attention_core {

Tensor keep_of(const Tensor& mask, DType dtype) {
  if (!mask.defined()) return Tensor();
  NoGradGuard no_grad;
  return (mask != 0.0).astype(dtype);
}

Tensor both(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  NoGradGuard no_grad;
  return a * b;
}

Tensor causal_keep(std::int64_t tq, std::int64_t tv, DType dtype, Device device) {
  std::vector<double> keep(static_cast<std::size_t>(tq * tv));
  for (std::int64_t i = 0; i < tq; ++i)
    for (std::int64_t j = 0; j < tv; ++j) keep[static_cast<std::size_t>(i * tv + j)] = j <= i ? 1.0 : 0.0;
  return Tensor::from_vector(keep, {tq, tv}).astype(dtype).to(device);
}

AttentionResult apply_scores(const Tensor& scores, const Tensor& value, const Tensor& keep,
                             double rate, bool training, bool scores_after_dropout) {
  // Keras: scores -= 1e9 * (1 - keep). 1e9 is exact in float32, so this is Keras's arithmetic.
  Tensor masked = keep.defined() ? scores + (keep - 1.0) * 1e9 : scores;
  Tensor weights = softmax(masked, -1);
  Tensor used = training && rate > 0 ? lamina::dropout(weights, rate) : weights;
  return {matmul(used, value), scores_after_dropout ? used : weights};
}

void check_step_mask(const std::string& who, const char* what, const Tensor& mask, const Shape& input) {
  if (!mask.defined()) return;
  if (input.rank() != 3 || mask.shape() != Shape{input[0], input[1]})
    throw ShapeError(who + ": " + what + " of shape " + mask.shape().str() +
                     " does not fit its input of shape " + input.str() +
                     " (a mask is (batch, steps) for an input (batch, steps, features))");
}

void check_dropout(const std::string& who, double rate) {
  if (!(rate >= 0.0 && rate < 1.0))
    throw ValueError(who + ": dropout must be in [0, 1), got " + std::to_string(rate));
}

}  // namespace attention_core

using namespace attention_core;

// --- AttentionBaseLayer ----------------------------------------------------------------------------

void AttentionBaseLayer::build(const Shape& input_shape) { compute_output_shape(input_shape); }

Shape AttentionBaseLayer::compute_output_shape(const Shape& input_shape) {
  fail_shape("must be called on a list [query, value] or [query, value, key], got one tensor of shape " +
             input_shape.str());
}

Tensor AttentionBaseLayer::call(const Tensor& x, bool) { compute_output_shape(x.shape()); return Tensor(); }

Tensor AttentionBaseLayer::call(const std::vector<Tensor>& inputs, bool training) {
  return call_masked(inputs, {}, training);
}

Tensor AttentionBaseLayer::compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>& masks) const {
  return masks.empty() ? Tensor() : masks[0];
}

namespace {
std::vector<Shape> list_shapes(const Tensor& query, const Tensor& value, const Tensor& key) {
  return symbolic_shapes(key.defined() ? std::vector<Tensor>{query, value, key} : std::vector<Tensor>{query, value});
}
}  // namespace

void AttentionBaseLayer::check_inputs(const Tensor& query, const Tensor& value, const Tensor& key) {
  compute_output_shape_list(list_shapes(query, value, key));
}

void AttentionBaseLayer::begin_call(const Tensor& query, const Tensor& value, const Tensor& key) {
  if (!built()) build_for_list(list_shapes(query, value, key));
  clear_losses();  // an outermost call, as Layer::operator()
}

// --- BaseDenseAttentionLayer ----------------------------------------------------------------------

BaseDenseAttentionLayer::BaseDenseAttentionLayer(const char* cls, bool use_scale, double dropout,
                                                 bool use_causal_mask, std::string name)
    : AttentionBaseLayer(std::move(name)), use_scale_(use_scale), dropout_(dropout), use_causal_mask_(use_causal_mask) {
  check_dropout(cls, dropout);
}

Shape BaseDenseAttentionLayer::compute_output_shape_list(const std::vector<Shape>& shapes) {
  auto fail = [&](const std::string& what) { fail_shape(what + ". Received shapes " + shapes_str(shapes)); };
  if (shapes.size() < 2 || shapes.size() > 3)
    fail("must be called on a list [query, value] or [query, value, key], got " +
         std::to_string(shapes.size()) + " tensors");
  const Shape& q = shapes[0];
  const Shape& v = shapes[1];
  const Shape& k = shapes.size() > 2 ? shapes[2] : v;
  if (q.rank() < 2 || q.rank() != v.rank() || q.rank() != k.rank())
    fail("query, value and key must have the same rank, 3 (batch, steps, features) or 2");
  if (q.back() <= 0 || v.back() <= 0) fail("the feature dimensions must be known");
  if (q.back() != k.back()) fail("query and key must have the same last dimension");
  const int r = q.rank();
  if (k[r - 2] != v[r - 2] && k[r - 2] >= 0 && v[r - 2] >= 0) fail("value and key must have the same number of steps");
  if (scale.defined() && scale.ndim() == 1 && scale.dim(0) != q.back())
    fail("expected query features " + std::to_string(scale.dim(0)) + " as built");
  Shape out = q;
  out.back() = v.back();
  return out;
}

void BaseDenseAttentionLayer::build_list(const std::vector<Shape>& shapes) {
  compute_output_shape_list(shapes);
  make_weights(shapes[0].back());
}

AttentionResult BaseDenseAttentionLayer::call_with_scores(const Tensor& query, const Tensor& value,
                                                         const AttentionCall& c) {
  begin_call(query, value, c.key);
  return attend(query, value, c);
}

AttentionResult BaseDenseAttentionLayer::attend(const Tensor& query, const Tensor& value,
                                                const AttentionCall& c) {
  check_inputs(query, value, c.key);
  check_step_mask(who(), "query_mask", c.query_mask, query.shape());
  check_step_mask(who(), "value_mask", c.value_mask, value.shape());

  const DType dt = scale.defined() ? scale.dtype() : is_floating(query.dtype()) ? query.dtype() : float32;
  auto as_dt = [&](const Tensor& x) { return x.dtype() == dt ? x : x.astype(dt); };
  const Tensor q = as_dt(query), v = as_dt(value), k = c.key.defined() ? as_dt(c.key) : v;
  const int r = q.ndim();
  Tensor keep;
  if (c.value_mask.defined()) keep = keep_of(c.value_mask, dt).reshape({v.dim(0), 1, v.dim(1)});
  if (c.use_causal_mask || use_causal_mask_) keep = both(keep, causal_keep(q.dim(r - 2), k.dim(r - 2), dt, q.device()));
  AttentionResult result = apply_scores(scores(q, k), v, keep, dropout_, c.training, true);
  if (c.query_mask.defined())
    result.output = result.output * keep_of(c.query_mask, dt).reshape({q.dim(0), q.dim(1), 1});
  return result;
}

Tensor BaseDenseAttentionLayer::call_masked(const std::vector<Tensor>& inputs,
                                            const std::vector<Tensor>& masks, bool training) {
  compute_output_shape_list(symbolic_shapes(inputs));
  AttentionCall c;
  if (inputs.size() > 2) c.key = inputs[2];
  if (masks.size() > 0) c.query_mask = masks[0];
  if (masks.size() > 1) c.value_mask = masks[1];
  c.training = training;
  return attend(inputs[0], inputs[1], c).output;
}

nlohmann::json BaseDenseAttentionLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["use_scale"] = use_scale_;
  c["dropout"] = dropout_;
  if (use_causal_mask_) c["causal"] = true;  // Keras 2's key; Keras 3 has it as a call argument
  return c;
}

// --- Attention ------------------------------------------------------------------------------------

AttentionLayer::AttentionLayer(AttentionOptions o)
    : BaseDenseAttentionLayer("Attention", o.use_scale, o.dropout, o.use_causal_mask, std::move(o.name)),
      score_mode_(o.score_mode) {
  apply_dtype_option(*this, o.dtype);
  if (score_mode_ != "dot" && score_mode_ != "concat")
    throw ValueError("Attention: score_mode must be \"dot\" or \"concat\", got \"" + score_mode_ + "\"");
}

void AttentionLayer::make_weights(std::int64_t) {
  if (use_scale()) scale = add_weight("scale", {}, initializers::Ones());
  if (score_mode_ == "concat") concat_score_weight = add_weight("concat_score_weight", {}, initializers::Ones());
}

namespace {
// query (..., Tq, d) + key (..., Tv, d) -> (..., Tq, Tv, d), every query step with every key step.
Tensor pairwise_sum(const Tensor& query, const Tensor& key) {
  Shape qs = query.shape(), ks = key.shape();
  qs.insert(qs.end() - 1, 1);
  ks.insert(ks.end() - 2, 1);
  return query.reshape(qs) + key.reshape(ks);
}
}  // namespace

Tensor AttentionLayer::scores(const Tensor& query, const Tensor& key) const {
  if (score_mode_ == "dot") {
    Tensor s = matmul(query, key, false, true);
    return scale.defined() ? s * scale : s;
  }
  Tensor sum = pairwise_sum(query, key);
  return concat_score_weight * tanh(scale.defined() ? scale * sum : sum).sum({-1});
}

nlohmann::json AttentionLayer::get_config() const {
  nlohmann::json c = BaseDenseAttentionLayer::get_config();
  c["score_mode"] = score_mode_;
  return c;
}

Attention::Attention(AttentionOptions options)
    : LayerHandle(std::make_shared<AttentionLayer>(std::move(options))) {}

// --- AdditiveAttention ----------------------------------------------------------------------------

AdditiveAttentionLayer::AdditiveAttentionLayer(AdditiveAttentionOptions o)
    : BaseDenseAttentionLayer("AdditiveAttention", o.use_scale, o.dropout, o.use_causal_mask, std::move(o.name)) {
  apply_dtype_option(*this, o.dtype);
}

void AdditiveAttentionLayer::make_weights(std::int64_t dim) {
  if (use_scale()) scale = add_weight("scale", {dim}, initializers::GlorotUniform());
}

Tensor AdditiveAttentionLayer::scores(const Tensor& query, const Tensor& key) const {
  Tensor t = tanh(pairwise_sum(query, key));
  return (scale.defined() ? t * scale : t).sum({-1});
}

AdditiveAttention::AdditiveAttention(AdditiveAttentionOptions options)
    : LayerHandle(std::make_shared<AdditiveAttentionLayer>(std::move(options))) {}

// --- from_config ----------------------------------------------------------------------------------

namespace {
using json = nlohmann::json;

// Keras 2 wrote `causal` into the config; lamina writes it when a layer is causal.
bool causal_of(const json& c) {
  for (const char* key : {"causal", "use_causal_mask"})
    if (c.contains(key) && c[key].is_boolean() && c[key].get<bool>()) return true;
  return false;
}

}  // namespace

void register_attention_layers() {
  engine::register_layer_spec({
      .class_name = "Attention",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return Attention({.use_scale = c.value("use_scale", false),
                          .score_mode = c.value("score_mode", std::string("dot")),
                          .dropout = c.value("dropout", 0.0),
                          .use_causal_mask = causal_of(c),
                          .name = engine::name_of(c)})
            .ptr();
      },
      .honoured_keys = {"use_scale", "score_mode", "dropout", "seed", "causal", "use_causal_mask"},
  });
  engine::register_layer_spec({
      .class_name = "AdditiveAttention",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return AdditiveAttention({.use_scale = c.value("use_scale", true),
                                  .dropout = c.value("dropout", 0.0),
                                  .use_causal_mask = causal_of(c),
                                  .name = engine::name_of(c)})
            .ptr();
      },
      .honoured_keys = {"use_scale", "dropout", "seed", "causal", "use_causal_mask"},
  });
}

}  // namespace lamina::layers
