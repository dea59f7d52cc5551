// SPDX-License-Identifier: Apache-2.0
// The preprocessing layers from C++: Normalization.adapt on arrays and Datasets, the lookups and
// encodings on hand-checked values, the augmentations (seeded determinism, inference behaviour,
// exact geometry at fixed factors, value ranges in training), configs and refusals by name.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <lamina/lamina.hpp>
#include <nlohmann/json.hpp>

using namespace lamina;
using json = nlohmann::json;
using Catch::Matchers::Contains;

namespace {

Tensor floats(std::vector<double> v, Shape s) { return Tensor::from_vector(v, s).astype(float32); }
Tensor ints(std::vector<std::int64_t> v, Shape s) { return Tensor::from_vector(v, s); }

// A (n, h, w, c) batch with distinct values.
Tensor ramp(Shape s) {
  return reshape(Tensor::arange(s.numel(), float32), s);
}

std::string refusal(const std::string& cls, json config) {
  json batch = json::array({nullptr, 4, 4, 3});
  if (config.contains("_input")) {
    batch = config["_input"];
    config.erase("_input");
  }
  const json model = {{"class_name", "Sequential"},
                      {"config",
                       {{"name", "s"},
                        {"layers", json::array({{{"class_name", "InputLayer"},
                                                 {"config", {{"batch_shape", batch}, {"name", "in"}}}},
                                                {{"class_name", cls}, {"config", config}}})}}}};
  try {
    Model::from_config(model);
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded)";
}

}  // namespace

// --- Normalization ---------------------------------------------------------------------------------

TEST_CASE("Normalization.adapt on an array learns the mean and biased variance per feature", "[preprocessing]") {
  // Keras's docstring example: mean (1, 8, 5), variance (1, 1, 1).
  const Tensor data = floats({0, 7, 4, 2, 9, 6, 0, 7, 4, 2, 9, 6}, {4, 3});
  auto norm = layers::Normalization();
  norm->adapt(data);
  CHECK(norm->own_weights()[0].value.to_vector<float>() == std::vector<float>{1, 8, 5});
  CHECK(norm->own_weights()[1].value.to_vector<float>() == std::vector<float>{1, 1, 1});
  CHECK(norm(floats({0, 7, 4}, {1, 3})).to_vector<float>() == std::vector<float>{-1, -1, -1});
  auto inv = layers::Normalization({.invert = true});
  inv->adapt(data);
  CHECK(inv(floats({1, 2, 3}, {1, 3})).to_vector<float>() == std::vector<float>{2, 10, 8});
  auto scalar = layers::Normalization({.axis = {}});
  scalar->adapt(floats({1, 2, 3, 4, 5}, {5}));
  const auto y = scalar(floats({1, 2, 3}, {3})).to_vector<float>();
  CHECK(y[0] == Approx(-1.4142135));
  CHECK(y[2] == Approx(0.0).margin(1e-7));
}

TEST_CASE("Normalization.adapt on a Dataset merges batches to the statistics of the whole", "[preprocessing]") {
  set_seed(3);
  const Tensor data = random_normal({37, 2, 3}, 2.0, 3.0);
  auto whole = layers::Normalization({.axis = {-1}});
  whole->adapt(data);
  auto batched = layers::Normalization({.axis = {-1}});
  batched->adapt(Dataset::from_tensor_slices(data).batch(5));
  for (int w = 0; w < 2; ++w) {
    const auto a = whole->own_weights()[w].value.to_vector<double>();
    const auto b = batched->own_weights()[w].value.to_vector<double>();
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(b[i] == Approx(a[i]).epsilon(1e-5));
  }
  // A (x, y) dataset adapts on x.
  auto xy = layers::Normalization();
  xy->adapt(Dataset::from_tensor_slices(data, Tensor::zeros({37})).batch(8));
  CHECK(xy->own_weights()[0].value.to_vector<double>()[0] == Approx(whole->own_weights()[0].value.to_vector<double>()[0]).epsilon(1e-5));
  // A built layer refuses data whose kept axis differs.
  CHECK_THROWS_AS(whole->adapt(random_normal({4, 2, 5})), ValueError);
}

