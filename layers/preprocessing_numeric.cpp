// SPDX-License-Identifier: Apache-2.0
// The numeric preprocessing layers: Normalization (with adapt), Rescaling, Discretization,
// CategoryEncoding, IntegerLookup and Hashing, each an op expression that reproduces Keras 3's
// algorithm (keras/src/layers/preprocessing/*.py): digitize, bincount-style encodings, the index
// layout of IndexLookup, and TensorFlow's hashes of integers' decimal text.
#include "common/json_int.hpp"
#include "lamina/layers/preprocessing.hpp"
#include "catalogue.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"

namespace lamina::layers {

namespace {

using json = nlohmann::json;

// --- Keras's categorical encodings (keras/src/utils/numerical_utils.py) -----------------------

bool is_mode(const std::string& m) { return m == "int" || m == "one_hot" || m == "multi_hot" || m == "count"; }

void check_mode(const std::string& who, const std::string& mode, bool allow_int) {
  if (!is_mode(mode) || (!allow_int && mode == "int"))
    throw ValueError(who + ": output_mode must be " + (allow_int ? "\"int\", " : "") +
                     "\"one_hot\", \"multi_hot\" or \"count\", got \"" + mode + "\"");
}

// The output shape of encode() for inputs of `s` (batch -1).
Shape encoded_shape(const Shape& s, const std::string& mode, std::int64_t depth, const std::function<void(const std::string&)>& fail) {
  if (mode == "int") return s;
  if (s.rank() == 0) return Shape{depth};
  Shape out = s;
  if (mode == "one_hot") {
    if (s.rank() > 1 && s.back() == 1) out.back() = depth;
    else out.push_back(depth);
    return out;
  }
  if (s.rank() > 2)
    fail(mode + " output takes inputs of rank 1 or 2 (TensorFlow's bincount), got " + s.str());
  if (s.rank() == 1) return Shape{depth};
  return Shape{s[0], depth};
}

// Indices (int64) encoded as `mode` over `depth` classes: Keras's encode_categorical_inputs. An
// index outside [0, depth) counts nowhere; multi_hot and count refuse negative ones (TensorFlow's
// bincount does).
Tensor encode(const Tensor& idx, const std::string& mode, std::int64_t depth, DType int_dtype, DType float_dtype,
              const std::string& who) {
  if (mode == "int") return idx.astype(int_dtype);
  Tensor x = idx.ndim() == 0 ? idx.reshape({1}) : idx;
  if (mode == "one_hot" && x.ndim() > 1 && x.dim(-1) == 1) {
    Shape s = x.shape();
    s.pop_back();
    x = x.reshape(s);
  }
  if (mode != "one_hot") {
    if (x.ndim() > 2) throw ValueError(who + ": " + mode + " output takes inputs of rank 1 or 2, got " + x.shape().str());
    if (x.numel() > 0 && min(x).item() < 0)
      throw ValueError(who + ": " + mode + " output needs non-negative indices, got " + std::to_string(min(x).item()));
  }
  Shape with_axis = x.shape();
  with_axis.push_back(1);
  const Tensor classes = Tensor::arange(depth, int64).to(x.device());
  Tensor hot = (x.reshape(with_axis) == classes).astype(float_dtype);
  if (mode == "one_hot") return hot;
  const int axis = x.ndim() > 1 ? 1 : 0;
  return mode == "count" ? sum(hot, {axis}) : max(hot, {axis});
}

// A (nested) JSON list of numbers, or a number, as a float64 tensor.
Tensor tensor_of_json(const json& v, const std::string& what) {
  std::vector<double> flat;
  Shape shape;
  std::function<void(const json&, std::size_t)> walk = [&](const json& e, std::size_t depth) {
    if (e.is_array()) {
      if (depth == shape.size()) shape.push_back(static_cast<std::int64_t>(e.size()));
      else if (shape[depth] != static_cast<std::int64_t>(e.size())) throw ValueError(what + " is not a rectangular array: " + v.dump());
      for (const json& x : e) walk(x, depth + 1);
    } else if (e.is_number()) {
      flat.push_back(e.get<double>());
    } else {
      throw ValueError(what + " must hold numbers, got " + v.dump());
    }
  };
  walk(v, 0);
  return Tensor::from_vector(flat, shape);
}

// The inverse: a number for a 0-d tensor, nested lists otherwise (NumPy's tolist()).
json json_of_tensor(const Tensor& t) {
  const std::vector<double> v = t.to_vector<double>();
  const Shape& s = t.shape();
  std::size_t at = 0;
  std::function<json(int)> build = [&](int axis) -> json {
    if (axis == s.rank()) return v[at++];
    json a = json::array();
    for (std::int64_t i = 0; i < s[axis]; ++i) a.push_back(build(axis + 1));
    return a;
  };
  return build(0);
}

std::string join_ints(const std::vector<std::int64_t>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s;
}

}  // namespace

// --- Normalization -------------------------------------------------------------------------------

NormalizationLayer::NormalizationLayer(NormalizationOptions options)
    : Layer(std::move(options.name)), options_(std::move(options)) {
  apply_dtype_option(*this, options_.dtype);
  if (options_.mean.defined() != options_.variance.defined())
    throw ValueError("Normalization: mean and variance must be given together");
  if (options_.mean.defined()) {
    if (options_.mean.shape() != options_.variance.shape())
      throw ValueError("Normalization: mean " + options_.mean.shape().str() + " and variance " +
                       options_.variance.shape().str() + " must have the same shape");
    if (options_.mean.ndim() > static_cast<int>(options_.axis.size()))
      throw ValueError("Normalization: mean of shape " + options_.mean.shape().str() + " has more axes than axis (" +
                       std::to_string(options_.axis.size()) + ")");
  }
}

void NormalizationLayer::build(const Shape& input_shape) {
  const int ndim = input_shape.rank();
  keep_.clear();
  for (int a : options_.axis) {
    if (a < -ndim || a >= ndim)
      fail_shape("axis " + std::to_string(a) + " is outside the input's " + std::to_string(ndim) + " axes " +
                 input_shape.str());
    keep_.push_back(a < 0 ? a + ndim : a);
  }
  std::sort(keep_.begin(), keep_.end());
  keep_.erase(std::unique(keep_.begin(), keep_.end()), keep_.end());
  Shape kept;
  broadcast_ = Shape(static_cast<std::size_t>(ndim), 1);
  for (int d : keep_) {
    if (input_shape[d] < 0) fail_shape("kept axis " + std::to_string(d) + " must have a known size, got " + input_shape.str());
    broadcast_[d] = input_shape[d];
    kept.push_back(input_shape[d]);
  }
  if (options_.mean.defined()) {
    // Fixed statistics: aligned with the last kept axes, then broadcast (Keras's build).
    Shape expanded(static_cast<std::size_t>(ndim), 1);
    const Shape& ms = options_.mean.shape();
    for (int i = 1; i <= ms.rank(); ++i) expanded[keep_[keep_.size() - i]] = ms[ms.size() - i];
    auto fixed = [&](const Tensor& t) {
      try {
        return broadcast_to(t.astype(float32).reshape(expanded), broadcast_).clone();
      } catch (const Error& e) {
        fail_shape("mean/variance of shape " + ms.str() + " do not broadcast to the kept axes " + kept.str());
      }
    };
    mean_ = fixed(options_.mean);
    variance_ = fixed(options_.variance);
    return;
  }
  mean_ = add_weight("mean", kept, "zeros", false);
  variance_ = add_weight("variance", kept, "ones", false);
  count_ = add_weight("count", Shape{}, "zeros", false, int64);
}

Tensor NormalizationLayer::call(const Tensor& x, bool) {
  const DType dt = is_floating(x.dtype()) ? x.dtype() : dtype_policy().compute_dtype();
  const Tensor in = x.astype(dt);
  const Tensor mean = mean_.reshape(broadcast_).astype(dt);
  const Tensor scale = maximum(sqrt(variance_.reshape(broadcast_).astype(dt)), Tensor::scalar(1e-7, dt));
  return options_.invert ? mean + in * scale : (in - mean) / scale;
}

void NormalizationLayer::check_kept_axes(const Shape& shape) const {
  for (int d : keep_)
    if (d >= shape.rank() || shape[d] != input_shape()[d])
      throw ValueError("Normalization '" + name() + "' was built for inputs " + input_shape().str() +
                       ", but adapt() got data of shape " + shape.str());
}

namespace {
// The axes of a rank-n tensor that are not kept.
std::vector<int> reduced_axes(int n, const std::vector<int>& keep) {
  std::vector<int> r;
  for (int d = 0; d < n; ++d)
    if (std::find(keep.begin(), keep.end(), d) == keep.end()) r.push_back(d);
  return r;
}
}  // namespace

void NormalizationLayer::adapt(const Tensor& data) {
  if (options_.mean.defined())
    throw ValueError("Normalization '" + name() + "': adapt() on a layer given mean and variance");
  if (!built()) build_for(data.shape());
  check_kept_axes(data.shape());
  const std::vector<int> axes = reduced_axes(data.ndim(), keep_);
  const Tensor x = data.detach().astype(float64);
  // mean(axes={}) reduces everything: with no axis to reduce the statistics are the data itself.
  const Tensor m = axes.empty() ? x : mean(x, axes);
  const Tensor v = axes.empty() ? Tensor::zeros(x.shape(), float64) : mean(square(x - mean(x, axes, true)), axes);
  NoGradGuard no_grad;
  mean_.assign(m.reshape(mean_.shape()));
  variance_.assign(v.reshape(variance_.shape()));
}

void NormalizationLayer::adapt(BatchSource& batches) {
  if (options_.mean.defined())
    throw ValueError("Normalization '" + name() + "': adapt() on a layer given mean and variance");
  batches.reset();
  Tensor total_mean, total_var;
  std::int64_t total_count = 0;
  while (auto batch = batches.next()) {
    if (batch->tensors().empty()) continue;
    const Tensor x = batch->tensors()[0].detach().to(Device::cpu()).astype(float64);
    if (!built()) {
      Shape s = x.shape();
      build_for(s);
    }
    check_kept_axes(x.shape());
    const std::vector<int> axes = reduced_axes(x.ndim(), keep_);
    const Tensor bm = axes.empty() ? x : mean(x, axes);
    const Tensor bv = axes.empty() ? Tensor::zeros(x.shape(), float64) : mean(square(x - mean(x, axes, true)), axes);
    std::int64_t count = 1;
    for (int d : axes) count *= x.dim(d);
    if (count == 0) continue;
    // Keras's running merge of batch statistics (Chan et al.'s parallel variance).
    total_count += count;
    const double w = static_cast<double>(count) / static_cast<double>(total_count), keep = 1.0 - w;
    if (!total_mean.defined()) {
      total_mean = Tensor::zeros(bm.shape(), float64);
      total_var = Tensor::zeros(bm.shape(), float64);
    }
    const Tensor new_mean = total_mean * keep + bm * w;
    total_var = (total_var + square(total_mean - new_mean)) * keep + (bv + square(bm - new_mean)) * w;
    total_mean = new_mean;
  }
  if (!total_mean.defined())
    throw ValueError("Normalization '" + name() + "': adapt() received no batches");
  NoGradGuard no_grad;
  mean_.assign(total_mean.reshape(mean_.shape()));
  variance_.assign(total_var.reshape(variance_.shape()));
}

json NormalizationLayer::get_config() const {
  json c = Layer::get_config();
  c["axis"] = options_.axis;
  c["invert"] = options_.invert;
  c["mean"] = options_.mean.defined() ? json_of_tensor(options_.mean) : json(nullptr);
  c["variance"] = options_.variance.defined() ? json_of_tensor(options_.variance) : json(nullptr);
  return c;
}

Normalization::Normalization(NormalizationOptions options)
    : LayerHandle(std::make_shared<NormalizationLayer>(std::move(options))) {}

// --- Rescaling -----------------------------------------------------------------------------------

RescalingLayer::RescalingLayer(std::vector<double> scale, std::vector<double> offset, bool scale_is_list,
                               bool offset_is_list, std::string name)
    : Layer(std::move(name)),
      scale_(std::move(scale)),
      offset_(std::move(offset)),
      scale_list_(scale_is_list),
      offset_list_(offset_is_list) {
  if (scale_.empty() || offset_.empty()) throw ValueError("Rescaling: scale and offset need at least one value");
}

Tensor RescalingLayer::call(const Tensor& x, bool) {
  const DType dt = is_floating(x.dtype()) ? x.dtype() : dtype_policy().compute_dtype();
  auto value = [&](const std::vector<double>& v, bool list) {
    Tensor t = Tensor::from_vector(v, list ? Shape{static_cast<std::int64_t>(v.size())} : Shape{}).astype(dt);
    return t.to(x.device());
  };
  return x.astype(dt) * value(scale_, scale_list_) + value(offset_, offset_list_);
}

json RescalingLayer::get_config() const {
  json c = Layer::get_config();
  c["scale"] = scale_list_ ? json(scale_) : json(scale_[0]);
  c["offset"] = offset_list_ ? json(offset_) : json(offset_[0]);
  return c;
}

Rescaling::Rescaling(double scale, double offset, Name name)
    : LayerHandle(std::make_shared<RescalingLayer>(std::vector<double>{scale}, std::vector<double>{offset}, false,
                                                   false, std::move(name))) {}
Rescaling::Rescaling(std::vector<double> scale, std::vector<double> offset, Name name)
    : LayerHandle(std::make_shared<RescalingLayer>(std::move(scale), std::move(offset), true, true, std::move(name))) {}

// --- the categorical layers' common parts -----------------------------------------------------------

CategoricalLayer::CategoricalLayer(const std::string& cls, std::string output_mode, bool allow_int, std::string name)
    : Layer(std::move(name)), output_mode_(std::move(output_mode)) {
  if (output_mode_ == "binary") output_mode_ = "multi_hot";  // Keras's old name
  check_mode(cls, output_mode_, allow_int);
}

Shape CategoricalLayer::compute_output_shape(const Shape& s) {
  return encoded_shape(s, output_mode_, depth(), [this](const std::string& w) { fail_shape(w); });
}

Tensor CategoricalLayer::encode(const Tensor& indices, DType int_dtype) const {
  return layers::encode(indices, output_mode_, depth(), int_dtype, float32, class_name() + " '" + name() + "'");
}

// --- Discretization --------------------------------------------------------------------------------

DiscretizationLayer::DiscretizationLayer(std::vector<double> bin_boundaries, DiscretizationOptions options)
    : CategoricalLayer("Discretization", std::move(options.output_mode), true, std::move(options.name)),
      boundaries_(std::move(bin_boundaries)) {
  if (!std::is_sorted(boundaries_.begin(), boundaries_.end()))
    throw ValueError("Discretization: bin_boundaries must be sorted ascending");
}

void DiscretizationLayer::set_adapt_settings(std::optional<std::int64_t> num_bins, double epsilon) {
  num_bins_ = num_bins;
  epsilon_ = epsilon;
}

Tensor DiscretizationLayer::call(const Tensor& x, bool) {
  // TensorFlow's Bucketize compares with float32 boundaries (integers as floats).
  const Tensor values = is_floating(x.dtype()) ? x.detach() : x.detach().astype(float32);
  std::vector<float> bounds(boundaries_.begin(), boundaries_.end());
  return encode(search_sorted(Tensor::from_vector(bounds, {static_cast<std::int64_t>(bounds.size())}), values, true),
                int_dtype_);
}

json DiscretizationLayer::get_config() const {
  json c = Layer::get_config();
  c.erase("trainable");  // Keras 3's Discretization takes no `trainable` argument and refuses one
  if (output_mode_ == "int") c["dtype"] = dtype_name(int_dtype_);
  c["bin_boundaries"] = boundaries_;
  c["num_bins"] = num_bins_ ? json(*num_bins_) : json(nullptr);
  c["epsilon"] = epsilon_;
  c["output_mode"] = output_mode_;
  c["sparse"] = false;
  return c;
}

Discretization::Discretization(std::vector<double> bin_boundaries, DiscretizationOptions options)
    : LayerHandle(std::make_shared<DiscretizationLayer>(std::move(bin_boundaries), std::move(options))) {}

// --- CategoryEncoding ----------------------------------------------------------------------------

CategoryEncodingLayer::CategoryEncodingLayer(std::int64_t num_tokens, CategoryEncodingOptions options)
    : CategoricalLayer("CategoryEncoding", std::move(options.output_mode), false, std::move(options.name)),
      num_tokens_(num_tokens) {
  if (num_tokens < 1) throw ValueError("CategoryEncoding: num_tokens must be >= 1, got " + std::to_string(num_tokens));
}

Tensor CategoryEncodingLayer::call(const Tensor& x, bool) {
  if (is_floating(x.dtype()) && x.numel() > 0 && !allclose(x, x.astype(int64).astype(x.dtype()), 0, 0))
    throw ValueError("CategoryEncoding '" + name() + "': takes integer indices, got non-integral " +
                     dtype_name(x.dtype()) + " values");
  return encode(x.detach().astype(int64), int64);
}

json CategoryEncodingLayer::get_config() const {
  json c = Layer::get_config();
  c["num_tokens"] = num_tokens_;
  c["output_mode"] = output_mode_;
  c["sparse"] = false;
  return c;
}

CategoryEncoding::CategoryEncoding(std::int64_t num_tokens, CategoryEncodingOptions options)
    : LayerHandle(std::make_shared<CategoryEncodingLayer>(num_tokens, std::move(options))) {}

// --- IntegerLookup -----------------------------------------------------------------------------------

IntegerLookupLayer::IntegerLookupLayer(std::vector<std::int64_t> vocabulary, IntegerLookupOptions options)
    : CategoricalLayer("IntegerLookup", options.output_mode, true, std::move(options.name)), options_(std::move(options)) {
  const std::string who = "IntegerLookup";
  IntegerLookupOptions& o = options_;
  o.output_mode = output_mode_;
  if (o.num_oov_indices < 0) throw ValueError(who + ": num_oov_indices must be >= 0, got " + std::to_string(o.num_oov_indices));
  if (o.max_tokens && *o.max_tokens <= 1) throw ValueError(who + ": max_tokens must be > 1, got " + std::to_string(*o.max_tokens));
  if (o.pad_to_max_tokens && !o.max_tokens) throw ValueError(who + ": pad_to_max_tokens needs max_tokens");
  if (o.invert && o.output_mode != "int") throw ValueError(who + ": invert needs output_mode \"int\", got \"" + o.output_mode + "\"");
  if (o.oov_method != "floormod" && o.oov_method != "farmhash")
    throw ValueError(who + ": oov_method must be \"floormod\" or \"farmhash\", got \"" + o.oov_method + "\"");
  if (o.salt && o.oov_method != "farmhash") throw ValueError(who + ": salt needs oov_method=\"farmhash\"");
  if (vocabulary.empty()) throw ValueError(who + ": the vocabulary is empty (lamina does not adapt IntegerLookup)");
  // Keras's set_vocabulary: the special tokens may lead the list, in their order.
  std::vector<std::int64_t> special(static_cast<std::size_t>(oov_start()), o.mask_token.value_or(0));
  special.insert(special.end(), static_cast<std::size_t>(o.num_oov_indices), o.oov_token);
  if (vocabulary.size() >= special.size() && std::equal(special.begin(), special.end(), vocabulary.begin()))
    vocabulary.erase(vocabulary.begin(), vocabulary.begin() + static_cast<std::ptrdiff_t>(special.size()));
  std::set<std::int64_t> seen;
  std::vector<std::int64_t> repeated;
  for (std::int64_t v : vocabulary)
    if (!seen.insert(v).second) repeated.push_back(v);
  if (!repeated.empty()) throw ValueError(who + ": the vocabulary repeats " + join_ints(repeated));
  if (o.mask_token && seen.count(*o.mask_token))
    throw ValueError(who + ": the mask token " + std::to_string(*o.mask_token) +
                     " is in the vocabulary (only as a leading special token)");
  if (o.invert && seen.count(o.oov_token))
    throw ValueError(who + ": the OOV token " + std::to_string(o.oov_token) + " is in the vocabulary of an inverted lookup");
  vocabulary_ = std::move(vocabulary);
  if (o.max_tokens && vocabulary_size() > *o.max_tokens)
    throw ValueError(who + ": a vocabulary of " + std::to_string(vocabulary_size()) + " indices exceeds max_tokens " +
                     std::to_string(*o.max_tokens));
  std::vector<std::int64_t> order(vocabulary_.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return vocabulary_[a] < vocabulary_[b]; });
  std::vector<std::int64_t> keys, index;
  for (std::int64_t i : order) {
    keys.push_back(vocabulary_[i]);
    index.push_back(token_start() + i);
  }
  const Shape n{static_cast<std::int64_t>(keys.size())};
  sorted_keys_ = Tensor::from_vector(keys, n);
  sorted_index_ = Tensor::from_vector(index, n);
}

