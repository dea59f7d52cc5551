// SPDX-License-Identifier: Apache-2.0
// fuzz/entry_points.hpp — the loaders that read untrusted bytes, one entry per libFuzzer harness
// (fuzz/fuzz_harness.cpp) and for the regression test that replays fuzz/regressions/ in every
// build (tests/io/test_fuzz_regressions.cpp). Each entry takes the bytes of one file, hands them
// to the loader the way a user would (a file with the right extension, or a string), and lets a
// lamina Error out: that is a clean refusal. Anything else leaving it is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <lamina/datasets/dataset.hpp>
#include <lamina/datasets/datasets.hpp>
#include <lamina/layers/conv.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/normalization.hpp>
#include <lamina/layers/reshaping.hpp>
#include <lamina/model.hpp>
#include <lamina/models.hpp>
#include <lamina/npy.hpp>

#include "tensor/sizes.hpp"  // the library's own sources (src/): a test-only look inside

namespace lamina::fuzz {

/// The model whose weights the load_weights harness reads: one layer of each weight layout
/// (Conv2D kernel, BatchNormalization's four vectors, Dense kernel and bias). Its saved
/// .weights.h5 and legacy .h5 weights are seeds (fuzz/make_seeds.cpp).
inline Model weights_target() {
  return Sequential({layers::Input({6, 6, 1}), layers::Conv2D(2, 3, {.name = "conv"}),
                     layers::BatchNormalization({.name = "bn"}), layers::Flatten("flat"),
                     layers::Dense(3, {.name = "dense"})});
}

/// A scratch directory for this process (on tmpfs when there is one): the harnesses write each
/// input there as a file, since the loaders take paths. Removed at exit.
inline const std::filesystem::path& scratch_dir() {
  struct Scratch {
    std::filesystem::path dir;
    Scratch() {
      std::error_code ec;
      const std::filesystem::path shm = "/dev/shm";
      const auto base = std::filesystem::is_directory(shm, ec) ? shm : std::filesystem::temp_directory_path();
      dir = base / ("lamina-fuzz-" + std::to_string(::getpid()));
      std::filesystem::create_directories(dir);
    }
    ~Scratch() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  };
  static const Scratch scratch;
  return scratch.dir;
}

inline std::string write_input(std::string_view bytes, const std::string& name) {
  const std::string path = (scratch_dir() / name).string();
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

struct EntryPoint {
  const char* name;  ///< the harness (fuzz_<name>) and its folders under fuzz/corpus, fuzz/regressions
  void (*run)(std::string_view bytes);
};

inline void run_h5_model(std::string_view bytes) { models::load_model(write_input(bytes, "input.h5")); }
inline void run_keras_model(std::string_view bytes) { models::load_model(write_input(bytes, "input.keras")); }
inline void run_weights_h5(std::string_view bytes) {
  static Model model = weights_target();
  model.load_weights(write_input(bytes, "input.weights.h5"));
}
inline void run_model_json(std::string_view bytes) {
  // A JSON architecture's memory is its parameter count, which may lawfully be large (no file
  // size bounds it, unlike load_model's); bounded here so that the fuzzer hunts crashes rather
  // than big models. Past it, add_weight refuses before allocating.
  const sizes::WeightBudget budget(std::uint64_t{64} << 20);
  models::model_from_json(std::string(bytes));
}
inline void run_npy(std::string_view bytes) { io::load_npy(write_input(bytes, "input.npy")); }
inline void run_idx(std::string_view bytes) { datasets::read_idx(write_input(bytes, "input.idx")); }
inline void run_csv(std::string_view bytes) {
  // Every row is read: the reader parses lazily, as a training pass would.
  for ([[maybe_unused]] const auto& row : csv_dataset(write_input(bytes, "input.csv"))) {
  }
}

inline const std::vector<EntryPoint>& entry_points() {
  static const std::vector<EntryPoint> all = {
      {"h5_model", run_h5_model}, {"keras_model", run_keras_model}, {"weights_h5", run_weights_h5},
      {"model_json", run_model_json}, {"npy", run_npy}, {"idx", run_idx}, {"csv", run_csv}};
  return all;
}

inline const EntryPoint& entry_point(std::string_view name) {
  for (const auto& e : entry_points())
    if (name == e.name) return e;
  throw std::invalid_argument("no fuzz entry point named " + std::string(name));
}

}  // namespace lamina::fuzz
