// SPDX-License-Identifier: Apache-2.0
// tests/io/h5_test_files.hpp — scratch files for the HDF5 tests and the path of the real Keras
// files (tests/fixtures/keras_files, with their PROVENANCE.md).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace lamina::testing {
// tests/callbacks/scripted.hpp has another lamina::testing::ScratchDir: the inline namespace keeps
// the two inline classes apart at link time (one definition per name), while tests here still
// write lamina::testing::ScratchDir.
inline namespace h5_files {

/// A real Keras file of tests/fixtures/keras_files; tests that need one fail (not skip) when it
/// is absent.
inline std::string keras_file(const std::string& name) {
  return std::string(LAMINA_TEST_FIXTURES "/keras_files/") + name;
}

/// A fresh directory under the system temp dir, removed with its content at scope exit.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag) {
    path_ = std::filesystem::temp_directory_path() /
            ("lamina_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::filesystem::path path_;
};

inline std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace h5_files
}  // namespace lamina::testing
