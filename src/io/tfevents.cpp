// SPDX-License-Identifier: Apache-2.0
// TensorBoard event files: CRC-32C, TFRecord framing, and a protobuf encoder for the handful of
// messages a TF2 summary writer emits. Field numbers are those of tensorflow/core/util/event.proto,
// summary.proto, tensor.proto and tensor_shape.proto; proto3 leaves fields at their default out,
// and fields go out in field-number order, as protobuf's own serializer writes them.
#include "io/tfevents.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "lamina/errors.hpp"

namespace lamina::io::tfevents {
namespace {

// crc = table[(crc ^ byte) & 0xff] ^ (crc >> 8), the table over the reflected Castagnoli polynomial.
constexpr std::array<std::uint32_t, 256> kCrcTable = [] {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}();

void append_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// A protobuf message being encoded.
class Proto {
 public:
  Proto& varint(int field, std::uint64_t value) {
    if (value != 0) {
      key(field, 0);
      put_varint(value);
    }
    return *this;
  }
  Proto& float64(int field, double value) {
    if (std::bit_cast<std::uint64_t>(value) != 0) {
      key(field, 1);
      append_le(bytes_, std::bit_cast<std::uint64_t>(value), 8);
    }
    return *this;
  }
  // A string/bytes field (left out when empty, as proto3 does for a singular one) ...
  Proto& text(int field, std::string_view value) {
    if (!value.empty()) element(field, value);
    return *this;
  }
  // ... and one that is always written: a set sub-message, or an element of a repeated field.
  Proto& element(int field, std::string_view value) {
    key(field, 2);
    put_varint(value.size());
    bytes_.append(value);
    return *this;
  }
  Proto& message(int field, const Proto& sub) { return element(field, sub.bytes_); }
  const std::string& bytes() const { return bytes_; }

