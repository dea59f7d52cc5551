// SPDX-License-Identifier: Apache-2.0
// Functional models in summary() (Keras 3's "Connected to" column), and utils::plot_model's
// Graphviz DOT.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/merge.hpp>
#include <lamina/model.hpp>
#include <lamina/utils.hpp>

#include "support/capture.hpp"

using namespace lamina;
using lamina::testing::check_lines;
using Catch::Matchers::Contains;

namespace {

Model pair_model() {
  auto a = layers::Input({4}, {.name = "a"});
  auto b = layers::Input({4}, {.name = "b"});
  auto shared = layers::Dense(3, {.name = "shared"});
  auto s = layers::Add("add")({shared(a), shared(b)});
  return Model({a, b}, layers::Dense(1, {.name = "out"})(s), "pair");
}

}  // namespace

TEST_CASE("summary of a branching Functional model has the Connected to column as Keras 3 prints it",
          "[engine][functional][summary]") {
  // Keras 3 at its 80-column fallback: line_length 76, columns at 0.3 / 0.56 / 0.74, shrunk by
  // rich to 19 / 17 / 10 / 17 characters; a cell too long for its column wraps at spaces.
  const std::vector<std::string> want = {
      "Model: \"pair\"",
      "┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓",
      "┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃",
      "┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩",
      "│ a (InputLayer)      │ (None, 4)         │          0 │ -                 │",
      "├─────────────────────┼───────────────────┼────────────┼───────────────────┤",
      "│ b (InputLayer)      │ (None, 4)         │          0 │ -                 │",
      "├─────────────────────┼───────────────────┼────────────┼───────────────────┤",
      "│ shared (Dense)      │ (None, 3)         │         15 │ a[0][0], b[0][0]  │",
      "├─────────────────────┼───────────────────┼────────────┼───────────────────┤",
      "│ add (Add)           │ (None, 3)         │          0 │ shared[0][0],     │",
      "│                     │                   │            │ shared[1][0]      │",
      "├─────────────────────┼───────────────────┼────────────┼───────────────────┤",
      "│ out (Dense)         │ (None, 1)         │          4 │ add[0][0]         │",
      "└─────────────────────┴───────────────────┴────────────┴───────────────────┘",
      " Total params: 19 (76.00 B)",
      " Trainable params: 19 (76.00 B)",
      " Non-trainable params: 0 (0.00 B)",
  };
  check_lines(pair_model().summary_string(), want);
}

TEST_CASE("summary of a chain-shaped Functional model uses the Sequential layout with its InputLayer",
          "[engine][functional][summary]") {
  auto x = layers::Input({784}, {.name = "pixels"});
  auto h = layers::Dense(64, {.activation = "relu", .name = "hidden"})(x);
  Model m(x, layers::Dense(10, {.name = "logits"})(h), "chain");
  const std::vector<std::string> want = {
      "Model: \"chain\"",
      "┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓",
      "┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃",
      "┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩",
      "│ pixels (InputLayer)             │ (None, 784)            │             0 │",
      "├─────────────────────────────────┼────────────────────────┼───────────────┤",
      "│ hidden (Dense)                  │ (None, 64)             │        50,240 │",
      "├─────────────────────────────────┼────────────────────────┼───────────────┤",
      "│ logits (Dense)                  │ (None, 10)             │           650 │",
      "└─────────────────────────────────┴────────────────────────┴───────────────┘",
      " Total params: 50,890 (198.79 KB)",
      " Trainable params: 50,890 (198.79 KB)",
      " Non-trainable params: 0 (0.00 B)",
  };
  check_lines(m.summary_string(), want);
}

TEST_CASE("model_to_dot has one node per layer and one edge per connection",
          "[engine][functional][plot]") {
  const std::string dot = utils::model_to_dot(pair_model(), {.show_shapes = true});
  CHECK_THAT(dot, Contains("digraph \"pair\" {"));
  for (const char* node : {"\"a\" [", "\"b\" [", "\"shared\" [", "\"add\" [", "\"out\" ["})
    CHECK_THAT(dot, Contains(node));
  for (const char* edge : {"\"a\" -> \"shared\";", "\"b\" -> \"shared\";", "\"shared\" -> \"add\";",
                           "\"out\"", "\"add\" -> \"out\";"})
    CHECK_THAT(dot, Contains(edge));
  // The shared Dense feeds the Add twice (once per call).
  std::size_t count = 0;
  for (std::size_t at = dot.find("\"shared\" -> \"add\""); at != std::string::npos;
       at = dot.find("\"shared\" -> \"add\"", at + 1))
    ++count;
  CHECK(count == 2);
  // Shapes as record fields, with DOT's special characters escaped.
  CHECK_THAT(dot, Contains("{add (Add)|{input:|output:}|{(None, 3), (None, 3)|(None, 3)}}"));
  CHECK_THAT(utils::model_to_dot(pair_model()), !Contains("input:"));
  Sequential seq({layers::Input({3}), layers::Dense(2, {.name = "only"})});
  CHECK_THAT(utils::model_to_dot(seq), Contains("-> \"only\";"));
}

TEST_CASE("plot_model writes DOT files and names the missing dot program for images",
          "[engine][functional][plot]") {
  const std::string path = "lamina_test_plot_model.dot";
  utils::plot_model(pair_model(), path, {.show_shapes = true});
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  CHECK_THAT(text.str(), Contains("digraph") && Contains("\"add\" -> \"out\";"));
  std::remove(path.c_str());
  CHECK_THROWS_AS(utils::plot_model(pair_model(), "model"), ValueError);
  if (std::system("command -v dot > /dev/null 2>&1") != 0) {
    CHECK_THROWS_AS(utils::plot_model(pair_model(), "lamina_test_plot.png"), ValueError);
    CHECK_THROWS_WITH(utils::plot_model(pair_model(), "lamina_test_plot.png"),
                      Contains("dot") && Contains("graphviz") && Contains("lamina_test_plot.png"));
  } else {
    utils::plot_model(pair_model(), "lamina_test_plot.svg");
    std::ifstream svg("lamina_test_plot.svg");
    CHECK(svg.good());
    std::remove("lamina_test_plot.svg");
  }
}
