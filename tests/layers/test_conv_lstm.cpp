// SPDX-License-Identifier: Apache-2.0
// ConvLSTM1D/2D and LocallyConnected1D/2D from C++: shapes, arguments refused by name, gradients
// against finite differences, a 1x1 ConvLSTM against LSTM, statefulness and masks. Their
// agreement with real Keras is in tests/io/test_conv_lstm_files.cpp.
#include <catch2/catch.hpp>

#include <lamina/lamina.hpp>

#include "support/gradcheck.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using lamina::testing::seq;

namespace {
// float64 weights away from zero, so that every gate matters.
void set_weights(layers::RecurrentCellLayer& cell, double scale = 0.4) {
  cell.kernel = seq(cell.kernel.shape(), scale, float64, 0.05);
  cell.recurrent_kernel = seq(cell.recurrent_kernel.shape(), scale * 0.8, float64, -0.03);
  if (cell.bias.defined()) cell.bias = seq(cell.bias.shape(), 0.3, float64, 0.1);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  return max(abs(a.astype(float64) - b.astype(float64))).item();
}
}  // namespace

TEST_CASE("ConvLSTM output shapes follow Keras", "[convlstm]") {
  auto a = layers::ConvLSTM2D(4, 3);
  CHECK(a->compute_output_shape({-1, 5, 8, 7, 2}) == Shape{-1, 6, 5, 4});
  auto b = layers::ConvLSTM2D(4, {3, 2}, {.strides = {2, 1}, .padding = "same", .return_sequences = true});
  CHECK(b->compute_output_shape({-1, 5, 8, 7, 2}) == Shape{-1, 5, 4, 7, 4});
  auto c = layers::ConvLSTM2D(4, 2, {.data_format = "channels_first", .dilation_rate = 2, .return_sequences = true});
  CHECK(c->compute_output_shape({-1, 5, 2, 8, 7}) == Shape{-1, 5, 4, 6, 5});
  auto d = layers::ConvLSTM1D(3, 3, {.strides = 2, .return_state = true});
  CHECK(d->compute_output_shape({-1, 4, 9, 2}) == Shape{-1, 4, 3});
  CHECK(d->compute_output_shapes({{-1, 4, 9, 2}}) == std::vector<Shape>{{-1, 4, 3}, {-1, 4, 3}, {-1, 4, 3}});
  CHECK(a->class_name() == "ConvLSTM2D");
  CHECK(d->class_name() == "ConvLSTM1D");
  CHECK_THROWS_WITH(a->compute_output_shape({-1, 5, 8, 2}), Contains("must be 5-D"));
  CHECK_THROWS_WITH(a->compute_output_shape({-1, 5, 2, 2, 2}), Contains("larger than the input"));
  CHECK_THROWS_WITH(a->compute_output_shape({-1, 5, -1, 7, 2}), Contains("known spatial dimensions"));
  a->build_for({-1, 5, 8, 7, 2});
  CHECK(a->cell()->kernel.shape() == Shape{3, 3, 2, 16});
  CHECK(a->cell()->recurrent_kernel.shape() == Shape{3, 3, 4, 16});
  CHECK(a->cell()->bias.shape() == Shape{16});
  // unit_forget_bias: the forget block starts at one.
  CHECK(a->cell()->bias.slice(4, 8).to_vector<float>() == std::vector<float>(4, 1.0f));
  CHECK(a->cell()->bias.slice(0, 4).to_vector<float>() == std::vector<float>(4, 0.0f));
}

TEST_CASE("ConvLSTM refuses arguments Keras refuses, naming the class and the value", "[convlstm]") {
  CHECK_THROWS_WITH(layers::ConvLSTM2D(2, 3, {.strides = 2, .dilation_rate = 2}),
                    Contains("ConvLSTM2D") && Contains("strides > 1"));
  CHECK_THROWS_WITH(layers::ConvLSTM1D(2, 3, {.padding = "causal"}), Contains("ConvLSTM1D") && Contains("causal"));
  CHECK_THROWS_WITH(layers::ConvLSTM2D(2, 3, {.data_format = "nchw"}), Contains("data_format") && Contains("nchw"));
  CHECK_THROWS_WITH(layers::ConvLSTM2D(0, 3), Contains("filters"));
  CHECK_THROWS_WITH(layers::ConvLSTM2D(2, 3, {.dropout = 1.5}), Contains("dropout"));
}