 private:
  void key(int field, int wire_type) { put_varint((static_cast<std::uint64_t>(field) << 3) | wire_type); }
  void put_varint(std::uint64_t v) {
    for (; v >= 0x80; v >>= 7) bytes_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    bytes_.push_back(static_cast<char>(v));
  }
  std::string bytes_;
};

// tensorflow.DataType
constexpr int kFloat = 1, kDouble = 2, kString = 7;

Proto shape_proto(const std::vector<std::int64_t>& dims) {
  Proto shape;
  for (const auto d : dims) shape.message(2, Proto().varint(1, static_cast<std::uint64_t>(d)));
  return shape;
}

// Summary.Value{tag, tensor, metadata{plugin_data{plugin_name, content}}} inside
// Event{wall_time, step, summary{value}}.
std::string summary_event(double wall_time, std::int64_t step, std::string_view tag, const Proto& tensor,
                          std::string_view plugin, std::string_view content) {
  const Proto plugin_data = Proto().text(1, plugin).text(2, content);
  const Proto value = Proto().text(1, tag).message(8, tensor).message(9, Proto().message(1, plugin_data));
  return Proto()
      .float64(1, wall_time)
      .varint(2, static_cast<std::uint64_t>(step))
      .message(5, Proto().message(1, value))
      .bytes();
}

}  // namespace

std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) crc = kCrcTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::uint32_t masked_crc32c(const void* data, std::size_t size) {
  const std::uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string frame_record(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  append_le(out, data.size(), 8);
  append_le(out, masked_crc32c(out.data(), 8), 4);
  out.append(data);
  append_le(out, masked_crc32c(data.data(), data.size()), 4);
  return out;
}

// TensorFlow's graph (tensorboard/plugins/histogram/summary_v2.py, _buckets), in float64:
//   width = (max - min) / k;  bucket(x) = min(floor((x - min) / width), k - 1)
//   edges = linspace(min, max, k + 1) = min + i · width, the last one max itself.
// Its × and + are separate ops, so this file is built without fused multiply-adds.
std::vector<Bucket> histogram_buckets(const std::vector<double>& data, int bucket_count) {
  const auto k = static_cast<std::size_t>(std::max(bucket_count, 0));
  std::vector<Bucket> buckets(k);
  if (data.empty() || k == 0) return buckets;
  const auto [lo, hi] = std::minmax_element(data.begin(), data.end());
  const double min = *lo, max = *hi, range = max - min;
  if (range == 0) {
    for (auto& b : buckets) b.left = b.right = max;
    buckets.back().count = static_cast<double>(data.size());
    return buckets;
  }
  const double width = range / static_cast<double>(k);
  for (const double x : data) {
    const double index = std::floor((x - min) / width);
    buckets[std::min(static_cast<std::size_t>(index), k - 1)].count += 1.0;
  }
  for (std::size_t i = 0; i < k; ++i) {
    buckets[i].left = i == 0 ? min : min + static_cast<double>(i) * width;
    buckets[i].right = i + 1 == k ? max : min + static_cast<double>(i + 1) * width;
  }
  return buckets;
}

std::string file_version_event(double wall_time, std::string_view writer) {
  return Proto().float64(1, wall_time).text(3, "brain.Event:2").message(10, Proto().text(1, writer)).bytes();
}

std::string scalar_event(double wall_time, std::int64_t step, std::string_view tag, float value) {
  std::string content;
  append_le(content, std::bit_cast<std::uint32_t>(value), 4);
  const Proto tensor = Proto().varint(1, kFloat).message(2, shape_proto({})).text(4, content);
  return summary_event(wall_time, step, tag, tensor, "scalars", "");
}

std::string histogram_event(double wall_time, std::int64_t step, std::string_view tag,
                            const std::vector<Bucket>& buckets) {
  std::string content;
  for (const auto& b : buckets)
    for (const double v : {b.left, b.right, b.count}) append_le(content, std::bit_cast<std::uint64_t>(v), 8);
  const auto rows = static_cast<std::int64_t>(buckets.size());
  const Proto tensor = Proto().varint(1, kDouble).message(2, shape_proto({rows, 3})).text(4, content);
  return summary_event(wall_time, step, tag, tensor, "histograms", "");
}

std::string keras_model_event(double wall_time, std::int64_t step, std::string_view tag, std::string_view json) {
  const Proto tensor = Proto().varint(1, kString).message(2, shape_proto({})).element(8, json);
  return summary_event(wall_time, step, tag, tensor, "graph_keras_model", "1");
}

std::string event_file_name(std::int64_t seconds) {
  static std::atomic<int> opened{0};
  char host[256] = "localhost";
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  host[sizeof host - 1] = '\0';
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%010lld", static_cast<long long>(seconds));
  return std::string("events.out.tfevents.") + stamp + "." + host + "." + std::to_string(getpid()) + "." +
         std::to_string(opened++) + ".v2";
}

double wall_time_now() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(now).count();
}

EventFileWriter::EventFileWriter(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const double now = wall_time_now();
  const auto seconds = static_cast<std::int64_t>(now);
  path_ = (std::filesystem::path(dir) / event_file_name(seconds)).string();
  file_ = ec ? nullptr : std::fopen(path_.c_str(), "wb");
  if (!file_)
    throw ValueError("TensorBoard: cannot create the event file '" + path_ + "': " +
                     (ec ? ec.message() : std::string(std::strerror(errno))));
  // As TensorFlow's EventsWriter: the first event carries the file's whole-second time stamp.
  write(file_version_event(static_cast<double>(seconds), "lamina.callbacks.TensorBoard"));
  flush();
}

EventFileWriter::~EventFileWriter() {
  if (file_) std::fclose(file_);
}

void EventFileWriter::write(std::string_view event) {
  const std::string record = frame_record(event);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size())
    throw ValueError("TensorBoard: cannot write the event file '" + path_ + "': " + std::strerror(errno));
}

void EventFileWriter::flush() {
  if (std::fflush(file_) != 0)
    throw ValueError("TensorBoard: cannot write the event file '" + path_ + "': " + std::strerror(errno));
}

}  // namespace lamina::io::tfevents