TEST_CASE("Normalization with fixed statistics has no weights and refuses adapt", "[preprocessing]") {
  auto norm = layers::Normalization({.mean = floats({1, 2}, {2}), .variance = floats({4, 0}, {2})});
  const Tensor y = norm(floats({3, 2, 5, 3}, {2, 2}));
  CHECK(norm->own_weights().empty());
  // variance 0: divided by Keras's epsilon floor 1e-7, not by zero.
  CHECK(y.to_vector<float>()[0] == 1.0f);
  CHECK(y.to_vector<float>()[1] == 0.0f);
  CHECK(y.to_vector<float>()[3] == Approx(1e7));
  CHECK_THROWS_AS(norm->adapt(floats({1, 2}, {1, 2})), ValueError);
  CHECK_THROWS_AS(layers::Normalization({.mean = floats({1}, {1})}), ValueError);
  CHECK_THROWS_AS((layers::Normalization({.axis = {5}})(floats({1, 2}, {1, 2}))), ShapeError);
}

// --- Rescaling / Resizing / CenterCrop --------------------------------------------------------------

TEST_CASE("Rescaling computes in floats, per channel when given lists", "[preprocessing]") {
  const Tensor img = Tensor::full({1, 2, 2, 3}, 255.0, uint8);
  const Tensor y = layers::Rescaling(1.0 / 127.5, -1)(img);
  CHECK(y.dtype() == float32);
  CHECK(y.to_vector<float>()[0] == 1.0f);
  const Tensor z = layers::Rescaling(std::vector<double>{1, 2, 3}, std::vector<double>{0})(Tensor::ones({1, 1, 1, 3}));
  CHECK(z.to_vector<float>() == std::vector<float>{1, 2, 3});
}

TEST_CASE("CenterCrop crops the middle and Resizing refuses integer images", "[preprocessing]") {
  const Tensor x = ramp({1, 5, 6, 1});
  const Tensor c = layers::CenterCrop(3, 2)(x);
  CHECK(c.shape() == Shape{1, 3, 2, 1});
  CHECK(c.to_vector<float>() == std::vector<float>{8, 9, 14, 15, 20, 21});
  CHECK(layers::CenterCrop(3, 2)(x[0]).shape() == Shape{3, 2, 1});  // one image
  CHECK_THROWS_WITH(layers::Resizing(2, 2)(Tensor::zeros({1, 4, 4, 1}, uint8)), Contains("uint8") && Contains("float32"));
  CHECK_THROWS_AS(layers::Resizing(2, 2, {.interpolation = "bicubic"}), ValueError);
  CHECK_THROWS_AS(layers::Resizing(2, 2, {.crop_to_aspect_ratio = true, .pad_to_aspect_ratio = true}), ValueError);
}

// --- the categorical layers ----------------------------------------------------------------------

TEST_CASE("Discretization buckets as NumPy's digitize and encodes", "[preprocessing]") {
  auto d = layers::Discretization({0.0, 1.0, 2.5});
  const Tensor y = d(floats({-1, 0, 0.5, 1, 2.5, 9}, {2, 3}));
  CHECK(y.dtype() == int32);
  CHECK(y.to_vector<std::int32_t>() == std::vector<std::int32_t>{0, 1, 1, 2, 3, 3});
  const Tensor counts = layers::Discretization({0.0}, {.output_mode = "count"})(floats({-1, 2, 3}, {1, 3}));
  CHECK(counts.to_vector<float>() == std::vector<float>{1, 2});
  CHECK_THROWS_AS(layers::Discretization({1.0, 0.0}), ValueError);
  CHECK_THROWS_AS(layers::Discretization({0.0}, {.output_mode = "tf_idf"}), ValueError);
}

TEST_CASE("CategoryEncoding one_hot, multi_hot and count", "[preprocessing]") {
  const Tensor x = ints({0, 1, 1, 3, 3, 7}, {2, 3});
  CHECK(layers::CategoryEncoding(4)(x).to_vector<float>() == std::vector<float>{1, 1, 0, 0, 0, 0, 0, 1});
  CHECK(layers::CategoryEncoding(4, {.output_mode = "count"})(x).to_vector<float>() ==
        std::vector<float>{1, 2, 0, 0, 0, 0, 0, 2});
  const Tensor oh = layers::CategoryEncoding(3, {.output_mode = "one_hot"})(ints({2, 0}, {2, 1}));
  CHECK(oh.shape() == Shape{2, 3});
  CHECK(oh.to_vector<float>() == std::vector<float>{0, 0, 1, 1, 0, 0});
  CHECK_THROWS_WITH(layers::CategoryEncoding(4, {.output_mode = "count"})(ints({-1}, {1, 1})), Contains("non-negative"));
  CHECK_THROWS_AS(layers::CategoryEncoding(0), ValueError);
}