TEST_CASE("a 1x1 ConvLSTM2D is an LSTM at every pixel", "[convlstm]") {
  const std::int64_t N = 2, T = 4, H = 3, W = 2, C = 3, F = 2;
  auto conv = layers::ConvLSTM2D(F, 1, {.return_sequences = true});
  auto lstm = layers::LSTM(F, {.return_sequences = true});
  conv->build_for({-1, T, H, W, C});
  lstm->build_for({-1, T, C});
  auto& cc = *conv->cell();
  auto& lc = *lstm->cell();
  set_weights(cc);
  lc.kernel = cc.kernel.reshape({C, 4 * F});
  lc.recurrent_kernel = cc.recurrent_kernel.reshape({F, 4 * F});
  lc.bias = cc.bias;
  const Tensor x = seq({N, T, H, W, C}, 0.9);
  NoGradGuard no_grad;
  const Tensor y = conv(x);  // (N, T, H, W, F)
  // The pixels as a batch of sequences: (N·H·W, T, C).
  const Tensor pixels = transpose(x, {0, 2, 3, 1, 4}).reshape({N * H * W, T, C});
  const Tensor want = transpose(lstm(pixels).reshape({N, H, W, T, F}), {0, 3, 1, 2, 4});
  CHECK(max_abs_diff(y, want) < 1e-12);
}

