// SPDX-License-Identifier: Apache-2.0
// keras.utils.to_categorical, pad_sequences and timeseries_dataset_from_array.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "lamina/data_utils.hpp"
#include "lamina/errors.hpp"

namespace lamina::utils {

Tensor to_categorical(const Tensor& y, std::int64_t num_classes, DType dtype) {
  Tensor yi = y.to(Device::cpu()).astype(int64);
  Shape shape = yi.shape();
  // Keras drops a trailing axis of 1: (N, 1) labels give (N, num_classes).
  std::vector<std::int64_t> dims(shape.begin(), shape.end());
  if (dims.size() > 1 && dims.back() == 1) dims.pop_back();
  const std::int64_t n = yi.numel();
  const std::int64_t* labels = yi.data<std::int64_t>();
  if (num_classes < 0) throw ValueError("to_categorical: num_classes must be >= 0, got " + std::to_string(num_classes));
  if (num_classes == 0) num_classes = n ? *std::max_element(labels, labels + n) + 1 : 0;
  std::vector<float> out(static_cast<std::size_t>(n * num_classes), 0.0f);
  for (std::int64_t i = 0; i < n; ++i) {
    if (labels[i] < 0 || labels[i] >= num_classes)
      throw ValueError("to_categorical: class index " + std::to_string(labels[i]) + " at position " +
                       std::to_string(i) + " is outside [0, " + std::to_string(num_classes) + ")");
    out[static_cast<std::size_t>(i * num_classes + labels[i])] = 1.0f;
  }
  dims.push_back(num_classes);
  return Tensor::from_vector(out, Shape(dims)).astype(dtype);
}

namespace {

void check_end(const std::string& what, const std::string& value) {
  if (value != "pre" && value != "post")
    throw ValueError("pad_sequences: " + what + " must be \"pre\" or \"post\", got \"" + value + "\"");
}

}  // namespace

Tensor pad_sequences(const std::vector<std::vector<double>>& sequences, const PadSequencesOptions& o) {
  check_end("padding", o.padding);
  check_end("truncating", o.truncating);
  if (o.maxlen < 0) throw ValueError("pad_sequences: maxlen must be >= 0, got " + std::to_string(o.maxlen));
  std::size_t maxlen = static_cast<std::size_t>(o.maxlen);
  if (maxlen == 0)
    for (const auto& s : sequences) maxlen = std::max(maxlen, s.size());
  const auto rows = static_cast<std::int64_t>(sequences.size());
  // The values go through the target dtype as NumPy's astype does (3.7 -> 3 for int32), so the
  // padding value and the sequence values are converted alike.
  std::vector<double> out(sequences.size() * maxlen, o.value);
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    const auto& s = sequences[i];
    const std::size_t keep = std::min(maxlen, s.size());
    // truncating "pre" keeps the last `keep` values, "post" the first.
    const std::size_t from = o.truncating == "pre" ? s.size() - keep : 0;
    const std::size_t to = o.padding == "pre" ? maxlen - keep : 0;
    std::copy_n(s.begin() + static_cast<std::ptrdiff_t>(from), keep, out.begin() + static_cast<std::ptrdiff_t>(i * maxlen + to));
  }
  return Tensor::from_vector(out, Shape({rows, static_cast<std::int64_t>(maxlen)})).astype(o.dtype);
}

Tensor pad_sequences(const std::vector<std::vector<std::int64_t>>& sequences, const PadSequencesOptions& o) {
  std::vector<std::vector<double>> as_double;
  as_double.reserve(sequences.size());
  for (const auto& s : sequences) as_double.emplace_back(s.begin(), s.end());
  return pad_sequences(as_double, o);
}

