// SPDX-License-Identifier: Apache-2.0
// Keras's utilities (issue 22) against what real Keras returns for the same input
// (tests/fixtures/keras_utils.json and the image/text directories under
// tests/fixtures/keras_utils, written by make_keras_utils_fixtures.py with keras 3.15.1):
// to_categorical, pad_sequences, timeseries_dataset_from_array, image_ and
// text_dataset_from_directory, clone_model, summary's options, fit's validation_freq and
// validation_batch_size.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>
#include <lamina/data_utils.hpp>
#include <lamina/lamina.hpp>
#include <nlohmann/json.hpp>

using namespace lamina;
using json = nlohmann::json;
using Catch::Matchers::Contains;

namespace {

const json& fixtures() {
  static const json all = [] {
    std::ifstream in(LAMINA_TEST_FIXTURES "/keras_utils.json");
    return json::parse(in);
  }();
  return all;
}

const std::string kDir = LAMINA_TEST_FIXTURES "/keras_utils/";

std::vector<double> values_of(const Tensor& t) {
  const Tensor d = t.to(Device::cpu()).astype(float64);
  return {d.data<double>(), d.data<double>() + d.numel()};
}

std::vector<std::int64_t> shape_of(const Tensor& t) { return {t.shape().begin(), t.shape().end()}; }

// Keras's array (shape and values) against lamina's, within 1e-5 relative.
void check_array(const Tensor& got, const json& want) {
  REQUIRE(shape_of(got) == want["shape"].get<std::vector<std::int64_t>>());
  const std::vector<double> g = values_of(got), w = want["values"].get<std::vector<double>>();
  REQUIRE(g.size() == w.size());
  double worst = 0;
  for (std::size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::abs(g[i] - w[i]) / std::max(1.0, std::abs(w[i])));
  CHECK(worst <= 1e-5);
}

// Every element of a dataset, each component concatenated along the batch axis, and the batch sizes.
std::pair<std::vector<Tensor>, std::vector<std::int64_t>> gather(const Dataset& ds) {
  std::vector<std::vector<Tensor>> parts;
  std::vector<std::int64_t> sizes;
  for (const Element& e : ds) {
    parts.resize(e.size());
    for (std::size_t i = 0; i < e.size(); ++i) parts[i].push_back(e[i]);
    sizes.push_back(e[0].shape()[0]);
  }
  std::vector<Tensor> out;
  for (auto& p : parts) out.push_back(concatenate(p, 0));
  return {out, sizes};
}

std::vector<std::string> relative(const std::vector<std::string>& paths, const std::string& root) {
  std::vector<std::string> out;
  for (const std::string& p : paths) {
    REQUIRE(p.rfind(root + "/", 0) == 0);
    out.push_back(p.substr(root.size() + 1));
  }
  return out;
}

// The messages of what `f` throws, nested exceptions (a dataset stage's cause) included.
std::string thrown_by(const std::function<void()>& f) {
  std::string all;
  std::function<void(const std::exception&)> walk = [&](const std::exception& e) {
    all += std::string(e.what()) + "\n";
    try {
      std::rethrow_if_nested(e);
    } catch (const std::exception& inner) {
      walk(inner);
    }
  };
  try {
    f();
  } catch (const std::exception& e) {
    walk(e);
  }
  return all;
}

}  // namespace

TEST_CASE("to_categorical gives Keras's one-hot rows and drops a trailing axis of 1", "[utils][keras_utils]") {
  for (const auto& [name, c] : fixtures()["to_categorical"].items()) {
    INFO(name);
    std::vector<double> flat;
    std::vector<std::int64_t> shape{static_cast<std::int64_t>(c["y"].size())};
    for (const json& v : c["y"]) {
      if (v.is_array()) {
        if (shape.size() == 1) shape.push_back(static_cast<std::int64_t>(v.size()));
        for (const json& e : v) flat.push_back(e.get<double>());
      } else {
        flat.push_back(v.get<double>());
      }
    }
    const Tensor y = Tensor::from_vector(flat, Shape(shape)).astype(int32);
    check_array(utils::to_categorical(y, c["num_classes"].get<std::int64_t>()), c["out"]);
  }
  CHECK_THROWS_AS(utils::to_categorical(Tensor::from_vector<double>({0, 3}, Shape({2})), 3), ValueError);
  CHECK_THROWS_WITH(utils::to_categorical(Tensor::from_vector<double>({0, -1}, Shape({2}))), Contains("-1"));
}