TEST_CASE("ConvLSTM gradients match finite differences", "[convlstm]") {
  SECTION("ConvLSTM2D, same padding, sequences") {
    auto layer = layers::ConvLSTM2D(2, 2, {.padding = "same", .return_sequences = true});
    layer->build_for({-1, 3, 3, 3, 2});
    auto& cell = *layer->cell();
    set_weights(cell);
    auto r = testing::gradcheck([&](const std::vector<Tensor>& in) { return layer(in[0]); }, {seq({2, 3, 3, 3, 2})},
                                {cell.kernel, cell.recurrent_kernel, cell.bias});
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("ConvLSTM1D, channels_first, strides, backwards, final state") {
    auto layer = layers::ConvLSTM1D(2, 2, {.strides = 2, .data_format = "channels_first", .go_backwards = true});
    layer->build_for({-1, 3, 2, 5});
    auto& cell = *layer->cell();
    set_weights(cell);
    auto r = testing::gradcheck([&](const std::vector<Tensor>& in) { return layer(in[0]); }, {seq({2, 3, 2, 5})},
                                {cell.kernel, cell.recurrent_kernel, cell.bias});
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("Bidirectional ConvLSTM1D") {
    auto bi = layers::Bidirectional(layers::ConvLSTM1D(2, 3, {.padding = "same", .return_sequences = true}));
    bi->build_for({-1, 3, 4, 2});
    auto& f = *bi->forward_layer()->cell();
    auto& b = *bi->backward_layer()->cell();
    set_weights(f);
    set_weights(b, 0.3);
    CHECK(bi->compute_output_shape({-1, 3, 4, 2}) == Shape{-1, 3, 4, 4});
    auto r = testing::gradcheck([&](const std::vector<Tensor>& in) { return bi(in[0]); }, {seq({2, 3, 4, 2})},
                                {f.kernel, f.recurrent_kernel, f.bias, b.kernel, b.recurrent_kernel, b.bias});
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("a stateful ConvLSTM carries its states between calls", "[convlstm]") {
  auto whole = layers::ConvLSTM1D(2, 2, {.padding = "same"});
  auto split = layers::ConvLSTM1D(2, 2, {.padding = "same", .stateful = true});
  whole->build_for({2, 6, 4, 3});
  split->build_for({2, 3, 4, 3});
  set_weights(*whole->cell());
  set_weights(*split->cell());
  const Tensor x = seq({2, 6, 4, 3}, 0.8);
  NoGradGuard no_grad;
  const Tensor want = whole(x);
  const Tensor first = transpose(transpose(x, {1, 0, 2, 3}).slice(0, 3), {1, 0, 2, 3});
  const Tensor second = transpose(transpose(x, {1, 0, 2, 3}).slice(3, 6), {1, 0, 2, 3});
  const Tensor fresh = split(first);
  CHECK(max_abs_diff(split(second), want) < 1e-12);
  CHECK(split->states().size() == 2);
  split->reset_states();
  CHECK(max_abs_diff(split(first), fresh) < 1e-12);
}

TEST_CASE("a masked ConvLSTM step keeps the states", "[convlstm]") {
  auto layer = layers::ConvLSTM1D(2, 2, {.padding = "same", .return_state = true});
  layer->build_for({-1, 4, 3, 2});
  set_weights(*layer->cell());
  const Tensor x = seq({2, 4, 3, 2});
  // The second sequence's last two steps are masked: its result is that of its first two steps.
  const Tensor mask = Tensor::from_vector<double>({1, 1, 1, 1, 1, 1, 0, 0}, {2, 4});
  NoGradGuard no_grad;
  const auto masked = layer->call_with_state(x, mask);
  const auto shorter = layer->call_with_state(transpose(transpose(x, {1, 0, 2, 3}).slice(0, 2), {1, 0, 2, 3}));
  CHECK(max_abs_diff(masked.output[1], shorter.output[1]) < 1e-12);
  CHECK(max_abs_diff(masked.states[1][1], shorter.states[1][1]) < 1e-12);
  CHECK(max_abs_diff(masked.output[0], shorter.output[0]) > 1e-3);
}

TEST_CASE("ConvLSTM configs round-trip", "[convlstm]") {
  auto layer = layers::ConvLSTM2D(3, {2, 3}, {.strides = {1, 2}, .padding = "same", .data_format = "channels_first",
                                              .recurrent_activation = "hard_sigmoid", .unit_forget_bias = false,
                                              .return_sequences = true, .go_backwards = true});
  const auto c = layer->get_config();
  CHECK(c["filters"] == 3);
  CHECK(c["kernel_size"] == nlohmann::json::array({2, 3}));
  CHECK(c["strides"] == nlohmann::json::array({1, 2}));
  CHECK(c["data_format"] == "channels_first");
  CHECK(c["unit_forget_bias"] == false);
  CHECK(!c.contains("units"));
  CHECK(!c.contains("cell"));
  auto again = layer_from_config("ConvLSTM2D", c);
  CHECK(again->get_config().dump() == [&] {
    auto d = c;
    d["name"] = again->name();
    return d.dump();
  }());
}

TEST_CASE("LocallyConnected layers: shapes, refusals and gradients in every implementation", "[convlstm]") {
  auto a = layers::LocallyConnected2D(3, {2, 3}, {.strides = {2, 1}});
  CHECK(a->compute_output_shape({-1, 6, 7, 2}) == Shape{-1, 3, 5, 3});
  a->build_for({-1, 6, 7, 2});
  CHECK(a->kernel.shape() == Shape{15, 12, 3});
  CHECK(a->bias.shape() == Shape{3, 5, 3});
  CHECK_THROWS_WITH(layers::LocallyConnected2D(2, 2, {.padding = "same"}),
                    Contains("LocallyConnected2D") && Contains("implementation 2 or 3"));
  CHECK_THROWS_WITH(layers::LocallyConnected1D(2, 2, {.implementation = 4}), Contains("implementation must be 1, 2 or 3"));
  CHECK_THROWS_WITH(a->compute_output_shape({-1, 6, -1, 2}), Contains("must be known"));
  for (int impl : {1, 2, 3})
    for (const char* format : {"channels_last", "channels_first"}) {
      INFO("implementation " << impl << " " << format);
      const bool first = std::string(format) == "channels_first";
      auto layer = layers::LocallyConnected2D(
          2, 2, {.padding = impl == 1 ? "valid" : "same", .data_format = format, .activation = "tanh", .implementation = impl});
      const Shape in = first ? Shape{2, 2, 3, 4} : Shape{2, 3, 4, 2};
      layer->build_for({-1, in[1], in[2], in[3]});
      layer->kernel = seq(layer->kernel.shape(), 0.5, float64, 0.02);
      layer->bias = seq(layer->bias.shape(), 0.2);
      auto r = testing::gradcheck([&](const std::vector<Tensor>& x) { return layer(x[0]); }, {seq(in)},
                                  {layer->kernel, layer->bias});
      INFO(r.report);
      CHECK(r.ok);
    }
  auto one = layers::LocallyConnected1D(2, 3, {.strides = 2, .implementation = 3});
  one->build_for({-1, 7, 2});
  one->kernel = seq(one->kernel.shape(), 0.5, float64);
  one->bias = seq(one->bias.shape(), 0.2);
  CHECK(one->kernel.shape() == Shape{3 * 3 * 2 * 2});
  auto r = testing::gradcheck([&](const std::vector<Tensor>& x) { return one(x[0]); }, {seq({2, 7, 2})},
                              {one->kernel, one->bias});
  INFO(r.report);
  CHECK(r.ok);
}