std::int64_t IntegerLookupLayer::oov_start() const {
  return options_.mask_token && options_.output_mode == "int" ? 1 : 0;
}

std::int64_t IntegerLookupLayer::vocabulary_size() const {
  return token_start() + static_cast<std::int64_t>(vocabulary_.size());
}

std::vector<std::int64_t> IntegerLookupLayer::get_vocabulary() const {
  std::vector<std::int64_t> v(static_cast<std::size_t>(oov_start()), options_.mask_token.value_or(0));
  v.insert(v.end(), static_cast<std::size_t>(options_.num_oov_indices), options_.oov_token);
  v.insert(v.end(), vocabulary_.begin(), vocabulary_.end());
  return v;
}

std::int64_t IntegerLookupLayer::depth() const {
  return options_.pad_to_max_tokens ? *options_.max_tokens : vocabulary_size();
}

Tensor IntegerLookupLayer::call(const Tensor& input, bool) {
  const std::string who = "IntegerLookup '" + name() + "'";
  if (is_floating(input.dtype()))
    throw ValueError(who + ": takes integer values (its vocabulary_dtype is int64), got " + std::string(dtype_name(input.dtype())));
  const Tensor x = input.detach().astype(int64);
  const Device dev = x.device();
  auto scalar = [&](std::int64_t v) { return Tensor::full(Shape{}, static_cast<double>(v), int64, dev); };
  const auto v = static_cast<std::int64_t>(vocabulary_.size());
  const IntegerLookupOptions& o = options_;
  if (o.invert) {
    // Index -> token: the vocabulary's range, then the OOV token; index 0 is the mask token.
    const std::vector<std::int64_t> full = get_vocabulary();
    const Tensor tokens = Tensor::from_vector(vocabulary_, {v}).to(dev);
    const Tensor in_range = (x >= scalar(token_start())) * (x < scalar(token_start() + v));
    const Tensor at = minimum(maximum(x - scalar(token_start()), scalar(0)), scalar(v - 1));
    Tensor out = where(in_range, take(tokens, at), scalar(o.oov_token));
    if (o.mask_token) out = where(x == scalar(0), scalar(*o.mask_token), out);
    return out;
  }
  const Tensor keys = sorted_keys_.to(dev);
  const Tensor at = minimum(search_sorted(keys, x), scalar(v - 1));
  const Tensor found = take(keys, at) == x;
  Tensor oov;
  if (o.num_oov_indices == 0) {
    if (x.numel() > 0 && min(found).item() == 0)
      throw ValueError(who + ": with num_oov_indices=0 every input must be in the vocabulary");
    oov = scalar(0);
  } else if (o.num_oov_indices == 1) {
    oov = scalar(oov_start());
  } else {
    std::optional<std::array<std::uint64_t, 2>> key;
    if (o.salt) key = std::array<std::uint64_t, 2>{static_cast<std::uint64_t>((*o.salt)[0]), static_cast<std::uint64_t>((*o.salt)[1])};
    const std::string method = o.oov_method == "floormod" ? "floormod" : key ? "siphash" : "fingerprint64";
    oov = hash_bucket(x, o.num_oov_indices, method, key) + scalar(oov_start());
  }
  Tensor lookups = where(found, take(sorted_index_.to(dev), at), oov);
  // The mask token maps to 0, or out of every encoding's range (Keras: the int64 maximum).
  if (o.mask_token) lookups = where(x == scalar(*o.mask_token), scalar(o.output_mode == "int" ? 0 : depth()), lookups);
  return encode(lookups, int64);
}