TEST_CASE("pad_sequences matches Keras for every padding and truncating with maxlen, value and dtype",
          "[utils][keras_utils]") {
  const json& f = fixtures()["pad_sequences"];
  const auto ints = f["sequences"].get<std::vector<std::vector<std::int64_t>>>();
  for (const json& c : f["cases"]) {
    INFO(c.dump().substr(0, 120));
    const utils::PadSequencesOptions o{.maxlen = c["maxlen"].get<std::int64_t>(),
                                       .dtype = c["dtype"] == "float32" ? float32 : int32,
                                       .padding = c["padding"].get<std::string>(),
                                       .truncating = c["truncating"].get<std::string>(),
                                       .value = c["value"].get<double>()};
    const Tensor got = c.contains("float_sequences")
                           ? utils::pad_sequences(c["float_sequences"].get<std::vector<std::vector<double>>>(), o)
                           : utils::pad_sequences(ints, o);
    CHECK(got.dtype() == o.dtype);
    check_array(got, c["out"]);
  }
  CHECK_THROWS_WITH(utils::pad_sequences(ints, {.padding = "middle"}), Contains("padding") && Contains("middle"));
}

TEST_CASE("timeseries_dataset_from_array windows, targets and batches match Keras", "[utils][keras_utils]") {
  const json& f = fixtures()["timeseries"];
  const auto tensor = [](const json& a) {
    return Tensor::from_vector(a["values"].get<std::vector<double>>(), Shape(a["shape"].get<std::vector<std::int64_t>>())).astype(float32);
  };
  const Tensor data = tensor(f["data"]), targets = tensor(f["targets"]);
  for (const json& c : f["cases"]) {
    INFO(c["kwargs"].dump());
    const json& kw = c["kwargs"];
    utils::TimeseriesOptions o;
    o.sequence_stride = kw.value("sequence_stride", 1);
    o.sampling_rate = kw.value("sampling_rate", 1);
    o.batch_size = kw.value("batch_size", 128);
    if (kw.contains("start_index")) o.start_index = kw["start_index"].get<std::int64_t>();
    if (kw.contains("end_index")) o.end_index = kw["end_index"].get<std::int64_t>();
    const bool no_targets = c.value("no_targets", false);
    const Dataset ds = utils::timeseries_dataset_from_array(data, no_targets ? Tensor() : targets,
                                                            kw["sequence_length"].get<std::int64_t>(), o);
    const auto [parts, sizes] = gather(ds);
    CHECK(sizes == c["batch_sizes"].get<std::vector<std::int64_t>>());
    REQUIRE(parts.size() == (no_targets ? 1u : 2u));
    check_array(parts[0], c["x"]);
    if (!no_targets) check_array(parts[1], c["y"]);
  }
  SECTION("shuffled windows are the same windows, each with its own target") {
    const Dataset ds = utils::timeseries_dataset_from_array(data, targets, 4, {.batch_size = 5, .shuffle = true, .seed = 3});
    const auto [parts, sizes] = gather(ds);
    const std::vector<double> x = values_of(parts[0]), y = values_of(parts[1]);
    std::set<double> starts;
    for (std::size_t w = 0; w < y.size(); ++w) {
      CHECK(x[w * 8] == 2 * (y[w] - 100));  // window w starts at row y - 100, whose first value is 2 * row
      starts.insert(y[w]);
    }
    CHECK(starts.size() == 17);
    CHECK(y != std::vector<double>(starts.begin(), starts.end()));
  }
  CHECK_THROWS_WITH(utils::timeseries_dataset_from_array(data, targets, 4, {.start_index = 25}), Contains("start_index"));
  CHECK_THROWS_WITH(utils::timeseries_dataset_from_array(data, targets, 4, {.sampling_rate = 0}), Contains("sampling_rate"));
}

namespace {

utils::ImageDatasetOptions image_options(const json& kw) {
  utils::ImageDatasetOptions o{.batch_size = 3, .image_size = {4, 6}, .shuffle = false, .verbose = false};
  o.color_mode = kw.value("color_mode", "rgb");
  o.crop_to_aspect_ratio = kw.value("crop_to_aspect_ratio", false);
  o.interpolation = kw.value("interpolation", "bilinear");
  if (kw.contains("label_mode")) o.label_mode = kw["label_mode"].is_null() ? "none" : kw["label_mode"].get<std::string>();
  if (kw.contains("class_names")) o.class_names = kw["class_names"].get<std::vector<std::string>>();
  return o;
}

}  // namespace

