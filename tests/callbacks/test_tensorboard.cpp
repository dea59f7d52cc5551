// SPDX-License-Identifier: Apache-2.0
// callbacks::TensorBoard: the runs, tags, steps, plugins and tensor shapes that Keras 3's callback
// writes for the same fit (tests/fixtures/tensorboard/fit.json, made by
// tests/fixtures/make_tensorboard_fixtures.py), with the values of lamina's History; and the
// options it refuses. The event files are read back by a small decoder of TFRecord framing and
// the protobuf fields involved.
//
// With LAMINA_TENSORBOARD_EXPORT=<dir>, the fit test writes its logs, History and model JSON to
// <dir> for tests/tools/check_tensorboard_logs.py, which reads them with TensorBoard's own reader.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/callbacks/tensorboard.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/model.hpp>
#include <lamina/optimizers.hpp>
#include <nlohmann/json.hpp>

#include "callbacks/scripted.hpp"
#include "io/tfevents.hpp"

using namespace lamina;
using namespace lamina::testing;
using callbacks::TensorBoard;

namespace {

// One summary value as read back.
struct Summary {
  std::string run;
  std::int64_t step = 0;
  std::string tag{}, plugin{}, plugin_content{};
  int dtype = 0;
  std::vector<std::int64_t> shape;
  std::string content;                  // tensor_content
  std::vector<std::string> string_val;  // DT_STRING elements
};

// Protobuf fields of one message: (field number, varint value or bytes).
struct Field {
  int number = 0;
  std::uint64_t value = 0;
  std::string bytes;
};

std::vector<Field> fields(const std::string& msg) {
  std::vector<Field> out;
  std::size_t i = 0;
  auto varint = [&] {
    std::uint64_t v = 0;
    for (int shift = 0; i < msg.size(); shift += 7) {
      const auto b = static_cast<unsigned char>(msg[i++]);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw std::runtime_error("truncated varint");
  };
  while (i < msg.size()) {
    const std::uint64_t key = varint();
    Field f;
    f.number = static_cast<int>(key >> 3);
    switch (key & 7) {
      case 0: f.value = varint(); break;
      case 1: std::memcpy(&f.value, msg.data() + i, 8); i += 8; break;
      case 2: {
        const auto n = static_cast<std::size_t>(varint());
        if (i + n > msg.size()) throw std::runtime_error("truncated field");
        f.bytes = msg.substr(i, n);
        i += n;
        break;
      }
      default: throw std::runtime_error("unexpected wire type");
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The records of an event file, each framing CRC checked.
std::vector<std::string> records(const std::filesystem::path& path) {
  const std::string file = read_file(path);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < file.size();) {
    REQUIRE(i + 12 <= file.size());
    std::uint64_t n = 0;
    std::memcpy(&n, file.data() + i, 8);
    std::uint32_t len_crc = 0, data_crc = 0;
    std::memcpy(&len_crc, file.data() + i + 8, 4);
    REQUIRE(len_crc == io::tfevents::masked_crc32c(file.data() + i, 8));
    REQUIRE(i + 16 + n <= file.size());
    out.push_back(file.substr(i + 12, n));
    std::memcpy(&data_crc, file.data() + i + 12 + n, 4);
    REQUIRE(data_crc == io::tfevents::masked_crc32c(out.back().data(), out.back().size()));
    i += 16 + n;
  }
  return out;
}

// Every summary of the single event file in log_dir/run; the first record must be the version.
std::vector<Summary> read_run(const std::filesystem::path& log_dir, const std::string& run) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(log_dir / run)) files.push_back(entry.path());
  REQUIRE(files.size() == 1);
  const std::string name = files[0].filename().string();
  CHECK(name.rfind("events.out.tfevents.", 0) == 0);
  CHECK(name.substr(name.size() - 3) == ".v2");
  const auto recs = records(files[0]);
  REQUIRE(!recs.empty());
  bool version = false;
  for (const auto& f : fields(recs[0])) version |= f.number == 3 && f.bytes == "brain.Event:2";
  CHECK(version);
  std::vector<Summary> out;
  for (std::size_t r = 1; r < recs.size(); ++r) {
    std::int64_t step = 0;
    for (const auto& ef : fields(recs[r])) {
      if (ef.number == 2) step = static_cast<std::int64_t>(ef.value);
      if (ef.number != 5) continue;
      for (const auto& sv : fields(ef.bytes)) {
        Summary s;
        s.run = run;
        s.step = step;
        for (const auto& vf : fields(sv.bytes)) {
          if (vf.number == 1) s.tag = vf.bytes;
          if (vf.number == 9)
            for (const auto& pd : fields(vf.bytes))
              for (const auto& p : fields(pd.bytes)) (p.number == 1 ? s.plugin : s.plugin_content) = p.bytes;
          if (vf.number != 8) continue;
          for (const auto& tf : fields(vf.bytes)) {
            if (tf.number == 1) s.dtype = static_cast<int>(tf.value);
            if (tf.number == 4) s.content = tf.bytes;
            if (tf.number == 8) s.string_val.push_back(tf.bytes);
            if (tf.number == 2)
              for (const auto& dim : fields(tf.bytes))
                for (const auto& size : fields(dim.bytes)) s.shape.push_back(static_cast<std::int64_t>(size.value));
          }
        }
        out.push_back(s);
      }
    }
  }
  return out;
}

float scalar_of(const Summary& s) {
  REQUIRE(s.content.size() == 4);
  float v = 0;
  std::memcpy(&v, s.content.data(), 4);
  return v;
}

std::vector<double> histogram_of(const Summary& s) {
  std::vector<double> v(s.content.size() / 8);
  std::memcpy(v.data(), s.content.data(), v.size() * 8);
  return v;
}

const Summary& find(const std::vector<Summary>& all, const std::string& tag, std::int64_t step) {
  const auto it = std::find_if(all.begin(), all.end(), [&](const Summary& s) { return s.tag == tag && s.step == step; });
  if (it == all.end()) FAIL("no summary " << tag << " at step " << step);
  return *it;
}

// The fixture's model and data: Input(3) -> Dense(2, relu) "hidden" -> Dense(1) "out".
Sequential fixture_model() {
  Sequential m({layers::Input({3}), layers::Dense(2, {.activation = "relu", .name = "hidden"}),
                layers::Dense(1, {.name = "out"})},
               "tiny");
  m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.05}), .loss = "mse", .metrics = {"mae"}});
  return m;
}