json IntegerLookupLayer::get_config() const {
  json c = Layer::get_config();
  const IntegerLookupOptions& o = options_;
  c["invert"] = o.invert;
  c["max_tokens"] = o.max_tokens ? json(*o.max_tokens) : json(nullptr);
  c["num_oov_indices"] = o.num_oov_indices;
  c["oov_token"] = o.oov_token;
  c["mask_token"] = o.mask_token ? json(*o.mask_token) : json(nullptr);
  c["output_mode"] = o.output_mode;
  c["sparse"] = false;
  c["pad_to_max_tokens"] = o.pad_to_max_tokens;
  c["vocabulary_dtype"] = "int64";
  c["idf_weights"] = nullptr;
  c["vocabulary"] = vocabulary_;
  c["vocabulary_size"] = vocabulary_size();
  c["oov_method"] = o.oov_method;
  c["salt"] = o.salt ? json(*o.salt) : json(nullptr);
  return c;
}

IntegerLookup::IntegerLookup(std::vector<std::int64_t> vocabulary, IntegerLookupOptions options)
    : LayerHandle(std::make_shared<IntegerLookupLayer>(std::move(vocabulary), std::move(options))) {}

// --- Hashing ---------------------------------------------------------------------------------------

HashingLayer::HashingLayer(std::int64_t num_bins, HashingOptions options)
    : CategoricalLayer("Hashing", options.output_mode, true, std::move(options.name)),
      num_bins_(num_bins),
      options_(std::move(options)) {
  if (num_bins < 1) throw ValueError("Hashing: num_bins must be >= 1, got " + std::to_string(num_bins));
}