TEST_CASE("IntegerLookup maps to Keras's index layout and back", "[preprocessing]") {
  auto lookup = layers::IntegerLookup({12, 5, 7}, {.mask_token = 0});
  // [mask 0, OOV 1, 12 → 2, 5 → 3, 7 → 4]
  CHECK(lookup(ints({12, 5, 7, 0, 99}, {1, 5})).to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 3, 4, 0, 1});
  CHECK(lookup->get_vocabulary() == std::vector<std::int64_t>{0, -1, 12, 5, 7});
  auto back = layers::IntegerLookup({12, 5, 7}, {.mask_token = 0, .invert = true});
  CHECK(back(ints({2, 3, 4, 0, 1, 9}, {6})).to_vector<std::int64_t>() == std::vector<std::int64_t>{12, 5, 7, 0, -1, -1});
  auto buckets = layers::IntegerLookup({12}, {.num_oov_indices = 3});
  CHECK(buckets(ints({12, 3, 4, -1}, {4})).to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 0, 1, 2});
  auto strict = layers::IntegerLookup({1, 2}, {.num_oov_indices = 0});
  CHECK_THROWS_AS(strict(ints({3}, {1})), ValueError);
  CHECK_THROWS_AS(layers::IntegerLookup({1, 1}), ValueError);
  CHECK_THROWS_AS(layers::IntegerLookup({1, 0}, {.mask_token = 0}), ValueError);
  CHECK_THROWS_WITH(lookup(floats({1}, {1})), Contains("integer"));
}

TEST_CASE("Hashing masks and bins as Keras", "[preprocessing]") {
  auto h = layers::Hashing(5, {.mask_value = 0});
  const auto y = h(ints({0, 1, 2, 3, 0}, {5})).to_vector<std::int64_t>();
  CHECK(y[0] == 0);
  CHECK(y[4] == 0);
  for (int i = 1; i < 4; ++i) CHECK((y[i] >= 1 && y[i] < 5));
  // Floats hash as their truncated integers.
  CHECK(layers::Hashing(7)(floats({3.9}, {1})).item() == layers::Hashing(7)(ints({3}, {1})).item());
}

// --- the augmentations ---------------------------------------------------------------------------

TEST_CASE("The augmentation layers are identity at inference", "[preprocessing][random]") {
  const Tensor x = ramp({2, 5, 5, 3});
  std::vector<std::shared_ptr<Layer>> ls = {
      layers::RandomFlip(), layers::RandomRotation(0.3), layers::RandomZoom(0.2),
      layers::RandomTranslation(0.2, 0.2), layers::RandomContrast(0.5), layers::RandomBrightness(0.3)};
  for (auto& l : ls) {
    INFO(l->class_name());
    CHECK(allclose((*l)(x, false), x, 0, 0));
  }
  // RandomCrop's inference: the centred window of the target's aspect ratio, resized (not a crop).
  CHECK(allclose(layers::RandomCrop(3, 3)(x, false), layers::Resizing(3, 3)(x), 0, 0));
  CHECK_FALSE(allclose(layers::RandomCrop(3, 3)(x, false), layers::CenterCrop(3, 3)(x), 0, 0));
  CHECK(layers::RandomCrop(4, 2)(ramp({1, 4, 8, 1}), false).to_vector<float>() ==
        layers::Resizing(4, 2, {.crop_to_aspect_ratio = true})(ramp({1, 4, 8, 1})).to_vector<float>());
}

TEST_CASE("A seed fixes an augmentation layer's draws and unseeded layers follow set_seed", "[preprocessing][random]") {
  const Tensor x = ramp({4, 6, 6, 2});
  auto run = [&](std::optional<std::int64_t> seed) {
    auto r = layers::RandomRotation(0.5, {.seed = seed});
    return std::pair{r(x, true), r(x, true)};
  };
  const auto [a1, a2] = run(11);
  const auto [b1, b2] = run(11);
  CHECK(allclose(a1, b1, 0, 0));
  CHECK(allclose(a2, b2, 0, 0));
  CHECK_FALSE(allclose(a1, a2, 0, 0));  // the stream moves on between calls
  CHECK_FALSE(allclose(a1, run(12).first, 0, 0));
  set_seed(5);
  const Tensor g1 = layers::RandomBrightness(0.5)(x, true);
  set_seed(5);
  const Tensor g2 = layers::RandomBrightness(0.5)(x, true);
  CHECK(allclose(g1, g2, 0, 0));
}

