// SPDX-License-Identifier: Apache-2.0
// PlotHistory's SVG: well-formed XML (checked by a small independent parser here), one chart per
// metric with its train and val curves, the plotted values, labelled axes.
#include <catch2/catch.hpp>

#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>

#include "callbacks/scripted.hpp"

using namespace lamina;
using namespace lamina::testing;
using callbacks::PlotHistory;

namespace {

// Well-formedness per XML 1.0 for what an SVG writer emits: elements properly nested, attributes
// name="value" without '<' or a raw '&', text without a raw '&' or '<', a single root,
// and optional <!DOCTYPE ...> / <?...?> prologue lines. Returns "" or what is wrong.
std::string xml_error(const std::string& doc) {
  std::vector<std::string> open;
  bool root_seen = false;
  auto entity_ok = [&](std::size_t at) {
    static const char* names[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (const char* n : names)
      if (doc.compare(at, std::strlen(n), n) == 0) return true;
    return doc.compare(at, 2, "&#") == 0 && doc.find(';', at) != std::string::npos;
  };
  auto name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' || c == '.'; };
  std::size_t i = 0;
  while (i < doc.size()) {
    if (doc[i] == '&') {
      if (!entity_ok(i)) return "raw '&' at " + std::to_string(i);
      ++i;
      continue;
    }
    if (doc[i] != '<') {
      if (open.empty() && !std::isspace(static_cast<unsigned char>(doc[i])))
        return "text outside the root at " + std::to_string(i);
      ++i;
      continue;
    }
    if (doc.compare(i, 2, "<?") == 0 || doc.compare(i, 2, "<!") == 0) {
      if (!open.empty() || root_seen) return "prologue after the root at " + std::to_string(i);
      i = doc.find('>', i);
      if (i == std::string::npos) return "unterminated declaration";
      ++i;
      continue;
    }
    const bool closing = doc.compare(i, 2, "</") == 0;
    std::size_t j = i + (closing ? 2 : 1);
    const std::size_t name_start = j;
    while (j < doc.size() && name_char(doc[j])) ++j;
    const std::string name = doc.substr(name_start, j - name_start);
    if (name.empty()) return "empty tag name at " + std::to_string(i);
    if (closing) {
      if (open.empty() || open.back() != name) return "mismatched </" + name + ">";
      open.pop_back();
      j = doc.find('>', j);
      if (j == std::string::npos) return "unterminated </" + name;
      i = j + 1;
      continue;
    }
    if (open.empty() && root_seen) return "second root <" + name + ">";
    bool self_closing = false;
    std::vector<std::string> attributes;
    for (;;) {
      while (j < doc.size() && std::isspace(static_cast<unsigned char>(doc[j]))) ++j;
      if (j >= doc.size()) return "unterminated <" + name;
      if (doc.compare(j, 2, "/>") == 0) { self_closing = true; j += 2; break; }
      if (doc[j] == '>') { ++j; break; }
      const std::size_t a = j;
      while (j < doc.size() && name_char(doc[j])) ++j;
      const std::string attribute = doc.substr(a, j - a);
      if (attribute.empty() || doc.compare(j, 2, "=\"") != 0) return "bad attribute in <" + name + ">";
      for (const auto& seen : attributes)
        if (seen == attribute) return "repeated attribute " + attribute;
      attributes.push_back(attribute);
      const std::size_t end = doc.find('"', j + 2);
      if (end == std::string::npos) return "unterminated attribute value";
      for (std::size_t k = j + 2; k < end; ++k) {
        if (doc[k] == '<') return "'<' in an attribute of <" + name + ">";
        if (doc[k] == '&' && !entity_ok(k)) return "raw '&' in an attribute of <" + name + ">";
      }
      j = end + 1;
    }
    root_seen = true;
    if (!self_closing) open.push_back(name);
    i = j;
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  return root_seen ? "" : "no root element";
}

// The data-values attribute of the polyline `cls` in the chart of `metric`.
std::string plotted(const std::string& svg, const std::string& metric, const std::string& cls) {
  const std::size_t chart = svg.find("<g class=\"chart\" data-metric=\"" + metric + "\">");
  if (chart == std::string::npos) return "(no chart)";
  const std::size_t end = svg.find("</g>", chart);
  const std::size_t line = svg.find("<polyline class=\"" + cls + "\" data-values=\"", chart);
  if (line == std::string::npos || line > end) return "(no curve)";
  const std::size_t a = svg.find("data-values=\"", line) + 13;
  return svg.substr(a, svg.find('"', a) - a);
}

}  // namespace

TEST_CASE("The test's XML checker rejects what is not well-formed", "[callbacks]") {
  CHECK(xml_error("<svg><g a=\"1\"/></svg>").empty());
  CHECK_FALSE(xml_error("<svg><g></svg>").empty());
  CHECK_FALSE(xml_error("<svg a=\"x & y\"></svg>").empty());
  CHECK_FALSE(xml_error("<svg a=1></svg>").empty());
  CHECK_FALSE(xml_error("<svg></svg><svg></svg>").empty());
  CHECK_FALSE(xml_error("<svg><text>a < b</text></svg>").empty());
}

TEST_CASE("PlotHistory writes one chart per metric with train and val curves after each epoch",
          "[callbacks]") {
  const ScratchDir dir("plot");
  const std::string path = dir / "history.svg";
  Sequential m = tiny_model();
  PlotHistory plot(path);
  plot.set_model(m);
  plot.on_train_begin({});
  plot.on_epoch_end(0, {{"loss", 0.9}, {"val_loss", 1.1}, {"accuracy", 0.5}, {"val_accuracy", 0.25}});
  std::string svg = slurp(path);
  CHECK(xml_error(svg).empty());
  CHECK(plotted(svg, "loss", "train") == "0.9");
  plot.on_epoch_end(1, {{"loss", 0.625}, {"val_loss", 0.8}, {"accuracy", 0.75}, {"val_accuracy", 0.5}});
  plot.on_epoch_end(2, {{"loss", 0.5}, {"val_loss", 0.7}, {"accuracy", 0.875}, {"val_accuracy", 0.625},
                        {"learning_rate", 0.001}});
  svg = slurp(path);
  INFO(svg);
  CHECK(xml_error(svg) == "");
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(plotted(svg, "loss", "train") == "0.9 0.625 0.5");
  CHECK(plotted(svg, "loss", "val") == "1.1 0.8 0.7");
  CHECK(plotted(svg, "accuracy", "train") == "0.5 0.75 0.875");
  CHECK(plotted(svg, "accuracy", "val") == "0.25 0.5 0.625");
  // A key that appears late is missing (nan) before it and has no val curve.
  CHECK(plotted(svg, "learning_rate", "train") == "nan nan 0.001");
  CHECK(plotted(svg, "learning_rate", "val") == "(no curve)");
  // Axis labels, epoch ticks 1..3, a tooltip per point.
  CHECK(svg.find(">epoch</text>") != std::string::npos);
  CHECK(svg.find("rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">accuracy</text>") != std::string::npos);
  for (const char* tick : {">1</text>", ">2</text>", ">3</text>"}) CHECK(svg.find(tick) != std::string::npos);
  CHECK(svg.find("<title>val loss, epoch 2: 0.8</title>") != std::string::npos);
  // The loss chart comes first.
  CHECK(svg.find("data-metric=\"loss\"") < svg.find("data-metric=\"accuracy\""));
}

TEST_CASE("PlotHistory escapes metric names and writes an HTML page for .html", "[callbacks]") {
  const std::string svg = PlotHistory::render_svg({0, 1}, {{"a<b&c", {1.0, 2.0}}});
  CHECK(xml_error(svg) == "");
  CHECK(svg.find("data-metric=\"a&lt;b&amp;c\"") != std::string::npos);
  const ScratchDir dir("plot_html");
  PlotHistory page(dir / "h.html");
  Sequential m = tiny_model();
  page.set_model(m);
  page.on_train_begin({});
  page.on_epoch_end(0, {{"loss", 2.0}});
  const std::string html = slurp(dir / "h.html");
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(xml_error(html) == "");
  CHECK(plotted(html, "loss", "train") == "2");
  CHECK_THROWS_AS(PlotHistory("x.svg", {.chart_width = 10}), ValueError);
}

TEST_CASE("PlotHistory plots the History of a real fit", "[callbacks]") {
  const ScratchDir dir("plot_fit");
  Sequential m = tiny_model(0.05);
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor y = Tensor::from_vector(std::vector<float>{1, 0, 1}, {3, 1});
  History h = m.fit(x, y, {.epochs = 3, .verbose = 0, .callbacks = {PlotHistory(dir / "fit.svg")},
                           .validation_data = std::pair{x, y}});
  const std::string svg = slurp(dir / "fit.svg");
  CHECK(xml_error(svg) == "");
  std::istringstream values(plotted(svg, "loss", "val"));
  for (double want : h.history.at("val_loss")) {
    double got = 0;
    values >> got;
    CHECK(got == Approx(want).epsilon(1e-8));
  }
}

TEST_CASE("PlotHistory's value axis gets about five round ticks and its legend sits over the curves",
          "[callbacks][training]") {
  // Losses from 0.55 down to 0.03 (padded by 5 %: about [0.004, 0.576]): the round step nearest
  // to a fifth of the range is 0.1, so the ticks read 0.1 ... 0.5.
  const std::string svg = PlotHistory::render_svg({0, 1, 2}, {{"loss", {0.55, 0.2, 0.03}}, {"val_loss", {0.4, 0.3, 0.25}}});
  CHECK(xml_error(svg) == "");
  for (const char* tick : {">0.1</text>", ">0.2</text>", ">0.3</text>", ">0.4</text>", ">0.5</text>"})
    CHECK(svg.find(tick) != std::string::npos);
  // The legend's white box comes after (so is drawn over) the last point of the last curve.
  const std::size_t box = svg.find("fill=\"white\" fill-opacity");
  REQUIRE(box != std::string::npos);
  CHECK(box > svg.rfind("<circle"));
  CHECK(svg.find(">val</text>") > box);
}