Tensor HashingLayer::call(const Tensor& input, bool) {
  const Tensor x = input.detach();
  const Device dev = x.device();
  std::int64_t bins = num_bins_;
  Tensor mask;
  if (options_.mask_value && bins > 1) {
    --bins;
    mask = x == Tensor::full(Shape{}, static_cast<double>(*options_.mask_value), x.dtype(), dev);
  }
  std::optional<std::array<std::uint64_t, 2>> key;
  if (options_.salt)
    key = std::array<std::uint64_t, 2>{static_cast<std::uint64_t>((*options_.salt)[0]), static_cast<std::uint64_t>((*options_.salt)[1])};
  Tensor out = hash_bucket(x, bins, key ? "siphash" : "fingerprint64", key);
  if (mask.defined()) out = where(mask, Tensor::zeros(Shape{}, int64, dev), out + Tensor::ones(Shape{}, int64, dev));
  return encode(out, int64);
}

json HashingLayer::get_config() const {
  json c = Layer::get_config();
  c["dtype"] = output_mode_ == "int" ? "int64" : dtype_policy().name();
  c["num_bins"] = num_bins_;
  c["salt"] = options_.salt ? json(*options_.salt) : json(nullptr);
  c["mask_value"] = options_.mask_value ? json(*options_.mask_value) : json(nullptr);
  c["output_mode"] = output_mode_;
  c["sparse"] = false;
  return c;
}

