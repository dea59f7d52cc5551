// SPDX-License-Identifier: Apache-2.0
// src/io/tfevents.hpp — TensorBoard's event files, written as TensorFlow 2's summary writer writes
// them: TFRecord framing (length, masked CRC-32C of the length, data, masked CRC-32C of the data)
// around serialized tensorflow.Event protobufs holding TF2 tensor summaries.
//
// The few messages involved (Event, Summary, Summary.Value, SummaryMetadata, PluginData,
// TensorProto, TensorShapeProto) are encoded by hand rather than through protoc-generated
// classes: it is about a hundred lines against a build-time code generator, a runtime library
// and vendored .proto files. tests/io/test_tfevents.cpp compares the bytes with what TensorFlow's
// own writer produced for the same values (tests/fixtures/tensorboard/events.json).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace lamina::io::tfevents {

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `size` bytes, continuing `crc`.
std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc = 0);
/// TFRecord's masked CRC: rotate right by 15 bits, add 0xa282ead8.
std::uint32_t masked_crc32c(const void* data, std::size_t size);
/// One TFRecord: uint64 length (little-endian), its masked CRC, the data, the data's masked CRC.
std::string frame_record(std::string_view data);

/// One histogram bucket as TensorBoard's histogram plugin stores it: [left, right, count].
struct Bucket {
  double left = 0.0;
  double right = 0.0;
  double count = 0.0;
};
/// TensorFlow's tf.summary.histogram buckets of `data` (values as float64): `bucket_count` equal
/// widths over [min, max], a value on a boundary counted in the bucket to its right (the maximum
/// in the last). All values equal: every edge is that value, the count in the last bucket. No
/// data: `bucket_count` zero rows.
std::vector<Bucket> histogram_buckets(const std::vector<double>& data, int bucket_count = 30);

/// Serialized Events. `wall_time` in seconds since the Unix epoch.
/// The first event of a file: file_version "brain.Event:2" and the writer's name.
std::string file_version_event(double wall_time, std::string_view writer);
/// A scalar summary (plugin "scalars", a float32 tensor of shape ()), as tf.summary.scalar.
std::string scalar_event(double wall_time, std::int64_t step, std::string_view tag, float value);
/// A histogram summary (plugin "histograms", a float64 tensor (k, 3)), as tf.summary.histogram.
std::string histogram_event(double wall_time, std::int64_t step, std::string_view tag,
                            const std::vector<Bucket>& buckets);
/// Keras's model-config summary (plugin "graph_keras_model", content "1", a string tensor holding
/// the model's JSON), as keras.callbacks.TensorBoard writes for write_graph.
std::string keras_model_event(double wall_time, std::int64_t step, std::string_view tag, std::string_view json);

/// "events.out.tfevents.<seconds>.<host>.<pid>.<n>.v2", as TensorFlow 2 names its files (n counts
/// the files this process opened).
std::string event_file_name(std::int64_t seconds);

/// One event file in `dir` (created with its parents): the file_version event first, then each
/// event written, framed. Throws ValueError naming the path when it cannot be created or written.
class EventFileWriter {
 public:
  explicit EventFileWriter(const std::string& dir);
  ~EventFileWriter();
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;
  void write(std::string_view event);
  void flush();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

/// Seconds since the Unix epoch, with the clock's resolution (an Event's wall_time).
double wall_time_now();

}  // namespace lamina::io::tfevents
