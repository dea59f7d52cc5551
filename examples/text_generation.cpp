// SPDX-License-Identifier: Apache-2.0
// A character-level LSTM language model trained on the GNU GPL v3 text that Debian ships in
// /usr/share/common-licenses (base-files). Prints the per-character loss of every epoch and text
// sampled from the model at two temperatures.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <lamina/lamina.hpp>

using namespace lamina;

namespace {
// The next character drawn from probabilities sharpened (temperature < 1) or flattened (> 1),
// with a uniform draw from lamina's seeded stream (the same text on any machine).
int sample(const std::vector<float>& probs, double temperature) {
  std::vector<double> w(probs.size());
  double total = 0;
  for (std::size_t i = 0; i < probs.size(); ++i)
    total += w[i] = std::exp(std::log(std::max<double>(probs[i], 1e-12)) / temperature);
  double u = random_uniform({1}, 0.0, total, float64).item();
  for (std::size_t i = 0; i + 1 < w.size(); ++i)
    if ((u -= w[i]) < 0) return static_cast<int>(i);
  return static_cast<int>(w.size()) - 1;
}
}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "/usr/share/common-licenses/GPL-3";
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return 1;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();

  // Vocabulary: id 0 stays unused so that an Embedding with mask_zero could pad with it.
  std::map<char, int> id_of;
  std::vector<char> char_of{'\0'};
  for (char ch : text)
    if (!id_of.count(ch)) {
      id_of[ch] = static_cast<int>(char_of.size());
      char_of.push_back(ch);
    }
  const std::int64_t vocab = static_cast<std::int64_t>(char_of.size());
  const std::int64_t window = 40, stride = 3;
  const std::int64_t n = (static_cast<std::int64_t>(text.size()) - window - 1) / stride;
  Tensor x = Tensor::empty({n, window});
  Tensor y = Tensor::empty({n}, int64);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t t = 0; t < window; ++t) x.data<float>()[i * window + t] = id_of[text[i * stride + t]];
    y.data<std::int64_t>()[i] = id_of[text[i * stride + window]];
  }
  std::printf("%s: %zu characters, %lld distinct, %lld training windows\n", path.c_str(), text.size(),
              static_cast<long long>(vocab - 1), static_cast<long long>(n));

  set_seed(7);
  Sequential model({
      layers::Input({window}),
      layers::Embedding(vocab, 32),
      layers::LSTM(128),
      layers::Dense(vocab, {.activation = "softmax"}),
  });
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 4e-3}),
                 .loss = "sparse_categorical_crossentropy"});
  History history = model.fit(x, y, {.batch_size = 128, .epochs = 10, .verbose = 0});
  const auto& losses = history.history.at("loss");
  for (std::size_t e = 0; e < losses.size(); ++e)
    std::printf("epoch %2zu: loss %.4f nats/char\n", e + 1, losses[e]);

  const std::string seed = text.substr(text.find("The licenses for most software"), window);
  for (double temperature : {0.5, 1.0}) {
    std::string generated = seed;
    Tensor context = Tensor::empty({1, window});
    for (int k = 0; k < 300; ++k) {
      for (std::int64_t t = 0; t < window; ++t)
        context.data<float>()[t] = id_of[generated[generated.size() - window + t]];
      Tensor probs = model.predict(context, {.verbose = 0});
      generated += char_of[sample(probs.to_vector<float>(), temperature)];
    }
    std::printf("\n--- temperature %.1f ---\n%s\n", temperature, generated.c_str());
  }
}