Hashing::Hashing(std::int64_t num_bins, HashingOptions options)
    : LayerHandle(std::make_shared<HashingLayer>(num_bins, std::move(options))) {}

// --- from_config -------------------------------------------------------------------------------------

namespace {

using engine::name_of;

// An integer config value that tf.keras 2 may write as a string ("-1").
std::int64_t int_of(const json& v, const std::string& key) {
  if (v.is_number_integer()) return json_int<std::int64_t>(v);
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    std::size_t used = 0;
    try {
      const long long n = std::stoll(s, &used);
      if (used == s.size()) return n;
    } catch (const std::exception&) {
    }
    throw ValueError(key + "=" + v.dump() + " is not an integer token (lamina's lookups read integers, not strings)");
  }
  throw ValueError(key + "=" + v.dump() + " is not an integer");
}

std::optional<std::int64_t> optional_int(const json& c, const char* key) {
  if (!c.contains(key) || c[key].is_null()) return std::nullopt;
  return int_of(c[key], key);
}

std::optional<std::array<std::int64_t, 2>> salt_of(const json& c) {
  if (!c.contains("salt") || c["salt"].is_null()) return std::nullopt;
  const json& s = c["salt"];
  if (s.is_number_integer()) return std::array<std::int64_t, 2>{json_int<std::int64_t>(s), json_int<std::int64_t>(s)};
  if (s.is_array() && s.size() == 2) return std::array<std::int64_t, 2>{int_of(s[0], "salt"), int_of(s[1], "salt")};
  throw ValueError("salt=" + s.dump() + " must be an integer or a pair of integers");
}