TEST_CASE("Augmentations at fixed factors move pixels exactly", "[preprocessing][random]") {
  const Tensor x = ramp({1, 5, 5, 1});
  // A quarter turn of an odd square image is a permutation of its pixels: out(i, j) = in(j, 4 − i).
  const auto r = layers::RandomRotation({0.25, 0.25}, {.interpolation = "nearest"})(x, true).to_vector<float>();
  const auto v = x.to_vector<float>();
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j) CHECK(r[i * 5 + j] == v[j * 5 + (4 - i)]);
  // A shift by 0.4 of 5 pixels: two rows down, the first rows read fill_value.
  const auto t = layers::RandomTranslation({0.4, 0.4}, {0, 0}, {.fill_mode = "constant", .fill_value = -1})(x, true)
                     .to_vector<float>();
  for (int j = 0; j < 5; ++j) {
    CHECK(t[j] == -1);
    CHECK(t[2 * 5 + j] == v[j]);
  }
  // Zoom factor 0 leaves the image as it is.
  CHECK(allclose(layers::RandomZoom(layers::FactorRange(0, 0))(x, true), x, 0, 1e-5));
}

TEST_CASE("RandomFlip flips about half of the images, each whole", "[preprocessing][random]") {
  set_seed(1);
  const std::int64_t n = 400;
  const Tensor x = broadcast_to(ramp({1, 2, 3, 1}), {n, 2, 3, 1});
  const Tensor y = layers::RandomFlip("horizontal")(x, true);
  const Tensor same = sum(abs(y - x), {1, 2, 3}) == 0.0;
  const double kept = sum(same.astype(float32)).item();
  CHECK(kept > 150);
  CHECK(kept < 250);
  // Every flipped image is exactly the mirror image.
  const Tensor mirror = floats({2, 1, 0, 5, 4, 3}, {1, 2, 3, 1});
  const Tensor is_mirror = sum(abs(y - mirror), {1, 2, 3}) == 0.0;
  CHECK(sum((same + is_mirror).astype(float32)).item() == n);
}

TEST_CASE("RandomBrightness and RandomContrast stay within their ranges", "[preprocessing][random]") {
  set_seed(2);
  const Tensor x = random_uniform({64, 4, 4, 3}, 50, 200);
  const Tensor b = layers::RandomBrightness(0.2)(x, true);
  const Tensor delta = b - x;  // one delta per image, within 0.2·255
  CHECK(max(abs(delta)).item() <= 0.2 * 255 + 1e-3);
  CHECK(max(max(delta, {1, 2, 3}) - min(delta, {1, 2, 3})).item() < 1e-3);
  CHECK(max(b).item() <= 255);
  const Tensor c = layers::RandomContrast(0.5, {.value_range = {0, 1000}})(x, true);
  // Contrast keeps each image's per-channel mean and scales deviations by a factor in [1, 1.5].
  CHECK(max(abs(mean(c, {1, 2}) - mean(x, {1, 2}))).item() < 1e-2);
  const Tensor ratio = sum(abs(c - mean(c, {1, 2}, true)), {1, 2, 3}) / sum(abs(x - mean(x, {1, 2}, true)), {1, 2, 3});
  CHECK(min(ratio).item() >= 1.0 - 1e-4);
  CHECK(max(ratio).item() <= 1.5 + 1e-4);
}

TEST_CASE("RandomCrop in training takes a window of the input", "[preprocessing][random]") {
  const Tensor x = ramp({2, 6, 7, 1});
  auto crop = layers::RandomCrop(3, 4, {.seed = 9});
  std::set<double> corners;
  for (int k = 0; k < 20; ++k) {
    const Tensor y = crop(x, true);
    REQUIRE(y.shape() == Shape{2, 3, 4, 1});
    const auto v = y.to_vector<float>();
    const double top_left = v[0];
    const int r = static_cast<int>(top_left) / 7, c = static_cast<int>(top_left) % 7;
    CHECK(r <= 3);
    CHECK(c <= 3);
    CHECK(allclose(y, crop2d(x, r, 6 - r - 3, c, 7 - c - 4), 0, 0));  // the same window for the batch
    corners.insert(top_left);
  }
  CHECK(corners.size() > 3);
}

