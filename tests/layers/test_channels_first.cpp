// SPDX-License-Identifier: Apache-2.0
// data_format="channels_first" from C++ on every spatial layer that has it in Keras: each computes
// what its channels_last twin (same weights) computes on the transposed input, gradients flow
// through the transposes, configs write and read the value, and other values are refused naming
// the layer, the key and the value. Keras's own outputs: tests/io/test_channels_first_files.cpp.
#include <functional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <lamina/lamina.hpp>
#include <nlohmann/json.hpp>

#include "support/gradcheck.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using lamina::testing::seq;
using json = nlohmann::json;

namespace {

using Make = std::function<std::shared_ptr<Layer>(const std::string& data_format)>;

struct Case {
  std::string what;
  Make make;
  Shape x_last;  // the channels_last input; the channels_first one is its transpose
};

// (N, d1.., C) <-> (N, C, d1..).
std::vector<int> to_first(int ndim) {
  std::vector<int> perm{0, ndim - 1};
  for (int i = 1; i < ndim - 1; ++i) perm.push_back(i);
  return perm;
}
Shape first_shape(const Shape& s) {
  Shape out;
  for (int i : to_first(s.rank())) out.push_back(s[static_cast<std::size_t>(i)]);
  return out;
}

std::vector<Case> cases() {
  const Shape img{2, 6, 7, 3}, steps{2, 9, 3};
  using namespace layers;
  return {
      {"Conv2D", [](const std::string& f) { return Conv2D(4, {3, 2}, {.strides = {1, 2}, .padding = "same", .data_format = f, .activation = "relu"}).ptr(); }, img},
      {"Conv1D", [](const std::string& f) { return Conv1D(4, 3, {.padding = "causal", .data_format = f, .dilation_rate = 2}).ptr(); }, steps},
      {"Conv2DTranspose", [](const std::string& f) { return Conv2DTranspose(2, {3, 2}, {.strides = 2, .data_format = f}).ptr(); }, img},
      {"DepthwiseConv2D", [](const std::string& f) { return DepthwiseConv2D({2, 3}, {.data_format = f, .depth_multiplier = 2}).ptr(); }, img},
      {"SeparableConv2D", [](const std::string& f) { return SeparableConv2D(3, 2, {.data_format = f, .dilation_rate = {1, 2}}).ptr(); }, img},
      {"MaxPooling2D", [](const std::string& f) { return MaxPooling2D({2, 3}, {.strides = {2, 1}, .padding = "same", .data_format = f}).ptr(); }, img},
      {"AveragePooling2D", [](const std::string& f) { return AveragePooling2D(2, {.padding = "same", .data_format = f}).ptr(); }, img},
      {"MaxPooling1D", [](const std::string& f) { return MaxPooling1D(2, {.data_format = f}).ptr(); }, steps},
      {"AveragePooling1D", [](const std::string& f) { return AveragePooling1D(3, {.strides = 2, .padding = "same", .data_format = f}).ptr(); }, steps},
      {"GlobalMaxPooling2D", [](const std::string& f) { return GlobalMaxPooling2D({.data_format = f}).ptr(); }, img},
      {"GlobalAveragePooling2D keepdims", [](const std::string& f) { return GlobalAveragePooling2D({.data_format = f, .keepdims = true}).ptr(); }, img},
      {"GlobalMaxPooling1D keepdims", [](const std::string& f) { return GlobalMaxPooling1D({.data_format = f, .keepdims = true}).ptr(); }, steps},
      {"GlobalAveragePooling1D", [](const std::string& f) { return GlobalAveragePooling1D({.data_format = f}).ptr(); }, steps},
      {"ZeroPadding2D", [](const std::string& f) { return ZeroPadding2D({{1, 0}, {2, 1}}, {.data_format = f}).ptr(); }, img},
      {"ZeroPadding1D", [](const std::string& f) { return ZeroPadding1D({1, 2}, {.data_format = f}).ptr(); }, steps},
      {"Cropping2D", [](const std::string& f) { return Cropping2D({{1, 0}, {0, 2}}, {.data_format = f}).ptr(); }, img},
      {"UpSampling2D", [](const std::string& f) { return UpSampling2D({2, 1}, {.data_format = f}).ptr(); }, img},
      {"UpSampling2D bilinear", [](const std::string& f) { return UpSampling2D(2, {.data_format = f, .interpolation = "bilinear"}).ptr(); }, img},
      {"SpatialDropout2D", [](const std::string& f) { return SpatialDropout2D(0.3, {.data_format = f}).ptr(); }, img},
  };
}

}  // namespace