// The integer dtype a categorical layer's "dtype" names (its output), or nullopt for a policy.
std::optional<DType> int_dtype_of(const json& c) {
  if (!c.contains("dtype") || !c["dtype"].is_string()) return std::nullopt;
  const std::string d = c["dtype"].get<std::string>();
  if (d == "int32") return int32;
  if (d == "int64") return int64;
  return std::nullopt;
}

void refuse_sparse(const json& c) {
  if (c.value("sparse", false)) throw ValueError("sparse=true is not supported: lamina has no sparse tensors");
}

// The categorical layers' sparse output. num_bins and epsilon only steer Discretization's adapt.
engine::KeyRule dense_only() { return {"sparse", {false}, "lamina has no sparse tensors"}; }

}  // namespace

void register_preprocessing_numeric_layers() {
  engine::register_layer_spec({
      .class_name = "Normalization",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        NormalizationOptions o;
        o.name = name_of(c);
        if (c.contains("axis")) {
          const json& a = c["axis"];
          if (a.is_null()) o.axis.clear();
          else if (a.is_number_integer()) o.axis = {json_int<int>(a)};
          else o.axis = json_ints<int>(a, "axis");
        }
        o.invert = c.value("invert", false);
        if (c.contains("mean") && !c["mean"].is_null()) o.mean = tensor_of_json(c["mean"], "mean");
        if (c.contains("variance") && !c["variance"].is_null()) o.variance = tensor_of_json(c["variance"], "variance");
        return Normalization(std::move(o)).ptr();
      },
      .honoured_keys = {"axis", "mean", "variance", "invert"},
  });
  engine::register_layer_spec({
      .class_name = "Rescaling",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        auto values = [&](const char* key, double fallback) {
          if (!c.contains(key) || c[key].is_null()) return std::pair{std::vector<double>{fallback}, false};
          const json& v = c[key];
          if (v.is_number()) return std::pair{std::vector<double>{v.get<double>()}, false};
          if (v.is_array()) return std::pair{v.get<std::vector<double>>(), true};
          throw ValueError(std::string(key) + "=" + v.dump() + " is not a number or a list of numbers");
        };
        auto [scale, scale_list] = values("scale", 1.0);
        auto [offset, offset_list] = values("offset", 0.0);
        return std::make_shared<RescalingLayer>(std::move(scale), std::move(offset), scale_list, offset_list,
                                                name_of(c));
      },
      .honoured_keys = {"scale", "offset"},
  });
  engine::register_layer_spec({
      .class_name = "Discretization",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        refuse_sparse(c);
        if (!c.contains("bin_boundaries") || c["bin_boundaries"].is_null())
          throw ValueError("bin_boundaries=null: the layer was never adapted (lamina does not adapt Discretization)");
        auto layer = Discretization(c["bin_boundaries"].get<std::vector<double>>(),
                                    {.output_mode = c.value("output_mode", std::string("int")), .name = name_of(c)})
                         .ptr();
        if (auto d = int_dtype_of(c)) layer->set_int_dtype(*d);
        layer->set_adapt_settings(optional_int(c, "num_bins"), c.value("epsilon", 0.01));
        return layer;
      },
      .honoured_keys = {"bin_boundaries", "num_bins", "epsilon", "output_mode"},
      .key_rules = {dense_only()},
  });
  engine::register_layer_spec({
      .class_name = "CategoryEncoding",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        refuse_sparse(c);
        return CategoryEncoding(json_int<std::int64_t>(c.at("num_tokens"), "num_tokens"),
                                {.output_mode = c.value("output_mode", std::string("multi_hot")), .name = name_of(c)})
            .ptr();
      },
      .honoured_keys = {"num_tokens", "output_mode"},
      .key_rules = {dense_only()},
  });
  engine::register_layer_spec({
      .class_name = "IntegerLookup",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        refuse_sparse(c);
        if (c.contains("vocabulary_dtype") && c["vocabulary_dtype"] != "int64")
          throw ValueError("vocabulary_dtype=" + c["vocabulary_dtype"].dump() +
                           " is not supported (int64 only, as Keras)");
        if (!c.contains("vocabulary") || c["vocabulary"].is_null())
          throw ValueError("vocabulary=null: an adapted vocabulary is kept in the file's assets, which lamina does not "
                           "read; pass the vocabulary in the layer's arguments");
        if (c["vocabulary"].is_string())
          throw ValueError("vocabulary=" + c["vocabulary"].dump() + ": a vocabulary file is not read");
        IntegerLookupOptions o;
        o.name = name_of(c);
        o.num_oov_indices = c.contains("num_oov_indices") ? int_of(c["num_oov_indices"], "num_oov_indices") : 1;
        o.mask_token = optional_int(c, "mask_token");
        o.oov_token = optional_int(c, "oov_token").value_or(-1);
        o.invert = c.value("invert", false);
        o.output_mode = c.value("output_mode", std::string("int"));
        if (o.output_mode == "tf_idf" || o.output_mode == "tf-idf")
          throw ValueError("output_mode=\"tf_idf\" is not supported");
        o.max_tokens = optional_int(c, "max_tokens");
        o.pad_to_max_tokens = c.value("pad_to_max_tokens", false);
        o.oov_method = c.value("oov_method", std::string("floormod"));
        o.salt = salt_of(c);
        std::vector<std::int64_t> vocab;
        for (const json& v : c["vocabulary"]) vocab.push_back(int_of(v, "vocabulary"));
        auto layer = IntegerLookup(std::move(vocab), std::move(o)).ptr();
        if (const auto size = optional_int(c, "vocabulary_size"); size && *size != layer->vocabulary_size())
          throw ValueError("vocabulary_size=" + std::to_string(*size) + " does not match the vocabulary (" +
                           std::to_string(layer->vocabulary_size()) + " indices)");
        return layer;
      },
      .honoured_keys = {"max_tokens", "num_oov_indices", "mask_token", "oov_token", "vocabulary", "invert",
                        "output_mode", "pad_to_max_tokens", "vocabulary_size", "oov_method", "salt"},
      .key_rules = {dense_only(),
                    {"idf_weights", {nullptr}, "output_mode tf_idf is not implemented"},
                    {"vocabulary_dtype", {nullptr, "int64"}, "IntegerLookup reads int64 vocabularies only (as Keras)"}},
  });
  engine::register_layer_spec({
      .class_name = "Hashing",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        refuse_sparse(c);
        HashingOptions o;
        o.name = name_of(c);
        o.mask_value = optional_int(c, "mask_value");
        o.salt = salt_of(c);
        o.output_mode = c.value("output_mode", std::string("int"));
        if (auto d = int_dtype_of(c); d && *d != int64)
          throw ValueError("dtype=\"int32\" output is not supported (Hashing gives int64)");
        return Hashing(json_int<std::int64_t>(c.at("num_bins"), "num_bins"), std::move(o)).ptr();
      },
      .honoured_keys = {"num_bins", "salt", "mask_value", "output_mode"},
      .key_rules = {dense_only()},
  });
}

}  // namespace lamina::layers