TEST_CASE("image_dataset_from_directory decodes PNG and JPEG and resizes them as Keras does",
          "[utils][keras_utils][images]") {
  for (const json& c : fixtures()["images"]["cases"]) {
    INFO(c["kwargs"].dump());
    const std::string root = kDir + c["directory"].get<std::string>();
    const utils::DirectoryDataset ds = utils::image_dataset_from_directory(root, image_options(c["kwargs"]));
    CHECK(ds.class_names == (c["class_names"].is_null() ? std::vector<std::string>{} : c["class_names"].get<std::vector<std::string>>()));
    CHECK(relative(ds.file_paths, root) == c["file_paths"].get<std::vector<std::string>>());
    const auto [parts, sizes] = gather(ds);
    REQUIRE(parts.size() == (c.contains("y") ? 2u : 1u));
    CHECK(parts[0].dtype() == float32);
    check_array(parts[0], c["x"]);
    if (c.contains("y")) check_array(parts[1], c["y"]);
  }
}

TEST_CASE("image_dataset_from_directory with a seed splits the same files as Keras, in Keras's order",
          "[utils][keras_utils][images]") {
  const std::string root = kDir + "images";
  for (const json& s : fixtures()["images"]["splits"]) {
    INFO(s.dump());
    utils::ImageDatasetOptions o{.batch_size = 2, .image_size = {4, 6}, .seed = s["seed"].get<std::uint64_t>(),
                                 .validation_split = s["validation_split"].get<double>(), .verbose = false};
    const auto [train, val] = utils::image_dataset_from_directory_both(root, o);
    CHECK(relative(train.file_paths, root) == s["train"].get<std::vector<std::string>>());
    CHECK(relative(val.file_paths, root) == s["validation"].get<std::vector<std::string>>());
    // The validation set is not shuffled: its labels come in Keras's order.
    CHECK(values_of(gather(val).first[1]) == s["validation_labels"].get<std::vector<double>>());
    // The training set is shuffled through a buffer: the same files, in lamina's order.
    o.subset = "training";
    const auto [parts, sizes] = gather(utils::image_dataset_from_directory(root, o));
    CHECK(parts[0].shape()[0] == static_cast<std::int64_t>(s["train"].size()));
    o.subset = "validation";
    CHECK(relative(utils::image_dataset_from_directory(root, o).file_paths, root) == s["validation"].get<std::vector<std::string>>());
  }
}

