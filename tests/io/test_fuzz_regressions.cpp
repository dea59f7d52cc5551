// SPDX-License-Identifier: Apache-2.0
// Every input that once crashed, hung or exhausted memory in a libFuzzer harness (fuzz/README.md)
// is kept in fuzz/regressions/<harness>/ and replayed here, in every build, through the same
// entry point (fuzz/entry_points.hpp): each must now fail cleanly, with a lamina Error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <typeinfo>
#include <vector>

#include <lamina/errors.hpp>

#include "fuzz/entry_points.hpp"

namespace {

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// How the entry point ended on `bytes`: "error" for a lamina Error, else what escaped.
std::string outcome(const lamina::fuzz::EntryPoint& entry, const std::string& bytes) {
  try {
    entry.run(bytes);
    return "loaded";
  } catch (const lamina::Error&) {
    return "error";
  } catch (const std::exception& e) {
    return std::string(typeid(e).name()) + ": " + e.what();
  }
}

}  // namespace

TEST_CASE("Every input kept in fuzz/regressions fails cleanly with a lamina error", "[fuzz][io]") {
  const std::filesystem::path root = std::filesystem::path(LAMINA_SOURCE_DIR) / "fuzz" / "regressions";
  int replayed = 0;
  for (const auto& entry : lamina::fuzz::entry_points()) {
    const auto dir = root / entry.name;
    if (!std::filesystem::is_directory(dir)) continue;
    std::vector<std::filesystem::path> inputs;
    for (const auto& f : std::filesystem::directory_iterator(dir))
      if (f.is_regular_file() && f.path().filename() != ".gitkeep") inputs.push_back(f.path());
    std::sort(inputs.begin(), inputs.end());
    for (const auto& input : inputs) {
      INFO(entry.name << " on " << input.filename().string());
      CHECK(outcome(entry, read_all(input)) == "error");
      ++replayed;
    }
  }
  // The folders exist for every harness; what they hold grows with each finding.
  for (const auto& entry : lamina::fuzz::entry_points()) CHECK(std::filesystem::is_directory(root / entry.name));
  INFO(replayed << " inputs replayed");
  SUCCEED();
}