TEST_CASE("every spatial layer computes channels_first as channels_last on the transposed input", "[channels_first]") {
  for (const Case& c : cases()) {
    INFO(c.what);
    auto first = c.make("channels_first"), last = c.make("channels_last");
    const Tensor x_last = seq(c.x_last, 1.0, float32);
    const Tensor x_first = transpose(x_last, to_first(c.x_last.rank()));
    Tensor y_last = (*last)(x_last);
    Shape batchless = first_shape(c.x_last);
    batchless[0] = -1;
    first->build_for(batchless);
    // Keras's weight layouts do not depend on data_format.
    REQUIRE(first->weights().size() == last->weights().size());
    if (!last->weights().empty()) first->set_weights(last->get_weights());
    const Tensor y_first = (*first)(x_first);
    const Tensor want = y_last.ndim() >= 3 ? transpose(y_last, to_first(y_last.ndim())) : y_last;
    REQUIRE(y_first.shape() == want.shape());
    CHECK(allclose(y_first, want, 1e-6, 1e-6));
    Shape out = first->compute_output_shape(batchless);
    Shape got = y_first.shape();
    got[0] = -1;
    CHECK(out == got);
    CHECK(first->get_config()["data_format"] == "channels_first");
  }
}

TEST_CASE("Flatten channels_first flattens in channels_last order, as Keras", "[channels_first]") {
  const Tensor x_last = seq({2, 3, 4, 5}, 1.0, float32);
  const Tensor x_first = transpose(x_last, {0, 3, 1, 2});
  auto flat = layers::Flatten({.data_format = "channels_first", .name = "flat"});
  CHECK(flat->name() == "flat");
  CHECK(allclose(flat(x_first), layers::Flatten()(x_last), 0, 0));
  CHECK_FALSE(allclose(layers::Flatten()(x_first), layers::Flatten()(x_last), 0, 0));
  // A (batch, features) input has nothing to move.
  const Tensor x2 = seq({2, 6}, 1.0, float32);
  CHECK(allclose(flat(x2), x2, 0, 0));
  CHECK(flat->compute_output_shape({-1, 5, 3, 4}) == Shape{-1, 60});
  CHECK(flat->get_config()["data_format"] == "channels_first");
  CHECK(layers::Flatten("f")->get_config()["data_format"] == "channels_last");
}

TEST_CASE("channels_first configs round-trip and Keras's configs are read", "[channels_first]") {
  for (const Case& c : cases()) {
    INFO(c.what);
    auto layer = c.make("channels_first");
    const json config = layer->get_config();
    CHECK(config["data_format"] == "channels_first");
    auto again = layer_from_config(layer->class_name(), config);
    CHECK(again->get_config() == config);
    // Keras writes null for "the image_data_format() default" in hand-written configs.
    json null_format = config;
    null_format["data_format"] = nullptr;
    CHECK(layer_from_config(layer->class_name(), null_format)->get_config()["data_format"] == "channels_last");
  }
  auto flat = layer_from_config("Flatten", {{"name", "f"}, {"data_format", "channels_first"}});
  CHECK(flat->get_config()["data_format"] == "channels_first");
  // Keras 3's ZeroPadding1D writes data_format; its Cropping1D, UpSampling1D and SpatialDropout1D
  // have none.
  CHECK(layers::ZeroPadding1D(1)->get_config().contains("data_format"));
  CHECK_FALSE(layers::Cropping1D(1)->get_config().contains("data_format"));
  CHECK_FALSE(layers::UpSampling1D(2)->get_config().contains("data_format"));
  CHECK_FALSE(layers::SpatialDropout1D(0.1)->get_config().contains("data_format"));
}