Dataset timeseries_dataset_from_array(const Tensor& data, const Tensor& targets, std::int64_t sequence_length,
                                      const TimeseriesOptions& o) {
  const char* fn = "timeseries_dataset_from_array: ";
  if (data.ndim() < 1) throw ValueError(std::string(fn) + "data must have at least one axis");
  const std::int64_t len = data.shape()[0];
  auto fail = [&](const std::string& what) { throw ValueError(fn + what + " (data of length " + std::to_string(len) + ")"); };
  const std::int64_t start = o.start_index.value_or(0);
  const std::int64_t end = o.end_index.value_or(len);
  // Keras's checks, in its order.
  if (start < 0) fail("start_index must be 0 or greater, got " + std::to_string(start));
  if (o.start_index && start >= len) fail("start_index must be lower than the length of the data, got " + std::to_string(start));
  if (o.end_index) {
    if (end <= start) fail("end_index must be higher than start_index, got " + std::to_string(end));
    if (end >= len) fail("end_index must be lower than the length of the data, got " + std::to_string(end));
  }
  if (o.sampling_rate <= 0 || o.sampling_rate >= len)
    fail("sampling_rate must be in [1, length of the data), got " + std::to_string(o.sampling_rate));
  if (o.sequence_stride <= 0 || o.sequence_stride >= len)
    fail("sequence_stride must be in [1, length of the data), got " + std::to_string(o.sequence_stride));
  if (sequence_length <= 0) fail("sequence_length must be positive, got " + std::to_string(sequence_length));
  if (o.batch_size < 0) fail("batch_size must be >= 0, got " + std::to_string(o.batch_size));
  std::int64_t num_seqs = end - start - (sequence_length - 1) * o.sampling_rate;
  if (targets.defined()) {
    if (targets.ndim() < 1) fail("targets must have at least one axis");
    num_seqs = std::min(num_seqs, targets.shape()[0]);
  }
  if (num_seqs <= 0) fail("no window of " + std::to_string(sequence_length) + " steps fits");

  // Window i covers rows start + s_i + k * sampling_rate, k < sequence_length, and its target is
  // targets[start + s_i] (Keras slices targets from start_index too). The windows are cut when
  // read, so that overlapping windows do not multiply the data in memory.
  std::vector<std::int64_t> starts;
  for (std::int64_t s = 0; s < num_seqs; s += o.sequence_stride) starts.push_back(start + s);
  const auto windows = static_cast<std::int64_t>(starts.size());
  auto src = std::make_shared<const Tensor>(data.to(Device::cpu()));
  const auto row_bytes = static_cast<std::int64_t>(src->nbytes()) / len;
  std::vector<std::int64_t> window_dims{sequence_length};
  for (std::size_t a = 1; a < src->shape().size(); ++a) window_dims.push_back(src->shape()[a]);
  Element slices{Tensor::from_vector(starts, Shape({windows}))};
  if (targets.defined()) {
    const Tensor t = targets.to(Device::cpu());
    const auto t_bytes = static_cast<std::int64_t>(t.nbytes()) / t.shape()[0];
    std::vector<std::int64_t> y_dims{windows};
    for (std::size_t a = 1; a < t.shape().size(); ++a) y_dims.push_back(t.shape()[a]);
    Tensor y = Tensor::empty(Shape(y_dims), t.dtype());
    for (std::int64_t w = 0; w < windows; ++w)
      std::copy_n(static_cast<const unsigned char*>(t.raw_data()) + starts[static_cast<std::size_t>(w)] * t_bytes, t_bytes,
                  static_cast<unsigned char*>(y.raw_data()) + w * t_bytes);
    slices.push_back(y);
  }
  Dataset ds = Dataset::from_tensor_slices(slices);
  if (o.shuffle) ds = ds.shuffle(windows, {.seed = o.seed});
  const std::int64_t rate = o.sampling_rate;
  ds = ds.map([src, row_bytes, rate, shape = Shape(window_dims)](const Element& e) {
    Tensor x = Tensor::empty(shape, src->dtype());
    const auto first = static_cast<std::int64_t>(e[0].item());
    for (std::int64_t k = 0; k < shape[0]; ++k)
      std::copy_n(static_cast<const unsigned char*>(src->raw_data()) + (first + k * rate) * row_bytes, row_bytes,
                  static_cast<unsigned char*>(x.raw_data()) + k * row_bytes);
    Element out{x};
    if (e.size() > 1) out.push_back(e[1]);
    return out;
  });
  if (o.batch_size > 0) ds = ds.batch(o.batch_size);
  return ds;
}

}  // namespace lamina::utils
