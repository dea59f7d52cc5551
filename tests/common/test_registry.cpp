// SPDX-License-Identifier: Apache-2.0
// Registry<Entry> (src/common/registry.hpp), the table behind every lookup by name, and the layer
// specs built on it: what each built-in layer class declares about itself.
#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/input.hpp>
#include <lamina/layers/conv_lstm.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/recurrent.hpp>
#include <lamina/layers/wrappers.hpp>

#include "common/registry.hpp"
#include "engine/layer_spec.hpp"

using namespace lamina;

TEST_CASE("Registry finds entries by listed name and alias and lists only the names, in order", "[registry]") {
  Registry<int> r = {{"zeta", 1, {"z"}}, {"alpha", 2}};
  r.add("mid", 3, {"m", "M"});
  CHECK(r.find("zeta") == 1);
  CHECK(r.find("z") == 1);
  CHECK(r.find("M") == 3);
  CHECK_FALSE(r.find("nothing").has_value());
  CHECK(r.find_listed("zeta") == 1);
  CHECK_FALSE(r.find_listed("z").has_value());  // aliases are not listed names
  CHECK(r.resolve("m") == "mid");
  CHECK(r.resolve("nothing").empty());
  CHECK(r.names() == std::vector<std::string>{"zeta", "alpha", "mid"});
  CHECK(r.listing() == "'zeta', 'alpha', 'mid'");
  CHECK(r.listing("", " ") == "zeta alpha mid");
  REQUIRE(r.items().size() == 3);
  CHECK(r.items()[2].aliases == std::vector<std::string>{"m", "M"});
}

TEST_CASE("Registry replaces an entry in its place and update changes or adds one", "[registry]") {
  Registry<int> r = {{"a", 1}, {"b", 2}};
  r.add("a", 10, {"first"});
  CHECK(r.names() == std::vector<std::string>{"a", "b"});
  CHECK(r.find("first") == 10);
  r.update("b", [](int& e) { e += 5; });
  r.update("c", [](int& e) { e = 7; });  // absent: added, default-constructed first
  CHECK(r.find("b") == 7);
  CHECK(r.find("c") == 7);
  CHECK(r.names() == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("Registry stays consistent while threads register and look up at once", "[registry]") {
  Registry<int> r;
  constexpr int kThreads = 4, kEach = 500;
  std::atomic<int> misses{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string name = std::to_string(t) + "_" + std::to_string(i);
        r.add(name, i, {"alias_" + name});
        if (r.find("alias_" + name) != i) ++misses;
        (void)r.names();
      }
    });
  for (auto& th : threads) th.join();
  CHECK(misses == 0);
  CHECK(r.names().size() == static_cast<std::size_t>(kThreads * kEach));
}

TEST_CASE("Each built-in layer class declares its audit and its Keras serialization in its spec", "[registry]") {
  const auto dense = engine::find_layer_spec("Dense");
  REQUIRE(dense);
  CHECK(dense->keras_module == "keras.layers");
  CHECK(dense->honoured_keys.count("units"));
  CHECK(dense->build_config);
  const auto dropout = engine::find_layer_spec("Dropout");
  REQUIRE(dropout);
  CHECK_FALSE(dropout->build_config);  // Keras builds it at construction
  CHECK(dropout->call_kwargs == nlohmann::json{{"training", false}});
  const auto lstm = engine::find_layer_spec("LSTM");
  REQUIRE(lstm);
  CHECK(lstm->call_kwargs == nlohmann::json{{"training", false}, {"mask", nullptr}});
  CHECK(engine::find_layer_spec("GRU")->keras2_defaults == nlohmann::json{{"reset_after", false}});
  const auto input = engine::find_layer_spec("InputLayer");
  REQUIRE(input);
  CHECK_FALSE(input->audited);
  CHECK_FALSE(input->factory);  // the model reader builds it
  CHECK(engine::config_keys_honoured("InputLayer") == nullptr);
  CHECK(engine::find_layer_spec("NoSuchLayer") == nullptr);
  // tf.keras 2's LocallyConnected has no Keras 3 module: written as a custom object.
  CHECK(engine::find_layer_spec("LocallyConnected2D")->keras_module.empty());
}

TEST_CASE("Input belongs to the engine and is the same as layers::Input", "[registry]") {
  KerasTensor a = Input({3}, {.name = "engine_input"});
  KerasTensor b = layers::Input({3}, layers::InputOptions{.name = "layers_input"});
  CHECK(std::dynamic_pointer_cast<InputLayer>(a.layer) != nullptr);
  CHECK(std::dynamic_pointer_cast<layers::InputLayer>(b.layer) != nullptr);
  CHECK(a.shape == b.shape);
}

TEST_CASE("A layer lays out its Keras 3 variables itself", "[registry]") {
  auto dense = layers::Dense(4);
  dense(Tensor::zeros({2, 3}));
  auto layout = dense->keras3_layout();
  REQUIRE(layout.size() == 1);
  CHECK(layout[0].path == "vars");
  REQUIRE(layout[0].variables.size() == 2);
  CHECK(layout[0].variables[0].name == "kernel");

  auto lstm = layers::LSTM(2);
  lstm(Tensor::zeros({1, 3, 4}));
  layout = lstm->keras3_layout();
  REQUIRE(layout.size() == 2);
  CHECK(layout[1].path == "cell/vars");
  CHECK(layout[1].name == "lstm_cell");
  CHECK(layout[1].variables.size() == 3);

  auto bi = layers::Bidirectional(layers::LSTM(2));
  bi(Tensor::zeros({1, 3, 4}));
  layout = bi->keras3_layout();
  REQUIRE(layout.size() == 3);
  CHECK(layout[1].path == "backward_layer");
  CHECK(layout[1].layer == bi->sublayers()[1].get());
  CHECK(layout[2].path == "forward_layer");

  auto conv_lstm = layers::ConvLSTM2D(2, 3);
  conv_lstm(Tensor::zeros({1, 2, 4, 4, 1}));
  layout = conv_lstm->keras3_layout();
  REQUIRE(layout.size() == 2);
  CHECK(layout[1].path == "cell/vars");
  CHECK(layout[1].name == "conv_lstm_cell");  // Keras's name whatever the rank
}