TEST_CASE("image_dataset_from_directory refuses what Keras refuses and names a bad file", "[utils][keras_utils][images]") {
  const std::string root = kDir + "images";
  CHECK_THROWS_WITH(utils::image_dataset_from_directory(root, {.validation_split = 0.2, .subset = "training"}),
                    Contains("seed"));
  CHECK_THROWS_WITH(utils::image_dataset_from_directory(root, {.label_mode = "binary", .verbose = false}),
                    Contains("exactly 2"));
  CHECK_THROWS_WITH(utils::image_dataset_from_directory(root, {.class_names = {"cats", "fish"}, .verbose = false}),
                    Contains("class_names"));
  CHECK_THROWS_WITH(utils::image_dataset_from_directory(root, {.color_mode = "cmyk"}), Contains("color_mode"));
  // TensorFlow decodes no JPEG into 4 channels; the error names the file.
  const auto rgba = utils::image_dataset_from_directory(root, {.color_mode = "rgba", .shuffle = false, .verbose = false});
  CHECK_THAT(thrown_by([&] { gather(rgba); }), Contains("b2.jpg") && Contains("4 channels"));

  const std::filesystem::path bad = std::filesystem::temp_directory_path() / "lamina_utils_bad_images";
  std::filesystem::remove_all(bad);
  std::filesystem::create_directories(bad / "a");
  std::filesystem::copy_file(kDir + "images/cats/c1.png", bad / "a" / "good.png");
  {
    std::ifstream in(kDir + "images/cats/c1.png", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(bad / "a" / "truncated.png", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    std::ofstream(bad / "a" / "text.jpg", std::ios::binary) << "hello";
  }
  const auto ds = utils::image_dataset_from_directory(bad.string(), {.image_size = {2, 2}, .shuffle = false, .verbose = false});
  const std::string message = thrown_by([&] { gather(ds); });
  CHECK_THAT(message, Contains("text.jpg") || Contains("truncated.png"));
  CHECK_THROWS_AS(utils::decode_image_file((bad / "a" / "truncated.png").string()), FileFormatError);
  CHECK_THROWS_WITH(utils::decode_image_file((bad / "a" / "text.jpg").string()), Contains("text.jpg"));
  CHECK(shape_of(utils::decode_image_file((bad / "a" / "good.png").string())) == std::vector<std::int64_t>{5, 7, 3});
  std::filesystem::remove_all(bad);
}

TEST_CASE("text_dataset_from_directory reads texts, labels, max_length and splits as Keras", "[utils][keras_utils]") {
  const std::string root = kDir + "texts";
  const json& f = fixtures()["texts"];
  for (const json& c : f["cases"]) {
    INFO(c["kwargs"].dump());
    utils::TextDatasetOptions o{.batch_size = 4, .shuffle = false, .verbose = false};
    o.max_length = c["kwargs"].value("max_length", 0);
    o.label_mode = c["kwargs"].value("label_mode", "int");
    const utils::DirectoryDataset ds = utils::text_dataset_from_directory(root, o);
    CHECK(ds.class_names == c["class_names"].get<std::vector<std::string>>());
    std::vector<std::string> texts;
    std::vector<Tensor> labels;
    for (const Element& e : ds) {
      for (std::string& t : utils::texts_of(e[0])) texts.push_back(t);
      labels.push_back(e[1]);
    }
    CHECK(texts == c["texts"].get<std::vector<std::string>>());
    check_array(concatenate(labels, 0), c["y"]);
  }
  const json& s = f["split"];
  const auto [train, val] = utils::text_dataset_from_directory_both(
      root, {.batch_size = 2, .seed = s["seed"].get<std::uint64_t>(), .validation_split = s["validation_split"].get<double>(),
             .verbose = false});
  std::vector<std::string> train_texts, val_texts;
  for (const Element& e : train)
    for (std::string& t : utils::texts_of(e[0])) train_texts.push_back(t);
  for (const Element& e : val)
    for (std::string& t : utils::texts_of(e[0])) val_texts.push_back(t);
  std::sort(train_texts.begin(), train_texts.end());
  CHECK(train_texts == s["train_sorted"].get<std::vector<std::string>>());
  CHECK(val_texts == s["validation"].get<std::vector<std::string>>());
}

namespace {

// The nested Sequential of the fixture script, with the same layer names.
Model outer_model() {
  Sequential inner({layers::Input({6}), layers::Dense(4, {.name = "inner_dense"}), layers::Dropout(0.1, "inner_drop")},
                   "inner");
  Sequential outer({layers::Input({3}), layers::Dense(6, {.name = "first"}), inner, layers::Dense(2, {.name = "head"})},
                   "outer");
  outer.get_layer("head")->set_trainable(false);
  return outer;
}

}  // namespace

TEST_CASE("summary's line_length, show_trainable and expand_nested print Keras's table", "[utils][keras_utils][summary]") {
  const Model outer = outer_model();
  for (const auto& [name, c] : fixtures()["summary"].items()) {
    if (name.rfind("functional", 0) == 0) continue;
    INFO(name);
    const json& kw = c["kwargs"];
    const SummaryOptions o{.line_length = kw.value("line_length", 0), .expand_nested = kw.value("expand_nested", false),
                           .show_trainable = kw.value("show_trainable", false)};
    CHECK(outer.summary_string(o) == c["text"].get<std::string>());
  }
  const KerasTensor a = layers::Input({4}, {.name = "a"}), b = layers::Input({4}, {.name = "b"});
  const KerasTensor sum = layers::Add("add")({layers::Dense(4, {.name = "da"})(a), layers::Dense(4, {.name = "db"})(b)});
  const Model branchy({a, b}, layers::Dense(1, {.name = "out"})(sum), "branchy");
  CHECK(branchy.summary_string({.show_trainable = true}) == fixtures()["summary"]["functional_trainable"]["text"].get<std::string>());
  CHECK(branchy.summary_string({.line_length = 120}) == fixtures()["summary"]["functional_wide"]["text"].get<std::string>());
  // A nested Functional model lists its InputLayer too; its rows have no connections.
  const KerasTensor fa = layers::Input({3}, {.name = "fa"});
  const Model func(fa, layers::Dense(2, {.name = "fd"})(fa), "func");
  const KerasTensor top = layers::Input({3}, {.name = "top"});
  const Model wrap(top, layers::Dense(1, {.name = "tail"})(func(top)), "wrap");
  CHECK(wrap.summary_string({.expand_nested = true, .show_trainable = true}) ==
        fixtures()["summary"]["functional_nested"]["text"].get<std::string>());
  CHECK_THROWS_WITH(outer.summary_string({.line_length = 10}), Contains("line_length"));
}

TEST_CASE("clone_model rebuilds the architecture with fresh weights", "[utils][keras_utils]") {
  Model outer = outer_model();
  const Model copy = models::clone_model(outer);
  CHECK(copy.to_json() == outer.to_json());
  CHECK(copy.name() == "outer");
  REQUIRE(copy.get_weights().size() == outer.get_weights().size());
  CHECK(values_of(copy.get_weights()[0]) != values_of(outer.get_weights()[0]));
  // Same architecture: the original's weights give the original's predictions.
  Model same = models::clone_model(outer);
  same.set_weights(outer.get_weights());
  const Tensor x = Tensor::from_vector<double>({0.1, -0.2, 0.3, 0.5, 0.4, -0.6}, Shape({2, 3})).astype(float32);
  CHECK(values_of(same.predict(x)) == values_of(outer.predict(x)));

  // A shared layer stays shared (one set of weights), as in Keras.
  const KerasTensor in = layers::Input({3}, {.name = "in"});
  auto shared = layers::Dense(3, {.name = "sh"});
  const Model twice(in, shared(shared(in)), "ff");
  const Model twice_copy = models::clone_model(twice);
  CHECK(twice_copy.get_weights().size() == 2);
  CHECK(twice_copy.layers().size() == 2);
}

TEST_CASE("fit's validation_freq and validation_batch_size validate on Keras's epochs and batches",
          "[utils][keras_utils][fit]") {
  struct Count : Callback {
    std::vector<int> batches;
    void on_test_begin(const Logs&) override { batches.push_back(0); }
    void on_test_batch_end(std::int64_t, const Logs&) override { ++batches.back(); }
  };
  std::vector<double> xs;
  for (int i = 0; i < 24; ++i) xs.push_back(-1 + 2.0 * i / 23);
  const Tensor x = Tensor::from_vector(xs, Shape({12, 2})).astype(float32);
  std::vector<double> ys;
  for (int i = 0; i < 12; ++i) ys.push_back(xs[static_cast<std::size_t>(2 * i)] * 0.5);
  const Tensor target = Tensor::from_vector(ys, Shape({12, 1})).astype(float32);
  for (const json& c : fixtures()["fit"]) {
    INFO(c["kwargs"].dump());
    const json& kw = c["kwargs"];
    Sequential m({layers::Input({2}), layers::Dense(1)});
    m.compile({.optimizer = "sgd", .loss = "mse"});
    auto count = std::make_shared<Count>();
    FitOptions o{.batch_size = 5, .epochs = 4, .verbose = 0, .callbacks = {count}};
    if (kw.contains("validation_freq"))
      o.validation_freq = kw["validation_freq"].is_array() ? ValidationFreq(kw["validation_freq"].get<std::vector<int>>())
                                                           : ValidationFreq(kw["validation_freq"].get<int>());
    o.validation_batch_size = kw.value("validation_batch_size", 0);
    if (kw.contains("validation_split")) o.validation_split = kw["validation_split"].get<double>();
    else o.validation_data = ValidationData(std::pair{x.slice(0, 10), target.slice(0, 10)});
    const History h = m.fit(x, target, o);
    CHECK(h.history.at("loss").size() == c["loss_count"].get<std::size_t>());
    CHECK((h.history.count("val_loss") ? h.history.at("val_loss").size() : 0) == c["val_loss_count"].get<std::size_t>());
    CHECK(count->batches == c["test_batches"].get<std::vector<int>>());
  }
  Sequential m({layers::Input({2}), layers::Dense(1)});
  m.compile({.optimizer = "sgd", .loss = "mse"});
  CHECK_THROWS_WITH(m.fit(x, target, {.verbose = 0, .validation_split = 0.25, .validation_freq = 0}), Contains("validation_freq"));
}