TEST_CASE("A model with augmentations trains and predicts deterministically", "[preprocessing][random]") {
  set_seed(4);
  Sequential m({layers::Input({6, 6, 1}), layers::Rescaling(1.0 / 255), layers::RandomFlip("horizontal", {.seed = 1}),
                layers::RandomRotation(0.1, {.seed = 2}), layers::RandomZoom(0.1, {}, {.seed = 3}), layers::Flatten(),
                layers::Dense(2)});
  m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.01}), .loss = "mse"});
  const Tensor x = random_uniform({8, 6, 6, 1}, 0, 255), y = random_normal({8, 2});
  m.fit(x, y, {.batch_size = 4, .epochs = 1, .verbose = 0});
  CHECK(allclose(m.predict(x), m.predict(x), 0, 0));
}

// --- configs -------------------------------------------------------------------------------------

TEST_CASE("Preprocessing configs round-trip and refuse what lamina cannot compute, by name", "[preprocessing]") {
  std::vector<std::shared_ptr<Layer>> ls = {
      layers::Normalization({.mean = floats({1, 2, 3}, {3}), .variance = floats({1, 1, 1}, {3})}),
      layers::Rescaling(0.5, 1), layers::Resizing(2, 3, {.interpolation = "nearest"}), layers::CenterCrop(2, 2),
      layers::RandomFlip("vertical", {.seed = 3}), layers::RandomRotation({-0.1, 0.2}, {.fill_mode = "wrap"}),
      layers::RandomZoom(0.2, layers::FactorRange(-0.1, 0.3)), layers::RandomTranslation(0.1, 0.2),
      layers::RandomContrast(0.3), layers::RandomBrightness({-0.2, 0.1}, {.value_range = {0, 1}}),
      layers::RandomCrop(2, 2, {.seed = 1})};
  for (auto& l : ls) {
    INFO(l->class_name());
    const json c = l->get_config();
    auto again = layer_from_config(l->class_name(), c);
    CHECK(again->get_config() == c);
  }
  CHECK_THAT(refusal("RandomFlip", {{"name", "f"}, {"data_format", "channels_first"}}),
             Contains("'f'") && Contains("data_format") && Contains("channels_first"));
  CHECK_THAT(refusal("RandomRotation", {{"name", "r"}, {"factor", 0.1}, {"fill_mode", "mirror"}}),
             Contains("'r'") && Contains("mirror"));
  CHECK_THAT(refusal("Resizing", {{"name", "z"}, {"height", 2}, {"width", 2}, {"interpolation", "lanczos3"}}),
             Contains("'z'") && Contains("lanczos3"));
  CHECK_THAT(refusal("Resizing", {{"name", "z"}, {"height", 2}, {"width", 2}, {"antialias", true}}),
             Contains("'z'") && Contains("antialias"));
  CHECK_THAT(refusal("IntegerLookup", {{"name", "l"}, {"vocabulary", json::array({"a", "b"})}, {"_input", {nullptr, 2}}}),
             Contains("'l'") && Contains("\"a\""));
  CHECK_THAT(refusal("IntegerLookup", {{"name", "l"}, {"vocabulary", nullptr}, {"_input", {nullptr, 2}}}),
             Contains("'l'") && Contains("vocabulary"));
  CHECK_THAT(refusal("CategoryEncoding", {{"name", "e"}, {"num_tokens", 3}, {"sparse", true}, {"_input", {nullptr, 2}}}),
             Contains("'e'") && Contains("sparse"));
  CHECK_THAT(refusal("Discretization", {{"name", "d"}, {"bin_boundaries", nullptr}, {"num_bins", 4}, {"_input", {nullptr, 2}}}),
             Contains("'d'") && Contains("bin_boundaries"));
  CHECK_THAT(refusal("Hashing", {{"name", "h"}, {"num_bins", 3}, {"mask_value", "x"}, {"_input", {nullptr, 2}}}),
             Contains("'h'") && Contains("mask_value"));
}