Tensor ramp(std::int64_t rows, std::int64_t cols, double phase) {
  std::vector<float> v(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(std::cos(0.37 * static_cast<double>(i) + phase));
  return Tensor::from_vector(v, {rows, cols});
}

using Key = std::tuple<std::string, std::int64_t, std::string, std::string, int, std::vector<std::int64_t>>;

}  // namespace

TEST_CASE("TensorBoard writes the runs, tags and steps of Keras 3 with History's values",
          "[callbacks][tensorboard][tensorboard_export]") {
  const char* export_dir = std::getenv("LAMINA_TENSORBOARD_EXPORT");
  const ScratchDir scratch("tensorboard_fit");
  const std::filesystem::path log_dir = export_dir ? std::filesystem::path(export_dir) / "logs" : scratch.path() / "logs";
  std::filesystem::remove_all(log_dir);

  Sequential m = fixture_model();
  const History h = m.fit(ramp(32, 3, 0.1), ramp(32, 1, 0.7),
                          {.batch_size = 8, .epochs = 2, .verbose = 0,
                           .callbacks = {TensorBoard(log_dir.string(), {.histogram_freq = 1, .update_freq = "batch"})},
                           .validation_split = 0.25, .shuffle = false});

  std::vector<Summary> train = read_run(log_dir, "train"), val = read_run(log_dir, "validation");
  std::vector<Summary> all = train;
  all.insert(all.end(), val.begin(), val.end());

  // The same (run, step, tag, plugin, dtype, shape) as Keras wrote, in any order.
  std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/tensorboard/fit.json");
  const auto keras = nlohmann::json::parse(in).at("summaries");
  std::vector<Key> want, got;
  for (const auto& s : keras)
    want.emplace_back(s.at("run"), s.at("step"), s.at("tag"), s.at("plugin"), s.at("dtype"),
                      s.at("shape").get<std::vector<std::int64_t>>());
  for (const auto& s : all) got.emplace_back(s.run, s.step, s.tag, s.plugin, s.dtype, s.shape);
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  REQUIRE(want.size() == 35);
  CHECK(got == want);

  // Scalars: History's values in float32; the evaluation at the end of the epoch is its val_ logs.
  for (int epoch = 0; epoch < 2; ++epoch) {
    for (const std::string name : {"loss", "mae"}) {
      CHECK(scalar_of(find(train, "epoch_" + name, epoch)) == static_cast<float>(h.history.at(name)[epoch]));
      CHECK(scalar_of(find(val, "epoch_" + name, epoch)) == static_cast<float>(h.history.at("val_" + name)[epoch]));
      CHECK(scalar_of(find(val, "evaluation_" + name + "_vs_iterations", 3 * (epoch + 1))) ==
            static_cast<float>(h.history.at("val_" + name)[epoch]));
      // The epoch's logs are its last batch's running values.
      CHECK(scalar_of(find(train, "batch_" + name, 3 * (epoch + 1))) == static_cast<float>(h.history.at(name)[epoch]));
    }
    CHECK(scalar_of(find(train, "epoch_learning_rate", epoch)) == 0.05f);
  }
  // Histograms: 30 buckets whose counts add up to the weight's size; at the last epoch their
  // range is the final weights' (their min and max).
  const std::vector<std::string> paths = {"tiny/hidden/kernel", "tiny/hidden/bias", "tiny/out/kernel", "tiny/out/bias"};
  const std::vector<Tensor> weights = m.get_weights();
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const auto buckets = histogram_of(find(train, paths[i] + "/histogram", 1));
    REQUIRE(buckets.size() == 90);
    double count = 0;
    for (std::size_t b = 0; b < 30; ++b) count += buckets[3 * b + 2];
    CHECK(count == static_cast<double>(weights[i].numel()));
    const auto values = weights[i].to_vector<float>();
    CHECK(buckets[0] == static_cast<double>(*std::min_element(values.begin(), values.end())));
    CHECK(buckets[88] == static_cast<double>(*std::max_element(values.begin(), values.end())));
  }
  // The graph: Keras's model JSON, plugin "graph_keras_model" version "1".
  const Summary& graph = find(train, "keras", 0);
  CHECK(graph.plugin_content == "1");
  REQUIRE(graph.string_val.size() == 1);
  CHECK(graph.string_val[0] == m.to_json());

  if (export_dir) {
    nlohmann::json doc;
    doc["history"] = h.history;
    doc["model_json"] = m.to_json();
    doc["param_counts"] = nlohmann::json::object();
    for (std::size_t i = 0; i < paths.size(); ++i) doc["param_counts"][paths[i]] = weights[i].numel();
    std::ofstream(std::filesystem::path(export_dir) / "lamina.json") << doc.dump(1);
  }
}