TEST_CASE("a data_format other than channels_last or channels_first is refused naming the layer, key and value",
          "[channels_first]") {
  CHECK_THROWS_WITH(layers::Conv2D(2, 3, {.data_format = "NCHW"}),
                    "Conv2D: data_format must be \"channels_last\" or \"channels_first\", got \"NCHW\"");
  CHECK_THROWS_WITH(layers::MaxPooling1D(2, {.data_format = "channels_middle"}),
                    Contains("MaxPooling1D") && Contains("data_format") && Contains("channels_middle"));
  CHECK_THROWS_AS(layers::Flatten({.data_format = "nhwc"}), ValueError);
  CHECK_THROWS_AS(layers::SpatialDropout2D(0.1, {.data_format = "first"}), ValueError);
  CHECK_THROWS_AS(layers::GlobalAveragePooling2D({.data_format = ""}), ValueError);
  // Keras's Cropping1D has no data_format: lamina refuses channels_first rather than guess.
  CHECK_THROWS_WITH(layers::Cropping1D(1, {.data_format = "channels_first"}),
                    Contains("Cropping1D") && Contains("data_format=\"channels_first\""));
  CHECK_THROWS_AS(layers::UpSamplingLayer(1, {1, 2}, "nearest", "up", "channels_first"), ValueError);
  CHECK_THROWS_AS(layers::SpatialDropoutLayer(1, 0.1, "sd", "channels_first"), ValueError);

  auto model_with = [](const std::string& cls, json config) {
    config["name"] = "layer_x";
    const json model = {
        {"class_name", "Sequential"},
        {"config",
         {{"name", "s"},
          {"layers", json::array({{{"class_name", "InputLayer"}, {"config", {{"batch_shape", {nullptr, 3, 4, 4}}, {"name", "in"}}}},
                                  {{"class_name", cls}, {"config", config}}})}}}};
    try {
      Model::from_config(model);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(loaded)");
  };
  const std::string conv = model_with("Conv2D", {{"filters", 2}, {"kernel_size", {2, 2}}, {"data_format", "channels_middle"}});
  CHECK_THAT(conv, Contains("Conv2D 'layer_x'") && Contains("data_format") && Contains("channels_middle"));
  const std::string flat = model_with("Flatten", {{"data_format", "NCHW"}});
  CHECK_THAT(flat, Contains("Flatten 'layer_x'") && Contains("data_format") && Contains("NCHW"));
  const std::string up = model_with("UpSampling1D", {{"size", 2}, {"data_format", "channels_first"}});
  CHECK_THAT(up, Contains("UpSampling1D 'layer_x'") && Contains("data_format=\"channels_first\""));
  CHECK(model_with("MaxPooling2D", {{"pool_size", {2, 2}}, {"data_format", "channels_first"}}) == "(loaded)");
}

TEST_CASE("gradients flow through channels_first convolution and pooling", "[channels_first]") {
  SECTION("Conv2D, same padding, stride 2") {
    auto conv = layers::Conv2D(3, {3, 2}, {.strides = {2, 1}, .padding = "same", .data_format = "channels_first", .activation = "tanh"});
    conv->build_for({-1, 2, 5, 4});
    conv->kernel = seq(conv->kernel.shape(), 0.5, float64, 0.1);
    conv->bias = seq({3}, 0.2);
    auto r = testing::gradcheck([&](const std::vector<Tensor>& in) { return conv(in[0]); }, {seq({2, 2, 5, 4})},
                                {conv->kernel, conv->bias});
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("MaxPooling2D and AveragePooling1D") {
    auto pool = layers::MaxPooling2D({2, 3}, {.strides = {2, 1}, .padding = "same", .data_format = "channels_first"});
    auto r = testing::gradcheck([&](const std::vector<Tensor>& in) { return pool(in[0]); }, {seq({2, 3, 5, 4})});
    INFO(r.report);
    CHECK(r.ok);
    auto avg = layers::AveragePooling1D(3, {.strides = 2, .padding = "same", .data_format = "channels_first"});
    auto r1 = testing::gradcheck([&](const std::vector<Tensor>& in) { return avg(in[0]); }, {seq({2, 3, 7})});
    INFO(r1.report);
    CHECK(r1.ok);
  }
}

TEST_CASE("a channels_first CNN trains with fit", "[channels_first]") {
  set_seed(7);
  Sequential m({layers::Input({2, 6, 6}),
                layers::Conv2D(4, 3, {.padding = "same", .data_format = "channels_first", .activation = "relu"}),
                layers::MaxPooling2D(2, {.data_format = "channels_first"}),
                layers::Flatten({.data_format = "channels_first"}), layers::Dense(1)});
  m.compile({.optimizer = "adam", .loss = "mse"});
  const Tensor x = seq({16, 2, 6, 6}, 1.0, float32);
  const Tensor y = sum(x, {1, 2, 3}).reshape({16, 1}) * Tensor::scalar(0.05);
  const Tensor kernel_before = m.layers()[0]->get_weights()[0];
  History h = m.fit(x, y, {.batch_size = 8, .epochs = 15, .verbose = 0});
  CHECK(h.history.at("loss").back() < 0.5 * h.history.at("loss").front());
  CHECK_FALSE(allclose(m.layers()[0]->get_weights()[0], kernel_before, 0, 0));
}

TEST_CASE("SpatialDropout2D channels_first drops whole (sample, channel) maps on axis 1", "[channels_first]") {
  set_seed(3);
  const double rate = 0.5;
  const Tensor x = Tensor::ones({4, 5, 3, 2});
  const Tensor y = layers::SpatialDropout2D(rate, {.data_format = "channels_first"})(x, true);
  int dropped = 0, kept = 0;
  for (std::int64_t n = 0; n < 4; ++n)
    for (std::int64_t c = 0; c < 5; ++c) {
      const double first = y.at((n * 5 + c) * 6);
      CHECK((first == 0.0 || first == Approx(1 / (1 - rate))));
      (first == 0.0 ? dropped : kept) += 1;
      for (std::int64_t i = 0; i < 3; ++i)
        for (std::int64_t j = 0; j < 2; ++j) CHECK(y.at((n * 5 + c) * 6 + i * 2 + j) == first);
    }
  CHECK(dropped > 0);
  CHECK(kept > 0);
}
