// SPDX-License-Identifier: Apache-2.0
// CIFAR-10's binary version: records of a label byte and three 32x32 colour planes, turned into
// channels-last images as keras.datasets.cifar10 returns them.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "lamina/datasets/dataset.hpp"
#include "lamina/errors.hpp"

namespace lamina::datasets::cifar10 {
namespace {

constexpr std::int64_t kSide = 32, kPlane = kSide * kSide, kRecord = 1 + 3 * kPlane;

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw FileFormatError("CIFAR-10 file '" + path + "': " + problem);
}

Split concat(const std::vector<Split>& parts) {
  std::int64_t n = 0;
  for (const auto& p : parts) n += p.y.dim(0);
  Split out{Tensor::empty({n, kSide, kSide, 3}, uint8), Tensor::empty({n}, uint8)};
  std::int64_t at = 0;
  for (const auto& p : parts) {
    const std::int64_t k = p.y.dim(0);
    out.x.slice(at, at + k).assign(p.x);
    out.y.slice(at, at + k).assign(p.y);
    at += k;
  }
  return out;
}

}  // namespace

Split read_batch(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(path, "no such file");
  const auto size = static_cast<std::int64_t>(std::filesystem::file_size(path, ec));
  if (size == 0 || size % kRecord != 0)
    fail(path, "size " + std::to_string(size) + " bytes is not a whole number of " + std::to_string(kRecord) +
                   "-byte records (a label byte and 3x32x32 pixels)");
  std::ifstream in(path, std::ios::binary);
  std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size)) fail(path, "read failed");
  const std::int64_t n = size / kRecord;
  Split out{Tensor::empty({n, kSide, kSide, 3}, uint8), Tensor::empty({n}, uint8)};
  std::uint8_t* x = out.x.data<std::uint8_t>();
  std::uint8_t* y = out.y.data<std::uint8_t>();
  for (std::int64_t r = 0; r < n; ++r) {
    const unsigned char* rec = bytes.data() + r * kRecord;
    if (rec[0] > 9) fail(path, "record " + std::to_string(r) + " has label " + std::to_string(rec[0]) + " (expected 0..9)");
    y[r] = rec[0];
    for (std::int64_t p = 0; p < kPlane; ++p)
      for (int c = 0; c < 3; ++c) x[(r * kPlane + p) * 3 + c] = rec[1 + c * kPlane + p];
  }
  return out;
}

std::pair<Split, Split> load_data(const std::string& directory) {
  std::string dir = directory;
  if (dir.empty()) {
    const char* env = std::getenv("LAMINA_CIFAR10_DIR");
    dir = env && *env ? env : "/usr/share/datasets/cifar-10-batches-bin";
  }
  std::vector<Split> train;
  for (int i = 1; i <= 5; ++i) train.push_back(read_batch(dir + "/data_batch_" + std::to_string(i) + ".bin"));
  Split test = read_batch(dir + "/test_batch.bin");
  return {concat(train), std::move(test)};
}

}  // namespace lamina::datasets::cifar10