TEST_CASE("TensorBoard with update_freq N logs batches every N global steps and every epoch",
          "[callbacks][tensorboard]") {
  const ScratchDir scratch("tensorboard_freq");
  Sequential m = fixture_model();
  m.fit(ramp(32, 3, 0.1), ramp(32, 1, 0.7),
        {.batch_size = 8, .epochs = 2, .verbose = 0,
         .callbacks = {TensorBoard(scratch.path().string(), {.write_steps_per_second = true, .update_freq = 2})},
         .validation_split = 0.25});
  const auto train = read_run(scratch.path(), "train");
  std::vector<std::int64_t> batch_steps, epoch_steps;
  for (const auto& s : train) {
    if (s.tag == "batch_loss") batch_steps.push_back(s.step);
    if (s.tag == "epoch_loss") epoch_steps.push_back(s.step);
    if (s.tag == "epoch_steps_per_second") CHECK(scalar_of(s) > 0.0f);
  }
  CHECK(batch_steps == std::vector<std::int64_t>{2, 4, 6});
  CHECK(epoch_steps == std::vector<std::int64_t>{0, 1});
  CHECK(std::count_if(train.begin(), train.end(), [](const Summary& s) { return s.tag == "batch_steps_per_second"; }) == 3);
  // No histograms without histogram_freq.
  CHECK(std::none_of(train.begin(), train.end(), [](const Summary& s) { return s.plugin == "histograms"; }));
}

TEST_CASE("TensorBoard in evaluate writes the evaluation at the optimizer's iterations",
          "[callbacks][tensorboard]") {
  const ScratchDir scratch("tensorboard_eval");
  Sequential m = fixture_model();
  m.fit(ramp(16, 3, 0.1), ramp(16, 1, 0.7), {.batch_size = 8, .epochs = 1, .verbose = 0});
  const auto scores = m.evaluate(ramp(8, 3, 0.2), ramp(8, 1, 0.3),
                                 {.verbose = 0, .callbacks = {TensorBoard(scratch.path().string(), {.write_graph = false})}});
  const auto val = read_run(scratch.path(), "validation");
  CHECK(scalar_of(find(val, "evaluation_loss_vs_iterations", 2)) == static_cast<float>(scores.at("loss")));
  CHECK(scalar_of(find(val, "evaluation_mae_vs_iterations", 2)) == static_cast<float>(scores.at("mae")));
}

TEST_CASE("TensorBoard refuses the options it cannot honour, naming them", "[callbacks][tensorboard]") {
  using callbacks::TensorBoardOptions;
  CHECK_THROWS_WITH(TensorBoard("logs", {.profile_batch = 2}), Catch::Contains("profile_batch=2"));
  CHECK_THROWS_WITH(TensorBoard("logs", {.embeddings_freq = 1}), Catch::Contains("embeddings_freq=1"));
  CHECK_THROWS_WITH(TensorBoard("logs", {.write_images = true}), Catch::Contains("write_images"));
  CHECK_THROWS_WITH(TensorBoard("logs", {.histogram_freq = -1}), Catch::Contains("histogram_freq"));
  CHECK_THROWS_AS(TensorBoardOptions{.update_freq = "sometimes"}, ValueError);
  CHECK_THROWS_AS(TensorBoardOptions{.update_freq = 0}, ValueError);
  CHECK(callbacks::UpdateFreq("batch").batches() == 1);
  CHECK(callbacks::UpdateFreq("epoch").per_epoch());
}

TEST_CASE("TensorBoard names the log directory it cannot create", "[callbacks][tensorboard]") {
  const ScratchDir scratch("tensorboard_bad");
  std::ofstream(scratch / "file") << "x";  // a file where the run folders should go
  Sequential m = fixture_model();
  CHECK_THROWS_WITH(m.fit(ramp(8, 3, 0.1), ramp(8, 1, 0.7),
                          {.epochs = 1, .verbose = 0, .callbacks = {TensorBoard(scratch / "file")}}),
                    Catch::Contains(scratch / "file"));
}
